//! Raw declarations of `include/pyctx.h`, one for one.
//!
//! Nothing here is safe to use without reading the header: these are the C
//! functions as they are. The safe API of this crate is built on them.
//!
//! `tests/header_drift.rs` parses this file and the header and fails on any
//! difference (a function, a parameter or return type, a struct field, a
//! constant, an enum value), so keep every item in the plain one-item form
//! used below. C enums are `c_uint` aliases plus constants, never Rust
//! enums: a value the library adds later must not be undefined behaviour.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::marker::{PhantomData, PhantomPinned};

// ---- Version ---------------------------------------------------------------

pub const PYCTX_VERSION_MAJOR: u32 = 0;
pub const PYCTX_VERSION_MINOR: u32 = 2;
pub const PYCTX_VERSION_PATCH: u32 = 0;
pub const PYCTX_VERSION: u32 = (PYCTX_VERSION_MAJOR << 16) | (PYCTX_VERSION_MINOR << 8) | PYCTX_VERSION_PATCH;

// ---- Status codes and errors -------------------------------------------------

pub type pyctx_status = c_uint;
pub const PYCTX_OK: pyctx_status = 0;
pub const PYCTX_ERR_INVALID_ARGUMENT: pyctx_status = 1;
pub const PYCTX_ERR_NOT_RUNNING: pyctx_status = 2;
pub const PYCTX_ERR_ALREADY_INITIALIZED: pyctx_status = 3;
pub const PYCTX_ERR_UNSUPPORTED: pyctx_status = 4;
pub const PYCTX_ERR_CLOSED: pyctx_status = 5;
pub const PYCTX_ERR_QUEUE_FULL: pyctx_status = 6;
pub const PYCTX_ERR_CANCELLED: pyctx_status = 7;
pub const PYCTX_ERR_TIMEOUT: pyctx_status = 8;
pub const PYCTX_ERR_PYTHON: pyctx_status = 9;
pub const PYCTX_ERR_DECODE: pyctx_status = 10;
pub const PYCTX_ERR_ENCODE: pyctx_status = 11;
pub const PYCTX_ERR_NOT_FOUND: pyctx_status = 12;
pub const PYCTX_ERR_NO_MEMORY: pyctx_status = 13;
pub const PYCTX_ERR_STUCK: pyctx_status = 14;
pub const PYCTX_ERR_INTERNAL: pyctx_status = 15;
pub const PYCTX_ERR_CRASHED: pyctx_status = 16;

/// Opaque: `pyctx_error_t`.
#[repr(C)]
pub struct pyctx_error_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

// ---- Owned byte buffers ------------------------------------------------------

#[repr(C)]
#[derive(Debug)]
pub struct pyctx_bytes_t {
    pub data: *mut u8,
    pub len: usize,
}

// ---- Runtime -------------------------------------------------------------------

pub type pyctx_state = c_uint;
pub const PYCTX_STATE_UNINIT: pyctx_state = 0;
pub const PYCTX_STATE_INITING: pyctx_state = 1;
pub const PYCTX_STATE_RUNNING: pyctx_state = 2;
pub const PYCTX_STATE_SHUTTING_DOWN: pyctx_state = 3;
pub const PYCTX_STATE_STOPPED: pyctx_state = 4;

pub type pyctx_allocator = c_uint;
pub const PYCTX_ALLOCATOR_DEFAULT: pyctx_allocator = 0;
pub const PYCTX_ALLOCATOR_MALLOC: pyctx_allocator = 1;
pub const PYCTX_ALLOCATOR_PYMALLOC: pyctx_allocator = 2;

/// Opaque: `pyctx_runtime_options_t`.
#[repr(C)]
pub struct pyctx_runtime_options_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

// ---- Contexts ------------------------------------------------------------------

pub type pyctx_mode = c_uint;
pub const PYCTX_MODE_WORKER: pyctx_mode = 0;
pub const PYCTX_MODE_OWNGIL: pyctx_mode = 1;
pub const PYCTX_MODE_PROCESS: pyctx_mode = 2;

pub type pyctx_process_output = c_uint;
pub const PYCTX_PROCESS_OUTPUT_STDERR: pyctx_process_output = 0;
pub const PYCTX_PROCESS_OUTPUT_LOG: pyctx_process_output = 1;

/// Opaque: `pyctx_context_options_t`.
#[repr(C)]
pub struct pyctx_context_options_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Opaque: `pyctx_context_t`.
#[repr(C)]
pub struct pyctx_context_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct pyctx_context_stats_t {
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    pub closed: u64,
    pub queue_depth: u64,
    pub thread_id: u64,
    pub memory_used: u64,
    pub memory_limit: u64,
    pub live_objects: u64,
}

// ---- Environments --------------------------------------------------------------

/// Opaque: `pyctx_env_t`.
#[repr(C)]
pub struct pyctx_env_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

// ---- Requests --------------------------------------------------------------------

pub const PYCTX_NO_TIMEOUT: u32 = 0;

/// Opaque: `pyctx_result_t`.
#[repr(C)]
pub struct pyctx_result_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

pub type pyctx_completion_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, request_id: u64, result: *mut pyctx_result_t)>;

// ---- Request objects ---------------------------------------------------------------

/// Opaque: `pyctx_request_t`.
#[repr(C)]
pub struct pyctx_request_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

pub type pyctx_request_kind = c_uint;
pub const PYCTX_REQUEST_NONE: pyctx_request_kind = 0;
pub const PYCTX_REQUEST_CALL: pyctx_request_kind = 1;
pub const PYCTX_REQUEST_EVAL: pyctx_request_kind = 2;
pub const PYCTX_REQUEST_EXEC: pyctx_request_kind = 3;
pub const PYCTX_REQUEST_OBJECT_CALL: pyctx_request_kind = 4;
pub const PYCTX_REQUEST_METHOD_CALL: pyctx_request_kind = 5;
pub const PYCTX_REQUEST_GETATTR: pyctx_request_kind = 6;
pub const PYCTX_REQUEST_RELEASE: pyctx_request_kind = 7;

pub type pyctx_request_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, request: *mut pyctx_request_t)>;

// ---- Host functions ----------------------------------------------------------------

/// Opaque: `pyctx_host_call_t`.
#[repr(C)]
pub struct pyctx_host_call_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

pub type pyctx_host_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, call: *mut pyctx_host_call_t)>;
pub type pyctx_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

// ---- Sandbox and limits ------------------------------------------------------------

/// Opaque: `pyctx_sandbox_t`.
#[repr(C)]
pub struct pyctx_sandbox_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

pub const PYCTX_MIN_MEMORY_LIMIT: u32 = 16 << 20;

// ---- Python talks to the host ---------------------------------------------------

pub type pyctx_send_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        context_name: *const c_char,
        target: *const u8,
        target_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> c_int,
>;

/// Opaque: `pyctx_channel_t`.
#[repr(C)]
pub struct pyctx_channel_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct pyctx_channel_stats_t {
    pub to_python: u64,
    pub from_python: u64,
    pub queued_to_python: u64,
    pub queued_to_host: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pyctx_log_record_t {
    pub level: c_int,
    pub logger: *const c_char,
    pub message: *const c_char,
    pub exception: *const c_char,
    pub context_name: *const c_char,
    pub created: f64,
}

pub type pyctx_log_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, record: *const pyctx_log_record_t)>;

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct pyctx_log_stats_t {
    pub delivered: u64,
    pub dropped: u64,
}

// ---- Values: CBOR ----------------------------------------------------------------

pub const PYCTX_CBOR_TAG_SET: u32 = 258;
pub const PYCTX_CBOR_TAG_SYMBOL: u32 = 39;
pub const PYCTX_CBOR_TAG_TUPLE: u32 = 28793;
pub const PYCTX_CBOR_TAG_HOST_TERM: u32 = 28794;
pub const PYCTX_CBOR_TAG_OBJECT: u32 = 28796;
pub const PYCTX_CBOR_TAG_BUFFER: u32 = 28770;
pub const PYCTX_CBOR_MAX_DEPTH: u32 = 256;

/// Opaque: `pyctx_cbor_writer_t`.
#[repr(C)]
pub struct pyctx_cbor_writer_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

pub type pyctx_cbor_type = c_uint;
pub const PYCTX_CBOR_UINT: pyctx_cbor_type = 0;
pub const PYCTX_CBOR_NEGINT: pyctx_cbor_type = 1;
pub const PYCTX_CBOR_BYTES: pyctx_cbor_type = 2;
pub const PYCTX_CBOR_TEXT: pyctx_cbor_type = 3;
pub const PYCTX_CBOR_ARRAY: pyctx_cbor_type = 4;
pub const PYCTX_CBOR_MAP: pyctx_cbor_type = 5;
pub const PYCTX_CBOR_TAG: pyctx_cbor_type = 6;
pub const PYCTX_CBOR_FALSE: pyctx_cbor_type = 7;
pub const PYCTX_CBOR_TRUE: pyctx_cbor_type = 8;
pub const PYCTX_CBOR_NULL: pyctx_cbor_type = 9;
pub const PYCTX_CBOR_UNDEFINED: pyctx_cbor_type = 10;
pub const PYCTX_CBOR_FLOAT: pyctx_cbor_type = 11;
pub const PYCTX_CBOR_SIMPLE: pyctx_cbor_type = 12;
pub const PYCTX_CBOR_BREAK: pyctx_cbor_type = 13;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pyctx_cbor_item_t {
    pub r#type: pyctx_cbor_type,
    pub indefinite: c_int,
    pub fits_int64: c_int,
    pub uint_value: u64,
    pub int_value: i64,
    pub float_value: f64,
    pub data: *const u8,
    pub len: usize,
    pub count: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pyctx_cbor_reader_t {
    pub data: *const u8,
    pub len: usize,
    pub pos: usize,
}

// ---- Pools, object handles, streams, borrowed buffers ----------------------------

/// Opaque: `pyctx_pool_t`.
#[repr(C)]
pub struct pyctx_pool_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Opaque: `pyctx_pool_options_t`.
#[repr(C)]
pub struct pyctx_pool_options_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Opaque: `pyctx_object_t`.
#[repr(C)]
pub struct pyctx_object_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Opaque: `pyctx_stream_t`.
#[repr(C)]
pub struct pyctx_stream_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Opaque: `pyctx_buffer_t`.
#[repr(C)]
pub struct pyctx_buffer_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

pub type pyctx_pool_routing = c_uint;
pub const PYCTX_POOL_LEAST_QUEUED: pyctx_pool_routing = 0;
pub const PYCTX_POOL_ROUND_ROBIN: pyctx_pool_routing = 1;
pub const PYCTX_POOL_BY_KEY: pyctx_pool_routing = 2;

pub type pyctx_pool_replace = c_uint;
pub const PYCTX_POOL_REPLACE: pyctx_pool_replace = 0;
pub const PYCTX_POOL_LEAVE: pyctx_pool_replace = 1;

pub type pyctx_result_form = c_uint;
pub const PYCTX_RESULT_VALUE: pyctx_result_form = 0;
pub const PYCTX_RESULT_OBJECT: pyctx_result_form = 1;
pub const PYCTX_RESULT_BUFFER: pyctx_result_form = 2;
pub const PYCTX_RESULT_STREAM: pyctx_result_form = 3;

pub type pyctx_buffer_memory = c_uint;
pub const PYCTX_BUFFER_HOST: pyctx_buffer_memory = 0;
pub const PYCTX_BUFFER_LIBRARY: pyctx_buffer_memory = 1;
pub const PYCTX_BUFFER_PYTHON: pyctx_buffer_memory = 2;

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct pyctx_pool_stats_t {
    pub size: u64,
    pub leaving: u64,
    pub created: u64,
    pub replaced: u64,
    pub replace_failed: u64,
    pub refused_full: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    pub closed: u64,
    pub queue_depth: u64,
    pub keys_known: u64,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct pyctx_pool_member_stats_t {
    pub member_id: u64,
    pub slot: u64,
    pub parked: u64,
    pub busy: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    pub closed: u64,
    pub queue_depth: u64,
    pub thread_id: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pyctx_buffer_info_t {
    pub data: *mut c_void,
    pub len: usize,
    pub itemsize: usize,
    pub format: *const c_char,
    pub ndim: c_int,
    pub shape: *const i64,
    pub strides: *const i64,
    pub readonly: c_int,
    pub c_contiguous: c_int,
    pub memory: pyctx_buffer_memory,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct pyctx_buffer_stats_t {
    pub lent_views: u64,
    pub lent_total: u64,
    pub held_views: u64,
}

pub type pyctx_stream_item_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, stream: *mut pyctx_stream_t, item: *const u8, len: usize)>;

pub type pyctx_stream_end_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, stream: *mut pyctx_stream_t, status: pyctx_status, error: *const pyctx_error_t)>;

pub const PYCTX_POOL_MAX_SIZE: u32 = 256;
pub const PYCTX_BUFFER_ALIGNMENT: u32 = 64;

unsafe extern "C" {
    // Version
    pub fn pyctx_version() -> u32;
    pub fn pyctx_version_string() -> *const c_char;

    // Status codes and errors
    pub fn pyctx_status_name(status: pyctx_status) -> *const c_char;
    pub fn pyctx_error_free(error: *mut pyctx_error_t);
    pub fn pyctx_error_status(error: *const pyctx_error_t) -> pyctx_status;
    pub fn pyctx_error_message(error: *const pyctx_error_t) -> *const c_char;
    pub fn pyctx_error_python_type(error: *const pyctx_error_t) -> *const c_char;
    pub fn pyctx_error_traceback(error: *const pyctx_error_t) -> *const c_char;

    // Owned byte buffers
    pub fn pyctx_bytes_free(bytes: *mut pyctx_bytes_t);

    // Runtime
    pub fn pyctx_runtime_options_new() -> *mut pyctx_runtime_options_t;
    pub fn pyctx_runtime_options_free(options: *mut pyctx_runtime_options_t);
    pub fn pyctx_runtime_options_add_path(
        options: *mut pyctx_runtime_options_t,
        path: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_runtime_options_set_home(
        options: *mut pyctx_runtime_options_t,
        home: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_runtime_options_set_program_name(
        options: *mut pyctx_runtime_options_t,
        name: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_runtime_options_set_allocator(
        options: *mut pyctx_runtime_options_t,
        allocator: pyctx_allocator,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_init(options: *const pyctx_runtime_options_t) -> *mut pyctx_error_t;
    pub fn pyctx_shutdown(timeout_ms: u32) -> *mut pyctx_error_t;
    pub fn pyctx_runtime_state() -> pyctx_state;
    pub fn pyctx_python_version() -> *const c_char;
    pub fn pyctx_owngil_supported() -> c_int;

    // Contexts
    pub fn pyctx_context_options_new() -> *mut pyctx_context_options_t;
    pub fn pyctx_context_options_free(options: *mut pyctx_context_options_t);
    pub fn pyctx_context_options_set_mode(
        options: *mut pyctx_context_options_t,
        mode: pyctx_mode,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_mode_name(
        options: *mut pyctx_context_options_t,
        mode: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_name(
        options: *mut pyctx_context_options_t,
        name: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_preload(
        options: *mut pyctx_context_options_t,
        code: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_queue_capacity(
        options: *mut pyctx_context_options_t,
        capacity: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_create_timeout(
        options: *mut pyctx_context_options_t,
        timeout_ms: u32,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_create(
        options: *const pyctx_context_options_t,
        out_context: *mut *mut pyctx_context_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_close(context: *mut pyctx_context_t, timeout_ms: u32) -> *mut pyctx_error_t;
    pub fn pyctx_context_free(context: *mut pyctx_context_t);
    pub fn pyctx_context_mode(context: *const pyctx_context_t) -> pyctx_mode;
    pub fn pyctx_context_name(context: *const pyctx_context_t) -> *const c_char;
    pub fn pyctx_context_is_closed(context: *const pyctx_context_t) -> c_int;
    pub fn pyctx_context_stats(
        context: *const pyctx_context_t,
        out_stats: *mut pyctx_context_stats_t,
        stats_size: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_process_helper(
        options: *mut pyctx_context_options_t,
        path: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_restart(
        options: *mut pyctx_context_options_t,
        max_restarts: u32,
        window_ms: u32,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_process_output(
        options: *mut pyctx_context_options_t,
        output: pyctx_process_output,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_process_info(
        context: *const pyctx_context_t,
        out_pid: *mut u64,
        out_restarts: *mut u32,
    ) -> *mut pyctx_error_t;

    // Environments
    pub fn pyctx_env_create(
        context: *mut pyctx_context_t,
        out_env: *mut *mut pyctx_env_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_env_free(env: *mut pyctx_env_t);

    // Requests
    pub fn pyctx_call(
        context: *mut pyctx_context_t,
        module: *const c_char,
        function: *const c_char,
        args: *const u8,
        args_len: usize,
        kwargs: *const u8,
        kwargs_len: usize,
        timeout_ms: u32,
        out_result: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_eval(
        context: *mut pyctx_context_t,
        expression: *const c_char,
        env: *mut pyctx_env_t,
        locals: *const u8,
        locals_len: usize,
        timeout_ms: u32,
        out_result: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_exec(
        context: *mut pyctx_context_t,
        code: *const c_char,
        env: *mut pyctx_env_t,
        timeout_ms: u32,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_result_free(result: *mut pyctx_result_t);
    pub fn pyctx_result_status(result: *const pyctx_result_t) -> pyctx_status;
    pub fn pyctx_result_value(result: *const pyctx_result_t, out_len: *mut usize) -> *const u8;
    pub fn pyctx_result_error(result: *const pyctx_result_t) -> *const pyctx_error_t;
    pub fn pyctx_result_take_value(
        result: *mut pyctx_result_t,
        out_value: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_call_async(
        context: *mut pyctx_context_t,
        module: *const c_char,
        function: *const c_char,
        args: *const u8,
        args_len: usize,
        kwargs: *const u8,
        kwargs_len: usize,
        timeout_ms: u32,
        on_complete: pyctx_completion_fn,
        user_data: *mut c_void,
        out_request_id: *mut u64,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_eval_async(
        context: *mut pyctx_context_t,
        expression: *const c_char,
        env: *mut pyctx_env_t,
        locals: *const u8,
        locals_len: usize,
        timeout_ms: u32,
        on_complete: pyctx_completion_fn,
        user_data: *mut c_void,
        out_request_id: *mut u64,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_exec_async(
        context: *mut pyctx_context_t,
        code: *const c_char,
        env: *mut pyctx_env_t,
        timeout_ms: u32,
        on_complete: pyctx_completion_fn,
        user_data: *mut c_void,
        out_request_id: *mut u64,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_cancel(context: *mut pyctx_context_t, request_id: u64) -> *mut pyctx_error_t;

    // Request objects
    pub fn pyctx_request_new(out_request: *mut *mut pyctx_request_t) -> *mut pyctx_error_t;
    pub fn pyctx_request_free(request: *mut pyctx_request_t);
    pub fn pyctx_request_set_context(
        request: *mut pyctx_request_t,
        context: *mut pyctx_context_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_call(
        request: *mut pyctx_request_t,
        module: *const c_char,
        function: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_eval(request: *mut pyctx_request_t, expression: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_exec(request: *mut pyctx_request_t, code: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_args(request: *mut pyctx_request_t, args: *const u8, len: usize) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_kwargs(request: *mut pyctx_request_t, kwargs: *const u8, len: usize) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_env(request: *mut pyctx_request_t, env: *mut pyctx_env_t) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_timeout(request: *mut pyctx_request_t, timeout_ms: u32) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_callback(
        request: *mut pyctx_request_t,
        callback: pyctx_request_fn,
        user_data: *mut c_void,
        free_user_data: pyctx_free_fn,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_submit(request: *mut pyctx_request_t) -> *mut pyctx_error_t;
    pub fn pyctx_request_submit_id(request: *mut pyctx_request_t, out_id: *mut u64) -> *mut pyctx_error_t;
    pub fn pyctx_request_submit_many(
        requests: *const *mut pyctx_request_t,
        count: usize,
        out_accepted: *mut usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_wait(request: *mut pyctx_request_t, timeout_ms: u32) -> *mut pyctx_error_t;
    pub fn pyctx_request_cancel(request: *mut pyctx_request_t) -> *mut pyctx_error_t;
    pub fn pyctx_request_is_done(request: *const pyctx_request_t) -> c_int;
    pub fn pyctx_request_id(request: *const pyctx_request_t) -> u64;
    pub fn pyctx_request_get_kind(request: *const pyctx_request_t) -> pyctx_request_kind;
    pub fn pyctx_request_status(request: *const pyctx_request_t) -> pyctx_status;
    pub fn pyctx_request_error(request: *const pyctx_request_t) -> *const pyctx_error_t;
    pub fn pyctx_request_value(request: *const pyctx_request_t, out_len: *mut usize) -> *const u8;
    pub fn pyctx_request_take_value(
        request: *mut pyctx_request_t,
        out_value: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;

    // Host functions
    pub fn pyctx_host_register(
        name: *const c_char,
        r#fn: pyctx_host_fn,
        user_data: *mut c_void,
        free_user_data: pyctx_free_fn,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_host_unregister(name: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_host_call_args(call: *const pyctx_host_call_t, out_len: *mut usize) -> *const u8;
    pub fn pyctx_host_call_name(call: *const pyctx_host_call_t) -> *const c_char;
    pub fn pyctx_host_call_context_name(call: *const pyctx_host_call_t) -> *const c_char;
    pub fn pyctx_host_call_return(
        call: *mut pyctx_host_call_t,
        value: *const u8,
        len: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_host_call_fail(call: *mut pyctx_host_call_t, message: *const c_char) -> *mut pyctx_error_t;

    // Sandbox and limits
    pub fn pyctx_sandbox_new() -> *mut pyctx_sandbox_t;
    pub fn pyctx_sandbox_free(sandbox: *mut pyctx_sandbox_t);
    pub fn pyctx_sandbox_block_process_creation(sandbox: *mut pyctx_sandbox_t) -> *mut pyctx_error_t;
    pub fn pyctx_sandbox_block_sockets(sandbox: *mut pyctx_sandbox_t) -> *mut pyctx_error_t;
    pub fn pyctx_sandbox_restrict_files(sandbox: *mut pyctx_sandbox_t) -> *mut pyctx_error_t;
    pub fn pyctx_sandbox_allow_path(
        sandbox: *mut pyctx_sandbox_t,
        path: *const c_char,
        read_only: c_int,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_sandbox(
        options: *mut pyctx_context_options_t,
        sandbox: *const pyctx_sandbox_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_options_set_memory_limit(
        options: *mut pyctx_context_options_t,
        bytes: usize,
    ) -> *mut pyctx_error_t;

    // Python talks to the host: shared store
    pub fn pyctx_store_put(
        key: *const c_char,
        value: *const u8,
        len: usize,
        out_version: *mut u64,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_store_get(
        key: *const c_char,
        out_value: *mut pyctx_bytes_t,
        out_version: *mut u64,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_store_cas(
        key: *const c_char,
        expected_version: u64,
        value: *const u8,
        len: usize,
        out_swapped: *mut c_int,
        out_version: *mut u64,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_store_delete(
        key: *const c_char,
        expected_version: u64,
        out_deleted: *mut c_int,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_store_keys(prefix: *const c_char, out_keys: *mut pyctx_bytes_t) -> *mut pyctx_error_t;

    // Python talks to the host: messages
    pub fn pyctx_endpoint_register(
        name: *const c_char,
        r#fn: pyctx_send_fn,
        user_data: *mut c_void,
        free_user_data: pyctx_free_fn,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_endpoint_unregister(name: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_send_set_router(
        r#fn: pyctx_send_fn,
        user_data: *mut c_void,
        free_user_data: pyctx_free_fn,
    ) -> *mut pyctx_error_t;

    // Python talks to the host: runtime-wide set-up
    pub fn pyctx_setup_add_path(path: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_setup_remove_path(path: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_setup_import(module: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_setup_remove_import(module: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_setup_reload(module: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_setup_activate_venv(venv_dir: *const c_char) -> *mut pyctx_error_t;
    pub fn pyctx_setup_generation() -> u64;

    // Python talks to the host: channels
    pub fn pyctx_channel_new(
        capacity: usize,
        bytes_mode: c_int,
        out_channel: *mut *mut pyctx_channel_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_channel_free(channel: *mut pyctx_channel_t);
    pub fn pyctx_channel_id(channel: *const pyctx_channel_t) -> u64;
    pub fn pyctx_channel_send(
        channel: *mut pyctx_channel_t,
        data: *const u8,
        len: usize,
        timeout_ms: u32,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_channel_try_send(
        channel: *mut pyctx_channel_t,
        data: *const u8,
        len: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_channel_recv(
        channel: *mut pyctx_channel_t,
        timeout_ms: u32,
        out_value: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_channel_try_recv(
        channel: *mut pyctx_channel_t,
        out_value: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_channel_close(channel: *mut pyctx_channel_t);
    pub fn pyctx_channel_stats(channel: *const pyctx_channel_t, out_stats: *mut pyctx_channel_stats_t);

    // Python talks to the host: logging
    pub fn pyctx_log_set_handler(
        r#fn: pyctx_log_fn,
        user_data: *mut c_void,
        free_user_data: pyctx_free_fn,
        min_level: c_int,
        capacity: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_log_stats(out_stats: *mut pyctx_log_stats_t);
    pub fn pyctx_log_flush(timeout_ms: u32) -> *mut pyctx_error_t;

    // Values: CBOR writer
    pub fn pyctx_cbor_writer_new() -> *mut pyctx_cbor_writer_t;
    pub fn pyctx_cbor_writer_free(writer: *mut pyctx_cbor_writer_t);
    pub fn pyctx_cbor_writer_reset(writer: *mut pyctx_cbor_writer_t);
    pub fn pyctx_cbor_write_null(writer: *mut pyctx_cbor_writer_t) -> c_int;
    pub fn pyctx_cbor_write_bool(writer: *mut pyctx_cbor_writer_t, value: c_int) -> c_int;
    pub fn pyctx_cbor_write_int(writer: *mut pyctx_cbor_writer_t, value: i64) -> c_int;
    pub fn pyctx_cbor_write_uint(writer: *mut pyctx_cbor_writer_t, value: u64) -> c_int;
    pub fn pyctx_cbor_write_float(writer: *mut pyctx_cbor_writer_t, value: f64) -> c_int;
    pub fn pyctx_cbor_write_text(writer: *mut pyctx_cbor_writer_t, text: *const c_char, len: usize) -> c_int;
    pub fn pyctx_cbor_write_cstr(writer: *mut pyctx_cbor_writer_t, text: *const c_char) -> c_int;
    pub fn pyctx_cbor_write_bytes(writer: *mut pyctx_cbor_writer_t, data: *const u8, len: usize) -> c_int;
    pub fn pyctx_cbor_write_array(writer: *mut pyctx_cbor_writer_t, count: u64) -> c_int;
    pub fn pyctx_cbor_write_map(writer: *mut pyctx_cbor_writer_t, count: u64) -> c_int;
    pub fn pyctx_cbor_write_tag(writer: *mut pyctx_cbor_writer_t, tag: u64) -> c_int;
    pub fn pyctx_cbor_write_raw(writer: *mut pyctx_cbor_writer_t, data: *const u8, len: usize) -> c_int;
    pub fn pyctx_cbor_writer_data(writer: *const pyctx_cbor_writer_t, out_len: *mut usize) -> *const u8;

    // Values: CBOR reader
    pub fn pyctx_cbor_reader_init(reader: *mut pyctx_cbor_reader_t, data: *const u8, len: usize);
    pub fn pyctx_cbor_read(
        reader: *mut pyctx_cbor_reader_t,
        out_item: *mut pyctx_cbor_item_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_cbor_skip(reader: *mut pyctx_cbor_reader_t) -> *mut pyctx_error_t;
    pub fn pyctx_cbor_reader_at_end(reader: *const pyctx_cbor_reader_t) -> c_int;
    pub fn pyctx_cbor_diagnose(
        data: *const u8,
        len: usize,
        out_text: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;

    // Pools
    pub fn pyctx_pool_options_new() -> *mut pyctx_pool_options_t;
    pub fn pyctx_pool_options_free(options: *mut pyctx_pool_options_t);
    pub fn pyctx_pool_options_set_size(
        options: *mut pyctx_pool_options_t,
        size: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_options_set_member_options(
        options: *mut pyctx_pool_options_t,
        member_options: *const pyctx_context_options_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_options_set_name(
        options: *mut pyctx_pool_options_t,
        name: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_options_set_routing(
        options: *mut pyctx_pool_options_t,
        routing: pyctx_pool_routing,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_options_set_queue_bound(
        options: *mut pyctx_pool_options_t,
        bound: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_options_set_replace(
        options: *mut pyctx_pool_options_t,
        policy: pyctx_pool_replace,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_options_set_key_memory(
        options: *mut pyctx_pool_options_t,
        keys: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_create(
        options: *const pyctx_pool_options_t,
        out_pool: *mut *mut pyctx_pool_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_close(pool: *mut pyctx_pool_t, timeout_ms: u32) -> *mut pyctx_error_t;
    pub fn pyctx_pool_free(pool: *mut pyctx_pool_t);
    pub fn pyctx_pool_resize(
        pool: *mut pyctx_pool_t,
        size: usize,
        timeout_ms: u32,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_size(pool: *const pyctx_pool_t) -> usize;
    pub fn pyctx_pool_name(pool: *const pyctx_pool_t) -> *const c_char;
    pub fn pyctx_pool_is_closed(pool: *const pyctx_pool_t) -> c_int;
    pub fn pyctx_pool_member_context(
        pool: *mut pyctx_pool_t,
        index: usize,
        out_context: *mut *mut pyctx_context_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_cancel(pool: *mut pyctx_pool_t, request_id: u64) -> *mut pyctx_error_t;
    pub fn pyctx_pool_call(
        pool: *mut pyctx_pool_t,
        module: *const c_char,
        function: *const c_char,
        args: *const u8,
        args_len: usize,
        kwargs: *const u8,
        kwargs_len: usize,
        timeout_ms: u32,
        out_result: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_call_async(
        pool: *mut pyctx_pool_t,
        module: *const c_char,
        function: *const c_char,
        args: *const u8,
        args_len: usize,
        kwargs: *const u8,
        kwargs_len: usize,
        timeout_ms: u32,
        on_complete: pyctx_completion_fn,
        user_data: *mut c_void,
        out_request_id: *mut u64,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_env_create(
        pool: *mut pyctx_pool_t,
        out_env: *mut *mut pyctx_env_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_pool(
        request: *mut pyctx_request_t,
        pool: *mut pyctx_pool_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_key(
        request: *mut pyctx_request_t,
        key: *const c_void,
        len: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_pool_member(request: *const pyctx_request_t) -> u64;
    pub fn pyctx_request_key_moved(request: *const pyctx_request_t) -> c_int;
    pub fn pyctx_pool_stats(
        pool: *const pyctx_pool_t,
        out_stats: *mut pyctx_pool_stats_t,
        stats_size: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_pool_member_stats(
        pool: *const pyctx_pool_t,
        index: usize,
        out_stats: *mut pyctx_pool_member_stats_t,
        stats_size: usize,
    ) -> *mut pyctx_error_t;
    // Object handles
    pub fn pyctx_request_set_result_form(
        request: *mut pyctx_request_t,
        form: pyctx_result_form,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_object_call(
        request: *mut pyctx_request_t,
        object: *const pyctx_object_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_method_call(
        request: *mut pyctx_request_t,
        object: *const pyctx_object_t,
        method: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_getattr(
        request: *mut pyctx_request_t,
        object: *const pyctx_object_t,
        name: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_set_release(
        request: *mut pyctx_request_t,
        object: *const pyctx_object_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_take_object(
        request: *mut pyctx_request_t,
        out_object: *mut *mut pyctx_object_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_object_free(object: *mut pyctx_object_t);
    pub fn pyctx_object_release(object: *mut pyctx_object_t, timeout_ms: u32) -> *mut pyctx_error_t;
    pub fn pyctx_object_is_alive(object: *const pyctx_object_t) -> c_int;
    pub fn pyctx_object_id(object: *const pyctx_object_t) -> u64;
    pub fn pyctx_object_context_name(object: *const pyctx_object_t) -> *const c_char;
    pub fn pyctx_object_call(
        object: *const pyctx_object_t,
        args: *const u8,
        args_len: usize,
        kwargs: *const u8,
        kwargs_len: usize,
        timeout_ms: u32,
        out_result: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_object_call_method(
        object: *const pyctx_object_t,
        method: *const c_char,
        args: *const u8,
        args_len: usize,
        kwargs: *const u8,
        kwargs_len: usize,
        timeout_ms: u32,
        out_result: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_object_getattr(
        object: *const pyctx_object_t,
        name: *const c_char,
        timeout_ms: u32,
        out_value: *mut pyctx_bytes_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_cbor_write_object(
        writer: *mut pyctx_cbor_writer_t,
        object: *const pyctx_object_t,
    ) -> c_int;
    // Streams
    pub fn pyctx_stream_open(
        request: *mut pyctx_request_t,
        credit: u32,
        on_item: pyctx_stream_item_fn,
        on_end: pyctx_stream_end_fn,
        user_data: *mut c_void,
        free_user_data: pyctx_free_fn,
        out_stream: *mut *mut pyctx_stream_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_stream_credit(stream: *mut pyctx_stream_t, n: u32) -> *mut pyctx_error_t;
    pub fn pyctx_stream_cancel(stream: *mut pyctx_stream_t) -> *mut pyctx_error_t;
    pub fn pyctx_stream_next(
        stream: *mut pyctx_stream_t,
        timeout_ms: u32,
        out_item: *mut pyctx_bytes_t,
        out_done: *mut c_int,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_stream_is_done(stream: *const pyctx_stream_t) -> c_int;
    pub fn pyctx_stream_free(stream: *mut pyctx_stream_t);
    // Borrowed buffers
    pub fn pyctx_buffer_lend(
        data: *mut c_void,
        len: usize,
        writable: c_int,
        finalizer: pyctx_free_fn,
        user_data: *mut c_void,
        out_buffer: *mut *mut pyctx_buffer_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_buffer_alloc(
        len: usize,
        out_buffer: *mut *mut pyctx_buffer_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_buffer_set_format(
        buffer: *mut pyctx_buffer_t,
        format: *const c_char,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_buffer_set_shape(
        buffer: *mut pyctx_buffer_t,
        ndim: c_int,
        shape: *const i64,
        strides: *const i64,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_buffer_data(buffer: *const pyctx_buffer_t, out_len: *mut usize) -> *mut c_void;
    pub fn pyctx_buffer_info(
        buffer: *const pyctx_buffer_t,
        out_info: *mut pyctx_buffer_info_t,
        info_size: usize,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_buffer_free(buffer: *mut pyctx_buffer_t);
    pub fn pyctx_request_attach_buffer(
        request: *mut pyctx_request_t,
        buffer: *mut pyctx_buffer_t,
        out_index: *mut u32,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_request_clear_buffers(request: *mut pyctx_request_t) -> *mut pyctx_error_t;
    pub fn pyctx_request_take_buffer(
        request: *mut pyctx_request_t,
        out_buffer: *mut *mut pyctx_buffer_t,
    ) -> *mut pyctx_error_t;
    pub fn pyctx_context_buffer_stats(
        context: *const pyctx_context_t,
        out_stats: *mut pyctx_buffer_stats_t,
        stats_size: usize,
    ) -> *mut pyctx_error_t;
}
