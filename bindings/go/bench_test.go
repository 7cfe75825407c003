package pyctx

import (
	"context"
	"testing"
)

// The identity round trip measured three ways in one process and run, so
// the Go API's overhead over the C API is the difference between the lines:
//
//	BenchmarkCallIdentityC            C loop over pyctx_call, prebuilt CBOR
//	BenchmarkCallIdentity             Call with context.Background() (sync path)
//	BenchmarkCallIdentityAsyncC       C loop over pyctx_call_async + callback
//	BenchmarkCallIdentityCancellable  Call with a cancellable ctx (async path)
//	BenchmarkGoSideOfCall             the Go side of a sync Call against a C
//	                                  stub: the binding's own cost per call

const benchModule, benchFunction = "pyctx_gotest", "identity"

func benchContext(b *testing.B) *Context {
	b.Helper()
	rt := Default()
	if rt == nil {
		b.Skip("runtime not initialized")
	}
	c, err := rt.NewContext(&ContextOptions{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	// Warm the module and function caches.
	if v, err := c.Call(context.Background(), benchModule, benchFunction, 1); err != nil || v != int64(1) {
		b.Fatalf("warm-up: %v, %v", v, err)
	}
	return c
}

func BenchmarkCallIdentityC(b *testing.B) {
	c := benchContext(b)
	b.ResetTimer()
	if err := benchCallLoopC(c, benchModule, benchFunction, []any{1}, b.N, false); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCallIdentityAsyncC(b *testing.B) {
	c := benchContext(b)
	b.ResetTimer()
	if err := benchCallLoopC(c, benchModule, benchFunction, []any{1}, b.N, true); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCallIdentity(b *testing.B) {
	c := benchContext(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Call(ctx, benchModule, benchFunction, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallIdentityCancellable(b *testing.B) {
	c := benchContext(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Call(ctx, benchModule, benchFunction, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGoSideOfCall(b *testing.B) {
	if v, err := benchStubCall(benchModule, benchFunction, 12345); err != nil || v != int64(12345) {
		b.Fatalf("stub call: %v, %v", v, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := benchStubCall(benchModule, benchFunction, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalDecode(b *testing.B) {
	v := map[string]any{"id": 12345, "name": "pyctx", "tags": []any{"a", "b"}, "ratio": 0.5}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		enc, err := Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// The pipelined identity call, benchBatch calls in flight at a time, per
// call (ns/op is per call):
//
//	BenchmarkPipelinedCallAsync  CallAsync of each call, then each Result
//	                             (one submission, one wake-up and one Go
//	                             callback per call)
//	BenchmarkPipelinedCallMany   CallMany of the whole batch (one
//	                             submission and wake-up per batch)
const benchBatch = 256

func BenchmarkPipelinedCallAsync(b *testing.B) {
	c := benchContext(b)
	ctx := context.Background()
	futures := make([]*Future, 0, benchBatch)
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; {
		n := benchBatch
		if left < n {
			n = left
		}
		futures = futures[:0]
		for i := 0; i < n; i++ {
			f, err := c.CallAsync(ctx, benchModule, benchFunction, 1)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			if _, err := f.Result(); err != nil {
				b.Fatal(err)
			}
		}
		left -= n
	}
}

func BenchmarkPipelinedCallMany(b *testing.B) {
	c := benchContext(b)
	ctx := context.Background()
	calls := make([]Call, benchBatch)
	for i := range calls {
		calls[i] = Call{Module: benchModule, Function: benchFunction, Args: []any{1}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; {
		n := benchBatch
		if left < n {
			n = left
		}
		results, err := c.CallMany(ctx, calls[:n])
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range results {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		left -= n
	}
}
