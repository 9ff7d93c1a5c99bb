# The parallel runtime shared by every compiled variant of the core (one pool and one thread budget per process).

ctypedef void (*piece_fn)(void* ctx, Py_ssize_t piece, void* scratch) noexcept nogil

cdef int run_pieces(piece_fn fn, void* ctx, Py_ssize_t npieces, int nthreads, size_t scratch_bytes) except -1 nogil
