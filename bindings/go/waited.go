package pyctx

// #include "shims.h"
import "C"

import (
	"context"
	"runtime"
	"unsafe"
)

// firstWaitMs is how long a cancellable call waits inside the library
// (spinning, then parked) before it starts a goroutine to watch its
// context.Context. Most requests complete within microseconds, so they
// never pay for the goroutine; a context.Context that ends meanwhile is
// noticed at most this late.
const firstWaitMs = 1

// runWaited is the path of a synchronous request whose ctx can end: it runs
// as a C request object, waited for by the library itself and cancelled by
// a watcher goroutine if ctx ends first.
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
	if r.att.bufs != nil { // attachments take the request-object path
		v, _, err := c.requestSpec(r).run(ctx)
		return v, err
	}
	var req *C.pyctx_request_t
	if err := takeError(C.pyctx_request_new(&req)); err != nil {
		return nil, err
	}
	defer C.pyctx_request_free(req)
	if err := c.submitRequest(r, &enc, timeout, req); err != nil {
		return nil, err
	}
	if C.pyctx_request_wait(req, firstWaitMs) != nil {
		// Still in flight (the error is a timeout of this wait only).
		if c.waitWatched(ctx, req) && C.pyctx_request_status(req) == C.PYCTX_ERR_CANCELLED {
			return nil, ctxError(ctx) // ctx ended it: report ctx's reason
		}
	}
	return takeRequest(ctx, req, enc.buf)
}

// waitWatched blocks until req is done, cancelling it if ctx ends first;
// true when it did.
func (c *Context) waitWatched(ctx context.Context, req *C.pyctx_request_t) bool {
	return waitCancelling(ctx,
		func() { _ = takeError(C.pyctx_request_wait(req, C.PYCTX_NO_TIMEOUT)) },
		func() { _ = takeError(C.pyctx_request_cancel(req)) })
}

// waitCancelling runs wait (which returns once the work is done) while a
// goroutine calls cancel if ctx ends first; true when it did. When it
// returns, the goroutine no longer touches the work.
func waitCancelling(ctx context.Context, wait, cancel func()) bool {
	finished := make(chan struct{})
	watcherDone := make(chan struct{})
	cancelled := false
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
			cancelled = true
			cancel()
		case <-finished:
		}
	}()
	wait()
	close(finished)
	<-watcherDone
	return cancelled
}

func (c *Context) submitRequest(r *request, enc *encoded, timeout C.uint32_t,
	req *C.pyctx_request_t) error {
	env, err := c.hold(r)
	if err != nil {
		return err
	}
	defer c.unhold(r)
	var cerr *C.pyctx_error_t
	switch r.kind {
	case kindCall:
		args, argsLen := enc.bytes(enc.argsOff, enc.argsLen)
		kw, kwLen := enc.bytes(enc.kwOff, enc.kwLen)
		cerr = C.pyctxgo_request_call(req, c.ptr, enc.cstr(0), enc.cstr(enc.funcOff), args, argsLen,
			kw, kwLen, timeout)
	case kindEval:
		locals, localsLen := enc.bytes(enc.kwOff, enc.kwLen)
		cerr = C.pyctxgo_request_eval(req, c.ptr, enc.cstr(0), env, locals, localsLen, timeout)
	case kindExec:
		cerr = C.pyctxgo_request_exec(req, c.ptr, enc.cstr(0), env, timeout)
	}
	runtime.KeepAlive(c)
	return takeError(cerr)
}

// takeRequest converts a done request's outcome, copying the value through
// buf (the request's own encoding buffer, no longer needed).
func takeRequest(ctx context.Context, req *C.pyctx_request_t, buf []byte) (any, error) {
	dst := buf[:cap(buf)]
	t := C.pyctxgo_request_take(req, (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)))
	return takenResult(ctx, &t, dst)
}

// takenResult converts one read-out request; a copied value starts at dst.
func takenResult(ctx context.Context, t *C.pyctxgo_taken, dst []byte) (any, error) {
	if Status(t.status) != StatusOK {
		err := errorFromFields(Status(t.status), goStringOrEmpty(t.message),
			goStringOrEmpty(t.python_type), goStringOrEmpty(t.traceback))
		return nil, withCause(err, ctx)
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
