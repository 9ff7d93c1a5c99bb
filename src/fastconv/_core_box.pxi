# The box path: all taps equal, on integer images. The window sums are exact integers (running column sums, and
# window sums along the rows), O(1) per pixel whatever the size; the mean or the product with the tap value is
# computed once per pixel. uint8 images go rows first, summing each row's windows in uint16 (twice int32's lanes).

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


cdef struct BoxJob:
    Plane src, out
    Border border
    Output output
    Py_ssize_t kh, kw
    double scale
    bint divide                 # S / scale, else S * scale
    bint f64                    # the division or product in float64 (else float32, where it gives the same)
    bint rows_first             # uint8 images: window sums of each row first, in uint16
    Py_ssize_t band, nbands, strip, nstrips


cdef void _box_store(const BoxJob* job, const int32_t* sums, Py_ssize_t n, Py_ssize_t y, Py_ssize_t x,
                     acc_t scale) noexcept nogil:
    """Output pixels (y, x .. x + n - 1) from their exact window sums: scaled, then stored by the policy."""
    cdef acc_t done[STORE_MAX]
    cdef Py_ssize_t x0 = 0, m, u
    while x0 < n:
        m = min(n - x0, <Py_ssize_t>STORE_MAX)
        if job.divide:
            for u in range(m):
                done[u] = <acc_t>sums[x0 + u] / scale
        else:
            for u in range(m):
                done[u] = <acc_t>sums[x0 + u] * scale
        _store(done, m, &job.out, y, x + x0, &job.output)
        x0 += m


cdef void _box_sums(const int32_t* colsum, Py_ssize_t W, Py_ssize_t kw, int32_t* a, int32_t* b,
                    int32_t* res) noexcept nogil:
    """res[x] = sum of colsum[x .. x + kw - 1]: narrow windows in registers, a block of columns at a time; wide
    ones by doubling."""
    cdef int32_t acc[FC_BLOCK_F]
    cdef Py_ssize_t x0 = 0, n, u, j
    if kw > 8:
        _window_sums(colsum, W, kw, a, b, res)
        return
    while x0 < W:
        n = min(<Py_ssize_t>FC_BLOCK_F, W - x0)
        if n == FC_BLOCK_F:
            for u in range(FC_BLOCK_F):
                acc[u] = colsum[x0 + u]
            for j in range(1, kw):
                for u in range(FC_BLOCK_F):
                    acc[u] += colsum[x0 + j + u]
            for u in range(FC_BLOCK_F):
                res[x0 + u] = acc[u]
        else:
            for u in range(n):
                res[x0 + u] = colsum[x0 + u]
            for j in range(1, kw):
                for u in range(n):
                    res[x0 + u] += colsum[x0 + j + u]
        x0 += n


cdef void _box_band(const BoxJob* job, Py_ssize_t y0, Py_ssize_t y1, int32_t* colsum, int32_t* row,
                    int32_t* a, int32_t* b, int32_t* res) noexcept nogil:
    """Output rows [y0, y1), all columns: column sums of the kh padded rows above each output row, slid down a
    row at a time (the new padded row added, the old one subtracted), then window sums along the row."""
    cdef Py_ssize_t W = job.out.w, kh = job.kh, kw = job.kw, PW = W + kw - 1, p, y, x
    cdef int32_t cval = <int32_t>job.border.cval
    for x in range(PW):
        colsum[x] = 0
    for p in range(y0, y0 + kh):
        _fill_any(&job.src, &job.border, p, 0, PW, cval, row)
        for x in range(PW):
            colsum[x] += row[x]
    for y in range(y0, y1):
        if y > y0:
            _fill_any(&job.src, &job.border, y + kh - 1, 0, PW, cval, row)
            for x in range(PW):
                colsum[x] += row[x]
            _fill_any(&job.src, &job.border, y - 1, 0, PW, cval, row)
            for x in range(PW):
                colsum[x] -= row[x]
        _box_sums(colsum, W, kw, a, b, res)
        if job.f64:
            _box_store(job, res, W, y, 0, <double>job.scale)
        else:
            _box_store(job, res, W, y, 0, <float>job.scale)


cdef void _box_band_u8(const BoxJob* job, Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1,
                       int32_t* colsum, uint16_t* padded, uint16_t* a, uint16_t* b, uint16_t* fresh,
                       uint16_t* ring) noexcept nogil:
    """The box path for uint8 images, rows first, output rows [y0, y1) and columns [x0, x1): each padded row's
    window sums in uint16 (kw * 255 fits), kept in a ring of kh rows; the column sums slide down by the newest
    row's sums minus the oldest's."""
    cdef Py_ssize_t kh = job.kh, kw = job.kw, SW = x1 - x0, RS = _round_up(SW, 32), p, x
    cdef uint16_t* old
    cdef uint16_t v
    cdef uint16_t cval = <uint16_t>job.border.cval
    for x in range(SW):
        colsum[x] = 0
    for p in range(y0, y1 + kh - 1):
        _fill_any(&job.src, &job.border, p, x0, x1 + kw - 1, cval, padded)
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
        if p >= y0 + kh - 1:
            if job.f64:
                _box_store(job, colsum, SW, p - kh + 1, x0, <double>job.scale)
            else:
                _box_store(job, colsum, SW, p - kh + 1, x0, <float>job.scale)


cdef void _box_piece(void* ctx, Py_ssize_t piece, void* scratch) noexcept nogil:
    cdef const BoxJob* job = <const BoxJob*>ctx
    cdef Py_ssize_t b = piece // job.nstrips, s = piece % job.nstrips, PW, SW, RS
    cdef Py_ssize_t y0 = b * job.band, y1 = min(job.out.h, y0 + job.band)
    cdef Py_ssize_t x0 = s * job.strip, x1 = min(job.out.w, x0 + job.strip)
    cdef int32_t* w32 = <int32_t*>scratch
    cdef uint16_t* w16
    if not job.rows_first:
        PW = _round_up(job.out.w + job.kw - 1, 16)
        _box_band(job, y0, y1, w32, w32 + PW, w32 + 2 * PW, w32 + 3 * PW, w32 + 4 * PW)
    else:
        SW = job.strip
        PW = _round_up(SW + job.kw - 1, 32)
        RS = _round_up(SW, 32)
        w16 = <uint16_t*>(w32 + _round_up(SW, 16))
        _box_band_u8(job, y0, y1, x0, x1, w32, w16, w16 + PW, w16 + 2 * PW, w16 + 3 * PW, w16 + 3 * PW + RS)


def box_filter(src, out, box, border, output, schedule):
    """prepare_box(...).run(src, out)."""
    prepare_box(src, out, box, border, output, schedule).run(src, out)


def prepare_box(src, out, box, border, output, schedule):
    """Box path: out = policy(S / scale + delta) if `divide` else policy(S * scale + delta), S the exact integer
    sum of the kh x kw window (|S| within int32, an integer `cval`: the caller checks). `box` is
    (kh, kw, scale, divide, float64, rows_first): the scale's arithmetic in float64, else float32 (where it gives
    the same); rows first (uint8 images only, with kw * 255 within uint16 and 0 <= cval <= 255: the caller
    checks) in strips of `schedule`'s columns, else column sums first in bands of whole rows. Returns the job,
    Prepared for arrays shaped as `src` and `out`."""
    cdef list keep = []
    cdef _View vs = _View(src, False)
    cdef _View vo = _View(out, True)
    cdef BoxJob job
    job.src = vs.plane()
    job.out = vo.plane()
    job.border = _border(border, keep)
    job.output = _output(output)
    job.kh, job.kw, job.scale, job.divide, job.f64, job.rows_first = box
    cdef int nthreads = schedule[0]
    job.band = max(1, <Py_ssize_t>schedule[1])
    job.nbands = (job.out.h + job.band - 1) // job.band
    cdef size_t scratch
    cdef Py_ssize_t SW, PW
    if job.rows_first:
        job.strip = max(1, min(<Py_ssize_t>schedule[2], job.out.w))
        SW = job.strip
        PW = _round_up(SW + job.kw - 1, 32)
        scratch = _round_up(SW, 16) * sizeof(int32_t) + (3 * PW + (job.kh + 1) * _round_up(SW, 32)) * sizeof(uint16_t)
    else:
        job.strip = job.out.w
        scratch = 5 * _round_up(job.out.w + job.kw - 1, 16) * sizeof(int32_t)
    job.nstrips = (job.out.w + job.strip - 1) // job.strip
    cdef Prepared prepared = Prepared.__new__(Prepared)
    prepared._set(_box_piece, &job, sizeof(job), &job.src, &job.out, job.nbands * job.nstrips, nthreads, scratch,
                  vs, vo, keep)
    return prepared
