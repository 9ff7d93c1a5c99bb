"""``filter2D``: OpenCV's signature and semantics, without importing OpenCV.

OpenCV's constants are plain integers and are repeated here, so ``cv2.BORDER_WRAP`` and ``fastconv.BORDER_WRAP``
are interchangeable.
"""
import math
import numbers

import numpy as np

from fastconv._api import serve
from fastconv._filter import filter_image
from fastconv._checks import check_image, check_kernel, check_out, check_real, check_threads
from fastconv._output import POLICY_RAW, POLICY_ROUND

CV_8U, CV_16U, CV_16S, CV_32F, CV_64F = 0, 2, 3, 5, 6
BORDER_CONSTANT, BORDER_REPLICATE, BORDER_REFLECT, BORDER_WRAP, BORDER_REFLECT_101 = 0, 1, 2, 3, 4
BORDER_REFLECT101 = BORDER_DEFAULT = BORDER_REFLECT_101
BORDER_ISOLATED = 16

_DEPTHS = {CV_8U: np.uint8, CV_16U: np.uint16, CV_16S: np.int16, CV_32F: np.float32, CV_64F: np.float64}
_DEPTH_NAMES = {CV_8U: "CV_8U", CV_16U: "CV_16U", CV_16S: "CV_16S", CV_32F: "CV_32F", CV_64F: "CV_64F"}
# The (source, destination) depth pairs cv2.filter2D supports.
_PAIRS = {
    np.dtype(np.uint8): (CV_8U, CV_16U, CV_16S, CV_32F, CV_64F),
    np.dtype(np.uint16): (CV_16U, CV_32F, CV_64F),
    np.dtype(np.int16): (CV_16S, CV_32F, CV_64F),
    np.dtype(np.float32): (CV_32F,),
    np.dtype(np.float64): (CV_64F,),
}
_BORDERS = {BORDER_CONSTANT: "constant", BORDER_REPLICATE: "replicate", BORDER_REFLECT: "reflect",
            BORDER_WRAP: "wrap", BORDER_REFLECT_101: "reflect101"}


def _int_param(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    return int(value)


def check_depth(ddepth, src_dtype):
    ddepth = _int_param("ddepth", ddepth)
    supported = _PAIRS[src_dtype]
    if ddepth == -1:
        return np.dtype(src_dtype)
    if ddepth not in supported:
        names = ", ".join(["-1"] + [_DEPTH_NAMES[d] for d in supported])
        raise ValueError(f"ddepth must be one of {names} for a {src_dtype} source (as in cv2.filter2D); got {ddepth}")
    return np.dtype(_DEPTHS[ddepth])


def check_border_type(border_type):
    border_type = _int_param("borderType", border_type)
    base = border_type & ~BORDER_ISOLATED   # the whole image is filtered, so ISOLATED changes nothing
    if base not in _BORDERS or border_type & ~(BORDER_ISOLATED | 7):
        raise ValueError("borderType must be one of BORDER_CONSTANT (0), BORDER_REPLICATE (1), BORDER_REFLECT (2), "
                         "BORDER_WRAP (3), BORDER_REFLECT_101 (4), optionally | BORDER_ISOLATED (16); "
                         f"got {border_type}")
    return _BORDERS[base]


def check_cv_anchor(anchor, kshape):
    """OpenCV's (x, y) anchor, -1 meaning the centre along that axis, as our (row, col)."""
    kh, kw = kshape
    try:
        ax, ay = anchor
    except (TypeError, ValueError) as e:
        raise TypeError(f"anchor must be an (x, y) pair of ints; got {anchor!r}") from e
    ax, ay = _int_param("anchor x", ax), _int_param("anchor y", ay)
    ax = kw // 2 if ax == -1 else ax
    ay = kh // 2 if ay == -1 else ay
    if not (0 <= ax < kw and 0 <= ay < kh):
        raise ValueError(f"anchor must lie inside the kernel: 0 <= x < {kw} and 0 <= y < {kh}, or -1 for the "
                         f"centre; got {tuple(anchor)!r}")
    return ay, ax


def filter2D(src, ddepth, kernel, dst=None, anchor=(-1, -1), delta=0, borderType=BORDER_REFLECT_101, *,
             threads=None):
    """Correlate an image with a kernel exactly as ``cv2.filter2D`` does, without OpenCV's gaps.

    Same signature, constants and results as OpenCV: integer outputs round half to even and saturate, sums
    accumulate in float32 unless a float64 image or output is involved. Unlike OpenCV, ``BORDER_WRAP`` works for
    every kernel size, NaN spreads only through non-zero taps for every kernel size, and nothing is ever
    single-threaded because the kernel is large.

    Parameters
    ----------
    src : array_like, shape (H, W) or (H, W, C)
        uint8, uint16, int16, float32 or float64 image; every channel is filtered with the same kernel.
    ddepth : int
        Output depth: -1 (same as `src`), ``CV_8U`` (0), ``CV_16U`` (2), ``CV_16S`` (3), ``CV_32F`` (5) or
        ``CV_64F`` (6), among the pairs OpenCV supports: uint8 to any; uint16 and int16 to themselves, CV_32F
        or CV_64F; float32 to CV_32F; float64 to CV_64F.
    kernel : array_like, shape (kh, kw)
        Finite real kernel of any size.
    dst : numpy.ndarray, optional
        Output array, written into; must have exactly the result's shape and dtype.
    anchor : (int, int), optional
        ``(x, y)`` position of the anchor in the kernel; -1 means the centre (``k // 2``) along that axis.
    delta : float, optional
        Added to every sum before rounding.
    borderType : int, optional
        ``BORDER_CONSTANT`` (zeros), ``BORDER_REPLICATE``, ``BORDER_REFLECT``, ``BORDER_WRAP`` or
        ``BORDER_REFLECT_101`` (default), optionally combined with ``BORDER_ISOLATED``.
    threads : int or None, optional
        Most threads to use (keyword only); None uses the process's budget (`fastconv.get_threads`).

    Returns
    -------
    numpy.ndarray
        The filtered image (`dst` when given), same shape as `src`.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If `ddepth`, `anchor`, `borderType` or `dst` is not allowed for this input.

    Examples
    --------
    >>> import numpy as np
    >>> import fastconv
    >>> img = np.array([[10, 20, 30, 40]], dtype=np.uint8)
    >>> fastconv.filter2D(img, -1, np.array([[0.5, 0.0, 0.5]]))
    array([[20, 20, 30, 30]], dtype=uint8)
    >>> fastconv.filter2D(img, fastconv.CV_32F, np.array([[1, -1]]), borderType=fastconv.BORDER_WRAP, delta=0.5)
    array([[30.5, -9.5, -9.5, -9.5]], dtype=float32)
    """
    key = None
    if (type(src) is np.ndarray and type(kernel) is np.ndarray and dst is None and type(anchor) is tuple
            and len(anchor) == 2 and type(anchor[0]) is int and type(anchor[1]) is int and anchor == (-1, -1)
            and type(ddepth) is int and type(borderType) is int and type(delta) in (int, float)
            and (threads is None or type(threads) is int)):
        sign = math.copysign(1.0, delta) if type(delta) is float else 1.0     # -0.0 == 0.0, but not in a sum
        found = serve(src, kernel, ("filter2D", ddepth, delta, sign, borderType), threads)
        if type(found) is np.ndarray:
            return found
        key = found
    given = getattr(src, "dtype", None)
    if given is not None and np.dtype(given).newbyteorder("=") not in _PAIRS:
        raise TypeError(f"src must be uint8, uint16, int16, float32 or float64 (as in cv2.filter2D); got dtype "
                        f"{given}")
    img = check_image(src, name="src")      # (array-likes without a dtype are read as a core dtype, all allowed)
    k = check_kernel(kernel, name="kernel")
    out_dtype = check_depth(ddepth, img.dtype)
    anchor = check_cv_anchor(anchor, k.shape)
    delta = check_real(delta, "delta")
    border = check_border_type(borderType)
    threads = check_threads(threads)
    dst = check_out(dst, img.shape, out_dtype, name="dst")
    policy = POLICY_ROUND if out_dtype.kind in "iu" else POLICY_RAW
    return filter_image(img, k, anchor, border, 0.0, out_dtype, policy, delta, None, threads, dst,
                        fast_key=key if img is src else None)
