"""Border policy: how samples outside the image are defined, as index maps for the core.

A padded axis of length ``n + k - 1`` (image length ``n``, kernel length ``k``, anchor ``a``) maps padded position
``p`` to source index ``border(p - a)``, or to -1 where the constant value applies. The rules repeat for any
distance from the image (a reflection of a reflection), as scipy.ndimage does, so kernels may exceed the image.
"""
import numpy as np

from fastconv._cache import ByteCache

#: fastconv name -> (OpenCV constant name, scipy.ndimage mode)
BORDERS = {
    "replicate": ("BORDER_REPLICATE", "nearest"),
    "reflect": ("BORDER_REFLECT", "reflect"),
    "reflect101": ("BORDER_REFLECT_101", "mirror"),
    "wrap": ("BORDER_WRAP", "wrap"),
    "constant": ("BORDER_CONSTANT", "constant"),
}


def check_border(border):
    if not isinstance(border, str) or border not in BORDERS:
        allowed = ", ".join(repr(b) for b in BORDERS)
        raise ValueError(f"border must be one of {allowed}; got {border!r}")
    return border


#: Bytes of index maps kept for reuse (a map has 8 bytes per padded position).
INDEX_CACHE_BYTES = 16 * 2**20

_maps = ByteCache(INDEX_CACHE_BYTES)


def source_indices(border, n, k, anchor):
    """Source index (or -1 for the constant) of each of the ``n + k - 1`` padded positions along one axis.

    Cached (within INDEX_CACHE_BYTES); the arrays returned are read-only.
    """
    key = (border, n, k, anchor)
    index = _maps.get(key)
    if index is None:
        index = _source_indices(border, n, k, anchor)
        index.flags.writeable = False
        _maps.put(key, index, index.nbytes)
    return index


def _source_indices(border, n, k, anchor):
    i = np.arange(n + k - 1, dtype=np.int64) - anchor
    if border == "replicate":
        return np.clip(i, 0, n - 1)
    if border == "constant":
        return np.where((i >= 0) & (i < n), i, -1)
    if border == "wrap":
        return np.mod(i, n)
    if border == "reflect":        # ... b a | a b c d | d c ...   period 2n
        i = np.mod(i, 2 * n)
        return np.where(i < n, i, 2 * n - 1 - i)
    # reflect101:                   ... c b | a b c d | c b ...   period 2n - 2
    if n == 1:
        return np.zeros_like(i)
    i = np.mod(i, 2 * n - 2)
    return np.where(i < n, i, 2 * n - 2 - i)
