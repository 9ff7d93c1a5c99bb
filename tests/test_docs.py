"""The examples in the public docstrings run and print what they say."""
import doctest

import pytest

import fastconv
from fastconv import _api, _config, kernels


@pytest.mark.parametrize("module", [_api, _config, kernels], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_public_functions_have_numpydoc_sections():
    for fn in (fastconv.convolve, fastconv.show_config):
        for section in ("Parameters", "Examples"):
            assert section in fn.__doc__, (fn.__name__, section)
