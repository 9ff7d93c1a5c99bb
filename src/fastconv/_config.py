"""What this installation of fastconv runs on."""
import sys

import numpy as np

from fastconv import _dispatch, _plan, _runtime
from fastconv._version import __version__


def config():
    """The active SIMD variant, the ones available, threading and versions.

    Returns
    -------
    dict
        Keys ``fastconv``, ``simd_variant``, ``simd_variants_available``, ``threads`` (the budget that
        ``threads=None`` means: `fastconv.get_threads`), ``cores_available`` (CPU affinity within a container's
        CPU quota), ``paths``, ``python``, ``numpy``.

    Examples
    --------
    >>> import fastconv
    >>> fastconv.config()["simd_variant"] in fastconv.config()["simd_variants_available"]
    True
    """
    return {
        "fastconv": __version__,
        "simd_variant": _dispatch.active_variant(),
        "simd_variants_available": list(_dispatch.available_variants()),
        "threads": _runtime.budget(),
        "cores_available": _runtime.available_cores(),
        "paths": list(_plan.PATHS),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }


def show_config(file=None):
    """Print the active SIMD variant, threading and versions.

    Parameters
    ----------
    file : file-like, optional
        Where to print; default ``sys.stdout``.

    Raises
    ------
    TypeError
        If `file` has no ``write`` method.

    Examples
    --------
    >>> import fastconv
    >>> fastconv.show_config()  # doctest: +SKIP
    fastconv: 0.1.0
    simd_variant: avx512
    ...
    """
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"file must be None or a file-like object with a write method; got {type(file).__name__}")
    for key, value in config().items():
        print(f"{key}: {value}", file=file or sys.stdout)
