package pyctx

import (
	"runtime"
	"unsafe"

	"github.com/pyctx/pyctx/bindings/go/internal/cbench"
)

// benchStubCall runs the Go side of a synchronous Call (encoding into the
// pooled buffer, one cgo call, decoding the answer) against a C stub instead
// of the engine: the binding's own cost per call, free of the engine's
// thread handoff. One argument only.
func benchStubCall(module, function string, arg any) (any, error) {
	bp, enc, err := encodePooled(newCall(module, function, []any{arg}))
	defer putBuf(bp)
	if err != nil {
		return nil, err
	}
	dst := enc.buf[:cap(enc.buf)]
	args, argsLen := enc.bytes(enc.argsOff, enc.argsLen)
	n := cbench.StubCall(unsafe.Pointer(enc.cstr(0)), unsafe.Pointer(enc.cstr(enc.funcOff)),
		unsafe.Pointer(args), uintptr(argsLen), dst)
	if n == 0 {
		return nil, newError(StatusInternal, "stub call failed")
	}
	return Decode(dst[:n])
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
	ok := cbench.CallLoop(unsafe.Pointer(c.ptr), unsafe.Pointer(enc.cstr(0)), unsafe.Pointer(enc.cstr(enc.funcOff)),
		unsafe.Pointer(argsPtr), uintptr(argsLen), n, async)
	runtime.KeepAlive(c)
	runtime.KeepAlive(enc.buf)
	if !ok {
		return newError(StatusInternal, "benchmark call of %s.%s failed", module, function)
	}
	return nil
}
