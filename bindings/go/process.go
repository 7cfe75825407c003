package pyctx

/*
#include "pyctx.h"
*/
import "C"

import "runtime"

// ProcessOutput is where a ModeProcess context's child writes.
type ProcessOutput int

const (
	// ProcessOutputStderr sends the child's stdout and stderr to the
	// host's stderr (the default).
	ProcessOutputStderr ProcessOutput = C.PYCTX_PROCESS_OUTPUT_STDERR
	// ProcessOutputLog makes each line a record for the SetLogHandler
	// handler: logger "pyctx.process.stdout" at LogInfo or
	// "pyctx.process.stderr" at LogWarning, with the context's name. A line
	// no handler takes still goes to the host's stderr.
	ProcessOutputLog ProcessOutput = C.PYCTX_PROCESS_OUTPUT_LOG
)

// applyProcess sets the options only process contexts use.
func (opts *ContextOptions) applyProcess(copts *C.pyctx_context_options_t) error {
	if opts.ProcessHelper != "" {
		if err := withCString("process helper", opts.ProcessHelper, func(s *C.char) error {
			return takeError(C.pyctx_context_options_set_process_helper(copts, s))
		}); err != nil {
			return err
		}
	}
	if opts.RestartWindow < 0 {
		return newError(StatusInvalidArgument, "negative RestartWindow %v", opts.RestartWindow)
	}
	windowMs := opts.RestartWindow.Milliseconds()
	if windowMs > int64(^uint32(0)) {
		return newError(StatusInvalidArgument, "RestartWindow %v is over 2^32 ms", opts.RestartWindow)
	}
	if err := takeError(C.pyctx_context_options_set_restart(copts, C.uint32_t(opts.MaxRestarts),
		C.uint32_t(windowMs))); err != nil {
		return err
	}
	if opts.ProcessOutput == ProcessOutputStderr {
		return nil
	}
	return takeError(C.pyctx_context_options_set_process_output(copts,
		C.pyctx_process_output(opts.ProcessOutput)))
}

// ProcessInfo describes a ModeProcess context's child.
type ProcessInfo struct {
	PID      uint64 // the current child's pid; 0 once it is gone, and for other modes
	Restarts uint32 // children started after a crash, over the context's life
}

// ProcessInfo returns the context's current child and its restart count.
func (c *Context) ProcessInfo() (ProcessInfo, error) {
	if !c.guard.acquire() {
		return ProcessInfo{}, errClosed()
	}
	defer c.guard.release()
	var pid C.uint64_t
	var restarts C.uint32_t
	err := takeError(C.pyctx_context_process_info(c.ptr, &pid, &restarts))
	runtime.KeepAlive(c)
	if err != nil {
		return ProcessInfo{}, err
	}
	return ProcessInfo{PID: uint64(pid), Restarts: uint32(restarts)}, nil
}
