/* fastconv's thread pool: the parallel runtime behind every filtering call (see _pool.c).
 *
 * A call is cut into pieces. The calling thread claims and runs pieces itself; helper threads from one
 * process-wide pool claim the rest as they get a core. The call ends when every piece is done, never waiting for a
 * helper that has not started one. One budget of threads is shared by all concurrent calls. */
#ifndef FASTCONV_POOL_H
#define FASTCONV_POOL_H

#include <Python.h>
#include <stddef.h>

/* One piece of a call: `scratch` is this thread's buffer for the call (64-byte aligned, the size the call asked
 * for). Pieces of one call may run in any order and on any thread, concurrently. */
typedef void (*fc_piece_fn)(void *ctx, Py_ssize_t piece, void *scratch);

enum { FC_OK = 0, FC_NOMEM = 1, FC_INTERRUPTED = 2 };

/* Run pieces 0 .. npieces - 1 of `fn` on at most `nthreads` threads (the caller included; fewer if the budget is
 * taken by other calls; nthreads < 1 means the budget). Call without the GIL. Returns FC_OK, FC_NOMEM (the
 * caller's scratch could not be allocated; nothing ran), or FC_INTERRUPTED: on the main thread a signal handler
 * raised (the exception is set); pieces not yet started were skipped, those running were finished. */
int fc_pool_run(fc_piece_fn fn, void *ctx, Py_ssize_t npieces, int nthreads, size_t scratch_bytes);

/* Set up the pool once per process (fork handlers included); `main_ident` is the main thread's ident. */
int fc_pool_init(unsigned long main_ident);

/* The process-wide budget: at most this many threads filter at once. `fc_set_budget(0)` returns to the
 * automatic value: the `fallback` given by fc_set_fallback (from the environment) if any, else the cores this
 * process may run on (CPU affinity, and the container's CPU quota given by fc_set_quota). */
int fc_budget(void);
void fc_set_budget(int n);
int fc_budget_setting(void);
void fc_set_fallback(int n);
void fc_set_quota(int n);
int fc_available_cores(void);

/* Counters for tests and diagnostics: helpers started, calls, pieces run by helpers, threads busy now, bytes of
 * scratch buffers held now and at most (since the last reset_peak). */
void fc_pool_stats(long long *helpers, long long *calls, long long *helper_pieces, long long *busy,
                   long long *scratch_now, long long *scratch_peak, int reset_peak);

#endif
