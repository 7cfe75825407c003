package pyctx

// #include "shims_batch.h"
import "C"

import (
	"context"
	"runtime"
	"unsafe"
)

// Call is one call of a batch run by Context.CallMany:
// Module.Function(*Args, **Kwargs). As with Context.Call, a Kwargs as the
// last element of Args supplies keyword arguments too.
type Call struct {
	Module   string
	Function string
	Args     []any
	Kwargs   map[string]any // nil: none
}

// Result is the outcome of one call of a batch: its value, or the error it
// completed with (a *PythonError, or an *Error such as a cancellation).
type Result struct {
	Value any
	Err   error
}

// CallMany runs many calls in the context at once and returns their results
// in order. The calls are submitted together, waking the context once
// (pyctx_request_submit_many), and run one after another on its thread: the
// fast way to pipeline many small calls, costing a few cgo calls per batch
// instead of several per call.
//
// ctx bounds the whole batch: its deadline is every call's timeout, and
// cancelling it cancels every call not done yet (a queued call never runs, a
// running one is interrupted); those calls' errors match ErrCancelled or
// ErrTimeout and ctx.Err().
//
// The error is non-nil, and no call ran, when the batch could not be
// submitted at all: a nil or ended ctx, an argument that cannot be encoded,
// a closed context, or a first call the context refused. When the context
// refuses a later call (a full queue), the calls before it run and report
// their results, and the refused call and those after it report the
// refusal in Result.Err.
func (c *Context) CallMany(ctx context.Context, calls []Call) ([]Result, error) {
	if ctx == nil {
		return nil, newError(StatusInvalidArgument, "nil context.Context")
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	timeout, expired := timeoutFor(ctx)
	if expired {
		return nil, ctxError(ctx)
	}
	if len(calls) == 0 {
		return []Result{}, nil
	}
	bp, descs, err := encodeBatch(calls)
	defer putBuf(bp)
	if err != nil {
		return nil, err
	}
	buf := *bp
	if !c.guard.acquire() {
		return nil, errClosed()
	}
	sub := C.pyctxgo_batch_submit(c.ptr, (*C.uint8_t)(unsafe.Pointer(&buf[0])), &descs[0],
		C.size_t(len(descs)), timeout)
	c.guard.release()
	runtime.KeepAlive(c)
	if sub.batch == nil {
		if sub.error == nil {
			return nil, newError(StatusNoMemory, "out of memory for a batch of %d calls", len(calls))
		}
		return nil, takeError(sub.error)
	}
	defer C.pyctxgo_batch_free(sub.batch)
	refusal := takeError(sub.error)
	accepted := int(sub.accepted)
	if accepted == 0 {
		return nil, refusal
	}
	cancelled := waitBatch(ctx, sub.batch)

	taken := make([]C.pyctxgo_taken, accepted)
	dst := buf[:cap(buf)] // the encoding is no longer needed
	C.pyctxgo_batch_take(sub.batch, (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)), &taken[0])
	results := make([]Result, len(calls))
	used := 0
	for i := range taken {
		if cancelled && Status(taken[i].status) == StatusCancelled {
			results[i].Err = ctxError(ctx) // ctx ended it: report ctx's reason
		} else {
			results[i].Value, results[i].Err = takenResult(ctx, &taken[i], dst[used:])
		}
		if taken[i].copied != 0 {
			used += int(taken[i].copied_len)
		}
	}
	for i := accepted; i < len(results); i++ {
		results[i].Err = refusal
	}
	return results, nil
}

// encodeBatch packs every call into one pooled buffer and describes each
// by offsets into it. The caller returns the buffer with putBuf.
func encodeBatch(calls []Call) (*[]byte, []C.pyctxgo_batch_call, error) {
	bp := getBuf()
	b := (*bp)[:0]
	descs := make([]C.pyctxgo_batch_call, len(calls))
	for i := range calls {
		r := newCall(calls[i].Module, calls[i].Function, calls[i].Args)
		if calls[i].Kwargs != nil {
			r.kwargs = calls[i].Kwargs
		}
		var e encoded
		var err error
		if e, b, err = r.appendTo(b); err != nil {
			*bp = b
			return bp, nil, err
		}
		if r.att.bufs != nil {
			*bp = b
			return bp, nil, newError(StatusInvalidArgument,
				"call %d of a batch has a *Buffer argument: lend buffers with Call or CallAsync", i)
		}
		descs[i] = C.pyctxgo_batch_call{
			module_off: C.size_t(e.textOff), function_off: C.size_t(e.funcOff),
			args_off: C.size_t(e.argsOff), args_len: C.size_t(e.argsLen),
			kwargs_off: C.size_t(e.kwOff), kwargs_len: C.size_t(e.kwLen),
		}
	}
	*bp = b
	return bp, descs, nil
}

// waitBatch blocks until every accepted call is done, cancelling them all
// if ctx ends first. Like a single cancellable call, it first waits briefly
// inside the library, and only a batch still running after that starts a
// goroutine to watch ctx. True when ctx ended and the batch was cancelled.
func waitBatch(ctx context.Context, batch *C.pyctxgo_batch) bool {
	if ctx.Done() == nil {
		C.pyctxgo_batch_wait(batch, C.PYCTX_NO_TIMEOUT)
		return false
	}
	if C.pyctxgo_batch_wait(batch, firstWaitMs) != 0 {
		return false
	}
	return waitCancelling(ctx,
		func() { C.pyctxgo_batch_wait(batch, C.PYCTX_NO_TIMEOUT) },
		func() { C.pyctxgo_batch_cancel(batch) })
}
