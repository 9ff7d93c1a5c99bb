# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, auto_pickle=False
# The avx512 build of the compiled core; fastconv._dispatch picks one variant at import.
VARIANT = "avx512"

include "_core.pxi"
