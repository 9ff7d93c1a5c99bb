# Fused numeric types shared by the compiled variants of the core.
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

# Accumulator types: float32 for <= 32-bit pixels, float64 for float64 pixels.
ctypedef fused acc_t:
    float
    double

# Integer pixel types the exact box path reads.
ctypedef fused int_src_t:
    uint8_t
    uint16_t
    int16_t

# Accumulators of the direct path: float32, float64, and int16 for exact small-integer kernels on uint8 images.
ctypedef fused dacc_t:
    float
    double
    int16_t

# Window sums of the box path: uint16 rows of uint8 images, int32 column sums.
ctypedef fused box_sum_t:
    uint16_t
    int32_t
