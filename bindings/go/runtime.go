package pyctx

// #include <stdlib.h>
// #include "pyctx.h"
import "C"

import (
	"sync"
	"time"
)

// Allocator selects the allocator of Python objects.
type Allocator int

const (
	// AllocatorDefault is Python's default (pymalloc).
	AllocatorDefault Allocator = C.PYCTX_ALLOCATOR_DEFAULT
	// AllocatorMalloc uses the C library's malloc: an owngil context then
	// returns almost all its memory when it closes.
	AllocatorMalloc Allocator = C.PYCTX_ALLOCATOR_MALLOC
	// AllocatorPymalloc forces pymalloc.
	AllocatorPymalloc Allocator = C.PYCTX_ALLOCATOR_PYMALLOC
)

// DefaultShutdownTimeout is how long Runtime.Close lets each context finish
// its running request.
const DefaultShutdownTimeout = 5 * time.Second

// Options configure Init. The zero value means defaults.
type Options struct {
	// Home is a PYTHONHOME-like prefix of the Python installation.
	Home string
	// ProgramName is a sys.executable-like name (affects prefix discovery).
	ProgramName string
	// Paths are prepended to sys.path in every interpreter, in order.
	Paths     []string
	Allocator Allocator
	// ShutdownTimeout is used by Runtime.Close; zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// Runtime is the process-wide Python runtime. CPython can be initialized
// only once per process, so there is at most one Runtime, ever: Init returns
// it once and fails with ErrAlreadyInitialized afterwards (also after
// Close). Default returns it to code that did not call Init itself.
//
// The package keeps the Runtime reachable, so it has no finalizer: shutting
// Python down is irreversible and must be an explicit Close.
type Runtime struct {
	shutdownTimeout time.Duration
}

var (
	defaultMu      sync.Mutex
	defaultRuntime *Runtime
)

// Init initializes Python with opts (nil: defaults) and returns the
// runtime.
func Init(opts *Options) (*Runtime, error) {
	if opts == nil {
		opts = &Options{}
	}
	copts := C.pyctx_runtime_options_new()
	if copts == nil {
		return nil, newError(StatusNoMemory, "allocating runtime options")
	}
	defer C.pyctx_runtime_options_free(copts)
	for _, p := range opts.Paths {
		if err := withCString("path", p, func(s *C.char) error {
			return takeError(C.pyctx_runtime_options_add_path(copts, s))
		}); err != nil {
			return nil, err
		}
	}
	if opts.Home != "" {
		if err := withCString("home", opts.Home, func(s *C.char) error {
			return takeError(C.pyctx_runtime_options_set_home(copts, s))
		}); err != nil {
			return nil, err
		}
	}
	if opts.ProgramName != "" {
		if err := withCString("program name", opts.ProgramName, func(s *C.char) error {
			return takeError(C.pyctx_runtime_options_set_program_name(copts, s))
		}); err != nil {
			return nil, err
		}
	}
	if err := takeError(C.pyctx_runtime_options_set_allocator(copts,
		C.pyctx_allocator(opts.Allocator))); err != nil {
		return nil, err
	}
	if err := takeError(C.pyctx_init(copts)); err != nil {
		return nil, err
	}
	rt := &Runtime{shutdownTimeout: opts.ShutdownTimeout}
	if rt.shutdownTimeout <= 0 {
		rt.shutdownTimeout = DefaultShutdownTimeout
	}
	defaultMu.Lock()
	defaultRuntime = rt
	defaultMu.Unlock()
	return rt, nil
}

// Default returns the runtime Init created, or nil before Init succeeded.
func Default() *Runtime {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	return defaultRuntime
}

// Close shuts the runtime down with Options.ShutdownTimeout; see Shutdown.
func (r *Runtime) Close() error { return r.Shutdown(r.shutdownTimeout) }

// Shutdown closes every context (each gets timeout to finish its running
// request), completes every pending request with ErrClosed, then finalizes
// Python. It fails with ErrNotRunning when already shut down, and with
// ErrStuck when a context did not return from Python in time (Python then
// stays initialized). Python cannot be started again in this process.
func (r *Runtime) Shutdown(timeout time.Duration) error {
	return takeError(C.pyctx_shutdown(millis(timeout)))
}

// State is the runtime's life-cycle state.
type State int

// The states, in the only order they are visited.
const (
	StateUninit       State = C.PYCTX_STATE_UNINIT
	StateIniting      State = C.PYCTX_STATE_INITING
	StateRunning      State = C.PYCTX_STATE_RUNNING
	StateShuttingDown State = C.PYCTX_STATE_SHUTTING_DOWN
	StateStopped      State = C.PYCTX_STATE_STOPPED
)

func (s State) String() string {
	switch s {
	case StateUninit:
		return "uninit"
	case StateIniting:
		return "initing"
	case StateRunning:
		return "running"
	case StateShuttingDown:
		return "shutting down"
	case StateStopped:
		return "stopped"
	}
	return "unknown"
}

// CurrentState returns the runtime's state.
func CurrentState() State { return State(C.pyctx_runtime_state()) }

// Version returns the version of the loaded libpyctx, e.g. "0.1.0".
func Version() string { return C.GoString(C.pyctx_version_string()) }

// PythonVersion returns the version of the embedded Python ("" before Init).
func PythonVersion() string { return C.GoString(C.pyctx_python_version()) }

// OwnGILSupported reports whether ModeOwnGIL contexts are available.
func OwnGILSupported() bool { return C.pyctx_owngil_supported() != 0 }

func withCString(what, s string, fn func(*C.char) error) error {
	cs, err := cString(what, s)
	if err != nil {
		return err
	}
	defer freeCString(cs)
	return fn(cs)
}
