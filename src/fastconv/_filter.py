"""Running a plan over an image: every channel, read and written in place through the core's strided views."""
import functools
import math

import numpy as np

from fastconv import _plan
from fastconv._border import source_indices
from fastconv._checks import readable_in_place


def filter_image(img, kernel, anchor, border, cval, out_dtype, policy, delta, accumulate, threads, out,
                 stack=False, fast_key=None):
    """Correlate every channel (and with `stack`, every frame of the first axis) of the checked image `img` into
    `out` (or a new array) and return it.

    The core reads the image in place and writes straight into `out` (channels and frames as planes of strided
    views, all in one call), unless `out` overlaps the image or cannot be written through its strides: then into
    a new array, copied in. `fast_key`: remember the core's prepared job for later calls with that key
    (fastconv._api's fast path), when it wrote a new array.
    """
    plan = _plan.plan(kernel, img.dtype, border, cval, out_dtype, policy, delta, accumulate)
    target = out
    if out is None or not readable_in_place(out) or np.may_share_memory(out, img):
        target = np.empty(img.shape, out_dtype)
    if target.size:
        height, width = img.shape[1:3] if stack else img.shape[:2]
        frame = border_record(border, height, width, kernel.shape, anchor, cval)
        spec = output_record(out_dtype, policy, delta, math.copysign(1.0, delta))   # -0.0 is not 0.0 here
        prepared = plan.run(planes(img, stack), planes(target, stack), frame, spec, threads)
        if fast_key is not None and prepared is not None and out is None:
            _plan.remember(fast_key, prepared, out_dtype)
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def planes(arr, stack):
    """`arr` as the core's planes, a view: (H, W) as it is, (H, W, C) as (C, H, W); with `stack` (frames first),
    (N, H, W) as it is and (N, H, W, C) as (N, C, H, W)."""
    if arr.ndim == 4 or (arr.ndim == 3 and not stack):
        return np.moveaxis(arr, -1, -3)
    return arr


def border_record(border, height, width, kshape, anchor, cval):
    """The core's Border record for a plane of `height` x `width` (its index maps cached by fastconv._border)."""
    return _plan.Border(source_indices(border, height, kshape[0], anchor[0]),
                        source_indices(border, width, kshape[1], anchor[1]), anchor[1], cval)


@functools.lru_cache(maxsize=256)
def output_record(out_dtype, policy, delta, sign):
    """The core's Output record: the policy, delta and the output dtype's limits (`sign`: delta's, which the
    cache must tell apart: -0.0 == 0.0, but a zero sum plus -0.0 stays -0.0)."""
    lo, hi = limits(out_dtype)
    return _plan.Output(policy, delta, lo, hi)


@functools.lru_cache(maxsize=None)
def limits(dtype):
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return 0.0, 0.0
