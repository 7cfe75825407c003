package pyctx

// #include "pyctx.h"
import "C"

import (
	"context"
	"runtime"
)

// PoolEnv is a namespace (a globals dict) on one member of a pool, chosen by
// the pool's routing when it is made: its requests always go to that
// member, so state kept there persists across them. Once that member has
// left the pool (resize, replacement) they fail with ErrClosed. Close it
// when done; an unreachable PoolEnv is freed by a finalizer.
type PoolEnv struct {
	pool *Pool
	st   *envState
}

// NewEnv creates a namespace on a member the pool's routing chooses.
func (p *Pool) NewEnv() (*PoolEnv, error) {
	if !p.guard.acquire() {
		return nil, &Error{Status: StatusClosed, Message: "pool is closed"}
	}
	var ptr *C.pyctx_env_t
	err := takeError(C.pyctx_pool_env_create(p.ptr, &ptr))
	p.guard.release()
	runtime.KeepAlive(p)
	if err != nil {
		return nil, err
	}
	e := &PoolEnv{pool: p, st: &envState{ptr: ptr, guard: newGuard()}}
	runtime.SetFinalizer(e, (*PoolEnv).Close)
	return e, nil
}

func (e *PoolEnv) spec(kind C.int, text string, locals map[string]any) *spec {
	return &spec{kind: kind, pool: e.pool, env: e.st, text: text, kwargs: locals}
}

// Eval evaluates an expression in the env; see Context.Eval.
func (e *PoolEnv) Eval(ctx context.Context, expression string, locals map[string]any) (any, error) {
	v, _, err := e.spec(C.PYCTX_REQUEST_EVAL, expression, locals).run(ctx)
	return v, err
}

// Exec executes statements in the env; see Context.Exec.
func (e *PoolEnv) Exec(ctx context.Context, code string) error {
	_, _, err := e.spec(C.PYCTX_REQUEST_EXEC, code, nil).run(ctx)
	return err
}

// EvalAsync is the asynchronous Eval.
func (e *PoolEnv) EvalAsync(ctx context.Context, expression string, locals map[string]any) (*Future, error) {
	return e.spec(C.PYCTX_REQUEST_EVAL, expression, locals).submitAsync(ctx, &Future{pool: e.pool})
}

// Close drops the namespace. Idempotent; it returns nil.
func (e *PoolEnv) Close() error {
	runtime.SetFinalizer(e, nil)
	if e.st.guard.beginClose() {
		e.st.guard.wait()
		C.pyctx_env_free(e.st.ptr)
	}
	runtime.KeepAlive(e)
	return nil
}
