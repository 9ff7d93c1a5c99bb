"""Output policy: which dtype a call returns and how sums become output pixels (rounding, saturation, stretch)."""
import numpy as np

# Codes shared with the compiled core (_core_common.pxi).
POLICY_RAW, POLICY_FLOOR, POLICY_ROUND = 0, 1, 2

#: Output policies of fastconv.convolve.
OUTPUTS = {
    "floor": "clip to the output range and round down (uint8: the tutorial's rescale_intensity + astype)",
    "round": "round half to even and saturate (cv2.filter2D's integer outputs)",
    "float": "the raw sum: float32, or float64 for float64 images",
    "stretch": "min-max stretch of the raw sum to the output's full range (for looking at edge responses)",
}


def check_output(output, image_dtype, dtype=None):
    """The output policy; None (the default) keeps the image's data: its own dtype, floored into it for integer
    images, the raw sums for float images (or, with `dtype` given, floor for integer and float for float dtypes)."""
    if output is None:
        if dtype is not None:
            try:
                return "float" if np.dtype(dtype).kind == "f" else "floor"
            except TypeError as e:
                raise TypeError(f"dtype must be a numpy dtype; got {dtype!r}") from e
        return "float" if image_dtype.kind == "f" else "floor"
    if not isinstance(output, str) or output not in OUTPUTS:
        allowed = ", ".join(repr(o) for o in OUTPUTS)
        raise ValueError(f"output must be None or one of {allowed}; got {output!r}")
    return output


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def float_dtype(image_dtype):
    """Raw float output dtype: float64 for float64 images, float32 otherwise."""
    return _F64 if image_dtype == _F64 else _F32


_ALLOWED = {
    "floor": ("uint8", "uint16", "int16"),
    "round": ("uint8", "uint16", "int16"),
    "float": ("float32", "float64"),
    "stretch": ("uint8", "uint16"),
}
_POLICIES = {"floor": POLICY_FLOOR, "round": POLICY_ROUND}


def output_plan(output, dtype, image_dtype, keep=False):
    """(output dtype, dtype of the raw sums behind it, core policy) for an output policy and optional dtype;
    `keep`: the policy was the default, so the dtype defaults to the image's own."""
    allowed = _ALLOWED[output]
    if dtype is None and keep:
        out_dtype = np.dtype(image_dtype)
    elif dtype is None:
        out_dtype = float_dtype(image_dtype) if output == "float" else np.dtype(np.uint8)
    else:
        try:
            out_dtype = np.dtype(dtype)
        except TypeError as e:
            raise TypeError(f"dtype must be a numpy dtype; got {dtype!r}") from e
        if out_dtype.name not in allowed:
            raise ValueError(f"dtype for output={output!r} must be one of {', '.join(allowed)}; got {out_dtype}")
        out_dtype = out_dtype.newbyteorder("=")
    policy = _POLICIES.get(output, POLICY_RAW)
    return out_dtype, float_dtype(image_dtype), policy


def stretch(values, dtype=np.uint8, noise=0.0):
    """Min-max stretch of a float array to the full range of an unsigned dtype (round half to even).

    NaN and -inf become 0, +inf the maximum. A flat input, or one whose range is within twice `noise` (the
    rounding error of the sums behind it: their spread is then noise, not signal), becomes 0; so does an input
    with no finite value.
    """
    finite = values[np.isfinite(values)]
    if not finite.size:
        return stretch_range(values, np.inf, -np.inf, dtype)
    return stretch_range(values, float(finite.min()), float(finite.max()), dtype, noise)


def stretch_range(values, lo, hi, dtype=np.uint8, noise=0.0):
    """As `stretch`, with `lo` and `hi` (the finite minimum and maximum) given: for images filtered in parts."""
    dtype = np.dtype(dtype)
    top = float(np.iinfo(dtype).max)
    finite = np.isfinite(values)
    out = np.zeros(values.shape, dtype)
    if hi - lo > 2 * noise:
        scaled = (values[finite].astype(np.float64) - lo) * (top / (hi - lo))
        out[finite] = np.rint(np.clip(scaled, 0, top)).astype(dtype)
    out[values == np.inf] = dtype.type(top)
    return out
