from typing import Literal

import dask.array as da
from numpy.typing import ArrayLike, DTypeLike

from fastconv._api import _Border, _Output

__all__ = ["convolve", "filter2D"]

# The results are dask arrays. dask's own functions and Array methods carry no annotations, so under
# `mypy --strict` calling them (da.from_array, .compute()) is an untyped call; numpy.asarray(result) is typed.

def convolve(
    image: da.Array | ArrayLike,
    K: ArrayLike,
    *,
    border: _Border = "replicate",
    cval: float = 0.0,
    output: _Output | None = None,
    dtype: DTypeLike | None = None,
    anchor: tuple[int, int] | None = None,
    flip: bool = False,
    accumulate: Literal["float32", "float64"] | None = None,
    out: None = None,
    threads: int | None = None,
    stack: bool = False,
    nan_policy: Literal["propagate", "omit"] = "propagate",
    mask: da.Array | ArrayLike | None = None,
    preserve_nan: bool = False,
) -> da.Array: ...
def filter2D(
    src: da.Array | ArrayLike,
    ddepth: int,
    kernel: ArrayLike,
    dst: None = None,
    anchor: tuple[int, int] = (-1, -1),
    delta: float = 0,
    borderType: int = 4,
    *,
    threads: int | None = None,
    stack: bool = False,
) -> da.Array: ...
