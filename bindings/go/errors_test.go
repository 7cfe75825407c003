package pyctx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pyctx/pyctx/bindings/go"
)

func TestPythonExceptions(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		_, err := c.Call(context.Background(), testModule, "divide", 1, 0)
		var pe *pyctx.PythonError
		if !errors.As(err, &pe) {
			t.Fatalf("got %v (%T), want *PythonError", err, err)
		}
		if pe.Type != "ZeroDivisionError" || pe.Message != "division by zero" {
			t.Errorf("got type %q message %q", pe.Type, pe.Message)
		}
		if !strings.Contains(pe.Traceback, "in divide") || !strings.Contains(pe.Traceback, "ZeroDivisionError") {
			t.Errorf("traceback lacks the frame or type:\n%s", pe.Traceback)
		}
		if !errors.Is(err, pyctx.ErrPython) || errors.Is(err, pyctx.ErrTimeout) {
			t.Errorf("errors.Is mismatch for %v", err)
		}

		_, err = c.Call(context.Background(), testModule, "fail_custom", "boom")
		if !errors.As(err, &pe) || !strings.HasSuffix(pe.Type, "CustomError") || pe.Message != "boom" {
			t.Errorf("custom exception: %v", err)
		}

		_, err = c.Call(context.Background(), "no_such_module_xyz", "f")
		if !errors.As(err, &pe) || pe.Type != "ModuleNotFoundError" {
			t.Errorf("missing module: %v", err)
		}

		// The context survives exceptions.
		if v, err := c.Call(context.Background(), testModule, "add", 1, 2); err != nil || v != int64(3) {
			t.Errorf("after exceptions: %v, %v", v, err)
		}
	})
}

func TestUnencodableResultNamesItsType(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	_, err := c.Call(context.Background(), testModule, "unencodable")
	if !errors.Is(err, pyctx.ErrEncode) || !strings.Contains(err.Error(), "object") {
		t.Errorf("got %v, want ErrEncode naming 'object'", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	bg := context.Background()
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"NUL in module", second(c.Call(bg, "os\x00path", "join")), "NUL"},
		{"NUL in code", c.Exec(bg, "x = 1\x00"), "NUL"},
		{"unsupported Go type", second(c.Call(bg, testModule, "identity", func() {})), "func()"},
		{"channel", second(c.Call(bg, testModule, "identity", make(chan int))), "chan int"},
		{"invalid UTF-8", second(c.Call(bg, testModule, "identity", "\xff")), "UTF-8"},
		{"nil context", second(c.Call(nil, testModule, "identity", 1)), "nil context"},
		{"too deep", second(c.Call(bg, testModule, "identity", deepList(300))), "deeper"},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, pyctx.ErrInvalidArgument) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInvalidArgument mentioning %q", tc.name, tc.err, tc.want)
		}
	}
	// A self-referencing value is caught by the depth limit, not a stack overflow.
	cyclic := []any{nil}
	cyclic[0] = cyclic
	if _, err := c.Call(bg, testModule, "identity", cyclic); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("cyclic value: %v", err)
	}
	// Malformed CBOR reaches the engine's decoder.
	if _, err := c.Call(bg, testModule, "identity", pyctx.RawCBOR{0x62, 'a'}); !errors.Is(err, pyctx.ErrDecode) {
		t.Errorf("truncated RawCBOR: %v", err)
	}
	if _, err := pyctx.Default().NewContext(&pyctx.ContextOptions{Mode: pyctx.Mode(7)}); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("mode 7: %v", err)
	}
	if err := pyctx.Register("gotest.nil", nil); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("nil host func: %v", err)
	}
	if err := pyctx.Unregister("gotest.never-registered"); !errors.Is(err, pyctx.ErrNotFound) {
		t.Errorf("unregister unknown: %v", err)
	}
}

func second(_ any, err error) error { return err }

func deepList(n int) any {
	var v any = 1
	for i := 0; i < n; i++ {
		v = []any{v}
	}
	return v
}

func TestInitTwiceFails(t *testing.T) {
	rt, err := pyctx.Init(nil)
	if rt != nil || !errors.Is(err, pyctx.ErrAlreadyInitialized) {
		t.Fatalf("second Init: %v, %v", rt, err)
	}
	if pyctx.CurrentState() != pyctx.StateRunning {
		t.Errorf("state %v", pyctx.CurrentState())
	}
	if !strings.HasPrefix(pyctx.PythonVersion(), "3.") || pyctx.Version() == "" {
		t.Errorf("versions: python %q pyctx %q", pyctx.PythonVersion(), pyctx.Version())
	}
}

func TestPreload(t *testing.T) {
	c, err := pyctx.Default().NewContext(&pyctx.ContextOptions{Name: "preloaded", Preload: "ANSWER = 6 * 7"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Name() != "preloaded" || c.Mode() != pyctx.ModeWorker {
		t.Errorf("name %q mode %v", c.Name(), c.Mode())
	}
	if v, err := c.Eval(context.Background(), "ANSWER", nil); err != nil || v != int64(42) {
		t.Errorf("ANSWER = %v, %v", v, err)
	}

	_, err = pyctx.Default().NewContext(&pyctx.ContextOptions{Preload: "raise RuntimeError('no preload')"})
	var pe *pyctx.PythonError
	if !errors.As(err, &pe) || pe.Type != "RuntimeError" || pe.Message != "no preload" {
		t.Errorf("failing preload: %v", err)
	}
}

func TestClosedContext(t *testing.T) {
	c, err := pyctx.Default().NewContext(contextOptions(pyctx.ModeWorker))
	if err != nil {
		t.Fatal(err)
	}
	env, err := c.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !c.Closed() {
		t.Error("Closed() = false after Close")
	}
	bg := context.Background()
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	checks := map[string]error{
		"Call":      second(c.Call(bg, testModule, "identity", 1)),
		"Call ctx":  second(c.Call(ctx, testModule, "identity", 1)),
		"CallAsync": second(c.CallAsync(bg, testModule, "identity", 1)),
		"Eval":      second(c.Eval(bg, "1", nil)),
		"Exec":      c.Exec(bg, "pass"),
		"NewEnv":    second(c.NewEnv()),
		"Stats":     second(c.Stats()),
		"env Eval":  second(env.Eval(bg, "1", nil)),
	}
	for name, err := range checks {
		if !errors.Is(err, pyctx.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := env.Close(); err != nil {
		t.Errorf("env Close after context Close: %v", err)
	}
}

func TestQueueFull(t *testing.T) {
	opts := contextOptions(pyctx.ModeWorker)
	opts.QueueCapacity = 1
	c, err := pyctx.Default().NewContext(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	started := signalHost(t)
	running, err := c.CallAsync(context.Background(), testModule, "loop_after_signal", started.name)
	if err != nil {
		t.Fatal(err)
	}
	started.awaitStart(t, running)
	queued, err := c.CallAsync(context.Background(), testModule, "identity", 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CallAsync(context.Background(), testModule, "identity", 2)
	if !errors.Is(err, pyctx.ErrQueueFull) {
		t.Errorf("third request: %v, want ErrQueueFull", err)
	}
	if err := running.Cancel(); err != nil {
		t.Fatal(err)
	}
	if _, err := result(t, c, running); !errors.Is(err, pyctx.ErrCancelled) {
		t.Errorf("cancelled request: %v", err)
	}
	if v, err := result(t, c, queued); err != nil || v != int64(1) {
		t.Errorf("queued request: %v, %v", v, err)
	}
}

// Options.Paths must reach sys.path in every interpreter (pyctx.h:
// pyctx_runtime_options_add_path); owngil contexts have their own.
func TestOptionsPathsReachSysPath(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		v, err := c.Eval(context.Background(), "p in __import__('sys').path", map[string]any{"p": testdata})
		if err != nil || v != true {
			t.Errorf("%q in sys.path: %v, %v", testdata, v, err)
		}
	})
}
