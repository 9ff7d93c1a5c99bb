"""A bank of named kernels: the classic tutorial's seven, and the usual families (box, Gaussian, Sobel, Scharr).

Every function returns a new float64 array, so callers may modify what they get. Kernels are laid out for
correlation (what ``convolve`` and ``filter2D`` compute): ``sobel(1, 0)`` responds positively where intensity rises
to the right.

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

import numbers

__all__ = ["box", "gaussian", "sobel", "scharr", "small_blur", "large_blur", "sharpen", "laplacian", "sobel_x",
           "sobel_y", "emboss", "tutorial_bank", "get", "names"]


def _size(name, value, odd=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1 or (odd and value % 2 == 0):
        kind = "a positive odd int" if odd else "a positive int"
        raise ValueError(f"{name} must be {kind}; got {value!r}")
    return int(value)


def box(size, width=None):
    """Box (mean) filter: every tap ``1 / (size * width)``.

    Parameters
    ----------
    size : int
        Height in taps (and width when `width` is None).
    width : int, optional
        Width in taps, for a rectangular box.

    Returns
    -------
    numpy.ndarray
        ``(size, width)`` float64 kernel summing to 1.

    Examples
    --------
    >>> box(2, 3)
    array([[0.16666667, 0.16666667, 0.16666667],
           [0.16666667, 0.16666667, 0.16666667]])
    """
    h = _size("size", size)
    w = h if width is None else _size("width", width)
    return np.full((h, w), 1.0 / (h * w))


def _gaussian_1d(size, sigma):
    z = (np.arange(size) - (size - 1) / 2.0) / sigma
    with np.errstate(over="ignore"):    # a tiny sigma: every tap but the centre becomes exactly 0
        g = np.exp(-0.5 * (z * z))
    return g / g.sum()


def gaussian(size, sigma=None):
    """Gaussian blur: the outer product of two 1-D Gaussians, normalised to sum 1.

    Parameters
    ----------
    size : int
        Odd side length in taps.
    sigma : float, optional
        Standard deviation in pixels; default OpenCV's rule ``0.3 * ((size - 1) * 0.5 - 1) + 0.8``.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float64 kernel, equal to ``g @ g.T`` with ``g = cv2.getGaussianKernel(size, sigma)``.

    Examples
    --------
    >>> gaussian(3, 1.0).round(4)
    array([[0.0751, 0.1238, 0.0751],
           [0.1238, 0.2042, 0.1238],
           [0.0751, 0.1238, 0.0751]])
    """
    size = _size("size", size, odd=True)
    if sigma is None:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not (0 < sigma < np.inf):
        raise ValueError(f"sigma must be a positive finite number or None; got {sigma!r}")
    g = _gaussian_1d(size, float(sigma))
    return np.outer(g, g)


def _derivative_1d(order, size):
    """Binomial smoothing of ``size - 1 - order`` steps combined with ``order`` differences (OpenCV's Sobel)."""
    k = np.array([1.0])
    for _ in range(size - 1 - order):
        k = np.convolve(k, [1.0, 1.0])
    for _ in range(order):
        k = np.convolve(k, [-1.0, 1.0])
    return k


def sobel(dx, dy, size=3):
    """Sobel derivative kernel of orders `dx` (along x, columns) and `dy` (along y, rows).

    Parameters
    ----------
    dx, dy : int
        Derivative orders, ``dx + dy >= 1``, each below `size`.
    size : {1, 3, 5, 7}, optional
        Aperture. 1 means a 3-tap central difference without smoothing (as in OpenCV).

    Returns
    -------
    numpy.ndarray
        float64 kernel equal to ``ky @ kx.T`` with ``kx, ky = cv2.getDerivKernels(dx, dy, size)``.

    Examples
    --------
    >>> sobel(1, 0)
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    """
    for name, v in (("dx", dx), ("dy", dy)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"{name} must be a non-negative int; got {v!r}")
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size not in (1, 3, 5, 7):
        raise ValueError(f"size must be one of 1, 3, 5, 7; got {size!r}")
    if dx + dy < 1:
        raise ValueError(f"dx + dy must be at least 1; got dx={dx}, dy={dy}")

    def axis(order):
        if size == 1:
            if order > 2:
                raise ValueError(f"size=1 allows derivative orders up to 2; got {order}")
            return np.array([1.0]) if order == 0 else _derivative_1d(order, 3)
        if order >= size:
            raise ValueError(f"derivative orders must be below size={size}; got {order}")
        return _derivative_1d(order, size)

    return np.outer(axis(dy), axis(dx))


def scharr(dx, dy):
    """3x3 Scharr derivative (more rotation-invariant than Sobel): ``(dx, dy)`` is ``(1, 0)`` or ``(0, 1)``.

    Returns
    -------
    numpy.ndarray
        float64 kernel equal to OpenCV's (``cv2.getDerivKernels(dx, dy, cv2.FILTER_SCHARR)``).

    Examples
    --------
    >>> scharr(0, 1)
    array([[ -3., -10.,  -3.],
           [  0.,   0.,   0.],
           [  3.,  10.,   3.]])
    """
    if (dx, dy) not in ((1, 0), (0, 1)):
        raise ValueError(f"(dx, dy) must be (1, 0) or (0, 1) for scharr; got ({dx!r}, {dy!r})")
    deriv, smooth = np.array([-1.0, 0.0, 1.0]), np.array([3.0, 10.0, 3.0])
    return np.outer(smooth, deriv) if dx else np.outer(deriv, smooth)


def small_blur():
    """7x7 box blur: every tap 1/49 (the mean of the 7x7 neighbourhood).

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Examples
    --------
    >>> small_blur().shape, small_blur().sum().round(12)
    ((7, 7), np.float64(1.0))
    """
    return box(7)


def large_blur():
    """21x21 box blur: every tap 1/441.

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Examples
    --------
    >>> large_blur()[0, 0] == 1 / 441
    np.True_
    """
    return box(21)


def sharpen():
    """3x3 sharpen: 5 times the centre minus its four neighbours.

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Examples
    --------
    >>> sharpen().sum()
    np.float64(1.0)
    """
    return np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)


def laplacian():
    """3x3 Laplacian (4-neighbour): responds to edges and blobs; negative where the centre is brighter.

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Examples
    --------
    >>> laplacian()[1]
    array([ 1., -4.,  1.])
    """
    return np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)


def sobel_x():
    """3x3 Sobel x: positive where intensity rises to the right (vertical edges); ``sobel(1, 0)``.

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Examples
    --------
    >>> sobel_x()[1]
    array([-2.,  0.,  2.])
    """
    return np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)


def sobel_y():
    """3x3 Sobel y: positive where intensity rises downwards (horizontal edges); ``sobel(0, 1)``.

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Examples
    --------
    >>> sobel_y()[:, 1]
    array([-2.,  0.,  2.])
    """
    return np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)


def emboss():
    """3x3 emboss: a diagonal derivative plus the pixel itself, for a raised-relief look.

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Examples
    --------
    >>> emboss().diagonal()
    array([-2.,  1.,  2.])
    """
    return np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float64)


_TUTORIAL = (small_blur, large_blur, sharpen, laplacian, sobel_x, sobel_y, emboss)
_FAMILIES = {"box": box, "gaussian": gaussian, "sobel": sobel, "scharr": scharr}


def tutorial_bank():
    """The tutorial's seven kernels in its order.

    Returns
    -------
    dict of str to numpy.ndarray
        Name -> new float64 kernel: small_blur, large_blur, sharpen, laplacian, sobel_x, sobel_y, emboss.

    Examples
    --------
    >>> {name: k.shape for name, k in tutorial_bank().items()}["large_blur"]
    (21, 21)
    """
    return {f.__name__: f() for f in _TUTORIAL}


def names():
    """Every name `get` accepts: the fixed kernels, then the families with their parameters.

    Returns
    -------
    list of str

    Examples
    --------
    >>> names()[-1]
    'scharr:DX:DY'
    """
    return [f.__name__ for f in _TUTORIAL] + ["box:SIZE[:WIDTH]", "gaussian:SIZE[:SIGMA]", "sobel:DX:DY[:SIZE]",
                                              "scharr:DX:DY"]


def get(spec):
    """A kernel by name: a fixed one (``'sharpen'``) or a family with colon-separated parameters.

    Parameters
    ----------
    spec : str
        ``'small_blur'``, ``'large_blur'``, ``'sharpen'``, ``'laplacian'``, ``'sobel_x'``, ``'sobel_y'``,
        ``'emboss'``, ``'box:SIZE[:WIDTH]'``, ``'gaussian:SIZE[:SIGMA]'``, ``'sobel:DX:DY[:SIZE]'`` or
        ``'scharr:DX:DY'``.

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Examples
    --------
    >>> get("gaussian:5:1.5").shape
    (5, 5)
    >>> get("laplacian")
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a str; got {type(spec).__name__}")
    name, *params = spec.strip().split(":")
    fixed = {f.__name__: f for f in _TUTORIAL}
    if name in fixed and not params:
        return fixed[name]()
    if name not in _FAMILIES:
        raise ValueError(f"spec must name a kernel, one of {', '.join(names())}; got {spec!r}")
    try:
        values = [float(p) if (name == "gaussian" and i == 1) else int(p) for i, p in enumerate(params)]
    except ValueError as e:
        raise ValueError(f"spec parameters must be numbers, as in {', '.join(names()[-4:])}; got {spec!r}") from e
    try:
        return _FAMILIES[name](*values)
    except TypeError as e:
        raise ValueError(f"spec has the wrong number of parameters for {name!r}: {names()[-4:]}; "
                         f"got {spec!r}") from e
