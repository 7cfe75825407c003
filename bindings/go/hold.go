package pyctx

/*
#include "pyctx.h"
*/
import "C"

import "runtime"

// hold takes the guards a request needs for its C call: its context's and,
// with an env, the env's, so neither handle can be freed meanwhile. It
// returns the env pointer to pass to C (nil without an env).
func (c *Context) hold(r *request) (*C.pyctx_env_t, error) {
	if !c.guard.acquire() {
		return nil, errClosed()
	}
	if r.env == nil {
		return nil, nil
	}
	if !r.env.st.guard.acquire() {
		c.guard.release()
		return nil, &Error{Status: StatusClosed, Message: "env is closed"}
	}
	return r.env.st.ptr, nil
}

// unhold releases what hold took, after the C call.
func (c *Context) unhold(r *request) {
	if r.env != nil {
		r.env.st.guard.release()
	}
	c.guard.release()
	runtime.KeepAlive(c)
	runtime.KeepAlive(r.env)
}
