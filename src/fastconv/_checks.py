"""Validation of every public entry point's arguments: one place for the rules and their messages."""
import numbers

import numpy as np

# Pixel dtypes the core reads directly, and lossless conversions for the other real dtypes.
CORE_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64))
_CONVERT = {
    np.dtype(np.int8): np.dtype(np.int16),
    np.dtype(np.float16): np.dtype(np.float32),
    np.dtype(np.int32): np.dtype(np.float64),
    np.dtype(np.uint32): np.dtype(np.float64),
    np.dtype(np.int64): np.dtype(np.float64),
    np.dtype(np.uint64): np.dtype(np.float64),
}

#: The largest kernel fastconv takes: 2**24 taps (4096 x 4096). Each output pixel multiplies every tap.
MAX_KERNEL_TAPS = 2**24

_NATIVE = frozenset(CORE_DTYPES)

#: Kernels of up to this many taps are remembered once checked (by dtype, shape and bytes): a call on a small
#: image is mostly its checks, and the same kernel comes back call after call.
_KNOWN_KERNEL_TAPS = 1024
_known_kernels = {}


def check_image(image, name="image", stack=False):
    """`image` as a 2-D or 3-D array (with `stack`, 3-D or 4-D: frames first) of a core dtype that the core can
    read in place (native byte order, aligned, strides in whole elements); a copy only where a conversion or such
    a layout needs one. Never a view the core could write."""
    if (type(image) is np.ndarray and image.dtype in _NATIVE and image.ndim in ((3, 4) if stack else (2, 3))
            and readable_in_place(image)):
        return image        # the common case, already as the core reads it
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"{name} must be a 2-D or 3-D numeric array; got {type(image).__name__}")
    if isinstance(image, np.ma.MaskedArray):
        raise TypeError(f"{name} must not be a masked array here: its mask would be ignored; use "
                        f"nan_policy='omit' (convolve) to skip the masked pixels, or pass {name}.filled(value)")
    try:
        arr = np.asarray(image)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} must be a 2-D or 3-D numeric array; could not convert it: {e}") from e
    if arr.dtype.kind not in "uif":
        raise TypeError(
            f"{name} must have a real numeric dtype (uint8, uint16, int16, float32, float64, or another integer or "
            f"float type); got dtype {arr.dtype}"
        )
    if stack and arr.ndim not in (3, 4):
        raise ValueError(f"{name} must be 3-D (N, H, W) or 4-D (N, H, W, C) with stack=True (frames first); got "
                         f"{arr.ndim}-D with shape {arr.shape}")
    if not stack and arr.ndim not in (2, 3):
        hint = " (a stack of frames needs stack=True)" if arr.ndim == 4 else ""
        raise ValueError(f"{name} must be 2-D (H, W) or 3-D (H, W, C); got {arr.ndim}-D with shape {arr.shape}"
                         + hint)
    dtype = arr.dtype.newbyteorder("=")
    dtype = _CONVERT.get(dtype, dtype)
    if dtype not in CORE_DTYPES:  # pragma: no cover - e.g. longdouble
        dtype = np.dtype(np.float64)
    arr = arr.astype(dtype, copy=False)
    if not readable_in_place(arr):
        arr = np.array(arr, copy=True)
    return arr


def readable_in_place(arr):
    """Whether the core can read (or write) `arr` through its pointer and strides."""
    flags = arr.flags
    return flags.aligned and (flags.c_contiguous or all(s % arr.itemsize == 0 for s in arr.strides))


def check_kernel(kernel, name="K", banks=False):
    """`kernel` as a finite 2-D float64 array, read-only (`banks`: the caller takes banks of kernels too, say
    so)."""
    key = None
    if type(kernel) is np.ndarray and kernel.ndim == 2 and 0 < kernel.size <= _KNOWN_KERNEL_TAPS:
        key = (kernel.dtype.str, kernel.shape, kernel.tobytes())
        known = _known_kernels.get(key)
        if known is not None:
            return known
    k = _check_kernel(kernel, name, banks)
    k.flags.writeable = False
    if key is not None:
        if len(_known_kernels) >= 256:
            _known_kernels.clear()
        _known_kernels[key] = k
    return k


def _check_kernel(kernel, name, banks):
    if isinstance(kernel, (str, bytes)) or kernel is None:
        raise TypeError(f"{name} must be a 2-D numeric array; got {type(kernel).__name__}")
    try:
        k = np.asarray(kernel)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} must be a 2-D numeric array; could not convert it: {e}") from e
    if k.dtype.kind not in "uif":
        raise TypeError(f"{name} must have a real numeric dtype (integer or float); got dtype {k.dtype}")
    if k.ndim != 2:
        bank = ", or a bank of kernels of one shape (n, kh, kw)" if banks else ""
        raise ValueError(f"{name} must be 2-D (kh, kw){bank}; got {k.ndim}-D with shape {k.shape}")
    if k.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {k.shape}")
    if k.size > MAX_KERNEL_TAPS:
        raise ValueError(f"{name} must have at most {MAX_KERNEL_TAPS} taps; got shape {k.shape}")
    k = k.astype(np.float64)
    if not np.isfinite(k).all():
        raise ValueError(f"{name} must be finite: it contains NaN or inf")
    return k


def check_bank(kernels, name="K"):
    """A bank of kernels of one shape, (n, kh, kw) or a sequence of n 2-D kernels, as a finite float64 array of
    shape (n, kh, kw); None when `kernels` is not a bank (a single kernel: check_kernel judges it)."""
    if not _is_bank(kernels):
        return None
    if isinstance(kernels, (list, tuple)):
        shapes = {np.shape(k) for k in kernels}
        if len(shapes) > 1:
            raise ValueError(f"{name}: the kernels of a bank must have one shape; got shapes {sorted(shapes)}")
    try:
        bank = np.asarray(kernels)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} must be a 2-D kernel or a bank of kernels of one shape (n, kh, kw); could not "
                        f"convert it: {e}") from e
    if bank.shape[0] == 0:
        raise ValueError(f"{name}: a bank must hold at least one kernel; got shape {bank.shape}")
    return np.stack([check_kernel(k, f"{name}[{i}]") for i, k in enumerate(bank)])


def _is_bank(kernels):
    """Whether `kernels` reads as a bank: a 3-D array, or a non-empty sequence of 2-D kernels."""
    if isinstance(kernels, (str, bytes)) or kernels is None:
        return False
    try:
        if isinstance(kernels, (list, tuple)):
            return bool(kernels) and all(np.ndim(k) == 2 for k in kernels)
        return np.ndim(kernels) == 3
    except (ValueError, TypeError):     # ragged or not array-like: check_kernel says why
        return False


def check_threads(threads):
    """-1 for None (the budget), else the positive int."""
    if threads is None:
        return -1
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise TypeError(f"threads must be a positive int or None (the process's budget); got "
                        f"{type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be a positive int or None (the process's budget); got {threads}")
    return int(min(threads, 1024))


def check_real(value, name):
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    return float(value)


def check_anchor(anchor, kshape):
    """(row, col) of the kernel tap that lands on the output pixel; default the centre (k // 2 per axis)."""
    kh, kw = kshape
    if anchor is None:
        return kh // 2, kw // 2
    try:
        ay, ax = anchor
    except (TypeError, ValueError) as e:
        raise TypeError(f"anchor must be None or a (row, col) pair of ints; got {anchor!r}") from e
    for v in (ay, ax):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"anchor must be None or a (row, col) pair of ints; got {anchor!r}")
    if not (0 <= ay < kh and 0 <= ax < kw):
        raise ValueError(f"anchor must lie inside the kernel: 0 <= row < {kh} and 0 <= col < {kw}; got {anchor!r}")
    return int(ay), int(ax)


def check_accumulate(accumulate):
    if accumulate is None:
        return None
    if accumulate not in ("float32", "float64"):
        raise ValueError(f"accumulate must be None, 'float32' or 'float64'; got {accumulate!r}")
    return np.dtype(accumulate)


def check_flip(flip):
    if not isinstance(flip, (bool, np.bool_)):
        raise TypeError(f"flip must be True or False; got {flip!r}")
    return bool(flip)


def check_out(out, shape, dtype, name="out"):
    """`out` unchanged when it is a writeable array of exactly `shape` and `dtype`; otherwise a clear error."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be None or a numpy.ndarray; got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"{name} must have shape {shape} and dtype {dtype}; got shape {out.shape} and dtype "
                         f"{out.dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable; got a read-only array")
    return out


def check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_nan_policy(nan_policy):
    if nan_policy not in ("propagate", "omit"):
        raise ValueError(f"nan_policy must be 'propagate' or 'omit'; got {nan_policy!r}")
    return nan_policy


def split_masked(image, mask, stack=False):
    """(data, mask) of a numpy.ma image, its mask or-ed with `mask`; other images unchanged."""
    if not isinstance(image, np.ma.MaskedArray):
        return image, mask
    own = np.ma.getmaskarray(image)
    if mask is not None:
        extra = check_mask(mask, own.shape, stack).astype(bool)
        own = own | (extra if extra.ndim == own.ndim else extra[..., None])
    return np.ma.getdata(image), own


def check_mask(mask, shape, stack=False):
    """`mask` as a uint8 array (1: invalid) of the image's H x W (with `stack`, N x H x W) or of its whole
    `shape`; None stays None."""
    if mask is None:
        return None
    try:
        m = np.asarray(mask)
    except (ValueError, TypeError) as e:
        raise TypeError(f"mask must be None or an array of bool; could not convert it: {e}") from e
    if m.dtype.kind not in "biu":
        raise TypeError(f"mask must be None or an array of bool (True marks an invalid sample); got dtype {m.dtype}")
    planes = tuple(shape[:3] if stack else shape[:2])
    if m.shape not in (planes, tuple(shape)):
        raise ValueError(f"mask must have the image's shape {planes}"
                         + (f" or {tuple(shape)}" if len(shape) > len(planes) else "") + f"; got {m.shape}")
    return (m != 0).view(np.uint8) if m.dtype != np.bool_ else m.view(np.uint8)
