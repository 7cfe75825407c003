package pyctx

// #include "shims.h"
// #include "shims_request.h"
import "C"

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// StreamCredit is how many items a stream lets its iterator run ahead of
// the reader: the iterator is never advanced more than this many times
// beyond the items taken, and waits, suspended in its context, meanwhile.
const StreamCredit = 64

// Stream reads a generator, an async generator or any iterator (or
// iterable) that a call, eval or method call returned, item by item, with
// backpressure. Read it with Next or range over Items; Close it when done
// (closing before the end cancels it: the generator's finally blocks run).
// An unreachable Stream is cancelled and freed by a finalizer. Next and
// Items may be used from any goroutine.
type Stream struct {
	ptr   *C.pyctx_stream_t
	guard *guard
	ctx   context.Context

	ctxEnded  *atomic.Bool  // ctx ended first and cancelled the stream (apart from the Stream, for watch)
	ended     chan struct{} // closed once the end was read, or on Close (stops watch)
	endOnce   sync.Once
	closing   chan struct{} // closed by Close (stops Items)
	closeOnce sync.Once
}

// CallStream calls module.function(*args) (as Context.Call) and opens its
// result as a stream. ctx bounds the whole stream: when it ends the stream
// is cancelled and Next fails with an error matching ErrCancelled or
// ErrTimeout and ctx.Err().
func (c *Context) CallStream(ctx context.Context, module, function string, args ...any) (*Stream, error) {
	s := callSpec(module, function, args)
	s.ctx = c
	return s.openStream(ctx)
}

// EvalStream evaluates an expression (as Context.Eval) and opens its result
// as a stream; see CallStream.
func (c *Context) EvalStream(ctx context.Context, expression string, locals map[string]any) (*Stream, error) {
	return (&spec{kind: C.PYCTX_REQUEST_EVAL, ctx: c, text: expression, kwargs: locals}).openStream(ctx)
}

// CallStream calls the object and opens its result as a stream.
func (o *Object) CallStream(ctx context.Context, args ...any) (*Stream, error) {
	return argsSpec(C.PYCTX_REQUEST_OBJECT_CALL, o, "", args).openStream(ctx)
}

// CallMethodStream calls object.method(*args) and opens its result as a
// stream.
func (o *Object) CallMethodStream(ctx context.Context, method string, args ...any) (*Stream, error) {
	return argsSpec(C.PYCTX_REQUEST_METHOD_CALL, o, method, args).openStream(ctx)
}

func (sp *spec) openStream(ctx context.Context) (*Stream, error) {
	if ctx == nil {
		return nil, newError(StatusInvalidArgument, "nil context.Context")
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	bp, d, err := sp.encode(C.PYCTX_NO_TIMEOUT)
	defer putBuf(bp)
	if err != nil {
		return nil, err
	}
	release, err := sp.hold(&d)
	if err != nil {
		return nil, err
	}
	var ptr *C.pyctx_stream_t
	bufs, n := sp.attached()
	err = takeError(C.pyctxgo_stream_open(cbuf(*bp), &d, bufs, n, StreamCredit, &ptr))
	release()
	if err != nil {
		return nil, err
	}
	s := &Stream{ptr: ptr, guard: newGuard(), ctx: ctx, ended: make(chan struct{}),
		closing: make(chan struct{}), ctxEnded: new(atomic.Bool)}
	runtime.SetFinalizer(s, (*Stream).finalize)
	if ctx.Done() != nil {
		go s.watch()
	}
	return s, nil
}

// watch cancels the stream when its ctx ends before the stream does. It
// holds the stream's state but not the Stream, so an abandoned Stream can
// still be finalized.
func (s *Stream) watch() {
	ctx, ended, g, ptr, flag := s.ctx, s.ended, s.guard, s.ptr, s.ctxEnded
	s = nil
	select {
	case <-ended:
	case <-ctx.Done():
		flag.Store(true)
		if g.acquire() {
			_ = takeError(C.pyctx_stream_cancel(ptr))
			g.release()
		}
	}
}

func (s *Stream) markEnded() { s.endOnce.Do(func() { close(s.ended) }) }

// Next returns the next item. At the end it returns io.EOF when the
// iterator was exhausted, or the error that ended the stream: a
// *PythonError raised mid-stream (after the items before it), ErrCancelled
// after Cancel, ErrClosed when the context closed, or the error of the call
// that was to produce the iterator. Every later Next returns the same.
func (s *Stream) Next() (any, error) {
	if !s.guard.acquire() {
		return nil, &Error{Status: StatusClosed, Message: "stream is closed"}
	}
	defer s.guard.release()
	var item C.pyctx_bytes_t
	var done C.int
	err := takeError(C.pyctx_stream_next(s.ptr, C.PYCTX_NO_TIMEOUT, &item, &done))
	runtime.KeepAlive(s)
	if done != 0 {
		s.markEnded()
		if err == nil {
			return nil, io.EOF
		}
		if s.ctxEnded.Load() && errorStatus(err) == StatusCancelled {
			return nil, ctxError(s.ctx)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	v, err := Decode(unsafe.Slice((*byte)(unsafe.Pointer(item.data)), int(item.len)))
	C.pyctxgo_bytes_release(item.data, item.len)
	return v, err
}

// StreamItem is one item of Stream.Items: a value, or the error that ended
// the stream (the last item then).
type StreamItem struct {
	Value any
	Err   error
}

// Items returns a channel of the stream's items, closed after the end: an
// exhausted iterator closes it, any other end sends one StreamItem with
// the error first. Close stops it.
//
//	for it := range s.Items() {
//		if it.Err != nil { ... }
//		use(it.Value)
//	}
func (s *Stream) Items() <-chan StreamItem {
	ch := make(chan StreamItem, 1)
	go func() {
		defer close(ch)
		for {
			v, err := s.Next()
			if err == io.EOF {
				return
			}
			select {
			case ch <- StreamItem{Value: v, Err: err}:
			case <-s.closing:
				return // closed meanwhile: nobody reads on
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// Done reports whether the end was reached (reported by the library).
func (s *Stream) Done() bool {
	if !s.guard.acquire() {
		return true
	}
	defer s.guard.release()
	done := C.pyctx_stream_is_done(s.ptr) != 0
	runtime.KeepAlive(s)
	return done
}

// Cancel ends the stream: the iterator is closed in its context (a
// generator's finally blocks run) and the end, unless it came already, is
// ErrCancelled. Idempotent.
func (s *Stream) Cancel() error {
	if !s.guard.acquire() {
		return nil
	}
	defer s.guard.release()
	err := takeError(C.pyctx_stream_cancel(s.ptr))
	runtime.KeepAlive(s)
	return err
}

// Close cancels the stream unless it ended, waits for its end and frees
// it; a Next blocked meanwhile returns. Idempotent; it returns nil.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		runtime.SetFinalizer(s, nil)
		close(s.closing)
		if !s.guard.beginClose() {
			return
		}
		_ = takeError(C.pyctx_stream_cancel(s.ptr)) // wakes a blocked Next
		s.markEnded()
		s.guard.wait()
		C.pyctx_stream_free(s.ptr)
		s.ptr = nil
	})
	return nil
}

// finalize frees an unreachable stream (nothing reads it: Items holds it
// while it runs). Freeing waits for the cancelled iterator's end, a round
// trip to its context, so it runs apart from the finalizer goroutine.
func (s *Stream) finalize() {
	s.guard.beginClose()
	s.markEnded()
	ptr := s.ptr
	s.ptr = nil
	go func() { C.pyctx_stream_free(ptr) }()
}
