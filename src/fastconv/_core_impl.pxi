# The multiply-and-sum at the heart of fastconv, included once per SIMD variant.
# Every argument is validated and prepared by the caller (fastconv._api); nothing is checked here.
#
# Each thread owns a ring of `kh` padded source rows, already converted to the accumulator type. Padded row `p`
# is source row `row_map[p]` (or the constant `cval` when that is negative) laid out over `W + kw - 1` columns through
# `col_map`; so the border policy lives entirely in the two index maps and no padded image is ever built.  Output row
# `y` sums every non-zero tap over whole contiguous rows (tap-major), then converts the row by the output policy.

from cython.parallel cimport parallel, prange
from libc.stdlib cimport malloc, free
from libc.stdint cimport uint8_t, uint16_t, int16_t, int64_t
from libc.math cimport floor

from fastconv._types cimport src_t, out_t, acc_t

cdef extern from *:
    """
    static int fastconv_cpu_has_avx2(void) {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    #else
        return 0;
    #endif
    }
    static int fastconv_cpu_has_avx512(void) {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return fastconv_cpu_has_avx2() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512dq");
    #else
        return 0;
    #endif
    }
    #ifdef _OPENMP
    #include <omp.h>
    static int fastconv_openmp(void) { return 1; }
    static int fastconv_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int fastconv_openmp(void) { return 0; }
    static int fastconv_max_threads(void) { return 1; }
    #endif
    """
    int fastconv_cpu_has_avx2() noexcept nogil
    int fastconv_cpu_has_avx512() noexcept nogil
    int fastconv_openmp() noexcept nogil
    int fastconv_max_threads() noexcept nogil

# Output policies (mirrored by fastconv._output).
cdef enum:
    POLICY_RAW = 0      # store the sum (+ delta) as it is: float outputs
    POLICY_FLOOR = 1    # clip to [lo, hi], then round toward minus infinity
    POLICY_ROUND = 2    # clip to [lo, hi], then round half to even


def cpu_has_avx2():
    """True when this CPU (and OS) can run the AVX2 + FMA variant."""
    return bool(fastconv_cpu_has_avx2())


def cpu_has_avx512():
    """True when this CPU (and OS) can run the AVX-512 variant."""
    return bool(fastconv_cpu_has_avx512())


def openmp_info():
    """(compiled with OpenMP, OpenMP's default thread count)."""
    return bool(fastconv_openmp()), int(fastconv_max_threads())


cdef inline void _load_row(const src_t* s, Py_ssize_t W, Py_ssize_t PW, Py_ssize_t ax,
                           const int64_t* col_map, acc_t cval, acc_t* dst) noexcept nogil:
    """Padded row from source row `s`: identity in the interior, `col_map` on both margins."""
    cdef Py_ssize_t c, m
    for c in range(ax):
        m = col_map[c]
        dst[c] = cval if m < 0 else <acc_t>s[m]
    for c in range(W):
        dst[ax + c] = <acc_t>s[c]
    for c in range(ax + W, PW):
        m = col_map[c]
        dst[c] = cval if m < 0 else <acc_t>s[m]


cdef inline void _sum_taps(acc_t* acc, acc_t** rows, const acc_t* k, Py_ssize_t kh, Py_ssize_t kw,
                           Py_ssize_t W) noexcept nogil:
    """acc[x] = sum over non-zero taps (row-major order) of k[i, j] * rows[i][x + j]."""
    cdef Py_ssize_t i, j, x
    cdef acc_t kv
    cdef const acc_t* p
    for x in range(W):
        acc[x] = 0
    for i in range(kh):
        for j in range(kw):
            kv = k[i * kw + j]
            if kv == 0:
                continue
            p = rows[i] + j
            for x in range(W):
                acc[x] += kv * p[x]


cdef inline void _store_row(const acc_t* acc, out_t* o, Py_ssize_t W, int policy, acc_t delta,
                            acc_t lo, acc_t hi) noexcept nogil:
    """Convert one accumulated row by the output policy (NaN becomes `lo` in integer outputs)."""
    cdef Py_ssize_t x
    cdef acc_t v
    cdef acc_t magic = 6755399441055744.0 if acc_t is double else 12582912.0  # 1.5 * 2**(mantissa bits)
    if out_t is float or out_t is double:
        for x in range(W):
            o[x] = <out_t>(acc[x] + delta)
    elif policy == POLICY_ROUND:
        for x in range(W):
            v = acc[x] + delta
            v = v if v >= lo else lo
            v = v if v <= hi else hi
            o[x] = <out_t>((v + magic) - magic)
    elif lo >= 0:
        for x in range(W):
            v = acc[x] + delta
            v = v if v >= lo else lo
            v = v if v <= hi else hi
            o[x] = <out_t>v    # truncation is floor for non-negative values
    else:
        for x in range(W):
            v = acc[x] + delta
            v = v if v >= lo else lo
            v = v if v <= hi else hi
            o[x] = <out_t>floor(v)


cdef inline void _fill_row(const src_t* sp, Py_ssize_t W, Py_ssize_t PW, Py_ssize_t ax, const int64_t* row_map,
                           const int64_t* col_map, acc_t cval, Py_ssize_t p, acc_t* dst) noexcept nogil:
    cdef Py_ssize_t r = row_map[p], c
    if r < 0:
        for c in range(PW):
            dst[c] = cval
    else:
        _load_row(sp + r * W, W, PW, ax, col_map, cval, dst)


cdef void _band(const src_t* sp, out_t* op, Py_ssize_t W, const acc_t* k, Py_ssize_t kh, Py_ssize_t kw,
                Py_ssize_t ax, const int64_t* row_map, const int64_t* col_map, acc_t cval, int policy,
                acc_t delta, acc_t lo, acc_t hi, Py_ssize_t y0, Py_ssize_t y1,
                acc_t* ring, acc_t** rows, acc_t* acc) noexcept nogil:
    """Output rows [y0, y1): stream padded rows y0 .. y1 + kh - 2 through the ring."""
    cdef Py_ssize_t PW = W + kw - 1, p, y, i
    for p in range(y0, y0 + kh - 1):
        _fill_row(sp, W, PW, ax, row_map, col_map, cval, p, ring + (p % kh) * PW)
    for y in range(y0, y1):
        p = y + kh - 1
        _fill_row(sp, W, PW, ax, row_map, col_map, cval, p, ring + (p % kh) * PW)
        for i in range(kh):
            rows[i] = ring + ((y + i) % kh) * PW
        _sum_taps(acc, rows, k, kh, kw, W)
        _store_row(acc, op + y * W, W, policy, delta, lo, hi)


def correlate(const src_t[:, ::1] src, const acc_t[:, ::1] kernel, const int64_t[::1] row_map,
              const int64_t[::1] col_map, Py_ssize_t ax, double cval, out_t[:, ::1] out, int policy,
              double delta, double lo, double hi, int nthreads):
    """out = policy(correlate(src, kernel) + delta) with borders given by the index maps.

    `src` and `out` are non-empty and of one shape (H, W); `row_map` has H + kh - 1 entries and `col_map`
    W + kw - 1, each a source index or -1 for `cval`; `ax` is the anchor column. The accumulator type is the
    kernel's dtype.
    """
    cdef Py_ssize_t H = out.shape[0], W = out.shape[1]
    cdef Py_ssize_t kh = kernel.shape[0], kw = kernel.shape[1], PW = W + kw - 1
    cdef Py_ssize_t nbands = min(H, 4 * nthreads) if nthreads > 1 else 1
    cdef Py_ssize_t b
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef acc_t* ring
    cdef acc_t** rows
    cdef acc_t* acc
    cdef const src_t* sp = &src[0, 0]
    cdef out_t* op = &out[0, 0]
    cdef const acc_t* kp = &kernel[0, 0]
    cdef const int64_t* rmap = &row_map[0]
    cdef const int64_t* cmap = &col_map[0]
    cdef acc_t cval_a = <acc_t>cval, delta_a = <acc_t>delta, lo_a = <acc_t>lo, hi_a = <acc_t>hi
    with nogil, parallel(num_threads=nthreads):
        ring = <acc_t*>malloc(kh * PW * sizeof(acc_t))
        rows = <acc_t**>malloc(kh * sizeof(acc_t*))
        acc = <acc_t*>malloc(W * sizeof(acc_t))
        if ring == NULL or rows == NULL or acc == NULL:
            failed_p[0] = 1
        for b in prange(nbands, schedule="dynamic"):
            if ring != NULL and rows != NULL and acc != NULL:
                _band(sp, op, W, kp, kh, kw, ax, rmap, cmap, cval_a, policy, delta_a, lo_a, hi_a,
                      b * H // nbands, (b + 1) * H // nbands, ring, rows, acc)
        free(ring)
        free(rows)
        free(acc)
    if failed:
        raise MemoryError("fastconv: could not allocate the per-thread row buffers")
