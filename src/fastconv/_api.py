"""The public filtering functions: validation, dtype and border policy, path choice; the core only loops."""
import numbers
import os

import numpy as np

from fastconv import _dispatch
from fastconv._border import check_border, source_indices
from fastconv._output import (
    POLICY_FLOOR,
    POLICY_RAW,
    POLICY_ROUND,
    accumulator_dtype,
    check_output,
    float_dtype,
    stretch_to_uint8,
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


def _check_image(image):
    """`image` as a native-endian 2-D or 3-D array of a core dtype (never a view that the core could write)."""
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"image must be a 2-D or 3-D numeric array; got {type(image).__name__}")
    try:
        arr = np.asarray(image)
    except (ValueError, TypeError) as e:
        raise TypeError(f"image must be a 2-D or 3-D numeric array; could not convert it: {e}") from e
    if arr.dtype.kind not in "uif":
        raise TypeError(
            f"image must have a real numeric dtype (uint8, uint16, int16, float32, float64, or another integer or "
            f"float type); got dtype {arr.dtype}"
        )
    if arr.ndim not in (2, 3):
        raise ValueError(f"image must be 2-D (H, W) or 3-D (H, W, C); got {arr.ndim}-D with shape {arr.shape}")
    dtype = arr.dtype.newbyteorder("=")
    dtype = _CONVERT.get(dtype, dtype)
    if dtype not in _CORE_DTYPES:  # pragma: no cover - e.g. longdouble
        dtype = np.dtype(np.float64)
    return arr.astype(dtype, copy=False)


def _check_kernel(kernel):
    if isinstance(kernel, (str, bytes)) or kernel is None:
        raise TypeError(f"kernel must be a 2-D numeric array; got {type(kernel).__name__}")
    try:
        k = np.asarray(kernel)
    except (ValueError, TypeError) as e:
        raise TypeError(f"kernel must be a 2-D numeric array; could not convert it: {e}") from e
    if k.dtype.kind not in "uif":
        raise TypeError(f"kernel must have a real numeric dtype (integer or float); got dtype {k.dtype}")
    if k.ndim != 2:
        raise ValueError(f"kernel must be 2-D (kh, kw); got {k.ndim}-D with shape {k.shape}")
    if k.size == 0:
        raise ValueError(f"kernel must not be empty; got shape {k.shape}")
    k = k.astype(np.float64)
    if not np.isfinite(k).all():
        raise ValueError("kernel must be finite: it contains NaN or inf")
    return k


def _check_threads(threads):
    if threads is None:
        return _cpu_count()
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise TypeError(f"threads must be a positive int or None (all cores); got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be a positive int or None (all cores); got {threads}")
    return int(threads)


def _check_cval(cval):
    if isinstance(cval, bool) or not isinstance(cval, numbers.Real):
        raise TypeError(f"cval must be a real number; got {type(cval).__name__}")
    return float(cval)


def _correlate_plane(plane, kernel, acc_dtype, border, cval, out, policy, lo, hi, threads):
    """Run the core on one C-contiguous 2-D plane into the C-contiguous `out`."""
    h, w = plane.shape
    kh, kw = kernel.shape
    ay, ax = kh // 2, kw // 2
    rows = source_indices(border, h, kh, ay)
    cols = source_indices(border, w, kw, ax)
    k = np.ascontiguousarray(kernel, dtype=acc_dtype)
    nthreads = max(1, min(threads, h, 4 * _cpu_count()))
    _dispatch.core().correlate(plane, k, rows, cols, ax, cval, out, policy, 0.0, lo, hi, nthreads)


def convolve(image, K, *, border="replicate", cval=0.0, output="floor", threads=None):
    """Filter an image with a kernel: the tutorial's ``convolve(image, K)``, compiled.

    Computes the cross-correlation ``out[y, x] = sum_ij K[i, j] * image[y + i - K.shape[0] // 2, x + j -
    K.shape[1] // 2]`` (no kernel flip, as deep-learning libraries and ``cv2.filter2D`` define it), with samples
    outside the image given by `border`.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        The image; a colour image is filtered channel by channel. uint8, uint16, int16, float32 and float64 are
        read directly; int8, float16 and wider integers are converted losslessly first.
    K : array_like, shape (kh, kw)
        The kernel: any size, odd or even, square or not (even sizes anchor at ``(kh // 2, kw // 2)`` like
        OpenCV). Must be finite.
    border : {'replicate', 'reflect', 'reflect101', 'wrap', 'constant'}, optional
        How the image continues beyond its edges (see the README's border table). Default 'replicate', as in the
        tutorial.
    cval : float, optional
        The value outside the image for ``border='constant'``. Default 0.
    output : {'floor', 'round', 'float', 'stretch'}, optional
        'floor' (default) clips to [0, 255] and rounds down to uint8, exactly as the tutorial's
        ``rescale_intensity`` and ``astype('uint8')``; 'round' rounds half to even and saturates to uint8 like
        ``cv2.filter2D``; 'float' returns the raw sum (float32, float64 for float64 images); 'stretch' maps the
        raw sum's minimum and maximum to 0 and 255.
    threads : int or None, optional
        Number of threads; None (default) uses every core available to the process.

    Returns
    -------
    numpy.ndarray
        Same height, width (and channels) as `image`; uint8, or float for ``output='float'``. In uint8 outputs
        NaN becomes 0.

    Raises
    ------
    TypeError
        If `image` or `K` is not a real numeric array, or `threads` / `cval` has the wrong type.
    ValueError
        If a shape or an option value is not allowed, or `K` contains NaN or inf.

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
    """
    img = _check_image(image)
    kernel = _check_kernel(K)
    border = check_border(border)
    cval = _check_cval(cval)
    output = check_output(output)
    threads = _check_threads(threads)

    integer_output = output in ("floor", "round")
    if integer_output:
        out_dtype, policy, lo, hi = np.dtype(np.uint8), (POLICY_FLOOR if output == "floor" else POLICY_ROUND), 0, 255
    else:
        out_dtype, policy, lo, hi = float_dtype(img.dtype), POLICY_RAW, 0, 0
    acc = accumulator_dtype(img.dtype, kernel, integer_output)

    planes = img[..., np.newaxis] if img.ndim == 2 else img
    height, width, channels = planes.shape
    result = np.empty((channels, height, width), out_dtype)
    if result.size:
        for c in range(channels):
            plane = np.ascontiguousarray(planes[..., c])
            _correlate_plane(plane, kernel, acc, border, cval, result[c], policy, lo, hi, threads)
    result = result[0] if img.ndim == 2 else np.ascontiguousarray(np.moveaxis(result, 0, -1))
    if output == "stretch":
        return stretch_to_uint8(result)
    return result
