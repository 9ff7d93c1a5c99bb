from dataclasses import dataclass
from typing import Literal

from numpy.typing import ArrayLike, DTypeLike

_Border = Literal["replicate", "reflect", "reflect101", "wrap", "constant"]
_Output = Literal["floor", "round", "float", "stretch"]

@dataclass(frozen=True)
class Explanation:
    path: str
    accumulator: str
    threads: int
    pieces: int
    fft_tile: int | None
    error_bound: str
    not_taken: dict[str, str] = ...
    image_shape: tuple[int, ...] = ...
    kernel_shape: tuple[int, ...] = ...
    output_dtype: str = ...
    nan_policy: str = ...

def explain(
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
    threads: int | None = None,
    nan_policy: Literal["propagate", "omit"] = "propagate",
    mask: ArrayLike | None = None,
    preserve_nan: bool = False,
    stack: bool = False,
) -> Explanation: ...
