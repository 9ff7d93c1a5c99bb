"""Every path keeps the documented promise (fastconv._bounds): dynamic range, translation invariance, NaN locality,
flat responses, exact float64 means, and memory bounded by bytes. Each case is a reproducer of a break that once
was, checked against independent oracles (float64 twins, scipy.ndimage, cv2)."""
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

import fastconv
from fastconv import _border, _dispatch, _plan
from fastconv._bounds import EPSILON
from helpers import bits, path_of
from twins import correlate_float64, correlate_nan_rule

BORDERS = ["replicate", "reflect", "reflect101", "wrap", "constant"]


def window_max(image, kshape, border="replicate", cval=0.0):
    """The largest sample magnitude in each pixel's window (centred kernels), by scipy.ndimage."""
    mode = {"replicate": "nearest", "reflect": "reflect", "reflect101": "mirror", "wrap": "wrap",
            "constant": "constant"}[border]
    magnitudes = np.nan_to_num(np.abs(np.asarray(image, np.float64)), nan=0.0, posinf=np.inf)
    return ndimage.maximum_filter(magnitudes, size=kshape, mode=mode, cval=abs(np.nan_to_num(cval)))


def within_promise(ours, exact, K, image, border="replicate", cval=0.0, floor=0.0):
    """|ours - exact| <= EPSILON * sum|K| * max(window max, floor) + the output's own rounding, everywhere finite."""
    with np.errstate(over="ignore"):
        scale = np.abs(K).sum() * np.maximum(window_max(image, K.shape, border, cval), floor)
        allowed = EPSILON[ours.dtype.itemsize] * scale + np.finfo(ours.dtype).eps * np.abs(exact)
    finite = np.isfinite(exact)
    with np.errstate(invalid="ignore"):
        error = np.abs(ours.astype(np.float64) - exact)
    return bool((error[finite] <= allowed[finite]).all())


# -- 1. The FFT path and dynamic range ------------------------------------------------------------------------

def test_dark_pixels_next_to_a_bright_half_keep_their_accuracy():
    rng = np.random.default_rng(1)
    image = np.where(np.arange(512)[None, :] < 256, 1e4, 1e-2) * (1 + 0.1 * rng.random((384, 512)))
    image = image.astype(np.float32)
    K = np.abs(rng.standard_normal((15, 15))) + 0.1
    K /= K.sum()
    assert path_of(K, np.float32, output="float", shape=image.shape) == "fft"
    ours = fastconv.convolve(image, K, output="float")
    exact = correlate_float64(image, K)
    assert within_promise(ours, exact, K, image)
    dark = (slice(None), slice(256 + 8, None))        # beyond the kernel's reach of the bright half
    assert np.abs(ours[dark] / exact[dark] - 1).max() < 1e-4


def test_one_vast_pixel_spoils_nothing_beyond_its_reach():
    rng = np.random.default_rng(2)
    image = (20 + rng.random((300, 400))).astype(np.float32)
    image[150, 200] = 1e8
    K = rng.uniform(0.5, 1, (15, 15))
    K /= K.sum()
    ours = fastconv.convolve(image, K, output="float")
    exact = correlate_float64(image, K)
    assert within_promise(ours, exact, K, image)
    far = np.ones(image.shape, bool)
    far[150 - 7:150 + 8, 200 - 7:200 + 8] = False
    assert np.abs(ours - exact)[far].max() < 1e-3


def test_a_vast_constant_border_stays_at_the_border():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (300, 400), dtype=np.uint8)
    K = rng.uniform(-1, 1, (21, 21))
    ours = fastconv.convolve(image, K, border="constant", cval=1e8, output="float")
    exact = correlate_float64(image, K, "constant", cval=1e8)
    assert within_promise(ours, exact, K, image, "constant", 1e8, floor=1.0)
    inner = (slice(10, -10), slice(10, -10))          # pixels the border cannot reach
    assert np.abs(ours[inner] - exact[inner]).max() < 1e-2


# -- 2. NaN locality on the FFT path --------------------------------------------------------------------------

def test_a_nan_border_reaches_only_the_pixels_it_touches():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (512, 512), dtype=np.uint8)
    K = rng.uniform(-1, 1, (15, 15))
    assert path_of(K, np.uint8, shape=image.shape, border="constant", cval=np.nan, output="round",
                   dtype=np.int16) == "fft"
    ours = fastconv.convolve(image, K, border="constant", cval=np.nan, output="round", dtype=np.int16)
    with _plan.force("direct"):
        direct = fastconv.convolve(image, K, border="constant", cval=np.nan, output="round", dtype=np.int16)
    inner = (slice(8, -8), slice(8, -8))
    assert (ours[inner] != -32768).all()                # NaN becomes the lower limit: none in the inner part
    assert np.abs(ours.astype(int) - direct)[inner].max() <= 1
    np.testing.assert_array_equal(ours == -32768, direct == -32768)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_samples_spread_only_through_non_zero_taps_on_every_path(dtype, variant):
    rng = np.random.default_rng(5)
    image = rng.standard_normal((150, 170)).astype(dtype)
    image[rng.random(image.shape) < 0.002] = np.nan
    image[rng.random(image.shape) < 0.002] = np.inf
    kernels = {"direct": rng.uniform(-1, 1, (5, 5)), "fft": rng.uniform(-1, 1, (21, 21)),
               "separable": np.outer(rng.standard_normal(7), rng.standard_normal(9))}
    for path, K in kernels.items():
        K[2, :] = 0
        if path == "separable":
            K = np.outer(np.where(np.arange(7) == 2, 0, 1.0) * rng.standard_normal(7), rng.standard_normal(9))
        with _plan.force(path):
            ours = fastconv.convolve(image, K, output="float", border="wrap")
        with np.errstate(invalid="ignore", over="ignore"):
            expected = correlate_nan_rule(image, K, "wrap")
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected), err_msg=path)
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(expected), err_msg=path)


# -- 3. Translation invariance: one summation order per pixel ---------------------------------------------

def test_rows_with_identical_neighbourhoods_are_identical():
    """scikit-image's test_farid_vertical: a horizontal ramp, every row alike: every output row alike, bit for
    bit (row-pair blocking once summed odd and even rows in different orders)."""
    image = np.tile(np.linspace(0, 1, 11), (11, 1))
    rng = np.random.default_rng(6)
    for size in (5, 7, 9, 15):
        K = rng.standard_normal((size, size))
        ours = fastconv.convolve(image, K, output="float", dtype=np.float64)
        for row in ours[1:]:
            np.testing.assert_array_equal(bits(row), bits(ours[0]))


def shifted_pair(path, dtype, rng):
    h, w = 61, 300
    if np.dtype(dtype).kind in "iu":
        big = rng.integers(0, 256 if dtype == np.uint8 else 3000, (h + 1, w + 1)).astype(dtype)
    else:
        big = (rng.standard_normal((h + 1, w + 1)) * 100).astype(dtype)
    kernels = {"direct": rng.standard_normal((6, 9)), "integer": rng.integers(-3, 4, (5, 4)).astype(float),
               "separable": np.outer(rng.standard_normal(7), rng.standard_normal(5)),
               "box": np.full((4, 7), 1 / 28), "fft": rng.standard_normal((19, 17))}
    return big, kernels[path]


@pytest.mark.parametrize("path", ["direct", "integer", "separable", "box"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_shifting_the_image_by_a_row_and_a_column_shifts_the_result_bit_for_bit(path, dtype, variant):
    """Every path but the FFT (whose tiles fall where they fall, within its bound), every dtype, variant, border
    and thread count: a pixel's interior value depends on its neighbourhood only."""
    rng = np.random.default_rng(7)
    big, K = shifted_pair(path, dtype, rng)
    if path in ("integer",) and dtype != np.uint8 or path == "box" and np.dtype(dtype).kind == "f":
        pytest.skip("the path does not take this dtype")
    kh, kw = K.shape
    for border in BORDERS:
        for output, out_dtype in (("float", np.float64), ("float", np.float32), ("round", np.int16)):
            for threads in (1, 3):
                with _plan.force(path):
                    a = fastconv.convolve(big[:-1, :-1], K, border=border, output=output, dtype=out_dtype,
                                          threads=threads, cval=2.0)
                    b = fastconv.convolve(big[1:, 1:], K, border=border, output=output, dtype=out_dtype,
                                          threads=threads, cval=2.0)
                inner_a = a[kh:-kh, kw:-kw][1:, 1:]
                inner_b = b[kh:-kh, kw:-kw][:-1, :-1]
                np.testing.assert_array_equal(bits(inner_a), bits(inner_b), err_msg=f"{border} {output}")


def test_every_variant_gives_the_same_bits():
    """The core spells every multiply-add as a multiply then an add: the portable and the AVX builds agree bit for
    bit on every path (the FFT's butterflies included)."""
    rng = np.random.default_rng(8)
    image = (rng.standard_normal((97, 301)) * 50).astype(np.float32)
    image8 = rng.integers(0, 256, (97, 301), dtype=np.uint8)
    cases = [("direct", image, rng.standard_normal((7, 7))), ("separable", image, fastconv.kernels.gaussian(9, 2)),
             ("fft", image, rng.standard_normal((21, 21))), ("integer", image8, fastconv.kernels.laplacian()),
             ("box", image8, np.ones((5, 5)) / 25), ("direct", image.astype(np.float64), rng.standard_normal((4, 4)))]
    for path, im, K in cases:
        results = []
        for variant in _dispatch.available_variants():
            with _dispatch.use_variant(variant), _plan.force(path):
                results.append(fastconv.convolve(im, K, output="float", threads=2))
        for r in results[1:]:
            np.testing.assert_array_equal(bits(r), bits(results[0]), err_msg=path)


# -- 4. stretch of a flat response ----------------------------------------------------------------------------

@pytest.mark.parametrize("image", [np.full((64, 64), 65535, np.uint16), np.full((40, 50), 0.3, np.float32),
                                   np.full((33, 47), 200, np.uint8)], ids=["uint16", "float32", "uint8"])
def test_a_flat_response_stretches_to_one_value(image):
    for K in (fastconv.kernels.gaussian(9, 2.0), np.random.default_rng(9).uniform(0, 1, (7, 7))):
        out = fastconv.convolve(image, K, output="stretch")
        assert np.unique(out).size == 1


def test_a_real_step_still_stretches_to_the_full_range():
    image = np.full((64, 64), 65534, np.uint16)
    image[:, 32:] = 65535                   # one level in 65535
    out = fastconv.convolve(image, fastconv.kernels.gaussian(9, 2.0), output="stretch")
    assert out.min() == 0 and out.max() == 255


# -- 5 and 7. Separable detection and dynamic range -----------------------------------------------------------

def test_a_vast_centre_tap_is_not_taken_for_rank_one():
    K = np.ones((5, 5))
    K[2, 2] = 1e17
    assert path_of(K, np.uint8, shape=(16, 16)) != "separable"
    image = np.zeros((5, 5), np.uint8)
    image[2, 2] = 200
    out = fastconv.convolve(image, K, output="float", dtype=np.float64)
    assert out[0, 0] == 200.0       # the exact answer: the tap 1 meets the 200, the vast tap meets zeros
    np.testing.assert_allclose(out, correlate_float64(image, K), rtol=1e-15)


def test_a_float32_outer_product_gaussian_takes_the_separable_path():
    g = np.exp(-0.5 * ((np.arange(9) - 4) / 2.0) ** 2)
    g = (g / g.sum()).astype(np.float32).reshape(-1, 1)
    K = g @ g.T                                   # how most people build it: rank 1 within float32's rounding
    assert K.dtype == np.float32
    image = np.random.default_rng(10).integers(0, 256, (300, 400), dtype=np.uint8)
    for output in ("floor", "round", "float"):
        assert path_of(K, np.uint8, output=output) == "separable"
    exact = correlate_float64(image, K.astype(np.float64))
    rounded = fastconv.convolve(image, K, output="round")
    assert np.abs(rounded - np.rint(np.clip(exact, 0, 255))).max() <= 1      # a level at most: the promise
    assert np.mean(rounded != np.rint(np.clip(exact, 0, 255))) < 1e-4        # and only near ties
    ours = fastconv.convolve(image, K, output="float")
    assert within_promise(ours, exact, K.astype(np.float64), image, floor=1.0)
    assert path_of(K, np.float64, output="float") != "separable"      # 2**-24 is beyond float64's bound


# -- 6. The box path's mean in float64 --------------------------------------------------------------------

def test_box_means_in_float64_outputs_are_exact():
    image = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 10]], np.uint8)
    K = np.full((3, 3), 1 / 9)
    assert path_of(K, np.uint8, shape=image.shape, output="float", dtype=np.float64) == "box"
    assert fastconv.filter2D(image, fastconv.CV_64F, K)[1, 1] == 46 / 9 == 5.111111111111111
    assert fastconv.convolve(image, K, output="float", dtype=np.float64)[1, 1] == 46 / 9
    assert fastconv.convolve(image, K, output="float", dtype=np.float64, accumulate="float64")[1, 1] == 46 / 9
    exact = correlate_float64(image.astype(np.int64), np.ones((3, 3)), "reflect101") / 9   # integer sums, one division
    np.testing.assert_array_equal(fastconv.filter2D(image, fastconv.CV_64F, K), exact)
    cv2 = pytest.importorskip("cv2")        # OpenCV sums nine products with 1/9: within a few float64 roundings
    np.testing.assert_allclose(fastconv.filter2D(image, fastconv.CV_64F, K), cv2.filter2D(image, cv2.CV_64F, K),
                               rtol=4 * np.finfo(float).eps)


# -- 8. Memory bounded by bytes -------------------------------------------------------------------------------

def test_the_plan_cache_stays_within_its_byte_budget():
    rng = np.random.default_rng(11)
    image = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    _plan._plans.clear()
    for _ in range(12):
        fastconv.convolve(image, rng.uniform(-1, 1, (300, 300)), output="float")
    assert 0 < _plan._plans.used <= _plan.PLAN_CACHE_BYTES


def test_the_border_map_cache_stays_within_its_byte_budget():
    for n in (3_000_000, 3_000_001, 3_000_002, 3_000_003):
        fastconv.convolve(np.zeros((1, n), np.uint8), np.ones((1, 3)) / 3)
    assert _border._maps.used <= _border.INDEX_CACHE_BYTES


def test_colour_images_filter_in_place_without_a_second_full_buffer():
    image = np.random.default_rng(12).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    K = np.random.default_rng(13).uniform(-1, 1, (5, 5))
    out = np.empty_like(image)
    expected = np.stack([fastconv.convolve(np.ascontiguousarray(image[..., c]), K) for c in range(3)], axis=-1)
    fastconv.convolve(image, K, out=out)           # plans and maps cached: what remains is the call itself
    tracemalloc.start()
    fastconv.convolve(image, K, out=out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np.testing.assert_array_equal(out, expected)
    assert peak < 0.05 * image.nbytes, peak
    tracemalloc.start()
    result = fastconv.convolve(image, K)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np.testing.assert_array_equal(result, expected)
    assert peak < 1.05 * image.nbytes, peak        # the result itself, and little else


def test_a_huge_kernel_is_refused_clearly():
    with pytest.raises(ValueError, match=r"K must have at most 16777216 taps; got shape \(5000, 5000\)"):
        fastconv.convolve(np.zeros((4, 4), np.uint8), np.broadcast_to(np.float32(1), (5000, 5000)))


# -- 9. Masked arrays ------------------------------------------------------------------------------------------

def test_masked_arrays_are_refused_until_masks_are_supported():
    image = np.ma.masked_array(np.zeros((5, 5), np.float32), mask=np.eye(5, dtype=bool))
    with pytest.raises(TypeError, match="image must not be a masked array.*image.filled"):
        fastconv.convolve(image, np.ones((3, 3)))
    with pytest.raises(TypeError, match="src must not be a masked array"):
        fastconv.filter2D(image, -1, np.ones((3, 3)))


# -- The promise as a property over every path ----------------------------------------------------------------

@st.composite
def hdr_images(draw):
    """Float images with several decades of range side by side (the FFT path's hardest case), some with a vast or
    a non-finite sample."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    h, w = draw(st.integers(1, 90)), draw(st.integers(1, 140))
    decades = rng.choice([1e-3, 1.0, 1e4, 1e6], size=(max(1, h // 16 + 1), max(1, w // 16 + 1)))
    scale = np.kron(decades, np.ones((16, 16)))[:h, :w]
    image = (rng.standard_normal((h, w)) * scale).astype(draw(st.sampled_from([np.float32, np.float64])))
    spoil = draw(st.sampled_from([None, np.nan, np.inf, 1e30]))
    if spoil is not None:
        image[rng.integers(0, h), rng.integers(0, w)] = spoil
    return image


@given(hdr_images(), st.sampled_from(["direct", "separable", "fft"]), st.integers(0, 2**32 - 1),
       st.sampled_from(BORDERS), st.sampled_from([0.0, 5.0, np.nan, np.inf, 1e12]))
def test_every_path_keeps_the_promise_on_high_dynamic_range_images(image, path, seed, border, cval):
    rng = np.random.default_rng(seed)
    kh, kw = rng.integers(2, 24, 2)
    K = (np.outer(rng.standard_normal(kh), rng.standard_normal(kw)) if path == "separable"
         else rng.standard_normal((kh, kw)))
    with _plan.force(path):
        ours = fastconv.convolve(image, K, output="float", border=border, cval=cval)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = correlate_nan_rule(image, K, border, cval if border == "constant" else 0.0)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    assert within_promise(ours, expected, K, image, border, cval if border == "constant" else 0.0)


if __name__ == "__main__":      # pragma: no cover
    sys.exit(pytest.main([__file__]))
