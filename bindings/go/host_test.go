package pyctx_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

func register(t *testing.T, name string, fn pyctx.HostFunc) {
	t.Helper()
	if err := pyctx.Register(name, fn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pyctx.Unregister(name) })
}

func registerAsync(t *testing.T, name string, fn pyctx.AsyncHostFunc) {
	t.Helper()
	if err := pyctx.RegisterAsync(name, fn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pyctx.Unregister(name) })
}

func TestHostFunctions(t *testing.T) {
	register(t, "gotest.sum", func(args []any) (any, error) {
		total := int64(0)
		for _, a := range args {
			n, ok := a.(int64)
			if !ok {
				return nil, fmt.Errorf("not an int: %v", a)
			}
			total += n
		}
		return total, nil
	})
	register(t, "gotest.panics", func(args []any) (any, error) { panic("kaboom") })
	register(t, "gotest.bad-result", func(args []any) (any, error) { return make(chan int), nil })
	modes(t, func(t *testing.T, c *pyctx.Context) {
		bg := context.Background()
		v, err := c.Call(bg, testModule, "call_host", "gotest.sum", 1, 2, 39)
		if err != nil || v != int64(42) {
			t.Errorf("sum: %v, %v", v, err)
		}
		v, err = c.Call(bg, testModule, "coro_call_host", "gotest.sum", 40, 2)
		if err != nil || v != int64(42) {
			t.Errorf("sum via async_call: %v, %v", v, err)
		}
		failures := []struct {
			args     []any
			typ, msg string
		}{
			{[]any{"gotest.sum", "x"}, "HostError", "not an int: x"},
			{[]any{"gotest.panics"}, "HostError", "kaboom"},
			{[]any{"gotest.bad-result"}, "HostError", "chan int"},
			{[]any{"gotest.unknown"}, "LookupError", "gotest.unknown"},
		}
		for _, f := range failures {
			_, err := c.Call(bg, testModule, "call_host", f.args...)
			var pe *pyctx.PythonError
			if !errors.As(err, &pe) || !strings.HasSuffix(pe.Type, f.typ) || !strings.Contains(pe.Message, f.msg) {
				t.Errorf("call_host%v: %v; want %s mentioning %q", f.args, err, f.typ, f.msg)
			}
		}
	})
}

func TestAsyncHostFunctionAnswersLater(t *testing.T) {
	calls := make(chan *pyctx.HostCall, 4)
	registerAsync(t, "gotest.later", func(call *pyctx.HostCall) { calls <- call })
	modes(t, func(t *testing.T, c *pyctx.Context) {
		for _, fn := range []string{"call_host", "coro_call_host"} {
			f, err := c.CallAsync(context.Background(), testModule, fn, "gotest.later", "ping")
			if err != nil {
				t.Fatal(err)
			}
			call := <-calls
			if call.Name != "gotest.later" || call.ContextName != c.Name() || len(call.Args) != 1 || call.Args[0] != "ping" {
				t.Errorf("call %+v", call)
			}
			select {
			case <-f.Done():
				t.Fatal("request completed before the host answered")
			default:
			}
			go func() { _ = call.Return([]any{"pong", call.Args[0]}) }()
			v, err := result(t, c, f)
			if err != nil || fmt.Sprint(v) != "[pong ping]" {
				t.Errorf("%s: %v, %v", fn, v, err)
			}
			if err := call.Return(1); !errors.Is(err, pyctx.ErrInvalidArgument) {
				t.Errorf("second answer: %v", err)
			}
		}

		f, err := c.CallAsync(context.Background(), testModule, "call_host", "gotest.later")
		if err != nil {
			t.Fatal(err)
		}
		call := <-calls
		if err := call.Fail(errors.New("refused")); err != nil {
			t.Fatal(err)
		}
		var pe *pyctx.PythonError
		if _, err := result(t, c, f); !errors.As(err, &pe) || !strings.Contains(pe.Message, "refused") {
			t.Errorf("Fail: %v", err)
		}
	})
}

func TestDroppedHostCallIsFailedByFinalizer(t *testing.T) {
	registerAsync(t, "gotest.drop", func(call *pyctx.HostCall) {})
	c := newContext(t, pyctx.ModeWorker)
	f, err := c.CallAsync(context.Background(), testModule, "call_host", "gotest.drop")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for done := false; !done; {
		runtime.GC()
		select {
		case <-f.Done():
			done = true
		case <-deadline:
			t.Fatal("a dropped host call was never answered")
		case <-time.After(10 * time.Millisecond):
		}
	}
	var pe *pyctx.PythonError
	if _, err := f.Result(); !errors.As(err, &pe) || !strings.Contains(pe.Message, "dropped") {
		t.Errorf("dropped call: %v", err)
	}
}

func TestHostFunctionReentersItsContext(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		name := "gotest.reenter." + c.Name()
		register(t, name, func(args []any) (any, error) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// One nested call on the synchronous path, one on the cancellable.
			a, err := c.Call(context.Background(), testModule, "add", args[0], 1)
			if err != nil {
				return nil, err
			}
			return c.Call(ctx, testModule, "add", a, 1)
		})
		v, err := c.Call(context.Background(), testModule, "call_host", name, 40)
		if err != nil || v != int64(42) {
			t.Errorf("re-entrant call: %v, %v", v, err)
		}
	})
}

func TestUnregisteredFunctionRaisesLookupError(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	if err := pyctx.Register("gotest.short-lived", func([]any) (any, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Call(context.Background(), testModule, "call_host", "gotest.short-lived"); err != nil || v != int64(1) {
		t.Fatalf("registered: %v, %v", v, err)
	}
	// Replacing keeps the name callable with the new function.
	if err := pyctx.Register("gotest.short-lived", func([]any) (any, error) { return 2, nil }); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Call(context.Background(), testModule, "call_host", "gotest.short-lived"); err != nil || v != int64(2) {
		t.Fatalf("replaced: %v, %v", v, err)
	}
	if err := pyctx.Unregister("gotest.short-lived"); err != nil {
		t.Fatal(err)
	}
	var pe *pyctx.PythonError
	if _, err := c.Call(context.Background(), testModule, "call_host", "gotest.short-lived"); !errors.As(err, &pe) || pe.Type != "LookupError" {
		t.Errorf("after Unregister: %v", err)
	}
}
