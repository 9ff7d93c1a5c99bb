# Types of the compiled core. _core_avx2.pyi and _core_avx512.pyi re-export this file: the three
# modules are one source (_core_impl.pxi) compiled with different instruction-set flags. Arrays are typed memoryviews
# in the core: C-contiguous numpy arrays of the dtype given here; src_t/out_t arrays are uint8, uint16, int16,
# float32 or float64, acc_t arrays float32 or float64 (one type per call).
from typing import Any

import numpy as np
from numpy.typing import NDArray

VARIANT: str

def cpu_has_avx2() -> bool: ...
def cpu_has_avx512() -> bool: ...
def openmp_info() -> tuple[bool, int]: ...
def correlate(
    src: NDArray[Any], kh: int, kw: int,
    both_d: NDArray[np.int64], both_j: NDArray[np.int64], both_c0: NDArray[np.floating[Any]],
    both_c1: NDArray[np.floating[Any]], only0_d: NDArray[np.int64], only0_j: NDArray[np.int64],
    only0_c0: NDArray[np.floating[Any]], only1_d: NDArray[np.int64], only1_j: NDArray[np.int64],
    only1_c1: NDArray[np.floating[Any]], paired: bool, chunk: int, row_map: NDArray[np.int64],
    col_map: NDArray[np.int64], ax: int, cval: float, out: NDArray[Any], policy: int, delta: float, lo: float,
    hi: float, nthreads: int, strip: int,
) -> None: ...
def correlate_small_int(
    src: NDArray[np.uint8], kh: int, kw: int,
    both_d: NDArray[np.int64], both_j: NDArray[np.int64], both_c0: NDArray[np.int16], both_c1: NDArray[np.int16],
    only0_d: NDArray[np.int64], only0_j: NDArray[np.int64], only0_c0: NDArray[np.int16],
    only1_d: NDArray[np.int64], only1_j: NDArray[np.int64], only1_c1: NDArray[np.int16], paired: bool, chunk: int,
    row_map: NDArray[np.int64], col_map: NDArray[np.int64], ax: int, cval: float, out: NDArray[Any], policy: int,
    delta: float, lo: float, hi: float, nthreads: int, strip: int,
) -> None: ...
def correlate_separable(
    src: NDArray[Any], kh: int, kw: int, h_idx: NDArray[np.int64], h_val: NDArray[np.floating[Any]],
    both_d: NDArray[np.int64], both_c0: NDArray[np.floating[Any]], both_c1: NDArray[np.floating[Any]],
    only0_d: NDArray[np.int64], only0_c0: NDArray[np.floating[Any]], only1_d: NDArray[np.int64],
    only1_c1: NDArray[np.floating[Any]], paired: bool, chunk: int, row_map: NDArray[np.int64],
    col_map: NDArray[np.int64], ax: int, cval: float, out: NDArray[Any], policy: int, delta: float, lo: float,
    hi: float, nthreads: int, strip: int,
) -> None: ...
def correlate_fft(
    src: NDArray[Any], kh: int, kw: int, spec_re: NDArray[np.floating[Any]], spec_im: NDArray[np.floating[Any]],
    tw_re: NDArray[np.floating[Any]], tw_im: NDArray[np.floating[Any]], row_map: NDArray[np.int64],
    col_map: NDArray[np.int64], ax: int, cval: float, out: NDArray[Any], policy: int, delta: float, lo: float,
    hi: float, limit: float, nthreads: int,
) -> bool: ...
def box_filter(
    src: NDArray[np.uint8 | np.uint16 | np.int16], kh: int, kw: int, row_map: NDArray[np.int64],
    col_map: NDArray[np.int64], ax: int, cval: int, scale: NDArray[np.floating[Any]], divide: bool,
    out: NDArray[Any], policy: int, delta: float, lo: float, hi: float, nthreads: int,
) -> None: ...
def box_filter_u8(
    src: NDArray[np.uint8], kh: int, kw: int, row_map: NDArray[np.int64],
    col_map: NDArray[np.int64], ax: int, cval: int, scale: NDArray[np.floating[Any]], divide: bool,
    out: NDArray[Any], policy: int, delta: float, lo: float, hi: float, nthreads: int, strip: int,
) -> None: ...
