"""Which compiled variant runs: a pure function of the CPU, the variants built and FASTCONV_SIMD, then the real one."""
import os
import platform
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import cv2
import numpy as np
import pytest

import fastconv
from fastconv import _dispatch

ALL = frozenset(_dispatch.VARIANTS)
NO_AVX2 = {"avx512": False, "avx2": False, "baseline": True}     # e.g. a pre-2013 x86-64 CPU, or an Atom
AVX2_ONLY = {"avx512": False, "avx2": True, "baseline": True}
EVERYTHING = {"avx512": True, "avx2": True, "baseline": True}
X86_64 = platform.machine().lower() in ("x86_64", "amd64")


@pytest.mark.parametrize("cpu, built, expected", [
    (NO_AVX2, ALL, "baseline"),
    (AVX2_ONLY, ALL, "avx2"),
    (EVERYTHING, ALL, "avx512"),
    (EVERYTHING, {"baseline", "avx2"}, "avx2"),
    (EVERYTHING, {"baseline"}, "baseline"),          # builds without the AVX variants (aarch64, macOS, Windows)
    ({"baseline": True}, ALL, "baseline"),           # a CPU flag that is not reported counts as missing
], ids=["no-avx2", "avx2", "avx512", "avx512-not-built", "baseline-only-build", "unknown-flags"])
def test_best_usable_variant_is_chosen(cpu, built, expected):
    assert _dispatch.choose_variant(cpu, built) == expected
    assert _dispatch.choose_variant(cpu, built, "  ") == expected


@pytest.mark.parametrize("forced", ["baseline", "BASELINE", " baseline\n"])
def test_portable_variant_can_be_forced_on_any_cpu(forced):
    assert _dispatch.choose_variant(EVERYTHING, ALL, forced) == "baseline"
    assert _dispatch.choose_variant(NO_AVX2, ALL, forced) == "baseline"


@pytest.mark.parametrize("cpu, built, forced", [
    (NO_AVX2, ALL, "avx2"),
    (AVX2_ONLY, ALL, "avx512"),
    (EVERYTHING, {"baseline"}, "avx2"),
    (EVERYTHING, ALL, "sse9"),
])
def test_forcing_a_variant_that_cannot_run_is_refused(cpu, built, forced):
    usable = ", ".join(repr(v) for v in _dispatch.usable_variants(cpu, built))
    with pytest.raises(ImportError, match=f"FASTCONV_SIMD must be one of {usable} on this machine; got '{forced}'"):
        _dispatch.choose_variant(cpu, built, forced)


def test_built_variants_are_the_compiled_modules_present():
    package = Path(fastconv.__file__).parent
    present = {v for v in _dispatch.VARIANTS
               if any((package / f"_core_{v}{suffix}").is_file() for suffix in EXTENSION_SUFFIXES)}
    assert _dispatch.built_variants() == present
    assert "baseline" in present
    if X86_64:
        assert present == ALL


def test_this_machine_runs_the_best_variant_it_supports():
    expected = _dispatch.choose_variant(_dispatch.cpu_supports(), _dispatch.built_variants())
    if not os.environ.get("FASTCONV_SIMD"):
        assert _dispatch.active_variant() == expected
    assert _dispatch.available_variants()[0] == expected


def _run(code, **env):
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


SIMULATE_NO_AVX2 = """
import importlib
import fastconv
from fastconv import _core_baseline, _dispatch
_core_baseline.cpu_has_avx2 = _core_baseline.cpu_has_avx512 = lambda: False   # a CPU without AVX2
importlib.reload(_dispatch)                                                       # the import-time choice again
print(_dispatch.active_variant(), *_dispatch.available_variants())
"""


def test_import_on_a_cpu_without_avx2_picks_the_portable_variant():
    assert _run(SIMULATE_NO_AVX2, FASTCONV_SIMD="") == ["baseline", "baseline"]


FORCED_BASELINE = """
import sys
import numpy as np
import fastconv
from fastconv import _dispatch
np.save(sys.argv[1], fastconv.convolve(np.load(sys.argv[2]), fastconv.kernels.sharpen(), output="round"))
print(_dispatch.active_variant(), _dispatch.core().__file__, fastconv.__file__)
"""


def test_forced_portable_variant_runs_from_this_installation(tmp_path):
    image = np.random.default_rng(5).integers(0, 256, (61, 83), dtype=np.uint8)
    np.save(tmp_path / "image.npy", image)
    code = FORCED_BASELINE.replace("sys.argv[1]", repr(str(tmp_path / "out.npy")))
    code = code.replace("sys.argv[2]", repr(str(tmp_path / "image.npy")))
    variant, core_file, package_file = _run(code, FASTCONV_SIMD="baseline")
    assert variant == "baseline"
    assert Path(core_file).name.startswith("_core_baseline.")
    assert Path(core_file).parent == Path(package_file).parent == Path(fastconv.__file__).parent
    expected = cv2.filter2D(image, -1, fastconv.kernels.sharpen(), borderType=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
