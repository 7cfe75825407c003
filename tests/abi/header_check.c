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
static void stream_item(void *user_data, pyctx_stream_t *stream, const uint8_t *item,
                        size_t len) {
    (void)user_data;
    (void)stream;
    (void)item;
    (void)len;
}
static void stream_end(void *user_data, pyctx_stream_t *stream, pyctx_status status,
                       const pyctx_error_t *error) {
    (void)user_data;
    (void)stream;
    (void)status;
    (void)error;
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
    (pyctx_any_fn)pyctx_context_options_set_create_timeout,
    (pyctx_any_fn)pyctx_context_options_set_process_helper,
    (pyctx_any_fn)pyctx_context_options_set_restart,
    (pyctx_any_fn)pyctx_context_options_set_process_output,
    (pyctx_any_fn)pyctx_context_process_info,
    (pyctx_any_fn)pyctx_request_new,
    (pyctx_any_fn)pyctx_request_free,
    (pyctx_any_fn)pyctx_request_set_context,
    (pyctx_any_fn)pyctx_request_set_call,
    (pyctx_any_fn)pyctx_request_set_eval,
    (pyctx_any_fn)pyctx_request_set_exec,
    (pyctx_any_fn)pyctx_request_set_args,
    (pyctx_any_fn)pyctx_request_set_kwargs,
    (pyctx_any_fn)pyctx_request_set_env,
    (pyctx_any_fn)pyctx_request_set_timeout,
    (pyctx_any_fn)pyctx_request_set_callback,
    (pyctx_any_fn)pyctx_request_submit,
    (pyctx_any_fn)pyctx_request_submit_id,
    (pyctx_any_fn)pyctx_request_submit_many,
    (pyctx_any_fn)pyctx_request_wait,
    (pyctx_any_fn)pyctx_request_cancel,
    (pyctx_any_fn)pyctx_request_is_done,
    (pyctx_any_fn)pyctx_request_id,
    (pyctx_any_fn)pyctx_request_get_kind,
    (pyctx_any_fn)pyctx_request_status,
    (pyctx_any_fn)pyctx_request_error,
    (pyctx_any_fn)pyctx_request_value,
    (pyctx_any_fn)pyctx_request_take_value,
    (pyctx_any_fn)pyctx_store_put,
    (pyctx_any_fn)pyctx_store_get,
    (pyctx_any_fn)pyctx_store_cas,
    (pyctx_any_fn)pyctx_store_delete,
    (pyctx_any_fn)pyctx_store_keys,
    (pyctx_any_fn)pyctx_endpoint_register,
    (pyctx_any_fn)pyctx_endpoint_unregister,
    (pyctx_any_fn)pyctx_send_set_router,
    (pyctx_any_fn)pyctx_setup_add_path,
    (pyctx_any_fn)pyctx_setup_remove_path,
    (pyctx_any_fn)pyctx_setup_import,
    (pyctx_any_fn)pyctx_setup_remove_import,
    (pyctx_any_fn)pyctx_setup_reload,
    (pyctx_any_fn)pyctx_setup_activate_venv,
    (pyctx_any_fn)pyctx_setup_generation,
    (pyctx_any_fn)pyctx_log_set_handler,
    (pyctx_any_fn)pyctx_log_stats,
    (pyctx_any_fn)pyctx_log_flush,
    (pyctx_any_fn)pyctx_channel_new,
    (pyctx_any_fn)pyctx_channel_free,
    (pyctx_any_fn)pyctx_channel_id,
    (pyctx_any_fn)pyctx_channel_send,
    (pyctx_any_fn)pyctx_channel_try_send,
    (pyctx_any_fn)pyctx_channel_recv,
    (pyctx_any_fn)pyctx_channel_try_recv,
    (pyctx_any_fn)pyctx_channel_close,
    (pyctx_any_fn)pyctx_channel_stats,
    (pyctx_any_fn)pyctx_pool_options_new,
    (pyctx_any_fn)pyctx_pool_options_free,
    (pyctx_any_fn)pyctx_pool_options_set_size,
    (pyctx_any_fn)pyctx_pool_options_set_member_options,
    (pyctx_any_fn)pyctx_pool_options_set_name,
    (pyctx_any_fn)pyctx_pool_options_set_routing,
    (pyctx_any_fn)pyctx_pool_options_set_queue_bound,
    (pyctx_any_fn)pyctx_pool_options_set_replace,
    (pyctx_any_fn)pyctx_pool_options_set_key_memory,
    (pyctx_any_fn)pyctx_pool_create,
    (pyctx_any_fn)pyctx_pool_close,
    (pyctx_any_fn)pyctx_pool_free,
    (pyctx_any_fn)pyctx_pool_resize,
    (pyctx_any_fn)pyctx_pool_size,
    (pyctx_any_fn)pyctx_pool_name,
    (pyctx_any_fn)pyctx_pool_is_closed,
    (pyctx_any_fn)pyctx_pool_member_context,
    (pyctx_any_fn)pyctx_pool_cancel,
    (pyctx_any_fn)pyctx_pool_call,
    (pyctx_any_fn)pyctx_pool_call_async,
    (pyctx_any_fn)pyctx_pool_env_create,
    (pyctx_any_fn)pyctx_request_set_pool,
    (pyctx_any_fn)pyctx_request_set_key,
    (pyctx_any_fn)pyctx_request_pool_member,
    (pyctx_any_fn)pyctx_request_key_moved,
    (pyctx_any_fn)pyctx_pool_stats,
    (pyctx_any_fn)pyctx_pool_member_stats,
    (pyctx_any_fn)pyctx_request_set_result_form,
    (pyctx_any_fn)pyctx_request_set_object_call,
    (pyctx_any_fn)pyctx_request_set_method_call,
    (pyctx_any_fn)pyctx_request_set_getattr,
    (pyctx_any_fn)pyctx_request_set_release,
    (pyctx_any_fn)pyctx_request_take_object,
    (pyctx_any_fn)pyctx_object_free,
    (pyctx_any_fn)pyctx_object_release,
    (pyctx_any_fn)pyctx_object_is_alive,
    (pyctx_any_fn)pyctx_object_id,
    (pyctx_any_fn)pyctx_object_context_name,
    (pyctx_any_fn)pyctx_object_call,
    (pyctx_any_fn)pyctx_object_call_method,
    (pyctx_any_fn)pyctx_object_getattr,
    (pyctx_any_fn)pyctx_cbor_write_object,
    (pyctx_any_fn)pyctx_stream_open,
    (pyctx_any_fn)pyctx_stream_credit,
    (pyctx_any_fn)pyctx_stream_cancel,
    (pyctx_any_fn)pyctx_stream_next,
    (pyctx_any_fn)pyctx_stream_is_done,
    (pyctx_any_fn)pyctx_stream_free,
    (pyctx_any_fn)pyctx_buffer_lend,
    (pyctx_any_fn)pyctx_buffer_alloc,
    (pyctx_any_fn)pyctx_buffer_set_format,
    (pyctx_any_fn)pyctx_buffer_set_shape,
    (pyctx_any_fn)pyctx_buffer_data,
    (pyctx_any_fn)pyctx_buffer_info,
    (pyctx_any_fn)pyctx_buffer_free,
    (pyctx_any_fn)pyctx_request_attach_buffer,
    (pyctx_any_fn)pyctx_request_clear_buffers,
    (pyctx_any_fn)pyctx_request_take_buffer,
    (pyctx_any_fn)pyctx_context_buffer_stats,
};

int pyctx_header_check(void);
int pyctx_header_check(void) {
    pyctx_completion_fn completion = on_complete;
    pyctx_host_fn host = host_fn;
    pyctx_free_fn finalizer = free_fn;
    pyctx_bytes_t bytes = {0, 0};
    pyctx_context_stats_t stats = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    pyctx_cbor_reader_t reader = {0, 0, 0};
    pyctx_cbor_item_t item;
    pyctx_mode mode = PYCTX_MODE_OWNGIL;
    pyctx_state state = PYCTX_STATE_STOPPED;
    pyctx_allocator allocator = PYCTX_ALLOCATOR_MALLOC;
    pyctx_cbor_type type = PYCTX_CBOR_BREAK;
    (void)item;
    pyctx_stream_item_fn item_fn = stream_item;
    pyctx_stream_end_fn end_fn = stream_end;
    pyctx_result_form form = PYCTX_RESULT_OBJECT;
    pyctx_pool_routing routing = PYCTX_POOL_BY_KEY;
    pyctx_buffer_memory memory = PYCTX_BUFFER_LIBRARY;
    completion(0, 1u, 0);
    item_fn(0, 0, 0, 0);
    end_fn(0, 0, PYCTX_OK, 0);
    host(0, 0);
    finalizer(0);
    return (int)(sizeof every_entry_point / sizeof every_entry_point[0]) + (int)bytes.len +
           (int)stats.completed + (int)reader.pos + (int)mode + (int)state + (int)allocator +
           (int)type + completions_seen + (int)PYCTX_NO_TIMEOUT + (int)PYCTX_CBOR_MAX_DEPTH +
           (int)PYCTX_CBOR_TAG_TUPLE + (int)PYCTX_CBOR_TAG_OBJECT + (int)PYCTX_CBOR_TAG_BUFFER +
           (int)form + (int)routing + (int)memory + (int)PYCTX_REQUEST_RELEASE;
}
