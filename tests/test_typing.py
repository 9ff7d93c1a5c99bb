"""The package is typed: ``mypy --strict`` accepts typed use of the public API and catches misuse."""
import importlib.util
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import fastconv
from fastconv import _dispatch

pytest.importorskip("mypy", reason="mypy checks the stubs (it is in the test extra)")

EXAMPLE = Path(__file__).with_name("typing_example.py")
PACKAGE = Path(fastconv.__file__).parent
README = Path(__file__).resolve().parents[1] / "README.md"
HAS_DASK = importlib.util.find_spec("dask") is not None

MISUSE = '''
import numpy as np
import fastconv
from fastconv import kernels

image = np.zeros((8, 8), np.uint8)
fastconv.convolve(image, kernels.sharpen(), border="nearest")
fastconv.filter2D(image, "CV_8U", kernels.get("sharpen"))
count: int = kernels.names()
fastconv.show_config(file=3)
'''


DASK_MISUSE = '''
from typing import Any

import numpy as np
from numpy.typing import NDArray

import fastconv.dask

image = np.zeros((8, 8), np.uint8)
fastconv.dask.convolve(image, fastconv.kernels.sharpen(), border="nearest")
fastconv.dask.convolve(image, fastconv.kernels.sharpen(), out=np.empty((8, 8), np.uint8))
fastconv.dask.filter2D(image, -1, fastconv.kernels.sharpen(), stack="yes")
in_memory: NDArray[Any] = fastconv.dask.convolve(image, fastconv.kernels.sharpen())
'''


STUBBED = ["fastconv._api", "fastconv._opencv", "fastconv._config", "fastconv.kernels", "fastconv._threads",
           "fastconv._explain", "fastconv._runtime", *(["fastconv.dask"] if HAS_DASK else []),
           *(f"fastconv._core_{v}" for v in _dispatch.available_variants())]


def _run(tool, *args, cwd):
    """``python -m tool args`` finding the fastconv this interpreter imported (installed or a source tree)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", tool, *map(str, args)], check=False, capture_output=True, text=True,
                          cwd=cwd, env=env)


def _mypy(path, cache):
    return _run("mypy", "--strict", "--no-error-summary", "--cache-dir", cache, path, cwd=path.parent)


def test_package_ships_its_types():
    stubs = {p.name for p in PACKAGE.glob("*.pyi")}
    assert (PACKAGE / "py.typed").is_file()
    assert {"_api.pyi", "_opencv.pyi", "_config.pyi", "kernels.pyi", "dask.pyi"} <= stubs
    for variant in _dispatch.built_variants():
        assert f"_core_{variant}.pyi" in stubs


def test_stubs_match_the_runtime(tmp_path):
    allowlist = tmp_path / "allowlist.txt"
    # Cython's doctest registry of each module, and the C functions the runtime shares with the core
    allowlist.write_text("fastconv\\._(core_\\w+|runtime)\\.__test__\nfastconv\\._runtime\\.__pyx_capi__\n")
    result = _run("mypy.stubtest", "--allowlist", allowlist, *STUBBED, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_strict_mypy_accepts_the_example(tmp_path):
    result = _mypy(EXAMPLE, tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_strict_mypy_catches_misuse(tmp_path):
    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE)
    result = _mypy(misuse, tmp_path / "cache")
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line.split(":")[1] for line in errors] == ["7", "8", "9", "10"], result.stdout
    assert '"border" to "convolve"' in errors[0] and '"filter2D"' in errors[1]


@pytest.mark.skipif(not HAS_DASK, reason="the stub of fastconv.dask imports dask")
def test_strict_mypy_catches_misuse_of_the_dask_functions(tmp_path):
    misuse = tmp_path / "dask_misuse.py"
    misuse.write_text(DASK_MISUSE)
    result = _mypy(misuse, tmp_path / "cache")
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line.split(":")[1] for line in errors] == ["10", "11", "12", "13"], result.stdout
    assert '"border" to "convolve"' in errors[0] and '"out" to "convolve"' in errors[1]
    assert '"stack" to "filter2D"' in errors[2] and '"Array", variable has type "ndarray' in errors[3]


def test_strict_mypy_accepts_every_python_example_of_the_readme(tmp_path):
    """Each ```python block of README.md in a file of its own, all checked by one mypy --strict run."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert any("fastconv.dask." in block for block in blocks) and any("kernels.sharpen()" in b for b in blocks)
    files = []
    for number, block in enumerate(blocks, start=1):
        files.append(tmp_path / f"readme_example_{number}.py")
        files[-1].write_text(block, encoding="utf-8")
    result = _run("mypy", "--strict", "--no-error-summary", "--cache-dir", tmp_path / "cache", *files, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_runs(capsys):
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert capsys.readouterr().out.startswith(f"fastconv {fastconv.__version__}: ")
