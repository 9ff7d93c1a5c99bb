"""Runtime choice of the compiled core: the fastest SIMD variant this CPU can run.

Every variant is the same source compiled with different instruction-set flags. The environment variable
``FASTCONV_SIMD`` (``baseline``, ``avx2`` or ``avx512``) forces one, e.g. to test the portable build.
The choice itself is `choose_variant`, a pure function of the CPU's abilities, the variants built and the
environment variable, so it can be tested for CPUs other than the one running the tests.
"""
import importlib
import importlib.util
import os
from contextlib import contextmanager

#: Variants from the most to the least capable.
VARIANTS = ("avx512", "avx2", "baseline")

_baseline = importlib.import_module("fastconv._core_baseline")


def _load(name):
    try:
        return importlib.import_module(f"fastconv._core_{name}")
    except ImportError:
        return None


def cpu_supports():
    """Whether this CPU (and OS) can run each variant: ``{variant: bool}``."""
    return {"avx512": _baseline.cpu_has_avx512(), "avx2": _baseline.cpu_has_avx2(), "baseline": True}


def built_variants():
    """The variants compiled into this installation (found without importing them: an unsupported one could crash)."""
    return frozenset(v for v in VARIANTS if importlib.util.find_spec(f"fastconv._core_{v}") is not None)


def usable_variants(supported, built):
    """The variants both in `built` and marked True in `supported`, best first."""
    return tuple(v for v in VARIANTS if v in built and supported.get(v, False))


def choose_variant(supported, built, forced=""):
    """The variant to run: `forced` when set, otherwise the most capable usable one.

    Parameters
    ----------
    supported : mapping of str to bool
        Whether the CPU can run each variant, as `cpu_supports` returns.
    built : collection of str
        The variants compiled into the installation, as `built_variants` returns.
    forced : str, optional
        The value of ``FASTCONV_SIMD``; empty (the default) for the automatic choice.

    Returns
    -------
    str
        A name from `VARIANTS`.

    Raises
    ------
    ImportError
        If `forced` names a variant that is not usable here (unknown, not built, or beyond this CPU).
    """
    usable = usable_variants(supported, built)
    forced = forced.strip().lower()
    if not forced:
        return usable[0]
    if forced not in usable:
        raise ImportError(
            f"FASTCONV_SIMD must be one of {', '.join(repr(v) for v in usable)} on this machine; got {forced!r}"
        )
    return forced


def available_variants():
    """The variants that are both built into this installation and supported by this CPU, best first."""
    return usable_variants(cpu_supports(), built_variants())


_active = _load(choose_variant(cpu_supports(), built_variants(), os.environ.get("FASTCONV_SIMD", "")))


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
