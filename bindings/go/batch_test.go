package pyctx_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

func TestCallManyReturnsEveryResultInOrder(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		calls := make([]pyctx.Call, 1000)
		for i := range calls {
			calls[i] = pyctx.Call{Module: testModule, Function: "add", Args: []any{i, 1000}}
		}
		results, err := c.CallMany(context.Background(), calls)
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != len(calls) {
			t.Fatalf("%d results for %d calls", len(results), len(calls))
		}
		for i, r := range results {
			if r.Err != nil || r.Value != int64(i+1000) {
				t.Fatalf("call %d: %v, %v", i, r.Value, r.Err)
			}
		}
		st, err := c.Stats()
		if err != nil || st.Completed < 1000 {
			t.Errorf("stats %+v, %v: want 1000 completed", st, err)
		}
	})
}

func TestCallManyMixesKwargsErrorsAndLargeValues(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	ctx, cancel := context.WithCancel(context.Background()) // the cancellable path
	defer cancel()
	big := strings.Repeat("ab", 50_000) // larger than the batch's own buffer
	results, err := c.CallMany(ctx, []pyctx.Call{
		{Module: testModule, Function: "echo", Args: []any{1}, Kwargs: map[string]any{"k": "v"}},
		{Module: testModule, Function: "divide", Args: []any{1, 0}},
		{Module: "operator", Function: "mul", Args: []any{"ab", 50_000}},
		{Module: testModule, Function: "echo", Args: []any{2, pyctx.Kwargs{"x": 3}}},
		{Module: testModule, Function: "unencodable"},
		{Module: testModule, Function: "identity", Args: []any{nil}},
	})
	if err != nil {
		t.Fatal(err)
	}
	echo := results[0].Value.(map[string]any)
	if results[0].Err != nil || echo["kwargs"].(map[string]any)["k"] != "v" {
		t.Errorf("kwargs call: %v, %v", results[0].Value, results[0].Err)
	}
	var pe *pyctx.PythonError
	if !errors.As(results[1].Err, &pe) || pe.Type != "ZeroDivisionError" {
		t.Errorf("failing call: %v", results[1].Err)
	}
	if results[2].Err != nil || results[2].Value != big {
		t.Errorf("large value: %d chars, %v", len(results[2].Value.(string)), results[2].Err)
	}
	if kw := results[3].Value.(map[string]any)["kwargs"].(map[string]any); results[3].Err != nil || kw["x"] != int64(3) {
		t.Errorf("trailing Kwargs: %v, %v", results[3].Value, results[3].Err)
	}
	if !errors.Is(results[4].Err, pyctx.ErrEncode) {
		t.Errorf("unencodable result: %v", results[4].Err)
	}
	if results[5].Err != nil || results[5].Value != nil {
		t.Errorf("nil value: %v, %v", results[5].Value, results[5].Err)
	}
}

func TestCallManyCancelStopsTheBatch(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		started := signalHost(t)
		ran := signalHost(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-started.ch:
				cancel()
			case <-ctx.Done():
			}
		}()
		results, err := c.CallMany(ctx, []pyctx.Call{
			{Module: testModule, Function: "loop_after_signal", Args: []any{started.name}},
			{Module: testModule, Function: "call_host", Args: []any{ran.name}},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range results {
			if !errors.Is(r.Err, pyctx.ErrCancelled) || !errors.Is(r.Err, context.Canceled) {
				t.Errorf("call %d: %v, want ErrCancelled and context.Canceled", i, r.Err)
			}
		}
		stillServes(t, c)
		select {
		case <-ran.ch:
			t.Error("a queued call of the cancelled batch ran")
		default:
		}
	})
}

func TestCallManyDeadlineTimesOutTheBatch(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	stillServes(t, c) // import the test module before anything is interrupted
	started := signalHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	results, err := c.CallMany(ctx, []pyctx.Call{
		{Module: testModule, Function: "loop_after_signal", Args: []any{started.name}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := results[0].Err; !errors.Is(err, pyctx.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
	stillServes(t, c)
}

func TestCallManyRefusals(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	bg := context.Background()
	if r, err := c.CallMany(bg, nil); err != nil || len(r) != 0 {
		t.Errorf("empty batch: %v, %v", r, err)
	}
	if _, err := c.CallMany(nil, []pyctx.Call{{Module: "m", Function: "f"}}); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("nil ctx: %v", err)
	}
	done, cancel := context.WithCancel(bg)
	cancel()
	ok := pyctx.Call{Module: testModule, Function: "identity", Args: []any{1}}
	if _, err := c.CallMany(done, []pyctx.Call{ok}); !errors.Is(err, pyctx.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("done ctx: %v", err)
	}
	if _, err := c.CallMany(bg, []pyctx.Call{ok, {Module: testModule, Function: "identity", Args: []any{make(chan int)}}}); err == nil {
		t.Error("an argument that cannot be encoded must fail the batch")
	}
	if _, err := c.CallMany(bg, []pyctx.Call{ok, {Module: "a\x00b", Function: "f"}}); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("NUL in a module name: %v", err)
	}
	st, err := c.Stats()
	if err != nil || st.Completed+st.Cancelled+st.Failed != 0 {
		t.Errorf("stats %+v, %v: a refused batch must submit nothing", st, err)
	}
	closed, err := pyctx.Default().NewContext(contextOptions(pyctx.ModeWorker))
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := closed.CallMany(bg, []pyctx.Call{ok}); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("closed context: %v", err)
	}
}

// A bounded queue accepts part of a batch: the accepted calls run, the
// refused one and those after it report the refusal.
func TestCallManyPartlyRefusedByAFullQueue(t *testing.T) {
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
	// Once the batch's first call sits in the queue, stop the blocker so the
	// batch can finish.
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if st, err := c.Stats(); err == nil && st.QueueDepth >= 1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		_ = running.Cancel()
	}()
	results, err := c.CallMany(context.Background(), []pyctx.Call{
		{Module: testModule, Function: "identity", Args: []any{1}},
		{Module: testModule, Function: "identity", Args: []any{2}},
		{Module: testModule, Function: "identity", Args: []any{3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Err != nil || results[0].Value != int64(1) {
		t.Errorf("accepted call: %v, %v", results[0].Value, results[0].Err)
	}
	for i := 1; i < 3; i++ {
		if !errors.Is(results[i].Err, pyctx.ErrQueueFull) {
			t.Errorf("call %d: %v, want ErrQueueFull", i, results[i].Err)
		}
	}
	if _, err := result(t, c, running); !errors.Is(err, pyctx.ErrCancelled) {
		t.Errorf("blocker: %v", err)
	}
}
