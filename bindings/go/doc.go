// Package pyctx runs Python inside a Go program through libpyctx's C API.
//
// Python is initialized once per process with Init. A Context is a Python
// execution lane with its own OS thread, in ModeWorker (the main
// interpreter, sharing its GIL), ModeOwnGIL (a subinterpreter with its own
// GIL, running in parallel with other contexts) or ModeProcess (a child
// process's interpreter: in parallel, any extension, and a crash there fails
// the context's requests with ErrCrashed instead of ending the host):
//
//	rt, err := pyctx.Init(nil)
//	...
//	defer rt.Close()
//	c, err := rt.NewContext(&pyctx.ContextOptions{Mode: pyctx.ModeOwnGIL})
//	...
//	defer c.Close()
//	v, err := c.Call(ctx, "math", "gcd", 12, 18) // v == int64(6)
//
// Call, Eval and Exec block until Python answers; their context.Context's
// cancellation or deadline cancels the Python request. CallAsync, EvalAsync
// and ExecAsync return a Future at once. CallMany runs a batch of calls,
// submitted together with one wake-up of the context (the fast way to
// pipeline many small calls). Env is a persistent namespace.
//
// Values cross as CBOR; Marshal and Decode are the package's codec and
// values.go documents the Go type of each Python type. Unmarshal fills a Go
// value (structs with `cbor:"name"` field tags, maps, slices, pointers) the
// way encoding/json.Unmarshal does.
//
// The module, github.com/pyctx/pyctx/bindings/go, is not published yet: use
// it through a replace directive or a go.work pointing at a checkout. The
// package finds libpyctx with pkg-config (PKG_CONFIG_PATH pointing at an
// installed pyctx.pc) and records no library path in what it builds.
//
// Errors: a Python exception is a *PythonError (errors.As); every other
// failure matches one of the Err* sentinels with errors.Is, and a request
// ended by its context.Context also matches context.Canceled or
// context.DeadlineExceeded.
//
// A Pool is N contexts behind one submit path: requests go to the member
// its routing chooses, or, with Pool.Key, always to the same member.
//
// CallObject and EvalObject return an *Object, a handle to a live Python
// object: call it, call its methods, read its attributes, pass it back in
// arguments. CallStream and EvalStream read a generator item by item
// (Stream.Next, Stream.Items) with backpressure. A *Buffer (NewBuffer) in
// the arguments lends memory to Python without a copy; CallBuffer returns a
// view of a Python result's memory.
//
// Go functions registered with Register or RegisterAsync can be called from
// Python as pyctx.call(name, *args) or await pyctx.async_call(name, *args).
//
// C never holds a Go pointer: callbacks reach Go through runtime/cgo.Handle
// values and exported trampolines (shims.c, shims_request.c).
package pyctx
