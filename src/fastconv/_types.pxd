# Fused numeric types shared by the compiled variants of the core. The core's entry points are not fused: they
# read each array's element type from its buffer and dispatch, so only the specialisations named there are built.
from libc.stdint cimport uint8_t, uint16_t, int16_t, int32_t

# Pixel types the core reads.
ctypedef fused src_t:
    uint8_t
    uint16_t
    int16_t
    float
    double

# Pixel types the core writes.
ctypedef fused out_t:
    uint8_t
    uint16_t
    int16_t
    float
    double

# Accumulators of the float paths (separable, FFT).
ctypedef fused acc_t:
    float
    double

# Accumulators of the direct path: float32, float64, and int16 for exact small-integer kernels on uint8 images.
ctypedef fused dacc_t:
    float
    double
    int16_t

# What a padded row is converted to: the accumulators, and the box path's exact integer row sums.
ctypedef fused fill_t:
    float
    double
    int16_t
    int32_t
    uint16_t

# Window sums of the box path: uint16 rows of uint8 images, int32 column sums.
ctypedef fused box_sum_t:
    uint16_t
    int32_t
