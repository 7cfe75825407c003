package pyctx

// #include "shims.h"
// #include "shims_request.h"
import "C"

import (
	"context"
	"runtime"
	"unsafe"
)

// tagBuffer is PYCTX_CBOR_TAG_BUFFER: it encloses an attachment's index.
const tagBuffer = C.PYCTX_CBOR_TAG_BUFFER

// BufferMemory says whose memory a Buffer is.
type BufferMemory int

const (
	// BufferLibrary memory was allocated by NewBuffer, outside Go's heap.
	BufferLibrary BufferMemory = C.PYCTX_BUFFER_LIBRARY
	// BufferPython memory is a Python object's, from CallBuffer or EvalBuffer.
	BufferPython BufferMemory = C.PYCTX_BUFFER_PYTHON
	// BufferHost memory is lent by a C host; Go code never makes one.
	BufferHost BufferMemory = C.PYCTX_BUFFER_HOST
)

// Buffer is memory shared with Python without a copy, with an element
// layout in the terms of Python's buffer protocol (PEP 3118).
//
// Host to Python: NewBuffer allocates it outside Go's heap (cgo forbids
// lending Go memory that C keeps after a call returns); fill Bytes(), set
// the layout, and pass the *Buffer as an argument anywhere in a request's
// arguments: Python receives a memoryview over the same memory (numpy:
// numpy.frombuffer(view, dtype=...)). Python to host: CallBuffer and
// EvalBuffer return a view of the result's own memory (bytes, bytearray,
// array.array, a numpy array, any buffer-protocol object).
//
// Close releases the handle; the memory stays valid until nothing holds it
// any more (a request in flight, a view Python kept), so the host must not
// use Bytes() after Close. A context cannot close while the host holds
// views of its Python objects (BufferPython): close them first. An
// unreachable Buffer is released by a finalizer.
type Buffer struct {
	ptr   *C.pyctx_buffer_t
	guard *guard
	info  BufferInfo
	data  unsafe.Pointer
}

// BufferInfo is a Buffer's layout.
type BufferInfo struct {
	Len         int    // itemsize * product(shape): the elements' bytes
	ItemSize    int    // bytes per element
	Format      string // struct-module element code, e.g. "B", "d", "<i"
	Shape       []int64
	Strides     []int64 // in bytes (C order when none were given)
	ReadOnly    bool
	CContiguous bool
	Memory      BufferMemory
}

// NewBuffer allocates size zeroed, writable bytes (64-byte aligned) shared
// with Python, as unsigned bytes ("B") in one dimension.
func NewBuffer(size int) (*Buffer, error) {
	if size < 0 {
		return nil, newError(StatusInvalidArgument, "negative buffer size %d", size)
	}
	return newBufferFrom(C.pyctxgo_buffer_alloc(C.size_t(size)))
}

func newBufferFrom(v C.pyctxgo_view) (*Buffer, error) {
	if err := takeError(v.error); err != nil {
		return nil, err
	}
	b := &Buffer{ptr: v.buffer, guard: newGuard()}
	b.setInfo(&v.info)
	runtime.SetFinalizer(b, (*Buffer).finalize)
	return b, nil
}

func (b *Buffer) setInfo(in *C.pyctx_buffer_info_t) {
	n := int(in.ndim)
	b.data = in.data
	b.info = BufferInfo{
		Len: int(in.len), ItemSize: int(in.itemsize), Format: C.GoString(in.format),
		Shape:       append([]int64(nil), unsafe.Slice((*int64)(unsafe.Pointer(in.shape)), n)...),
		Strides:     append([]int64(nil), unsafe.Slice((*int64)(unsafe.Pointer(in.strides)), n)...),
		ReadOnly:    in.readonly != 0,
		CContiguous: in.c_contiguous != 0,
		Memory:      BufferMemory(in.memory),
	}
}

// Bytes is the buffer's memory (Len bytes from its first element): write
// it before passing the buffer on, read it once the request completed, and
// never after Close. The slice does not keep b reachable, and b's finalizer
// lets the memory go: keep b in use (runtime.KeepAlive(b) after the last
// use of the slice) while you use the slice. For a read-only buffer it must not be written; for
// one whose elements are not contiguous (Info().CContiguous false) it is
// nil: walk the memory with Info's strides through Pointer instead.
func (b *Buffer) Bytes() []byte {
	if !b.info.CContiguous || b.data == nil {
		return nil
	}
	return unsafe.Slice((*byte)(b.data), b.info.Len)
}

// Pointer is the address of the buffer's first element.
func (b *Buffer) Pointer() unsafe.Pointer { return b.data }

// Info returns the buffer's layout.
func (b *Buffer) Info() BufferInfo { return b.info }

// SetFormat sets the element format: one struct-module code of
// ? b B c h H i I l L q Q n N e f d P, or Zf / Zd, after an optional
// byte-order prefix (@ = < > !). With no shape set the buffer is one
// dimension of Len/ItemSize elements. Only before the buffer is first
// passed to a request.
func (b *Buffer) SetFormat(format string) error {
	return b.relayout(func() error {
		return withCString("buffer format", format, func(s *C.char) error {
			return takeError(C.pyctx_buffer_set_format(b.ptr, s))
		})
	})
}

// SetShape sets the shape (1..64 dimensions) and optionally the strides in
// bytes (nil: C-contiguous, the elements filling the buffer exactly). Set
// the format first. Only before the buffer is first passed to a request.
func (b *Buffer) SetShape(shape, strides []int64) error {
	if len(shape) == 0 {
		return newError(StatusInvalidArgument, "a buffer shape needs at least one dimension")
	}
	if strides != nil && len(strides) != len(shape) {
		return newError(StatusInvalidArgument, "%d strides for %d dimensions", len(strides), len(shape))
	}
	return b.relayout(func() error {
		var st *C.int64_t
		if strides != nil {
			st = (*C.int64_t)(unsafe.Pointer(&strides[0]))
		}
		return takeError(C.pyctx_buffer_set_shape(b.ptr, C.int(len(shape)),
			(*C.int64_t)(unsafe.Pointer(&shape[0])), st))
	})
}

func (b *Buffer) relayout(change func() error) error {
	if !b.guard.acquire() {
		return &Error{Status: StatusClosed, Message: "buffer is closed"}
	}
	defer b.guard.release()
	if err := change(); err != nil {
		return err
	}
	v := C.pyctxgo_buffer_info(b.ptr)
	runtime.KeepAlive(b)
	if err := takeError(v.error); err != nil {
		return err
	}
	b.setInfo(&v.info)
	return nil
}

// Close releases the handle (a view of a Python object is released on its
// context's thread). Idempotent; it returns nil.
func (b *Buffer) Close() error {
	if !b.guard.beginClose() {
		return nil
	}
	b.guard.wait()
	runtime.SetFinalizer(b, nil)
	C.pyctx_buffer_free(b.ptr)
	b.ptr, b.data = nil, nil
	return nil
}

func (b *Buffer) finalize() {
	b.guard.beginClose()
	C.pyctx_buffer_free(b.ptr)
	b.ptr, b.data = nil, nil
}

// attachments are the Buffers a request's arguments name, in index order.
type attachments struct {
	bufs []*Buffer
}

// appendBuffer appends the reference to x: tag PYCTX_CBOR_TAG_BUFFER
// enclosing its index among the request's attachments (a buffer named
// twice is attached once).
func (a *attachments) appendBuffer(b []byte, x *Buffer) ([]byte, error) {
	if x == nil {
		return append(b, majorSimple|22), nil
	}
	if a == nil {
		return b, newError(StatusInvalidArgument,
			"cbor: a *Buffer can only be an argument of a request, not a Marshal value")
	}
	if x.guard.closing() {
		return b, newError(StatusInvalidArgument, "buffer argument is closed")
	}
	index := -1
	for i, have := range a.bufs {
		if have == x {
			index = i
			break
		}
	}
	if index < 0 {
		index = len(a.bufs)
		a.bufs = append(a.bufs, x)
	}
	return appendHead(appendHead(b, majorTag, tagBuffer), majorUint, uint64(index)), nil
}

// CallBuffer calls module.function(*args) like Context.Call and returns a
// view of its result's memory instead of its value: any buffer-protocol
// object. The object stays alive and its memory in place until the
// Buffer's Close. A result with no buffer view fails with ErrEncode.
func (c *Context) CallBuffer(ctx context.Context, module, function string, args ...any) (*Buffer, error) {
	s := callSpec(module, function, args)
	s.ctx, s.form = c, C.PYCTX_RESULT_BUFFER
	v, _, err := s.run(ctx)
	if err != nil {
		return nil, err
	}
	return v.(*Buffer), nil
}

// EvalBuffer evaluates an expression like Context.Eval and returns a view
// of the result's memory; see CallBuffer.
func (c *Context) EvalBuffer(ctx context.Context, expression string, locals map[string]any) (*Buffer, error) {
	s := &spec{kind: C.PYCTX_REQUEST_EVAL, ctx: c, text: expression, kwargs: locals,
		form: C.PYCTX_RESULT_BUFFER}
	v, _, err := s.run(ctx)
	if err != nil {
		return nil, err
	}
	return v.(*Buffer), nil
}

// takeView moves the result view out of a done request.
func takeView(ctx context.Context, req *C.pyctx_request_t) (*Buffer, error) {
	if st := Status(C.pyctx_request_status(req)); st != StatusOK {
		t := C.pyctxgo_request_take(req, nil, 0)
		err := errorFromFields(Status(t.status), goStringOrEmpty(t.message),
			goStringOrEmpty(t.python_type), goStringOrEmpty(t.traceback))
		return nil, withCause(err, ctx)
	}
	return newBufferFrom(C.pyctxgo_request_take_view(req))
}

// BufferStats are the buffer counters of one context.
type BufferStats struct {
	LentViews uint64 // Python views of lent buffers alive in the context now
	LentTotal uint64 // buffers lent to the context over its life
	HeldViews uint64 // views of the context's Python objects the host holds now
}

// BufferStats returns the context's buffer counters.
func (c *Context) BufferStats() (BufferStats, error) {
	if !c.guard.acquire() {
		return BufferStats{}, errClosed()
	}
	defer c.guard.release()
	var s C.pyctx_buffer_stats_t
	err := takeError(C.pyctx_context_buffer_stats(c.ptr, &s, C.size_t(unsafe.Sizeof(s))))
	runtime.KeepAlive(c)
	if err != nil {
		return BufferStats{}, err
	}
	return BufferStats{LentViews: uint64(s.lent_views), LentTotal: uint64(s.lent_total),
		HeldViews: uint64(s.held_views)}, nil
}
