/* Portable primitives of fastconv's thread pool (_pool.c): atomics, pause, a monotonic clock, mutexes, condition
 * variables with timed waits, threads and the CPU affinity, for gcc and clang (pthreads, __atomic builtins) and MSVC
 * (Win32 threads, slim reader/writer locks, Interlocked functions). Included by _pool.c only. */
#ifndef FASTCONV_POOL_SYS_H
#define FASTCONV_POOL_SYS_H

#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <process.h>
#else
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#endif

/* Give the CPU to any other thread that wants it, else go on at once. */
#if defined(_WIN32)
#define FC_YIELD() ((void)SwitchToThread())
#else
#define FC_YIELD() ((void)sched_yield())
#endif

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <emmintrin.h>
#define FC_PAUSE() _mm_pause()
#elif defined(__aarch64__) && !defined(_MSC_VER)
#define FC_PAUSE() __asm__ __volatile__("yield")
#else
#define FC_PAUSE() ((void)0)
#endif

#if defined(_MSC_VER)
typedef volatile LONG64 fc_atomic;
#define FC_ADD(p, v) InterlockedExchangeAdd64((p), (v))
#define FC_LOAD(p) InterlockedCompareExchange64((p), 0, 0)
#define FC_STORE(p, v) ((void)InterlockedExchange64((p), (v)))
#else
typedef long long fc_atomic;
#define FC_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define FC_LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define FC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#endif

#if defined(_WIN32)
typedef SRWLOCK fc_mutex;
typedef CONDITION_VARIABLE fc_cond;
static void fc_mutex_init(fc_mutex *m) { InitializeSRWLock(m); }
static void fc_lock(fc_mutex *m) { AcquireSRWLockExclusive(m); }
static void fc_unlock(fc_mutex *m) { ReleaseSRWLockExclusive(m); }
static void fc_cond_init(fc_cond *c) { InitializeConditionVariable(c); }
static void fc_wait(fc_cond *c, fc_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static void fc_wait_ns(fc_cond *c, fc_mutex *m, long long ns) { SleepConditionVariableSRW(c, m, (DWORD)(ns / 1000000), 0); }
static void fc_signal(fc_cond *c) { WakeConditionVariable(c); }
static void fc_broadcast(fc_cond *c) { WakeAllConditionVariable(c); }
static long long fc_now(void) {
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (long long)((double)t.QuadPart * (1e9 / (double)f.QuadPart));
}
#else
typedef pthread_mutex_t fc_mutex;
typedef pthread_cond_t fc_cond;
static void fc_mutex_init(fc_mutex *m) { pthread_mutex_init(m, NULL); }
static void fc_lock(fc_mutex *m) { pthread_mutex_lock(m); }
static void fc_unlock(fc_mutex *m) { pthread_mutex_unlock(m); }
#if defined(__linux__)
#define FC_COND_CLOCK CLOCK_MONOTONIC     /* timed waits unaffected by changes of the wall clock */
#else
#define FC_COND_CLOCK CLOCK_REALTIME
#endif
static void fc_cond_init(fc_cond *c) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
#if defined(__linux__)
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
#endif
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}
static void fc_wait(fc_cond *c, fc_mutex *m) { pthread_cond_wait(c, m); }
static void fc_wait_ns(fc_cond *c, fc_mutex *m, long long ns) {
    struct timespec t;
    clock_gettime(FC_COND_CLOCK, &t);
    ns += t.tv_nsec;
    t.tv_sec += (time_t)(ns / 1000000000LL);
    t.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(c, m, &t);
}
static void fc_signal(fc_cond *c) { pthread_cond_signal(c); }
static void fc_broadcast(fc_cond *c) { pthread_cond_broadcast(c); }
static long long fc_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}
#endif

/* How many CPUs this process may run on. */
static int affinity_cores(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
#elif defined(_WIN32)
    DWORD_PTR process, system;
    if (GetProcessAffinityMask(GetCurrentProcess(), &process, &system) && process) {
        int n = 0;
        for (; process; process &= process - 1)
            n++;
        return n;
    }
    return 1;
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
#endif
}

#endif
