"""Path choice: which compiled routine computes a correlation, and the kernel data it needs.

- ``direct``: every non-zero tap, register-blocked (any kernel).
- ``separable``: rank-1 kernels ``K = outer(v, h)``, a horizontal then a vertical 1-D pass: kh + kw taps per
  pixel instead of kh * kw. Taken only when the factors reproduce K to float64 rounding (exactly, for
  integer-valued kernels), so results differ from the direct path by float32 summation order alone.
- ``box``: kernels whose taps are all equal, on integer images: exact integer running sums, O(1) per pixel
  whatever the size.

``force(path)`` (private, for tests and benchmarks) makes every call take `path` where it applies and raise
``ValueError`` where it does not.
"""
from contextlib import contextmanager

import numpy as np

from fastconv import _dispatch

PATHS = ("direct", "separable", "box")
_F64_EPS = np.finfo(np.float64).eps
_INT_IMAGES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.int16))
_forced = None


@contextmanager
def force(path):
    """Take `path` for every call inside the block (not thread-safe; for tests and benchmarks)."""
    global _forced
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}; got {path!r}")
    previous, _forced = _forced, path
    try:
        yield
    finally:
        _forced = previous


def rank1_factors(kernel):
    """(v, h) with ``outer(v, h) == kernel`` (to float64 rounding; exactly for integer kernels), or None."""
    peak = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    pivot = kernel[peak]
    if pivot == 0:
        return None
    v, h = kernel[:, peak[1]] / pivot, kernel[peak[0], :].copy()
    if np.array_equal(kernel, np.round(kernel)):   # integer kernels: integer column, exact row
        v, h = kernel[:, peak[1]].copy(), kernel[peak[0], :] / pivot
        return (v, h) if np.array_equal(np.outer(v, h), kernel) else None
    residual = np.abs(np.outer(v, h) - kernel).max()
    return (v, h) if residual <= 4 * _F64_EPS * abs(pivot) else None


def _box_fits(kernel, image_dtype, border, cval):
    if image_dtype not in _INT_IMAGES or not (kernel == kernel.flat[0]).all() or kernel.flat[0] == 0:
        return False
    info = np.iinfo(image_dtype)
    peak = max(abs(int(info.min)), int(info.max))
    if border == "constant":
        if cval != np.round(cval) or abs(cval) > peak:
            return False
    return kernel.size * peak < 2**31


def choose(kernel, image_dtype, border, cval):
    """The path for this kernel and image: the forced one, or the cheapest that applies."""
    candidates = {"direct": True}
    factors = rank1_factors(kernel) if min(kernel.shape) > 1 else None
    candidates["separable"] = factors is not None
    candidates["box"] = _box_fits(kernel, image_dtype, border, cval)
    if _forced is not None:
        if not candidates[_forced]:
            raise ValueError(f"the {_forced!r} path does not apply to this kernel and image")
        return _forced, factors
    if candidates["box"] and kernel.size >= 4:
        return "box", factors
    if candidates["separable"]:
        direct_cost = np.count_nonzero(kernel)
        separable_cost = np.count_nonzero(factors[0]) + np.count_nonzero(factors[1]) + 3   # + a second pass
        if separable_cost < direct_cost:
            return "separable", factors
    return "direct", factors


def _taps(values, acc):
    idx = np.flatnonzero(values).astype(np.int64)
    return idx, np.ascontiguousarray(values[idx], dtype=acc)


def run(path, factors, plane, kernel, anchor, rows, cols, cval, out, policy, delta, lo, hi, acc, nthreads):
    """Correlate one C-contiguous plane into the C-contiguous 2-D `out` by `path`."""
    core = _dispatch.core()
    kh, kw = kernel.shape
    ax = anchor[1]
    if path == "box":
        n = kernel.size
        value = float(kernel.flat[0])
        divide = value == 1.0 / n
        core.box_filter(plane, kh, kw, rows, cols, ax, int(cval), float(n) if divide else value, divide, out,
                        policy, delta, lo, hi, nthreads)
    elif path == "separable":
        v_idx, v_val = _taps(factors[0], acc)
        h_idx, h_val = _taps(factors[1], acc)
        core.correlate_separable(plane, v_idx, v_val, kh, h_idx, h_val, kw, rows, cols, ax, cval, out, policy,
                                 delta, lo, hi, nthreads)
    else:
        flat, val = _taps(kernel.ravel(), acc)
        core.correlate(plane, kh, kw, flat // kw, flat % kw, val, rows, cols, ax, cval, out, policy, delta, lo,
                       hi, nthreads)
