/* C trampolines of the Go binding for "Python talks to the host" (send
 * endpoints, the router, the log handler): Go cannot hand an exported Go function to C as a
 * function pointer, so these wrap the registrations. */
#ifndef PYCTX_GO_SHIMS_TALK_H
#define PYCTX_GO_SHIMS_TALK_H

#include <stddef.h>
#include <stdint.h>

#include "pyctx.h"

pyctx_error_t *pyctxgo_endpoint_register(const char *name, uintptr_t handle);
pyctx_error_t *pyctxgo_send_set_router(uintptr_t handle);
pyctx_error_t *pyctxgo_log_set_handler(uintptr_t handle, int min_level, size_t capacity);

#endif
