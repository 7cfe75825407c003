package pyctx_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/pyctx/pyctx/bindings/go"
)

// drain reads s to its end.
func drain(t *testing.T, s *pyctx.Stream) ([]any, error) {
	t.Helper()
	var got []any
	for {
		v, err := s.Next()
		if err != nil {
			return got, err
		}
		got = append(got, v)
	}
}

func TestStreamReadsAGeneratorToItsEnd(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		ctx := context.Background()
		// More items than one credit window.
		s, err := c.CallStream(ctx, testModule, "counting", 3*pyctx.StreamCredit+5)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got, err := drain(t, s)
		if err != io.EOF {
			t.Fatalf("end: %v, want io.EOF", err)
		}
		if len(got) != 3*pyctx.StreamCredit+5 {
			t.Fatalf("%d items", len(got))
		}
		for i, v := range got {
			if v != int64(i) {
				t.Fatalf("item %d = %v", i, v)
			}
		}
		if !s.Done() {
			t.Error("not done after the end")
		}
		if _, err := s.Next(); err != io.EOF {
			t.Errorf("Next after the end: %v, want io.EOF again", err)
		}

		// An async generator, ranged over as a channel.
		as, err := c.EvalStream(ctx, "__import__(m).async_counting(4)", map[string]any{"m": testModule})
		if err != nil {
			t.Fatal(err)
		}
		defer as.Close()
		var items []any
		for it := range as.Items() {
			if it.Err != nil {
				t.Fatal(it.Err)
			}
			items = append(items, it.Value)
		}
		if len(items) != 4 || items[3] != int64(30) {
			t.Errorf("async generator items %v", items)
		}
	})
}

func TestStreamEndsWithThePythonError(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	s, err := c.CallStream(context.Background(), testModule, "failing_after", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := drain(t, s)
	var pe *pyctx.PythonError
	if len(got) != 3 || !errors.As(err, &pe) || pe.Type != "ValueError" || pe.Message != "stream broke after 3" {
		t.Fatalf("items %v, end %v", got, err)
	}
	var last pyctx.StreamItem
	s2, err := c.CallStream(context.Background(), testModule, "failing_after", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	n := 0
	for it := range s2.Items() {
		n++
		last = it
	}
	if n != 2 || !errors.Is(last.Err, pyctx.ErrPython) {
		t.Errorf("%d items, last %+v", n, last)
	}
	// The call that was to make the iterator fails: the stream's end says so.
	s3, err := c.CallStream(context.Background(), testModule, "divide", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if _, err := s3.Next(); !errors.As(err, &pe) || pe.Type != "ZeroDivisionError" {
		t.Errorf("failing call: %v", err)
	}
}

func TestStreamCancelClosesTheGenerator(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		ctx := context.Background()
		s, err := c.CallStream(ctx, testModule, "endless", "cancelled")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i := 0; i < 10; i++ {
			if v, err := s.Next(); err != nil || v != int64(i) {
				t.Fatalf("item %d: %v, %v", i, v, err)
			}
		}
		if err := s.Cancel(); err != nil {
			t.Fatal(err)
		}
		// Items already on the way may still come; then the end.
		var end error
		for end == nil {
			_, end = s.Next()
		}
		if !errors.Is(end, pyctx.ErrCancelled) {
			t.Fatalf("end after Cancel: %v", end)
		}
		if v, err := c.Call(ctx, testModule, "stream_finished_tags"); err != nil || !contains(v, "cancelled") {
			t.Errorf("finished tags %v, %v: the generator's finally did not run", v, err)
		}

		// A ctx that ends cancels the stream, reported as ctx's reason.
		sctx, cancel := context.WithCancel(ctx)
		s2, err := c.CallStream(sctx, testModule, "endless", "ctx")
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if v, err := s2.Next(); err != nil || v != int64(0) {
			t.Fatalf("first item: %v, %v", v, err)
		}
		cancel()
		for end = nil; end == nil; {
			_, end = s2.Next()
		}
		if !errors.Is(end, pyctx.ErrCancelled) || !errors.Is(end, context.Canceled) {
			t.Errorf("end after ctx cancel: %v", end)
		}

		// Close before the end cancels too, and a Next after it says closed.
		s3, err := c.CallStream(ctx, testModule, "endless", "closed")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s3.Next(); err != nil {
			t.Fatal(err)
		}
		if err := s3.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s3.Next(); !errors.Is(err, pyctx.ErrClosed) {
			t.Errorf("Next after Close: %v", err)
		}
		if v, err := c.Call(ctx, testModule, "stream_finished_tags"); err != nil || !contains(v, "closed") {
			t.Errorf("finished tags %v, %v", v, err)
		}
	})
}

func TestStreamFromAnObjectMethod(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	ctx := context.Background()
	o, err := c.CallObject(ctx, testModule, "make_counter", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	s, err := o.CallMethodStream(ctx, "upto", 7)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := drain(t, s)
	if err != io.EOF || len(got) != 4 || got[0] != int64(3) || got[3] != int64(6) {
		t.Errorf("upto: %v, %v", got, err)
	}
	if err := o.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := o.CallMethodStream(ctx, "upto", 7); !errors.Is(err, pyctx.ErrInvalidArgument) {
		t.Errorf("stream of a released handle: %v, want ErrInvalidArgument", err)
	}
}

func contains(list any, s string) bool {
	items, _ := list.([]any)
	for _, it := range items {
		if it == s {
			return true
		}
	}
	return false
}
