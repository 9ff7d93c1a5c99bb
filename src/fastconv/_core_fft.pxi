# The FFT path: overlap-save on square n x n tiles, for large dense kernels, with the direct path for any tile whose
# samples the transform cannot be trusted with (checked per tile: see _tile_ok). A tile's cost grows with log(n),
# not with the taps; its rounding depends on where the tiles fall, so results are within the path's error bound
# (fastconv._bounds) of the direct sums rather than bit for bit.
#
# Two horizontally adjacent input tiles go in one complex tile (the first as the real part, the second as the
# imaginary part): the kernel is real, so the real and imaginary parts of the result are the two tiles' results.
# Each tile row holds its real parts then its imaginary parts, and every 1-D transform runs along axis 0, where a
# butterfly combines whole rows: its inner loop runs along the row and vectorises. The second axis is transformed
# after an in-place transpose.
# The forward transform decimates in frequency (natural order in, bit-reversed order out) and the inverse decimates
# in time (bit-reversed in, natural out), so no reordering pass is needed: the caller stores the kernel's spectrum
# transposed and bit-reversed on both axes, scaled by 1 / n**2, and conjugated-flipped for correlation.

from libc.math cimport fabs, fabsf

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
            br_p[x] = dr * wr - di * wi
            bi_p[x] = dr * wi + di * wr
        else:
            dr = br * wr - bi * wi
            di = br * wi + bi * wr
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
                    x2r = dr * w1r - di * w1i
                    x2i = dr * w1i + di * w1r
                    dr = x1r - x3r
                    di = x1i - x3i
                    x1r = x1r + x3r
                    x1i = x1i + x3i
                    x3r = dr * w3r - di * w3i
                    x3i = dr * w3i + di * w3r
                    # stage pairing rows q apart
                    dr = x0r - x1r
                    di = x0i - x1i
                    p0r[x] = x0r + x1r
                    p0i[x] = x0i + x1i
                    p1r[x] = dr * w2r - di * w2i
                    p1i[x] = dr * w2i + di * w2r
                    dr = x2r - x3r
                    di = x2i - x3i
                    p2r[x] = x2r + x3r
                    p2i[x] = x2i + x3i
                    p3r[x] = dr * w2r - di * w2i
                    p3i[x] = dr * w2i + di * w2r
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
                    er = x1r * w2r - x1i * w2i
                    ei = x1r * w2i + x1i * w2r
                    x1r = x0r - er
                    x1i = x0i - ei
                    x0r = x0r + er
                    x0i = x0i + ei
                    er = x3r * w2r - x3i * w2i
                    ei = x3r * w2i + x3i * w2r
                    x3r = x2r - er
                    x3i = x2i - ei
                    x2r = x2r + er
                    x2i = x2i + ei
                    # stage pairing rows 2q apart
                    er = x2r * w1r - x2i * w1i
                    ei = x2r * w1i + x2i * w1r
                    p0r[x] = x0r + er
                    p0i[x] = x0i + ei
                    p2r[x] = x0r - er
                    p2i[x] = x0i - ei
                    er = x3r * w3r - x3i * w3i
                    ei = x3r * w3i + x3i * w3r
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



cdef struct FftJob:
    Plane src, out
    Border border
    Output output
    Taps taps                   # the direct path's taps, in the tiles' type: for tiles the transform may not take
    const void* sr              # the kernel's spectrum (real, imaginary) and the twiddles, in the tiles' type
    const void* si
    const void* twr
    const void* twi
    Py_ssize_t n, V, U, npx, spw
    int acc
    bint check                  # whether tiles are checked at all (not needed where every sample is known safe)
    bint relative               # float outputs: the error must stay within the bound of each pixel's own window
    double limit                # the largest sample magnitude a tile may hold
    double coef_big             # float outputs: error bound per unit of the tile's largest magnitude, ...
    double coef_small           # ... allowed per unit of the smallest magnitude a pixel's window is sure to see,
    double floor                # ... plus this much (one level of an integer image, as a magnitude)
    size_t tile_bytes


cdef inline acc_t _magnitude(acc_t x) noexcept nogil:
    if acc_t is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef bint _plane_ok(const acc_t* plane, Py_ssize_t n, Py_ssize_t rows_in, Py_ssize_t cols_in, Py_ssize_t bh,
                    Py_ssize_t bw, bint relative, double* big, double* small) noexcept nogil:
    """Whether every sample of the plane is finite; its largest magnitude into `big` (the larger of it and
    `big`). If `relative`: into `small` (the smaller), the smallest maximum over the aligned bh x bw blocks inside
    the first rows_in x cols_in samples, the part the tile's output windows cover. Every window (kh x kw,
    bh = (kh + 1) // 2, bw = (kw + 1) // 2) holds such a whole block, so each output pixel's window holds a sample
    at least that large. One pass, column-wise maxima (vectorised): of the plane, and of the current row of
    blocks."""
    cdef acc_t top[256]
    cdef acc_t cur[256]
    cdef acc_t chk[256]
    cdef acc_t x, a, blockmax, least = <acc_t>small[0], peak = 0
    cdef Py_ssize_t r, c, q, nbr = rows_in // bh, nbc = cols_in // bw
    cdef bint finite = True
    cdef const acc_t* row
    for c in range(n):
        top[c] = 0
        cur[c] = 0
        chk[c] = 0
    for r in range(n):
        row = plane + r * 2 * n
        if relative:
            for c in range(n):
                x = row[c]
                a = _magnitude(x)
                chk[c] = chk[c] + (x - x)       # 0, unless a sample was inf or NaN: then NaN from there on
                top[c] = a if a > top[c] else top[c]
                cur[c] = a if a > cur[c] else cur[c]
        else:
            for c in range(n):
                x = row[c]
                a = _magnitude(x)
                chk[c] = chk[c] + (x - x)
                top[c] = a if a > top[c] else top[c]
        if relative and r < nbr * bh and r % bh == bh - 1:     # a row of whole blocks ends here
            for q in range(nbc):
                blockmax = 0
                for c in range(q * bw, q * bw + bw):
                    blockmax = cur[c] if cur[c] > blockmax else blockmax
                least = blockmax if blockmax < least else least
            for c in range(n):
                cur[c] = 0
    for c in range(n):
        finite = finite and chk[c] == 0
        peak = top[c] if top[c] > peak else peak
    if not finite:
        return False
    if peak > big[0]:
        big[0] = peak
    small[0] = least
    return True


cdef void _fill_plane(const FftJob* job, Py_ssize_t ty, Py_ssize_t tx, acc_t cval, acc_t* plane) noexcept nogil:
    """Padded rows [ty, ty + n), columns [tx, tx + n) into the plane (rows 2n apart; zeros past the padded
    image)."""
    cdef Py_ssize_t n = job.n, r, c, PH = job.out.h + job.taps.kh - 1, PW = job.out.w + job.taps.kw - 1
    cdef Py_ssize_t c1 = min(tx + n, PW)
    cdef acc_t* row
    for r in range(n):
        row = plane + r * 2 * n
        if ty + r >= PH or tx >= PW:
            for c in range(n):
                row[c] = 0
            continue
        _fill_any(&job.src, &job.border, ty + r, tx, c1, cval, row)
        for c in range(c1 - tx, n):
            row[c] = 0


cdef void _fft_pair(const FftJob* job, const acc_t* sr, const acc_t* si, const acc_t* twr, const acc_t* twi,
                    const acc_t* coef, Py_ssize_t ty, Py_ssize_t tx, acc_t* t) noexcept nogil:
    """Output rows [ty, ty + V), columns [tx, tx + 2 U) (V = n - kh + 1, U = n - kw + 1), clipped to the image:
    by the transform when the tiles pass the check, else by the direct path.

    The complex tile `t` has n rows of 2n: the real parts, then the imaginary parts (so a butterfly's four rows
    are four pointers, few enough for the compiler's run-time overlap checks, and it vectorises)."""
    cdef Py_ssize_t n = job.n, V = job.V, U = job.U, W = job.out.w, H = job.out.h, r, x
    cdef Py_ssize_t kh = job.taps.kh, kw = job.taps.kw, rows = min(V, H - ty)
    cdef bint second = tx + U < W, ok = True
    cdef double big = 0, small = 1.7976931348623157e308
    cdef acc_t cval = <acc_t>job.border.cval
    cdef acc_t xr, xi, gr, gi
    cdef acc_t* row
    cdef const acc_t* sr_row
    cdef const acc_t* si_row
    _fill_plane(job, ty, tx, cval, t)
    _fill_plane(job, ty, tx + U, cval, t + n)
    if job.check:
        ok = _plane_ok(t, n, rows + kh - 1, min(U, W - tx) + kw - 1, (kh + 1) // 2, (kw + 1) // 2, job.relative,
                       &big, &small)
        if ok and second:
            ok = _plane_ok(t + n, n, rows + kh - 1, min(U, W - tx - U) + kw - 1, (kh + 1) // 2, (kw + 1) // 2,
                           job.relative, &big, &small)
        ok = ok and big <= job.limit
        if ok and job.relative:
            ok = job.coef_big * big <= job.coef_small * small + job.floor
    if not ok:
        _direct_rows(&job.src, &job.out, &job.border, &job.output, &job.taps, coef, ty, ty + rows, tx,
                     min(W, tx + 2 * U), job.spw, t, <acc_t**>(<char*>t + job.tile_bytes))
        return
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
            row[x] = xr * gr - xi * gi
            row[n + x] = xr * gi + xi * gr
    _dit_inverse(t, n, twr, twi)
    _transpose(t, n, 2 * n)
    _transpose(t + n, n, 2 * n)
    _dit_inverse(t, n, twr, twi)
    for r in range(rows):
        _store(t + r * 2 * n, min(U, W - tx), &job.out, ty + r, tx, &job.output)
        if second:
            _store(t + r * 2 * n + n, min(U, W - tx - U), &job.out, ty + r, tx + U, &job.output)


cdef void _fft_piece(void* ctx, Py_ssize_t piece, void* scratch) noexcept nogil:
    cdef const FftJob* job = <const FftJob*>ctx
    cdef Py_ssize_t ty = (piece // job.npx) * job.V, tx = (piece % job.npx) * 2 * job.U
    if job.acc == KIND_F32:
        _fft_pair(job, <const float*>job.sr, <const float*>job.si, <const float*>job.twr, <const float*>job.twi,
                  <const float*>job.taps.coef, ty, tx, <float*>scratch)
    else:
        _fft_pair(job, <const double*>job.sr, <const double*>job.si, <const double*>job.twr,
                  <const double*>job.twi, <const double*>job.taps.coef, ty, tx, <double*>scratch)


def correlate_fft(src, out, fft, taps, border, output, schedule):
    """FFT path: out = policy(correlation + delta) by overlap-save on n x n tiles, two tiles per complex transform.

    `fft` is fastconv._taps.fft_taps' record: (spectrum real part, imaginary part, twiddles real, imaginary) in the
    tiles' type (n x n spectra, n a power of two from 8 up, n > kh and n > kw; twiddles exp(-2 pi i k / n),
    k < n / 2), then the check (check, relative, limit, coef_big, coef_small, floor). `taps` are the direct
    path's taps in the tiles' type, for the tiles that fail the check. `border`, `output` and `schedule` (threads
    only: a piece is a pair of tiles) as for `correlate`."""
    cdef list keep = []
    cdef _View vs = _View(src, False)
    cdef _View vo = _View(out, True)
    cdef _View sr = _View(fft[0], False)
    cdef _View si = _View(fft[1], False)
    cdef _View twr = _View(fft[2], False)
    cdef _View twi = _View(fft[3], False)
    cdef FftJob job
    check = fft[4]
    cdef Planes pl = _planes(vs, vo)
    job.src = vs.plane()
    job.out = vo.plane()
    job.border = _border(border, keep)
    job.output = _output(output)
    job.taps = _taps(taps, keep)
    job.sr = sr.ptr()
    job.si = si.ptr()
    job.twr = twr.ptr()
    job.twi = twi.ptr()
    job.acc = sr.kind
    job.n = sr.buf.shape[0]
    job.V = job.n - job.taps.kh + 1
    job.U = job.n - job.taps.kw + 1
    job.check, job.relative, job.limit, job.coef_big, job.coef_small, job.floor = check
    cdef Py_ssize_t nty = (job.out.h + job.V - 1) // job.V
    job.npx = (job.out.w + 2 * job.U - 1) // (2 * job.U)
    job.spw = _round_up(2 * job.U + job.taps.kw - 1, 32)
    cdef size_t itemsize = _itemsize(job.acc)
    cdef size_t ring = _round_up((job.taps.kh + 1) * job.spw + _block2(job.acc) + 64, 8) * itemsize
    job.tile_bytes = max(<size_t>(2 * job.n * job.n) * itemsize, ring)
    cdef size_t scratch = job.tile_bytes + (job.taps.n + 1) * sizeof(void*)
    cdef int nthreads = schedule[0]
    with nogil:
        run_planes(_fft_piece, &job, sizeof(job), &job.src, &job.out, &pl, nty * job.npx, nthreads, scratch)
