package pyctx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pyctx/pyctx/bindings/go"
)

func liveObjects(t *testing.T, c *pyctx.Context) uint64 {
	t.Helper()
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.LiveObjects
}

func TestObjectHandleCallsMethodsAttributesAndRelease(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		ctx := context.Background()
		o, err := c.CallObject(ctx, testModule, "make_counter", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if o.ID() == 0 || !o.Alive() || o.Context() != c {
			t.Fatalf("handle id %d alive %v", o.ID(), o.Alive())
		}
		if n := liveObjects(t, c); n != 1 {
			t.Errorf("%d live objects, want 1", n)
		}
		// The state lives in Python between requests.
		for want := int64(6); want <= 8; want++ {
			if v, err := o.CallMethod(ctx, "add"); err != nil || v != want {
				t.Fatalf("add: %v, %v; want %d", v, err, want)
			}
		}
		if v, err := o.CallMethod(ctx, "add", pyctx.Kwargs{"k": 10}); err != nil || v != int64(18) {
			t.Fatalf("add(k=10): %v, %v", v, err)
		}
		if v, err := o.GetAttr(ctx, "label"); err != nil || v != "counter" {
			t.Errorf("label: %v, %v", v, err)
		}
		if v, err := o.Call(ctx, 2, pyctx.Kwargs{"scale": 3}); err != nil || v != int64(60) {
			t.Errorf("call: %v, %v; want (18+2)*3", v, err)
		}
		// Passed back as an argument, also nested, Python gets the object.
		if v, err := c.Call(ctx, testModule, "counter_value", o); err != nil || v != int64(18) {
			t.Errorf("counter_value(o): %v, %v", v, err)
		}
		o2, err := c.EvalObject(ctx, "make_counter(x)", map[string]any{"x": 2})
		if err == nil {
			defer o2.Close()
		}
		// EvalObject runs in __main__, which has no make_counter: a Python error.
		var pe *pyctx.PythonError
		if !errors.As(err, &pe) || pe.Type != "NameError" {
			t.Fatalf("EvalObject in __main__: %v, want NameError", err)
		}
		o2, err = c.EvalObject(ctx, "__import__(m).make_counter(x)", map[string]any{"m": testModule, "x": 2})
		if err != nil {
			t.Fatal(err)
		}
		defer o2.Close()
		items := []any{map[string]any{"c": o}, map[string]any{"c": o2}}
		if v, err := c.Call(ctx, testModule, "sum_counters", items); err != nil || v != int64(20) {
			t.Errorf("sum_counters: %v, %v", v, err)
		}
		// A method may return a handle too.
		bound, err := o.GetAttrObject(ctx, "add")
		if err != nil {
			t.Fatal(err)
		}
		if v, err := bound.Call(ctx, 1); err != nil || v != int64(19) {
			t.Errorf("bound method: %v, %v", v, err)
		}
		if n := liveObjects(t, c); n != 3 {
			t.Errorf("%d live objects, want 3", n)
		}
		if err := bound.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if n := liveObjects(t, c); n != 2 {
			t.Errorf("%d live objects after a release, want 2", n)
		}
		if bound.Alive() {
			t.Error("released handle reports alive")
		}
		if _, err := bound.Call(ctx, 1); !errors.Is(err, pyctx.ErrInvalidArgument) {
			t.Errorf("call after release: %v, want ErrInvalidArgument", err)
		}
		if err := bound.Release(ctx); !errors.Is(err, pyctx.ErrInvalidArgument) {
			t.Errorf("second release: %v, want ErrInvalidArgument", err)
		}
		if _, err := c.Call(ctx, testModule, "counter_value", bound); !errors.Is(err, pyctx.ErrInvalidArgument) {
			t.Errorf("released handle as an argument: %v, want ErrInvalidArgument", err)
		}
		if err := bound.Close(); err != nil {
			t.Error(err)
		}
		if _, err := bound.GetAttr(ctx, "x"); !errors.Is(err, pyctx.ErrClosed) {
			t.Errorf("getattr after Close: %v, want ErrClosed", err)
		}
		// Errors of the Python side come back as such.
		if _, err := o.CallMethod(ctx, "no_such"); !errors.As(err, &pe) || pe.Type != "AttributeError" {
			t.Errorf("missing method: %v", err)
		}
		f, err := o.CallMethodAsync(ctx, "add", 2)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := result(t, c, f); err != nil || v != int64(21) {
			t.Errorf("async method: %v, %v", v, err)
		}
	})
}

func TestObjectHandleAfterItsContextClosed(t *testing.T) {
	c, err := pyctx.Default().NewContext(contextOptions(pyctx.ModeWorker))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o, err := c.CallObject(ctx, testModule, "make_counter", 1)
	if err != nil {
		t.Fatal(err)
	}
	other := newContext(t, pyctx.ModeWorker)
	// A handle names its own context: elsewhere it does not decode.
	if _, err := other.Call(ctx, testModule, "counter_value", o); !errors.Is(err, pyctx.ErrDecode) {
		t.Errorf("handle in another context: %v, want ErrDecode", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if o.Alive() {
		t.Error("handle alive after its context closed")
	}
	if _, err := o.CallMethod(ctx, "add"); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("method after close: %v, want ErrClosed", err)
	}
	if err := o.Release(ctx); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("release after close: %v, want ErrClosed", err)
	}
	if err := o.Close(); err != nil {
		t.Error(err)
	}
	if _, err := c.CallObject(ctx, testModule, "make_counter"); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("CallObject on a closed context: %v", err)
	}
}
