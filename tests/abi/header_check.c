/*
 * Compiled by ctest as strict C99 and as strict C++11 (-pedantic -Wall
 * -Wextra -Werror, syntax only): the public header must be clean in both,
 * self-contained, and idempotent to include. Every callback type is
 * implemented and called through its pointer type, and every entry point is
 * referenced, so a declaration that stops compiling is caught here.
 */
#include "pyctx.h"
#include "pyctx.h" /* include guard */

/* The version macros are integer constant expressions. */
typedef char pyctx_version_is_constant[(PYCTX_VERSION == ((PYCTX_VERSION_MAJOR << 16) |
                                                           (PYCTX_VERSION_MINOR << 8) |
                                                           PYCTX_VERSION_PATCH))
                                           ? 1
                                           : -1];
/* Status values are stable: spot-check first and last. */
typedef char pyctx_status_values_are_stable[(PYCTX_OK == 0 && PYCTX_ERR_INTERNAL == 15) ? 1 : -1];

static int completions_seen;
static void on_complete(void *user_data, uint64_t request_id, pyctx_result_t *result) {
    (void)user_data;
    (void)request_id;
    pyctx_result_free(result);
    completions_seen++;
}
static void host_fn(void *user_data, pyctx_host_call_t *call) {
    (void)user_data;
    pyctx_error_free(pyctx_host_call_fail(call, "unused"));
}
static void free_fn(void *user_data) { (void)user_data; }

typedef void (*pyctx_any_fn)(void);

/* Every entry point of the header. */
static const pyctx_any_fn every_entry_point[] = {
    (pyctx_any_fn)pyctx_version,
    (pyctx_any_fn)pyctx_version_string,
    (pyctx_any_fn)pyctx_status_name,
    (pyctx_any_fn)pyctx_error_free,
    (pyctx_any_fn)pyctx_error_status,
    (pyctx_any_fn)pyctx_error_message,
    (pyctx_any_fn)pyctx_error_python_type,
    (pyctx_any_fn)pyctx_error_traceback,
    (pyctx_any_fn)pyctx_bytes_free,
    (pyctx_any_fn)pyctx_runtime_options_new,
    (pyctx_any_fn)pyctx_runtime_options_free,
    (pyctx_any_fn)pyctx_runtime_options_add_path,
    (pyctx_any_fn)pyctx_runtime_options_set_home,
    (pyctx_any_fn)pyctx_runtime_options_set_program_name,
    (pyctx_any_fn)pyctx_runtime_options_set_allocator,
    (pyctx_any_fn)pyctx_init,
    (pyctx_any_fn)pyctx_shutdown,
    (pyctx_any_fn)pyctx_runtime_state,
    (pyctx_any_fn)pyctx_python_version,
    (pyctx_any_fn)pyctx_owngil_supported,
    (pyctx_any_fn)pyctx_context_options_new,
    (pyctx_any_fn)pyctx_context_options_free,
    (pyctx_any_fn)pyctx_context_options_set_mode,
    (pyctx_any_fn)pyctx_context_options_set_mode_name,
    (pyctx_any_fn)pyctx_context_options_set_name,
    (pyctx_any_fn)pyctx_context_options_set_preload,
    (pyctx_any_fn)pyctx_context_options_set_queue_capacity,
    (pyctx_any_fn)pyctx_context_create,
    (pyctx_any_fn)pyctx_context_close,
    (pyctx_any_fn)pyctx_context_free,
    (pyctx_any_fn)pyctx_context_mode,
    (pyctx_any_fn)pyctx_context_name,
    (pyctx_any_fn)pyctx_context_is_closed,
    (pyctx_any_fn)pyctx_context_stats,
    (pyctx_any_fn)pyctx_sandbox_new,
    (pyctx_any_fn)pyctx_sandbox_free,
    (pyctx_any_fn)pyctx_sandbox_block_process_creation,
    (pyctx_any_fn)pyctx_sandbox_block_sockets,
    (pyctx_any_fn)pyctx_sandbox_restrict_files,
    (pyctx_any_fn)pyctx_sandbox_allow_path,
    (pyctx_any_fn)pyctx_context_options_set_sandbox,
    (pyctx_any_fn)pyctx_context_options_set_memory_limit,
    (pyctx_any_fn)pyctx_env_create,
    (pyctx_any_fn)pyctx_env_free,
    (pyctx_any_fn)pyctx_call,
    (pyctx_any_fn)pyctx_eval,
    (pyctx_any_fn)pyctx_exec,
    (pyctx_any_fn)pyctx_result_free,
    (pyctx_any_fn)pyctx_result_status,
    (pyctx_any_fn)pyctx_result_value,
    (pyctx_any_fn)pyctx_result_error,
    (pyctx_any_fn)pyctx_result_take_value,
    (pyctx_any_fn)pyctx_call_async,
    (pyctx_any_fn)pyctx_eval_async,
    (pyctx_any_fn)pyctx_exec_async,
    (pyctx_any_fn)pyctx_cancel,
    (pyctx_any_fn)pyctx_host_register,
    (pyctx_any_fn)pyctx_host_unregister,
    (pyctx_any_fn)pyctx_host_call_args,
    (pyctx_any_fn)pyctx_host_call_name,
    (pyctx_any_fn)pyctx_host_call_context_name,
    (pyctx_any_fn)pyctx_host_call_return,
    (pyctx_any_fn)pyctx_host_call_fail,
    (pyctx_any_fn)pyctx_cbor_writer_new,
    (pyctx_any_fn)pyctx_cbor_writer_free,
    (pyctx_any_fn)pyctx_cbor_writer_reset,
    (pyctx_any_fn)pyctx_cbor_write_null,
    (pyctx_any_fn)pyctx_cbor_write_bool,
    (pyctx_any_fn)pyctx_cbor_write_int,
    (pyctx_any_fn)pyctx_cbor_write_uint,
    (pyctx_any_fn)pyctx_cbor_write_float,
    (pyctx_any_fn)pyctx_cbor_write_text,
    (pyctx_any_fn)pyctx_cbor_write_cstr,
    (pyctx_any_fn)pyctx_cbor_write_bytes,
    (pyctx_any_fn)pyctx_cbor_write_array,
    (pyctx_any_fn)pyctx_cbor_write_map,
    (pyctx_any_fn)pyctx_cbor_write_tag,
    (pyctx_any_fn)pyctx_cbor_write_raw,
    (pyctx_any_fn)pyctx_cbor_writer_data,
    (pyctx_any_fn)pyctx_cbor_reader_init,
    (pyctx_any_fn)pyctx_cbor_read,
    (pyctx_any_fn)pyctx_cbor_skip,
    (pyctx_any_fn)pyctx_cbor_reader_at_end,
    (pyctx_any_fn)pyctx_cbor_diagnose,
};

int pyctx_header_check(void);
int pyctx_header_check(void) {
    pyctx_completion_fn completion = on_complete;
    pyctx_host_fn host = host_fn;
    pyctx_free_fn finalizer = free_fn;
    pyctx_bytes_t bytes = {0, 0};
    pyctx_context_stats_t stats = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    pyctx_cbor_reader_t reader = {0, 0, 0};
    pyctx_cbor_item_t item;
    pyctx_mode mode = PYCTX_MODE_OWNGIL;
    pyctx_state state = PYCTX_STATE_STOPPED;
    pyctx_allocator allocator = PYCTX_ALLOCATOR_MALLOC;
    pyctx_cbor_type type = PYCTX_CBOR_BREAK;
    (void)item;
    completion(0, 1u, 0);
    host(0, 0);
    finalizer(0);
    return (int)(sizeof every_entry_point / sizeof every_entry_point[0]) + (int)bytes.len +
           (int)stats.completed + (int)reader.pos + (int)mode + (int)state + (int)allocator +
           (int)type + completions_seen + (int)PYCTX_NO_TIMEOUT + (int)PYCTX_CBOR_MAX_DEPTH +
           (int)PYCTX_CBOR_TAG_TUPLE;
}
