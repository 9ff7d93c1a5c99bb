# The multiply-and-sum at the heart of fastconv, included once per SIMD variant.
# Every argument is validated and prepared by the caller (fastconv._api and fastconv._paths); nothing is checked here.
#
# Borders live entirely in two index maps: padded row `p` is source row `row_map[p]` (the constant `cval` where it
# is negative), laid out over `W + kw - 1` columns through `col_map`; so no padded image is ever built. Each thread
# streams the padded rows it needs through a small ring (kh + 1 rows), converted to the accumulator type once.
# Four paths share that machinery:
#   direct     - every non-zero tap, register-blocked: a block of output columns (of one or two output rows) stays in
#                vector registers while the taps are added, then it is converted by the output policy and stored;
#   integer    - the direct path in exact int16 arithmetic, for uint8 images and small integer kernels;
#   separable  - a rank-1 kernel v (x) h: a horizontal pass with h into the ring, a vertical pass with v;
#   box        - all taps equal on an integer image: exact integer running sums, O(1) per pixel whatever the size
#                (uint8 images rows first, in uint16).
# A fifth, the FFT path for large dense kernels, reads the same index maps into small square tiles instead.
# Rings and tiles start on 64-byte boundaries, their rows a whole number of cache lines apart where it matters.

from cython.parallel cimport parallel, prange
from cpython.mem cimport PyMem_RawMalloc, PyMem_RawFree
from libc.stdint cimport uint8_t, uint16_t, int16_t, int32_t, int64_t, uintptr_t
from libc.math cimport floor

from fastconv._types cimport src_t, out_t, acc_t, dacc_t, int_src_t, box_sum_t

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
    /* One multiply-add, rounded once where the CPU has FMA (the AVX2 and AVX-512 variants) and as a multiply then
       an add elsewhere: spelled out, so that every loop (full register blocks, partial blocks, scalar tails)
       rounds alike and a pixel's sum never depends on where its column falls. The build disables the compiler's
       own contraction (-ffp-contract=off), which fused some loops and not others. */
    #include <math.h>
    #if defined(__FMA__)
    #define FC_FMAF(a, b, c) fmaf((a), (b), (c))
    #define FC_FMA(a, b, c) fma((a), (b), (c))
    #else
    #define FC_FMAF(a, b, c) ((a) * (b) + (c))
    #define FC_FMA(a, b, c) ((a) * (b) + (c))
    #endif
    #ifdef _OPENMP
    #include <omp.h>
    static int fastconv_openmp(void) { return 1; }
    static int fastconv_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int fastconv_openmp(void) { return 0; }
    static int fastconv_max_threads(void) { return 1; }
    #endif
    /* Output columns kept in registers per block: 8 vector registers of float32 (half as many doubles fit). */
    /* Two-row blocks hold two rows' columns: 16 of AVX-512's 32 registers, 8 of AVX2's or SSE2's 16. */
    #if defined(__AVX512F__)
    enum { FC_BLOCK_F = 128, FC_BLOCK_D = 64, FC_BLOCK2_F = 128, FC_BLOCK2_D = 64, FC_BLOCK2_I = 256 };
    #elif defined(__AVX2__)
    enum { FC_BLOCK_F = 64, FC_BLOCK_D = 32, FC_BLOCK2_F = 32, FC_BLOCK2_D = 16, FC_BLOCK2_I = 64 };
    #else
    enum { FC_BLOCK_F = 32, FC_BLOCK_D = 16, FC_BLOCK2_F = 16, FC_BLOCK2_D = 8, FC_BLOCK2_I = 32 };
    #endif
    """
    float FC_FMAF(float, float, float) noexcept nogil
    double FC_FMA(double, double, double) noexcept nogil
    int fastconv_cpu_has_avx2() noexcept nogil
    int fastconv_cpu_has_avx512() noexcept nogil
    int fastconv_openmp() noexcept nogil
    int fastconv_max_threads() noexcept nogil
    enum: FC_BLOCK_F
    enum: FC_BLOCK_D
    enum: FC_BLOCK2_F
    enum: FC_BLOCK2_D
    enum: FC_BLOCK2_I

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


# ---------------------------------------------------------------------------------------------------------------
# Row loading and storing

cdef inline dacc_t _fma(dacc_t a, dacc_t b, dacc_t c) noexcept nogil:
    """a * b + c: one rounding on FMA variants (see FC_FMA), exact in int16's wrap-around arithmetic."""
    if dacc_t is float:
        return FC_FMAF(a, b, c)
    elif dacc_t is double:
        return FC_FMA(a, b, c)
    else:
        return <dacc_t>(a * b + c)


cdef inline void _fill_segment(const src_t* sp, Py_ssize_t W, Py_ssize_t ax, const int64_t* row_map,
                               const int64_t* col_map, dacc_t cval, Py_ssize_t p, Py_ssize_t c0, Py_ssize_t c1,
                               dacc_t* dst) noexcept nogil:
    """Columns [c0, c1) of padded row p into dst[0 : c1 - c0]."""
    cdef Py_ssize_t r = row_map[p], c, m, lo = max(c0, ax), hi = min(c1, ax + W)
    cdef const src_t* s
    if r < 0:
        for c in range(c1 - c0):
            dst[c] = cval
        return
    s = sp + r * W
    for c in range(c0, min(c1, ax)):
        m = col_map[c]
        dst[c - c0] = cval if m < 0 else <dacc_t>s[m]
    for c in range(lo, hi):
        dst[c - c0] = <dacc_t>s[c - ax]
    for c in range(max(c0, ax + W), c1):
        m = col_map[c]
        dst[c - c0] = cval if m < 0 else <dacc_t>s[m]


cdef inline void _store(const dacc_t* acc, out_t* o, Py_ssize_t n, int policy, dacc_t delta,
                        dacc_t lo, dacc_t hi) noexcept nogil:
    """Convert `n` sums by the output policy (NaN becomes `lo` in integer outputs).

    Exact int16 sums are only clipped to [lo, hi] (already clipped to int16's range by the caller).
    """
    cdef Py_ssize_t x
    cdef dacc_t v
    cdef dacc_t magic = 0      # 1.5 * 2**(mantissa bits): adding and subtracting it rounds half to even
    if dacc_t is double:
        magic = 6755399441055744.0
    elif dacc_t is float:
        magic = 12582912.0
    if dacc_t is int16_t:
        if out_t is float or out_t is double:
            for x in range(n):
                o[x] = <out_t>(acc[x] + delta)
        else:
            for x in range(n):
                v = acc[x] + delta
                v = v if v >= lo else lo
                v = v if v <= hi else hi
                o[x] = <out_t>v
    elif out_t is float or out_t is double:
        for x in range(n):
            o[x] = <out_t>(acc[x] + delta)
    elif policy == POLICY_ROUND:
        for x in range(n):
            v = acc[x] + delta
            v = v if v >= lo else lo
            v = v if v <= hi else hi
            o[x] = <out_t>((v + magic) - magic)
    elif lo >= 0:
        for x in range(n):
            v = acc[x] + delta
            v = v if v >= lo else lo
            v = v if v <= hi else hi
            o[x] = <out_t>v    # truncation is floor for non-negative values
    else:
        for x in range(n):
            v = acc[x] + delta
            v = v if v >= lo else lo
            v = v if v <= hi else hi
            o[x] = <out_t>floor(v)


# ---------------------------------------------------------------------------------------------------------------
# The register-blocked multiply-and-sum

cdef inline void _blocked_sum(out_t* o, acc_t** ptrs, const acc_t* vals, Py_ssize_t ntaps, Py_ssize_t W,
                              int policy, acc_t delta, acc_t lo, acc_t hi) noexcept nogil:
    """o[x] = policy(sum_t vals[t] * ptrs[t][x] + delta) for x < W, one register block of columns at a time.

    `acc` never has its address taken, so the compiler knows no tap row aliases it and keeps the whole block in
    vector registers across the taps; `done` carries the finished block to the output conversion.
    """
    cdef acc_t acc[FC_BLOCK_F]
    cdef acc_t done[FC_BLOCK_F]
    cdef Py_ssize_t x0 = 0, t, u, n
    cdef acc_t kv
    cdef const acc_t* p
    if acc_t is float:
        while x0 + FC_BLOCK_F <= W:
            kv = vals[0]
            p = ptrs[0] + x0
            for u in range(FC_BLOCK_F):
                acc[u] = kv * p[u]
            for t in range(1, ntaps):
                kv = vals[t]
                p = ptrs[t] + x0
                for u in range(FC_BLOCK_F):
                    acc[u] = _fma(kv, p[u], acc[u])
            for u in range(FC_BLOCK_F):
                done[u] = acc[u]
            _store(done, o + x0, FC_BLOCK_F, policy, delta, lo, hi)
            x0 += FC_BLOCK_F
    else:
        while x0 + FC_BLOCK_D <= W:
            kv = vals[0]
            p = ptrs[0] + x0
            for u in range(FC_BLOCK_D):
                acc[u] = kv * p[u]
            for t in range(1, ntaps):
                kv = vals[t]
                p = ptrs[t] + x0
                for u in range(FC_BLOCK_D):
                    acc[u] = _fma(kv, p[u], acc[u])
            for u in range(FC_BLOCK_D):
                done[u] = acc[u]
            _store(done, o + x0, FC_BLOCK_D, policy, delta, lo, hi)
            x0 += FC_BLOCK_D
    n = W - x0
    if n > 0:       # the last, partial block: one tap at a time over memory
        for u in range(n):
            done[u] = 0
        for t in range(ntaps):
            kv = vals[t]
            p = ptrs[t] + x0
            for u in range(n):
                done[u] = _fma(kv, p[u], done[u])
        _store(done, o + x0, n, policy, delta, lo, hi)


# ---------------------------------------------------------------------------------------------------------------
# Direct path: two output rows per pass, so each loaded vector of a padded row serves both

cdef void _pair_sums(Py_ssize_t x0, Py_ssize_t n, bint second, Py_ssize_t chunk,
                     dacc_t** pb, const dacc_t* b0, const dacc_t* b1, Py_ssize_t nb,
                     dacc_t** p0, const dacc_t* c0, Py_ssize_t n0,
                     dacc_t** p1, const dacc_t* c1, Py_ssize_t n1, dacc_t* res0, dacc_t* res1) noexcept nogil:
    """res0[u] (row y) and, if `second`, res1[u] (row y + 1) for the n columns from x0.

    Each row sums its taps ("both", then its own group) in chunks of at most `chunk` taps, a chunk never spanning
    two groups, and adds the chunk totals into res in order: float32 rounding then grows with the chunk, not with
    the whole kernel (fastconv._paths mirrors this order in its error bound). A full block (n equal to the block
    width) accumulates each chunk in local arrays whose address is never taken, so the compiler keeps them in
    vector registers; a partial block works in memory.
    """
    cdef dacc_t acc0[FC_BLOCK2_I]
    cdef dacc_t acc1[FC_BLOCK2_I]
    cdef Py_ssize_t B = FC_BLOCK2_F if dacc_t is float else (FC_BLOCK2_D if dacc_t is double else FC_BLOCK2_I)
    cdef Py_ssize_t t, u, start, stop
    cdef bint first0, first1
    cdef dacc_t k0, k1, v
    cdef const dacc_t* p
    if n != B:
        for u in range(n):
            res0[u] = 0
            res1[u] = 0
        start = 0
        while start < nb:
            for u in range(n):
                acc0[u] = 0
                acc1[u] = 0
            for t in range(start, min(start + chunk, nb)):
                p = pb[t] + x0
                for u in range(n):
                    acc0[u] = _fma(b0[t], p[u], acc0[u])
                    if second:
                        acc1[u] = _fma(b1[t], p[u], acc1[u])
            for u in range(n):
                res0[u] += acc0[u]
                res1[u] += acc1[u]
            start += chunk
        start = 0
        while start < n0:
            for u in range(n):
                acc0[u] = 0
            for t in range(start, min(start + chunk, n0)):
                p = p0[t] + x0
                for u in range(n):
                    acc0[u] = _fma(c0[t], p[u], acc0[u])
            for u in range(n):
                res0[u] += acc0[u]
            start += chunk
        if second:
            start = 0
            while start < n1:
                for u in range(n):
                    acc1[u] = 0
                for t in range(start, min(start + chunk, n1)):
                    p = p1[t] + x0
                    for u in range(n):
                        acc1[u] = _fma(c1[t], p[u], acc1[u])
                for u in range(n):
                    res1[u] += acc1[u]
                start += chunk
        return
    first0 = True
    first1 = True
    if second:
        start = 0
        while start < nb:
            stop = min(start + chunk, nb)
            k0 = b0[start]
            k1 = b1[start]
            p = pb[start] + x0
            for u in range(B):
                v = p[u]
                acc0[u] = k0 * v
                acc1[u] = k1 * v
            for t in range(start + 1, stop):
                k0 = b0[t]
                k1 = b1[t]
                p = pb[t] + x0
                for u in range(B):
                    v = p[u]
                    acc0[u] = _fma(k0, v, acc0[u])
                    acc1[u] = _fma(k1, v, acc1[u])
            for u in range(B):
                res0[u] = acc0[u] if first0 else res0[u] + acc0[u]
                res1[u] = acc1[u] if first1 else res1[u] + acc1[u]
            first0 = False
            first1 = False
            start += chunk
        start = 0
        while start < n1:
            stop = min(start + chunk, n1)
            k1 = c1[start]
            p = p1[start] + x0
            for u in range(B):
                acc1[u] = k1 * p[u]
            for t in range(start + 1, stop):
                k1 = c1[t]
                p = p1[t] + x0
                for u in range(B):
                    acc1[u] = _fma(k1, p[u], acc1[u])
            for u in range(B):
                res1[u] = acc1[u] if first1 else res1[u] + acc1[u]
            first1 = False
            start += chunk
    else:
        start = 0
        while start < nb:
            stop = min(start + chunk, nb)
            k0 = b0[start]
            p = pb[start] + x0
            for u in range(B):
                acc0[u] = k0 * p[u]
            for t in range(start + 1, stop):
                k0 = b0[t]
                p = pb[t] + x0
                for u in range(B):
                    acc0[u] = _fma(k0, p[u], acc0[u])
            for u in range(B):
                res0[u] = acc0[u] if first0 else res0[u] + acc0[u]
            first0 = False
            start += chunk
    start = 0
    while start < n0:
        stop = min(start + chunk, n0)
        k0 = c0[start]
        p = p0[start] + x0
        for u in range(B):
            acc0[u] = k0 * p[u]
        for t in range(start + 1, stop):
            k0 = c0[t]
            p = p0[t] + x0
            for u in range(B):
                acc0[u] = _fma(k0, p[u], acc0[u])
        for u in range(B):
            res0[u] = acc0[u] if first0 else res0[u] + acc0[u]
        first0 = False
        start += chunk
    if first0:          # a row without taps sums to zero
        for u in range(B):
            res0[u] = 0
    if second and first1:
        for u in range(B):
            res1[u] = 0


cdef void _pair_row(out_t* o0, out_t* o1, bint second, Py_ssize_t W, Py_ssize_t chunk,
                    dacc_t** pb, const dacc_t* b0, const dacc_t* b1, Py_ssize_t nb,
                    dacc_t** p0, const dacc_t* c0, Py_ssize_t n0, dacc_t** p1, const dacc_t* c1, Py_ssize_t n1,
                    int policy, dacc_t delta, dacc_t lo, dacc_t hi) noexcept nogil:
    """Output rows y (into o0) and, if `second`, y + 1 (into o1), one register block of columns at a time."""
    cdef dacc_t res0[FC_BLOCK2_I]
    cdef dacc_t res1[FC_BLOCK2_I]
    cdef Py_ssize_t B = FC_BLOCK2_F if dacc_t is float else (FC_BLOCK2_D if dacc_t is double else FC_BLOCK2_I)
    cdef Py_ssize_t x0 = 0, n
    while x0 < W:
        n = min(B, W - x0)
        _pair_sums(x0, n, second, chunk, pb, b0, b1, nb, p0, c0, n0, p1, c1, n1, res0, res1)
        _store(res0, o0 + x0, n, policy, delta, lo, hi)
        if second:
            _store(res1, o1 + x0, n, policy, delta, lo, hi)
        x0 += n


cdef void _direct_band(const src_t* sp, out_t* op, Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw,
                       const int64_t* bd, const int64_t* bj, const dacc_t* b0, const dacc_t* b1, Py_ssize_t nb,
                       const int64_t* d0, const int64_t* j0, const dacc_t* c0, Py_ssize_t n0,
                       const int64_t* d1, const int64_t* j1, const dacc_t* c1, Py_ssize_t n1,
                       Py_ssize_t ax, const int64_t* row_map, const int64_t* col_map, dacc_t cval, int policy,
                       dacc_t delta, dacc_t lo, dacc_t hi, bint paired, Py_ssize_t chunk, Py_ssize_t y0,
                       Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1,
                       dacc_t* ring, dacc_t** ptrs) noexcept nogil:
    """Output rows [y0, y1) of the strip of columns [x0, x1), one row at a time or (`paired`, y0 even) in pairs
    (y, y + 1); the strip's padded rows stream through a ring of kh + 1 rows.

    When paired, every even row is summed as the first of a pair and every odd row as the second, whatever the
    band, so the summation order (and so the result) depends neither on the thread count nor on the strips.
    """
    cdef Py_ssize_t SW = x1 - x0, SPW = (x1 - x0 + kw - 1 + 31) & ~31, R = kh + 1, y, t, last
    cdef Py_ssize_t filled = y0          # next padded row to load
    cdef bint second
    cdef dacc_t** pb = ptrs
    cdef dacc_t** p0 = ptrs + nb
    cdef dacc_t** p1 = ptrs + nb + n0
    y = y0
    while y < y1:
        second = paired and y + 1 < y1
        last = y + kh if second else y + kh - 1
        while filled <= last:
            _fill_segment(sp, W, ax, row_map, col_map, cval, filled, x0, x1 + kw - 1, ring + (filled % R) * SPW)
            filled += 1
        for t in range(nb):
            pb[t] = ring + ((y + bd[t]) % R) * SPW + bj[t]
        for t in range(n0):
            p0[t] = ring + ((y + d0[t]) % R) * SPW + j0[t]
        for t in range(n1):
            p1[t] = ring + ((y + d1[t]) % R) * SPW + j1[t]
        _pair_row(op + y * W + x0, op + (y + 1) * W + x0 if second else op, second, SW, chunk, pb, b0, b1, nb,
                  p0, c0, n0, p1, c1, n1, policy, delta, lo, hi)
        y += 2 if paired else 1


cdef inline void* _cache_line(void* block) noexcept nogil:
    """The first 64-byte boundary in `block` (allocated 64 bytes larger), or NULL: vector loads of rows that
    start there never straddle two cache lines."""
    if block == NULL:
        return NULL
    return <void*>((<uintptr_t>block + 63) & ~(<uintptr_t>63))


cdef inline const int64_t* _i64(const int64_t[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] else NULL


def correlate(const src_t[:, ::1] src, Py_ssize_t kh, Py_ssize_t kw,
              const int64_t[::1] both_d, const int64_t[::1] both_j, const acc_t[::1] both_c0,
              const acc_t[::1] both_c1, const int64_t[::1] only0_d, const int64_t[::1] only0_j,
              const acc_t[::1] only0_c0, const int64_t[::1] only1_d, const int64_t[::1] only1_j,
              const acc_t[::1] only1_c1, bint paired, Py_ssize_t chunk, const int64_t[::1] row_map,
              const int64_t[::1] col_map,
              Py_ssize_t ax, double cval, out_t[:, ::1] out, int policy, double delta, double lo, double hi,
              int nthreads, Py_ssize_t strip):
    """Direct path: out = policy(sum of the kernel's non-zero taps + delta); the accumulator type is the taps'.

    `src` and `out` are non-empty and of one shape (H, W). The taps come as fastconv._paths.direct_groups makes
    them: entry (d, j) reads padded[y + d, x + j] with coefficient c0 for row y and, when `paired`, c1 for row
    y + 1 (groups: both non-zero, c0 only, c1 only; unpaired, every tap is in "c0 only"). Each row's taps are
    summed in chunks of `chunk`. Each band of rows goes in vertical strips of `strip` output columns (the
    last one narrower), which bounds the ring's size. `row_map` has H + kh - 1 entries and
    `col_map` W + kw - 1, each a source index or -1 for `cval`; `ax` is the anchor column.
    """
    cdef Py_ssize_t H = out.shape[0], W = out.shape[1]
    cdef Py_ssize_t SW = min(max(strip, 1), W)
    cdef Py_ssize_t nstrips = (W + SW - 1) // SW
    cdef Py_ssize_t nb = both_c0.shape[0], n0 = only0_c0.shape[0], n1 = only1_c1.shape[0]
    cdef Py_ssize_t step = 2 if paired else 1
    cdef Py_ssize_t npairs = (H + step - 1) // step
    cdef Py_ssize_t nbands = min(npairs, 4 * nthreads) if nthreads > 1 else 1
    cdef Py_ssize_t b, s
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef acc_t* ring
    cdef void* ring_block
    cdef acc_t** ptrs
    cdef const src_t* sp = &src[0, 0]
    cdef out_t* op = &out[0, 0]
    cdef const int64_t* bd = _i64(both_d)
    cdef const int64_t* bj = _i64(both_j)
    cdef const int64_t* d0 = _i64(only0_d)
    cdef const int64_t* j0 = _i64(only0_j)
    cdef const int64_t* d1 = _i64(only1_d)
    cdef const int64_t* j1 = _i64(only1_j)
    cdef const acc_t* b0 = &both_c0[0] if nb else NULL
    cdef const acc_t* b1 = &both_c1[0] if nb else NULL
    cdef const acc_t* c0 = &only0_c0[0] if n0 else NULL
    cdef const acc_t* c1 = &only1_c1[0] if n1 else NULL
    cdef const int64_t* rmap = &row_map[0]
    cdef const int64_t* cmap = &col_map[0]
    cdef acc_t cval_a = <acc_t>cval, delta_a = <acc_t>delta, lo_a = <acc_t>lo, hi_a = <acc_t>hi
    with nogil, parallel(num_threads=nthreads):
        ring_block = PyMem_RawMalloc((kh + 1) * ((SW + kw - 1 + 31) & ~31) * sizeof(acc_t) + 64)
        ring = <acc_t*>_cache_line(ring_block)     # rows start on cache lines (_direct_band's stride)
        ptrs = <acc_t**>PyMem_RawMalloc((nb + n0 + n1 + 1) * sizeof(acc_t*))
        if ring == NULL or ptrs == NULL:
            failed_p[0] = 1
        for b in prange(nbands, schedule="dynamic"):
            if ring != NULL and ptrs != NULL:
                for s in range(nstrips):
                    _direct_band(sp, op, W, kh, kw, bd, bj, b0, b1, nb, d0, j0, c0, n0, d1, j1, c1, n1, ax, rmap,
                                 cmap, cval_a, policy, delta_a, lo_a, hi_a, paired, chunk,
                                 step * (b * npairs // nbands), min(H, step * ((b + 1) * npairs // nbands)),
                                 s * SW, min(W, (s + 1) * SW), ring, ptrs)
        PyMem_RawFree(ring_block)
        PyMem_RawFree(ptrs)
    if failed:
        raise MemoryError("fastconv: could not allocate the per-thread row buffers")



def correlate_small_int(const uint8_t[:, ::1] src, Py_ssize_t kh, Py_ssize_t kw,
              const int64_t[::1] both_d, const int64_t[::1] both_j, const int16_t[::1] both_c0,
              const int16_t[::1] both_c1, const int64_t[::1] only0_d, const int64_t[::1] only0_j,
              const int16_t[::1] only0_c0, const int64_t[::1] only1_d, const int64_t[::1] only1_j,
              const int16_t[::1] only1_c1, bint paired, Py_ssize_t chunk, const int64_t[::1] row_map,
              const int64_t[::1] col_map,
              Py_ssize_t ax, double cval, out_t[:, ::1] out, int policy, double delta, double lo, double hi,
              int nthreads, Py_ssize_t strip):
    """Direct path in exact int16 arithmetic, for uint8 images and integer kernels whose sums (with `delta` and
    `cval`, both integers) stay within int16: the caller checks. Otherwise as `correlate`.

    `src` and `out` are non-empty and of one shape (H, W). The taps come as fastconv._paths.direct_groups makes
    them: entry (d, j) reads padded[y + d, x + j] with coefficient c0 for row y and, when `paired`, c1 for row
    y + 1 (groups: both non-zero, c0 only, c1 only; unpaired, every tap is in "c0 only"). Each row's taps are
    summed in chunks of `chunk`. Each band of rows goes in vertical strips of `strip` output columns (the
    last one narrower), which bounds the ring's size. `row_map` has H + kh - 1 entries and
    `col_map` W + kw - 1, each a source index or -1 for `cval`; `ax` is the anchor column.
    """
    cdef Py_ssize_t H = out.shape[0], W = out.shape[1]
    cdef Py_ssize_t SW = min(max(strip, 1), W)
    cdef Py_ssize_t nstrips = (W + SW - 1) // SW
    cdef Py_ssize_t nb = both_c0.shape[0], n0 = only0_c0.shape[0], n1 = only1_c1.shape[0]
    cdef Py_ssize_t step = 2 if paired else 1
    cdef Py_ssize_t npairs = (H + step - 1) // step
    cdef Py_ssize_t nbands = min(npairs, 4 * nthreads) if nthreads > 1 else 1
    cdef Py_ssize_t b, s
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef int16_t* ring
    cdef void* ring_block
    cdef int16_t** ptrs
    cdef const uint8_t* sp = &src[0, 0]
    cdef out_t* op = &out[0, 0]
    cdef const int64_t* bd = _i64(both_d)
    cdef const int64_t* bj = _i64(both_j)
    cdef const int64_t* d0 = _i64(only0_d)
    cdef const int64_t* j0 = _i64(only0_j)
    cdef const int64_t* d1 = _i64(only1_d)
    cdef const int64_t* j1 = _i64(only1_j)
    cdef const int16_t* b0 = &both_c0[0] if nb else NULL
    cdef const int16_t* b1 = &both_c1[0] if nb else NULL
    cdef const int16_t* c0 = &only0_c0[0] if n0 else NULL
    cdef const int16_t* c1 = &only1_c1[0] if n1 else NULL
    cdef const int64_t* rmap = &row_map[0]
    cdef const int64_t* cmap = &col_map[0]
    cdef int16_t cval_a = <int16_t>cval, delta_a = <int16_t>delta
    cdef int16_t lo_a = <int16_t>max(lo, -32768.0), hi_a = <int16_t>min(hi, 32767.0)
    with nogil, parallel(num_threads=nthreads):
        ring_block = PyMem_RawMalloc((kh + 1) * ((SW + kw - 1 + 31) & ~31) * sizeof(int16_t) + 64)
        ring = <int16_t*>_cache_line(ring_block)     # rows start on cache lines (_direct_band's stride)
        ptrs = <int16_t**>PyMem_RawMalloc((nb + n0 + n1 + 1) * sizeof(int16_t*))
        if ring == NULL or ptrs == NULL:
            failed_p[0] = 1
        for b in prange(nbands, schedule="dynamic"):
            if ring != NULL and ptrs != NULL:
                for s in range(nstrips):
                    _direct_band(sp, op, W, kh, kw, bd, bj, b0, b1, nb, d0, j0, c0, n0, d1, j1, c1, n1, ax, rmap,
                                 cmap, cval_a, policy, delta_a, lo_a, hi_a, paired, chunk,
                                 step * (b * npairs // nbands), min(H, step * ((b + 1) * npairs // nbands)),
                                 s * SW, min(W, (s + 1) * SW), ring, ptrs)
        PyMem_RawFree(ring_block)
        PyMem_RawFree(ptrs)
    if failed:
        raise MemoryError("fastconv: could not allocate the per-thread row buffers")


# ---------------------------------------------------------------------------------------------------------------
# Separable path

cdef void _separable_band(const src_t* sp, out_t* op, Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw,
                          const int64_t* hidx, const acc_t* hval, Py_ssize_t nh,
                          const int64_t* bd, const acc_t* b0, const acc_t* b1, Py_ssize_t nb,
                          const int64_t* d0, const acc_t* c0, Py_ssize_t n0,
                          const int64_t* d1, const acc_t* c1, Py_ssize_t n1,
                          Py_ssize_t ax, const int64_t* row_map, const int64_t* col_map, acc_t cval, int policy,
                          acc_t delta, acc_t lo, acc_t hi, bint paired, Py_ssize_t chunk, Py_ssize_t y0,
                          Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1, acc_t* padded, acc_t* ring,
                          acc_t** ptrs) noexcept nogil:
    """Output rows [y0, y1), columns [x0, x1): each padded row's segment is filtered with h into a ring of
    kh + 1 rows of the strip; the vertical pass sums ring rows with v like the direct path's taps of a kh x 1
    kernel, in pairs of output rows (y, y + 1) when `paired` (y0 even), so each loaded vector serves both rows.
    A strip narrow enough keeps the ring in the first-level cache."""
    cdef Py_ssize_t SW = x1 - x0, RS = (SW + 15) & ~15, R = kh + 1, y, t, last
    cdef Py_ssize_t filled = y0          # next padded row to filter
    cdef bint second
    cdef acc_t zero = 0
    cdef acc_t** pb = ptrs
    cdef acc_t** p0 = ptrs + nb
    cdef acc_t** p1 = ptrs + nb + n0
    y = y0
    while y < y1:
        second = paired and y + 1 < y1
        last = y + kh if second else y + kh - 1
        while filled <= last:
            _fill_segment(sp, W, ax, row_map, col_map, cval, filled, x0, x1 + kw - 1, padded)
            for t in range(nh):
                ptrs[t] = padded + hidx[t]
            _blocked_sum(ring + (filled % R) * RS, ptrs, hval, nh, SW, POLICY_RAW, zero, zero, zero)
            filled += 1
        for t in range(nb):
            pb[t] = ring + ((y + bd[t]) % R) * RS
        for t in range(n0):
            p0[t] = ring + ((y + d0[t]) % R) * RS
        for t in range(n1):
            p1[t] = ring + ((y + d1[t]) % R) * RS
        _pair_row(op + y * W + x0, op + (y + 1) * W + x0 if second else op, second, SW, chunk, pb, b0, b1, nb,
                  p0, c0, n0, p1, c1, n1, policy, delta, lo, hi)
        y += 2 if paired else 1


def correlate_separable(const src_t[:, ::1] src, Py_ssize_t kh, Py_ssize_t kw,
                        const int64_t[::1] h_idx, const acc_t[::1] h_val,
                        const int64_t[::1] both_d, const acc_t[::1] both_c0, const acc_t[::1] both_c1,
                        const int64_t[::1] only0_d, const acc_t[::1] only0_c0,
                        const int64_t[::1] only1_d, const acc_t[::1] only1_c1, bint paired, Py_ssize_t chunk,
                        const int64_t[::1] row_map, const int64_t[::1] col_map, Py_ssize_t ax, double cval,
                        out_t[:, ::1] out, int policy, double delta, double lo, double hi, int nthreads, Py_ssize_t strip):
    """Separable path for a kernel outer(v, h): h's non-zero entries (index, value) filter each padded row; v's
    taps come as fastconv._paths.direct_groups makes them for the kh x 1 kernel v (row offsets d only). Each
    band of rows goes in vertical strips of `strip` output columns (the last one narrower)."""
    cdef Py_ssize_t H = out.shape[0], W = out.shape[1]
    cdef Py_ssize_t SW = min(max(strip, 1), W)
    cdef Py_ssize_t nstrips = (W + SW - 1) // SW
    cdef Py_ssize_t nh = h_val.shape[0]
    cdef Py_ssize_t nb = both_c0.shape[0], n0 = only0_c0.shape[0], n1 = only1_c1.shape[0]
    cdef Py_ssize_t step = 2 if paired else 1
    cdef Py_ssize_t npairs = (H + step - 1) // step
    # each band filters kh - 1 rows more than it outputs, in each strip: one band per thread, and the threads share
    # out (band, strip) pieces
    cdef Py_ssize_t nbands = min(npairs, nthreads) if nthreads > 1 else 1
    cdef Py_ssize_t b, s, piece
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef acc_t* padded
    cdef acc_t* ring
    cdef void* ring_block
    cdef acc_t** ptrs
    cdef const src_t* sp = &src[0, 0]
    cdef out_t* op = &out[0, 0]
    cdef const int64_t* hidx = &h_idx[0]
    cdef const acc_t* hval = &h_val[0]
    cdef const int64_t* bd = _i64(both_d)
    cdef const int64_t* d0 = _i64(only0_d)
    cdef const int64_t* d1 = _i64(only1_d)
    cdef const acc_t* b0 = &both_c0[0] if nb else NULL
    cdef const acc_t* b1 = &both_c1[0] if nb else NULL
    cdef const acc_t* c0 = &only0_c0[0] if n0 else NULL
    cdef const acc_t* c1 = &only1_c1[0] if n1 else NULL
    cdef const int64_t* rmap = &row_map[0]
    cdef const int64_t* cmap = &col_map[0]
    cdef acc_t cval_a = <acc_t>cval, delta_a = <acc_t>delta, lo_a = <acc_t>lo, hi_a = <acc_t>hi
    with nogil, parallel(num_threads=nthreads):
        padded = <acc_t*>PyMem_RawMalloc((SW + kw - 1) * sizeof(acc_t))
        ring_block = PyMem_RawMalloc((kh + 1) * ((SW + 15) & ~15) * sizeof(acc_t) + 64)
        ring = <acc_t*>_cache_line(ring_block)
        ptrs = <acc_t**>PyMem_RawMalloc((nh + nb + n0 + n1 + 1) * sizeof(acc_t*))
        if padded == NULL or ring == NULL or ptrs == NULL:
            failed_p[0] = 1
        for piece in prange(nbands * nstrips, schedule="dynamic"):
            if padded != NULL and ring != NULL and ptrs != NULL:
                b = piece // nstrips
                s = piece % nstrips
                _separable_band(sp, op, W, kh, kw, hidx, hval, nh, bd, b0, b1, nb, d0, c0, n0, d1, c1, n1,
                                ax, rmap, cmap, cval_a, policy, delta_a, lo_a, hi_a, paired, chunk,
                                step * (b * npairs // nbands), min(H, step * ((b + 1) * npairs // nbands)),
                                s * SW, min(W, (s + 1) * SW), padded, ring, ptrs)
        PyMem_RawFree(padded)
        PyMem_RawFree(ring_block)
        PyMem_RawFree(ptrs)
    if failed:
        raise MemoryError("fastconv: could not allocate the per-thread row buffers")


# ---------------------------------------------------------------------------------------------------------------
# FFT path: overlap-save on square n x n tiles, for large dense kernels
#
# Two horizontally adjacent input tiles go in one complex tile (the first as the real part, the second as the
# imaginary part): the kernel is real, so the real and imaginary parts of the result are the two tiles' results.
# Each tile row holds its real parts then its imaginary parts, and every 1-D transform runs along axis 0, where a
# butterfly combines whole rows: its inner loop runs along the row and vectorises. The second axis is transformed
# after an in-place transpose.
# The forward transform decimates in frequency (natural order in, bit-reversed order out) and the inverse decimates
# in time (bit-reversed in, natural out), so no reordering pass is needed: the caller stores the kernel's spectrum
# transposed and bit-reversed on both axes, scaled by 1 / n**2, and conjugated-flipped for correlation.

cdef inline void _twiddle_rows(acc_t* ar_p, acc_t* br_p, acc_t wr, acc_t wi, Py_ssize_t n, bint dif) noexcept nogil:
    """One radix-2 butterfly between rows a and b, along the row: (a + b, (a - b) w) when `dif`, else
    (a + w b, a - w b)."""
    cdef Py_ssize_t x
    cdef acc_t ar, ai, br, bi, dr, di
    cdef acc_t* ai_p = ar_p + n
    cdef acc_t* bi_p = br_p + n
    for x in range(n):
        ar = ar_p[x]
        ai = ai_p[x]
        br = br_p[x]
        bi = bi_p[x]
        if dif:
            ar_p[x] = ar + br
            ai_p[x] = ai + bi
            dr = ar - br
            di = ai - bi
            br_p[x] = _fma(dr, wr, -(di * wi))
            bi_p[x] = _fma(dr, wi, di * wr)
        else:
            dr = _fma(br, wr, -(bi * wi))
            di = _fma(br, wi, bi * wr)
            ar_p[x] = ar + dr
            ai_p[x] = ai + di
            br_p[x] = ar - dr
            bi_p[x] = ai - di


cdef inline void _radix2_stage(acc_t* t, Py_ssize_t n, Py_ssize_t half, const acc_t* twr,
                               const acc_t* twi, bint dif) noexcept nogil:
    """The radix-2 stage whose butterflies pair rows `half` apart (twiddles conjugated for the inverse)."""
    cdef Py_ssize_t b, k, row, step = n // (2 * half)
    cdef acc_t sign = 1 if dif else -1
    for b in range(n // (2 * half)):
        for k in range(half):
            row = 2 * half * b + k
            _twiddle_rows(t + row * 2 * n, t + (row + half) * 2 * n, twr[k * step], sign * twi[k * step], n, dif)


cdef inline void _radix4_stages(acc_t* t, Py_ssize_t n, Py_ssize_t q, const acc_t* twr,
                                const acc_t* twi, bint dif) noexcept nogil:
    """The two radix-2 stages pairing rows 2q and q apart (in that order when `dif`, the reverse otherwise), fused:
    each group of four rows k, k + q, k + 2q, k + 3q is loaded once for both. The same operations as the two
    separate stages, in registers instead of memory."""
    cdef Py_ssize_t b, k, x, r0, step = n // (4 * q)
    cdef acc_t w1r, w1i, w2r, w2i, w3r, w3i, sign = 1 if dif else -1
    cdef acc_t x0r, x0i, x1r, x1i, x2r, x2i, x3r, x3i, dr, di, er, ei
    cdef acc_t* p0r
    cdef acc_t* p0i
    cdef acc_t* p1r
    cdef acc_t* p1i
    cdef acc_t* p2r
    cdef acc_t* p2i
    cdef acc_t* p3r
    cdef acc_t* p3i
    for b in range(n // (4 * q)):
        for k in range(q):
            r0 = 4 * q * b + k
            p0r = t + r0 * 2 * n
            p1r = p0r + q * 2 * n
            p2r = p1r + q * 2 * n
            p3r = p2r + q * 2 * n
            p0i = p0r + n
            p1i = p1r + n
            p2i = p2r + n
            p3i = p3r + n
            w1r = twr[k * step]                 # W_4q^k: pairs (k, k + 2q)
            w1i = sign * twi[k * step]
            w3r = twr[(k + q) * step]           # W_4q^(k+q): pairs (k + q, k + 3q)
            w3i = sign * twi[(k + q) * step]
            w2r = twr[2 * k * step]             # W_2q^k: pairs (k, k + q) and (k + 2q, k + 3q)
            w2i = sign * twi[2 * k * step]
            if dif:
                for x in range(n):
                    x0r = p0r[x]
                    x0i = p0i[x]
                    x1r = p1r[x]
                    x1i = p1i[x]
                    x2r = p2r[x]
                    x2i = p2i[x]
                    x3r = p3r[x]
                    x3i = p3i[x]
                    # stage pairing rows 2q apart
                    dr = x0r - x2r
                    di = x0i - x2i
                    x0r = x0r + x2r
                    x0i = x0i + x2i
                    x2r = _fma(dr, w1r, -(di * w1i))
                    x2i = _fma(dr, w1i, di * w1r)
                    dr = x1r - x3r
                    di = x1i - x3i
                    x1r = x1r + x3r
                    x1i = x1i + x3i
                    x3r = _fma(dr, w3r, -(di * w3i))
                    x3i = _fma(dr, w3i, di * w3r)
                    # stage pairing rows q apart
                    dr = x0r - x1r
                    di = x0i - x1i
                    p0r[x] = x0r + x1r
                    p0i[x] = x0i + x1i
                    p1r[x] = _fma(dr, w2r, -(di * w2i))
                    p1i[x] = _fma(dr, w2i, di * w2r)
                    dr = x2r - x3r
                    di = x2i - x3i
                    p2r[x] = x2r + x3r
                    p2i[x] = x2i + x3i
                    p3r[x] = _fma(dr, w2r, -(di * w2i))
                    p3i[x] = _fma(dr, w2i, di * w2r)
            else:
                for x in range(n):
                    x0r = p0r[x]
                    x0i = p0i[x]
                    x1r = p1r[x]
                    x1i = p1i[x]
                    x2r = p2r[x]
                    x2i = p2i[x]
                    x3r = p3r[x]
                    x3i = p3i[x]
                    # stage pairing rows q apart
                    er = _fma(x1r, w2r, -(x1i * w2i))
                    ei = _fma(x1r, w2i, x1i * w2r)
                    x1r = x0r - er
                    x1i = x0i - ei
                    x0r = x0r + er
                    x0i = x0i + ei
                    er = _fma(x3r, w2r, -(x3i * w2i))
                    ei = _fma(x3r, w2i, x3i * w2r)
                    x3r = x2r - er
                    x3i = x2i - ei
                    x2r = x2r + er
                    x2i = x2i + ei
                    # stage pairing rows 2q apart
                    er = _fma(x2r, w1r, -(x2i * w1i))
                    ei = _fma(x2r, w1i, x2i * w1r)
                    p0r[x] = x0r + er
                    p0i[x] = x0i + ei
                    p2r[x] = x0r - er
                    p2i[x] = x0i - ei
                    er = _fma(x3r, w3r, -(x3i * w3i))
                    ei = _fma(x3r, w3i, x3i * w3r)
                    p1r[x] = x1r + er
                    p1i[x] = x1i + ei
                    p3r[x] = x1r - er
                    p3i[x] = x1i - ei


cdef void _dif(acc_t* t, Py_ssize_t n, const acc_t* twr, const acc_t* twi) noexcept nogil:
    """Forward DFT of each column of an n x n tile (butterflies between rows), decimating in frequency: natural
    order in, bit-reversed order out. Twiddles tw[k] = exp(-2 pi i k / n), k < n / 2."""
    cdef Py_ssize_t half = n // 2, stages = 0
    while (1 << stages) < n:
        stages += 1
    if stages % 2:
        _radix2_stage(t, n, half, twr, twi, True)
        half //= 2
    while half >= 2:
        _radix4_stages(t, n, half // 2, twr, twi, True)
        half //= 4


cdef void _dit_inverse(acc_t* t, Py_ssize_t n, const acc_t* twr, const acc_t* twi) noexcept nogil:
    """Unscaled inverse DFT of each column (bit-reversed in, natural out): _dif undone, times n."""
    cdef Py_ssize_t q = 1
    while 4 * q <= n:
        _radix4_stages(t, n, q, twr, twi, False)
        q *= 4
    if q < n:
        _radix2_stage(t, n, q, twr, twi, False)


cdef void _transpose(acc_t* a, Py_ssize_t n, Py_ssize_t stride) noexcept nogil:
    """Transpose the n x n matrix at `a` (rows `stride` apart) in place, in 8 x 8 blocks."""
    cdef Py_ssize_t i0, j0, i, j
    cdef acc_t t
    for i0 in range(0, n, 8):
        for j0 in range(i0, n, 8):
            if i0 == j0:
                for i in range(i0, i0 + 8):
                    for j in range(i + 1, i0 + 8):
                        t = a[i * stride + j]
                        a[i * stride + j] = a[j * stride + i]
                        a[j * stride + i] = t
            else:
                for i in range(i0, i0 + 8):
                    for j in range(j0, j0 + 8):
                        t = a[i * stride + j]
                        a[i * stride + j] = a[j * stride + i]
                        a[j * stride + i] = t


cdef bint _fill_tile_plane(const src_t* sp, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t ax,
                           const int64_t* row_map, const int64_t* col_map, acc_t cval, Py_ssize_t ty,
                           Py_ssize_t tx, Py_ssize_t n, acc_t limit, acc_t* plane) noexcept nogil:
    """Padded rows [ty, ty + n), columns [tx, tx + n) into the plane (rows 2n apart; zeros past the padded image);
    False when a float sample is not finite or exceeds `limit` in magnitude (the tile cannot be trusted to the
    FFT)."""
    cdef Py_ssize_t r, c, PH = H + kh - 1, PW = W + kw - 1, c1 = min(tx + n, PW), ok = 0
    cdef acc_t* row
    cdef acc_t v
    for r in range(n):
        row = plane + r * 2 * n
        if ty + r >= PH or tx >= PW:
            for c in range(n):
                row[c] = 0
            continue
        _fill_segment(sp, W, ax, row_map, col_map, cval, ty + r, tx, c1, row)
        for c in range(c1 - tx, n):
            row[c] = 0
        if src_t is float or src_t is double:
            ok = 0
            for c in range(n):
                v = row[c]
                ok += (v <= limit) & (v >= -limit)
            if ok != n:
                return False
    return True


cdef bint _fft_pair(const src_t* sp, out_t* op, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw,
                    Py_ssize_t ax, const int64_t* row_map, const int64_t* col_map, acc_t cval, Py_ssize_t n,
                    const acc_t* sr, const acc_t* si, const acc_t* twr, const acc_t* twi, int policy, acc_t delta,
                    acc_t lo, acc_t hi, acc_t limit, Py_ssize_t ty, Py_ssize_t tx, acc_t* t) noexcept nogil:
    """Output rows [ty, ty + V), columns [tx, tx + 2 U) (V = n - kh + 1, U = n - kw + 1), clipped to the image.

    The complex tile `t` has n rows of 2n: the real parts, then the imaginary parts (so a butterfly's four rows
    are four pointers, few enough for the compiler's run-time overlap checks, and it vectorises)."""
    cdef Py_ssize_t V = n - kh + 1, U = n - kw + 1, r, x, rows = min(V, H - ty)
    cdef bint second = tx + U < W
    cdef acc_t xr, xi, gr, gi
    cdef acc_t* row
    cdef const acc_t* sr_row
    cdef const acc_t* si_row
    if not _fill_tile_plane(sp, H, W, kh, kw, ax, row_map, col_map, cval, ty, tx, n, limit, t):
        return False
    if not _fill_tile_plane(sp, H, W, kh, kw, ax, row_map, col_map, cval, ty, tx + U, n, limit, t + n):
        return False
    _dif(t, n, twr, twi)
    _transpose(t, n, 2 * n)
    _transpose(t + n, n, 2 * n)
    _dif(t, n, twr, twi)
    for r in range(n):
        row = t + r * 2 * n
        sr_row = sr + r * n
        si_row = si + r * n
        for x in range(n):
            xr = row[x]
            xi = row[n + x]
            gr = sr_row[x]
            gi = si_row[x]
            row[x] = _fma(xr, gr, -(xi * gi))
            row[n + x] = _fma(xr, gi, xi * gr)
    _dit_inverse(t, n, twr, twi)
    _transpose(t, n, 2 * n)
    _transpose(t + n, n, 2 * n)
    _dit_inverse(t, n, twr, twi)
    for r in range(rows):
        _store(t + r * 2 * n, op + (ty + r) * W + tx, min(U, W - tx), policy, delta, lo, hi)
        if second:
            _store(t + r * 2 * n + n, op + (ty + r) * W + tx + U, min(U, W - tx - U), policy, delta, lo, hi)
    return True


def correlate_fft(const src_t[:, ::1] src, Py_ssize_t kh, Py_ssize_t kw, const acc_t[:, ::1] spec_re,
                  const acc_t[:, ::1] spec_im, const acc_t[::1] tw_re, const acc_t[::1] tw_im,
                  const int64_t[::1] row_map, const int64_t[::1] col_map, Py_ssize_t ax, double cval,
                  out_t[:, ::1] out, int policy, double delta, double lo, double hi, double limit, int nthreads):
    """FFT path: out = policy(correlation + delta) by overlap-save on n x n tiles (n = spec_re.shape[0], a power
    of two from 8 up, n > kh and n > kw), two tiles per complex transform; spectra and twiddles (tw[k] =
    exp(-2 pi i k / n), k < n / 2) as fastconv._paths.fft_spectrum makes them. Returns False, with `out`
    incomplete, when a float image holds a sample that is not finite or exceeds `limit` in magnitude: one such
    sample would spoil its whole tile, so the caller takes the direct path instead."""
    cdef Py_ssize_t H = out.shape[0], W = out.shape[1], n = spec_re.shape[0]
    cdef Py_ssize_t V = n - kh + 1, U = n - kw + 1
    cdef Py_ssize_t nty = (H + V - 1) // V, npx = (W + 2 * U - 1) // (2 * U)
    cdef Py_ssize_t items = nty * npx, it
    cdef int failed = 0, bad = 0
    cdef int* failed_p = &failed
    cdef int* bad_p = &bad
    cdef acc_t* tile
    cdef void* block
    cdef const src_t* sp = &src[0, 0]
    cdef out_t* op = &out[0, 0]
    cdef const acc_t* sr = &spec_re[0, 0]
    cdef const acc_t* si = &spec_im[0, 0]
    cdef const acc_t* twr = &tw_re[0]
    cdef const acc_t* twi = &tw_im[0]
    cdef const int64_t* rmap = &row_map[0]
    cdef const int64_t* cmap = &col_map[0]
    cdef acc_t cval_a = <acc_t>cval, delta_a = <acc_t>delta, lo_a = <acc_t>lo, hi_a = <acc_t>hi
    cdef acc_t limit_a = <acc_t>limit
    with nogil, parallel(num_threads=nthreads):
        block = PyMem_RawMalloc(2 * n * n * sizeof(acc_t) + 64)
        tile = <acc_t*>_cache_line(block)       # rows of 2n >= 32 samples: every row on a cache line boundary
        if tile == NULL:
            failed_p[0] = 1
        for it in prange(items, schedule="dynamic"):
            if tile != NULL and not bad_p[0]:
                if not _fft_pair(sp, op, H, W, kh, kw, ax, rmap, cmap, cval_a, n, sr, si, twr, twi, policy,
                                 delta_a, lo_a, hi_a, limit_a, (it // npx) * V, (it % npx) * 2 * U, tile):
                    bad_p[0] = 1
        PyMem_RawFree(block)
    if failed:
        raise MemoryError("fastconv: could not allocate the per-thread tiles")
    return not bad


# ---------------------------------------------------------------------------------------------------------------
# Box path: exact integer sums

cdef inline void _add_int_row(int32_t* colsum, const int_src_t* sp, Py_ssize_t W, Py_ssize_t PW, Py_ssize_t ax,
                              const int64_t* row_map, const int64_t* col_map, int32_t cval, Py_ssize_t p,
                              bint subtract) noexcept nogil:
    """colsum += padded row p (or -= when `subtract`), read straight from the source row."""
    cdef Py_ssize_t r = row_map[p], c, m
    cdef const int_src_t* s
    cdef int32_t sign = -1 if subtract else 1
    if r < 0:
        for c in range(PW):
            colsum[c] += sign * cval
        return
    s = sp + r * W
    for c in range(ax):
        m = col_map[c]
        colsum[c] += sign * (cval if m < 0 else <int32_t>s[m])
    if subtract:
        for c in range(W):
            colsum[ax + c] -= <int32_t>s[c]
    else:
        for c in range(W):
            colsum[ax + c] += <int32_t>s[c]
    for c in range(ax + W, PW):
        m = col_map[c]
        colsum[c] += sign * (cval if m < 0 else <int32_t>s[m])


cdef inline void _window_sums(const box_sum_t* col, Py_ssize_t W, Py_ssize_t kw, box_sum_t* a, box_sum_t* b,
                              box_sum_t* res) noexcept nogil:
    """res[x] = sum of col[x .. x + kw - 1] by doubling: O(log kw) vector passes instead of kw (wide windows)."""
    cdef Py_ssize_t x, width = 1, offset, n = W + kw - 1
    cdef const box_sum_t* cur = col
    cdef box_sum_t* nxt = a
    cdef box_sum_t* spare = b
    offset = 1 if kw & 1 else 0
    for x in range(W):
        res[x] = col[x] if kw & 1 else 0
    while 2 * width <= kw:
        for x in range(n - 2 * width + 1):       # windows of 2 * width from two of width
            nxt[x] = cur[x] + cur[x + width]
        cur = nxt
        nxt = spare
        spare = <box_sum_t*>cur
        width *= 2
        if kw & width:
            for x in range(W):
                res[x] += cur[x + offset]
            offset += width


cdef void _box_row(const int32_t* colsum, out_t* o, Py_ssize_t W, Py_ssize_t kw, acc_t scale, bint divide,
                   int policy, acc_t delta, acc_t lo, acc_t hi, int32_t* a, int32_t* b, int32_t* res) noexcept nogil:
    """One output row from the column sums: horizontal window sums, scaled, stored by the output policy.

    Narrow windows are summed in registers a block of columns at a time; wide ones by doubling (`_window_sums`).
    """
    cdef int32_t acc[FC_BLOCK_F]
    cdef acc_t done[FC_BLOCK_F]
    cdef Py_ssize_t x0 = 0, n, u, j
    cdef bint narrow = kw <= 8
    if not narrow:
        _window_sums(colsum, W, kw, a, b, res)
    while x0 < W:
        n = min(<Py_ssize_t>FC_BLOCK_F, W - x0)
        if narrow and n == FC_BLOCK_F:
            for u in range(FC_BLOCK_F):
                acc[u] = colsum[x0 + u]
            for j in range(1, kw):
                for u in range(FC_BLOCK_F):
                    acc[u] += colsum[x0 + j + u]
            if divide:
                for u in range(FC_BLOCK_F):
                    done[u] = <acc_t>acc[u] / scale
            else:
                for u in range(FC_BLOCK_F):
                    done[u] = <acc_t>acc[u] * scale
        else:
            if narrow:
                for u in range(n):
                    res[x0 + u] = colsum[x0 + u]
                for j in range(1, kw):
                    for u in range(n):
                        res[x0 + u] += colsum[x0 + j + u]
            if divide:
                for u in range(n):
                    done[u] = <acc_t>res[x0 + u] / scale
            else:
                for u in range(n):
                    done[u] = <acc_t>res[x0 + u] * scale
        _store(done, o + x0, n, policy, delta, lo, hi)
        x0 += n


cdef void _box_band(const int_src_t* sp, out_t* op, Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t ax,
                    const int64_t* row_map, const int64_t* col_map, int32_t cval, acc_t scale, bint divide,
                    int policy, acc_t delta, acc_t lo, acc_t hi, Py_ssize_t y0, Py_ssize_t y1,
                    int32_t* colsum, int32_t* a, int32_t* b, int32_t* res) noexcept nogil:
    cdef Py_ssize_t PW = W + kw - 1, p, y, x
    for x in range(PW):
        colsum[x] = 0
    for p in range(y0, y0 + kh):
        _add_int_row(colsum, sp, W, PW, ax, row_map, col_map, cval, p, False)
    for y in range(y0, y1):
        if y > y0:      # slide the column sums down one row: add the new padded row, drop the old one
            _add_int_row(colsum, sp, W, PW, ax, row_map, col_map, cval, y + kh - 1, False)
            _add_int_row(colsum, sp, W, PW, ax, row_map, col_map, cval, y - 1, True)
        _box_row(colsum, op + y * W, W, kw, scale, divide, policy, delta, lo, hi, a, b, res)


def box_filter(const int_src_t[:, ::1] src, Py_ssize_t kh, Py_ssize_t kw, const int64_t[::1] row_map,
               const int64_t[::1] col_map, Py_ssize_t ax, int cval, const acc_t[::1] scale, bint divide,
               out_t[:, ::1] out, int policy, double delta, double lo, double hi, int nthreads):
    """Box path: out = policy(S / scale + delta) if `divide` else policy(S * scale + delta), S the exact integer
    sum of the kh x kw window (|S| must fit in int32: the caller checks). `scale` is a one-element array whose
    dtype is the type of the final division or product: float32 only where every S is exact in float32."""
    cdef Py_ssize_t H = out.shape[0], W = out.shape[1], PW = W + kw - 1
    cdef Py_ssize_t nbands = min(H, 4 * nthreads) if nthreads > 1 else 1
    cdef Py_ssize_t b
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef int32_t* work
    cdef const int_src_t* sp = &src[0, 0]
    cdef out_t* op = &out[0, 0]
    cdef const int64_t* rmap = &row_map[0]
    cdef const int64_t* cmap = &col_map[0]
    cdef acc_t scale_a = scale[0], delta_a = <acc_t>delta, lo_a = <acc_t>lo, hi_a = <acc_t>hi
    with nogil, parallel(num_threads=nthreads):
        work = <int32_t*>PyMem_RawMalloc(4 * PW * sizeof(int32_t))
        if work == NULL:
            failed_p[0] = 1
        for b in prange(nbands, schedule="dynamic"):
            if work != NULL:
                _box_band(sp, op, W, kh, kw, ax, rmap, cmap, cval, scale_a, divide, policy, delta_a, lo_a, hi_a,
                          b * H // nbands, (b + 1) * H // nbands, work, work + PW, work + 2 * PW, work + 3 * PW)
        PyMem_RawFree(work)
    if failed:
        raise MemoryError("fastconv: could not allocate the per-thread row buffers")


cdef void _box_band_u8(const uint8_t* sp, out_t* op, Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t ax,
                       const int64_t* row_map, const int64_t* col_map, uint16_t cval, acc_t scale, bint divide,
                       int policy, acc_t delta, acc_t lo, acc_t hi, Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0,
                       Py_ssize_t x1, int32_t* colsum, uint16_t* padded, uint16_t* a, uint16_t* b, uint16_t* fresh,
                       uint16_t* ring) noexcept nogil:
    """The box path for uint8 images, rows first, output rows [y0, y1) and columns [x0, x1): each padded row's
    window sums in uint16 (twice the lanes of int32; kw * 255 fits), kept in a ring of kh rows; the column sums
    slide down by the newest row's sums minus the oldest's."""
    cdef Py_ssize_t SW = x1 - x0, RS = (SW + 31) & ~31, c0 = x0, c1 = x1 + kw - 1, p, y, x, c, m, r, b0, n, u
    cdef uint16_t* old
    cdef uint16_t v
    cdef const uint8_t* s
    cdef acc_t done[FC_BLOCK_F]
    for x in range(SW):
        colsum[x] = 0
    for p in range(y0, y1 + kh - 1):
        r = row_map[p]
        if r < 0:
            for c in range(c1 - c0):
                padded[c] = cval
        else:
            s = sp + r * W
            for c in range(c0, min(c1, ax)):
                m = col_map[c]
                padded[c - c0] = cval if m < 0 else s[m]
            for c in range(max(c0, ax), min(c1, ax + W)):
                padded[c - c0] = s[c - ax]
            for c in range(max(c0, ax + W), c1):
                m = col_map[c]
                padded[c - c0] = cval if m < 0 else s[m]
        _window_sums(padded, SW, kw, a, b, fresh)
        old = ring + (p % kh) * RS
        if p < y0 + kh:
            for x in range(SW):
                v = fresh[x]
                colsum[x] += v
                old[x] = v
        else:           # the ring slot holds padded row p - kh, which leaves the window
            for x in range(SW):
                v = fresh[x]
                colsum[x] += <int32_t>v - <int32_t>old[x]
                old[x] = v
        if p < y0 + kh - 1:
            continue
        y = p - kh + 1
        b0 = 0
        while b0 < SW:
            n = min(<Py_ssize_t>FC_BLOCK_F, SW - b0)
            if divide:
                for u in range(n):
                    done[u] = <acc_t>colsum[b0 + u] / scale
            else:
                for u in range(n):
                    done[u] = <acc_t>colsum[b0 + u] * scale
            _store(done, op + y * W + x0 + b0, n, policy, delta, lo, hi)
            b0 += n


def box_filter_u8(const uint8_t[:, ::1] src, Py_ssize_t kh, Py_ssize_t kw, const int64_t[::1] row_map,
                  const int64_t[::1] col_map, Py_ssize_t ax, int cval, const acc_t[::1] scale, bint divide,
                  out_t[:, ::1] out, int policy, double delta, double lo, double hi, int nthreads, Py_ssize_t strip):
    """box_filter for uint8 images with kw * 255 <= 65535 and 0 <= cval <= 255 (the caller checks): the same
    exact sums, rows first in uint16. One band of rows per thread (a band sums kh - 1 rows beyond its own), in
    vertical strips of `strip` output columns, which bound the ring of kh rows."""
    cdef Py_ssize_t H = out.shape[0], W = out.shape[1]
    cdef Py_ssize_t SW = min(max(strip, 1), W), PW = (SW + kw - 1 + 31) & ~31, RS = (SW + 31) & ~31
    cdef Py_ssize_t nstrips = (W + SW - 1) // SW
    cdef Py_ssize_t nbands = min(H, nthreads) if nthreads > 1 else 1
    cdef Py_ssize_t b, s
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef int32_t* colsum
    cdef uint16_t* work
    cdef void* block
    cdef const uint8_t* sp = &src[0, 0]
    cdef out_t* op = &out[0, 0]
    cdef const int64_t* rmap = &row_map[0]
    cdef const int64_t* cmap = &col_map[0]
    cdef acc_t scale_a = scale[0], delta_a = <acc_t>delta, lo_a = <acc_t>lo, hi_a = <acc_t>hi
    with nogil, parallel(num_threads=nthreads):
        colsum = <int32_t*>PyMem_RawMalloc(SW * sizeof(int32_t))
        block = PyMem_RawMalloc((3 * PW + (kh + 1) * RS) * sizeof(uint16_t) + 64)
        work = <uint16_t*>_cache_line(block)       # every row below starts on a cache line
        if colsum == NULL or work == NULL:
            failed_p[0] = 1
        for b in prange(nbands, schedule="dynamic"):
            if colsum != NULL and work != NULL:
                for s in range(nstrips):
                    _box_band_u8(sp, op, W, kh, kw, ax, rmap, cmap, <uint16_t>cval, scale_a, divide, policy,
                                 delta_a, lo_a, hi_a, b * H // nbands, (b + 1) * H // nbands, s * SW,
                                 min(W, (s + 1) * SW), colsum, work, work + PW, work + 2 * PW, work + 3 * PW,
                                 work + 3 * PW + RS)
        PyMem_RawFree(colsum)
        PyMem_RawFree(block)
    if failed:
        raise MemoryError("fastconv: could not allocate the per-thread row buffers")
