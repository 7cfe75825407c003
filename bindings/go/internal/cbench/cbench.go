// Package cbench holds C loops over the C API that the binding's benchmarks
// (bench_test.go of package pyctx) run to measure the C API's own round
// trips beside the Go API's, in the same process and run. cgo is not
// available in _test.go files, so they live in this internal package, which
// only tests import: nothing here is compiled into the pyctx package.
package cbench

/*
#cgo pkg-config: pyctx
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

import "unsafe"

// CallLoop calls module.function(*args) n times from C on the context
// (a *pyctx_context_t), synchronously or, with async, through
// pyctx_call_async and a spin-then-yield wait. module and function are
// NUL-terminated C strings; args is one CBOR array. It reports success.
func CallLoop(context, module, function, args unsafe.Pointer, argsLen uintptr, n int, async bool) bool {
	ctx := (*C.pyctx_context_t)(context)
	mod, fn := (*C.char)(module), (*C.char)(function)
	a := (*C.uint8_t)(args)
	if async {
		return C.pyctxgo_bench_call_async_loop(ctx, mod, fn, a, C.size_t(argsLen), C.longlong(n)) == 0
	}
	return C.pyctxgo_bench_call_loop(ctx, mod, fn, a, C.size_t(argsLen), C.longlong(n)) == 0
}

// StubCall answers a call without Python: it copies the first argument of
// the CBOR argument array into dst and returns its length (0 on failure).
func StubCall(module, function, args unsafe.Pointer, argsLen uintptr, dst []byte) int {
	if len(dst) == 0 {
		return 0
	}
	return int(C.pyctxgo_bench_stub_call((*C.char)(module), (*C.char)(function), (*C.uint8_t)(args),
		C.size_t(argsLen), (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(len(dst))))
}
