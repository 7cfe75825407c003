package pyctx

// #include "shims.h"
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Object is a handle to a live Python object in one context (a loaded
// model, a connection, a compiled regex), made by CallObject, EvalObject or
// the *Object forms of an object's own operations. Call it, call its
// methods, read its attributes, pass it back as an argument (anywhere in
// the arguments: Python receives the object itself), and Release or Close
// it. Every method is safe for concurrent use; an unreachable Object is
// freed by a finalizer, which releases the Python reference.
//
// Using a handle after its release fails with ErrInvalidArgument, and after
// its context closed with ErrClosed: never a crash.
type Object struct {
	ptr   *C.pyctx_object_t
	owner *Context
	guard *guard
	id    uint64
	ref   []byte // its object reference CBOR (tag 28796 [key, id])

	mu       sync.Mutex // serializes Release and Close
	released atomic.Bool
}

// CallObject calls module.function(*args) like Context.Call and returns a
// handle to the result instead of its value.
func (c *Context) CallObject(ctx context.Context, module, function string, args ...any) (*Object, error) {
	s := callSpec(module, function, args)
	s.ctx, s.form = c, C.PYCTX_RESULT_OBJECT
	_, o, err := s.run(ctx)
	return o, err
}

// EvalObject evaluates an expression like Context.Eval and returns a handle
// to the result.
func (c *Context) EvalObject(ctx context.Context, expression string, locals map[string]any) (*Object, error) {
	s := &spec{kind: C.PYCTX_REQUEST_EVAL, ctx: c, text: expression, kwargs: locals,
		form: C.PYCTX_RESULT_OBJECT}
	_, o, err := s.run(ctx)
	return o, err
}

// takeObject moves the handle out of a done request with the object form.
func takeObject(ctx context.Context, req *C.pyctx_request_t, owner *Context) (*Object, error) {
	var ref [64]byte
	t := C.pyctxgo_request_take(req, (*C.uint8_t)(unsafe.Pointer(&ref[0])), C.size_t(len(ref)))
	if Status(t.status) != StatusOK {
		err := errorFromFields(Status(t.status), goStringOrEmpty(t.message),
			goStringOrEmpty(t.python_type), goStringOrEmpty(t.traceback))
		return nil, withCause(err, ctx)
	}
	if t.copied == 0 { // an object reference is a few bytes: never happens
		C.pyctxgo_bytes_release(t.value.data, t.value.len)
		return nil, newError(StatusInternal, "object reference of %d bytes", int(t.value.len))
	}
	var ptr *C.pyctx_object_t
	if err := takeError(C.pyctx_request_take_object(req, &ptr)); err != nil {
		return nil, err
	}
	o := &Object{ptr: ptr, owner: owner, guard: newGuard(), id: uint64(C.pyctx_object_id(ptr)),
		ref: append([]byte(nil), ref[:t.copied_len]...)}
	runtime.SetFinalizer(o, (*Object).finalize)
	return o, nil
}

// ID returns the handle's id in its context (unique there, never reused).
func (o *Object) ID() uint64 { return o.id }

// Context returns the context the object lives in.
func (o *Object) Context() *Context { return o.owner }

// Alive reports whether the handle may be used: not released and its
// context open.
func (o *Object) Alive() bool {
	if !o.guard.acquire() {
		return false
	}
	defer o.guard.release()
	alive := C.pyctx_object_is_alive(o.ptr) != 0
	runtime.KeepAlive(o)
	return alive
}

// Call calls the object: object(*args), a trailing Kwargs giving keyword
// arguments. ctx bounds the request as in Context.Call.
func (o *Object) Call(ctx context.Context, args ...any) (any, error) {
	v, _, err := argsSpec(C.PYCTX_REQUEST_OBJECT_CALL, o, "", args).run(ctx)
	return v, err
}

// CallObject is Call returning a handle to the result.
func (o *Object) CallObject(ctx context.Context, args ...any) (*Object, error) {
	s := argsSpec(C.PYCTX_REQUEST_OBJECT_CALL, o, "", args)
	s.form = C.PYCTX_RESULT_OBJECT
	_, r, err := s.run(ctx)
	return r, err
}

// CallMethod calls object.method(*args).
func (o *Object) CallMethod(ctx context.Context, method string, args ...any) (any, error) {
	v, _, err := argsSpec(C.PYCTX_REQUEST_METHOD_CALL, o, method, args).run(ctx)
	return v, err
}

// CallMethodObject is CallMethod returning a handle to the result.
func (o *Object) CallMethodObject(ctx context.Context, method string, args ...any) (*Object, error) {
	s := argsSpec(C.PYCTX_REQUEST_METHOD_CALL, o, method, args)
	s.form = C.PYCTX_RESULT_OBJECT
	_, r, err := s.run(ctx)
	return r, err
}

// CallMethodAsync submits CallMethod and returns at once.
func (o *Object) CallMethodAsync(ctx context.Context, method string, args ...any) (*Future, error) {
	return argsSpec(C.PYCTX_REQUEST_METHOD_CALL, o, method, args).submitAsync(ctx,
		&Future{owner: o.owner})
}

// CallMethodBuffer is CallMethod returning a view of the result's memory
// (see Context.CallBuffer).
func (o *Object) CallMethodBuffer(ctx context.Context, method string, args ...any) (*Buffer, error) {
	s := argsSpec(C.PYCTX_REQUEST_METHOD_CALL, o, method, args)
	s.form = C.PYCTX_RESULT_BUFFER
	v, _, err := s.run(ctx)
	if err != nil {
		return nil, err
	}
	return v.(*Buffer), nil
}

// GetAttr reads object.name.
func (o *Object) GetAttr(ctx context.Context, name string) (any, error) {
	v, _, err := (&spec{kind: C.PYCTX_REQUEST_GETATTR, obj: o, text: name}).run(ctx)
	return v, err
}

// GetAttrObject is GetAttr returning a handle to the attribute.
func (o *Object) GetAttrObject(ctx context.Context, name string) (*Object, error) {
	s := &spec{kind: C.PYCTX_REQUEST_GETATTR, obj: o, text: name, form: C.PYCTX_RESULT_OBJECT}
	_, r, err := s.run(ctx)
	return r, err
}

// Release drops the Python reference and waits until the context has
// dropped it (bounded by ctx). Every later use of the handle fails with
// ErrInvalidArgument; releasing twice does too. After the context closed it
// fails with ErrClosed (the reference went with the context).
func (o *Object) Release(ctx context.Context) error {
	if ctx == nil {
		return newError(StatusInvalidArgument, "nil context.Context")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.released.Load() {
		return newError(StatusInvalidArgument, "object handle %d was released", o.id)
	}
	_, _, err := (&spec{kind: C.PYCTX_REQUEST_RELEASE, obj: o}).run(ctx)
	if err == nil || errorStatus(err) == StatusInvalidArgument || errorStatus(err) == StatusClosed {
		// Submitted (or refused as already gone): the handle counts as released.
		o.released.Store(true)
	}
	return err
}

func errorStatus(err error) Status {
	if e, ok := err.(*Error); ok {
		return e.Status
	}
	if _, ok := err.(*PythonError); ok {
		return StatusPython
	}
	return StatusOK
}

// Close frees the handle, releasing the Python reference without waiting
// (unless Release did). Idempotent; it returns nil.
func (o *Object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.guard.beginClose() {
		return nil
	}
	o.guard.wait()
	o.released.Store(true)
	C.pyctx_object_free(o.ptr)
	o.ptr = nil
	runtime.SetFinalizer(o, nil)
	return nil
}

func (o *Object) finalize() {
	o.guard.beginClose()
	C.pyctx_object_free(o.ptr)
	o.ptr = nil
}

// appendRef appends the object reference that names o in arguments.
func (o *Object) appendRef(b []byte) ([]byte, error) {
	if o.guard.closing() {
		return b, newError(StatusInvalidArgument, "object handle %d is closed", o.id)
	}
	if o.released.Load() {
		return b, newError(StatusInvalidArgument, "object handle %d was released", o.id)
	}
	return append(b, o.ref...), nil
}
