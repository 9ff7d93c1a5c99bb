from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from fastconv._paths import Plan

_Border: TypeAlias = Literal["replicate", "reflect", "reflect101", "wrap", "constant"]
_Output: TypeAlias = Literal["floor", "round", "float", "stretch"]

_CORE_DTYPES: tuple[np.dtype[Any], ...]
_CONVERT: dict[np.dtype[Any], np.dtype[Any]]

def convolve(
    image: ArrayLike,
    K: ArrayLike,
    *,
    border: _Border = "replicate",
    cval: float = 0.0,
    output: _Output = "floor",
    dtype: DTypeLike | None = None,
    anchor: tuple[int, int] | None = None,
    flip: bool = False,
    accumulate: Literal["float32", "float64"] | None = None,
    out: NDArray[Any] | None = None,
    threads: int | None = None,
) -> NDArray[Any]: ...

# Shared with fastconv._opencv and fastconv._config.
def _cpu_count() -> int: ...
def _check_image(image: ArrayLike, name: str = "image") -> NDArray[Any]: ...
def _check_kernel(kernel: ArrayLike, name: str = "K") -> NDArray[np.float64]: ...
def _check_threads(threads: int | None) -> int: ...
def _check_cval(cval: float, name: str = "cval") -> float: ...
def _check_anchor(anchor: tuple[int, int] | None, kshape: tuple[int, int]) -> tuple[int, int]: ...
def _check_accumulate(accumulate: str | None) -> np.dtype[Any] | None: ...
def _check_out(
    out: NDArray[Any] | None, shape: tuple[int, ...], dtype: np.dtype[Any], name: str = "out"
) -> NDArray[Any] | None: ...
def _filter(
    img: NDArray[Any], plan: Plan, anchor: tuple[int, int], border: str, cval: float, out_dtype: np.dtype[Any],
    policy: int, delta: float, acc: np.dtype[Any], threads: int, out: NDArray[Any] | None,
) -> NDArray[Any]: ...
def _limits(dtype: np.dtype[Any]) -> tuple[float, float]: ...
