package pyctx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

// TestManyGoroutinesShareContexts runs 100 goroutines over four shared
// contexts (both modes), through all three call paths, checking every result.
func TestManyGoroutinesShareContexts(t *testing.T) {
	var contexts []*pyctx.Context
	for i := 0; i < 4; i++ {
		mode := pyctx.ModeWorker
		if i%2 == 1 && pyctx.OwnGILSupported() {
			mode = pyctx.ModeOwnGIL
		}
		contexts = append(contexts, newContext(t, mode))
	}
	const goroutines, perGoroutine = 100, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := 0; i < perGoroutine; i++ {
				c := contexts[(g+i)%len(contexts)]
				arg := map[string]any{"g": int64(g), "i": int64(i), "tag": pyctx.Tuple{"x", int64(g * i)}}
				var got any
				var err error
				switch i % 3 {
				case 0:
					got, err = c.Call(context.Background(), testModule, "identity", arg)
				case 1:
					got, err = c.Call(ctx, testModule, "identity", arg)
				default:
					var f *pyctx.Future
					if f, err = c.CallAsync(ctx, testModule, "identity", arg); err == nil {
						got, err = f.Result()
					}
				}
				if err != nil {
					errs <- err
					return
				}
				if !reflect.DeepEqual(got, arg) {
					errs <- errors.New("wrong result")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var completed uint64
	for _, c := range contexts {
		st, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		completed += st.Completed
	}
	if completed != goroutines*perGoroutine {
		t.Errorf("contexts completed %d requests, want %d", completed, goroutines*perGoroutine)
	}
}

// TestCloseWhileInUse closes a context under 20 busy goroutines: every call
// either succeeds or reports ErrClosed, and nothing touches freed memory.
func TestCloseWhileInUse(t *testing.T) {
	c, err := pyctx.Default().NewContext(contextOptions(pyctx.ModeWorker))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	closedSeen := 0
	firstCall := make(chan struct{})
	var once sync.Once
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := 0; ; i++ {
				cx := context.Background()
				if i%2 == 0 {
					cx = ctx
				}
				v, err := c.Call(cx, testModule, "add", g, i)
				if errors.Is(err, pyctx.ErrClosed) {
					mu.Lock()
					closedSeen++
					mu.Unlock()
					return
				}
				if err != nil || v != int64(g+i) {
					t.Errorf("add(%d, %d) = %v, %v", g, i, v, err)
					return
				}
				once.Do(func() { close(firstCall) })
			}
		}(g)
	}
	<-firstCall
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if closedSeen != 20 {
		t.Errorf("%d goroutines saw ErrClosed, want 20", closedSeen)
	}
}

// TestOwnGILParallelSpeedup runs the same CPU-bound Python work on two owngil
// contexts one after the other, then at the same time, and expects the
// parallel run to be clearly faster (ratio, best of five, generous margin).
// On a machine so busy that two cores are not available the ratio means
// nothing, and the test skips saying so.
func TestOwnGILParallelSpeedup(t *testing.T) {
	if !pyctx.OwnGILSupported() {
		t.Skip("owngil needs Python 3.12+")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	a := newContext(t, pyctx.ModeOwnGIL)
	b := newContext(t, pyctx.ModeOwnGIL)
	bg := context.Background()
	burn := func(c *pyctx.Context, n int) {
		if _, err := c.Call(bg, testModule, "burn", n); err != nil {
			t.Error(err)
		}
	}
	// Size the work to about 150 ms per call on this machine.
	n := 200000
	start := time.Now()
	burn(a, n)
	if el := time.Since(start); el > 0 {
		n = int(float64(n) * float64(150*time.Millisecond) / float64(el))
	}
	best := 0.0
	for attempt := 0; attempt < 5 && best < 1.5; attempt++ {
		start = time.Now()
		burn(a, n)
		burn(b, n)
		serial := time.Since(start)
		start = time.Now()
		var wg sync.WaitGroup
		for _, c := range []*pyctx.Context{a, b} {
			wg.Add(1)
			go func(c *pyctx.Context) { defer wg.Done(); burn(c, n) }(c)
		}
		wg.Wait()
		parallel := time.Since(start)
		ratio := float64(serial) / float64(parallel)
		t.Logf("attempt %d: serial %v, parallel %v, speedup %.2fx", attempt+1, serial, parallel, ratio)
		if ratio > best {
			best = ratio
		}
	}
	if best < 1.3 {
		if load := loadAverage(t); load > float64(runtime.NumCPU()) {
			t.Skipf("speedup %.2fx not measurable: load average %.1f exceeds %d CPUs", best, load, runtime.NumCPU())
		}
		t.Errorf("owngil speedup %.2fx on 2 contexts, want >= 1.3x", best)
	}
}

// loadAverage is the 1-minute load average (0 when unknown).
func loadAverage(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var load float64
	if _, err := fmt.Sscan(string(b), &load); err != nil {
		t.Logf("parsing /proc/loadavg: %v", err)
	}
	return load
}
