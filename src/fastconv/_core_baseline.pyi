# Types of the compiled core. _core_avx2.pyi and _core_avx512.pyi re-export this file: the three modules are one
# source (_core.pxi) compiled with different instruction-set flags. Images and outputs are 2-D numpy views of
# uint8, uint16, int16, float32 or float64 with any strides; the records are fastconv._plan's and fastconv._taps'
# (each path's docstring says what it reads).
from typing import Any

from numpy.typing import NDArray

VARIANT: str

def cpu_has_avx2() -> bool: ...
def cpu_has_avx512() -> bool: ...
def correlate(src: NDArray[Any], out: NDArray[Any], taps: tuple[Any, ...], border: tuple[Any, ...],
              output: tuple[Any, ...], schedule: tuple[Any, ...]) -> None: ...
def correlate_separable(src: NDArray[Any], out: NDArray[Any], h: tuple[Any, ...], vtaps: tuple[Any, ...],
                        border: tuple[Any, ...], output: tuple[Any, ...], schedule: tuple[Any, ...]) -> None: ...
def correlate_fft(src: NDArray[Any], out: NDArray[Any], fft: tuple[Any, ...], taps: tuple[Any, ...],
                  border: tuple[Any, ...], output: tuple[Any, ...], schedule: tuple[Any, ...]) -> None: ...
def box_filter(src: NDArray[Any], out: NDArray[Any], box: tuple[Any, ...], border: tuple[Any, ...],
               output: tuple[Any, ...], schedule: tuple[Any, ...]) -> None: ...
