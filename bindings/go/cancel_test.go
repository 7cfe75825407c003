package pyctx_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

// signal is a host function Python calls to tell the test it is running.
type signal struct {
	name string
	ch   chan struct{}
}

var signalSeq atomic.Int64

func signalHost(t testing.TB) signal {
	t.Helper()
	s := signal{name: fmt.Sprintf("gotest.signal.%d", signalSeq.Add(1)), ch: make(chan struct{})}
	var once sync.Once
	// Answer first, then signal: the request is then back in Python (not
	// waiting for the host, when its context would serve other requests)
	// by the time the test acts on the signal.
	err := pyctx.RegisterAsync(s.name, func(call *pyctx.HostCall) {
		if err := call.Return(nil); err != nil {
			t.Errorf("answering %s: %v", s.name, err)
		}
		once.Do(func() { close(s.ch) })
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pyctx.Unregister(s.name) })
	return s
}

// awaitStart waits until the request behind f has signalled s, failing the
// test if the request completes first.
func (s signal) awaitStart(t testing.TB, f *pyctx.Future) {
	t.Helper()
	select {
	case <-s.ch:
	case <-f.Done():
		_, err := f.Result()
		t.Fatalf("request completed before it signalled: %v", err)
	}
}

// result waits for f with a generous bound, so an engine that loses a
// completion fails the test (with the context's counters) instead of hanging.
func result(t testing.TB, c *pyctx.Context, f *pyctx.Future) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := f.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		st, _ := c.Stats()
		t.Fatalf("request %d never completed; context stats %+v", f.ID(), st)
	}
	return v, err
}

// stillServes checks that the context runs requests again, i.e. the earlier
// request really stopped (a context runs one request at a time). The bound
// only turns a hang into a failure.
func stillServes(t *testing.T, c *pyctx.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if v, err := c.Call(ctx, testModule, "add", 40, 2); err != nil || v != int64(42) {
		t.Fatalf("context unusable after cancellation: %v, %v", v, err)
	}
}

func TestContextCancelInterruptsRunningRequest(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		started := signalHost(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-started.ch:
				cancel()
			case <-ctx.Done():
			}
		}()
		_, err := c.Call(ctx, testModule, "loop_after_signal", started.name)
		if !errors.Is(err, pyctx.ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want ErrCancelled and context.Canceled", err)
		}
		stillServes(t, c)
		st, err := c.Stats()
		if err != nil || st.Cancelled != 1 {
			t.Errorf("stats %+v, %v: want 1 cancelled", st, err)
		}
	})
}

func TestContextDeadlineTimesOutRunningRequest(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		// Import the test module first: an interrupt in the middle of an
		// import (here, of asyncio) leaves Python's module state broken.
		stillServes(t, c)
		started := signalHost(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Call(ctx, testModule, "loop_after_signal", started.name)
		if !errors.Is(err, pyctx.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want ErrTimeout and context.DeadlineExceeded", err)
		}
		stillServes(t, c)
	})
}

func TestDoneContextSubmitsNothing(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Call(ctx, testModule, "identity", 1); !errors.Is(err, pyctx.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("Call: %v", err)
	}
	if _, err := c.CallAsync(ctx, testModule, "identity", 1); !errors.Is(err, pyctx.ErrCancelled) {
		t.Errorf("CallAsync: %v", err)
	}
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if err := c.Exec(past, "pass"); !errors.Is(err, pyctx.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec past deadline: %v", err)
	}
	st, err := c.Stats()
	if err != nil || st.Completed+st.Cancelled+st.TimedOut != 0 {
		t.Errorf("stats %+v, %v: nothing should have been submitted", st, err)
	}
}

func TestCancelQueuedRequestNeverRuns(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	started := signalHost(t)
	ran := signalHost(t)
	blocker, err := c.CallAsync(context.Background(), testModule, "loop_after_signal", started.name)
	if err != nil {
		t.Fatal(err)
	}
	started.awaitStart(t, blocker)
	ctx, cancel := context.WithCancel(context.Background())
	queued, err := c.CallAsync(ctx, testModule, "call_host", ran.name)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := result(t, c, queued); !errors.Is(err, pyctx.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("queued: %v", err)
	}
	if err := blocker.Cancel(); err != nil {
		t.Fatal(err)
	}
	if _, err := result(t, c, blocker); !errors.Is(err, pyctx.ErrCancelled) {
		t.Errorf("blocker: %v", err)
	}
	stillServes(t, c)
	select {
	case <-ran.ch:
		t.Error("the cancelled queued request ran")
	default:
	}
}

func TestFutures(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		bg := context.Background()
		futures := make([]*pyctx.Future, 50)
		for i := range futures {
			f, err := c.CallAsync(bg, testModule, "add", i, 1000)
			if err != nil {
				t.Fatal(err)
			}
			futures[i] = f
		}
		ids := map[uint64]bool{}
		for i, f := range futures {
			v, err := result(t, c, f)
			if err != nil || v != int64(i+1000) {
				t.Errorf("future %d: %v, %v", i, v, err)
			}
			if f.ID() == 0 || ids[f.ID()] {
				t.Errorf("future %d: id %d zero or repeated", i, f.ID())
			}
			ids[f.ID()] = true
			<-f.Done() // closed once complete
		}
		ev, err := c.EvalAsync(bg, "x + 1", map[string]any{"x": 1})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := c.ExecAsync(bg, "async_marker = 'set'")
		if err != nil {
			t.Fatal(err)
		}
		if v, err := result(t, c, ev); err != nil || v != int64(2) {
			t.Errorf("EvalAsync: %v, %v", v, err)
		}
		if v, err := result(t, c, ex); err != nil || v != nil {
			t.Errorf("ExecAsync: %v, %v", v, err)
		}

		// Wait bounds the waiting only; Cancel stops the request.
		started := signalHost(t)
		f, err := c.CallAsync(bg, testModule, "loop_after_signal", started.name)
		if err != nil {
			t.Fatal(err)
		}
		started.awaitStart(t, f)
		short, cancel := context.WithCancel(bg)
		cancel()
		if _, err := f.Wait(short); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait: %v", err)
		}
		if err := f.Cancel(); err != nil {
			t.Fatal(err)
		}
		if _, err := result(t, c, f); !errors.Is(err, pyctx.ErrCancelled) || errors.Is(err, context.Canceled) {
			t.Errorf("Result after Cancel: %v (ErrCancelled, not caused by a Go context)", err)
		}
		if err := f.Cancel(); err != nil {
			t.Errorf("Cancel after completion: %v", err)
		}
	})
}

func TestCloseCompletesRunningRequest(t *testing.T) {
	c, err := pyctx.Default().NewContext(contextOptions(pyctx.ModeWorker))
	if err != nil {
		t.Fatal(err)
	}
	started := signalHost(t)
	f, err := c.CallAsync(context.Background(), testModule, "loop_after_signal", started.name)
	if err != nil {
		t.Fatal(err)
	}
	started.awaitStart(t, f)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := result(t, c, f); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("running request after Close: %v", err)
	}
}

// A cancellable call outlasting the polling window parks and is woken by the
// completion, in both modes, with values and errors intact.
func TestCancellableCallParksAndWakes(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for i := 0; i < 5; i++ {
			v, err := c.Eval(ctx, "__import__('time').sleep(0.005) or n", map[string]any{"n": i})
			if err != nil || v != int64(i) {
				t.Fatalf("slow eval %d: %v, %v", i, v, err)
			}
		}
		var pe *pyctx.PythonError
		_, err := c.Eval(ctx, "__import__('time').sleep(0.005) or 1/0", nil)
		if !errors.As(err, &pe) || pe.Type != "ZeroDivisionError" {
			t.Errorf("slow failing eval: %v", err)
		}
	})
}
