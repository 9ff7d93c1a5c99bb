from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

CV_8U: Final = 0
CV_16U: Final = 2
CV_16S: Final = 3
CV_32F: Final = 5
CV_64F: Final = 6
BORDER_CONSTANT: Final = 0
BORDER_REPLICATE: Final = 1
BORDER_REFLECT: Final = 2
BORDER_WRAP: Final = 3
BORDER_REFLECT_101: Final = 4
BORDER_REFLECT101: Final = 4
BORDER_DEFAULT: Final = 4
BORDER_ISOLATED: Final = 16

def filter2D(
    src: ArrayLike,
    ddepth: int,
    kernel: ArrayLike,
    dst: NDArray[Any] | None = None,
    anchor: tuple[int, int] = (-1, -1),
    delta: float = 0,
    borderType: int = 4,
    *,
    threads: int | None = None,
) -> NDArray[Any]: ...

_DEPTHS: dict[int, type[np.generic]]
_DEPTH_NAMES: dict[int, str]
_PAIRS: dict[np.dtype[Any], tuple[int, ...]]
_BORDERS: dict[int, str]

def _int_param(name: str, value: int) -> int: ...
def check_depth(ddepth: int, src_dtype: np.dtype[Any]) -> np.dtype[Any]: ...
def check_border_type(border_type: int) -> str: ...
def check_cv_anchor(anchor: tuple[int, int], kshape: tuple[int, int]) -> tuple[int, int]: ...
