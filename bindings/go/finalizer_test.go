package pyctx_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

// A Context dropped without Close is freed by its finalizer, which ends the
// context's OS thread (and an Env's finalizer runs first without harm).
func TestUnreachableContextIsFreed(t *testing.T) {
	tid := func() uint64 {
		c, err := pyctx.Default().NewContext(nil)
		if err != nil {
			t.Fatal(err)
		}
		env, err := c.NewEnv()
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Exec(context.Background(), "x = 1"); err != nil {
			t.Fatal(err)
		}
		st, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.ThreadID
	}()
	task := fmt.Sprintf("/proc/self/task/%d", tid)
	if _, err := os.Stat(task); err != nil {
		t.Skipf("cannot observe threads: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		if _, err := os.Stat(task); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("context thread %d still exists after its Context became unreachable", tid)
		}
		time.Sleep(10 * time.Millisecond) // polling the OS: there is nothing to wait on
	}
}

// An Object or a Stream dropped without Close is released by its finalizer:
// the context's live handle count falls back, the generator's finally runs.
func TestUnreachableObjectAndStreamAreReleased(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	ctx := context.Background()
	func() {
		o, err := c.CallObject(ctx, testModule, "make_counter")
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.CallStream(ctx, testModule, "endless", "finalized")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
		if _, err := o.CallMethod(ctx, "add"); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		st, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		tags, err := c.Call(ctx, testModule, "stream_finished_tags")
		if err != nil {
			t.Fatal(err)
		}
		if st.LiveObjects == 0 && contains(tags, "finalized") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("live objects %d, finished streams %v after the handles became unreachable",
				st.LiveObjects, tags)
		}
		time.Sleep(10 * time.Millisecond) // finalizers run when they run: nothing to wait on
	}
}
