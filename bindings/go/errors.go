package pyctx

// #include "shims.h"
import "C"

import (
	"errors"
	"fmt"
)

// Status says why a pyctx operation failed. The values mirror pyctx_status in
// pyctx.h.
type Status int

// The statuses of the C API.
const (
	StatusOK                 Status = C.PYCTX_OK
	StatusInvalidArgument    Status = C.PYCTX_ERR_INVALID_ARGUMENT
	StatusNotRunning         Status = C.PYCTX_ERR_NOT_RUNNING
	StatusAlreadyInitialized Status = C.PYCTX_ERR_ALREADY_INITIALIZED
	StatusUnsupported        Status = C.PYCTX_ERR_UNSUPPORTED
	StatusClosed             Status = C.PYCTX_ERR_CLOSED
	StatusQueueFull          Status = C.PYCTX_ERR_QUEUE_FULL
	StatusCancelled          Status = C.PYCTX_ERR_CANCELLED
	StatusTimeout            Status = C.PYCTX_ERR_TIMEOUT
	StatusPython             Status = C.PYCTX_ERR_PYTHON
	StatusDecode             Status = C.PYCTX_ERR_DECODE
	StatusEncode             Status = C.PYCTX_ERR_ENCODE
	StatusNotFound           Status = C.PYCTX_ERR_NOT_FOUND
	StatusNoMemory           Status = C.PYCTX_ERR_NO_MEMORY
	StatusStuck              Status = C.PYCTX_ERR_STUCK
	StatusInternal           Status = C.PYCTX_ERR_INTERNAL
	StatusCrashed            Status = C.PYCTX_ERR_CRASHED
)

// Sentinel errors, one per status, for errors.Is. Every error this package
// returns for a failed status matches exactly one of them.
var (
	ErrInvalidArgument    = errors.New("pyctx: invalid argument")
	ErrNotRunning         = errors.New("pyctx: runtime not running")
	ErrAlreadyInitialized = errors.New("pyctx: runtime already initialized")
	ErrUnsupported        = errors.New("pyctx: unsupported")
	ErrClosed             = errors.New("pyctx: closed")
	ErrQueueFull          = errors.New("pyctx: queue full")
	ErrCancelled          = errors.New("pyctx: cancelled")
	ErrTimeout            = errors.New("pyctx: timeout")
	ErrPython             = errors.New("pyctx: python exception")
	ErrDecode             = errors.New("pyctx: decode error")
	ErrEncode             = errors.New("pyctx: encode error")
	ErrNotFound           = errors.New("pyctx: not found")
	ErrNoMemory           = errors.New("pyctx: out of memory")
	ErrStuck              = errors.New("pyctx: context stuck")
	ErrInternal           = errors.New("pyctx: internal error")
	// ErrCrashed: a ModeProcess context's child process died (segfault,
	// abort, os._exit, killed) with the request queued or running; the
	// *Error's Message names the pid and the signal or exit code.
	ErrCrashed = errors.New("pyctx: crashed")
)

var statusInfo = map[Status]struct {
	name     string
	sentinel error
}{
	StatusOK:                 {"ok", nil},
	StatusInvalidArgument:    {"invalid argument", ErrInvalidArgument},
	StatusNotRunning:         {"not running", ErrNotRunning},
	StatusAlreadyInitialized: {"already initialized", ErrAlreadyInitialized},
	StatusUnsupported:        {"unsupported", ErrUnsupported},
	StatusClosed:             {"closed", ErrClosed},
	StatusQueueFull:          {"queue full", ErrQueueFull},
	StatusCancelled:          {"cancelled", ErrCancelled},
	StatusTimeout:            {"timeout", ErrTimeout},
	StatusPython:             {"python", ErrPython},
	StatusDecode:             {"decode", ErrDecode},
	StatusEncode:             {"encode", ErrEncode},
	StatusNotFound:           {"not found", ErrNotFound},
	StatusNoMemory:           {"no memory", ErrNoMemory},
	StatusStuck:              {"stuck", ErrStuck},
	StatusInternal:           {"internal", ErrInternal},
	StatusCrashed:            {"crashed", ErrCrashed},
}

func (s Status) String() string {
	if info, ok := statusInfo[s]; ok {
		return info.name
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Sentinel returns the Err* value matching s (ErrInternal for unknown
// statuses, nil for StatusOK).
func (s Status) Sentinel() error {
	if info, ok := statusInfo[s]; ok {
		return info.sentinel
	}
	return ErrInternal
}

// Error is a failure reported with a status other than StatusPython.
// errors.Is matches it against the sentinel of its status, and against the
// context.Context error that caused it (context.Canceled or
// context.DeadlineExceeded) when a Go context ended the request.
type Error struct {
	Status  Status
	Message string
	cause   error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "pyctx: " + e.Status.String()
	}
	return "pyctx: " + e.Status.String() + ": " + e.Message
}

// Is reports whether target is the sentinel of e's status.
func (e *Error) Is(target error) bool { return target != nil && target == e.Status.Sentinel() }

// Unwrap returns the Go context error that ended the request, if any.
func (e *Error) Unwrap() error { return e.cause }

// PythonError is an exception raised by Python code. Use errors.As to get
// at it; errors.Is(err, ErrPython) also matches.
type PythonError struct {
	// Type is the exception's qualified type name, e.g. "ZeroDivisionError"
	// or "mypkg.MyError".
	Type string
	// Message is str(exception).
	Message string
	// Traceback is the formatted traceback as Python prints it.
	Traceback string
}

func (e *PythonError) Error() string {
	if e.Message == "" {
		return "pyctx: python: " + e.Type
	}
	return "pyctx: python: " + e.Type + ": " + e.Message
}

// Is reports whether target is ErrPython.
func (e *PythonError) Is(target error) bool { return target == ErrPython }

func newError(status Status, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

func errorFromFields(status Status, message, pyType, traceback string) error {
	if status == StatusPython {
		return &PythonError{Type: pyType, Message: message, Traceback: traceback}
	}
	return &Error{Status: status, Message: message}
}

// takeError converts an owned C error into a Go error and frees it; nil stays
// nil.
func takeError(cerr *C.pyctx_error_t) error {
	if cerr == nil {
		return nil
	}
	f := C.pyctxgo_error_read(cerr)
	err := errorFromFields(Status(f.status), C.GoString(f.message), C.GoString(f.python_type),
		C.GoString(f.traceback))
	C.pyctx_error_free(cerr)
	return err
}
