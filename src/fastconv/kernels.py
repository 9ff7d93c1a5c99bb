"""A bank of named kernels: the seven from the classic convolution tutorial.

Each function returns a new float64 array, so callers may modify what they get.

Examples
--------
>>> from fastconv import kernels
>>> kernels.sharpen()
array([[ 0., -1.,  0.],
       [-1.,  5., -1.],
       [ 0., -1.,  0.]])
>>> list(kernels.tutorial_bank())
['small_blur', 'large_blur', 'sharpen', 'laplacian', 'sobel_x', 'sobel_y', 'emboss']
"""
import numpy as np

__all__ = ["small_blur", "large_blur", "sharpen", "laplacian", "sobel_x", "sobel_y", "emboss", "tutorial_bank"]


def _box(size):
    return np.full((size, size), 1.0 / (size * size))


def small_blur():
    """7x7 box blur: every tap 1/49 (the mean of the 7x7 neighbourhood)."""
    return _box(7)


def large_blur():
    """21x21 box blur: every tap 1/441."""
    return _box(21)


def sharpen():
    """3x3 sharpen: 5 times the centre minus its four neighbours."""
    return np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)


def laplacian():
    """3x3 Laplacian (4-neighbour): responds to edges and blobs; negative where the centre is brighter."""
    return np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)


def sobel_x():
    """3x3 Sobel x: positive where intensity rises to the right (vertical edges)."""
    return np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)


def sobel_y():
    """3x3 Sobel y: positive where intensity rises downwards (horizontal edges)."""
    return np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)


def emboss():
    """3x3 emboss: a diagonal derivative plus the pixel itself, for a raised-relief look."""
    return np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float64)


def tutorial_bank():
    """The tutorial's seven kernels in its order, as a dict name -> new float64 array."""
    return {f.__name__: f() for f in (small_blur, large_blur, sharpen, laplacian, sobel_x, sobel_y, emboss)}
