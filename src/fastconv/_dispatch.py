"""Runtime choice of the compiled core: the fastest SIMD variant this CPU can run.

Every variant is the same source compiled with different instruction-set flags. The environment variable
``FASTCONV_SIMD`` (``baseline``, ``avx2`` or ``avx512``) forces one, e.g. to test the portable build.
"""
import importlib
import os
from contextlib import contextmanager

#: Variants from the most to the least capable.
VARIANTS = ("avx512", "avx2", "baseline")

_baseline = importlib.import_module("fastconv._core_baseline")
_SUPPORTED = {
    "baseline": lambda: True,
    "avx2": _baseline.cpu_has_avx2,
    "avx512": _baseline.cpu_has_avx512,
}


def _load(name):
    try:
        return importlib.import_module(f"fastconv._core_{name}")
    except ImportError:
        return None


def available_variants():
    """The variants that are both built into this installation and supported by this CPU, best first."""
    return tuple(v for v in VARIANTS if _SUPPORTED[v]() and _load(v) is not None)


def _initial_variant():
    forced = os.environ.get("FASTCONV_SIMD", "").strip().lower()
    usable = available_variants()
    if not forced:
        return usable[0]
    if forced not in usable:
        raise ImportError(
            f"FASTCONV_SIMD must be one of {', '.join(repr(v) for v in usable)} on this machine; got {forced!r}"
        )
    return forced


_active = _load(_initial_variant())


def core():
    """The active compiled module."""
    return _active


def active_variant():
    """Name of the active SIMD variant."""
    return _active.VARIANT


@contextmanager
def use_variant(name):
    """Temporarily run the core on variant `name` (not thread-safe; meant for tests and benchmarks)."""
    global _active
    if name not in available_variants():
        raise ValueError(f"variant must be one of {available_variants()}; got {name!r}")
    previous, _active = _active, _load(name)
    try:
        yield
    finally:
        _active = previous
