"""The examples in the public docstrings run and print what they say."""
import doctest

import pytest

import fastconv
import re
from pathlib import Path

from fastconv import _api, _config, _explain, _opencv, _threads, kernels

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("module", [_api, _config, _opencv, _threads, _explain, kernels], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_public_functions_have_numpydoc_sections():
    public = [fastconv.convolve, fastconv.filter2D, fastconv.show_config, fastconv.config, fastconv.explain,
              fastconv.set_threads, fastconv.get_threads]
    public += [getattr(kernels, name) for name in kernels.__all__]
    for fn in public:
        for section in ("Returns" if fn is not fastconv.show_config else "Parameters", "Examples"):
            assert f"{section}\n    ---" in fn.__doc__, (fn.__name__, section)


@pytest.mark.skipif(not README.exists(), reason="needs the source tree's README")
def test_readme_python_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
