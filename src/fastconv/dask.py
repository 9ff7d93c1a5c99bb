"""Lazy filtering of dask arrays, identical to the in-memory functions: images larger than memory, on a cluster.

(Identical on every path but the FFT path of large dense kernels, whose rounding depends on where its tiles fall:
there a block agrees with the whole image within the path's error bound.)

Each block is filtered by the in-memory function itself (one thread per block by default: dask runs the blocks in
parallel) with a halo of neighbouring pixels, shared by ``dask.array.map_overlap``. The border is not dask's: the
blocks at the image's edge get no halo on that side and apply the border themselves, which gives the in-memory
call's values because every chunk is merged to at least the kernel's reach (an axis shorter than that is one chunk,
filtered whole, reflections of reflections included). Only wrap needs pixels from the opposite edge: those rows
and columns are gathered lazily with fastconv's own index maps. Blocks may start on any row or column: the
compiled core sums every pixel's taps in the same order wherever it lies.

Needs dask: ``pip install "fastconv[dask]"``.
"""
import math

import numpy as np

try:
    import dask.array as da
except ImportError as e:  # pragma: no cover - exercised in a subprocess without dask
    raise ImportError('fastconv.dask needs dask; install it with: pip install "fastconv[dask]"') from e

import fastconv
from fastconv import _api, _masked
from fastconv._checks import check_anchor, check_bank, check_flag, check_kernel
from fastconv._border import source_indices
from fastconv._opencv import check_border_type, check_cv_anchor
from fastconv._output import stretch_range

__all__ = ["convolve", "filter2D"]


def convolve(image, K, *, border="replicate", cval=0.0, output=None, dtype=None, anchor=None, flip=False,
             accumulate=None, out=None, threads=None, stack=False, nan_policy="propagate", mask=None,
             preserve_nan=False):
    """Lazily filter a dask array exactly as ``fastconv.convolve`` filters the whole image in memory.

    Parameters
    ----------
    image : dask.array.Array or array_like, shape (H, W), (H, W, C), or with ``stack=True`` (N, H, W) or
        (N, H, W, C)
        The image (or stack of frames); any chunking. Other array-likes are wrapped with ``dask.array.asarray``.
    K, border, cval, output, dtype, anchor, flip, accumulate, nan_policy, preserve_nan
        As in ``fastconv.convolve``; a bank of n kernels gives a last axis of n (one chunk), each kernel's
        result a lazy filtering of its own (the image is read once per kernel). ``output='stretch'`` maps the
        minimum and maximum over the whole image (over each frame with ``stack=True``) to the dtype's range, as
        the in-memory call does; it filters the image twice: once to find them, once for the result.
    mask : dask.array.Array or array_like of bool, optional
        With ``nan_policy='omit'``: True marks an invalid sample. The image's shape, or without its channel axis;
        with ``stack=True`` also one frame's, for every frame.
    out : None
        Not supported: the result is a lazy dask array (write it out with ``dask.array.store`` or ``to_zarr``).
    threads : int or None, optional
        Threads per block. None (default) uses one: dask already runs blocks in parallel.
    stack : bool, optional
        True when the first axis indexes frames that are filtered one by one (each exactly as the in-memory call
        on that frame). Default False: a 3-D image is H x W x C, as for ``fastconv.convolve``.

    Returns
    -------
    dask.array.Array
        Lazy result with the image's shape and chunks (and a bank's axis), equal to the in-memory call.

    Raises
    ------
    TypeError
        As ``fastconv.convolve``, and if `out` is given.
    ValueError
        As ``fastconv.convolve``, and if the image's chunk sizes are unknown or its shape does not fit `stack`.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import fastconv
    >>> import fastconv.dask
    >>> image = np.random.default_rng(0).integers(0, 256, (600, 500), dtype=np.uint8)
    >>> lazy = fastconv.dask.convolve(da.from_array(image, chunks=128), np.ones((5, 5)) / 25, border="wrap")
    >>> lazy.chunks == ((128, 128, 128, 128, 88), (128, 128, 128, 116))
    True
    >>> np.array_equal(lazy.compute(), fastconv.convolve(image, np.ones((5, 5)) / 25, border="wrap"))
    True
    """
    _reject_out(out, "out")
    stack = check_flag(stack, "stack")
    bank = check_bank(K)
    if bank is not None:
        return da.stack([convolve(image, k, border=border, cval=cval, output=output, dtype=dtype, anchor=anchor,
                                  flip=flip, accumulate=accumulate, threads=threads, stack=stack,
                                  nan_policy=nan_policy, mask=mask, preserve_nan=preserve_nan) for k in bank],
                        axis=-1)
    x = _as_dask(image)
    threads = 1 if threads is None else threads
    options = {"border": border, "cval": cval, "dtype": dtype, "anchor": anchor, "flip": flip,
               "accumulate": accumulate, "threads": threads, "nan_policy": nan_policy, "preserve_nan": preserve_nan}
    probe = _probe(x, stack)
    probe_mask = None if mask is None else np.zeros(probe.shape[:2], bool)
    out_dtype = fastconv.convolve(probe, K, output=output, mask=probe_mask, **options).dtype  # checks every argument
    if mask is not None:
        # masked samples become NaN in the type the omit passes filter in, as the in-memory call treats them
        call = _api.resolve_options(probe, K, border, cval, output, dtype, anchor, flip, accumulate, threads)
        x = da.where(_mask_like(mask, x, stack), np.nan, x.astype(_masked.work_dtype(call)))
        output, options["dtype"] = call.output, call.out_dtype
        probe = _probe(x, stack)
    kernel = check_kernel(K)
    if x.size == 0:
        return da.zeros(x.shape, dtype=out_dtype, chunks=x.chunks)
    ay, ax = check_anchor(anchor, kernel.shape)
    if flip:
        ay, ax = kernel.shape[0] - 1 - ay, kernel.shape[1] - 1 - ax
    geometry = _Geometry(kernel.shape, (ay, ax), border, stack)
    if output != "stretch":
        return _filtered(x, geometry, fastconv.convolve, (kernel,), {"output": output, **options}, out_dtype)
    raw_options = {**options, "dtype": None, "output": "float"}
    raw_dtype = fastconv.convolve(probe, kernel, **raw_options).dtype
    # Two separately named graphs, so the scheduler need not keep every raw block until the range is known.
    ranges = _filtered(x, geometry, fastconv.convolve, (kernel,), raw_options, raw_dtype,
                       token="fastconv-range-pass")
    raw = _filtered(x, geometry, fastconv.convolve, (kernel,), raw_options, raw_dtype)
    axes = tuple(range(1, x.ndim)) if stack else None
    lo = da.where(da.isfinite(ranges), ranges, np.inf).min(axis=axes, keepdims=True)
    hi = da.where(da.isfinite(ranges), ranges, -np.inf).max(axis=axes, keepdims=True)
    # the sums' rounding noise, from the largest finite sample (of each frame): a range within it is flat
    magnitude = da.where(da.isfinite(x), abs(x), 0).max(axis=axes, keepdims=True).astype(np.float64)
    call = _api.resolve_options(probe, K, border, cval, "stretch", options["dtype"], anchor, flip, accumulate,
                                threads)
    noise = magnitude.map_blocks(_noise, call, dtype=np.float64)
    return da.map_blocks(_stretch_frames if stack else _stretch_block, raw, lo, hi, noise, out_dtype,
                         dtype=out_dtype)


def filter2D(src, ddepth, kernel, dst=None, anchor=(-1, -1), delta=0, borderType=fastconv.BORDER_REFLECT_101, *,
             threads=None, stack=False):
    """Lazily filter a dask array exactly as ``fastconv.filter2D`` (and so ``cv2.filter2D``) filters it in memory.

    Parameters
    ----------
    src : dask.array.Array or array_like, shape (H, W), (H, W, C), or with ``stack=True`` (N, H, W) or
        (N, H, W, C)
        uint8, uint16, int16, float32 or float64 image (or stack of frames); any chunking.
    ddepth, kernel, anchor, delta, borderType
        As in ``fastconv.filter2D``.
    dst : None
        Not supported: the result is a lazy dask array.
    threads : int or None, optional
        Threads per block (keyword only). None (default) uses one: dask already runs blocks in parallel.
    stack : bool, optional
        True when the first axis indexes frames filtered one by one. Default False (3-D is H x W x C).

    Returns
    -------
    dask.array.Array
        Lazy result with the image's shape and chunks, equal to ``fastconv.filter2D`` on the whole image (frame by
        frame with ``stack=True``).

    Raises
    ------
    TypeError
        As ``fastconv.filter2D``, and if `dst` is given.
    ValueError
        As ``fastconv.filter2D``, and if the image's chunk sizes are unknown or its shape does not fit `stack`.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import fastconv
    >>> import fastconv.dask
    >>> frames = np.random.default_rng(0).integers(0, 256, (3, 64, 80), dtype=np.uint8)
    >>> lazy = fastconv.dask.filter2D(da.from_array(frames, chunks=(1, 16, 16)), fastconv.CV_16S,
    ...                               fastconv.kernels.sobel(1, 0), stack=True)
    >>> lazy.dtype
    dtype('int16')
    >>> all(np.array_equal(lazy[i].compute(), fastconv.filter2D(frames[i], fastconv.CV_16S,
    ...                                                         fastconv.kernels.sobel(1, 0))) for i in range(3))
    True
    """
    _reject_out(dst, "dst")
    stack = check_flag(stack, "stack")
    x = _as_dask(src, name="src")
    threads = 1 if threads is None else threads
    probe = _probe(x, stack, name="src")
    out_dtype = fastconv.filter2D(probe, ddepth, kernel, None, anchor, delta, borderType, threads=threads).dtype
    if x.size == 0:
        return da.zeros(x.shape, dtype=out_dtype, chunks=x.chunks)
    k = check_kernel(kernel, name="kernel")
    geometry = _Geometry(k.shape, check_cv_anchor(anchor, k.shape), check_border_type(borderType), stack)
    return _filtered(x, geometry, fastconv.filter2D, (ddepth, k, None, anchor, delta, borderType),
                     {"threads": threads}, out_dtype)


def _reject_out(out, name):
    if out is not None:
        raise TypeError(f"{name} must be None for a dask array: the result is lazy; write it out with "
                        f"dask.array.store or to_zarr instead")


def _as_dask(image, name="image"):
    x = image if isinstance(image, da.Array) else da.asarray(image)
    if any(math.isnan(c) for chunks in x.chunks for c in chunks):
        raise ValueError(f"{name} must have known chunk sizes; call {name}.compute_chunk_sizes() first")
    return x


def _mask_like(mask, x, stack):
    """`mask` as a dask array of bool broadcast to `x`'s shape and chunks (it may lack the channel axis, and with
    `stack` the frame axis)."""
    m = _as_dask(mask)
    if m.dtype.kind not in "biu":
        raise TypeError(f"mask must be None or an array of bool (True marks an invalid sample); got dtype {m.dtype}")
    frame = x.shape[1:] if stack else x.shape
    allowed = {x.shape, frame, frame[:2], x.shape[:3] if stack else x.shape[:2]}
    if m.shape not in allowed:
        raise ValueError(f"mask must have the image's shape {x.shape}, or that without its channel (or, with "
                         f"stack=True, frame) axis; got {m.shape}")
    channels = x.ndim == (4 if stack else 3)
    if channels and m.shape == x.shape[:-1]:
        m = m[..., None]                # without the channel axis (as the in-memory call reads it)
    elif m.shape != x.shape:            # one frame's, for every frame
        m = (m[..., None] if channels and m.ndim == 2 else m)[None]
    return da.broadcast_to(m != 0, x.shape).rechunk(x.chunks)


def _probe(x, stack, name="image"):
    """A one-pixel image (or frame) of the image's dtype and channels: the in-memory call on it checks every
    argument and gives the result's dtype."""
    if stack and x.ndim not in (3, 4):
        raise ValueError(f"{name} must be 3-D (N, H, W) or 4-D (N, H, W, C) with stack=True; got {x.ndim}-D with "
                         f"shape {x.shape}")
    if not stack and x.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D (H, W) or 3-D (H, W, C), or a stack of those with stack=True; got "
                         f"{x.ndim}-D with shape {x.shape}")
    frame = x.shape[1:] if stack else x.shape
    return np.zeros((1, 1) + frame[2:], dtype=x.dtype)


class _Geometry:
    """Where the image plane lies in the array, how far the kernel reaches, and how the border extends it."""

    def __init__(self, kshape, anchor, border, stack):
        self.axes = (1, 2) if stack else (0, 1)
        self.stack = stack
        self.border = border
        kh, kw = kshape
        (ay, ax) = anchor
        self.reach = ((ay, kh - 1 - ay), (ax, kw - 1 - ax))
        self.depth = (max(self.reach[0]), max(self.reach[1]))

    def pad(self, axis):
        """(before, after) rows or columns gathered beyond the image: only wrap reads another block's pixels."""
        return self.reach[axis] if self.border == "wrap" else (0, 0)


def _filtered(x, geometry, function, args, kwargs, out_dtype, token="fastconv"):
    """The in-memory `function(block, *args, **kwargs)` over the blocks of `x` with their halos, trimmed."""
    padded, depth = x, {}
    for i, axis in enumerate(geometry.axes):
        chunks = _chunks(x.chunks[axis], geometry.depth[i])
        padded = _pad(padded.rechunk({axis: chunks}), axis, geometry.border, geometry.pad(i))
        depth[axis] = geometry.depth[i] if len(padded.chunks[axis]) > 1 else 0
    block = _frames if geometry.stack and function is not fastconv.convolve else _block
    if geometry.stack and function is fastconv.convolve:
        kwargs = {**kwargs, "stack": True}      # all of a block's frames in one call
    meta = np.empty((0,) * x.ndim, dtype=out_dtype)
    result = da.map_overlap(block, padded, depth=depth, boundary="none", allow_rechunk=False, dtype=out_dtype,
                            meta=meta, token=token, function=function, args=args, kwargs=kwargs)
    inner = [slice(None)] * x.ndim
    for i, axis in enumerate(geometry.axes):
        before = geometry.pad(i)[0]
        inner[axis] = slice(before, before + x.shape[axis])
    return result[tuple(inner)].rechunk(x.chunks)


def _chunks(sizes, depth):
    """`sizes` merged so that every chunk holds at least `depth` elements (as map_overlap needs)."""
    merged, current = [], 0
    for size in sizes:
        current += size
        if current >= max(depth, 1):
            merged.append(current)
            current = 0
    if current:
        if merged and current < depth:
            merged[-1] += current
        else:
            merged.append(current)
    return tuple(merged)


def _pad(x, axis, border, widths):
    """`x` extended along `axis` by `widths` (before, after) entries gathered by the border's index map, the
    gathered strips merged into the first and last chunks."""
    before, after = widths
    if not before and not after:
        return x
    n = x.shape[axis]
    index = source_indices(border, n, before + after + 1, before)
    pieces = [da.take(x, index[:before], axis=axis)] if before else []
    pieces.append(x)
    if after:
        pieces.append(da.take(x, index[before + n:], axis=axis))
    chunks = list(x.chunks[axis])
    chunks[0] += before
    chunks[-1] += after
    return da.concatenate(pieces, axis=axis).rechunk({axis: tuple(chunks)})


def _block(block, function, args, kwargs):
    return function(block, *args, **kwargs)


def _frames(block, function, args, kwargs):
    return np.stack([function(frame, *args, **kwargs) for frame in block])


def _noise(magnitude, call):
    return np.vectorize(lambda m: _api.stretch_noise(call, float(m)), otypes=[np.float64])(magnitude)


def _stretch_block(raw, lo, hi, noise, dtype):
    return stretch_range(raw, lo.item(), hi.item(), dtype, noise.item())


def _stretch_frames(raw, lo, hi, noise, dtype):
    return np.stack([stretch_range(r, low.item(), high.item(), dtype, n.item())
                     for r, low, high, n in zip(raw, lo, hi, noise)])
