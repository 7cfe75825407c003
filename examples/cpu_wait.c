/* cpu_wait.c -- see cpu_wait.h. */
#define _POSIX_C_SOURCE 200809L

#include "cpu_wait.h"

#include <stdio.h>

cpu_wait_t cpu_wait_now(const uint64_t *thread_ids, long n)
{
    cpu_wait_t w = {1, 0.0};
    long i;
    for (i = 0; i < n && w.ok; i++) {
        char path[64];
        unsigned long long on_cpu_ns = 0, waiting_ns = 0;
        FILE *f;
        snprintf(path, sizeof path, "/proc/self/task/%llu/schedstat",
                 (unsigned long long)thread_ids[i]);
        f = fopen(path, "r");
        if (f == NULL || fscanf(f, "%llu %llu", &on_cpu_ns, &waiting_ns) != 2)
            w.ok = 0;
        else
            w.waiting += (double)waiting_ns / 1e9;
        if (f != NULL)
            fclose(f);
    }
    return w;
}

double cpu_wait_share(cpu_wait_t before, cpu_wait_t after, long n, double wall)
{
    if (!before.ok || !after.ok || n < 1 || wall <= 0)
        return -1;
    return (after.waiting - before.waiting) / ((double)n * wall);
}
