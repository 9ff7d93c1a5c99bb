# The separable path: a kernel that is a sum of r <= 3 outer products outer(v_k, h_k) (r = 1: separable; r = 2 or
# 3: the low-rank path) as horizontal passes with each h_k into a ring of filtered rows per term, then one vertical
# pass summed like the direct path's taps of the kh x r kernel V (column k holds v_k; pairs of rows, same order).
# r (kh + kw) multiply-adds per pixel instead of kh * kw; the rings stay in the second-level cache.

DEF FC_MAX_TERMS = 3

cdef inline void _hsum(const acc_t* padded, const int64_t* hidx, const acc_t* hval, Py_ssize_t nh, Py_ssize_t SW,
                       acc_t* dst) noexcept nogil:
    """dst[x] = sum over t of hval[t] * padded[x + hidx[t]], x < SW, t in order, a register block of columns at a
    time (a quarter of the usual width where SW is narrower than half a block)."""
    cdef Py_ssize_t B = FC_BLOCK_F if acc_t is float else FC_BLOCK_D
    if 2 * SW <= B:
        _hsum_blocks(padded, hidx, hval, nh, SW, dst, B // 4)
    else:
        _hsum_blocks(padded, hidx, hval, nh, SW, dst, B)


cdef inline void _hsum_blocks(const acc_t* padded, const int64_t* hidx, const acc_t* hval, Py_ssize_t nh,
                              Py_ssize_t SW, acc_t* dst, const Py_ssize_t B) noexcept nogil:
    """_hsum in blocks of B columns. The last block ends at SW (overlapping its neighbour) or, when SW is narrower
    than a block, reads into `padded`'s slack; every block runs the same operations."""
    cdef acc_t acc[FC_BLOCK_F]
    cdef Py_ssize_t x0 = 0, t, u, n
    cdef bint last = False
    cdef acc_t kv
    cdef const acc_t* p
    while not last:
        if x0 + B >= SW:
            last = True
            x0 = SW - B if SW >= B else 0
        kv = hval[0]
        p = padded + x0 + hidx[0]
        for u in range(B):
            acc[u] = kv * p[u]
        for t in range(1, nh):
            kv = hval[t]
            p = padded + x0 + hidx[t]
            for u in range(B):
                acc[u] = acc[u] + kv * p[u]
        n = min(B, SW - x0)
        if n == B:
            for u in range(B):
                dst[x0 + u] = acc[u]
        else:
            for u in range(n):
                dst[x0 + u] = acc[u]
        x0 += B


cdef struct SepJob:
    Plane src, out
    Border border
    Output output
    Taps vtaps                  # V as direct taps of a kh x r kernel (column offset k: term k's ring)
    const int64_t* hidx[FC_MAX_TERMS]   # each h_k's non-zero entries: index and value
    const void* hval[FC_MAX_TERMS]
    Py_ssize_t nh[FC_MAX_TERMS]
    Py_ssize_t nterms, kw
    int acc
    Py_ssize_t band, nbands, strip, nstrips, rs
    size_t padded_bytes, ring_bytes


cdef void _separable_rows(const SepJob* job, const acc_t* vcoef, Py_ssize_t y0, Py_ssize_t y1,
                          Py_ssize_t x0, Py_ssize_t x1, acc_t* padded, acc_t* ring, acc_t** ptrs) noexcept nogil:
    """Output rows [y0, y1), columns [x0, x1): each padded row's segment is filtered with every h_k into term k's
    ring of kh + 1 rows of the strip, then the vertical pass sums ring rows with V."""
    cdef const Taps* tp = &job.vtaps
    cdef Py_ssize_t SW = x1 - x0, R = tp.kh + 1, y, t, last, filled = y0, base, r, k
    cdef bint second
    cdef acc_t cval = <acc_t>job.border.cval
    y = y0
    while y < y1:
        second = tp.paired and y + 1 < y1
        last = y + tp.kh if second else y + tp.kh - 1
        while filled <= last:
            _fill_any(&job.src, &job.border, filled, x0, x1 + job.kw - 1, cval, padded)
            for k in range(job.nterms):
                _hsum(padded, job.hidx[k], <const acc_t*>job.hval[k], job.nh[k], SW,
                      ring + (k * R + filled % R) * job.rs)
            filled += 1
        base = y % R
        for t in range(tp.n):
            r = base + tp.off[2 * t]
            ptrs[t] = ring + ((r - R if r >= R else r) + tp.off[2 * t + 1] * R) * job.rs
        _sum_rows(&job.out, &job.output, tp, vcoef, ptrs, y, second, x0, SW)
        y += 2 if tp.paired else 1


cdef void _separable_piece(void* ctx, Py_ssize_t piece, void* scratch) noexcept nogil:
    cdef const SepJob* job = <const SepJob*>ctx
    cdef Py_ssize_t b = piece // job.nstrips, s = piece % job.nstrips
    cdef Py_ssize_t y0 = b * job.band, y1 = min(job.out.h, y0 + job.band)
    cdef Py_ssize_t x0 = s * job.strip, x1 = min(job.out.w, x0 + job.strip)
    cdef char* ring = <char*>scratch + job.padded_bytes
    cdef void** ptrs = <void**>(ring + job.ring_bytes)
    if x1 - x0 < (FC_BLOCK_F if job.acc == KIND_F32 else FC_BLOCK_D):
        memset(scratch, 0, job.padded_bytes + job.ring_bytes)     # see _direct_piece
    if job.acc == KIND_F32:
        _separable_rows(job, <const float*>job.vtaps.coef, y0, y1, x0, x1, <float*>scratch, <float*>ring,
                        <float**>ptrs)
    else:
        _separable_rows(job, <const double*>job.vtaps.coef, y0, y1, x0, x1, <double*>scratch, <double*>ring,
                        <double**>ptrs)


def correlate_separable(src, out, h, vtaps, border, output, schedule):
    """prepare_separable(...).run(src, out)."""
    prepare_separable(src, out, h, vtaps, border, output, schedule).run(src, out)


def prepare_separable(src, out, h, vtaps, border, output, schedule):
    """Separable and low-rank paths for a kernel sum over k of outer(v_k, h_k), k < r <= 3: `h` is a tuple of r
    records (indices, values, kw): h_k's non-zero entries (values in the accumulator's type, float32 or float64)
    and its length; `vtaps` are the direct taps of the kh x r kernel whose column k is v_k
    (fastconv._taps.direct_taps); `border`, `output` and `schedule` as for `correlate`. Returns the job, Prepared
    for arrays shaped as `src` and `out`."""
    cdef list keep = []
    cdef _View vs = _View(src, False)
    cdef _View vo = _View(out, True)
    cdef _View hval
    cdef SepJob job
    cdef Py_ssize_t k
    if not 1 <= len(h) <= FC_MAX_TERMS:
        raise ValueError(f"h must hold 1 to {FC_MAX_TERMS} terms; got {len(h)}")
    job.src = vs.plane()
    job.out = vo.plane()
    job.border = _border(border, keep)
    job.output = _output(output)
    job.vtaps = _taps(vtaps, keep)
    job.nterms = len(h)
    for k in range(job.nterms):
        hval = _View(h[k][1], False)
        keep.append(hval)
        job.hidx[k] = _index(h[k][0], keep)
        job.hval[k] = hval.ptr()
        job.nh[k] = hval.length()
        if hval.length() < 1 or hval.length() != len(h[k][0]) or (k and hval.kind != job.acc):
            raise ValueError("each term of h needs as many indices as values (at least one), all in one "
                             "accumulator type")
        job.kw = h[k][2]
        job.acc = hval.kind
    if job.vtaps.kw != job.nterms:
        raise ValueError(f"vtaps must be the taps of a kh x {job.nterms} kernel; got kh x {job.vtaps.kw}")
    cdef int nthreads = schedule[0]
    job.band = max(1, <Py_ssize_t>schedule[1])
    job.strip = max(1, min(<Py_ssize_t>schedule[2], job.out.w))
    job.nbands = (job.out.h + job.band - 1) // job.band
    job.nstrips = (job.out.w + job.strip - 1) // job.strip
    job.rs = _round_up(job.strip, 16)
    cdef size_t itemsize = _itemsize(job.acc)
    cdef Py_ssize_t B = FC_BLOCK_F if job.acc == KIND_F32 else FC_BLOCK_D
    job.padded_bytes = _round_up(job.strip + job.kw - 1 + B + 16, 16) * itemsize
    job.ring_bytes = _round_up(job.nterms * (job.vtaps.kh + 1) * job.rs + _block2(job.acc) + 64, 8) * itemsize
    cdef size_t scratch = job.padded_bytes + job.ring_bytes + (job.vtaps.n + 1) * sizeof(void*)
    cdef Prepared prepared = Prepared.__new__(Prepared)
    prepared._set(_separable_piece, &job, sizeof(job), &job.src, &job.out, job.nbands * job.nstrips, nthreads,
                  scratch, vs, vo, keep)
    return prepared
