# The core's shared machinery: CPU probes, the views the paths read and write, padded-row filling and output
# storing. Everything here trusts its caller (fastconv._plan): indices, shapes and types are not checked again.
#
# Borders live entirely in two index maps: padded row `p` is source row `rows[p]` (the constant `cval` where it is
# negative), and padded column `c` is source column `cols[c]`, so no padded image is ever built. Images and outputs
# are 2-D views with strides in elements (a channel of an H x W x C array is a view with column stride C); a call
# may cover many such planes at once (channels, frames of a stack: the leading axes of its arrays), and
# every multiply-add is a multiply then an add, in the same order on every variant, so a pixel's value depends
# only on its neighbourhood: not on its position, the thread count, the strips or the SIMD variant.

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_RECORDS, PyBUF_RECORDS_RO
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.string cimport strlen
from libc.stdint cimport uint8_t, uint16_t, int16_t, int32_t, int64_t
from libc.math cimport floor
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from fastconv._runtime cimport run_pieces, piece_fn
from fastconv._types cimport src_t, out_t, acc_t, dacc_t, fill_t, box_sum_t

cdef extern from *:
    """
    /* The direct path's partial sums start on the entries the taps' segments mark (INIT): data the compiler
       cannot see, so it would warn that they may be used uninitialised. Zeroing them first would cost a store of
       every register block. */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
    #elif defined(__clang__)
    #pragma clang diagnostic ignored "-Wsometimes-uninitialized"
    #pragma clang diagnostic ignored "-Wconditional-uninitialized"
    #endif
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
    /* Output columns kept in registers per block: 8 vector registers of float32 (half as many doubles fit).
       Two-row blocks hold two rows' columns: 16 of AVX-512's 32 registers, 8 of AVX2's or SSE2's 16. */
    #if defined(__AVX512F__)
    enum { FC_BLOCK_F = 128, FC_BLOCK_D = 64, FC_BLOCK2_F = 128, FC_BLOCK2_D = 64, FC_BLOCK2_I = 256 };
    #elif defined(__AVX2__)
    enum { FC_BLOCK_F = 64, FC_BLOCK_D = 32, FC_BLOCK2_F = 32, FC_BLOCK2_D = 16, FC_BLOCK2_I = 64 };
    #else
    enum { FC_BLOCK_F = 32, FC_BLOCK_D = 16, FC_BLOCK2_F = 16, FC_BLOCK2_D = 8, FC_BLOCK2_I = 32 };
    #endif
    """
    int fastconv_cpu_has_avx2() noexcept nogil
    int fastconv_cpu_has_avx512() noexcept nogil
    enum: FC_BLOCK_F
    enum: FC_BLOCK_D
    enum: FC_BLOCK2_F
    enum: FC_BLOCK2_D
    enum: FC_BLOCK2_I

# Element kinds, read from each buffer's format.
cdef enum:
    KIND_U8 = 0
    KIND_U16 = 1
    KIND_I16 = 2
    KIND_F32 = 3
    KIND_F64 = 4
    KIND_I64 = 5        # the index arrays (border maps, tap offsets, segments)

# Output policies (mirrored by fastconv._output).
cdef enum:
    POLICY_RAW = 0      # store the sum (+ delta) as it is: float outputs
    POLICY_FLOOR = 1    # clip to [lo, hi], then round toward minus infinity
    POLICY_ROUND = 2    # clip to [lo, hi], then round half to even

# The most columns one _store call converts.
cdef enum:
    STORE_MAX = 256


cdef struct Plane:
    # A 2-D view: element (y, x) is at data + (y * rs + x * cs) * itemsize.
    char* data
    Py_ssize_t h, w, rs, cs
    int kind


cdef struct Border:
    const int64_t* rows         # H + kh - 1 entries: a source row, or -1 for `cval`
    const int64_t* cols         # W + kw - 1 entries: a source column, or -1 for `cval`
    Py_ssize_t ax               # the anchor's column: padded column ax + x is source column x
    double cval


cdef struct Output:
    int policy
    double delta, lo, hi


def cpu_has_avx2():
    """True when this CPU (and OS) can run the AVX2 + FMA variant."""
    return bool(fastconv_cpu_has_avx2())


def cpu_has_avx512():
    """True when this CPU (and OS) can run the AVX-512 variant."""
    return bool(fastconv_cpu_has_avx512())


cdef int _kind(const char* fmt) except -1:
    while fmt[0] == b'@' or fmt[0] == b'=':
        fmt += 1
    if fmt[1] == 0:
        if fmt[0] == b'B':
            return KIND_U8
        if fmt[0] == b'H':
            return KIND_U16
        if fmt[0] == b'h':
            return KIND_I16
        if fmt[0] == b'f':
            return KIND_F32
        if fmt[0] == b'd':
            return KIND_F64
        if (fmt[0] == b'q' or fmt[0] == b'l') and sizeof(long) == 8 or fmt[0] == b'q':
            return KIND_I64
    raise TypeError(f"fastconv core: unsupported element format {fmt.decode()!r}")


cdef class _View:
    """A held buffer of an array: its pointer, shape and strides in elements, and element kind."""
    cdef Py_buffer buf
    cdef bint held
    cdef int kind

    def __cinit__(self, obj, bint writable):
        PyObject_GetBuffer(obj, &self.buf, PyBUF_RECORDS if writable else PyBUF_RECORDS_RO)
        self.held = True
        self.kind = _kind(self.buf.format)

    def __dealloc__(self):
        if self.held:
            PyBuffer_Release(&self.buf)

    cdef Plane plane(self):
        """The first plane: the last two axes (a 1-D buffer is one column)."""
        return _buffer_plane(&self.buf, self.kind)

    cdef const void* ptr(self):
        return <const void*>self.buf.buf

    cdef Py_ssize_t length(self):
        return self.buf.shape[0] if self.buf.ndim else 0


cdef Plane _buffer_plane(const Py_buffer* b, int kind) noexcept:
    """The first plane of a buffer of element `kind`: the last two axes (a 1-D buffer is one column)."""
    cdef Plane p
    cdef int nd = b.ndim
    p.data = <char*>b.buf
    if nd < 2:
        p.h = b.shape[0]
        p.w = 1
        p.rs = b.strides[0] // b.itemsize
        p.cs = 1
    else:
        p.h = b.shape[nd - 2]
        p.w = b.shape[nd - 1]
        p.rs = b.strides[nd - 2] // b.itemsize
        p.cs = b.strides[nd - 1] // b.itemsize
    p.kind = kind
    return p


cdef struct Planes:
    # The planes a call covers: the leading axes (at most two) of its image and output. Plane p is
    # (i0, i1) = (p // n1, p % n1), i0 * s0 + i1 * s1 bytes from the image's first plane, i0 * o0 + i1 * o1 from
    # the output's.
    Py_ssize_t n0, n1, s0, s1, o0, o1


cdef Planes _planes(_View src, _View out) except *:
    """The Planes of a call on `src` into `out`: 2-D to 4-D arrays of one shape, planes on the leading axes."""
    cdef Planes pl
    _buffer_planes(&src.buf, &out.buf, &pl)
    return pl


cdef int _buffer_planes(const Py_buffer* src, const Py_buffer* out, Planes* pl) except -1:
    """_planes of two buffers, into `pl`."""
    cdef int nd = src.ndim, i
    if nd < 2 or nd > 4 or out.ndim != nd:
        raise ValueError(f"fastconv core: image and output must be 2-D to 4-D arrays of one shape; got {nd}-D "
                         f"and {out.ndim}-D")
    for i in range(nd):
        if src.shape[i] != out.shape[i]:
            raise ValueError("fastconv core: image and output must have one shape")
    pl.n0 = pl.n1 = 1
    pl.s0 = pl.s1 = pl.o0 = pl.o1 = 0
    if nd == 4:
        pl.n0, pl.s0, pl.o0 = src.shape[0], src.strides[0], out.strides[0]
    if nd >= 3:
        pl.n1, pl.s1, pl.o1 = src.shape[nd - 3], src.strides[nd - 3], out.strides[nd - 3]
    return 0


cdef struct PlanesRun:
    piece_fn fn
    const char* job         # the path's job, for the first plane
    size_t size, at_src, at_out, room
    Py_ssize_t per          # pieces per plane
    Planes pl


cdef void _plane_piece(void* ctx, Py_ssize_t piece, void* scratch) noexcept nogil:
    """Piece `piece % per` of plane `piece // per`: a copy of the job in this thread's scratch, its `src` and
    `out` moved to that plane, the rest of the scratch for the path."""
    cdef const PlanesRun* r = <const PlanesRun*>ctx
    cdef Py_ssize_t p = piece // r.per
    cdef Py_ssize_t i0 = p // r.pl.n1, i1 = p % r.pl.n1
    cdef char* job = <char*>scratch
    memcpy(job, r.job, r.size)
    (<Plane*>(job + r.at_src)).data += i0 * r.pl.s0 + i1 * r.pl.s1
    (<Plane*>(job + r.at_out)).data += i0 * r.pl.o0 + i1 * r.pl.o1
    r.fn(job, piece % r.per, <char*>scratch + r.room)


cdef int run_planes(piece_fn fn, void* job, size_t size, const Plane* src, const Plane* out, const Planes* pl,
                    Py_ssize_t per, int nthreads, size_t scratch) except -1 nogil:
    """`per` pieces of `fn` on every plane of `pl`, all claimed from one pool call (threads across planes when
    planes are small). `job` (`size` bytes) is the path's job for the first plane, `src` and `out` its Planes: a
    piece runs on a copy of it, moved to its plane, in its thread's scratch (memory does not grow with the number
    of planes)."""
    cdef Py_ssize_t n = pl.n0 * pl.n1
    if n == 1:
        return run_pieces(fn, job, per, nthreads, scratch)
    if n == 0 or per == 0:
        return 0
    cdef PlanesRun r
    r.fn = fn
    r.job = <const char*>job
    r.size = size
    r.at_src = <size_t>(<const char*>src - <char*>job)
    r.at_out = <size_t>(<const char*>out - <char*>job)
    r.room = _round_up(size, 64)        # the path's scratch stays 64-byte aligned
    r.per = per
    r.pl = pl[0]
    return run_pieces(_plane_piece, &r, n * per, nthreads, r.room + scratch)


DEF FC_JOB_WORDS = 128        # the largest job a Prepared holds, in 8-byte words (a path's job: a few hundred bytes)


cdef int _whole_strides(const Py_buffer* b) except -1:
    """Refuse a buffer whose strides are not whole elements (the core counts strides in elements)."""
    cdef int i
    for i in range(b.ndim):
        if b.strides[i] % b.itemsize:
            raise ValueError(f"fastconv core: strides must be whole elements; got {b.strides[i]} bytes for "
                             f"{b.itemsize}-byte elements")
    return 0


cdef class Prepared:
    """A path's job built once from its records (held here) for images of one plane shape and element kind, and
    run on any number of (image, output) pairs of that shape: a call's records are read once, not per call.

    `run(src, out)` filters `src` into `out`, arrays of the prepared shape and kinds, any strides (as the path's
    entry point takes them). Safe to run from several threads at once: each run copies the job."""
    cdef char* job
    cdef size_t size, at_src, at_out, scratch
    cdef piece_fn fn
    cdef Py_ssize_t per, h, w, n0, n1
    cdef int nthreads, src_kind, out_kind, nd
    cdef list keep

    def __dealloc__(self):
        free(self.job)

    cdef int _set(self, piece_fn fn, const void* job, size_t size, const Plane* src, const Plane* out,
                  Py_ssize_t per, int nthreads, size_t scratch, _View vs, _View vo, list keep) except -1:
        """Take the path's job (its records' buffers held by `keep`) for arrays shaped as `vs` and `vo`."""
        if size > FC_JOB_WORDS * 8:
            raise ValueError(f"fastconv core: a job of {size} bytes is beyond FC_JOB_WORDS")
        self.job = <char*>malloc(size)
        if self.job == NULL:
            raise MemoryError()
        memcpy(self.job, job, size)
        self.size = size
        self.at_src = <size_t>(<const char*>src - <const char*>job)
        self.at_out = <size_t>(<const char*>out - <const char*>job)
        self.fn = fn
        self.per = per
        self.nthreads = nthreads
        self.scratch = scratch
        self.keep = keep
        cdef Planes pl = _planes(vs, vo)
        cdef Plane p = vs.plane()
        self.h, self.w, self.n0, self.n1, self.nd = p.h, p.w, pl.n0, pl.n1, vs.buf.ndim
        self.src_kind, self.out_kind = vs.kind, vo.kind
        return 0

    cdef int _run(self, const Py_buffer* bs, const Py_buffer* bo, int src_kind, int out_kind) except -1:
        cdef double aligned[FC_JOB_WORDS]       # the job's copy, aligned for its pointers and doubles
        cdef char* local = <char*>aligned
        cdef Planes pl
        cdef Plane ps, po
        _whole_strides(bs)
        _whole_strides(bo)
        if (<size_t>bs.buf) % bs.itemsize or (<size_t>bo.buf) % bo.itemsize:
            raise ValueError("fastconv core: the arrays must be aligned")
        _buffer_planes(bs, bo, &pl)
        ps = _buffer_plane(bs, src_kind)
        po = _buffer_plane(bo, out_kind)
        if (ps.h != self.h or ps.w != self.w or pl.n0 != self.n0 or pl.n1 != self.n1 or bs.ndim != self.nd
                or src_kind != self.src_kind or out_kind != self.out_kind):
            raise ValueError("fastconv core: the arrays are not of the shape and kinds the job was prepared for")
        memcpy(local, self.job, self.size)
        (<Plane*>(local + self.at_src))[0] = ps
        (<Plane*>(local + self.at_out))[0] = po
        with nogil:
            run_planes(self.fn, local, self.size, <Plane*>(local + self.at_src), <Plane*>(local + self.at_out), &pl,
                       self.per, self.nthreads, self.scratch)
        return 0

    def run(self, src, out):
        """Filter `src` into `out` (aligned arrays of the prepared shape and kinds, strides in whole elements;
        ValueError otherwise)."""
        cdef Py_buffer bs, bo
        PyObject_GetBuffer(src, &bs, PyBUF_RECORDS_RO)
        try:
            PyObject_GetBuffer(out, &bo, PyBUF_RECORDS)
            try:
                self._run(&bs, &bo, _kind(bs.format), _kind(bo.format))
            finally:
                PyBuffer_Release(&bo)
        finally:
            PyBuffer_Release(&bs)


DEF FC_SERVED_TAPS = 1024      # the largest kernels, and images (rows plus columns), that calls are served for
DEF FC_SERVED_SIDES = 4096


cdef bytes _served_key(const Py_buffer* bi, const Py_buffer* bk):
    """What a served call's image and kernel are, as one bytes object: each one's element format and shape, the
    image's strides and the kernel's values (read through its strides)."""
    cdef size_t fi = strlen(bi.format) + 1, fk = strlen(bk.format) + 1
    cdef Py_ssize_t n = bk.shape[0] * bk.shape[1] * bk.itemsize
    cdef bytes key = PyBytes_FromStringAndSize(NULL, fi + fk + 6 * sizeof(Py_ssize_t) + n)
    cdef char* p = PyBytes_AS_STRING(key)
    cdef Py_ssize_t i, j
    memcpy(p, bi.format, fi)
    p += fi
    memcpy(p, bk.format, fk)
    p += fk
    memcpy(p, bi.shape, 2 * sizeof(Py_ssize_t))
    memcpy(p + 2 * sizeof(Py_ssize_t), bi.strides, 2 * sizeof(Py_ssize_t))
    memcpy(p + 4 * sizeof(Py_ssize_t), bk.shape, 2 * sizeof(Py_ssize_t))
    p += 6 * sizeof(Py_ssize_t)
    for i in range(bk.shape[0]):
        for j in range(bk.shape[1]):
            memcpy(p, <const char*>bk.buf + i * bk.strides[0] + j * bk.strides[1], bk.itemsize)
            p += bk.itemsize
    return key


def serve(dict table, image, K, tuple options, empty):
    """A served call (fastconv._api.convolve's and filter2D's fast path): the result, from the Prepared job
    `table` keeps for the key of (`options`, the image's and the kernel's formats, shapes, strides and values),
    in a new array from `empty(shape, dtype)`; else that key (None where such calls are not served: images not
    2-D or beyond FC_SERVED_SIDES rows plus columns, kernels not 2-D or beyond FC_SERVED_TAPS taps, an image not
    aligned: the full path copies it)."""
    cdef Py_buffer bi, bk, bo
    cdef Prepared prepared
    cdef object found, result
    try:
        PyObject_GetBuffer(image, &bi, PyBUF_RECORDS_RO)
    except Exception:       # arrays numpy does not export: the full path says what is wrong
        return None
    try:
        try:
            PyObject_GetBuffer(K, &bk, PyBUF_RECORDS_RO)
        except Exception:
            return None
        try:
            if (bi.ndim != 2 or bk.ndim != 2 or bk.shape[0] * bk.shape[1] > FC_SERVED_TAPS
                    or bi.shape[0] + bi.shape[1] > FC_SERVED_SIDES or (<size_t>bi.buf) % bi.itemsize):
                return None
            key = (options, _served_key(&bi, &bk))
        finally:
            PyBuffer_Release(&bk)
        found = table.get(key)
        if found is None:
            return key
        prepared = <Prepared?>found[0]
        result = empty((bi.shape[0], bi.shape[1]), found[1])
        PyObject_GetBuffer(result, &bo, PyBUF_RECORDS)
        try:
            prepared._run(&bi, &bo, _kind(bi.format), _kind(bo.format))
        finally:
            PyBuffer_Release(&bo)
        return result
    finally:
        PyBuffer_Release(&bi)


cdef const int64_t* _index(obj, list keep) except? NULL:
    """The data of a C-contiguous int64 array (kept alive by `keep`), or NULL when it is empty."""
    cdef _View v = _View(obj, False)
    if v.kind != KIND_I64:
        raise TypeError("fastconv core: index arrays must be int64")
    keep.append(v)
    return <const int64_t*>v.ptr() if v.buf.len else NULL


cdef Border _border(border, list keep) except *:
    """A Border from fastconv._plan's (rows, cols, ax, cval) record; `keep` holds the maps' buffers."""
    cdef Border b
    b.rows = _index(border[0], keep)
    b.cols = _index(border[1], keep)
    b.ax = border[2]
    b.cval = border[3]
    return b


cdef Output _output(output) except *:
    """An Output from fastconv._plan's (policy, delta, lo, hi) record."""
    cdef Output o
    o.policy = output[0]
    o.delta = output[1]
    o.lo = output[2]
    o.hi = output[3]
    return o


# ---------------------------------------------------------------------------------------------------------------
# Filling padded rows

cdef inline void _fill(const src_t* s, const Plane* src, const Border* b, Py_ssize_t p, Py_ssize_t c0,
                       Py_ssize_t c1, fill_t cval, fill_t* dst) noexcept nogil:
    """Columns [c0, c1) of padded row p into dst[0 : c1 - c0], converted to the destination type."""
    cdef Py_ssize_t r = b.rows[p], c, m, ax = b.ax, W = src.w, cs = src.cs
    cdef Py_ssize_t lo = max(c0, ax), hi = min(c1, ax + W)
    cdef const src_t* row
    if r < 0:
        for c in range(c1 - c0):
            dst[c] = cval
        return
    row = s + r * src.rs
    for c in range(c0, min(c1, ax)):
        m = b.cols[c]
        dst[c - c0] = cval if m < 0 else <fill_t>row[m * cs]
    if cs == 1:
        for c in range(lo, hi):
            dst[c - c0] = <fill_t>row[c - ax]
    else:
        for c in range(lo, hi):
            dst[c - c0] = <fill_t>row[(c - ax) * cs]
    for c in range(max(c0, ax + W), c1):
        m = b.cols[c]
        dst[c - c0] = cval if m < 0 else <fill_t>row[m * cs]


cdef void _fill_any(const Plane* src, const Border* b, Py_ssize_t p, Py_ssize_t c0, Py_ssize_t c1, fill_t cval,
                    fill_t* dst) noexcept nogil:
    """_fill for the source's element kind. (Integer destinations are only ever filled from integer images.)"""
    if src.kind == KIND_U8:
        _fill(<const uint8_t*>src.data, src, b, p, c0, c1, cval, dst)
    elif src.kind == KIND_U16:
        _fill(<const uint16_t*>src.data, src, b, p, c0, c1, cval, dst)
    elif src.kind == KIND_I16:
        _fill(<const int16_t*>src.data, src, b, p, c0, c1, cval, dst)
    elif fill_t is float or fill_t is double:
        if src.kind == KIND_F32:
            _fill(<const float*>src.data, src, b, p, c0, c1, cval, dst)
        else:
            _fill(<const double*>src.data, src, b, p, c0, c1, cval, dst)


# ---------------------------------------------------------------------------------------------------------------
# Storing outputs

cdef inline void _convert(const dacc_t* acc, Py_ssize_t n, out_t* o, int policy, dacc_t delta, dacc_t lo,
                          dacc_t hi) noexcept nogil:
    """o[x] = policy(acc[x] + delta): float outputs as they are; integer outputs clipped to [lo, hi] and rounded
    down or half to even (NaN becomes lo). int16 sums are exact integers: only clipped."""
    cdef Py_ssize_t x
    cdef dacc_t v
    cdef dacc_t magic = 0      # 1.5 * 2**(mantissa bits): adding and subtracting it rounds half to even
    if dacc_t is double:
        magic = 6755399441055744.0
    elif dacc_t is float:
        magic = 12582912.0
    if out_t is float or out_t is double:
        for x in range(n):
            o[x] = <out_t>(acc[x] + delta)
    elif dacc_t is int16_t:
        for x in range(n):
            v = acc[x] + delta
            v = v if v >= lo else lo
            v = v if v <= hi else hi
            o[x] = <out_t>v
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


cdef inline void _store_to(const dacc_t* acc, Py_ssize_t n, out_t* o, Py_ssize_t cs, const Output* spec) noexcept nogil:
    cdef out_t tmp[STORE_MAX]
    cdef Py_ssize_t x
    cdef dacc_t delta, lo, hi
    if dacc_t is int16_t:
        delta = <int16_t>spec.delta
        lo = <int16_t>max(spec.lo, -32768.0)
        hi = <int16_t>min(spec.hi, 32767.0)
    else:
        delta = <dacc_t>spec.delta
        lo = <dacc_t>spec.lo
        hi = <dacc_t>spec.hi
    if cs == 1:
        _convert(acc, n, o, spec.policy, delta, lo, hi)
    else:
        _convert(acc, n, tmp, spec.policy, delta, lo, hi)
        for x in range(n):
            o[x * cs] = tmp[x]


cdef void _store(const dacc_t* acc, Py_ssize_t n, const Plane* out, Py_ssize_t y, Py_ssize_t x,
                 const Output* spec) noexcept nogil:
    """Output pixels (y, x .. x + n - 1), n <= STORE_MAX, from the sums `acc`, by the output policy."""
    cdef Py_ssize_t offset = y * out.rs + x * out.cs
    if out.kind == KIND_U8:
        _store_to(acc, n, <uint8_t*>out.data + offset, out.cs, spec)
    elif out.kind == KIND_U16:
        _store_to(acc, n, <uint16_t*>out.data + offset, out.cs, spec)
    elif out.kind == KIND_I16:
        _store_to(acc, n, <int16_t*>out.data + offset, out.cs, spec)
    elif out.kind == KIND_F32:
        _store_to(acc, n, <float*>out.data + offset, out.cs, spec)
    else:
        _store_to(acc, n, <double*>out.data + offset, out.cs, spec)


cdef void _store_row(const dacc_t* acc, Py_ssize_t n, const Plane* out, Py_ssize_t y, Py_ssize_t x,
                     const Output* spec) noexcept nogil:
    """_store for any number of columns."""
    cdef Py_ssize_t done = 0, m
    while done < n:
        m = min(n - done, <Py_ssize_t>STORE_MAX)
        _store(acc + done, m, out, y, x + done, spec)
        done += m


cdef inline Py_ssize_t _round_up(Py_ssize_t n, Py_ssize_t to) noexcept nogil:
    return (n + to - 1) // to * to
