package pyctx

// #include "shims.h"
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Future is the pending result of an asynchronous request.
type Future struct {
	owner  *Context        // the context it was submitted to, or
	pool   *Pool           // the pool
	reqCtx context.Context // the ctx given at submission (may be nil)
	id     uint64
	done   chan struct{}

	// Pool routing, written by the completion before done is closed.
	member   uint64
	keyMoved bool

	// Written by the completion callback before done is closed.
	data []byte
	err  error

	once  sync.Once
	value any
	verr  error
}

// CallAsync submits Call and returns at once. ctx bounds the request as in
// Call (cancelling it cancels the request); use Future.Wait to bound only the
// waiting.
func (c *Context) CallAsync(ctx context.Context, module, function string, args ...any) (*Future, error) {
	return c.submitWatched(ctx, newCall(module, function, args))
}

// EvalAsync submits Eval and returns at once.
func (c *Context) EvalAsync(ctx context.Context, expression string, locals map[string]any) (*Future, error) {
	return c.submitWatched(ctx, &request{kind: kindEval, text: expression, kwargs: locals})
}

// ExecAsync submits Exec and returns at once; the Future's value is nil.
func (c *Context) ExecAsync(ctx context.Context, code string) (*Future, error) {
	return c.submitWatched(ctx, &request{kind: kindExec, text: code})
}

// ID returns the request id (unique per context).
func (f *Future) ID() uint64 { return f.id }

// Done is closed when the request has completed.
func (f *Future) Done() <-chan struct{} { return f.done }

// Member waits for completion and returns the id of the pool member the
// request went to (see MemberStats.MemberID); 0 for requests to a context.
func (f *Future) Member() uint64 {
	<-f.done
	return f.member
}

// KeyMoved waits for completion and reports whether the request's pool key
// was routed to another member than that key's previous request: the key's
// state in its old member was left behind.
func (f *Future) KeyMoved() bool {
	<-f.done
	return f.keyMoved
}

// Result waits for completion and returns the value or error.
func (f *Future) Result() (any, error) {
	<-f.done
	f.once.Do(func() {
		if f.err != nil {
			f.verr = withCause(f.err, f.reqCtx)
			return
		}
		if len(f.data) > 0 {
			f.value, f.verr = Decode(f.data)
		}
		f.data = nil
	})
	return f.value, f.verr
}

// Wait is Result bounded by ctx: when ctx ends first it returns ctx's error
// and leaves the request running (use Cancel to stop it).
func (f *Future) Wait(ctx context.Context) (any, error) {
	select {
	case <-f.done:
		return f.Result()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Cancel asks the context to cancel the request: a queued request completes
// as cancelled without running, a running one is interrupted. It returns nil
// also when the request has already completed (its result stands).
func (f *Future) Cancel() error {
	if f.pool != nil {
		return f.pool.Cancel(f.id)
	}
	c := f.owner
	if !c.guard.acquire() {
		return nil // the context is closing: the request completes as closed
	}
	err := takeError(C.pyctx_cancel(c.ptr, C.uint64_t(f.id)))
	c.guard.release()
	runtime.KeepAlive(c)
	if e, ok := err.(*Error); ok && (e.Status == StatusNotFound || e.Status == StatusClosed) {
		return nil
	}
	return err
}

// submitWatched submits r; if ctx can be cancelled, a goroutine cancels the
// request when ctx ends first.
func (c *Context) submitWatched(ctx context.Context, r *request) (*Future, error) {
	if ctx == nil {
		return nil, newError(StatusInvalidArgument, "nil context.Context")
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	f, err := c.submit(ctx, r)
	if err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		go func() {
			select {
			case <-f.done:
			case <-ctx.Done():
				_ = f.Cancel()
			}
		}()
	}
	return f, nil
}

// submit encodes r and hands it to the C API; the completion reaches
// goPyctxComplete through a cgo.Handle, so C never holds a Go pointer.
func (c *Context) submit(ctx context.Context, r *request) (*Future, error) {
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
		return c.requestSpec(r).submit(ctx, &Future{owner: c})
	}
	env, err := c.hold(r)
	if err != nil {
		return nil, err
	}
	f := &Future{owner: c, reqCtx: ctx, done: make(chan struct{})}
	h := cgo.NewHandle(f)
	var res C.pyctxgo_submit_result
	switch r.kind {
	case kindCall:
		args, argsLen := enc.bytes(enc.argsOff, enc.argsLen)
		kw, kwLen := enc.bytes(enc.kwOff, enc.kwLen)
		res = C.pyctxgo_call_async(c.ptr, enc.cstr(0), enc.cstr(enc.funcOff), args, argsLen,
			kw, kwLen, timeout, C.uintptr_t(h))
	case kindEval:
		locals, localsLen := enc.bytes(enc.kwOff, enc.kwLen)
		res = C.pyctxgo_eval_async(c.ptr, enc.cstr(0), env, locals, localsLen, timeout,
			C.uintptr_t(h))
	case kindExec:
		res = C.pyctxgo_exec_async(c.ptr, enc.cstr(0), env, timeout, C.uintptr_t(h))
	}
	c.unhold(r)
	if res.error != nil {
		h.Delete() // not accepted: the callback never runs
		return nil, takeError(res.error)
	}
	f.id = uint64(res.request_id)
	return f, nil
}

// goPyctxComplete receives every completion, on a library thread. It only
// copies the outcome and wakes the waiters: decoding happens in Result, off
// the library thread.
//
//export goPyctxComplete
func goPyctxComplete(handle C.uintptr_t, status C.int, value *C.uint8_t, valueLen C.size_t,
	message, pyType, traceback *C.char) {
	h := cgo.Handle(handle)
	f := h.Value().(*Future)
	h.Delete()
	if Status(status) == StatusOK {
		if valueLen > 0 {
			f.data = append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(value)), int(valueLen))...)
		}
	} else {
		f.err = errorFromFields(Status(status), goStringOrEmpty(message), goStringOrEmpty(pyType),
			goStringOrEmpty(traceback))
	}
	close(f.done)
}

func goStringOrEmpty(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}
