# The compiled core, included once per SIMD variant: one file per concern, each opening with its contract.
include "_core_common.pxi"
include "_core_direct.pxi"
include "_core_separable.pxi"
include "_core_fft.pxi"
include "_core_box.pxi"
include "_core_masked.pxi"
