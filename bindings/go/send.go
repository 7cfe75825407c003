package pyctx

// #include "shims_talk.h"
import "C"

import (
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Message is one value Python sent with pyctx.send(target, value).
type Message struct {
	// Context is the sending context's name ("" for a Python thread of its own).
	Context string
	// Target is the target as Python gave it: a string for a named
	// endpoint, otherwise e.g. a HostTerm or a Symbol (for the router).
	Target any
	Value  any
}

// SendFunc receives messages on the sending Python thread (its GIL
// released). It must return promptly; false tells Python the target is gone
// (pyctx.SendError). A panic counts as false.
type SendFunc func(Message) bool

// RegisterEndpoint makes fn the endpoint name: pyctx.send(name, v) reaches
// it. Registering a name again replaces the endpoint.
func RegisterEndpoint(name string, fn SendFunc) error {
	if fn == nil {
		return newError(StatusInvalidArgument, "nil SendFunc for %q", name)
	}
	cname, err := cString("endpoint name", name)
	if err != nil {
		return err
	}
	defer freeCString(cname)
	h := cgo.NewHandle(fn)
	if err := takeError(C.pyctxgo_endpoint_register(cname, C.uintptr_t(h))); err != nil {
		h.Delete()
		return err
	}
	return nil
}

// UnregisterEndpoint removes an endpoint (ErrNotFound if unknown).
func UnregisterEndpoint(name string) error {
	cname, err := cString("endpoint name", name)
	if err != nil {
		return err
	}
	defer freeCString(cname)
	return takeError(C.pyctx_endpoint_unregister(cname))
}

// SetRouter makes fn receive every message whose target is not a str (an
// Erlang-style pid as a HostTerm, a Symbol, a tuple, ...).
func SetRouter(fn SendFunc) error {
	if fn == nil {
		return ClearRouter()
	}
	h := cgo.NewHandle(fn)
	if err := takeError(C.pyctxgo_send_set_router(C.uintptr_t(h))); err != nil {
		h.Delete()
		return err
	}
	return nil
}

// ClearRouter removes the router.
func ClearRouter() error {
	return takeError(C.pyctx_send_set_router(nil, nil, nil))
}

// Receiver is an endpoint whose messages arrive on a channel.
type Receiver struct {
	// C delivers the messages in the order each sender sent them.
	C    <-chan Message
	name string
	done chan struct{}
	once sync.Once
}

// NewReceiver registers the endpoint name delivering into a channel with
// room for buffer messages. While it is full a sending Python thread waits
// (its GIL released): backpressure, not loss. Close unregisters it.
func NewReceiver(name string, buffer int) (*Receiver, error) {
	ch := make(chan Message, buffer)
	r := &Receiver{C: ch, name: name, done: make(chan struct{})}
	err := RegisterEndpoint(name, func(m Message) bool {
		select {
		case ch <- m:
			return true
		case <-r.done:
			return false
		}
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Close unregisters the endpoint; later sends to it raise SendError. The
// channel is not closed (a send may be in flight), so stop reading after
// Close.
func (r *Receiver) Close() error {
	var err error
	r.once.Do(func() {
		close(r.done)
		err = UnregisterEndpoint(r.name)
	})
	return err
}

//export goPyctxSend
func goPyctxSend(handle C.uintptr_t, contextName *C.char, target *C.uint8_t, targetLen C.size_t,
	value *C.uint8_t, valueLen C.size_t) (rc C.int) {
	rc = 1
	defer func() {
		if recover() != nil {
			rc = 1
		}
	}()
	t, err := Decode(unsafe.Slice((*byte)(unsafe.Pointer(target)), int(targetLen)))
	if err != nil {
		return 1
	}
	v, err := Decode(unsafe.Slice((*byte)(unsafe.Pointer(value)), int(valueLen)))
	if err != nil {
		return 1
	}
	fn := cgo.Handle(handle).Value().(SendFunc)
	if fn(Message{Context: C.GoString(contextName), Target: t, Value: v}) {
		return 0
	}
	return 1
}
