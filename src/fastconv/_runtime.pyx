# cython: language_level=3
"""fastconv's parallel runtime: one pool of helper threads and one thread budget for the whole process.

The pool itself is C (``_pool.c``: why it is not OpenMP, and how it behaves under fork, signals and a busy machine).
This module gives it to the compiled core (``run_pieces``, through ``_runtime.pxd``) and to Python (the budget).
"""
import threading

cdef extern from "_pool.h" nogil:
    ctypedef void (*fc_piece_fn)(void* ctx, Py_ssize_t piece, void* scratch) noexcept
    enum:
        FC_OK
        FC_NOMEM
        FC_INTERRUPTED
    int fc_pool_run(fc_piece_fn fn, void* ctx, Py_ssize_t npieces, int nthreads, size_t scratch_bytes)
    int fc_pool_init(unsigned long main_ident)
    int fc_budget()
    void fc_set_budget(int n)
    int fc_budget_setting()
    void fc_set_fallback(int n)
    void fc_set_quota(int n)
    int fc_available_cores()
    void fc_pool_stats(long long* helpers, long long* calls, long long* helper_pieces, long long* busy,
                       long long* scratch_now, long long* scratch_peak, int reset_peak)


cdef int run_pieces(piece_fn fn, void* ctx, Py_ssize_t npieces, int nthreads, size_t scratch_bytes) except -1 nogil:
    """Run pieces 0 .. npieces - 1 of `fn` on up to `nthreads` threads (< 1: the budget), the caller among them.

    Raises MemoryError if the caller's scratch buffer cannot be allocated, and the exception of a signal handler
    (KeyboardInterrupt for Ctrl-C) if one raised while the main thread waited or worked: then the pieces that had
    not started were skipped.
    """
    cdef int rc = fc_pool_run(<fc_piece_fn>fn, ctx, npieces, nthreads, scratch_bytes)
    if rc == FC_NOMEM:
        with gil:
            raise MemoryError(f"fastconv: could not allocate {scratch_bytes} bytes of working memory")
    if rc == FC_INTERRUPTED:
        return -1       # the signal handler's exception is set
    return 0


if fc_pool_init(threading.main_thread().ident) != 0:
    raise ImportError("fastconv: could not register the thread pool's fork handlers")


def budget():
    """Threads the process filters with at most, at once (the setting, or the automatic value)."""
    return fc_budget()


def budget_setting():
    """The budget set by `set_budget`; 0 when automatic."""
    return fc_budget_setting()


def set_budget(int n):
    """Set the budget to `n` threads; 0 returns to the automatic value. The caller checks `n`."""
    fc_set_budget(n)


def set_fallback(int n):
    """The automatic budget's value from the environment (0: none, use the cores available)."""
    fc_set_fallback(n)


def set_quota(int n):
    """The container's CPU quota in whole cores (0: none)."""
    fc_set_quota(n)


def available_cores():
    """Cores this process may run on: its CPU affinity, within the CPU quota given to `set_quota`."""
    return fc_available_cores()


def stats(bint reset_peak=False):
    """Counters of the pool: helper threads started, calls run, pieces run by helpers, slots busy now, and the
    bytes of per-thread scratch buffers held now and at most (since the last call with `reset_peak`, which starts
    a new maximum)."""
    cdef long long helpers, calls, pieces, busy, now, peak
    fc_pool_stats(&helpers, &calls, &pieces, &busy, &now, &peak, reset_peak)
    return {"helpers_started": helpers, "calls": calls, "helper_pieces": pieces, "busy": busy,
            "scratch_bytes": now, "scratch_peak": peak}
