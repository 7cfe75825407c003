package pyctx

// #include <stdlib.h>
// #include "shims.h"
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// HostFunc is a Go function Python can call as pyctx.call(name, *args) or
// await pyctx.async_call(name, *args). Its result is returned to Python; an
// error (or a panic) raises pyctx.HostError(message) there.
//
// Each call runs on its own goroutine, so a HostFunc may block and may call
// back into any context, including the one that called it, with any
// context.Context.
type HostFunc func(args []any) (any, error)

// AsyncHostFunc receives a call it must answer exactly once, now or later
// from any goroutine, with HostCall.Return or HostCall.Fail. It runs on the
// calling context's thread and must return promptly: hand slow work to a
// goroutine.
type AsyncHostFunc func(call *HostCall)

// HostCall is one pending call of an AsyncHostFunc.
type HostCall struct {
	// Name is the host function's name.
	Name string
	// ContextName is the name of the calling context.
	ContextName string
	// Args are the positional arguments.
	Args []any

	call     *C.pyctx_host_call_t
	answered atomic.Bool
}

// Register makes fn callable from Python as name, in every context. It may be
// called before Init. Registering a name again replaces the function.
func Register(name string, fn HostFunc) error {
	if fn == nil {
		return newError(StatusInvalidArgument, "nil HostFunc for %q", name)
	}
	return register(name, fn)
}

// RegisterAsync is Register for a function that answers later.
func RegisterAsync(name string, fn AsyncHostFunc) error {
	if fn == nil {
		return newError(StatusInvalidArgument, "nil AsyncHostFunc for %q", name)
	}
	return register(name, fn)
}

func register(name string, fn any) error {
	cname, err := cString("host function name", name)
	if err != nil {
		return err
	}
	defer freeCString(cname)
	h := cgo.NewHandle(fn)
	if err := takeError(C.pyctxgo_host_register(cname, C.uintptr_t(h))); err != nil {
		h.Delete() // not registered: the library never calls the finalizer
		return err
	}
	return nil
}

// Unregister removes a host function (ErrNotFound if unknown). Calls in
// flight finish normally; later calls raise LookupError in Python.
func Unregister(name string) error {
	cname, err := cString("host function name", name)
	if err != nil {
		return err
	}
	defer freeCString(cname)
	return takeError(C.pyctx_host_unregister(cname))
}

// Return answers the call with v. It fails with ErrInvalidArgument if the
// call was already answered or v cannot be encoded (Python then sees a
// HostError naming the problem), and with ErrClosed if the calling context
// closed meanwhile.
func (hc *HostCall) Return(v any) error {
	b, err := Marshal(v)
	if err != nil {
		if ferr := hc.Fail(err); ferr != nil {
			return ferr
		}
		return err
	}
	if !hc.answered.CompareAndSwap(false, true) {
		return newError(StatusInvalidArgument, "host call %q already answered", hc.Name)
	}
	runtime.SetFinalizer(hc, nil)
	return takeError(C.pyctx_host_call_return(hc.call, (*C.uint8_t)(unsafe.Pointer(&b[0])),
		C.size_t(len(b))))
}

// Fail answers the call with an error: Python raises
// pyctx.HostError(err.Error()).
func (hc *HostCall) Fail(err error) error {
	msg := "host function failed"
	if err != nil {
		msg = err.Error()
	}
	return hc.fail(msg)
}

func (hc *HostCall) fail(msg string) error {
	if !hc.answered.CompareAndSwap(false, true) {
		return newError(StatusInvalidArgument, "host call %q already answered", hc.Name)
	}
	runtime.SetFinalizer(hc, nil)
	cmsg := C.CString(sanitizeMessage(msg))
	defer freeCString(cmsg)
	return takeError(C.pyctx_host_call_fail(hc.call, cmsg))
}

// sanitizeMessage keeps a Go error message passable as a C string.
func sanitizeMessage(msg string) string {
	out := []byte(msg)
	for i, ch := range out {
		if ch == 0 {
			out[i] = ' '
		}
	}
	return string(out)
}

// dropped answers a call its AsyncHostFunc lost without answering, so the
// Python caller does not wait forever.
func (hc *HostCall) dropped() {
	_ = hc.fail("host function " + hc.Name + " dropped the call without answering")
}

// goPyctxHostCall is invoked on the calling context's thread.
//
//export goPyctxHostCall
func goPyctxHostCall(handle C.uintptr_t, call *C.pyctx_host_call_t, args *C.uint8_t,
	argsLen C.size_t, name, contextName *C.char) {
	hc := &HostCall{Name: C.GoString(name), ContextName: C.GoString(contextName), call: call}
	decoded, err := Decode(unsafe.Slice((*byte)(unsafe.Pointer(args)), int(argsLen)))
	if err != nil {
		_ = hc.fail("cannot decode host call arguments: " + err.Error())
		return
	}
	hc.Args, _ = decoded.([]any)
	switch fn := cgo.Handle(handle).Value().(type) {
	case HostFunc:
		go runHostFunc(fn, hc)
	case AsyncHostFunc:
		runtime.SetFinalizer(hc, (*HostCall).dropped)
		defer func() {
			if p := recover(); p != nil {
				_ = hc.fail(fmt.Sprintf("host function %s panicked: %v", hc.Name, p))
			}
		}()
		fn(hc)
	}
}

func runHostFunc(fn HostFunc, hc *HostCall) {
	defer func() {
		if p := recover(); p != nil {
			_ = hc.fail(fmt.Sprintf("host function %s panicked: %v", hc.Name, p))
		}
	}()
	v, err := fn(hc.Args)
	if err != nil {
		_ = hc.Fail(err)
		return
	}
	_ = hc.Return(v)
}

// goPyctxHostFree is the library's finalizer of a registration.
//
//export goPyctxHostFree
func goPyctxHostFree(handle C.uintptr_t) {
	cgo.Handle(handle).Delete()
}
