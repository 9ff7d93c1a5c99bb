# The direct path: every non-zero tap of the kernel, register-blocked, in float32, float64 or (uint8 images and
# small integer kernels) exact int16. Each output row sums its taps in the kernel's row-major order, in chunks,
# whatever its position; pairs of rows share their loads without changing that order.
#
# Taps arrive as fastconv._taps.direct_taps makes them. Entry t reads padded row y + d_t, column x + j_t, with
# coefficient c0_t for output row y and c1_t for row y + 1 (paired), in (d, j) order: row y's taps are K[d, j],
# row y + 1's are K[d - 1, j], so each row meets its taps in row-major order and a padded row loaded once serves
# both. Segments split the entries where the kind changes (both rows, row y only, row y + 1 only) and where a row's
# chunk of CHUNK taps ends; their flags say where each row's chunk starts (INIT: the first product is the sum) and
# where it is added to the row's total (FOLD; FIRST: the total is that chunk). Zero coefficients never multiply a
# sample, so NaN and inf spread through the non-zero taps alone.

cdef enum:
    SEG_BOTH = 0
    SEG_ROW0 = 1
    SEG_ROW1 = 2
    INIT0 = 1
    INIT1 = 2
    FOLD0 = 4
    FOLD1 = 8
    FIRST0 = 16
    FIRST1 = 32


cdef struct Taps:
    Py_ssize_t kh, kw, n, nsegs
    const int64_t* off          # (d, j) of each entry
    const void* coef            # (c0, c1) of each entry, in the accumulator's type
    const int64_t* segs         # (start, stop, kind, flags) of each segment
    bint paired
    int acc                     # the accumulator's kind


cdef Taps _taps(taps, list keep) except *:
    """Taps from fastconv._taps' (kh, kw, offsets, coefficients, segments, paired) record; `keep` holds the
    buffers for as long as the Taps is used."""
    cdef _View coef = _View(taps[3], False)
    cdef Taps t
    keep.append(coef)
    t.kh = taps[0]
    t.kw = taps[1]
    t.off = _index(taps[2], keep)
    t.segs = _index(taps[4], keep)
    t.n = coef.length()
    t.nsegs = len(taps[4])
    t.coef = coef.ptr()
    t.paired = taps[5]
    t.acc = coef.kind
    return t


cdef inline Py_ssize_t _block2(int kind) noexcept nogil:
    """Columns per two-row register block for an accumulator kind."""
    if kind == KIND_F32:
        return FC_BLOCK2_F
    if kind == KIND_F64:
        return FC_BLOCK2_D
    return FC_BLOCK2_I


cdef inline void _block_sums(Py_ssize_t x0, bint second, const Taps* tp, const dacc_t* coef, dacc_t** ptrs,
                             dacc_t* res0, dacc_t* res1, const Py_ssize_t B) noexcept nogil:
    """res0[u] (row y) and, if `second`, res1[u] (row y + 1) for the block of B columns from x0 (B a constant at
    each call, at most FC_BLOCK2_I).

    The block's partial sums live in local arrays whose address is never taken, so the compiler keeps them in
    vector registers across the taps; every block, full or not, runs the same operations.
    """
    cdef dacc_t acc0[FC_BLOCK2_I]
    cdef dacc_t acc1[FC_BLOCK2_I]
    cdef Py_ssize_t s, t, u, start, stop, kind, flags
    cdef bint init0, init1
    cdef dacc_t k0, k1, v
    cdef const dacc_t* p
    for s in range(tp.nsegs):
        start = tp.segs[4 * s]
        stop = tp.segs[4 * s + 1]
        kind = tp.segs[4 * s + 2]
        flags = tp.segs[4 * s + 3]
        if kind == SEG_ROW1 and not second:
            continue
        t = start
        if kind == SEG_BOTH and second:
            if flags & (INIT0 | INIT1):      # the first entry starts one row's sum, or both
                init0 = flags & INIT0
                init1 = flags & INIT1
                k0 = coef[2 * t]
                k1 = coef[2 * t + 1]
                p = ptrs[t] + x0
                for u in range(B):
                    v = p[u]
                    acc0[u] = <dacc_t>(k0 * v) if init0 else <dacc_t>(acc0[u] + k0 * v)
                    acc1[u] = <dacc_t>(k1 * v) if init1 else <dacc_t>(acc1[u] + k1 * v)
                t += 1
            while t < stop:
                k0 = coef[2 * t]
                k1 = coef[2 * t + 1]
                p = ptrs[t] + x0
                for u in range(B):
                    v = p[u]
                    acc0[u] = <dacc_t>(acc0[u] + k0 * v)
                    acc1[u] = <dacc_t>(acc1[u] + k1 * v)
                t += 1
        elif kind == SEG_ROW1:
            if flags & INIT1:
                k1 = coef[2 * t + 1]
                p = ptrs[t] + x0
                for u in range(B):
                    acc1[u] = <dacc_t>(k1 * p[u])
                t += 1
            while t < stop:
                k1 = coef[2 * t + 1]
                p = ptrs[t] + x0
                for u in range(B):
                    acc1[u] = <dacc_t>(acc1[u] + k1 * p[u])
                t += 1
        else:           # row y's taps alone (a segment for both rows when there is no second row)
            if flags & INIT0:
                k0 = coef[2 * t]
                p = ptrs[t] + x0
                for u in range(B):
                    acc0[u] = <dacc_t>(k0 * p[u])
                t += 1
            while t < stop:
                k0 = coef[2 * t]
                p = ptrs[t] + x0
                for u in range(B):
                    acc0[u] = <dacc_t>(acc0[u] + k0 * p[u])
                t += 1
        if flags & FOLD0:
            if flags & FIRST0:
                for u in range(B):
                    res0[u] = acc0[u]
            else:
                for u in range(B):
                    res0[u] = <dacc_t>(res0[u] + acc0[u])
        if second and (flags & FOLD1):
            if flags & FIRST1:
                for u in range(B):
                    res1[u] = acc1[u]
            else:
                for u in range(B):
                    res1[u] = <dacc_t>(res1[u] + acc1[u])


cdef void _sum_rows(const Plane* out, const Output* spec, const Taps* tp, const dacc_t* coef, dacc_t** ptrs,
                    Py_ssize_t y, bint second, Py_ssize_t x0, Py_ssize_t SW) noexcept nogil:
    """Output rows y (and y + 1 if `second`), columns [x0, x0 + SW), from `ptrs` (each entry's source row, at the
    strip's first column), in register blocks: a quarter of the usual width where the strip is narrower than half
    a block (small images would otherwise sum columns they never store)."""
    cdef dacc_t res0[FC_BLOCK2_I]
    cdef Py_ssize_t B = FC_BLOCK2_F if dacc_t is float else (FC_BLOCK2_D if dacc_t is double else FC_BLOCK2_I)
    cdef Py_ssize_t xb = 0, n
    if tp.nsegs == 0:           # a kernel without taps sums to zero
        for n in range(B):
            res0[n] = 0
        while xb < SW:
            n = min(B, SW - xb)
            _store(res0, n, out, y, x0 + xb, spec)
            if second:
                _store(res0, n, out, y + 1, x0 + xb, spec)
            xb += n
        return
    if 2 * SW <= B:
        _sum_blocks(out, spec, tp, coef, ptrs, y, second, x0, SW, B // 4)
    else:
        _sum_blocks(out, spec, tp, coef, ptrs, y, second, x0, SW, B)


cdef inline void _sum_blocks(const Plane* out, const Output* spec, const Taps* tp, const dacc_t* coef,
                             dacc_t** ptrs, Py_ssize_t y, bint second, Py_ssize_t x0, Py_ssize_t SW,
                             const Py_ssize_t B) noexcept nogil:
    """_sum_rows in blocks of B columns. Blocks run from the strip's left edge; the last one ends at the strip's
    right edge, overlapping its neighbour (same values), or, in a strip narrower than a block, reads into the
    buffer's slack and stores only the strip's columns."""
    cdef dacc_t res0[FC_BLOCK2_I]
    cdef dacc_t res1[FC_BLOCK2_I]
    cdef Py_ssize_t xb = 0, n
    cdef bint last = False
    while not last:
        if xb + B >= SW:
            last = True
            xb = SW - B if SW >= B else 0
        _block_sums(xb, second, tp, coef, ptrs, res0, res1, B)
        n = min(B, SW - xb)
        _store(res0, n, out, y, x0 + xb, spec)
        if second:
            _store(res1, n, out, y + 1, x0 + xb, spec)
        xb += B


cdef void _direct_rows(const Plane* src, const Plane* out, const Border* border, const Output* spec,
                       const Taps* tp, const dacc_t* coef, Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0,
                       Py_ssize_t x1, Py_ssize_t spw, dacc_t* ring, dacc_t** ptrs) noexcept nogil:
    """Output rows [y0, y1), columns [x0, x1): the padded rows the strip needs stream through a ring of kh + 1
    rows of `spw` elements (at least x1 - x0 + kw - 1, plus a block of slack after the last row)."""
    cdef Py_ssize_t SW = x1 - x0, R = tp.kh + 1, y, t, last, filled = y0, base, r
    cdef bint second
    cdef dacc_t cval = <dacc_t>border.cval
    y = y0
    while y < y1:
        second = tp.paired and y + 1 < y1
        last = y + tp.kh if second else y + tp.kh - 1
        while filled <= last:
            _fill_any(src, border, filled, x0, x1 + tp.kw - 1, cval, ring + (filled % R) * spw)
            filled += 1
        base = y % R
        for t in range(tp.n):
            r = base + tp.off[2 * t]        # (y + d) % R without a division: d <= kh < R
            ptrs[t] = ring + (r - R if r >= R else r) * spw + tp.off[2 * t + 1]
        _sum_rows(out, spec, tp, coef, ptrs, y, second, x0, SW)
        y += 2 if tp.paired else 1


cdef inline size_t _direct_scratch(const Taps* tp, Py_ssize_t spw, int acc, size_t itemsize) noexcept nogil:
    """Bytes of _direct_rows' ring (kh + 1 rows, a block of slack) and entry pointers."""
    cdef size_t ring = _round_up((tp.kh + 1) * spw + _block2(acc) + 64, 8) * itemsize
    return ring + (tp.n + 1) * sizeof(void*)


cdef struct DirectJob:
    Plane src, out
    Border border
    Output output
    Taps taps
    int acc
    Py_ssize_t band, nbands, strip, nstrips, spw
    size_t ring_bytes


cdef void _direct_piece(void* ctx, Py_ssize_t piece, void* scratch) noexcept nogil:
    cdef const DirectJob* job = <const DirectJob*>ctx
    cdef Py_ssize_t b = piece // job.nstrips, s = piece % job.nstrips
    cdef Py_ssize_t y0 = b * job.band, y1 = min(job.out.h, y0 + job.band)
    cdef Py_ssize_t x0 = s * job.strip, x1 = min(job.out.w, x0 + job.strip)
    cdef void** ptrs = <void**>(<char*>scratch + job.ring_bytes)
    if x1 - x0 < _block2(job.acc):
        # register blocks reach past the strip's columns into lanes never stored: let them hold zeros, not what
        # the buffer last held (a previous call's doubles read as float32 can be subnormal, and every multiply
        # that meets a subnormal takes a slow microcode path on many CPUs)
        memset(scratch, 0, job.ring_bytes)
    if job.acc == KIND_F32:
        _direct_rows(&job.src, &job.out, &job.border, &job.output, &job.taps, <const float*>job.taps.coef,
                     y0, y1, x0, x1, job.spw, <float*>scratch, <float**>ptrs)
    elif job.acc == KIND_F64:
        _direct_rows(&job.src, &job.out, &job.border, &job.output, &job.taps, <const double*>job.taps.coef,
                     y0, y1, x0, x1, job.spw, <double*>scratch, <double**>ptrs)
    else:
        _direct_rows(&job.src, &job.out, &job.border, &job.output, &job.taps, <const int16_t*>job.taps.coef,
                     y0, y1, x0, x1, job.spw, <int16_t*>scratch, <int16_t**>ptrs)


cdef inline size_t _itemsize(int kind) noexcept nogil:
    if kind == KIND_U8:
        return 1
    if kind == KIND_U16 or kind == KIND_I16:
        return 2
    if kind == KIND_F32:
        return 4
    return 8


def correlate(src, out, taps, border, output, schedule):
    """prepare_correlate(...).run(src, out)."""
    prepare_correlate(src, out, taps, border, output, schedule).run(src, out)


def prepare_correlate(src, out, taps, border, output, schedule):
    """Direct path: out = policy(sum of the kernel's non-zero taps + delta), in the coefficients' type (float32,
    float64, or int16 for uint8 images whose integer sums, delta and cval stay within int16: the caller checks).

    `src` and `out` are arrays of one shape, any strides: (H, W), or many planes at once, (P, H, W) or
    (P0, P1, H, W) (channels, frames), whose pieces are claimed from one pool call. `taps` as
    fastconv._taps.direct_taps makes them; `border` (row map of H + kh - 1 entries, column map of W + kw - 1,
    anchor column, cval); `output` (policy, delta, lo, hi); `schedule` (threads, band rows, strip columns): each
    plane is cut into bands x strips
    pieces, claimed by the threads as they come. Returns the job, Prepared for arrays shaped as `src` and `out`.
    """
    cdef list keep = []
    cdef _View vs = _View(src, False)
    cdef _View vo = _View(out, True)
    cdef DirectJob job
    job.src = vs.plane()
    job.out = vo.plane()
    job.border = _border(border, keep)
    job.output = _output(output)
    job.taps = _taps(taps, keep)
    job.acc = job.taps.acc
    cdef int nthreads = schedule[0]
    job.band = max(1, <Py_ssize_t>schedule[1])
    job.strip = max(1, min(<Py_ssize_t>schedule[2], job.out.w))
    job.nbands = (job.out.h + job.band - 1) // job.band
    job.nstrips = (job.out.w + job.strip - 1) // job.strip
    job.spw = _round_up(job.strip + job.taps.kw - 1, 32)
    cdef size_t itemsize = _itemsize(job.acc)
    cdef size_t scratch = _direct_scratch(&job.taps, job.spw, job.acc, itemsize)
    job.ring_bytes = _round_up((job.taps.kh + 1) * job.spw + _block2(job.acc) + 64, 8) * itemsize
    cdef Prepared prepared = Prepared.__new__(Prepared)
    prepared._set(_direct_piece, &job, sizeof(job), &job.src, &job.out, job.nbands * job.nstrips, nthreads, scratch,
                  vs, vo, keep)
    return prepared
