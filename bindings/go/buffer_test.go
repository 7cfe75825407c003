package pyctx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/pyctx/pyctx/bindings/go"
)

func TestBufferLentToPythonWithoutACopy(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		ctx := context.Background()
		b, err := pyctx.NewBuffer(4 * 8)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if info := b.Info(); info.Len != 32 || info.Format != "B" || info.Memory != pyctx.BufferLibrary ||
			info.ReadOnly || len(b.Bytes()) != 32 {
			t.Fatalf("new buffer info %+v", info)
		}
		for i, f := range []float64{1.5, 2.5, 3, 4} {
			binary.LittleEndian.PutUint64(b.Bytes()[8*i:], math.Float64bits(f))
		}
		if err := b.SetFormat("d"); err != nil {
			t.Fatal(err)
		}
		if err := b.SetShape([]int64{2, 2}, nil); err != nil {
			t.Fatal(err)
		}
		if info := b.Info(); info.ItemSize != 8 || len(info.Shape) != 2 || info.Strides[0] != 16 {
			t.Fatalf("layout %+v", info)
		}
		v, err := c.Call(ctx, testModule, "view_info", b)
		if err != nil {
			t.Fatal(err)
		}
		info := v.(map[string]any)
		if info["format"] != "d" || info["nbytes"] != int64(32) || info["readonly"] != false ||
			info["exporter"] != "LentBuffer" {
			t.Errorf("python sees %v", info)
		}
		// Nested, twice, and through the async and cancellable paths.
		if v, err := c.Call(ctx, testModule, "view_sum", b); err != nil || v != 11.0 {
			t.Errorf("sum: %v, %v", v, err)
		}
		f, err := c.CallAsync(ctx, testModule, "echo", []any{b}, pyctx.Kwargs{"again": b})
		if err != nil {
			t.Fatal(err)
		}
		// echo returns the memoryviews, which encode as their bytes.
		echoed, err := result(t, c, f)
		if err != nil {
			t.Fatal(err)
		}
		e := echoed.(map[string]any)
		first := e["args"].([]any)[0].([]any)[0]
		if !bytes.Equal(first.([]byte), b.Bytes()) || !bytes.Equal(e["kwargs"].(map[string]any)["again"].([]byte), b.Bytes()) {
			t.Errorf("echoed views %v", echoed)
		}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if v, err := c.Call(cctx, testModule, "view_sum", b); err != nil || v != 11.0 {
			t.Errorf("cancellable sum: %v, %v", v, err)
		}
		st, err := c.BufferStats()
		if err != nil || st.LentTotal < 4 {
			t.Errorf("buffer stats %+v, %v", st, err)
		}
		// Once attached, the layout is fixed.
		if err := b.SetFormat("B"); !errors.Is(err, pyctx.ErrInvalidArgument) {
			t.Errorf("format after attaching: %v", err)
		}
	})
}

func TestBufferWrittenByPythonIsSeenByTheHost(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	b, err := pyctx.NewBuffer(16)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := c.Call(context.Background(), testModule, "view_fill", b, 7); err != nil || v != int64(16) {
		t.Fatalf("fill: %v, %v", v, err)
	}
	if !bytes.Equal(b.Bytes(), bytes.Repeat([]byte{7}, 16)) {
		t.Errorf("host sees %v", b.Bytes())
	}
	if _, err := pyctx.Marshal(b); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("Marshal of a buffer: %v", err)
	}
	if _, err := c.CallMany(context.Background(), []pyctx.Call{{Module: testModule, Function: "view_sum",
		Args: []any{b}}}); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("buffer in a batch: %v", err)
	}
	if err := b.SetShape([]int64{3}, nil); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("shape after attaching: %v", err)
	}
	b.Close()
	if _, err := c.Call(context.Background(), testModule, "view_sum", b); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("closed buffer as an argument: %v", err)
	}
	if _, err := pyctx.NewBuffer(-1); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("negative size: %v", err)
	}
}

func TestBufferTakenFromAPythonResult(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		ctx := context.Background()
		v, err := c.EvalBuffer(ctx, "bytearray(b'hello')", nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(v.Bytes()) != "hello" || v.Info().ReadOnly || v.Info().Memory != pyctx.BufferPython {
			t.Errorf("bytearray view %q %+v", v.Bytes(), v.Info())
		}
		if st, err := c.BufferStats(); err != nil || st.HeldViews != 1 {
			t.Errorf("held views %+v, %v", st, err)
		}
		v.Close()
		// The view is released on the context's thread, before the requests
		// that follow.
		stillServes(t, c)
		if st, err := c.BufferStats(); err != nil || st.HeldViews != 0 {
			t.Errorf("held views after Close %+v, %v", st, err)
		}
		d, err := c.CallBuffer(ctx, testModule, "double_array", []any{0.5, 1.5, 2.5})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		info := d.Info()
		if info.Format != "d" || info.ItemSize != 8 || len(info.Shape) != 1 || info.Shape[0] != 3 {
			t.Fatalf("array view %+v", info)
		}
		if x := math.Float64frombits(binary.LittleEndian.Uint64(d.Bytes()[16:])); x != 2.5 {
			t.Errorf("third element %v", x)
		}
		ro, err := c.EvalBuffer(ctx, "b'abc'", nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(ro.Bytes()) != "abc" || !ro.Info().ReadOnly {
			t.Errorf("bytes view %q %+v: want read-only", ro.Bytes(), ro.Info())
		}
		ro.Close()
		// A method's result, and a lent buffer passed on to an object call.
		ba, err := c.EvalObject(ctx, "bytearray(b'abc')", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ba.Close()
		up, err := ba.CallMethodBuffer(ctx, "upper")
		if err != nil {
			t.Fatal(err)
		}
		if string(up.Bytes()) != "ABC" {
			t.Errorf("upper() view %q", up.Bytes())
		}
		up.Close()
		lent, err := pyctx.NewBuffer(3)
		if err != nil {
			t.Fatal(err)
		}
		defer lent.Close()
		copy(lent.Bytes(), "xyz")
		if v, err := ba.CallMethod(ctx, "extend", lent); err != nil || v != nil {
			t.Errorf("extend(lent): %v, %v", v, err)
		}
		if v, err := c.Call(ctx, "builtins", "bytes", ba); err != nil || string(v.([]byte)) != "abcxyz" {
			t.Errorf("bytes(ba): %v, %v", v, err)
		}
		if _, err := c.EvalBuffer(ctx, "42", nil); !errors.Is(err, pyctx.ErrEncode) {
			t.Errorf("int result as a buffer: %v, want ErrEncode", err)
		}
		var pe *pyctx.PythonError
		if _, err := c.EvalBuffer(ctx, "1/0", nil); !errors.As(err, &pe) {
			t.Errorf("failing eval: %v", err)
		}
	})
}
