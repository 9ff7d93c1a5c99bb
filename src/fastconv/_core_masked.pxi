# Normalized convolution (nan_policy="omit"): the two element-wise steps around the two ordinary filtering passes
# (values with the invalid samples zeroed, and the valid mask itself), one band of rows per piece. The caller
# checks shapes and types.
#
#   result = scale * sum(K * x * valid) / sum(K * valid)      (scale = sum(K): no invalid sample, no change)

from libc.math cimport NAN

cdef struct MaskJob:
    Plane src, mask, values, valid
    bint has_mask
    Py_ssize_t band


cdef void _mask_row(const MaskJob* job, acc_t* values, Py_ssize_t y) noexcept nogil:
    """Row y: values = the sample, or 0 where it is NaN or masked; valid = 1 or 0 (`valid` is C-contiguous)."""
    cdef Py_ssize_t x, W = job.src.w, mcs = job.mask.cs
    cdef uint8_t* valid = <uint8_t*>job.valid.data + y * job.valid.rs
    cdef const uint8_t* mask = <const uint8_t*>job.mask.data + y * job.mask.rs
    cdef acc_t v
    cdef uint8_t ok
    cdef Border whole
    cdef int64_t row = y
    whole.rows = &row
    whole.cols = NULL
    whole.ax = 0
    whole.cval = 0
    _fill_any(&job.src, &whole, 0, 0, W, <acc_t>0, values)     # the row as it is, in the values' type
    if job.has_mask:
        for x in range(W):
            v = values[x]
            ok = (v == v) & (mask[x * mcs] == 0)        # NaN is not equal to itself
            valid[x] = ok
            values[x] = v if ok else 0
    else:
        for x in range(W):
            v = values[x]
            ok = v == v
            valid[x] = ok
            values[x] = v if ok else 0


cdef void _mask_piece(void* ctx, Py_ssize_t piece, void* scratch) noexcept nogil:
    cdef const MaskJob* job = <const MaskJob*>ctx
    cdef Py_ssize_t y, y0 = piece * job.band, y1 = min(job.src.h, y0 + job.band), x
    for y in range(y0, y1):
        if job.values.kind == KIND_F32:
            _mask_row(job, <float*>(job.values.data) + y * job.values.rs, y)
        else:
            _mask_row(job, <double*>(job.values.data) + y * job.values.rs, y)


def mask_invalid(src, mask, values, valid, int threads, Py_ssize_t band):
    """values = src where valid, else 0; valid = 1 where src is not NaN and `mask` (uint8, 0 for valid; or None)
    is 0, else 0. `values` is a C-contiguous float32 or float64 plane, `valid` a C-contiguous uint8 plane, `src`
    and `mask` views of the same shape."""
    cdef _View vs = _View(src, False)
    cdef _View vv = _View(values, True)
    cdef _View vd = _View(valid, True)
    cdef _View vm = _View(mask if mask is not None else valid, False)
    cdef MaskJob job
    job.src = vs.plane()
    job.values = vv.plane()
    job.valid = vd.plane()
    job.mask = vm.plane()
    job.has_mask = mask is not None
    job.band = max(1, band)
    with nogil:
        run_pieces(_mask_piece, &job, (job.src.h + job.band - 1) // job.band, threads, 0)


cdef struct RenormJob:
    Plane num, den, invalid, out
    Output output
    double scale, tol
    bint preserve
    Py_ssize_t band


cdef void _renorm_row(const RenormJob* job, const acc_t* num, const acc_t* den, Py_ssize_t y,
                      acc_t* row) noexcept nogil:
    """Row y of the result, in the passes' own type: the division correctly rounded in it."""
    cdef Py_ssize_t x, W = job.out.w
    cdef acc_t d, scale = <acc_t>job.scale, tol = <acc_t>job.tol, nan = <acc_t>NAN
    cdef const uint8_t* valid = <const uint8_t*>job.invalid.data + y * job.invalid.rs
    for x in range(W):
        d = den[x]
        row[x] = num[x] * scale / d if (d > tol or d < -tol) else nan
    if job.preserve:
        for x in range(W):
            row[x] = row[x] if valid[x] else nan
    _store_row(row, W, &job.out, y, 0, &job.output)


cdef void _renorm_piece(void* ctx, Py_ssize_t piece, void* scratch) noexcept nogil:
    cdef const RenormJob* job = <const RenormJob*>ctx
    cdef Py_ssize_t y, y0 = piece * job.band, y1 = min(job.out.h, y0 + job.band)
    for y in range(y0, y1):
        if job.num.kind == KIND_F32:
            _renorm_row(job, <const float*>job.num.data + y * job.num.rs,
                        <const float*>job.den.data + y * job.den.rs, y, <float*>scratch)
        else:
            _renorm_row(job, <const double*>job.num.data + y * job.num.rs,
                        <const double*>job.den.data + y * job.den.rs, y, <double*>scratch)


def renormalize(num, den, valid, out, double scale, double tol, bint preserve, output, int threads,
                Py_ssize_t band):
    """out = policy(num * scale / den) where |den| > tol, NaN elsewhere (and, with `preserve`, where `valid` is
    0); NaN becomes the lower limit of integer outputs. `num` and `den` are C-contiguous planes of one float type,
    `valid` a uint8 plane, `out` a view of their shape; `output` as for `correlate`."""
    cdef _View vn = _View(num, False)
    cdef _View vd = _View(den, False)
    cdef _View vv = _View(valid, False)
    cdef _View vo = _View(out, True)
    cdef RenormJob job
    job.num = vn.plane()
    job.den = vd.plane()
    job.invalid = vv.plane()
    job.out = vo.plane()
    job.output = _output(output)
    job.scale = scale
    job.tol = tol
    job.preserve = preserve
    job.band = max(1, band)
    with nogil:
        run_pieces(_renorm_piece, &job, (job.out.h + job.band - 1) // job.band, threads,
                   job.out.w * sizeof(double))
