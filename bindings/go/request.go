package pyctx

// #include "shims.h"
import "C"

import (
	"context"
	"sync"
	"time"
	"unsafe"
)

type requestKind int

const (
	kindCall requestKind = iota
	kindEval
	kindExec
)

// request is one call, eval or exec before it is encoded.
type request struct {
	kind     requestKind
	env      *Env
	text     string         // module (call), expression (eval) or code (exec)
	function string         // call only
	args     []any          // call only
	kwargs   map[string]any // keyword arguments (call) or locals (eval)
	att      attachments    // the Buffers met while encoding the arguments
}

// encoded is a request laid out in one buffer, so one Go allocation (pooled)
// carries every C argument: "text\0function\0" then the args and kwargs CBOR.
type encoded struct {
	buf              []byte
	textOff          int // 0 but in a batch's shared buffer
	funcOff          int
	argsOff, argsLen int
	kwOff, kwLen     int
}

// bufPool recycles request buffers; after a synchronous call the same buffer
// receives the result, so a small round trip allocates no buffer at all.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledBuf = 1 << 20

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// encodePooled encodes r into a buffer from the pool. The caller returns the
// buffer with putBuf once it no longer uses the encoding, also on error.
func encodePooled(r *request) (*[]byte, encoded, error) {
	bp := getBuf()
	enc, err := r.encode(*bp)
	*bp = enc.buf
	return bp, enc, err
}

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

func (r *request) encode(buf []byte) (encoded, error) {
	e, b, err := r.appendTo(buf[:0])
	e.buf = b
	return e, err
}

// appendTo appends r's encoding to b; the offsets it returns count from the
// start of b (the text is at textOff), so many requests share one buffer.
func (r *request) appendTo(b []byte) (encoded, []byte, error) {
	e := encoded{textOff: len(b)}
	if err := checkText("module, expression or code", r.text); err != nil {
		return e, b, err
	}
	if err := checkText("function name", r.function); err != nil {
		return e, b, err
	}
	b = append(b, r.text...)
	b = append(b, 0)
	e.funcOff = len(b)
	b = append(b, r.function...)
	b = append(b, 0)
	var err error
	if len(r.args) > 0 {
		e.argsOff = len(b)
		if b, err = appendItems(b, r.args, 1, &r.att); err != nil {
			return e, b, err
		}
		e.argsLen = len(b) - e.argsOff
	}
	if r.kwargs != nil {
		e.kwOff = len(b)
		if b, err = appendStringMap(b, r.kwargs, 1, &r.att); err != nil {
			return e, b, err
		}
		e.kwLen = len(b) - e.kwOff
	}
	return e, b, nil
}

func (e *encoded) cstr(off int) *C.char { return (*C.char)(unsafe.Pointer(&e.buf[off])) }

func (e *encoded) bytes(off, n int) (*C.uint8_t, C.size_t) {
	if n == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&e.buf[off])), C.size_t(n)
}

// Call calls module.function(*args) in the context and returns its result.
// If the last argument is a Kwargs it supplies keyword arguments. A function
// returning a coroutine (an async def) runs as a task on the context's event
// loop and Call returns the coroutine's result.
//
// ctx bounds the request: its deadline becomes the request's timeout, and
// cancelling it cancels the request (a queued request never runs, a running
// one is interrupted). The error then matches ErrCancelled or ErrTimeout and
// also ctx.Err(). A ctx that can never be cancelled (context.Background())
// takes a faster, fully synchronous path.
func (c *Context) Call(ctx context.Context, module, function string, args ...any) (any, error) {
	return c.run(ctx, newCall(module, function, args))
}

// Eval evaluates a Python expression in the context's default namespace;
// locals (may be nil) are visible to it as local variables.
func (c *Context) Eval(ctx context.Context, expression string, locals map[string]any) (any, error) {
	return c.run(ctx, &request{kind: kindEval, text: expression, kwargs: locals})
}

// Exec executes Python statements in the context's default namespace.
func (c *Context) Exec(ctx context.Context, code string) error {
	_, err := c.run(ctx, &request{kind: kindExec, text: code})
	return err
}

func newCall(module, function string, args []any) *request {
	r := &request{kind: kindCall, text: module, function: function, args: args}
	if n := len(args); n > 0 {
		if kw, ok := args[n-1].(Kwargs); ok {
			r.args, r.kwargs = args[:n-1], kw
			if kw == nil {
				r.kwargs = Kwargs{}
			}
		}
	}
	return r
}

// timeoutFor turns ctx's deadline into a C timeout. expired reports a
// deadline already in the past.
func timeoutFor(ctx context.Context) (ms C.uint32_t, expired bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return C.PYCTX_NO_TIMEOUT, false
	}
	left := time.Until(d)
	if left <= 0 {
		return 0, true
	}
	return millis(left), false
}

// ctxError is the error of a request that ctx ended.
func ctxError(ctx context.Context) error {
	cause := ctx.Err()
	if cause == context.DeadlineExceeded {
		return &Error{Status: StatusTimeout, Message: "context deadline exceeded", cause: cause}
	}
	return &Error{Status: StatusCancelled, Message: "context canceled", cause: cause}
}

// withCause attaches the Go context error behind a cancelled or timed-out
// result, so errors.Is matches both ErrCancelled/ErrTimeout and ctx.Err().
func withCause(err error, ctx context.Context) error {
	e, ok := err.(*Error)
	if !ok || ctx == nil || e.cause != nil {
		return err
	}
	var cause error
	switch e.Status {
	case StatusTimeout:
		// The only timeout given to the engine is ctx's deadline, and the
		// engine's clock may reach it a moment before ctx's own timer.
		if _, ok := ctx.Deadline(); ok {
			cause = context.DeadlineExceeded
		}
	case StatusCancelled:
		cause = ctx.Err()
	}
	if cause == nil {
		return err
	}
	return &Error{Status: e.Status, Message: e.Message, cause: cause}
}

func (c *Context) run(ctx context.Context, r *request) (any, error) {
	if ctx == nil {
		return nil, newError(StatusInvalidArgument, "nil context.Context")
	}
	if ctx.Done() == nil {
		ms, expired := timeoutFor(ctx)
		if expired {
			return nil, newError(StatusTimeout, "deadline already passed")
		}
		return c.runSync(r, ms)
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	return c.runWaited(ctx, r)
}

// runSync is the blocking path: one cgo call, the result copied into the
// request's own pooled buffer when it fits.
func (c *Context) runSync(r *request, timeout C.uint32_t) (any, error) {
	bp, enc, err := encodePooled(r)
	defer putBuf(bp)
	if err != nil {
		return nil, err
	}
	if r.att.bufs != nil { // attachments take the request-object path
		v, _, err := c.requestSpec(r).run(context.Background())
		return v, err
	}
	env, err := c.hold(r)
	if err != nil {
		return nil, err
	}
	dst := enc.buf[:cap(enc.buf)]
	dstPtr, dstCap := (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(len(dst))
	var res C.pyctxgo_sync_result
	switch r.kind {
	case kindCall:
		args, argsLen := enc.bytes(enc.argsOff, enc.argsLen)
		kw, kwLen := enc.bytes(enc.kwOff, enc.kwLen)
		res = C.pyctxgo_call(c.ptr, enc.cstr(0), enc.cstr(enc.funcOff), args, argsLen, kw, kwLen,
			timeout, dstPtr, dstCap)
	case kindEval:
		locals, localsLen := enc.bytes(enc.kwOff, enc.kwLen)
		res = C.pyctxgo_eval(c.ptr, enc.cstr(0), env, locals, localsLen, timeout, dstPtr, dstCap)
	case kindExec:
		res.error = C.pyctx_exec(c.ptr, enc.cstr(0), env, timeout)
		res.copied = 1
	}
	c.unhold(r)
	if res.error != nil {
		return nil, takeError(res.error)
	}
	if res.copied != 0 {
		if res.copied_len == 0 {
			return nil, nil
		}
		return Decode(dst[:res.copied_len])
	}
	v, err := Decode(unsafe.Slice((*byte)(unsafe.Pointer(res.value.data)), int(res.value.len)))
	C.pyctxgo_bytes_release(res.value.data, res.value.len)
	return v, err
}
