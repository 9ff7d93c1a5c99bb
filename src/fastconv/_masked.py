"""nan_policy="omit": normalized convolution, as two ordinary filtering passes and two element-wise steps.

    result = sum(K) * sum(K * x * valid) / sum(K * valid)

The first pass filters the samples with the invalid ones (NaN, masked) zeroed, the second the valid mask itself
(0 or 1: exact sums for integer kernels); the core zeroes and renormalizes, a band of rows per piece, on every
thread. The constant border's value counts as a valid sample unless it is NaN. Where the valid weight under the
kernel is within the rounding of its sum of zero, the result is NaN: no valid sample, or too little weight to
renormalize by.
"""
import numpy as np

from fastconv import _dispatch, _plan, _schedule
from fastconv._bounds import UNIT
from fastconv._filter import filter_image, limits
from fastconv._output import POLICY_RAW


def omit(call, mask, preserve_nan, out):
    """The result of `call` (fastconv._api.Call) with nan_policy="omit", into `out` if given; for
    ``output="stretch"`` the raw sums (in `call.raw_dtype`'s precision or wider) and the largest magnitude of a
    valid sample, which the caller stretches."""
    kernel = call.kernel
    total, weight = check_weight(kernel)
    img = call.img
    height, width = img.shape[:2]
    channels = 1 if img.ndim == 2 else img.shape[2]
    work = work_dtype(call)
    values = np.empty((height, width), work)
    den = values            # the values pass is done with `values` before the mask pass writes `den`
    valid = np.empty((height, width), np.uint8)
    stretched = call.output == "stretch"
    out_dtype = work if stretched else call.out_dtype
    given = out is not None and not stretched and not any(
        np.may_share_memory(out, a) for a in (img, mask) if a is not None)     # else written after, copied in
    target = out if given else np.empty(img.shape, out_dtype)
    # the values pass writes its sums into the result itself where it can (renormalize reads a row before it
    # writes it): one plane fewer to allocate and stream through the caches
    in_place = img.ndim == 2 and target.dtype == work and target.flags.c_contiguous
    num = target if in_place else np.empty((height, width), work)
    finite = bool(np.isfinite(call.cval))
    lo, hi = limits(out_dtype)
    spec = _plan.Output(POLICY_RAW if stretched else call.policy, 0.0, lo, hi)
    tol = 4 * max(1, np.count_nonzero(kernel)) * UNIT[work.itemsize] * weight
    threads = call.threads
    band = _schedule.band(height, width, width, 4 * height * width, threads, paired=False)
    core = _dispatch.core()
    magnitude = 0.0
    if target.size:
        for c in range(channels):
            plane = img if img.ndim == 2 else img[..., c]
            plane_mask = mask if mask is None or mask.ndim == 2 else mask[..., c]
            view = target if img.ndim == 2 else target[..., c]
            core.mask_invalid(plane, plane_mask, values, valid, threads, band)
            if stretched:
                magnitude = max(magnitude, float(np.abs(values).max(initial=0)))
            filter_image(values, kernel, call.anchor, call.border, call.cval if finite else 0.0, work, POLICY_RAW,
                         0.0, call.accumulate, threads, num)
            filter_image(valid, kernel, call.anchor, call.border, 1.0 if finite else 0.0, work, POLICY_RAW, 0.0,
                         call.accumulate, threads, den)
            core.renormalize(num, den, valid, view, total, tol, preserve_nan, spec, threads, band)
    if stretched:
        return target, magnitude
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def check_weight(kernel, name="K"):
    """(sum, sum of magnitudes) of a kernel omit can renormalize by; a ValueError for one whose taps sum to 0."""
    total, weight = float(kernel.sum()), float(np.abs(kernel).sum())
    if not abs(total) > 1e-8 * weight:
        raise ValueError("nan_policy='omit' renormalizes each sum by the kernel weight on valid samples, which needs a "
                         f"kernel whose taps do not sum to 0; {name} sums to {total:.3g} (of {weight:.3g} in "
                         "magnitude): use nan_policy='propagate', or fill the invalid samples first")
    return total, weight


def work_dtype(call):
    """The type both passes filter in: float64 for float64 images and float64 float outputs, else float32."""
    wide = call.raw_dtype == np.float64 or (call.output == "float" and call.out_dtype == np.float64)
    return np.dtype(np.float64 if wide else np.float32)
