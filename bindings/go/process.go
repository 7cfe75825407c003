package pyctx

/*
#include "pyctx.h"
*/
import "C"

import "runtime"

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
	return takeError(C.pyctx_context_options_set_restart(copts, C.uint32_t(opts.MaxRestarts),
		C.uint32_t(windowMs)))
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
