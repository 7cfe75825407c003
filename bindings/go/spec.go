package pyctx

// #include "shims_request.h"
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// spec is one request of the request-object path that pools, object handles
// and streams share: its destination (a context, a pool or an object), what
// it does and its arguments, encoded into one pooled buffer and described
// to C by offsets (shims_request.h).
type spec struct {
	kind   C.int // pyctx_request_kind
	ctx    *Context
	pool   *Pool
	obj    *Object
	env    *envState // of an Env or a PoolEnv
	text   string    // module, expression, code, method or attribute name
	name   string    // function of a call
	args   []any
	kwargs map[string]any
	key    string // pool routing key ("" : none)
	form   C.int  // pyctx_result_form

	bufs  []*Buffer           // attachments met by encode, in index order
	cbufs []*C.pyctx_buffer_t // their C handles, filled by hold
}

// callSpec is a call of module.function(*args), a trailing Kwargs giving
// keyword arguments as in Context.Call.
func callSpec(module, function string, args []any) *spec {
	r := newCall(module, function, args)
	return &spec{kind: C.PYCTX_REQUEST_CALL, text: module, name: function, args: r.args,
		kwargs: r.kwargs}
}

// argsSpec splits a trailing Kwargs off args.
func argsSpec(kind C.int, obj *Object, text string, args []any) *spec {
	r := newCall("", "", args)
	return &spec{kind: kind, obj: obj, text: text, args: r.args, kwargs: r.kwargs}
}

// encode lays s out in a pooled buffer (return it with putBuf).
func (s *spec) encode(timeout C.uint32_t) (*[]byte, C.pyctxgo_spec, error) {
	var d C.pyctxgo_spec
	bp := getBuf()
	r := request{text: s.text, function: s.name, args: s.args, kwargs: s.kwargs}
	e, b, err := r.appendTo((*bp)[:0])
	s.bufs = r.att.bufs
	if err == nil && s.key != "" {
		d.key_off, d.key_len = C.size_t(len(b)), C.size_t(len(s.key))
		b = append(b, s.key...)
	}
	*bp = b
	if err != nil {
		return bp, d, err
	}
	d.kind = s.kind
	d.text_off, d.name_off = C.size_t(e.textOff), C.size_t(e.funcOff)
	d.args_off, d.args_len = C.size_t(e.argsOff), C.size_t(e.argsLen)
	d.kwargs_off, d.kwargs_len = C.size_t(e.kwOff), C.size_t(e.kwLen)
	d.timeout_ms = timeout
	d.result_form = s.form
	return bp, d, nil
}

// hold takes the guards of every handle s names, fills their C pointers
// into d and returns the function that releases them.
func (s *spec) hold(d *C.pyctxgo_spec) (func(), error) {
	var held []*guard
	release := func() {
		for _, g := range held {
			g.release()
		}
		runtime.KeepAlive(s)
	}
	take := func(g *guard, what string) error {
		if !g.acquire() {
			release()
			return &Error{Status: StatusClosed, Message: what + " is closed"}
		}
		held = append(held, g)
		return nil
	}
	if s.ctx != nil {
		if err := take(s.ctx.guard, "context"); err != nil {
			return nil, err
		}
		d.context = s.ctx.ptr
	}
	if s.pool != nil {
		if err := take(s.pool.guard, "pool"); err != nil {
			return nil, err
		}
		d.pool = s.pool.ptr
	}
	if s.obj != nil {
		if err := take(s.obj.guard, "object handle"); err != nil {
			return nil, err
		}
		d.object = s.obj.ptr
	}
	if s.env != nil {
		if err := take(s.env.guard, "env"); err != nil {
			return nil, err
		}
		d.env = s.env.ptr
	}
	s.cbufs = s.cbufs[:0]
	for _, b := range s.bufs {
		if err := take(b.guard, "buffer"); err != nil {
			return nil, err
		}
		s.cbufs = append(s.cbufs, b.ptr)
	}
	return release, nil
}

// attached is the C array of the attachments hold took (nil: none).
func (s *spec) attached() (**C.pyctx_buffer_t, C.size_t) {
	if len(s.cbufs) == 0 {
		return nil, 0
	}
	return &s.cbufs[0], C.size_t(len(s.cbufs))
}

// cbuf is the C view of an encoded buffer (never empty: it holds the text).
func cbuf(b []byte) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(&b[0])) }

// run submits s and waits for it, honouring ctx as Context.Call does. With
// form PYCTX_RESULT_OBJECT it returns the new handle instead of a value.
func (s *spec) run(ctx context.Context) (any, *Object, error) {
	if ctx == nil {
		return nil, nil, newError(StatusInvalidArgument, "nil context.Context")
	}
	if ctx.Err() != nil {
		return nil, nil, ctxError(ctx)
	}
	timeout, expired := timeoutFor(ctx)
	if expired {
		return nil, nil, ctxError(ctx)
	}
	bp, d, err := s.encode(timeout)
	defer putBuf(bp)
	if err != nil {
		return nil, nil, err
	}
	var req *C.pyctx_request_t
	if err := takeError(C.pyctx_request_new(&req)); err != nil {
		return nil, nil, err
	}
	defer C.pyctx_request_free(req)
	release, err := s.hold(&d)
	if err != nil {
		return nil, nil, err
	}
	bufs, n := s.attached()
	err = takeError(C.pyctxgo_request_start(req, cbuf(*bp), &d, bufs, n))
	release()
	if err != nil {
		return nil, nil, err
	}
	if ctx.Done() == nil {
		_ = takeError(C.pyctx_request_wait(req, C.PYCTX_NO_TIMEOUT))
	} else if C.pyctx_request_wait(req, firstWaitMs) != nil {
		// Still in flight (the error is a timeout of this wait only).
		cancelled := waitCancelling(ctx,
			func() { _ = takeError(C.pyctx_request_wait(req, C.PYCTX_NO_TIMEOUT)) },
			func() { _ = takeError(C.pyctx_request_cancel(req)) })
		if cancelled && C.pyctx_request_status(req) == C.PYCTX_ERR_CANCELLED {
			return nil, nil, ctxError(ctx)
		}
	}
	switch s.form {
	case C.PYCTX_RESULT_OBJECT:
		o, err := takeObject(ctx, req, s.ownerContext())
		return nil, o, err
	case C.PYCTX_RESULT_BUFFER:
		b, err := takeView(ctx, req)
		return b, nil, err
	}
	v, err := takeRequest(ctx, req, *bp)
	return v, nil, err
}

// requestSpec is the spec of a plain call, eval or exec of c (the path of
// requests with attached buffers).
func (c *Context) requestSpec(r *request) *spec {
	s := &spec{ctx: c, text: r.text, name: r.function, args: r.args, kwargs: r.kwargs}
	if r.env != nil {
		s.env = r.env.st
	}
	switch r.kind {
	case kindCall:
		s.kind = C.PYCTX_REQUEST_CALL
	case kindEval:
		s.kind = C.PYCTX_REQUEST_EVAL
	case kindExec:
		s.kind = C.PYCTX_REQUEST_EXEC
	}
	return s
}

// ownerContext is the Go Context a new handle made by s belongs to.
func (s *spec) ownerContext() *Context {
	if s.obj != nil {
		return s.obj.owner
	}
	return s.ctx
}

// submitAsync submits s with a completion reaching goPyctxRequestDone; when
// ctx can end, a goroutine cancels the request if it ends first.
func (s *spec) submitAsync(ctx context.Context, f *Future) (*Future, error) {
	f, err := s.submit(ctx, f)
	if err == nil && ctx.Done() != nil {
		go func() {
			select {
			case <-f.done:
			case <-ctx.Done():
				_ = f.Cancel()
			}
		}()
	}
	return f, err
}

// submit is submitAsync without the goroutine watching ctx.
func (s *spec) submit(ctx context.Context, f *Future) (*Future, error) {
	if ctx == nil {
		return nil, newError(StatusInvalidArgument, "nil context.Context")
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	timeout, expired := timeoutFor(ctx)
	if expired {
		return nil, ctxError(ctx)
	}
	bp, d, err := s.encode(timeout)
	defer putBuf(bp)
	if err != nil {
		return nil, err
	}
	release, err := s.hold(&d)
	if err != nil {
		return nil, err
	}
	f.reqCtx = ctx
	f.done = make(chan struct{})
	h := cgo.NewHandle(f)
	bufs, n := s.attached()
	res := C.pyctxgo_request_submit_async(cbuf(*bp), &d, bufs, n, C.uintptr_t(h))
	release()
	if res.error != nil || res.no_memory != 0 {
		h.Delete() // not accepted: the callback never runs
		if res.error == nil {
			return nil, newError(StatusNoMemory, "out of memory for a request")
		}
		return nil, takeError(res.error)
	}
	f.id = uint64(res.request_id)
	return f, nil
}

// goPyctxRequestDone receives the completion of an asynchronous request of
// the request-object path, with its pool routing, on a library thread.
//
//export goPyctxRequestDone
func goPyctxRequestDone(handle C.uintptr_t, status C.int, value *C.uint8_t, valueLen C.size_t,
	message, pyType, traceback *C.char, member C.uint64_t, keyMoved C.int) {
	f := cgo.Handle(handle).Value().(*Future)
	f.member = uint64(member)
	f.keyMoved = keyMoved != 0
	goPyctxComplete(handle, status, value, valueLen, message, pyType, traceback)
}
