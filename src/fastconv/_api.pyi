from typing import Any, Literal, NamedTuple, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

_Border: TypeAlias = Literal["replicate", "reflect", "reflect101", "wrap", "constant"]
_Output: TypeAlias = Literal["floor", "round", "float", "stretch"]

def convolve(
    image: ArrayLike,
    K: ArrayLike,
    *,
    border: _Border = "replicate",
    cval: float = 0.0,
    output: _Output | None = None,
    dtype: DTypeLike | None = None,
    anchor: tuple[int, int] | None = None,
    flip: bool = False,
    accumulate: Literal["float32", "float64"] | None = None,
    out: NDArray[Any] | None = None,
    threads: int | None = None,
    nan_policy: Literal["propagate", "omit"] = "propagate",
    mask: ArrayLike | None = None,
    preserve_nan: bool = False,
    stack: bool = False,
) -> NDArray[Any]: ...

# Shared with fastconv._opencv and fastconv._explain.
class Call(NamedTuple):
    img: NDArray[Any]
    kernel: NDArray[np.float64]
    anchor: tuple[int, int]
    border: str
    cval: float
    output: str
    out_dtype: np.dtype[Any]
    raw_dtype: np.dtype[Any]
    policy: int
    accumulate: np.dtype[Any] | None
    threads: int
    stack: bool = False

def resolve_options(
    image: ArrayLike, K: ArrayLike, border: str, cval: float, output: str, dtype: DTypeLike | None,
    anchor: tuple[int, int] | None, flip: bool, accumulate: str | None, threads: int | None, stack: bool = False,
) -> Call: ...
def finite_magnitude(img: NDArray[Any]) -> float: ...
def stretch_noise(call: Call, magnitude: float) -> float: ...

def serve(image: NDArray[Any], K: NDArray[Any], options: tuple[Any, ...],
          threads: int | None) -> NDArray[Any] | tuple[Any, ...] | None: ...
