"""Output policy and dtype policy: what the sum accumulates in and how it becomes output pixels."""
import numpy as np

# Codes shared with the compiled core (_core_impl.pxi).
POLICY_RAW, POLICY_FLOOR, POLICY_ROUND = 0, 1, 2

#: Output policies of fastconv.convolve.
OUTPUTS = {
    "floor": "clip to the output range and round down (uint8: the tutorial's rescale_intensity + astype)",
    "round": "round half to even and saturate (cv2.filter2D's integer outputs)",
    "float": "the raw sum: float32, or float64 for float64 images",
    "stretch": "min-max stretch of the raw sum to the output's full range (for looking at edge responses)",
}

_U = 2.0 ** -24  # unit roundoff of float32
_F32_MAX = float(np.finfo(np.float32).max)
_F32_TINY = float(np.finfo(np.float32).smallest_normal)


def check_output(output):
    if not isinstance(output, str) or output not in OUTPUTS:
        allowed = ", ".join(repr(o) for o in OUTPUTS)
        raise ValueError(f"output must be one of {allowed}; got {output!r}")
    return output


def float_dtype(image_dtype):
    """Raw float output dtype: float64 for float64 images, float32 otherwise."""
    return np.dtype(np.float64) if image_dtype == np.float64 else np.dtype(np.float32)


def _partials(k, lo, hi):
    """Largest magnitude of each prefix sum of ``k[t] * pixel`` for pixels in [lo, hi]."""
    if lo >= 0:     # unsigned pixels: a partial sum is largest when all positive or all negative taps see `hi`
        return hi * np.maximum(np.cumsum(np.maximum(k, 0)), np.cumsum(np.maximum(-k, 0)))
    return max(abs(lo), abs(hi)) * np.cumsum(np.abs(k))


def partial_sum_bound(taps, lo, hi):
    """Worst-case float32 error of summing ``taps[t] * pixel`` in the given order, pixels in [lo, hi].

    The classic bound for recursive summation: the unit roundoff times the sum of the magnitudes of every partial
    sum, plus the rounding of each product and of each tap itself to float32.
    """
    k = np.asarray(taps, dtype=np.float64)
    magnitude = max(abs(lo), abs(hi)) * np.abs(k).sum()
    return _U * (_partials(k, lo, hi).sum() + 2 * magnitude)


def chunked_sum_bound(groups, chunk, lo, hi):
    """As `partial_sum_bound` for the direct path's order: each group of taps summed in chunks of at most `chunk`
    taps (a chunk never spans two groups), the chunk totals added in order into a running total."""
    chunks = [np.asarray(g[i:i + chunk], dtype=np.float64) for g in groups for i in range(0, len(g), chunk)]
    if not chunks:
        return 0.0
    within = sum(_U * _partials(c, lo, hi).sum() for c in chunks)
    running = _partials(np.concatenate(chunks), lo, hi)[np.cumsum([c.size for c in chunks]) - 1].sum()
    magnitude = max(abs(lo), abs(hi)) * sum(np.abs(c).sum() for c in chunks)
    return within + _U * (running + 2 * magnitude)


def accumulator_dtype(image_dtype, integer_output, error_bound, kernel, cval=0.0):
    """float64 for float64 images; float32 otherwise, unless rounding to integers could then be off by a level.

    For integer images written to integer outputs, `error_bound(lo, hi)` (the float32 error of the path that will
    run, for pixels in [lo, hi]) must stay below half a level: then integer-valued kernels give exact results and
    any kernel stays within one level of the exact sum. A `kernel` tap or constant border value `cval` beyond
    float32's range, or integer-image sums that could leave it, also take float64: in float32 they would become
    inf, and inf - inf NaN. So do non-zero taps below float32's normal range, which float32 would flush to 0.
    """
    taps = np.abs(kernel)
    tiny = taps[taps > 0].min(initial=np.inf) < _F32_TINY
    if image_dtype == np.float64 or max(taps.max(), abs(cval)) > _F32_MAX or tiny:
        return np.dtype(np.float64)
    if image_dtype.kind in "iu":
        info = np.iinfo(image_dtype)
        with np.errstate(over="ignore"):
            reach = taps.sum() * max(abs(cval), -float(info.min), float(info.max))
        if reach > _F32_MAX or (integer_output and error_bound(float(info.min), float(info.max)) >= 0.5):
            return np.dtype(np.float64)
    return np.dtype(np.float32)


def output_plan(output, dtype, image_dtype):
    """(output dtype, dtype of the raw sums behind it, core policy) for an output policy and optional dtype."""
    allowed = {
        "floor": ("uint8", "uint16", "int16"),
        "round": ("uint8", "uint16", "int16"),
        "float": ("float32", "float64"),
        "stretch": ("uint8", "uint16"),
    }[output]
    if dtype is None:
        out_dtype = float_dtype(image_dtype) if output == "float" else np.dtype(np.uint8)
    else:
        try:
            out_dtype = np.dtype(dtype)
        except TypeError as e:
            raise TypeError(f"dtype must be a numpy dtype; got {dtype!r}") from e
        if out_dtype.name not in allowed:
            raise ValueError(f"dtype for output={output!r} must be one of {', '.join(allowed)}; got {out_dtype}")
        out_dtype = out_dtype.newbyteorder("=")
    policy = {"floor": POLICY_FLOOR, "round": POLICY_ROUND}.get(output, POLICY_RAW)
    return out_dtype, float_dtype(image_dtype), policy


def stretch(values, dtype=np.uint8):
    """Min-max stretch of a float array to the full range of an unsigned dtype (round half to even).

    NaN and -inf become 0, +inf the maximum; a flat (or all non-finite) input becomes 0.
    """
    finite = values[np.isfinite(values)]
    if not finite.size:
        return stretch_range(values, np.inf, -np.inf, dtype)
    return stretch_range(values, float(finite.min()), float(finite.max()), dtype)


def stretch_range(values, lo, hi, dtype=np.uint8):
    """As `stretch`, with `lo` and `hi` (the finite minimum and maximum) given: for images filtered in parts."""
    dtype = np.dtype(dtype)
    top = float(np.iinfo(dtype).max)
    finite = np.isfinite(values)
    out = np.zeros(values.shape, dtype)
    if hi > lo:
        scaled = (values[finite].astype(np.float64) - lo) * (top / (hi - lo))
        out[finite] = np.rint(np.clip(scaled, 0, top)).astype(dtype)
    out[values == np.inf] = dtype.type(top)
    return out
