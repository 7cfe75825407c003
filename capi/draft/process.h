/* Belongs in pyctx.h, section "Contexts" (after pyctx_context_stats). */
#ifndef PYCTX_DRAFT_PROCESS_H
#define PYCTX_DRAFT_PROCESS_H

#include "pyctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Process contexts: the helper executable to start. By default the library
 *  looks next to its own shared object (then ../libexec/pyctx from it), then
 *  at the path compiled in at install time (for hosts linking the static
 *  library). `path` overrides both; NULL or "" restores the default. A path
 *  that is not an executable file makes pyctx_context_create() fail with
 *  PYCTX_ERR_NOT_FOUND. Ignored by other modes. */
PYCTX_API pyctx_error_t *pyctx_context_options_set_process_helper(
    pyctx_context_options_t *options, const char *path);

/** Process contexts: what a crash of the child does. With `max_restarts`
 *  0 (default) the context closes: every queued and running request
 *  completes with PYCTX_ERR_CRASHED and later submissions with
 *  PYCTX_ERR_CLOSED. Otherwise a new child is started (the preload runs
 *  again) up to `max_restarts` times within any `window_ms` (0: over the
 *  context's whole life); the running requests of the dead child complete as
 *  crashed, queued ones wait for the new child, and envs made before the
 *  crash complete their requests as PYCTX_ERR_CLOSED. Beyond the budget the
 *  context closes as above. pyctx_context_options_set_memory_limit() caps a
 *  process context's child with RLIMIT_AS: allocations beyond it raise
 *  MemoryError there; a child killed meanwhile is reported as crashed with
 *  the cap named in the message. */
PYCTX_API pyctx_error_t *pyctx_context_options_set_restart(pyctx_context_options_t *options,
                                                           uint32_t max_restarts,
                                                           uint32_t window_ms);

/** A process context's current child pid (0 once it is gone, or for other
 *  modes) and how many times a child was restarted after a crash. Either
 *  out pointer may be NULL. Thread-safe. */
PYCTX_API pyctx_error_t *pyctx_context_process_info(const pyctx_context_t *context,
                                                    uint64_t *out_pid,
                                                    uint32_t *out_restarts);

#ifdef __cplusplus
}
#endif

#endif /* PYCTX_DRAFT_PROCESS_H */
