"""nan_policy="omit": normalized convolution against astropy.convolution.convolve where the two agree by definition,
and against a float64 twin everywhere else (every border, dtype, output, mask, anchor, flip and channel)."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from test_fuzz import centred
from twins import correlate_float64

BORDERS = ["replicate", "reflect", "reflect101", "wrap", "constant"]


def omit_twin(image, K, border="replicate", cval=0.0, mask=None, preserve_nan=False):
    """sum(K) * sum(K * x * valid) / sum(K * valid) in float64, per channel; NaN where no valid weight."""
    x = np.asarray(image, np.float64)
    invalid = np.isnan(x)
    if mask is not None:
        invalid |= np.broadcast_to(mask if mask.ndim == x.ndim else mask[..., None] if x.ndim == 3 else mask,
                                   x.shape)
    values = np.where(invalid, 0.0, x)
    valid = (~invalid).astype(np.float64)
    finite = np.isfinite(cval)
    planes = range(x.shape[2]) if x.ndim == 3 else [None]
    out = np.empty(x.shape)
    for c in planes:
        sel = (...,) if c is None else (..., c)
        num = correlate_float64(values[sel], K, border, cval if finite else 0.0)
        den = correlate_float64(valid[sel], K, border, 1.0 if finite else 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sel] = np.where(den != 0, K.sum() * num / den, np.nan)
    if preserve_nan:
        out[invalid] = np.nan
    return out, invalid


@st.composite
def masked_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 50))
    channels = draw(st.sampled_from([None, None, 3]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64", "uint8", "uint16", "int16"])))
    if dtype.kind == "f":
        image = (rng.standard_normal(shape) * 50).astype(dtype)
        image[rng.random(shape) < draw(st.sampled_from([0.0, 0.05, 0.3, 0.9]))] = np.nan
    else:
        image = rng.integers(0, 200, shape).astype(dtype)
    kh, kw = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    K = rng.random((kh, kw)) + draw(st.sampled_from([0.0, 0.5]))       # positive weights, as a blur has
    if draw(st.booleans()):
        K[rng.random((kh, kw)) < 0.3] = 0
        K.flat[0] = 0.5
    mask = None
    if draw(st.booleans()):
        mask = rng.random(shape[:2] if draw(st.booleans()) else shape) < draw(st.sampled_from([0.05, 0.5]))
    return image, K, mask


@given(masked_cases(), st.sampled_from(BORDERS), st.sampled_from([0.0, 7.0, np.nan]), st.booleans(),
       st.booleans(), st.sampled_from([1, 2]))
def test_omit_equals_the_float64_twin(case, border, cval, preserve_nan, flip, threads):
    image, K, mask = case
    ours = fastconv.convolve(image, K, nan_policy="omit", mask=mask, preserve_nan=preserve_nan, border=border,
                             cval=cval, output="float", dtype=np.float64, flip=flip, threads=threads)
    twin_K = K
    if flip:        # the kernel rotated about its anchor: embedded in zeros so the twin's centre is that anchor
        twin_K = centred(K[::-1, ::-1], (K.shape[0] - 1 - K.shape[0] // 2, K.shape[1] - 1 - K.shape[1] // 2))
    exact, invalid = omit_twin(image, twin_K, border, cval if border == "constant" else 0.0, mask, preserve_nan)
    settled = np.isfinite(exact) | np.isnan(exact)
    np.testing.assert_array_equal(np.isnan(ours)[settled], np.isnan(exact)[settled])
    both = np.isfinite(exact) & np.isfinite(ours)
    scale = np.abs(K).sum() * max(float(np.nanmax(np.abs(image.astype(np.float64)), initial=0)), 7.0)
    np.testing.assert_allclose(ours[both], exact[both], rtol=1e-9, atol=1e-9 * scale)


def test_omit_without_invalid_samples_is_the_plain_convolution():
    rng = np.random.default_rng(1)
    image = rng.standard_normal((60, 70)).astype(np.float32)
    K = fastconv.kernels.gaussian(7, 1.5)
    for border in BORDERS:
        plain = fastconv.convolve(image, K, border=border, cval=3.0)
        omitted = fastconv.convolve(image, K, border=border, cval=3.0, nan_policy="omit")
        np.testing.assert_allclose(omitted, plain, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("boundary, border", [("fill", "constant"), ("wrap", "wrap"), ("extend", "replicate")])
@pytest.mark.parametrize("normalize_kernel", [True, False])
@pytest.mark.parametrize("preserve_nan", [False, True])
def test_omit_equals_astropy(boundary, border, normalize_kernel, preserve_nan):
    """astropy.convolution.convolve with nan_treatment='interpolate' (true convolution: flip=True; odd kernels)."""
    astropy_convolve = pytest.importorskip("astropy.convolution").convolve
    rng = np.random.default_rng(2)
    image = rng.standard_normal((40, 50)) * 10 + 100
    image[rng.random(image.shape) < 0.1] = np.nan
    image[5:9, 5:9] = np.nan
    mask = rng.random(image.shape) < 0.05
    for K in (rng.random((5, 7)) + 0.1, fastconv.kernels.gaussian(9, 2.0), np.ones((3, 3))):
        with warnings.catch_warnings():     # astropy warns that the 4 x 4 hole leaves NaN in its 3 x 3 results
            warnings.simplefilter("ignore")
            theirs = astropy_convolve(image, K, boundary=boundary, fill_value=4.0, nan_treatment="interpolate",
                                      normalize_kernel=normalize_kernel, mask=mask, preserve_nan=preserve_nan)
        kernel = K / K.sum() if normalize_kernel else K
        ours = fastconv.convolve(image, kernel, border=border, cval=4.0, nan_policy="omit", mask=mask,
                                 preserve_nan=preserve_nan, flip=True, output="float", dtype=np.float64)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)


def test_omit_in_float32_is_within_float32_rounding_of_astropy():
    astropy_convolve = pytest.importorskip("astropy.convolution").convolve
    rng = np.random.default_rng(3)
    image = (rng.standard_normal((120, 160)) * 10 + 100).astype(np.float32)
    image[rng.random(image.shape) < 0.05] = np.nan
    K = fastconv.kernels.gaussian(7, 1.5)
    theirs = astropy_convolve(image, K, boundary="extend", nan_treatment="interpolate", normalize_kernel=False)
    ours = fastconv.convolve(image, K, nan_policy="omit")
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_a_nan_border_value_is_invalid_and_a_finite_one_valid():
    image = np.full((5, 5), 10.0)
    K = np.ones((3, 3))
    inside = fastconv.convolve(image, K, border="constant", cval=np.nan, nan_policy="omit", output="float")
    np.testing.assert_allclose(inside, np.full((5, 5), 90.0))       # the outside omitted: the mean of the inside
    counted = fastconv.convolve(image, K, border="constant", cval=1.0, nan_policy="omit", output="float")
    assert counted[0, 0] == (4 * 10 + 5 * 1) / 9 * 9


def test_integer_images_with_a_mask_and_integer_outputs():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    mask = rng.random(image.shape) < 0.2
    mask[10:16, 10:16] = True                   # a hole wider than the kernel: no valid sample at its centre
    K = np.ones((3, 3)) / 9
    ours = fastconv.convolve(image, K, nan_policy="omit", mask=mask)
    assert ours.dtype == np.uint8
    exact, _ = omit_twin(image, K, mask=mask)
    expected = np.floor(np.clip(np.nan_to_num(exact, nan=0.0), 0, 255))
    assert np.abs(ours.astype(int) - expected).max() <= 1
    assert ours[13, 13] == 0                    # no valid weight: the lower limit, as NaN gives


def test_masked_arrays_use_their_mask_with_omit():
    rng = np.random.default_rng(5)
    data = rng.standard_normal((20, 30))
    mask = rng.random(data.shape) < 0.2
    K = fastconv.kernels.gaussian(5, 1.0)
    via_ma = fastconv.convolve(np.ma.masked_array(data, mask), K, nan_policy="omit")
    via_mask = fastconv.convolve(data, K, nan_policy="omit", mask=mask)
    np.testing.assert_array_equal(via_ma, via_mask)
    extra = rng.random(data.shape) < 0.1
    both = fastconv.convolve(np.ma.masked_array(data, mask), K, nan_policy="omit", mask=extra)
    np.testing.assert_array_equal(both, fastconv.convolve(data, K, nan_policy="omit", mask=mask | extra))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"nan_policy": "drop"}, ValueError, "nan_policy must be 'propagate' or 'omit'"),
    ({"mask": np.zeros((4, 4), bool)}, ValueError, "mask and preserve_nan need nan_policy='omit'"),
    ({"preserve_nan": True}, ValueError, "need nan_policy='omit'"),
    ({"nan_policy": "omit", "mask": np.zeros((3, 4), bool)}, ValueError, r"mask must have the image's shape \(4, 4\)"),
    ({"nan_policy": "omit", "mask": np.zeros((4, 4), complex)}, TypeError, "mask must be None or an array of bool"),
    ({"nan_policy": "omit", "preserve_nan": 1}, TypeError, "preserve_nan must be True or False"),
])
def test_bad_masked_options_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastconv.convolve(np.zeros((4, 4)), np.ones((3, 3)), **kwargs)


@pytest.mark.parametrize("K", [fastconv.kernels.laplacian(), fastconv.kernels.sobel(1, 0)], ids=["laplacian", "sobel"])
def test_zero_sum_kernels_cannot_be_renormalized(K):
    with pytest.raises(ValueError, match="needs a kernel whose taps do not sum to 0"):
        fastconv.convolve(np.zeros((8, 8)), K, nan_policy="omit")


def test_masked_arrays_are_refused_without_omit():
    with pytest.raises(TypeError, match="nan_policy='omit'"):
        fastconv.convolve(np.ma.masked_array(np.zeros((4, 4)), np.eye(4, dtype=bool)), np.ones((3, 3)))


def test_omit_results_do_not_depend_on_the_threads():
    rng = np.random.default_rng(6)
    image = rng.standard_normal((301, 517)).astype(np.float32)
    image[rng.random(image.shape) < 0.05] = np.nan
    K = fastconv.kernels.gaussian(7, 1.5)
    one = fastconv.convolve(image, K, nan_policy="omit", threads=1)
    for threads in (2, 3, None):
        np.testing.assert_array_equal(fastconv.convolve(image, K, nan_policy="omit", threads=threads), one)


def test_the_input_is_never_modified():
    rng = np.random.default_rng(7)
    image = rng.standard_normal((20, 20))
    image[3, 3] = np.nan
    mask = rng.random((20, 20)) < 0.1
    before, mask_before = image.copy(), mask.copy()
    fastconv.convolve(image, np.ones((3, 3)), nan_policy="omit", mask=mask, preserve_nan=True)
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(mask, mask_before)


@pytest.mark.parametrize("reuse", ["image itself", "channels reversed", "the mask"])
def test_out_sharing_memory_with_the_inputs(reuse):
    """An `out` that is (part of) the image or the mask still gets the result of the untouched inputs."""
    rng = np.random.default_rng(11)
    image = rng.standard_normal((40, 50, 3)).astype(np.float32)
    image[rng.random(image.shape) < 0.1] = np.nan
    mask = rng.random(image.shape) < 0.1
    K = fastconv.kernels.gaussian(5, 1.0)
    if reuse == "the mask":         # a uint8 result written over the bytes of a bool mask
        image = rng.integers(0, 256, image.shape, dtype=np.uint8)
        out = rng.integers(0, 2, image.shape, dtype=np.uint8)
        mask = out.view(bool)
    else:
        out = image if reuse == "image itself" else image[..., ::-1]
    expected = fastconv.convolve(image.copy(), K, nan_policy="omit", mask=mask.copy())
    result = fastconv.convolve(image, K, nan_policy="omit", mask=mask, out=out)
    assert result is out
    np.testing.assert_array_equal(out, expected)
