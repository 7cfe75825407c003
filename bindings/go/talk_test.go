package pyctx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

func TestStoreSharedWithPython(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		bg := context.Background()
		v1, err := pyctx.StorePut("go.shared", []any{int64(1), "a"})
		if err != nil || v1 == 0 {
			t.Fatalf("StorePut: %v, %v", v1, err)
		}
		got, err := c.Eval(bg, "__import__('pyctx').store_get('go.shared')", nil)
		if err != nil || fmt.Sprint(got) != "[1 a]" {
			t.Fatalf("store_get in Python: %v, %v", got, err)
		}
		if err := c.Exec(bg, fmt.Sprintf("import pyctx\nassert pyctx.store_cas('go.shared', %d, 'py')", v1)); err != nil {
			t.Fatal(err)
		}
		v, version, found, err := pyctx.StoreGet("go.shared")
		if err != nil || !found || v != "py" || version <= v1 {
			t.Fatalf("StoreGet: %v %v %v %v", v, version, found, err)
		}
		swapped, current, err := pyctx.StoreCompareAndSwap("go.shared", v1, "stale")
		if err != nil || swapped || current != version {
			t.Fatalf("stale CAS: %v %v %v", swapped, current, err)
		}
		keys, err := pyctx.StoreKeys("go.")
		if err != nil || len(keys) != 1 || keys[0] != "go.shared" {
			t.Fatalf("StoreKeys: %v %v", keys, err)
		}
		if ok, err := pyctx.StoreDelete("go.shared", 0); !ok || err != nil {
			t.Fatalf("StoreDelete: %v %v", ok, err)
		}
		if _, _, found, err := pyctx.StoreGet("go.shared"); found || err != nil {
			t.Fatalf("after delete: %v %v", found, err)
		}
		if _, err := pyctx.StorePut("", 1); !errors.Is(err, pyctx.ErrInvalidArgument) {
			t.Fatalf("empty key: %v", err)
		}
	})
}

func TestSendToReceiverInOrder(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		bg := context.Background()
		r, err := pyctx.NewReceiver("go.inbox", 8)
		if err != nil {
			t.Fatal(err)
		}
		// More messages than the buffer: the sender waits for the reader.
		done := make(chan error, 1)
		go func() { done <- c.Exec(bg, "import pyctx\nfor i in range(100): pyctx.send('go.inbox', i)") }()
		for i := int64(0); i < 100; i++ {
			m := <-r.C
			if m.Value != i || m.Target != "go.inbox" {
				t.Fatalf("message %d: %+v", i, m)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = c.Eval(bg, "pyctx.send('go.inbox', 1)", nil)
		var pe *pyctx.PythonError
		if !errors.As(err, &pe) || pe.Type != "pyctx.SendError" {
			t.Fatalf("send after Close: %v", err)
		}
	})
}

func TestSendRouter(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	bg := context.Background()
	var mu sync.Mutex
	var seen []any
	if err := pyctx.SetRouter(func(m pyctx.Message) bool {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, m.Target)
		return m.Target == pyctx.Symbol("alive")
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pyctx.ClearRouter() }()
	v, err := c.Eval(bg, "__import__('pyctx').send(__import__('pyctx').Symbol('alive'), 1)", nil)
	if err != nil || v != true {
		t.Fatalf("send to alive: %v %v", v, err)
	}
	v, err = c.Eval(bg, "__import__('pyctx').send(__import__('pyctx').Symbol('dead'), 1, missing_ok=True)", nil)
	if err != nil || v != false {
		t.Fatalf("send to dead: %v %v", v, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("router saw %v", seen)
	}
}

func TestAsyncCallInsideUsersOwnAsyncioRun(t *testing.T) {
	register(t, "go.twice", func(args []any) (any, error) { return args[0].(int64) * 2, nil })
	modes(t, func(t *testing.T, c *pyctx.Context) {
		bg := context.Background()
		code := "import asyncio, pyctx\n" +
			"async def main():\n" +
			"    return await asyncio.gather(*(pyctx.async_call('go.twice', i) for i in range(5)))\n"
		if err := c.Exec(bg, code); err != nil {
			t.Fatal(err)
		}
		v, err := c.Eval(bg, "asyncio.run(main())", nil)
		if err != nil || fmt.Sprint(v) != "[0 2 4 6 8]" {
			t.Fatalf("asyncio.run: %v, %v", v, err)
		}
	})
}

func TestSetupReachesRunningAndNewContexts(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go_setup_mod.py"), []byte("VALUE = 9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	running := newContext(t, pyctx.ModeWorker)
	before := pyctx.SetupGeneration()
	if err := pyctx.SetupAddPath(dir); err != nil {
		t.Fatal(err)
	}
	if err := pyctx.SetupImport("go_setup_mod"); err != nil {
		t.Fatal(err)
	}
	if g := pyctx.SetupGeneration(); g != before+2 {
		t.Fatalf("generation %d, want %d", g, before+2)
	}
	defer func() {
		_ = pyctx.SetupRemoveImport("go_setup_mod")
		_ = pyctx.SetupRemovePath(dir)
	}()
	v, err := running.Eval(bg, "__import__('sys').modules['go_setup_mod'].VALUE", nil)
	if err != nil || v != int64(9) {
		t.Fatalf("running context: %v %v", v, err)
	}
	modes(t, func(t *testing.T, c *pyctx.Context) {
		v, err := c.Eval(bg, "__import__('sys').modules['go_setup_mod'].VALUE", nil)
		if err != nil || v != int64(9) {
			t.Fatalf("new context: %v %v", v, err)
		}
	})
	if err := pyctx.SetupActivateVenv(dir); !errors.Is(err, pyctx.ErrNotFound) {
		t.Fatalf("not a venv: %v", err)
	}
}

func TestLogHandlerGetsRecords(t *testing.T) {
	var mu sync.Mutex
	var got []pyctx.LogRecord
	if err := pyctx.SetLogHandler(pyctx.LogWarning, 64, func(r pyctx.LogRecord) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r)
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pyctx.ClearLogHandler() }()
	c := newContext(t, pyctx.ModeWorker)
	code := "import logging\nlogging.getLogger('go.app').info('skipped')\nlogging.getLogger('go.app').error('bad %s', 'x')\n"
	if err := c.Exec(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	if err := pyctx.FlushLog(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Level != pyctx.LogError || got[0].Logger != "go.app" || got[0].Message != "bad x" {
		t.Fatalf("records: %+v", got)
	}
	if st := pyctx.CurrentLogStats(); st.Delivered == 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestChannelRoundTripAndBackpressure(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		bg := context.Background()
		ch, err := pyctx.NewChannel(2, false)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Free()
		for i := 1; i <= 2; i++ {
			if err := ch.Send(i, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := ch.Send(3, time.Millisecond); !errors.Is(err, pyctx.ErrTimeout) {
			t.Fatalf("send to a full channel: %v", err)
		}
		if st := ch.Stats(); st.QueuedToPython != 2 {
			t.Fatalf("stats: %+v", st)
		}
		code := fmt.Sprintf("import pyctx\nc = pyctx.Channel(%d)\nc.send(c.recv() + c.recv())\nc.close()", ch.ID())
		if err := c.Exec(bg, code); err != nil {
			t.Fatal(err)
		}
		if v, err := ch.Recv(0); err != nil || v != int64(3) {
			t.Fatalf("recv: %v %v", v, err)
		}
		if _, err := ch.Recv(0); !errors.Is(err, pyctx.ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
	})
}
