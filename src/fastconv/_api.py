"""The public filtering functions: validation, dtype and border policy, path choice; the core only loops."""
import numbers
import os

import numpy as np

from fastconv import _paths
from fastconv._border import check_border, source_indices
from fastconv._output import (
    POLICY_RAW,
    check_output,
    output_plan,
    stretch,
)

# Pixel dtypes the core reads directly, and lossless conversions for the other real dtypes.
_CORE_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64))
_CONVERT = {
    np.dtype(np.int8): np.dtype(np.int16),
    np.dtype(np.float16): np.dtype(np.float32),
    np.dtype(np.int32): np.dtype(np.float64),
    np.dtype(np.uint32): np.dtype(np.float64),
    np.dtype(np.int64): np.dtype(np.float64),
    np.dtype(np.uint64): np.dtype(np.float64),
}


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _check_image(image, name="image"):
    """`image` as a native-endian 2-D or 3-D array of a core dtype (never a view that the core could write)."""
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"{name} must be a 2-D or 3-D numeric array; got {type(image).__name__}")
    try:
        arr = np.asarray(image)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} must be a 2-D or 3-D numeric array; could not convert it: {e}") from e
    if arr.dtype.kind not in "uif":
        raise TypeError(
            f"{name} must have a real numeric dtype (uint8, uint16, int16, float32, float64, or another integer or "
            f"float type); got dtype {arr.dtype}"
        )
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D (H, W) or 3-D (H, W, C); got {arr.ndim}-D with shape {arr.shape}")
    dtype = arr.dtype.newbyteorder("=")
    dtype = _CONVERT.get(dtype, dtype)
    if dtype not in _CORE_DTYPES:  # pragma: no cover - e.g. longdouble
        dtype = np.dtype(np.float64)
    return arr.astype(dtype, copy=False)


def _check_kernel(kernel, name="K"):
    if isinstance(kernel, (str, bytes)) or kernel is None:
        raise TypeError(f"{name} must be a 2-D numeric array; got {type(kernel).__name__}")
    try:
        k = np.asarray(kernel)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} must be a 2-D numeric array; could not convert it: {e}") from e
    if k.dtype.kind not in "uif":
        raise TypeError(f"{name} must have a real numeric dtype (integer or float); got dtype {k.dtype}")
    if k.ndim != 2:
        raise ValueError(f"{name} must be 2-D (kh, kw); got {k.ndim}-D with shape {k.shape}")
    if k.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {k.shape}")
    k = k.astype(np.float64)
    if not np.isfinite(k).all():
        raise ValueError(f"{name} must be finite: it contains NaN or inf")
    return k


def _check_threads(threads):
    if threads is None:
        return _cpu_count()
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise TypeError(f"threads must be a positive int or None (all cores); got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be a positive int or None (all cores); got {threads}")
    return int(threads)


def _check_cval(cval, name="cval"):
    if isinstance(cval, bool) or not isinstance(cval, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(cval).__name__}")
    return float(cval)


def _check_anchor(anchor, kshape):
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


def _check_accumulate(accumulate):
    if accumulate is None:
        return None
    if accumulate not in ("float32", "float64"):
        raise ValueError(f"accumulate must be None, 'float32' or 'float64'; got {accumulate!r}")
    return np.dtype(accumulate)


def _check_out(out, shape, dtype, name="out"):
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


def _filter(img, plan, anchor, border, cval, out_dtype, policy, delta, acc, threads, out):
    """Correlate every channel of the checked image `img` into `out` (or a new array) and return it.

    The core writes straight into `out` when it is a C-contiguous 2-D array that does not overlap the image;
    otherwise it writes channel planes that are then copied in.
    """
    shape = img.shape
    planes = img[..., np.newaxis] if img.ndim == 2 else img
    height, width, channels = planes.shape
    direct = (out is not None and out.ndim == 2 and out.flags.c_contiguous and not np.may_share_memory(out, img))
    target = out if direct else np.empty((channels, height, width), out_dtype)
    if target.size:
        kh, kw = plan.kernel.shape
        rows = source_indices(border, height, kh, anchor[0])
        cols = source_indices(border, width, kw, anchor[1])
        nthreads = max(1, min(threads, height, 4 * _cpu_count()))
        lo, hi = _limits(out_dtype)
        for c in range(channels):
            plane = np.ascontiguousarray(planes[..., c])
            plan.run(plane, rows, cols, anchor[1], cval, target if direct else target[c], policy, delta, lo, hi,
                     acc, nthreads)
    if direct:
        return out
    result = target[0] if img.ndim == 2 else np.moveaxis(target, 0, -1)
    if out is None:
        return np.ascontiguousarray(result).reshape(shape)
    out[...] = result
    return out


def _limits(dtype):
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return 0.0, 0.0


def convolve(image, K, *, border="replicate", cval=0.0, output="floor", dtype=None, anchor=None, flip=False,
             accumulate=None, out=None, threads=None):
    """Filter an image with a kernel: the tutorial's ``convolve(image, K)``, compiled.

    Computes the cross-correlation ``out[y, x] = sum_ij K[i, j] * image[y + i - ay, x + j - ax]`` (no kernel
    flip, as deep-learning libraries and ``cv2.filter2D`` define it; ``(ay, ax)`` is the anchor, by default
    ``(kh // 2, kw // 2)``), with samples outside the image given by `border`.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        The image; every channel is filtered alone with the same kernel. uint8, uint16, int16, float32 and float64
        are read directly; int8, float16 and wider integers are converted losslessly first. Never modified.
    K : array_like, shape (kh, kw)
        The kernel: any size, odd or even, square or not, also larger than the image. Must be finite.
    border : {'replicate', 'reflect', 'reflect101', 'wrap', 'constant'}, optional
        How the image continues beyond its edges (see the README's border table). Default 'replicate', as in the
        tutorial.
    cval : float, optional
        The value outside the image for ``border='constant'``. Default 0.
    output : {'floor', 'round', 'float', 'stretch'}, optional
        'floor' (default) clips to the output range and rounds down, exactly as the tutorial's
        ``rescale_intensity`` and ``astype('uint8')``; 'round' rounds half to even and saturates like
        ``cv2.filter2D``; 'float' returns the raw sum; 'stretch' maps the raw sum's minimum and maximum to the full
        range of the output dtype.
    dtype : numpy dtype, optional
        Output dtype. 'floor' and 'round' allow uint8 (default), uint16 and int16; 'float' allows float32 (default
        for images up to 32 bits) and float64 (default for float64 images); 'stretch' allows uint8 (default) and
        uint16. Integer outputs saturate: they never wrap.
    anchor : (int, int), optional
        ``(row, col)`` of the kernel tap that lands on the output pixel, inside the kernel. Default
        ``(kh // 2, kw // 2)``, OpenCV's convention, also for even sizes.
    flip : bool, optional
        True for a true convolution (the kernel rotated by 180 degrees about its anchor), equal to
        ``scipy.ndimage.convolve``. Default False (correlation).
    accumulate : {None, 'float32', 'float64'}, optional
        The type the sums accumulate in. None (default): float64 for float64 images, otherwise float32, widened
        to float64 when float32 rounding could move an integer output by a level.
    out : numpy.ndarray, optional
        Array to write the result into; must have exactly the result's shape and dtype and be writeable.
    threads : int or None, optional
        Most threads to use; None (default) uses every core available to the process. Small images use fewer
        (each thread gets enough work to pay for waking it). Results do not depend on it.

    Returns
    -------
    numpy.ndarray
        Same height, width (and channels) as `image`; `out` when given. In integer outputs NaN becomes 0 (the
        lower limit for int16).

    Raises
    ------
    TypeError
        If `image` or `K` is not a real numeric array, or an option has the wrong type.
    ValueError
        If a shape or an option value is not allowed, `K` contains NaN or inf, or `out` does not fit.

    Examples
    --------
    >>> import numpy as np
    >>> import fastconv
    >>> image = np.array([[0, 0, 0], [0, 90, 0], [0, 0, 0]], dtype=np.uint8)
    >>> fastconv.convolve(image, fastconv.kernels.sharpen())
    array([[  0,   0,   0],
           [  0, 255,   0],
           [  0,   0,   0]], dtype=uint8)
    >>> fastconv.convolve(image, np.ones((3, 3)) / 9, output="float")[1, 1]
    np.float32(10.0)
    >>> fastconv.convolve(image, [[1, 2]], output="float", flip=True)[1]
    array([ 90., 180.,   0.], dtype=float32)
    """
    img = _check_image(image)
    kernel = _check_kernel(K)
    border = check_border(border)
    cval = _check_cval(cval)
    if border != "constant":
        cval = 0.0      # unused by other borders; NaN or inf would not convert for the integer paths
    output = check_output(output)
    anchor = _check_anchor(anchor, kernel.shape)
    acc = _check_accumulate(accumulate)
    if not isinstance(flip, (bool, np.bool_)):
        raise TypeError(f"flip must be True or False; got {flip!r}")
    threads = _check_threads(threads)
    if flip:
        kernel = kernel[::-1, ::-1]
        anchor = (kernel.shape[0] - 1 - anchor[0], kernel.shape[1] - 1 - anchor[1])

    out_dtype, raw_dtype, policy = output_plan(output, dtype, img.dtype)
    out = _check_out(out, img.shape, out_dtype)
    plan = _paths.plan(kernel, img.dtype, border, cval)
    if acc is None:
        acc = plan.accumulator(policy != POLICY_RAW, cval if border == "constant" else 0.0)
    if output == "stretch":
        raw = _filter(img, plan, anchor, border, cval, raw_dtype, POLICY_RAW, 0.0, acc, threads, None)
        result = stretch(raw, out_dtype)
        if out is None:
            return result
        out[...] = result
        return out
    return _filter(img, plan, anchor, border, cval, out_dtype, policy, 0.0, acc, threads, out)
