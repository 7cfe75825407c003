package pyctx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

// TestProcessContextRunsInAChild: ModeProcess evaluates in a child process
// of this one; Stats.ThreadID is that child's pid.
func TestProcessContextRunsInAChild(t *testing.T) {
	if got := pyctx.ModeProcess.String(); got != "process" {
		t.Errorf("ModeProcess.String() = %q", got)
	}
	c, err := pyctx.Default().NewContext(&pyctx.ContextOptions{
		Mode: pyctx.ModeProcess, Name: "go-proc", Preload: "base = 40"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Mode() != pyctx.ModeProcess {
		t.Errorf("Mode() = %v", c.Mode())
	}
	bg := context.Background()
	if v, err := c.Eval(bg, "base + 2", nil); err != nil || v != int64(42) {
		t.Errorf("base + 2 = %v, %v", v, err)
	}
	if v, err := c.Call(bg, "math", "gcd", 12, 18); err != nil || v != int64(6) {
		t.Errorf("gcd = %v, %v", v, err)
	}
	pid, err := c.Eval(bg, "__import__('os').getpid()", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pid == int64(os.Getpid()) {
		t.Errorf("the child's pid %v is the host's", pid)
	}
	if ppid, err := c.Eval(bg, "__import__('os').getppid()", nil); err != nil || ppid != int64(os.Getpid()) {
		t.Errorf("the child's parent is %v (%v), want %d", ppid, err, os.Getpid())
	}
	if st, err := c.Stats(); err != nil || int64(st.ThreadID) != pid {
		t.Errorf("Stats().ThreadID = %d (%v), want the child's pid %v", st.ThreadID, err, pid)
	}
	_, err = c.Eval(bg, "1/0", nil)
	var pe *pyctx.PythonError
	if !errors.As(err, &pe) || pe.Type != "ZeroDivisionError" {
		t.Errorf("1/0: %v", err)
	}
}

// TestProcessContextSharedByGoroutines: every call of four goroutines
// completes once, with its own result.
func TestProcessContextSharedByGoroutines(t *testing.T) {
	c := newContext(t, pyctx.ModeProcess)
	bg := context.Background()
	if err := c.Exec(bg, "def tag(g, i): return [g, i]"); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Stats()
	const goroutines, calls = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int64) {
			defer wg.Done()
			for i := int64(0); i < calls; i++ {
				var v any
				var err error
				if i%2 == 0 {
					v, err = c.Call(bg, "__main__", "tag", g, i)
				} else if f, ferr := c.CallAsync(bg, "__main__", "tag", g, i); ferr != nil {
					err = ferr
				} else {
					v, err = f.Result()
				}
				if l, ok := v.([]any); err != nil || !ok || len(l) != 2 || l[0] != g || l[1] != i {
					errs <- fmt.Errorf("tag(%d, %d) = %v, %v", g, i, v, err)
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	after, _ := c.Stats()
	if n := after.Completed - before.Completed; n != goroutines*calls || after.Failed != before.Failed {
		t.Errorf("completed %d (failed %d more), want %d", n, after.Failed-before.Failed, goroutines*calls)
	}
}

// TestProcessCrashFailsPendingRequests: the child blocks reading a FIFO, so
// the request that ends it with os._exit(3) and 100 requests submitted from
// four goroutines queue behind; opened, every one of them fails once with
// ErrCrashed naming the exit code and the pid, and the context is closed.
func TestProcessCrashFailsPendingRequests(t *testing.T) {
	fifo := filepath.Join(os.TempDir(), fmt.Sprintf("pyctx-go-proc-gate-%d", os.Getpid()))
	os.Remove(fifo)
	preload := fmt.Sprintf("import os\ngate = %s\nos.mkfifo(gate)\n", strconv.Quote(fifo))
	c, err := pyctx.Default().NewContext(&pyctx.ContextOptions{Mode: pyctx.ModeProcess, Preload: preload})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer os.Remove(fifo)
	before, _ := c.Stats()
	pid := before.ThreadID
	bg := context.Background()

	gate, err := c.ExecAsync(bg, "with open(gate, 'rb') as f:\n    f.read(1)\n")
	if err != nil {
		t.Fatal(err)
	}
	exit, err := c.ExecAsync(bg, "os._exit(3)")
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, perGoroutine = 4, 25
	queued := make([][]*pyctx.Future, goroutines)
	var wg sync.WaitGroup
	for g := range queued {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				f, err := c.EvalAsync(bg, "2", nil)
				if err != nil {
					t.Errorf("submit behind the gate: %v", err)
					return
				}
				queued[g] = append(queued[g], f)
			}
		}(g)
	}
	wg.Wait()
	// Open the gate: the child reads a byte, then runs os._exit(3).
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	if _, err := gate.Result(); err != nil {
		t.Errorf("the gate request: %v", err)
	}
	checkCrashed := func(err error) error {
		var pe *pyctx.Error
		if !errors.Is(err, pyctx.ErrCrashed) || !errors.As(err, &pe) || pe.Status != pyctx.StatusCrashed ||
			errors.Is(err, pyctx.ErrClosed) {
			return fmt.Errorf("got %v, want ErrCrashed", err)
		}
		if !strings.Contains(pe.Message, "exited with code 3") ||
			!strings.Contains(pe.Message, strconv.FormatUint(pid, 10)) {
			return fmt.Errorf("message %q names no exit code 3 and pid %d", pe.Message, pid)
		}
		return nil
	}
	if _, err := exit.Result(); checkCrashed(err) != nil {
		t.Errorf("the exiting request: %v", checkCrashed(err))
	}
	errs := make(chan error, goroutines*perGoroutine)
	crashed := make(chan int, goroutines)
	for _, futures := range queued {
		wg.Add(1)
		go func(futures []*pyctx.Future) {
			defer wg.Done()
			n := 0
			for _, f := range futures {
				_, err := f.Result()
				if e := checkCrashed(err); e != nil {
					errs <- e
					continue
				}
				n++
			}
			crashed <- n
		}(futures)
	}
	wg.Wait()
	close(errs)
	close(crashed)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for n := range crashed {
		total += n
	}
	if total != goroutines*perGoroutine {
		t.Errorf("%d requests crashed, want %d", total, goroutines*perGoroutine)
	}
	// Exactly once: one completion counted per request (crashed ones as
	// failed), and a second completion would close a Future's channel twice.
	after, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.Completed-before.Completed != 1 || after.Failed-before.Failed != goroutines*perGoroutine+1 ||
		after.Cancelled+after.TimedOut+after.Closed != 0 {
		t.Errorf("stats before %+v after %+v", before, after)
	}
	if !c.Closed() {
		t.Error("the context is open after its child died")
	}
	if _, err := c.Eval(bg, "1", nil); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("after the crash: %v, want ErrClosed", err)
	}
	next := newContext(t, pyctx.ModeProcess)
	if v, err := next.Eval(bg, "2 + 3", nil); err != nil || v != int64(5) {
		t.Errorf("a new process context: %v, %v", v, err)
	}
}

// TestProcessRestartBudget: one restart brings a new child with the preload
// run again and the old state gone; the next crash closes the context.
func TestProcessRestartBudget(t *testing.T) {
	c, err := pyctx.Default().NewContext(&pyctx.ContextOptions{
		Mode: pyctx.ModeProcess, MaxRestarts: 1, Preload: "started = 'preload ran'"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bg := context.Background()
	first, err := c.ProcessInfo()
	if err != nil || first.Restarts != 0 || first.PID == 0 {
		t.Fatalf("ProcessInfo() = %+v, %v", first, err)
	}
	if err := c.Exec(bg, "kept = 1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(bg, "import os; os._exit(5)"); !errors.Is(err, pyctx.ErrCrashed) {
		t.Fatalf("exit 5: %v, want ErrCrashed", err)
	}
	if v, err := c.Eval(bg, "started", nil); err != nil || v != "preload ran" {
		t.Errorf("after the restart started = %v, %v", v, err)
	}
	if v, err := c.Eval(bg, "'kept' in globals()", nil); err != nil || v != false {
		t.Errorf("the dead child's state survived: %v, %v", v, err)
	}
	second, err := c.ProcessInfo()
	if err != nil || second.Restarts != 1 || second.PID == 0 || second.PID == first.PID {
		t.Errorf("after one restart ProcessInfo() = %+v (first %+v), %v", second, first, err)
	}
	if err := c.Exec(bg, "import os; os._exit(6)"); !errors.Is(err, pyctx.ErrCrashed) {
		t.Fatalf("exit 6: %v, want ErrCrashed", err)
	}
	if !c.Closed() {
		t.Error("beyond the budget the context is not closed")
	}
	if _, err := c.Eval(bg, "1", nil); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("eval after the budget: %v, want ErrClosed", err)
	}
}

// TestProcessHelperNotFound: a helper path that is no executable fails
// NewContext with ErrNotFound naming it.
func TestProcessHelperNotFound(t *testing.T) {
	_, err := pyctx.Default().NewContext(&pyctx.ContextOptions{
		Mode: pyctx.ModeProcess, ProcessHelper: "/nonexistent/pyctx-process-helper"})
	if !errors.Is(err, pyctx.ErrNotFound) || !strings.Contains(err.Error(), "/nonexistent/pyctx-process-helper") {
		t.Fatalf("NewContext: %v, want ErrNotFound naming the path", err)
	}
	c := newContext(t, pyctx.ModeWorker)
	if info, err := c.ProcessInfo(); err != nil || info != (pyctx.ProcessInfo{}) {
		t.Errorf("a worker context's ProcessInfo() = %+v, %v", info, err)
	}
}

// TestProcessOutputAsLogRecords: with ProcessOutputLog the child's lines
// arrive at the log handler with their stream, level and context.
func TestProcessOutputAsLogRecords(t *testing.T) {
	got := make(chan pyctx.LogRecord, 16)
	if err := pyctx.SetLogHandler(pyctx.LogInfo, 64, func(r pyctx.LogRecord) {
		if strings.HasPrefix(r.Logger, "pyctx.process.") {
			got <- r
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pyctx.ClearLogHandler() }()
	c, err := pyctx.Default().NewContext(&pyctx.ContextOptions{
		Mode: pyctx.ModeProcess, Name: "go-out", ProcessOutput: pyctx.ProcessOutputLog})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Exec(context.Background(), "import sys\nprint('to stdout', flush=True)\nprint('to stderr', file=sys.stderr)"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]pyctx.LogRecord{}
	timeout := time.After(20 * time.Second)
	for len(seen) < 2 {
		select {
		case r := <-got:
			seen[r.Message] = r
		case <-timeout:
			t.Fatalf("records so far: %v", seen)
		}
	}
	if r := seen["to stdout"]; r.Logger != "pyctx.process.stdout" || r.Level != pyctx.LogInfo || r.Context != "go-out" {
		t.Errorf("stdout record = %+v", r)
	}
	if r := seen["to stderr"]; r.Logger != "pyctx.process.stderr" || r.Level != pyctx.LogWarning || r.Context != "go-out" {
		t.Errorf("stderr record = %+v", r)
	}
}
