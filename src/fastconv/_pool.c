/* fastconv's thread pool.
 *
 * Why not OpenMP: an OpenMP parallel region ends at a barrier that every thread of the team must reach. On a busy
 * machine the caller then waits, often a whole scheduler tick, for a helper that has not yet been given a core and
 * has nothing left to do; its runtime spins while it waits; a process forked after a parallel region hangs in it;
 * and concurrent calls each start a full team. This pool avoids all four:
 *
 * - The caller works. A call's pieces are claimed one at a time from an atomic counter, by the caller and by any
 *   helper that gets there, and the call ends when its pieces are done: a helper that was woken but never ran
 *   finds nothing left (it joins a call only by claiming a piece, under the pool's lock, while the call is listed).
 * - Waiting spins only briefly (FC_SPIN_NS), then sleeps on a condition variable. A helper out of work first
 *   yields for a while (FC_YIELD_NS): on a quiet machine it stays ready for the next call (a call of a
 *   millisecond would wait tens of microseconds for a sleeping helper to wake), on a busy one every thread that
 *   wants its core gets it.
 * - One budget for the process: a call takes one thread slot for its caller (waiting if every slot is busy) and
 *   reserves at most its share of the free slots for helpers. Reserved slots a helper never took go back when the
 *   call ends.
 * - Fork: handlers reset the pool in the child (no helpers, no calls, free slots); helpers start again on demand.
 * - Signals: helpers block them; a caller on the main thread runs Python's signal handlers every FC_CHECK_NS
 *   between pieces and while it waits, and stops claiming pieces once a handler raised.
 *
 * The same code builds with gcc and clang (pthreads, __atomic builtins) and MSVC (Win32 threads, slim reader/writer
 * locks, Interlocked functions). */
#include "_pool.h"

#include "_pool_sys.h"

/* How long a thread spins before it sleeps: a helper after its last piece (so back-to-back calls find it awake)
 * and a caller waiting for the pieces still running. Short enough not to take a busy machine's cores. */
#define FC_SPIN_NS 40000LL
/* How long a helper out of work then yields its CPU to anything else runnable, watching for the next call. */
#define FC_YIELD_NS 500000LL
/* How often a caller on the main thread runs Python's signal handlers. */
#define FC_CHECK_NS 20000000LL
/* How long the automatic budget trusts its last reading of the CPU affinity. */
#define FC_CORES_TTL_NS 100000000LL
#define FC_MAX_HELPERS 255

static void count_scratch(long long bytes);

static void *fc_alloc(size_t bytes) {
    /* 64-byte aligned; the address malloc gave, and the size, are kept just below the aligned block */
    char *raw = (char *)malloc(bytes + 64 + 2 * sizeof(void *));
    char *p;
    if (raw == NULL)
        return NULL;
    p = (char *)(((size_t)(raw + 2 * sizeof(void *)) + 63) & ~(size_t)63);
    ((void **)p)[-1] = raw;
    ((size_t *)p)[-2] = bytes;
    count_scratch((long long)bytes);
    return p;
}

static void fc_free(void *p) {
    if (p != NULL) {
        count_scratch(-(long long)((size_t *)p)[-2]);
        free(((void **)p)[-1]);
    }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The pool */

typedef struct fc_job {
    fc_piece_fn fn;
    void *ctx;
    Py_ssize_t n;
    size_t scratch_bytes;
    fc_atomic next;             /* the next piece to claim */
    fc_atomic finished;         /* pieces done, or skipped once cancelled */
    fc_atomic cancel;
    int wanted;                 /* helper slots reserved for this call and not yet taken (under the lock) */
    struct fc_job *prev, *after;    /* the list of calls with wanted > 0 */
} fc_job;

static struct {
    fc_mutex lock;
    fc_cond work;               /* helpers sleep here */
    fc_cond done;               /* callers wait here for their last pieces */
    fc_cond slots;              /* callers wait here for a free slot */
    fc_job *jobs;
    int helpers;                /* helper threads alive */
    int idle;                   /* helpers not serving a call (spinning or sleeping) */
    int sleeping;               /* idle helpers waiting on `work` */
    int busy;                   /* slots taken: callers working plus helper slots reserved or taken */
    int budget;                 /* the user's setting; 0 for the automatic value */
    int fallback;               /* the automatic value's override from the environment; 0 for none */
    int quota;                  /* the container's CPU quota in whole cores; 0 for none */
    int cores;                  /* the last reading of the CPU affinity */
    long long cores_read;       /* when it was read (fc_now), or 0 */
    unsigned long main_ident;
    fc_atomic posted;           /* calls posted to helpers, ever: spinning helpers watch it */
    fc_atomic stat_calls, stat_helper_pieces, stat_helpers;
    fc_atomic scratch_now, scratch_peak;    /* bytes of scratch buffers held (by callers and helpers), and the most */
    int ready;
} pool;

static void count_scratch(long long bytes) {
    long long now = FC_ADD(&pool.scratch_now, bytes) + bytes, peak = FC_LOAD(&pool.scratch_peak);
    while (now > peak) {        /* a racy maximum is fine for a statistic, but keep it monotone */
#if defined(_MSC_VER)
        if (InterlockedCompareExchange64(&pool.scratch_peak, now, peak) == peak)
            break;
#else
        if (__atomic_compare_exchange_n(&pool.scratch_peak, &peak, now, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            break;
#endif
        peak = FC_LOAD(&pool.scratch_peak);
    }
}

/* Cores this process may use; with the lock held. */
static int cores_locked(void) {
    long long now = fc_now();
    int n;
    if (pool.cores_read == 0 || now - pool.cores_read > FC_CORES_TTL_NS) {
        pool.cores = affinity_cores();
        pool.cores_read = now;
    }
    n = pool.cores;
    if (pool.quota > 0 && pool.quota < n)
        n = pool.quota;
    return n > 0 ? n : 1;
}

static int budget_locked(void) {
    if (pool.budget > 0)
        return pool.budget;
    if (pool.fallback > 0)
        return pool.fallback;
    return cores_locked();
}

static int check_signals(void) {
    PyGILState_STATE state = PyGILState_Ensure();
    int r = PyErr_CheckSignals();
    PyGILState_Release(state);
    return r;
}

static int on_main_thread(void) { return PyThread_get_thread_ident() == pool.main_ident; }

static void unlink_job(fc_job *job) {
    if (job->prev)
        job->prev->after = job->after;
    else if (pool.jobs == job)
        pool.jobs = job->after;
    if (job->after)
        job->after->prev = job->prev;
    job->prev = job->after = NULL;
}

/* Run pieces from `first` on, claiming each next one before reporting the current one done (so the call cannot end,
 * and its job vanish, while this thread still reads it). Returns how many it ran. */
static long long work_on(fc_job *job, Py_ssize_t first, void *scratch, int helper) {
    Py_ssize_t i = first, n = job->n, j;
    long long ran = 0;
    for (;;) {
        if (!FC_LOAD(&job->cancel)) {
            job->fn(job->ctx, i, scratch);
            ran++;
        }
        j = (Py_ssize_t)FC_ADD(&job->next, 1);
        if (FC_ADD(&job->finished, 1) + 1 == n && helper) {
            fc_lock(&pool.lock);        /* the last piece: wake its caller (the job may be gone already) */
            fc_broadcast(&pool.done);
            fc_unlock(&pool.lock);
        }
        if (j >= n)
            return ran;
        i = j;
    }
}

#if defined(_WIN32)
static unsigned __stdcall helper_main(void *arg)
#else
static void *helper_main(void *arg)
#endif
{
    void *scratch = NULL;
    size_t capacity = 0;
    long long seen;
    (void)arg;
    fc_lock(&pool.lock);
    for (;;) {
        fc_job *job = pool.jobs;
        Py_ssize_t i;
        long long ran;
        if (job == NULL) {
            /* nothing to do: spin a little for the next call, then sleep */
            seen = FC_LOAD(&pool.posted);
            if (capacity > (1 << 20)) {     /* do not hoard a large kernel's buffer */
                fc_free(scratch);
                scratch = NULL;
                capacity = 0;
            }
            fc_unlock(&pool.lock);
            {
                long long start = fc_now();
                int k = 0;
                while (FC_LOAD(&pool.posted) == seen) {
                    FC_PAUSE();
                    if (++k % 64 == 0 && fc_now() - start > FC_SPIN_NS)
                        break;
                }
                while (FC_LOAD(&pool.posted) == seen && fc_now() - start < FC_SPIN_NS + FC_YIELD_NS)
                    FC_YIELD();
            }
            fc_lock(&pool.lock);
            if (pool.jobs == NULL) {
                pool.sleeping++;
                fc_wait(&pool.work, &pool.lock);
                pool.sleeping--;
            }
            continue;
        }
        if (capacity < job->scratch_bytes) {
            fc_free(scratch);
            scratch = fc_alloc(job->scratch_bytes);
            capacity = scratch ? job->scratch_bytes : 0;
            if (scratch == NULL) {      /* leave this call to its caller, and its slot to the budget */
                job->wanted--;
                pool.busy--;
                if (job->wanted == 0)
                    unlink_job(job);
                fc_broadcast(&pool.slots);
                continue;
            }
        }
        job->wanted--;
        if (job->wanted == 0)
            unlink_job(job);
        i = (Py_ssize_t)FC_ADD(&job->next, 1);
        if (i >= job->n) {              /* finished without us: the slot goes back */
            pool.busy--;
            fc_broadcast(&pool.slots);
            continue;
        }
        pool.idle--;
        fc_unlock(&pool.lock);
        ran = work_on(job, i, scratch, 1);
        FC_ADD(&pool.stat_helper_pieces, ran);
        fc_lock(&pool.lock);
        pool.idle++;
        pool.busy--;
        fc_broadcast(&pool.slots);
    }
#if defined(_WIN32)
    return 0;
#else
    return NULL;
#endif
}

/* Start helpers until `want` of them are idle; with the lock held. */
static void start_helpers_locked(int want) {
#if !defined(_WIN32)
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);     /* helpers inherit this mask: signals go to Python's threads */
#endif
    while (pool.idle < want && pool.helpers < FC_MAX_HELPERS) {
        int ok;
#if defined(_WIN32)
        uintptr_t h = _beginthreadex(NULL, 0, helper_main, NULL, 0, NULL);
        ok = h != 0;
        if (ok)
            CloseHandle((HANDLE)h);
#else
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&t, &attr, helper_main, NULL) == 0;
        pthread_attr_destroy(&attr);
#endif
        if (!ok)
            break;
        pool.helpers++;
        pool.idle++;
        FC_ADD(&pool.stat_helpers, 1);
    }
#if !defined(_WIN32)
    pthread_sigmask(SIG_SETMASK, &old, NULL);
#endif
}

int fc_pool_run(fc_piece_fn fn, void *ctx, Py_ssize_t npieces, int nthreads, size_t scratch_bytes) {
    fc_job job;
    void *scratch;
    int main_thread = on_main_thread(), interrupted = 0, budget, want;
    long long next_check = 0, until;
    Py_ssize_t i;

    if (npieces <= 0)
        return FC_OK;
    scratch = fc_alloc(scratch_bytes);
    if (scratch == NULL)
        return FC_NOMEM;
    memset(&job, 0, sizeof(job));
    job.fn = fn;
    job.ctx = ctx;
    job.n = npieces;
    job.scratch_bytes = scratch_bytes;
    if (main_thread && npieces > 1)     /* (a call of one piece runs no handler before it returns) */
        next_check = fc_now() + FC_CHECK_NS;

    fc_lock(&pool.lock);
    budget = budget_locked();
    while (pool.busy >= budget) {        /* every slot is busy: wait for one */
        if (!main_thread) {
            fc_wait(&pool.slots, &pool.lock);
        } else {
            fc_wait_ns(&pool.slots, &pool.lock, FC_CHECK_NS);
            if (pool.busy >= budget_locked()) {
                fc_unlock(&pool.lock);
                if (check_signals() < 0) {
                    fc_free(scratch);
                    return FC_INTERRUPTED;
                }
                fc_lock(&pool.lock);
            }
        }
        budget = budget_locked();
    }
    pool.busy++;
    want = (nthreads < 1 ? budget : (nthreads < budget ? nthreads : budget)) - 1;
    if (want > npieces - 1)
        want = (int)(npieces - 1);
    if (want > budget - pool.busy)
        want = budget - pool.busy;
    if (want > 0) {
        pool.busy += want;
        job.wanted = want;
        job.after = pool.jobs;
        if (pool.jobs)
            pool.jobs->prev = &job;
        pool.jobs = &job;
        start_helpers_locked(want);
        FC_ADD(&pool.posted, 1);
        if (pool.sleeping >= want) {
            int k;
            for (k = 0; k < want; k++)
                fc_signal(&pool.work);
        } else if (pool.sleeping > 0) {
            fc_broadcast(&pool.work);
        }
    }
    fc_unlock(&pool.lock);
    FC_ADD(&pool.stat_calls, 1);

    /* the caller's share: whatever is left to claim */
    for (;;) {
        i = (Py_ssize_t)FC_ADD(&job.next, 1);
        if (i >= npieces)
            break;
        if (!FC_LOAD(&job.cancel))
            fn(ctx, i, scratch);
        FC_ADD(&job.finished, 1);
        if (main_thread && !interrupted && i + 1 < npieces && fc_now() >= next_check) {
            next_check = fc_now() + FC_CHECK_NS;
            if (check_signals() < 0) {
                interrupted = 1;
                FC_STORE(&job.cancel, 1);
            }
        }
    }

    /* pieces still running on helpers: spin briefly, then sleep */
    until = FC_LOAD(&job.finished) < npieces ? fc_now() + FC_SPIN_NS : 0;
    {
        int k = 0;
        while (FC_LOAD(&job.finished) < npieces) {
            FC_PAUSE();
            if (++k % 64 == 0 && fc_now() > until)
                break;
        }
    }
    fc_lock(&pool.lock);
    while (FC_LOAD(&job.finished) < npieces) {
        if (!main_thread || interrupted) {
            fc_wait(&pool.done, &pool.lock);
        } else {
            fc_wait_ns(&pool.done, &pool.lock, FC_CHECK_NS);
            if (FC_LOAD(&job.finished) < npieces && fc_now() >= next_check) {
                fc_unlock(&pool.lock);
                next_check = fc_now() + FC_CHECK_NS;
                if (check_signals() < 0) {
                    interrupted = 1;
                    FC_STORE(&job.cancel, 1);
                }
                fc_lock(&pool.lock);
            }
        }
    }
    if (job.wanted > 0) {       /* helpers that never came: their slots go back */
        unlink_job(&job);
        pool.busy -= job.wanted;
    }
    pool.busy--;
    fc_broadcast(&pool.slots);
    fc_unlock(&pool.lock);
    fc_free(scratch);
    return interrupted ? FC_INTERRUPTED : FC_OK;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Fork */

static void reset_locked_state(void) {
    pool.jobs = NULL;
    pool.helpers = 0;
    pool.idle = 0;
    pool.sleeping = 0;
    pool.busy = 0;
    pool.cores_read = 0;
}

#if !defined(_WIN32)
static void before_fork(void) { fc_lock(&pool.lock); }
static void after_fork_parent(void) { fc_unlock(&pool.lock); }
static void after_fork_child(void) {
    /* Only the forking thread lives on in the child: the parent's helpers and the calls they served are gone.
     * Their buffers leak (the child's copy of them); everything else starts afresh. */
    fc_unlock(&pool.lock);
    fc_cond_init(&pool.work);
    fc_cond_init(&pool.done);
    fc_cond_init(&pool.slots);
    reset_locked_state();
    pool.main_ident = PyThread_get_thread_ident();
}
#endif

int fc_pool_init(unsigned long main_ident) {
    if (pool.ready) {
        pool.main_ident = main_ident;
        return 0;
    }
    fc_mutex_init(&pool.lock);
    fc_cond_init(&pool.work);
    fc_cond_init(&pool.done);
    fc_cond_init(&pool.slots);
    reset_locked_state();
    pool.main_ident = main_ident;
#if !defined(_WIN32)
    if (pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0)
        return -1;
#endif
    pool.ready = 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Budget */

int fc_budget(void) {
    int n;
    fc_lock(&pool.lock);
    n = budget_locked();
    fc_unlock(&pool.lock);
    return n;
}

int fc_budget_setting(void) { return pool.budget; }

void fc_set_budget(int n) {
    fc_lock(&pool.lock);
    pool.budget = n > 0 ? n : 0;
    fc_broadcast(&pool.slots);      /* a larger budget frees waiting callers */
    fc_unlock(&pool.lock);
}

void fc_set_fallback(int n) {
    fc_lock(&pool.lock);
    pool.fallback = n > 0 ? n : 0;
    fc_broadcast(&pool.slots);
    fc_unlock(&pool.lock);
}

void fc_set_quota(int n) {
    fc_lock(&pool.lock);
    pool.quota = n > 0 ? n : 0;
    fc_broadcast(&pool.slots);
    fc_unlock(&pool.lock);
}

int fc_available_cores(void) {
    int n;
    fc_lock(&pool.lock);
    pool.cores_read = 0;
    n = cores_locked();
    fc_unlock(&pool.lock);
    return n;
}

void fc_pool_stats(long long *helpers, long long *calls, long long *helper_pieces, long long *busy,
                   long long *scratch_now, long long *scratch_peak, int reset_peak) {
    fc_lock(&pool.lock);
    *helpers = FC_LOAD(&pool.stat_helpers);
    *calls = FC_LOAD(&pool.stat_calls);
    *helper_pieces = FC_LOAD(&pool.stat_helper_pieces);
    *busy = pool.busy;
    *scratch_now = FC_LOAD(&pool.scratch_now);
    *scratch_peak = FC_LOAD(&pool.scratch_peak);
    if (reset_peak)
        FC_STORE(&pool.scratch_peak, *scratch_now);
    fc_unlock(&pool.lock);
}
