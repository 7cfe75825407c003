package pyctx_test

import (
	"context"
	"math"
	"math/big"
	"reflect"
	"testing"

	"github.com/pyctx/pyctx/bindings/go"
)

const testModule = "pyctx_gotest"

func mustBig(t testing.TB, s string) *big.Int {
	t.Helper()
	z, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad big int %q", s)
	}
	return z
}

func TestRoundTripThroughPython(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		cases := []struct {
			name string
			in   any
			want any
		}{
			{"nil", nil, nil},
			{"true", true, true},
			{"false", false, false},
			{"zero", 0, int64(0)},
			{"negative", -1, int64(-1)},
			{"max int64", int64(math.MaxInt64), int64(math.MaxInt64)},
			{"min int64", int64(math.MinInt64), int64(math.MinInt64)},
			{"max uint64", uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
			{"big positive", mustBig(t, "1000000000000000000000000000000"), mustBig(t, "1000000000000000000000000000000")},
			{"big negative", mustBig(t, "-1000000000000000000000000000000"), mustBig(t, "-1000000000000000000000000000000")},
			{"small big.Int", big.NewInt(42), int64(42)},
			{"float", 1.5, 1.5},
			{"float32", float32(0.25), 0.25},
			{"inf", math.Inf(-1), math.Inf(-1)},
			{"empty string", "", ""},
			{"unicode", "héllo ✓ 𝄞", "héllo ✓ 𝄞"},
			{"bytes", []byte{0, 1, 255}, []byte{0, 1, 255}},
			{"list", []any{1, "a", nil}, []any{int64(1), "a", nil}},
			{"typed slice", []int{3, 4}, []any{int64(3), int64(4)}},
			{"str map", map[string]any{"a": 1, "b": []any{true}}, map[string]any{"a": int64(1), "b": []any{true}}},
			{"typed map", map[string]float64{"x": 2}, map[string]any{"x": 2.0}},
			{"int-key map", map[any]any{1: "one", "two": 2}, map[any]any{int64(1): "one", "two": int64(2)}},
			{"tuple", pyctx.Tuple{1, "x"}, pyctx.Tuple{int64(1), "x"}},
			{"set", pyctx.Set{3, 1, 2}, pyctx.Set{int64(1), int64(2), int64(3)}},
			{"symbol", pyctx.Symbol("ok"), pyctx.Symbol("ok")},
			{"host term", pyctx.HostTerm{9, 8, 7}, pyctx.HostTerm{9, 8, 7}},
			{"nested", []any{map[string]any{"t": pyctx.Tuple{pyctx.Set{}}}}, []any{map[string]any{"t": pyctx.Tuple{pyctx.Set{}}}}},
		}
		for _, tc := range cases {
			got, err := c.Call(context.Background(), testModule, "identity", tc.in)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: got %#v, want %#v", tc.name, got, tc.want)
			}
		}
		got, err := c.Call(context.Background(), testModule, "identity", math.NaN())
		if f, ok := got.(float64); err != nil || !ok || !math.IsNaN(f) {
			t.Errorf("NaN: got %#v, %v", got, err)
		}
	})
}

func TestPythonSeesTheRightTypes(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	cases := []struct {
		in   any
		want string
	}{
		{nil, "builtins.NoneType"},
		{7, "builtins.int"},
		{mustBig(t, "123456789012345678901234567890"), "builtins.int"},
		{2.5, "builtins.float"},
		{"s", "builtins.str"},
		{[]byte("b"), "builtins.bytes"},
		{[]any{}, "builtins.list"},
		{map[string]any{}, "builtins.dict"},
		{pyctx.Tuple{}, "builtins.tuple"},
		{pyctx.Set{1}, "builtins.set"},
		{pyctx.Symbol("atom"), "pyctx.Symbol"},
		{pyctx.HostTerm("term"), "pyctx.HostTerm"},
	}
	for _, tc := range cases {
		got, err := c.Call(context.Background(), testModule, "type_name", tc.in)
		if err != nil || got != tc.want {
			t.Errorf("type_name(%#v) = %#v, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestUnhashableKeysDecodeAsKey(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	got, err := c.Call(context.Background(), testModule, "dict_with_tuple_keys")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := got.(map[any]any)
	if !ok {
		t.Fatalf("got %T, want map[any]any", got)
	}
	lookups := map[string]any{
		"pair":  pyctx.Tuple{int64(1), int64(2)},
		"bytes": []byte("raw"),
		"big":   mustBig(t, "1000000000000000000000000000000"),
	}
	for want, key := range lookups {
		k, err := pyctx.KeyOf(key)
		if err != nil {
			t.Fatal(err)
		}
		if m[k] != want {
			t.Errorf("m[KeyOf(%v)] = %v, want %q", key, m[k], want)
		}
		if !reflect.DeepEqual(k.Value(), key) {
			t.Errorf("Key.Value() = %#v, want %#v", k.Value(), key)
		}
	}
	if m["s"] != "str" || len(m) != 4 {
		t.Errorf("unexpected map %v", m)
	}
	// A map with Key keys goes back to Python with the original keys.
	back, err := c.Call(context.Background(), testModule, "identity", m)
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Errorf("round trip of Key map: %#v, %v", back, err)
	}

	sets, err := c.Call(context.Background(), testModule, "nested_set")
	if err != nil {
		t.Fatal(err)
	}
	pair, _ := pyctx.KeyOf(pyctx.Tuple{int64(1), int64(2)})
	want := map[string]any{"s": pyctx.Set{int64(1), int64(2), int64(3)}, "fs": pyctx.Set{pair}}
	if !reflect.DeepEqual(sets, want) {
		t.Errorf("nested_set = %#v, want %#v", sets, want)
	}
}

func TestKwargsAndCoroutines(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		got, err := c.Call(context.Background(), testModule, "echo", 1, "two", pyctx.Kwargs{"x": 3})
		want := map[string]any{"args": []any{int64(1), "two"}, "kwargs": map[string]any{"x": int64(3)}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("echo = %#v, %v; want %#v", got, err, want)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for _, cx := range []context.Context{context.Background(), ctx} {
			got, err = c.Call(cx, testModule, "coro_add", 20, 22)
			if err != nil || got != int64(42) {
				t.Errorf("coro_add = %#v, %v; want 42", got, err)
			}
		}
	})
}

func TestEvalExecDefaultNamespace(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		bg := context.Background()
		got, err := c.Eval(bg, "a * b", map[string]any{"a": 6, "b": 7})
		if err != nil || got != int64(42) {
			t.Fatalf("Eval = %#v, %v", got, err)
		}
		if err := c.Exec(bg, "counter = 40\ndef bump():\n    global counter\n    counter += 1\n    return counter"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Call(bg, "__main__", "bump"); err != nil {
			t.Fatal(err)
		}
		got, err = c.Call(bg, "__main__", "bump")
		if err != nil || got != int64(42) {
			t.Fatalf("bump = %#v, %v", got, err)
		}
		got, err = c.Eval(bg, "counter", nil)
		if err != nil || got != int64(42) {
			t.Fatalf("counter = %#v, %v", got, err)
		}
	})
}
