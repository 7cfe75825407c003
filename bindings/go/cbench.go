package pyctx

// C loops over the C API, used by the benchmarks to measure the C API's own
// round trips beside the Go API's in the same process and run. They live
// here because cgo is not available in _test.go files.

/*
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include "pyctx.h"

static int pyctxgo_bench_call_loop(pyctx_context_t *context, const char *module,
                                   const char *function, const uint8_t *args,
                                   size_t args_len, long long n) {
    for (long long i = 0; i < n; i++) {
        pyctx_bytes_t out = {0, 0};
        pyctx_error_t *error = pyctx_call(context, module, function, args, args_len,
                                          NULL, 0, PYCTX_NO_TIMEOUT, &out);
        if (error != NULL) {
            pyctx_error_free(error);
            return -1;
        }
        pyctx_bytes_free(&out);
    }
    return 0;
}

static void bench_async_done(void *user_data, uint64_t request_id, pyctx_result_t *result) {
    (void)request_id;
    atomic_int *done = (atomic_int *)user_data;
    int ok = pyctx_result_status(result) == PYCTX_OK;
    pyctx_result_free(result);
    atomic_store(done, ok ? 1 : -1);
}

// Submits asynchronously and waits for the completion callback, spinning
// briefly and then yielding: the C counterpart of a cancellable Go Call.
static int pyctxgo_bench_call_async_loop(pyctx_context_t *context, const char *module,
                                         const char *function, const uint8_t *args,
                                         size_t args_len, long long n) {
    for (long long i = 0; i < n; i++) {
        atomic_int done = 0;
        pyctx_error_t *error = pyctx_call_async(context, module, function, args, args_len,
                                                NULL, 0, PYCTX_NO_TIMEOUT, bench_async_done,
                                                &done, NULL);
        if (error != NULL) {
            pyctx_error_free(error);
            return -1;
        }
        int state;
        for (int spins = 0; (state = atomic_load(&done)) == 0; spins++) {
            if (spins > 1000) sched_yield();
        }
        if (state < 0) return -1;
    }
    return 0;
}

// Answers a call without Python: copies the first argument of the CBOR
// argument array into `dst`. Stands in for pyctx_call when measuring the Go
// side of a call on its own. Handles a one-byte array head only.
static size_t pyctxgo_bench_stub_call(const char *module, const char *function,
                                      const uint8_t *args, size_t args_len,
                                      uint8_t *dst, size_t dst_cap) {
    (void)module;
    (void)function;
    if (args_len < 2 || (args[0] & 0xe0) != 0x80 || args_len - 1 > dst_cap) return 0;
    memcpy(dst, args + 1, args_len - 1);
    return args_len - 1;
}
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// benchStubCall runs the Go side of a synchronous Call (encoding into the
// pooled buffer, one cgo call, decoding the answer) against
// pyctxgo_bench_stub_call instead of the engine: the binding's own cost per
// call, free of the engine's thread handoff. One argument only.
func benchStubCall(module, function string, arg any) (any, error) {
	bp, enc, err := encodePooled(newCall(module, function, []any{arg}))
	defer putBuf(bp)
	if err != nil {
		return nil, err
	}
	dst := enc.buf[:cap(enc.buf)]
	args, argsLen := enc.bytes(enc.argsOff, enc.argsLen)
	n := C.pyctxgo_bench_stub_call(enc.cstr(0), enc.cstr(enc.funcOff), args, argsLen,
		(*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)))
	if n == 0 {
		return nil, newError(StatusInternal, "stub call failed")
	}
	return Unmarshal(dst[:n])
}

// benchCallLoopC calls module.function(*args) n times from C, synchronously
// (async false) or through pyctx_call_async (async true), with the arguments
// encoded once beforehand.
func benchCallLoopC(c *Context, module, function string, args []any, n int, async bool) error {
	enc, err := newCall(module, function, args).encode(nil)
	if err != nil {
		return err
	}
	if !c.guard.acquire() {
		return errClosed()
	}
	defer c.guard.release()
	argsPtr, argsLen := enc.bytes(enc.argsOff, enc.argsLen)
	var rc C.int
	if async {
		rc = C.pyctxgo_bench_call_async_loop(c.ptr, enc.cstr(0), enc.cstr(enc.funcOff), argsPtr,
			argsLen, C.longlong(n))
	} else {
		rc = C.pyctxgo_bench_call_loop(c.ptr, enc.cstr(0), enc.cstr(enc.funcOff), argsPtr, argsLen,
			C.longlong(n))
	}
	runtime.KeepAlive(c)
	runtime.KeepAlive(enc.buf)
	if rc != 0 {
		return newError(StatusInternal, "benchmark call of %s.%s failed", module, function)
	}
	return nil
}
