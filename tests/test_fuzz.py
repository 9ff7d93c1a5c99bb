"""Fuzzing: every forced path x border x image dtype x output policy x SIMD variant against the pure-numpy twin,
with high-dynamic-range float images, non-finite samples and non-finite or vast border values where a path takes
them (the NaN rule: NaN and inf spread through non-zero taps only).

Slow: 10,000 derandomized examples (about 50 s on the quiet 2-core machine); ``python -m pytest`` leaves it out,
``python -m pytest -m slow`` runs it. Each example also draws the SIMD variant, anchor, flip, channels and thread count.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import fastconv
from fastconv import _dispatch, _plan, _taps
from strategies import shapes
from twins import correlate_nan_rule

pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=10_000, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BORDERS = ("replicate", "reflect", "reflect101", "wrap", "constant")
IMAGE_DTYPES = {   # the core's dtypes and some that are converted first
    "direct": ("uint8", "uint16", "int16", "float32", "float64", "int8", "float16", "int32"),
    "separable": ("uint8", "uint16", "int16", "float32", "float64", "int8"),
    "lowrank": ("uint8", "uint16", "int16", "int8"),
    "box": ("uint8", "uint16", "int16"),
    "integer": ("uint8",),
    "fft": ("uint8", "uint16", "int16", "float32", "float64", "int8"),
}
OUTPUT_DTYPES = {"floor": ("uint8", "uint16", "int16"), "round": ("uint8", "uint16", "int16"),
                 "float": ("float32", "float64"), "stretch": ("uint8", "uint16")}


def kernel_for(path, rng, kh, kw):
    """A random kernel the forced `path` applies to."""
    if path == "box":
        return np.full((kh, kw), rng.choice([1.0 / (kh * kw), 1.0, -3.0, 0.37]))
    if path == "integer":
        K = rng.integers(-4, 5, (kh, kw)).astype(np.float64)
        while np.abs(K).sum() * 255 > 32767 - 255:    # halve the largest tap (towards 0) until int16 fits
            peak = np.unravel_index(np.argmax(np.abs(K)), K.shape)
            K[peak] = np.trunc(K[peak] / 2)
        return K
    if path == "separable":
        if rng.random() < 0.5:
            v, h = rng.integers(-3, 4, kh), rng.integers(-3, 4, kw)
            v[0], h[-1] = v[0] or 1, h[-1] or 2
        else:
            v, h = rng.standard_normal(kh), rng.standard_normal(kw)
        return np.outer(v, h).astype(np.float64)
    if path == "lowrank":   # two or three outer products, of integers where those split exactly
        terms = int(rng.integers(2, 4))
        if rng.random() < 0.5:
            K = sum(np.outer(rng.integers(-3, 4, kh), rng.integers(-3, 4, kw)) for _ in range(terms))
            if _taps.low_rank(K.astype(np.float64), integer=True):
                return K.astype(np.float64)
        return sum(np.outer(rng.standard_normal(kh), rng.standard_normal(kw)) for _ in range(terms))
    if path == "fft":       # non-integer taps (integer kernels on integer images promise exact sums)
        K = rng.standard_normal((kh, kw))
        K[rng.random((kh, kw)) < rng.choice([0.0, 0.5])] = 0
        K.flat[rng.integers(K.size)] = 0.375
        return K
    K = rng.integers(-5, 6, (kh, kw)).astype(np.float64) if rng.random() < 0.5 else rng.standard_normal((kh, kw))
    K[rng.random((kh, kw)) < rng.choice([0.0, 0.5])] = 0
    return K


def image_of(dtype, rng, shape):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        top = min(int(info.max), int(rng.choice([255, 15, info.max])))
        bottom = max(int(info.min), -top) if rng.random() < 0.5 else 0
        return rng.integers(bottom, top, shape, endpoint=True).astype(dtype)
    style = rng.choice(["normal", "hdr", "spoiled"], p=[0.6, 0.25, 0.15]) if dtype.itemsize > 2 else "normal"
    image = rng.standard_normal(shape) * rng.choice([1.0, 300.0])
    if style == "hdr":          # blocks of magnitudes decades apart, side by side
        blocks = rng.choice([1e-3, 1.0, 1e4], size=(shape[0] // 8 + 1, shape[1] // 8 + 1))
        scale = np.kron(blocks, np.ones((8, 8)))[:shape[0], :shape[1]]
        image = image * (scale if image.ndim == 2 else scale[..., None])
    image = image.astype(dtype)
    if style == "spoiled" and image.size:
        image.flat[rng.integers(image.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e30])
    return image


@st.composite
def cases(draw):
    path = draw(st.sampled_from(_plan.PATHS))
    h, w = draw(shapes)
    channels = draw(st.sampled_from([None, None, 1, 3]))
    low = 2 if path in ("separable", "lowrank") else 1
    kh, kw = draw(st.integers(low, 12)), draw(st.integers(low, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image_dtype = draw(st.sampled_from(IMAGE_DTYPES[path]))
    image = image_of(image_dtype, rng, (h, w) if channels is None else (h, w, channels))
    K = kernel_for(path, rng, kh, kw)
    border = draw(st.sampled_from(BORDERS))
    cvals = ([0, 9, 200] if path in ("box", "integer") else [0, 9, -2.5, 1e3] if path == "lowrank"
             else [0, 9, -2.5, 1e3, np.nan, np.inf, -np.inf, 1e12])
    cval = float(draw(st.sampled_from(cvals)))
    output = draw(st.sampled_from(list(OUTPUT_DTYPES)))
    dtype = draw(st.sampled_from(OUTPUT_DTYPES[output]))
    anchor = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))) if draw(st.booleans()) else None
    flip = draw(st.booleans())
    threads = draw(st.sampled_from([1, 2]))
    variant = draw(st.sampled_from(_dispatch.available_variants()))
    return dict(path=path, image=image, K=K, border=border, cval=cval, output=output, dtype=np.dtype(dtype),
                anchor=anchor, flip=flip, threads=threads, variant=variant)


def centred(K, anchor):
    """K embedded in zeros so that its centre tap (k // 2 per axis, the twin's anchor) is K's `anchor`."""
    pads = []
    for k, a in zip(K.shape, anchor):
        m = max(a, k - 1 - a)
        pads.append((m - a, m + 1 + a - k))
    return np.pad(K, pads)


def exact_sum(c):
    """float64 sums of the documented correlation, by the twin."""
    K = c["K"]
    anchor = c["anchor"] or (K.shape[0] // 2, K.shape[1] // 2)
    if c["flip"]:
        K, anchor = K[::-1, ::-1], (K.shape[0] - 1 - anchor[0], K.shape[1] - 1 - anchor[1])
    K = centred(K, anchor)
    image = c["image"].astype(np.float64)
    planes = image[..., np.newaxis] if image.ndim == 2 else image
    cval = c["cval"] if c["border"] == "constant" else 0.0
    sums = [correlate_nan_rule(planes[..., i], K, c["border"], cval) for i in range(planes.shape[-1])]
    return np.stack(sums, axis=-1).reshape(image.shape)


def rounding_tolerance(c, exact):
    """A generous bound on the float error of any summation order in the accumulator the call uses; for the FFT
    path, of its transforms (about 20 roundings per radix-2 stage over the 2-norm of two largest tiles)."""
    read_as_float64 = c["image"].dtype in (np.float64, np.int32)
    eps = np.finfo(np.float64 if read_as_float64 else np.float32).eps
    finite = c["image"][np.isfinite(c["image"])]
    cval = c["cval"] if c["border"] == "constant" and np.isfinite(c["cval"]) else 0.0
    peak = max(float(np.abs(finite).max(initial=0)), abs(cval))
    taps = np.count_nonzero(c["K"]) + sum(c["K"].shape)
    if c["path"] == "fft":
        n = max(_plan.FFT_SIZES)
        return 20 * eps * 2 * np.log2(n) * np.sqrt(2) * n * np.abs(c["K"]).sum() * peak
    return 2 * taps * eps * np.abs(c["K"]).sum() * peak


def stretched(raw, dtype):
    """The documented stretch: finite minimum and maximum to 0 and the top, NaN and -inf to 0, +inf to the top."""
    top = float(np.iinfo(dtype).max)
    finite = raw[np.isfinite(raw)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    with np.errstate(invalid="ignore"):
        out = np.rint((raw - lo) * (top / (hi - lo))) if hi > lo else np.zeros_like(raw)
    out[~np.isfinite(raw)] = 0
    out[raw == np.inf] = top
    return out, hi - lo, top


def check(c, ours):
    image, output, dtype = c["image"], c["output"], c["dtype"]
    assert ours.shape == image.shape and ours.dtype == dtype
    if image.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        exact = exact_sum(c)
    tol = rounding_tolerance(c, exact)
    finite = np.isfinite(exact)
    if output == "float":
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(exact))      # the NaN rule
        np.testing.assert_array_equal(ours[~finite & ~np.isnan(exact)], exact[~finite & ~np.isnan(exact)])
        out_rounding = np.finfo(dtype).eps * np.abs(exact[finite])
        vast = np.abs(ours[finite]) > np.finfo(dtype).max       # float32 outputs of float64 sums beyond its range
        error = np.abs(ours[finite].astype(np.float64) - exact[finite])
        assert (error[~vast] <= tol + out_rounding[~vast] + 1e-300).all()
        return
    if output == "stretch":
        raw = exact.astype(np.float32 if image.dtype != np.float64 else np.float64).astype(np.float64)
        expected, spread, top = stretched(raw, dtype)
        allowed = 1 + 4 * tol * top / spread if spread > 0 else top
        assert np.abs(ours - expected).max() <= allowed
        return
    info = np.iinfo(dtype)
    exact = np.where(np.isnan(exact), info.min, exact)      # NaN becomes the lower limit in integer outputs
    rounding = np.floor if output == "floor" else np.rint
    expected = rounding(np.clip(exact, info.min, info.max))
    difference = np.abs(ours.astype(np.float64) - expected)
    integer_valued = np.array_equal(c["K"], np.round(c["K"])) and float(c["cval"]).is_integer()
    if image.dtype.kind in "iu":    # integer images: within a level, exact for integer kernels
        assert difference.max() == 0 if integer_valued else difference.max() <= 1
    else:                           # float images: the sums within their float bound, then the policy
        with np.errstate(invalid="ignore"):
            low = rounding(np.clip(exact - tol, info.min, info.max)) - 1
            high = rounding(np.clip(exact + tol, info.min, info.max)) + 1
        assert ((ours >= low) & (ours <= high)).all()


def test_every_path_border_dtype_and_output_against_the_twin():
    seen = set()

    @FUZZ
    @given(cases())
    def fuzz(c):
        kwargs = {k: c[k] for k in ("border", "cval", "output", "dtype", "anchor", "flip", "threads")}
        with _dispatch.use_variant(c["variant"]), _plan.force(c["path"]):
            try:
                ours = fastconv.convolve(c["image"], c["K"], **kwargs)
            except ValueError as error:     # a path refuses a call its bound cannot cover (e.g. cval=1e12)
                if "beyond the bound" not in str(error):
                    raise
                reject()
        check(c, ours)
        seen.add((c["path"], c["border"], c["output"], c["variant"], c["image"].dtype.name, c["dtype"].name))

    fuzz()
    assert len({s[:3] for s in seen}) == len(_plan.PATHS) * len(BORDERS) * len(OUTPUT_DTYPES)
    assert len({(s[0], s[3]) for s in seen}) == len(_plan.PATHS) * len(_dispatch.available_variants())
    for path, dtypes in IMAGE_DTYPES.items():
        assert {s[4] for s in seen if s[0] == path} == set(dtypes)
    assert {(s[2], s[5]) for s in seen} == {(o, d) for o, ds in OUTPUT_DTYPES.items() for d in ds}
