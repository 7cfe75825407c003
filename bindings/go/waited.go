package pyctx

// #include "shims.h"
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
	"time"
	"unsafe"
)

// spinFor bounds how long a cancellable call polls for its completion before
// parking. Most requests complete within a few microseconds; polling then
// spares the library thread a call into Go and the caller a wake-up, which
// together cost tens of microseconds.
const spinFor = 50 * time.Microsecond

// runWaited is the path of a synchronous request whose ctx can end: it is
// submitted asynchronously and its completion awaited by spinning, then by
// parking on a channel that also watches ctx.
func (c *Context) runWaited(ctx context.Context, r *request) (any, error) {
	timeout, expired := timeoutFor(ctx)
	if expired {
		return nil, ctxError(ctx)
	}
	bp, enc, err := encodePooled(r)
	defer putBuf(bp)
	if err != nil {
		return nil, err
	}
	w := C.pyctxgo_waiter_new()
	if w == nil {
		return nil, newError(StatusNoMemory, "allocating a request waiter")
	}
	id, err := c.submitWaited(r, &enc, timeout, w)
	if err != nil {
		C.pyctxgo_waiter_free(w)
		return nil, err
	}
	state := (*int32)(unsafe.Pointer(&w.state))

	for start, i := time.Now(), 0; ; i++ {
		if atomic.LoadInt32(state) == C.PYCTXGO_WAITER_DONE {
			return c.takeWaited(ctx, w, enc.buf)
		}
		if i%16 == 15 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}

	wake := make(chan struct{})
	h := cgo.NewHandle(wake)
	w.handle = C.uintptr_t(h)
	if !atomic.CompareAndSwapInt32(state, C.PYCTXGO_WAITER_PENDING, C.PYCTXGO_WAITER_PARKED) {
		h.Delete() // completed meanwhile: nobody will wake us
		return c.takeWaited(ctx, w, enc.buf)
	}
	select {
	case <-wake:
		return c.takeWaited(ctx, w, enc.buf)
	case <-ctx.Done():
		if atomic.CompareAndSwapInt32(state, C.PYCTXGO_WAITER_PARKED, C.PYCTXGO_WAITER_ABANDONED) {
			// The completion frees the waiter and result when it comes.
			h.Delete()
			c.cancel(id)
			return nil, ctxError(ctx)
		}
		<-wake // the completion is waking us right now
		return c.takeWaited(ctx, w, enc.buf)
	}
}

func (c *Context) submitWaited(r *request, enc *encoded, timeout C.uint32_t,
	w *C.pyctxgo_waiter) (uint64, error) {
	env, err := c.hold(r)
	if err != nil {
		return 0, err
	}
	defer c.unhold(r)
	var res C.pyctxgo_submit_result
	switch r.kind {
	case kindCall:
		args, argsLen := enc.bytes(enc.argsOff, enc.argsLen)
		kw, kwLen := enc.bytes(enc.kwOff, enc.kwLen)
		res = C.pyctxgo_call_waited(c.ptr, enc.cstr(0), enc.cstr(enc.funcOff), args, argsLen,
			kw, kwLen, timeout, w)
	case kindEval:
		locals, localsLen := enc.bytes(enc.kwOff, enc.kwLen)
		res = C.pyctxgo_eval_waited(c.ptr, enc.cstr(0), env, locals, localsLen, timeout, w)
	case kindExec:
		res = C.pyctxgo_exec_waited(c.ptr, enc.cstr(0), env, timeout, w)
	}
	if res.error != nil {
		return 0, takeError(res.error)
	}
	return uint64(res.request_id), nil
}

// takeWaited converts a completed waiter's result (freeing both), copying
// the value through buf (the request's own buffer, no longer needed).
func (c *Context) takeWaited(ctx context.Context, w *C.pyctxgo_waiter, buf []byte) (any, error) {
	dst := buf[:cap(buf)]
	t := C.pyctxgo_waiter_take(w, (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)))
	if t.failed != nil {
		err := errorFromFields(Status(t.status), goStringOrEmpty(t.message),
			goStringOrEmpty(t.python_type), goStringOrEmpty(t.traceback))
		C.pyctx_result_free(t.failed)
		return nil, withCause(err, ctx)
	}
	if Status(t.status) != StatusOK {
		return nil, newError(Status(t.status), "taking a request's value failed")
	}
	if t.copied != 0 {
		if t.copied_len == 0 {
			return nil, nil
		}
		return Decode(dst[:t.copied_len])
	}
	v, err := Decode(unsafe.Slice((*byte)(unsafe.Pointer(t.value.data)), int(t.value.len)))
	C.pyctxgo_bytes_release(t.value.data, t.value.len)
	return v, err
}

// cancel asks the engine to cancel request id; errors only mean it has
// already completed or the context is closing.
func (c *Context) cancel(id uint64) {
	if !c.guard.acquire() {
		return
	}
	_ = takeError(C.pyctx_cancel(c.ptr, C.uint64_t(id)))
	c.guard.release()
	runtime.KeepAlive(c)
}

// goPyctxWake wakes a parked runWaited.
//
//export goPyctxWake
func goPyctxWake(handle C.uintptr_t) {
	h := cgo.Handle(handle)
	close(h.Value().(chan struct{}))
	h.Delete()
}
