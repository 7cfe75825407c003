/*
 * cpu_wait.h -- how long threads waited for a CPU, from the kernel's
 * scheduler statistics (/proc/self/task/TID/schedstat: time on a CPU, time
 * runnable but waiting in the run queue).
 *
 * A parallel speedup means something only when the threads could run: when
 * other processes hold the CPUs, runnable threads queue for them and the
 * wall times say more about the machine than about pyctx. The demo uses
 * this to say so beside its table.
 */
#ifndef PYCTX_EXAMPLES_CPU_WAIT_H
#define PYCTX_EXAMPLES_CPU_WAIT_H

#include <stdint.h>

/* Run-queue wait of a set of threads, summed, in seconds. */
typedef struct {
    int ok; /* 0 when /proc has no schedstat for one of the threads */
    double waiting;
} cpu_wait_t;

/* Reads the current run-queue wait of `n` threads (native thread ids). */
cpu_wait_t cpu_wait_now(const uint64_t *thread_ids, long n);

/* The average share of `wall` seconds that each of `n` threads spent
 * waiting for a CPU between `before` and `after`; -1 when unknown. */
double cpu_wait_share(cpu_wait_t before, cpu_wait_t after, long n, double wall);

#endif
