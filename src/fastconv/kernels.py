"""A bank of named kernels: the classic tutorial's seven, and the usual families (box, Gaussian, Sobel, Scharr).

Every function returns a new float64 array, so callers may modify what they get. Kernels are laid out for
correlation (what ``convolve`` and ``filter2D`` compute): ``sobel(1, 0)`` responds positively where intensity rises
to the right.

Limits: no kernel made here (by a function, `get` or `parse`) has more than 2**22 taps (4,194,304: 2048 x 2048, or
2047 x 2047 for the odd sizes of a Gaussian), and `parse` reads specs and text files of at most 16 MiB. Larger
requests are refused with a ``ValueError`` before a kernel of that size is allocated.

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
import math
import numbers

import numpy as np

__all__ = ["box", "emboss", "gaussian", "get", "laplacian", "large_blur", "names", "parse", "scharr", "sharpen",
           "small_blur", "sobel", "sobel_x", "sobel_y", "tutorial_bank"]

_MAX_TAPS = 2**22          # taps of any kernel made here: 32 MiB of float64
_MAX_SPEC = 16 * 2**20     # characters of an inline spec, bytes of a .txt/.csv file
_ODD_SIDE = 2047           # the largest odd side within _MAX_TAPS
_SHOWN = 45                # characters of a spec (or of a value) quoted in a message


def __dir__():
    """The public names only: ``dir(fastconv.kernels)`` lists kernels, not the modules this one imports."""
    return sorted(__all__)


def _shown(value):
    """`value` for an error message: its repr, cut short with '...' (a spec may be megabytes long)."""
    if isinstance(value, str) and len(value) > _SHOWN:
        return f"{value[:_SHOWN]!r}... ({len(value)} characters)"
    try:
        text = repr(value)
    except ValueError:       # an int with more digits than Python turns into text
        return f"an int of about {int(value.bit_length() * math.log10(2))} digits"
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _size(name, value, odd=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1 or (odd and value % 2 == 0):
        kind = "a positive odd int" if odd else "a positive int"
        raise ValueError(f"{name} must be {kind}; got {_shown(value)}")
    return int(value)


def _check_side(size, largest):
    """Refuse a square kernel whose side `size` is above `largest` (the side that keeps within the tap limit)."""
    if size > largest:
        raise ValueError(f"size must be at most {largest} (a kernel has at most 2**22 = {_MAX_TAPS} taps); got "
                         f"{_shown(size)}")


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

    Raises
    ------
    ValueError
        If a size is not a positive int, or the box would have more than 2**22 taps (``size * width``; a square box
        is at most 2048 x 2048).

    Examples
    --------
    >>> box(2, 3)
    array([[0.16666667, 0.16666667, 0.16666667],
           [0.16666667, 0.16666667, 0.16666667]])
    """
    h = _size("size", size)
    w = h if width is None else _size("width", width)
    if width is None:
        _check_side(h, math.isqrt(_MAX_TAPS))
    elif h * w > _MAX_TAPS:
        raise ValueError(f"size * width must be at most 2**22 = {_MAX_TAPS} taps; got {_shown(h)} x {_shown(w)}")
    return np.full((h, w), 1.0 / (h * w))


def _gaussian_1d(size, sigma):
    with np.errstate(over="ignore"):    # a tiny sigma: every tap but the centre becomes exactly 0
        z = (np.arange(size) - (size - 1) / 2.0) / sigma
        g = np.exp(-0.5 * (z * z))
    return g / g.sum()


def gaussian(size, sigma=None):
    """Gaussian blur: the outer product of two 1-D Gaussians, normalised to sum 1.

    Parameters
    ----------
    size : int
        Odd side length in taps, at most 2047 (2**22 taps).
    sigma : float, optional
        Standard deviation in pixels; default OpenCV's rule ``0.3 * ((size - 1) * 0.5 - 1) + 0.8``. Any positive
        float64 works, as in OpenCV: a sigma so small that every weight but the centre's underflows to 0 (below
        about 0.026) gives the centre tap alone, the smallest subnormal (5e-324) included; one so large that every
        weight rounds to the centre's (from about 1e8 on) gives the uniform kernel, the largest float64 included.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float64 kernel, equal to ``g @ g.T`` with ``g = cv2.getGaussianKernel(size, sigma)``.

    Raises
    ------
    ValueError
        If `size` is not a positive odd int or is above 2047, or `sigma` is not a positive number that a float64
        holds (NaN, inf and numbers beyond 1.8e308, such as ``10**400``, are refused).

    Examples
    --------
    >>> gaussian(3, 1.0).round(4)
    array([[0.0751, 0.1238, 0.0751],
           [0.1238, 0.2042, 0.1238],
           [0.0751, 0.1238, 0.0751]])
    """
    size = _size("size", size, odd=True)
    _check_side(size, _ODD_SIDE)
    if sigma is None:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    s = _float(sigma) if isinstance(sigma, numbers.Real) and not isinstance(sigma, bool) else math.nan
    if not 0 < s < math.inf:
        raise ValueError(f"sigma must be a positive finite number (a float64: at most 1.8e308) or None; got "
                         f"{_shown(sigma)}")
    g = _gaussian_1d(size, s)
    return np.outer(g, g)


def _float(value):
    """`value` as a float; inf for a finite number beyond float64's range (10**400), which float() refuses."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


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
    """The kernel bank's names: every name `get` (and `parse`) accepts.

    Returns
    -------
    list of str
        The seven fixed kernels in the tutorial's order (``'small_blur'`` ... ``'emboss'``), then the four
        families with their parameters (``'box:SIZE[:WIDTH]'``, ``'gaussian:SIZE[:SIGMA]'``,
        ``'sobel:DX:DY[:SIZE]'``, ``'scharr:DX:DY'``).

    Examples
    --------
    >>> names()[:3]
    ['small_blur', 'large_blur', 'sharpen']
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
        ``'scharr:DX:DY'`` (`names` lists them).

    Returns
    -------
    numpy.ndarray
        A new float64 kernel.

    Raises
    ------
    TypeError
        If `spec` is not a str.
    ValueError
        If `spec` names no kernel (the message suggests the closest name, if one is close), its parameters are not
        numbers or not as many as the family takes, or the family refuses them (e.g. a kernel of more than 2**22
        taps). Messages quote at most the first 45 characters of `spec`.

    Examples
    --------
    >>> get("gaussian:5:1.5").shape
    (5, 5)
    >>> get("laplacian")
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    >>> get("gausian:5")
    Traceback (most recent call last):
    ...
    ValueError: spec must name a kernel, one of ...; got 'gausian:5': did you mean 'gaussian:5'?
    """
    from fastconv import _specs

    return _specs.get(spec)


def parse(spec):
    """A kernel from a text spec, as the command line takes it: a name, a file, or inline rows.

    Parameters
    ----------
    spec : str or os.PathLike
        One of

        - a name `get` accepts: ``'sharpen'``, ``'gaussian:7:1.5'``, ...;
        - a ``.npy`` file holding a 2-D real array, or a ``.txt`` / ``.csv`` file with one kernel row per line,
          values separated by commas or whitespace (blank lines and lines starting with ``#`` are skipped);
        - inline rows: values separated by commas (or spaces), rows by semicolons, e.g. ``'0,-1,0;-1,5,-1;0,-1,0'``.

        At most 16 MiB: inline specs of up to 2**24 characters, text files of up to 2**24 bytes. Any kernel, from
        a name, a file or rows, has at most 2**22 taps.

    Returns
    -------
    numpy.ndarray
        A new 2-D float64 kernel.

    Raises
    ------
    TypeError
        If `spec` is not a str or path.
    ValueError
        If `spec` is empty or too long, names no kernel (with the closest name, if one is close), names a missing,
        unreadable or too large file, holds more than 2**22 values, or its rows are ragged, empty, not numbers or
        not finite. The message says which row and value, and quotes at most the first 45 characters of a spec.

    Examples
    --------
    >>> parse("1,2,1")
    array([[1., 2., 1.]])
    >>> parse("0 -1 0; -1 5 -1; 0 -1 0")[1]
    array([-1.,  5., -1.])
    >>> parse("box:1:2")
    array([[0.5, 0.5]])
    >>> parse("1,2;3")
    Traceback (most recent call last):
    ...
    ValueError: spec '1,2;3': rows must all have the same number of values (ragged rows): row 1 has 2, row 2 has 1
    """
    from fastconv import _specs     # reading files and rows: its own module, which uses this one's names

    return _specs.parse(spec)
