package pyctx

// #include "pyctx.h"
import "C"

import (
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Mode selects how a context runs Python.
type Mode int

const (
	// ModeWorker runs on the main interpreter and shares its GIL.
	ModeWorker Mode = C.PYCTX_MODE_WORKER
	// ModeOwnGIL runs a PEP 684 subinterpreter with its own GIL, in parallel
	// with every other context (Python 3.12+).
	ModeOwnGIL Mode = C.PYCTX_MODE_OWNGIL
	// ModeProcess runs the main interpreter of a child process the library
	// starts (its pyctx-process-helper, found next to libpyctx): every
	// extension module imports, contexts run in parallel, and a crash of the
	// child fails that context's queued and running requests with
	// ErrCrashed instead of ending the host. Stats.ThreadID is the child's
	// pid.
	ModeProcess Mode = C.PYCTX_MODE_PROCESS
)

func (m Mode) String() string {
	switch m {
	case ModeWorker:
		return "worker"
	case ModeOwnGIL:
		return "owngil"
	case ModeProcess:
		return "process"
	}
	return "mode(" + itoa(int(m)) + ")"
}

// DefaultCloseTimeout is how long Context.Close waits for Python to return.
const DefaultCloseTimeout = 5 * time.Second

// ContextOptions configure NewContext. The zero value means defaults.
type ContextOptions struct {
	Mode Mode
	// Name for logs and the OS thread; default "pyctx-<n>".
	Name string
	// Preload is Python code run once in the default namespace before any
	// request; if it raises, NewContext fails with the *PythonError.
	Preload string
	// QueueCapacity bounds queued requests (0: unbounded); submissions to a
	// full queue fail with ErrQueueFull.
	QueueCapacity int
	// CloseTimeout bounds Close; zero means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Sandbox, when set, is the policy the context's Python runs under; it
	// applies after the preload.
	Sandbox *Sandbox
	// MemoryLimit caps the memory the context's Python allocates, in bytes
	// (0: no cap). Over the cap an allocation raises MemoryError in that
	// context only. ModeOwnGIL and ModeProcess contexts can be capped (a
	// process context's cap is its child's address space, RLIMIT_AS: size it
	// above what extensions reserve at import); a worker context with a
	// limit fails with ErrUnsupported; below 16 MiB is ErrInvalidArgument.
	MemoryLimit uint64
	// ProcessHelper (ModeProcess only) is the helper executable to start,
	// overriding the default search (next to libpyctx, then
	// ../libexec/pyctx, then the path compiled in at install time). A path
	// that is not an executable file makes NewContext fail with ErrNotFound.
	ProcessHelper string
	// MaxRestarts (ModeProcess only): when the child crashes, a new one is
	// started (the preload runs again) up to MaxRestarts times within any
	// RestartWindow (0: over the context's life). Requests running in the
	// dead child fail with ErrCrashed, queued ones wait for the new child,
	// envs made before the crash fail with ErrClosed. 0 (default) or beyond
	// the budget: the context closes.
	MaxRestarts   uint32
	RestartWindow time.Duration
	// ProcessOutput (ModeProcess only) is where the child's stdout and
	// stderr go: ProcessOutputStderr (default) or ProcessOutputLog.
	ProcessOutput ProcessOutput
}

// Context is a Python execution lane with its own OS thread. All its methods
// are safe for concurrent use. Close it when done; a Context that becomes
// unreachable is closed (without waiting) and freed by a finalizer.
type Context struct {
	ptr          *C.pyctx_context_t
	guard        *guard
	closeMu      sync.Mutex // serializes Close
	closeTimeout time.Duration
	name         string
	mode         Mode

	envMu sync.Mutex
	envs  map[*C.pyctx_env_t]*envState // live envs, freed before the context
}

// NewContext creates a context and waits until its interpreter is ready.
func (r *Runtime) NewContext(opts *ContextOptions) (*Context, error) {
	if opts == nil {
		opts = &ContextOptions{}
	}
	copts, err := opts.toC()
	if err != nil {
		return nil, err
	}
	defer C.pyctx_context_options_free(copts)
	var ptr *C.pyctx_context_t
	if err := takeError(C.pyctx_context_create(copts, &ptr)); err != nil {
		return nil, err
	}
	return wrapContext(ptr, opts.CloseTimeout), nil
}

// wrapContext owns a new C context handle (a created context, or a pool
// member's own handle): Close plus a finalizer.
func wrapContext(ptr *C.pyctx_context_t, closeTimeout time.Duration) *Context {
	c := &Context{
		ptr:          ptr,
		guard:        newGuard(),
		closeTimeout: closeTimeout,
		name:         C.GoString(C.pyctx_context_name(ptr)),
		mode:         Mode(C.pyctx_context_mode(ptr)),
		envs:         map[*C.pyctx_env_t]*envState{},
	}
	if c.closeTimeout <= 0 {
		c.closeTimeout = DefaultCloseTimeout
	}
	runtime.SetFinalizer(c, (*Context).finalize)
	return c
}

// toC builds the C options (free them with pyctx_context_options_free).
func (opts *ContextOptions) toC() (*C.pyctx_context_options_t, error) {
	if opts.QueueCapacity < 0 {
		return nil, newError(StatusInvalidArgument, "negative QueueCapacity %d", opts.QueueCapacity)
	}
	copts := C.pyctx_context_options_new()
	if copts == nil {
		return nil, newError(StatusNoMemory, "allocating context options")
	}
	ok := false
	defer func() {
		if !ok {
			C.pyctx_context_options_free(copts)
		}
	}()
	if err := takeError(C.pyctx_context_options_set_mode(copts, C.pyctx_mode(opts.Mode))); err != nil {
		return nil, err
	}
	if opts.Name != "" {
		if err := withCString("context name", opts.Name, func(s *C.char) error {
			return takeError(C.pyctx_context_options_set_name(copts, s))
		}); err != nil {
			return nil, err
		}
	}
	if opts.Preload != "" {
		if err := withCString("preload", opts.Preload, func(s *C.char) error {
			return takeError(C.pyctx_context_options_set_preload(copts, s))
		}); err != nil {
			return nil, err
		}
	}
	if err := takeError(C.pyctx_context_options_set_queue_capacity(copts,
		C.size_t(opts.QueueCapacity))); err != nil {
		return nil, err
	}
	if opts.Sandbox != nil {
		if err := opts.Sandbox.apply(copts); err != nil {
			return nil, err
		}
	}
	if err := takeError(C.pyctx_context_options_set_memory_limit(copts,
		C.size_t(opts.MemoryLimit))); err != nil {
		return nil, err
	}
	if err := opts.applyProcess(copts); err != nil {
		return nil, err
	}
	ok = true
	return copts, nil
}

// Name returns the context's name.
func (c *Context) Name() string { return c.name }

// Mode returns the mode the context runs in.
func (c *Context) Mode() Mode { return c.mode }

// Closed reports whether Close has begun or the engine closed the context
// (e.g. at runtime shutdown).
func (c *Context) Closed() bool {
	if !c.guard.acquire() {
		return true
	}
	defer c.guard.release()
	closed := C.pyctx_context_is_closed(c.ptr) != 0
	runtime.KeepAlive(c)
	return closed
}

// Stats are a context's counters.
type Stats struct {
	Completed  uint64 // requests completed with a value
	Failed     uint64 // completed with a Python, encode or decode error
	Cancelled  uint64
	TimedOut   uint64
	Closed     uint64 // completed as closed
	QueueDepth uint64 // queued now, not yet running
	ThreadID   uint64 // native id of the context thread; a ModeProcess context's child pid
	// MemoryUsed is the bytes of live Python allocations (counted only with
	// a MemoryLimit); MemoryLimit is the cap (0: none).
	MemoryUsed  uint64
	MemoryLimit uint64
	// LiveObjects counts the object handles the context made and has not
	// released yet (0 once closing).
	LiveObjects uint64
}

// Stats returns the context's counters.
func (c *Context) Stats() (Stats, error) {
	if !c.guard.acquire() {
		return Stats{}, errClosed()
	}
	defer c.guard.release()
	var s C.pyctx_context_stats_t
	err := takeError(C.pyctx_context_stats(c.ptr, &s, C.size_t(unsafe.Sizeof(s))))
	runtime.KeepAlive(c)
	if err != nil {
		return Stats{}, err
	}
	return Stats{
		Completed:   uint64(s.completed),
		Failed:      uint64(s.failed),
		Cancelled:   uint64(s.cancelled),
		TimedOut:    uint64(s.timed_out),
		Closed:      uint64(s.closed),
		QueueDepth:  uint64(s.queue_depth),
		ThreadID:    uint64(s.thread_id),
		MemoryUsed:  uint64(s.memory_used),
		MemoryLimit: uint64(s.memory_limit),
		LiveObjects: uint64(s.live_objects),
	}, nil
}

func errClosed() error { return &Error{Status: StatusClosed, Message: "context is closed"} }

// Close stops the context: queued and running requests complete with
// ErrClosed (a running one is interrupted), then the handle and its envs are
// freed. It waits up to ContextOptions.CloseTimeout for Python to return and
// fails with ErrStuck if it did not (the context's thread is then left
// alone). Close is idempotent; calls after the first return nil.
func (c *Context) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if !c.guard.beginClose() {
		return nil
	}
	// Closing is allowed concurrently with other uses of the handle; it makes
	// every in-flight synchronous call return, so the users drain quickly.
	err := takeError(C.pyctx_context_close(c.ptr, millis(c.closeTimeout)))
	c.guard.wait()
	c.free()
	runtime.SetFinalizer(c, nil)
	if se, ok := err.(*Error); ok && (se.Status == StatusClosed || se.Status == StatusNotRunning) {
		// Already closed by the engine, e.g. at runtime shutdown.
		err = nil
	}
	return err
}

// free releases the envs, then the context handle. No user holds the handle.
func (c *Context) free() {
	c.envMu.Lock()
	for ptr, st := range c.envs {
		st.freeLocked(ptr)
		delete(c.envs, ptr)
	}
	c.envMu.Unlock()
	C.pyctx_context_free(c.ptr)
	c.ptr = nil
}

// finalize runs when the Context is unreachable, so nothing uses the handle;
// pyctx_context_free closes the context without waiting.
func (c *Context) finalize() {
	c.guard.beginClose()
	c.free()
}
