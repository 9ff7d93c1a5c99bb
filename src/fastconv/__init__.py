"""fastconv: fast 2-D image convolution (cross-correlation) with a compiled core.

``fastconv.convolve(image, K)`` gives the classic tutorial's pictures, thousands of times faster.
"""
from fastconv import kernels
from fastconv._api import convolve
from fastconv._config import config, show_config
from fastconv._version import __version__

__all__ = ["convolve", "kernels", "show_config", "config", "__version__"]
