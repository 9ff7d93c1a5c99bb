"""fastconv: fast 2-D image convolution (cross-correlation) with a compiled core.

``fastconv.convolve(image, K)`` gives the classic tutorial's pictures, thousands of times faster;
``fastconv.filter2D`` is a drop-in for ``cv2.filter2D``.
"""
from fastconv import kernels
from fastconv._api import convolve
from fastconv._config import config, show_config
from fastconv._explain import Explanation, explain
from fastconv._opencv import (
    BORDER_CONSTANT,
    BORDER_DEFAULT,
    BORDER_ISOLATED,
    BORDER_REFLECT,
    BORDER_REFLECT101,
    BORDER_REFLECT_101,
    BORDER_REPLICATE,
    BORDER_WRAP,
    CV_8U,
    CV_16S,
    CV_16U,
    CV_32F,
    CV_64F,
    filter2D,
)
from fastconv._threads import get_threads, set_threads, thread_limit
from fastconv._version import __version__

__all__ = [
    "convolve", "filter2D", "explain", "Explanation", "kernels", "show_config", "config",
    "get_threads", "set_threads", "thread_limit", "__version__",
    "BORDER_CONSTANT", "BORDER_REPLICATE", "BORDER_REFLECT", "BORDER_WRAP", "BORDER_REFLECT_101",
    "BORDER_REFLECT101", "BORDER_DEFAULT", "BORDER_ISOLATED", "CV_8U", "CV_16U", "CV_16S", "CV_32F", "CV_64F",
]
