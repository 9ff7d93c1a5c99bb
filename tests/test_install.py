"""The installation: one version everywhere; and, when CI sets FASTCONV_TEST_INSTALLED=1, proof that the tests run
against the installed, repaired wheel, which holds every compiled variant and its own OpenMP runtime, built from an
sdist that carries every build input.
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

BUILD_INPUTS = ["setup.py", "pyproject.toml", "README.md", "src/fastconv/_core_impl.pxi", "src/fastconv/_types.pxd",
                *(f"src/fastconv/_core_{v}.pyx" for v in _dispatch.VARIANTS)]


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
def test_installed_files_list_every_variant_and_the_bundled_openmp_runtime():
    files = [str(f) for f in _distribution_of_this_import().files]
    for variant in _dispatch.VARIANTS if platform.machine() == "x86_64" else ("baseline",):
        assert any(re.fullmatch(rf"fastconv/_core_{variant}\.cpython-\S+\.so", f) for f in files), variant
    assert any(re.fullmatch(r"fastconv\.libs/libgomp-[0-9a-f]+\.so[.0-9]*", f) for f in files), files
    for name in ("py.typed", "_api.pyi", "_opencv.pyi", "kernels.pyi", "dask.pyi", "_config.pyi", "_core_baseline.pyi"):
        assert f"fastconv/{name}" in files


@installed_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_openmp_runtime_in_use_is_the_bundled_one():
    fastconv.convolve(np.zeros((64, 64), np.float32), np.ones((3, 3)), threads=2)
    maps = Path("/proc/self/maps").read_text().split("\n")
    gomp = {line.split()[-1] for line in maps if "libgomp" in line}
    assert gomp and all(Path(p).parent == PACKAGE.parent / "fastconv.libs" for p in gomp), gomp


@installed_only
def test_repaired_wheel_is_manylinux_with_every_variant_and_libgomp():
    wheel = _single("wheelhouse", "fastconv-*.whl")
    assert wheel.name.startswith(f"fastconv-{fastconv.__version__}-")
    assert re.search(rf"-manylinux_2_\d+_{platform.machine()}(\.manylinux\w+)*\.whl$", wheel.name), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    for variant in _dispatch.VARIANTS:
        assert sum(re.fullmatch(rf"fastconv/_core_{variant}\.cpython-\S+\.so", n) is not None for n in names) == 1
    bundled = [n for n in names if n.startswith("fastconv.libs/") and not n.endswith("/")]
    assert len(bundled) == 1 and re.fullmatch(r"fastconv\.libs/libgomp-[0-9a-f]+\.so[.0-9]*", bundled[0]), bundled
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
    assert not [n for n in names if n.endswith((".so", ".c"))], "generated or compiled files in the sdist"
