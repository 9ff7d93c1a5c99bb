"""The installation: one version everywhere; and, when CI sets FASTCONV_TEST_INSTALLED=1, proof that the tests run
against the installed, repaired wheel, which holds every compiled variant and the thread runtime and needs no
shared library beside them, built from an sdist that carries every build input.
"""
import importlib.metadata
import os
import platform
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fastconv
from fastconv import _dispatch

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(fastconv.__file__).resolve().parent
INSTALLED = os.environ.get("FASTCONV_TEST_INSTALLED") == "1"
installed_only = pytest.mark.skipif(not INSTALLED, reason="FASTCONV_TEST_INSTALLED=1: the installed-wheel run (CI)")
source_tree = pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="needs the source tree")

BUILD_INPUTS = ["setup.py", "pyproject.toml", "README.md", "src/fastconv/_types.pxd", "src/fastconv/_core.pxi",
                *(f"src/fastconv/_core_{part}.pxi" for part in ("common", "direct", "separable", "fft", "box")),
                *(f"src/fastconv/_core_{v}.pyx" for v in _dispatch.VARIANTS),
                *(f"src/fastconv/{name}" for name in ("_runtime.pyx", "_runtime.pxd", "_pool.c", "_pool.h",
                                                            "_pool_sys.h"))]
COMPILED_SOURCES = {"src/fastconv/_pool.c"}     # hand-written C, not generated


def _distribution_of_this_import():
    """The installed distribution that the imported fastconv comes from, or None (a source tree on the path)."""
    try:
        dist = importlib.metadata.distribution("fastconv")
    except importlib.metadata.PackageNotFoundError:
        return None
    return dist if Path(dist.locate_file("fastconv/__init__.py")).resolve() == PACKAGE / "__init__.py" else None


def _single(folder, pattern):
    found = sorted((ROOT / folder).glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}/, found {[p.name for p in found]}"
    return found[0]


@source_tree
def test_version_is_declared_once():
    pyproject = (ROOT / "pyproject.toml").read_text()
    project = pyproject.split("\n[project]\n")[1].split("\n[")[0]
    assert re.search(r'^dynamic = \["version"\]', project, re.MULTILINE)
    assert not re.search(r"^version\s*=", project, re.MULTILINE)
    assert 'version = { attr = "fastconv._version.__version__" }' in pyproject
    literal = re.compile(rf"[\"']{re.escape(fastconv.__version__)}[\"']")
    holders = [p.name for p in (ROOT / "src" / "fastconv").glob("*.py") if literal.search(p.read_text())]
    assert holders == ["_version.py"]


def test_version_matches_the_installed_metadata():
    dist = _distribution_of_this_import()
    if dist is None:
        assert not INSTALLED, "the tests import fastconv from outside its installed distribution"
        pytest.skip("fastconv is imported from a source tree, not from an installed distribution")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", fastconv.__version__)
    assert fastconv.__version__ == dist.version == importlib.metadata.version("fastconv")
    assert fastconv.config()["fastconv"] == fastconv.__version__


@installed_only
def test_tests_import_the_installed_wheel():
    assert _distribution_of_this_import() is not None
    assert "site-packages" in PACKAGE.parts
    assert ROOT / "src" not in PACKAGE.parents
    core = Path(_dispatch.core().__file__).resolve()
    assert core.parent == PACKAGE


@installed_only
def test_installed_files_list_every_variant_and_the_runtime():
    files = [str(f) for f in _distribution_of_this_import().files]
    for module in ("_runtime", *(f"_core_{v}" for v in (_dispatch.VARIANTS if platform.machine() == "x86_64"
                                                          else ("baseline",)))):
        assert any(re.fullmatch(rf"fastconv/{module}\.cpython-\S+\.so", f) for f in files), module
    for name in ("py.typed", "_api.pyi", "_opencv.pyi", "kernels.pyi", "dask.pyi", "_config.pyi",
                 "_core_baseline.pyi", "_threads.pyi", "_explain.pyi", "_runtime.pyi"):
        assert f"fastconv/{name}" in files


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_no_openmp_runtime_is_loaded():
    """The thread pool is fastconv's own (fastconv/_pool.c): no OpenMP runtime to bundle, to fork-guard or to
    oversubscribe with."""
    fastconv.convolve(np.zeros((256, 256), np.float32), np.ones((3, 3)), threads=2)
    maps = Path("/proc/self/maps").read_text()
    loaded = {Path(line.split()[-1]).name for line in maps.split("\n") if "/" in line}
    ours = {name for name in loaded if name.startswith(("_core_", "_runtime"))}
    assert ours and not {n for n in loaded if re.match(r"lib(gomp|omp|iomp)", n)}, loaded


@installed_only
def test_repaired_wheel_is_manylinux_with_every_variant_and_nothing_bundled():
    wheel = _single("wheelhouse", "fastconv-*.whl")
    assert wheel.name.startswith(f"fastconv-{fastconv.__version__}-")
    assert re.search(rf"-manylinux_2_\d+_{platform.machine()}(\.manylinux\w+)*\.whl$", wheel.name), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("_runtime", *(f"_core_{v}" for v in _dispatch.VARIANTS)):
        assert sum(re.fullmatch(rf"fastconv/{module}\.cpython-\S+\.so", n) is not None for n in names) == 1
    assert not [n for n in names if n.startswith("fastconv.libs/") and not n.endswith("/")]
    assert "fastconv/py.typed" in names


@installed_only
def test_sdist_carries_every_build_input():
    sdist = _single("dist", "fastconv-*.tar.gz")
    assert sdist.name == f"fastconv-{fastconv.__version__}.tar.gz"
    prefix = f"fastconv-{fastconv.__version__}/"
    with tarfile.open(sdist) as tar:
        names = {n.removeprefix(prefix) for n in tar.getnames()}
    missing = [f for f in BUILD_INPUTS + ["src/fastconv/py.typed", "src/fastconv/_api.pyi", "tests/conftest.py"]
               if f not in names]
    assert not missing
    generated = [n for n in names if n.endswith((".so", ".c")) and n not in COMPILED_SOURCES]
    assert not generated, "generated or compiled files in the sdist"
