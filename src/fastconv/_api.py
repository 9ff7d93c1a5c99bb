"""The public filtering function: options -> plan -> run. Validation lives in fastconv._checks, the dtype and
output policy in fastconv._output, the decision of what runs in fastconv._plan; the core only loops."""
from typing import NamedTuple

import numpy as np

from fastconv import _dispatch, _masked, _plan, _runtime, _schedule
from fastconv._filter import filter_image
from fastconv._border import check_border
from fastconv._checks import (
    check_accumulate,
    check_anchor,
    check_bank,
    check_flag,
    check_flip,
    check_image,
    check_kernel,
    check_mask,
    check_nan_policy,
    check_out,
    check_real,
    check_threads,
    split_masked,
)
from fastconv._output import POLICY_RAW, check_output, output_plan, stretch


def convolve(image, K, *, border="replicate", cval=0.0, output=None, dtype=None, anchor=None, flip=False,
             accumulate=None, out=None, threads=None, nan_policy="propagate", mask=None, preserve_nan=False,
             stack=False):
    """Filter an image with a kernel: the tutorial's ``convolve(image, K)``, compiled.

    Computes the cross-correlation ``out[y, x] = sum_ij K[i, j] * image[y + i - ay, x + j - ax]`` (no kernel
    flip, as deep-learning libraries and ``cv2.filter2D`` define it; ``(ay, ax)`` is the anchor, by default
    ``(kh // 2, kw // 2)``), with samples outside the image given by `border`.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C); with ``stack=True`` (N, H, W) or (N, H, W, C)
        The image; every channel is filtered alone with the same kernel. uint8, uint16, int16, float32 and float64
        are read directly; int8, float16 and wider integers are converted losslessly first. Never modified.
    K : array_like, shape (kh, kw), or a bank: shape (n, kh, kw) or a sequence of n kernels of one shape
        The kernel: any size, odd or even, square or not, also larger than the image. Must be finite. A bank
        gives n results, stacked on a new last axis: ``result[..., i]`` is ``convolve(image, K[i])`` with the
        same options, bit for bit. Its result is stored kernel by kernel (``result[..., i]`` contiguous, the
        fastest layout to write; ``np.ascontiguousarray(result)`` interleaves it); an `out` of any layout is
        written as it is.
    border : {'replicate', 'reflect', 'reflect101', 'wrap', 'constant'}, optional
        How the image continues beyond its edges (see the README's border table). Default 'replicate', as in the
        tutorial.
    cval : float, optional
        The value outside the image for ``border='constant'``. Default 0.
    output : {None, 'floor', 'round', 'float', 'stretch'}, optional
        None (default) keeps the image's data: the result has the image's dtype, clipped and rounded down for
        integer images (for uint8 exactly the tutorial's ``rescale_intensity`` and ``astype('uint8')``), the raw
        sums for float images. 'floor' clips to the output range and rounds down; 'round' rounds half to even and
        saturates like ``cv2.filter2D``; 'float' returns the raw sum; 'stretch' maps the raw sum's minimum and
        maximum to the full range of the output dtype.
    dtype : numpy dtype, optional
        Output dtype. With `output` left out: the image's own (int8 images give int16, float16 float32, wider
        integers float64: the types they are read as), or the given one, floored into integer dtypes. 'floor' and
        'round' allow uint8 (their default), uint16 and int16; 'float' allows float32 (default for images up to
        32 bits) and float64 (default for float64 images); 'stretch' allows uint8 (default) and uint16. Integer
        outputs saturate: they never wrap.
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
        Most threads to use; None (default) uses the process's budget (`fastconv.get_threads`). Small images use
        fewer (each thread gets enough work to pay for waking it). Results do not depend on it.
    nan_policy : {'propagate', 'omit'}, optional
        'propagate' (default): NaN and inf spread through the kernel's non-zero taps. 'omit': normalized
        convolution: invalid samples (NaN, and those `mask` or a masked array marks) are skipped and each sum is
        renormalized by the kernel weight that fell on valid ones, ``sum(K) * sum(K * x * valid) /
        sum(K * valid)`` (the plain result where every sample is valid). Where no valid weight lies under the
        kernel the result is NaN (the lower limit in integer outputs). Needs a kernel whose taps do not sum to 0.
        The constant border's `cval` counts as valid, unless it is NaN.
    mask : array_like of bool, shape (H, W) or the image's, optional
        With ``nan_policy='omit'``: True marks an invalid sample (as in numpy.ma).
    preserve_nan : bool, optional
        With ``nan_policy='omit'``: the pixels that were invalid stay NaN (the lower limit in integer outputs).
    stack : bool, optional
        True: the first axis indexes frames (video, a time series, a batch of patches), each filtered exactly as
        its own call would filter it (``output='stretch'`` stretches each frame on its own), all in one call:
        threads work across frames when frames are small. A mask then has the stack's (N, H, W) or its whole
        shape. Default False: a 3-D image is H x W x C.

    Returns
    -------
    numpy.ndarray
        The image's shape (frames, height, width, channels), and for a bank of n kernels a last axis of n; `out`
        when given. In integer outputs NaN becomes 0 (the lower limit for int16).

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
    key = None
    if (type(image) is np.ndarray and type(K) is np.ndarray and out is None and mask is None and dtype is None
            and anchor is None and flip is False and accumulate is None and stack is False and preserve_nan is False
            and type(border) is str and border == "replicate" and type(cval) is float and cval == 0.0
            and type(nan_policy) is str and nan_policy == "propagate" and (output is None or type(output) is str)
            and (threads is None or type(threads) is int)):
        found = serve(image, K, ("convolve", output), threads)
        if type(found) is np.ndarray:
            return found
        key = found
    nan_policy = check_nan_policy(nan_policy)
    stack = check_flag(stack, "stack")
    if nan_policy == "omit":
        image, mask = split_masked(image, mask, stack)
    elif mask is not None or preserve_nan is not False:
        given = "an array" if mask is not None else None
        raise ValueError("mask and preserve_nan need nan_policy='omit' (skip the invalid samples); with "
                         f"nan_policy='propagate' they would be ignored; got mask={given}, "
                         f"preserve_nan={preserve_nan!r}")
    bank = check_bank(K)
    if bank is not None:
        return _convolve_bank(image, bank, out, border=border, cval=cval, output=output, dtype=dtype,
                              anchor=anchor, flip=flip, accumulate=accumulate, threads=threads,
                              nan_policy=nan_policy, mask=mask, preserve_nan=preserve_nan, stack=stack)
    call = resolve_options(image, K, border, cval, output, dtype, anchor, flip, accumulate, threads, stack)
    out = check_out(out, call.img.shape, call.out_dtype)
    if nan_policy == "omit":
        return _omit(call, check_mask(mask, call.img.shape, stack), check_flag(preserve_nan, "preserve_nan"), out)
    if call.output == "stretch":
        raw = filter_image(call.img, call.kernel, call.anchor, call.border, call.cval, call.raw_dtype, POLICY_RAW,
                           0.0, call.accumulate, call.threads, None, stack)
        if stack:       # each frame stretched on its own, as its own call would
            result = np.empty(raw.shape, call.out_dtype)
            for f in range(raw.shape[0]):
                result[f] = stretch(raw[f], call.out_dtype, noise=stretch_noise(call, finite_magnitude(call.img[f])))
        else:
            result = stretch(raw, call.out_dtype, noise=stretch_noise(call, finite_magnitude(call.img)))
        if out is None:
            return result
        out[...] = result
        return out
    return filter_image(call.img, call.kernel, call.anchor, call.border, call.cval, call.out_dtype, call.policy,
                        0.0, call.accumulate, call.threads, out, stack, fast_key=key if call.img is image else None)


def serve(image, K, options, threads):
    """A call with default options but `options` (its function's name and the options it was given, of the types
    the fast path takes) served from the prepared job of the same call checked before (fastconv._plan.fast_calls):
    the result; else the call's key there (None where such calls are not served). The key holds whatever the
    checks and the choice depend on: the options, `threads`, the kernel's format, shape and values, the image's
    format, shape and strides, the budget, the core variant, a forced path and the schedule's settings."""
    core = _dispatch._active
    return core.serve(_plan.fast_calls, image, K, options + (threads, _runtime.budget() if threads != 1 else 1, core,
                                                             _plan._forced, _schedule.settings()), np.empty)


def _omit(call, mask, preserve_nan, out):
    """nan_policy="omit" (fastconv._masked), frame by frame for a stack."""
    if call.stack:
        shared = out is not None and any(np.may_share_memory(out, a) for a in (call.img, mask) if a is not None)
        target = np.empty(call.img.shape, call.out_dtype) if out is None or shared else out
        for f in range(call.img.shape[0]):      # (a frame written must not be another's input)
            _omit(call._replace(img=call.img[f], stack=False), None if mask is None else mask[f], preserve_nan,
                  target[f])
        if target is not out and out is not None:
            out[...] = target
            return out
        return target
    result = _masked.omit(call, mask, preserve_nan, out)
    if call.output != "stretch":
        return result
    raw, magnitude = result
    result = stretch(raw, call.out_dtype, noise=stretch_noise(call, magnitude))
    if out is None:
        return result
    out[...] = result
    return out


def _convolve_bank(image, bank, out, **options):
    """Every kernel of `bank` (n, kh, kw) on the image, with the same options, into the last axis of one
    result."""
    if options["nan_policy"] == "omit":      # refuse a kernel omit cannot take before any is filtered
        for i, kernel in enumerate(bank):
            _masked.check_weight(kernel, f"K[{i}]")
    img = check_image(image, stack=options["stack"])
    first = resolve_options(img, bank[0], options["border"], options["cval"], options["output"], options["dtype"],
                            options["anchor"], options["flip"], options["accumulate"], options["threads"],
                            options["stack"])
    shape = img.shape + (len(bank),)
    out = check_out(out, shape, first.out_dtype)
    if out is not None and not np.may_share_memory(out, img):
        result = out
    else:       # kernel-major storage: each kernel's result contiguous, written at full speed
        result = np.moveaxis(np.empty((len(bank),) + img.shape, first.out_dtype), 0, -1)
    for i, kernel in enumerate(bank):
        convolve(img, kernel, out=result[..., i], **options)
    if out is not None and result is not out:
        out[...] = result
        return out
    return result


def finite_magnitude(img):
    """The largest finite sample magnitude of an image (0 if none)."""
    if img.dtype.kind in "iu":
        return float(np.abs(img.astype(np.float64, copy=False)).max(initial=0))
    return float(np.max(np.abs(img), where=np.isfinite(img), initial=0))


def stretch_noise(call, magnitude):
    """The rounding error of the raw sums behind ``output="stretch"`` for samples up to `magnitude`: a range
    within twice it is flat."""
    plan = _plan.plan(call.kernel, call.img.dtype, call.border, call.cval, call.raw_dtype, POLICY_RAW, 0.0,
                      call.accumulate)
    return plan.noise(max(magnitude, abs(call.cval) if np.isfinite(call.cval) else 0.0))


class Call(NamedTuple):
    """A call of `convolve`, its options checked and resolved."""
    img: np.ndarray
    kernel: np.ndarray      # float64, flipped if asked
    anchor: tuple
    border: str
    cval: float
    output: str
    out_dtype: np.dtype
    raw_dtype: np.dtype     # the sums' dtype behind "stretch"
    policy: int
    accumulate: object
    threads: int
    stack: bool = False     # the first axis indexes frames


def resolve_options(image, K, border, cval, output, dtype, anchor, flip, accumulate, threads, stack=False):
    img = check_image(image, stack=stack)
    kernel = check_kernel(K, banks=True)
    border = check_border(border)
    cval = check_real(cval, "cval")
    if border != "constant":
        cval = 0.0      # unused by other borders; NaN or inf would not convert for the integer paths
    keep = output is None
    output = check_output(output, img.dtype, dtype)
    anchor = check_anchor(anchor, kernel.shape)
    accumulate = check_accumulate(accumulate)
    if check_flip(flip):
        kernel = kernel[::-1, ::-1]
        anchor = (kernel.shape[0] - 1 - anchor[0], kernel.shape[1] - 1 - anchor[1])
    threads = check_threads(threads)
    out_dtype, raw_dtype, policy = output_plan(output, dtype, img.dtype, keep)
    return Call(img, kernel, anchor, border, cval, output, out_dtype, raw_dtype, policy, accumulate, threads, stack)
