/*
 * parallel_demo.c -- pure Python running in parallel inside one process.
 *
 * One CPU-bound pure-Python job (about half a second per run) is run N
 * times three ways:
 *
 *   sequential  N runs one after another on one context
 *   worker      one run on each of N worker contexts at once: they share
 *               the main interpreter's GIL, so no faster than sequential
 *   owngil      one run on each of N owngil contexts at once: each is a
 *               subinterpreter with its own GIL (Python 3.12+), so N runs
 *               take about as long as one
 *
 * One host thread drives all N contexts with asynchronous calls; a
 * completion callback counts the results in.
 *
 * Beside each row: the share of the run its context threads spent waiting
 * for a CPU (cpu_wait.h). Well above zero, other processes held the CPUs,
 * and the demo says that its speedups then describe the machine, not pyctx.
 *
 *   usage: parallel_demo [N]     N defaults to the number of CPUs
 */
#define _POSIX_C_SOURCE 200809L

#include <pyctx.h>

#include "cpu_wait.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONTEXTS 64
#define JOB_SIZE 6000000 /* loop iterations: about 0.5 s of pure Python */
#define BUSY_SHARE 0.10   /* CPU wait above this share of a run: a busy machine */

/* The job, defined in each context's default namespace ("__main__") by the
 * context's preload code. */
static const char *const JOB_CODE =
    "def job(n):\n"
    "    total = 0\n"
    "    for i in range(n):\n"
    "        total += i * i % 7\n"
    "    return total\n";

/* ---- small helpers ---------------------------------------------------- */

static void die_on(pyctx_error_t *err, const char *what)
{
    if (err == NULL)
        return;
    fprintf(stderr, "%s failed: %s: %s %s\n", what, pyctx_status_name(pyctx_error_status(err)),
            pyctx_error_python_type(err), pyctx_error_message(err));
    exit(1);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the unsigned integer a job returns (as CBOR) into *out.
 * Returns 0 on success, -1 when the value is not an unsigned integer. */
static int cbor_uint(const uint8_t *data, size_t len, uint64_t *out)
{
    pyctx_cbor_reader_t reader;
    pyctx_cbor_item_t item;
    pyctx_error_t *err;
    pyctx_cbor_reader_init(&reader, data, len);
    err = pyctx_cbor_read(&reader, &item);
    if (err != NULL || item.type != PYCTX_CBOR_UINT) {
        pyctx_error_free(err);
        return -1;
    }
    *out = item.uint_value;
    return 0;
}

/* The native id of a context's thread, for its scheduler statistics. */
static uint64_t context_thread(const pyctx_context_t *ctx)
{
    pyctx_context_stats_t stats;
    die_on(pyctx_context_stats(ctx, &stats, sizeof stats), "pyctx_context_stats");
    return stats.thread_id;
}

/* ---- waiting for N asynchronous results ------------------------------- */

/* Counts completions; the completion callback runs on a library thread. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t all_done;
    long pending;
    long failures;
    uint64_t expected; /* every run must return this value */
} countdown_t;

static void on_job_done(void *user_data, uint64_t request_id, pyctx_result_t *result)
{
    countdown_t *cd = user_data;
    size_t len = 0;
    const uint8_t *value = pyctx_result_value(result, &len);
    uint64_t got = 0;
    int ok = pyctx_result_status(result) == PYCTX_OK && cbor_uint(value, len, &got) == 0 &&
             got == cd->expected;
    (void)request_id;
    if (!ok && pyctx_result_error(result) != NULL)
        fprintf(stderr, "job failed: %s\n", pyctx_error_message(pyctx_result_error(result)));
    pyctx_result_free(result);

    pthread_mutex_lock(&cd->lock);
    cd->failures += !ok;
    if (--cd->pending == 0)
        pthread_cond_signal(&cd->all_done);
    pthread_mutex_unlock(&cd->lock);
}

/* ---- the three ways to run the job ------------------------------------- */

static pyctx_context_t *create_context(pyctx_mode mode)
{
    pyctx_context_options_t *options = pyctx_context_options_new();
    pyctx_context_t *ctx = NULL;
    if (options == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    die_on(pyctx_context_options_set_mode(options, mode), "set_mode");
    die_on(pyctx_context_options_set_preload(options, JOB_CODE), "set_preload");
    die_on(pyctx_context_create(options, &ctx), "pyctx_context_create");
    pyctx_context_options_free(options);
    return ctx;
}

/* The CBOR argument array [JOB_SIZE], built once. */
static pyctx_cbor_writer_t *job_args(void)
{
    pyctx_cbor_writer_t *w = pyctx_cbor_writer_new();
    if (w == NULL || pyctx_cbor_write_array(w, 1) != 0 || pyctx_cbor_write_int(w, JOB_SIZE) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return w;
}

/* N synchronous calls on one context; returns the wall time, stores the
 * job's result in *out_value and the context thread's CPU wait share in
 * *out_wait (-1: unknown). */
static double run_sequential(long n, uint64_t *out_value, double *out_wait)
{
    pyctx_context_t *ctx = create_context(PYCTX_MODE_WORKER);
    pyctx_cbor_writer_t *args = job_args();
    size_t len;
    const uint8_t *data = pyctx_cbor_writer_data(args, &len);
    uint64_t tid = context_thread(ctx);
    cpu_wait_t before = cpu_wait_now(&tid, 1);
    double start = now_seconds();
    long i;
    for (i = 0; i < n; i++) {
        pyctx_bytes_t result = {NULL, 0};
        die_on(pyctx_call(ctx, "__main__", "job", data, len, NULL, 0, PYCTX_NO_TIMEOUT, &result),
               "job");
        if (cbor_uint(result.data, result.len, out_value) != 0) {
            fprintf(stderr, "the job returned something other than an unsigned int\n");
            exit(1);
        }
        pyctx_bytes_free(&result);
    }
    double wall = now_seconds() - start;
    *out_wait = cpu_wait_share(before, cpu_wait_now(&tid, 1), 1, wall);
    pyctx_cbor_writer_free(args);
    die_on(pyctx_context_close(ctx, 5000), "close");
    pyctx_context_free(ctx);
    return wall;
}

/* One asynchronous call on each of N contexts of `mode` at once; returns the
 * wall time from the first submission to the last completion and stores the
 * context threads' average CPU wait share in *out_wait (-1: unknown). */
static double run_parallel(pyctx_mode mode, long n, uint64_t expected, double *out_wait)
{
    pyctx_context_t *ctxs[MAX_CONTEXTS];
    uint64_t tids[MAX_CONTEXTS];
    cpu_wait_t before;
    pyctx_cbor_writer_t *args = job_args();
    countdown_t cd;
    size_t len;
    const uint8_t *data = pyctx_cbor_writer_data(args, &len);
    double start, wall;
    long i;

    for (i = 0; i < n; i++) { /* contexts are created before the clock starts */
        ctxs[i] = create_context(mode);
        tids[i] = context_thread(ctxs[i]);
    }
    pthread_mutex_init(&cd.lock, NULL);
    pthread_cond_init(&cd.all_done, NULL);
    cd.pending = n;
    cd.failures = 0;
    cd.expected = expected;

    before = cpu_wait_now(tids, n);
    start = now_seconds();
    for (i = 0; i < n; i++)
        die_on(pyctx_call_async(ctxs[i], "__main__", "job", data, len, NULL, 0, PYCTX_NO_TIMEOUT,
                                on_job_done, &cd, NULL),
               "pyctx_call_async");
    pthread_mutex_lock(&cd.lock);
    while (cd.pending > 0)
        pthread_cond_wait(&cd.all_done, &cd.lock);
    pthread_mutex_unlock(&cd.lock);
    wall = now_seconds() - start;
    *out_wait = cpu_wait_share(before, cpu_wait_now(tids, n), n, wall);

    if (cd.failures > 0) {
        fprintf(stderr, "%ld job(s) failed or returned a wrong value\n", cd.failures);
        exit(1);
    }
    for (i = 0; i < n; i++) {
        die_on(pyctx_context_close(ctxs[i], 5000), "close");
        pyctx_context_free(ctxs[i]);
    }
    pyctx_cbor_writer_free(args);
    return wall;
}

/* One table row; the CPU wait column is "-" when unknown. */
static void print_row(const char *mode, long contexts, double wall, double speedup, double wait)
{
    printf("%-12s %8ld %9.2f s %8.2fx", mode, contexts, wall, speedup);
    if (wait >= 0)
        printf(" %8.0f%%\n", wait * 100);
    else
        printf(" %9s\n", "-");
}

/* Keeps the largest CPU wait share seen and its row; any unknown share
 * makes the whole verdict unknown (-1). */
static void track_worst(double wait, const char *row, double *worst, const char **worst_row)
{
    if (wait < 0 || *worst < 0) {
        *worst = -1;
    } else if (wait >= *worst) {
        *worst = wait;
        *worst_row = row;
    }
}

/* The line under the table: could the runs use the CPUs? */
static void print_verdict(double worst_wait, const char *worst_row, long n, long cpus)
{
    if (worst_wait < 0)
        printf("\nmachine: not measured (no scheduler statistics in /proc); on a busy machine "
               "the speedups understate pyctx\n");
    else if (worst_wait <= BUSY_SHARE)
        printf("\nmachine: quiet (context threads waited for a CPU at most %.0f%% of a run)\n",
               worst_wait * 100);
    else if (n > cpus)
        printf("\nmachine: oversubscribed (%ld contexts on %ld CPUs wait for each other: %.0f%% "
               "of the %s run)\n",
               n, cpus, worst_wait * 100, worst_row);
    else
        printf("\nmachine: BUSY (context threads waited for a CPU %.0f%% of the %s run)\n"
               "         other processes held the CPUs: the speedups above describe the machine,\n"
               "         not pyctx; rerun when it is quiet\n",
               worst_wait * 100, worst_row);
}

int main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long n = cpus > 0 ? cpus : 1;
    char *end = NULL;
    uint64_t value = 0;
    double sequential, wall, wait, worst_wait = 0;
    const char *worst_row = "sequential";

    if (argc == 2)
        n = strtol(argv[1], &end, 10);
    if (argc > 2 || (end != NULL && (end == argv[1] || *end != '\0')) || n < 1 ||
        n > MAX_CONTEXTS) {
        fprintf(stderr, "usage: %s [N]   (1 <= N <= %d, default: number of CPUs)\n", argv[0],
                MAX_CONTEXTS);
        return 2;
    }
    die_on(pyctx_init(NULL), "pyctx_init");
    printf("pyctx %s, Python %s: job(%d) run %ld times, %ld CPUs\n\n", pyctx_version_string(),
           pyctx_python_version(), JOB_SIZE, n, cpus);
    printf("%-12s %8s %11s %9s %9s\n", "mode", "contexts", "wall time", "speedup", "CPU wait");

    sequential = run_sequential(n, &value, &wait);
    print_row("sequential", 1, sequential, 1.0, wait);
    track_worst(wait, "sequential", &worst_wait, &worst_row);

    wall = run_parallel(PYCTX_MODE_WORKER, n, value, &wait);
    print_row("worker", n, wall, sequential / wall, wait);
    track_worst(wait, "worker", &worst_wait, &worst_row);

    if (pyctx_owngil_supported()) {
        wall = run_parallel(PYCTX_MODE_OWNGIL, n, value, &wait);
        print_row("owngil", n, wall, sequential / wall, wait);
        track_worst(wait, "owngil", &worst_wait, &worst_row);
    } else {
        printf("%-12s skipped: Python %s has no per-interpreter GIL (needs 3.12+)\n", "owngil",
               pyctx_python_version());
    }
    print_verdict(worst_wait, worst_row, n, cpus > 0 ? cpus : 1);

    die_on(pyctx_shutdown(5000), "pyctx_shutdown");
    return 0;
}
