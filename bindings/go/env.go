package pyctx

// #include "pyctx.h"
import "C"

import (
	"context"
	"runtime"
)

// Env is a Python namespace (a globals dict) living in one context and
// persisting across requests. Close it when done; an unreachable Env is freed
// by a finalizer, and closing its Context frees it too.
type Env struct {
	ctx *Context
	st  *envState
}

// envState is the part of an Env its Context tracks. It holds no pointer
// back to the Env, so a live Context does not keep its Envs reachable.
type envState struct {
	ptr   *C.pyctx_env_t
	guard *guard
}

// freeLocked releases the env; the caller holds c.envMu and knows no request
// is using it.
func (st *envState) freeLocked(ptr *C.pyctx_env_t) {
	st.guard.beginClose()
	C.pyctx_env_free(ptr)
}

// NewEnv creates a fresh namespace in the context.
func (c *Context) NewEnv() (*Env, error) {
	if !c.guard.acquire() {
		return nil, errClosed()
	}
	defer c.guard.release()
	var ptr *C.pyctx_env_t
	err := takeError(C.pyctx_env_create(c.ptr, &ptr))
	runtime.KeepAlive(c)
	if err != nil {
		return nil, err
	}
	st := &envState{ptr: ptr, guard: newGuard()}
	c.envMu.Lock()
	c.envs[ptr] = st
	c.envMu.Unlock()
	e := &Env{ctx: c, st: st}
	runtime.SetFinalizer(e, (*Env).Close)
	return e, nil
}

// Context returns the context the env lives in.
func (e *Env) Context() *Context { return e.ctx }

// Close drops the namespace. Idempotent; it returns nil.
func (e *Env) Close() error {
	runtime.SetFinalizer(e, nil)
	c := e.ctx
	if !c.guard.acquire() {
		return nil // the context is closing and frees every env itself
	}
	defer c.guard.release()
	c.envMu.Lock()
	_, live := c.envs[e.st.ptr]
	delete(c.envs, e.st.ptr)
	c.envMu.Unlock()
	if live {
		e.st.guard.beginClose()
		e.st.guard.wait()
		C.pyctx_env_free(e.st.ptr)
	}
	runtime.KeepAlive(e)
	return nil
}

// Eval evaluates a Python expression in the env; see Context.Eval.
func (e *Env) Eval(ctx context.Context, expression string, locals map[string]any) (any, error) {
	return e.ctx.run(ctx, &request{kind: kindEval, env: e, text: expression, kwargs: locals})
}

// Exec executes Python statements in the env; see Context.Exec.
func (e *Env) Exec(ctx context.Context, code string) error {
	_, err := e.ctx.run(ctx, &request{kind: kindExec, env: e, text: code})
	return err
}

// EvalAsync is the asynchronous Eval; see Context.CallAsync.
func (e *Env) EvalAsync(ctx context.Context, expression string, locals map[string]any) (*Future, error) {
	return e.ctx.submitWatched(ctx, &request{kind: kindEval, env: e, text: expression, kwargs: locals})
}

// ExecAsync is the asynchronous Exec; its result is nil.
func (e *Env) ExecAsync(ctx context.Context, code string) (*Future, error) {
	return e.ctx.submitWatched(ctx, &request{kind: kindExec, env: e, text: code})
}
