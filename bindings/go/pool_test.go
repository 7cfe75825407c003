package pyctx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

// newPool creates a pool closed at the end of the test.
func newPool(t *testing.T, opts *pyctx.PoolOptions) *pyctx.Pool {
	t.Helper()
	p, err := pyctx.Default().NewPool(opts)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("pool Close: %v", err)
		}
	})
	return p
}

// poolResult waits for f with a generous bound (a lost completion fails).
func poolResult(t *testing.T, f *pyctx.Future) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := f.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("pool request %d never completed", f.ID())
	}
	return v, err
}

func TestPoolCallsRunOnEveryMemberAndCount(t *testing.T) {
	p := newPool(t, &pyctx.PoolOptions{Size: 3, Name: "gopool", Routing: pyctx.RouteRoundRobin,
		Member: &pyctx.ContextOptions{Preload: "base = 100"}})
	if p.Name() != "gopool" || p.Size() != 3 || p.Closed() {
		t.Fatalf("name %q size %d closed %v", p.Name(), p.Size(), p.Closed())
	}
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		if v, err := p.Call(ctx, testModule, "add", i, 1); err != nil || v != int64(i+1) {
			t.Fatalf("call %d: %v, %v", i, v, err)
		}
	}
	// Round robin: the members in turn, so each ran two.
	ids := map[uint64]bool{}
	for i := 0; i < 3; i++ {
		ms, err := p.MemberStats(i)
		if err != nil || ms.Completed != 2 || ms.Slot != uint64(i) {
			t.Errorf("member %d: %+v, %v: want 2 completed in slot %d", i, ms, err, i)
		}
		ids[ms.MemberID] = true
	}
	if len(ids) != 3 {
		t.Errorf("member ids %v: want 3 distinct", ids)
	}
	if _, err := p.MemberStats(3); !errors.Is(err, pyctx.ErrNotFound) {
		t.Errorf("member 3 of 3: %v, want ErrNotFound", err)
	}
	st, err := p.Stats()
	if err != nil || st.Size != 3 || st.Created != 3 || st.Completed != 6 {
		t.Errorf("pool stats %+v, %v: want size 3, created 3, completed 6", st, err)
	}
	// The member options reached every member (the preload ran there).
	for i := 0; i < 3; i++ {
		m, err := p.Member(i)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := m.Eval(ctx, "base + 1", nil); err != nil || v != int64(101) {
			t.Errorf("member %d preload: %v, %v", i, v, err)
		}
	}
	// An async call through the pool completes with its value.
	f, err := p.CallAsync(ctx, testModule, "add", 20, 22)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := poolResult(t, f); err != nil || v != int64(42) || f.Member() == 0 {
		t.Errorf("async: %v, %v, member %d", v, err, f.Member())
	}
}

func TestPoolKeyRoutesToTheSameMember(t *testing.T) {
	p := newPool(t, &pyctx.PoolOptions{Size: 3})
	ctx := context.Background()
	members := map[uint64]bool{}
	for k := 0; k < 24; k++ {
		key := p.Key(fmt.Sprintf("user:%d", k))
		var member uint64
		var tid any
		for i := 0; i < 3; i++ {
			f, err := key.CallAsync(ctx, testModule, "native_thread_id")
			if err != nil {
				t.Fatal(err)
			}
			v, err := poolResult(t, f)
			if err != nil {
				t.Fatal(err)
			}
			if f.KeyMoved() {
				t.Errorf("key %d moved without a membership change", k)
			}
			if i == 0 {
				member, tid = f.Member(), v
			} else if f.Member() != member || v != tid {
				t.Fatalf("key %d: member %d thread %v, first member %d thread %v",
					k, f.Member(), v, member, tid)
			}
		}
		members[member] = true
		// The synchronous form goes by the key too.
		if v, err := key.Call(ctx, testModule, "native_thread_id"); err != nil || v != tid {
			t.Errorf("key %d sync call on thread %v, %v; want %v", k, v, err, tid)
		}
	}
	if len(members) < 2 {
		t.Errorf("24 keys all went to %v: want them spread over the members", members)
	}
	st, err := p.Stats()
	if err != nil || st.KeysKnown != 24 {
		t.Errorf("stats %+v, %v: want 24 keys known", st, err)
	}
}

func TestPoolResizeMovesTheKeysOfLeavingMembers(t *testing.T) {
	p := newPool(t, &pyctx.PoolOptions{Size: 3})
	ctx := context.Background()
	last, err := p.MemberStats(2)
	if err != nil {
		t.Fatal(err)
	}
	// Find keys that live on the member that will leave, and one that does not.
	var leaving, staying []string
	for k := 0; k < 64 && (len(leaving) == 0 || len(staying) == 0); k++ {
		key := fmt.Sprintf("k%d", k)
		f, err := p.Key(key).CallAsync(ctx, testModule, "add", 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := poolResult(t, f); err != nil {
			t.Fatal(err)
		}
		if f.Member() == last.MemberID {
			leaving = append(leaving, key)
		} else {
			staying = append(staying, key)
		}
	}
	if len(leaving) == 0 || len(staying) == 0 {
		t.Fatalf("64 keys: %d on the last member, %d elsewhere", len(leaving), len(staying))
	}
	if err := p.Resize(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Size() != 2 {
		t.Fatalf("size %d after resize to 2", p.Size())
	}
	moved := func(key string) (bool, uint64) {
		f, err := p.Key(key).CallAsync(ctx, testModule, "add", 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := poolResult(t, f); err != nil || v != int64(2) {
			t.Fatalf("key %s after resize: %v, %v", key, v, err)
		}
		return f.KeyMoved(), f.Member()
	}
	if m, member := moved(leaving[0]); !m || member == last.MemberID {
		t.Errorf("key of the leaving member: moved %v, member %d", m, member)
	}
	if m, _ := moved(leaving[0]); m {
		t.Error("a moved key reported moved twice")
	}
	if m, _ := moved(staying[0]); m {
		t.Error("a key of a staying member reported moved")
	}
	if err := p.Resize(0, 0); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("resize to 0: %v, want ErrInvalidArgument", err)
	}
	if err := p.Resize(3, 0); err != nil || p.Size() != 3 {
		t.Errorf("grow to 3: %v, size %d", err, p.Size())
	}
	st, err := p.Stats()
	if err != nil || st.Created != 4 {
		t.Errorf("stats %+v, %v: want 4 members ever made", st, err)
	}
}

func TestPoolKeyMemoryCanBeOff(t *testing.T) {
	p := newPool(t, &pyctx.PoolOptions{Size: 2, KeyMemory: -1})
	for k := 0; k < 5; k++ {
		if _, err := p.Key(fmt.Sprint(k)).Call(context.Background(), testModule, "add", 1, 2); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := p.Stats(); err != nil || st.KeysKnown != 0 {
		t.Errorf("stats %+v, %v: want no key remembered", st, err)
	}
}

func TestPoolCancelAndContextEndStopRequests(t *testing.T) {
	p := newPool(t, &pyctx.PoolOptions{Size: 2})
	started := signalHost(t)
	f, err := p.CallAsync(context.Background(), testModule, "loop_after_signal", started.name)
	if err != nil {
		t.Fatal(err)
	}
	started.awaitStart(t, f)
	if err := f.Cancel(); err != nil {
		t.Fatal(err)
	}
	if _, err := poolResult(t, f); !errors.Is(err, pyctx.ErrCancelled) {
		t.Fatalf("cancelled pool request: %v", err)
	}
	// By id through the pool, and a ctx that ends.
	started2 := signalHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-started2.ch
		cancel()
	}()
	if _, err := p.Call(ctx, testModule, "loop_after_signal", started2.name); !errors.Is(err, pyctx.ErrCancelled) ||
		!errors.Is(err, context.Canceled) {
		t.Fatalf("ctx-cancelled pool call: %v", err)
	}
	if err := p.Cancel(f.ID()); err != nil {
		t.Errorf("cancel of a completed request: %v, want nil", err)
	}
	if err := p.Cancel(0); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("cancel of id 0: %v", err)
	}
	st, err := p.Stats()
	if err != nil || st.Cancelled != 2 {
		t.Errorf("stats %+v, %v: want 2 cancelled", st, err)
	}
	if v, err := p.Call(context.Background(), testModule, "add", 1, 1); err != nil || v != int64(2) {
		t.Errorf("pool unusable after cancel: %v, %v", v, err)
	}
}

func TestPoolCloseRefusesLaterRequests(t *testing.T) {
	p, err := pyctx.Default().NewPool(&pyctx.PoolOptions{Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.Call(context.Background(), testModule, "add", 1, 1); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("call on a closed pool: %v, want ErrClosed", err)
	}
	if _, err := p.Stats(); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("stats of a closed pool: %v", err)
	}
	if !p.Closed() || p.Size() != 0 {
		t.Errorf("closed %v size %d", p.Closed(), p.Size())
	}
	if _, err := pyctx.Default().NewPool(&pyctx.PoolOptions{Size: pyctx.MaxPoolSize + 1}); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("oversized pool: %v, want ErrInvalidArgument", err)
	}
	if _, err := pyctx.Default().NewPool(&pyctx.PoolOptions{Size: 2,
		Member: &pyctx.ContextOptions{Preload: "raise ValueError('no member')"}}); !errors.Is(err, pyctx.ErrPython) {
		t.Errorf("failing preload: %v, want ErrPython", err)
	}
}

func TestPoolQueueBoundRefusesBeyondIt(t *testing.T) {
	p := newPool(t, &pyctx.PoolOptions{Size: 1, QueueBound: 1})
	ctx := context.Background()
	started := signalHost(t)
	running, err := p.CallAsync(ctx, testModule, "loop_after_signal", started.name)
	if err != nil {
		t.Fatal(err)
	}
	started.awaitStart(t, running)
	queued, err := p.CallAsync(ctx, testModule, "add", 1, 1)
	if err != nil {
		t.Fatalf("first queued request: %v", err)
	}
	if _, err := p.CallAsync(ctx, testModule, "add", 1, 1); !errors.Is(err, pyctx.ErrQueueFull) {
		t.Errorf("beyond the bound: %v, want ErrQueueFull", err)
	}
	if _, err := p.Key("k").Call(ctx, testModule, "add", 1, 1); !errors.Is(err, pyctx.ErrQueueFull) {
		t.Errorf("keyed, beyond the bound: %v, want ErrQueueFull", err)
	}
	st, err := p.Stats()
	if err != nil || st.RefusedFull != 2 || st.QueueDepth != 1 {
		t.Errorf("stats %+v, %v: want 2 refused, 1 queued", st, err)
	}
	if err := running.Cancel(); err != nil {
		t.Fatal(err)
	}
	if v, err := poolResult(t, queued); err != nil || v != int64(2) {
		t.Errorf("queued request: %v, %v", v, err)
	}
}

// eventually polls cond: the pool's keeper notices a closed member on its
// own schedule (about every 20 ms), so there is nothing to wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolReplacesOrDropsAClosedMember(t *testing.T) {
	ctx := context.Background()
	for _, policy := range []pyctx.ReplacePolicy{pyctx.ReplaceMember, pyctx.LeaveMember} {
		p := newPool(t, &pyctx.PoolOptions{Size: 2, Replace: policy})
		m, err := p.Member(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if policy == pyctx.ReplaceMember {
			eventually(t, "replacement", func() bool {
				st, err := p.Stats()
				return err == nil && st.Replaced == 1 && st.Size == 2
			})
		} else {
			eventually(t, "the pool shrinking", func() bool { return p.Size() == 1 })
		}
		for i := 0; i < 4; i++ {
			if v, err := p.Call(ctx, testModule, "add", i, 1); err != nil || v != int64(i+1) {
				t.Fatalf("policy %d, call %d after the member closed: %v, %v", policy, i, v, err)
			}
		}
	}
}

func TestPoolEnvKeepsItsStateOnOneMember(t *testing.T) {
	p := newPool(t, &pyctx.PoolOptions{Size: 3, Routing: pyctx.RouteRoundRobin})
	ctx := context.Background()
	e, err := p.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Exec(ctx, "import threading\nx = 41\ntid = threading.get_native_id()"); err != nil {
		t.Fatal(err)
	}
	tid, err := e.Eval(ctx, "tid", nil)
	if err != nil {
		t.Fatal(err)
	}
	onMember := false
	for i := 0; i < 3; i++ {
		ms, err := p.MemberStats(i)
		onMember = onMember || (err == nil && int64(ms.ThreadID) == tid)
	}
	if !onMember {
		t.Errorf("env thread %v is no member's", tid)
	}
	// Round robin would spread these; the env holds them on its member.
	for i := 0; i < 6; i++ {
		v, err := e.Eval(ctx, "(x + k, threading.get_native_id() == tid)", map[string]any{"k": i})
		if err != nil || v.(pyctx.Tuple)[0] != int64(41+i) || v.(pyctx.Tuple)[1] != true {
			t.Fatalf("eval %d: %v, %v", i, v, err)
		}
	}
	f, err := e.EvalAsync(ctx, "x + 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := poolResult(t, f); err != nil || v != int64(42) {
		t.Errorf("async: %v, %v", v, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Eval(ctx, "x", nil); !errors.Is(err, pyctx.ErrClosed) {
		t.Errorf("eval in a closed env: %v, want ErrClosed", err)
	}
}

// A process member whose child dies takes the requests queued on it with it
// (each fails once, ErrCrashed); the other member's requests run; the pool
// replaces the dead member with a new child that ran the preload again.
func TestPoolReplacesAProcessMemberWhoseChildDied(t *testing.T) {
	fifo := filepath.Join(os.TempDir(), fmt.Sprintf("pyctx-go-pool-gate-%d", os.Getpid()))
	os.Remove(fifo)
	defer os.Remove(fifo)
	preload := fmt.Sprintf("import os\ngate = %s\ntry:\n    os.mkfifo(gate)\nexcept FileExistsError:\n    pass\nREADY = True\n",
		strconv.Quote(fifo))
	p := newPool(t, &pyctx.PoolOptions{Size: 2, Routing: pyctx.RouteRoundRobin,
		Member: &pyctx.ContextOptions{Mode: pyctx.ModeProcess, Preload: preload}})
	bg := context.Background()
	m0, err := p.Member(0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := m0.Stats()
	victim := st.ThreadID
	// Member 0 blocks on the FIFO, then exits; round robin puts every other
	// pool request behind it.
	gate, err := m0.ExecAsync(bg, "with open(gate, 'rb') as f:\n    f.read(1)\n")
	if err != nil {
		t.Fatal(err)
	}
	exit, err := m0.ExecAsync(bg, "os._exit(3)")
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	futures := make([]*pyctx.Future, n)
	for i := range futures {
		if futures[i], err = p.CallAsync(bg, "operator", "add", i, 1); err != nil {
			t.Fatal(err)
		}
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{'x'})
	w.Close()
	if _, err := poolResult(t, gate); err != nil {
		t.Errorf("the gate request: %v", err)
	}
	if _, err := poolResult(t, exit); !errors.Is(err, pyctx.ErrCrashed) {
		t.Errorf("the exiting request: %v, want ErrCrashed", err)
	}
	ok, crashed := 0, 0
	for i, f := range futures {
		v, err := poolResult(t, f)
		switch {
		case err == nil && v == int64(i+1):
			ok++
		case errors.Is(err, pyctx.ErrCrashed):
			crashed++
		default:
			t.Errorf("request %d: %v, %v", i, v, err)
		}
	}
	if ok != n/2 || crashed != n/2 {
		t.Errorf("%d ran and %d crashed, want %d each (round robin over 2)", ok, crashed, n/2)
	}
	eventually(t, "the replacement", func() bool {
		st, err := p.Stats()
		return err == nil && st.Replaced == 1 && st.Size == 2
	})
	fresh, err := p.Member(0)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := fresh.Stats(); st.ThreadID == victim || st.ThreadID == 0 {
		t.Errorf("the new member's child is %d (the dead one was %d)", st.ThreadID, victim)
	}
	if v, err := fresh.Eval(bg, "READY", nil); err != nil || v != true {
		t.Errorf("preload in the new child: %v, %v", v, err)
	}
	for i := 0; i < 4; i++ {
		if v, err := p.Call(bg, "operator", "add", i, 1); err != nil || v != int64(i+1) {
			t.Fatalf("call %d after the replacement: %v, %v", i, v, err)
		}
	}
}
