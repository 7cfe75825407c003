package pyctx_test

import (
	"context"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

type lineItem struct {
	SKU      string  `cbor:"sku"`
	Quantity uint16  `cbor:"qty"`
	Price    float64 `cbor:"price"`
}

type audit struct {
	CreatedBy string `cbor:"created_by"`
}

type order struct {
	audit                         // promoted: created_by is a key of the order itself
	ID       int64                `cbor:"id"`
	Customer string               // no tag: the field name, matched case-insensitively
	Items    []lineItem           `cbor:"items"`
	Note     *string              `cbor:"note,omitempty"`
	Tags     map[string]int       `cbor:"tags"`
	Flags    [2]bool              `cbor:"flags"`
	Big      *big.Int             `cbor:"big"`
	Extra    any                  `cbor:"extra"`
	ByID     map[int64][]lineItem `cbor:"by_id"`
	Secret   string               `cbor:"-"`
	internal int                  // unexported: never set
}

func sampleOrder() order {
	note := "leave at door"
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	return order{
		audit:    audit{CreatedBy: "ops"},
		ID:       -42,
		Customer: "Zoë",
		Items:    []lineItem{{"A-1", 2, 9.5}, {"B-2", 1, 0.25}},
		Note:     &note,
		Tags:     map[string]int{"rush": 1},
		Flags:    [2]bool{true, false},
		Big:      big1,
		Extra:    []any{int64(1), "two"},
		ByID:     map[int64][]lineItem{7: {{"C-3", 3, 1}}},
	}
}

func TestUnmarshalStructRoundTripsThroughPython(t *testing.T) {
	for _, mode := range []pyctx.Mode{pyctx.ModeWorker, pyctx.ModeOwnGIL} {
		c := newContext(t, mode)
		in := sampleOrder()
		in.Secret = "not sent"
		v, err := c.Call(context.Background(), testModule, "identity", in)
		if err != nil {
			t.Fatalf("%v: call: %v", mode, err)
		}
		// What Python returned is a dict; encode it again and fill a struct.
		data, err := pyctx.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out order
		if err := pyctx.Unmarshal(data, &out); err != nil {
			t.Fatalf("%v: unmarshal: %v", mode, err)
		}
		want := sampleOrder()
		if !reflect.DeepEqual(out, want) {
			t.Errorf("%v: got %+v\nwant %+v", mode, out, want)
		}
		dict := v.(map[string]any)
		if _, ok := dict["Secret"]; ok {
			t.Errorf("a cbor:\"-\" field was encoded: %v", dict)
		}
		if dict["created_by"] != "ops" || dict["Customer"] != "Zoë" {
			t.Errorf("keys Python saw: %v", dict)
		}
	}
}

func TestUnmarshalFillsFromPythonBuiltValues(t *testing.T) {
	c := newContext(t, pyctx.ModeWorker)
	bg := context.Background()
	env, err := c.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	v, err := env.Eval(bg, "{'ID': 5, 'customer': 'lower-case key', 'items': [{'sku': 'X', 'qty': 3, 'price': 2}],"+
		" 'flags': (False, True), 'note': None, 'unknown': 1, 'big': 7, 'extra': {'k': [1]}}", nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := pyctx.Marshal(v)
	out := order{Note: new(string), internal: 9}
	if err := pyctx.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != 5 || out.Customer != "lower-case key" || out.Note != nil || out.internal != 9 {
		t.Errorf("fields: %+v", out)
	}
	// Python's int 2 fills a float64 field exactly; a tuple fills an array.
	if len(out.Items) != 1 || out.Items[0] != (lineItem{"X", 3, 2.0}) || out.Flags != [2]bool{false, true} {
		t.Errorf("items/flags: %+v %v", out.Items, out.Flags)
	}
	if out.Big.Int64() != 7 || !reflect.DeepEqual(out.Extra, map[string]any{"k": []any{int64(1)}}) {
		t.Errorf("big/extra: %v %#v", out.Big, out.Extra)
	}
}

func TestUnmarshalIntoMapsSlicesPointersInterfaces(t *testing.T) {
	data, _ := pyctx.Marshal(map[string]any{"a": []any{int64(1), int64(2)}, "b": nil})
	var m map[string][]int
	if err := pyctx.Unmarshal(data, &m); err != nil || !reflect.DeepEqual(m, map[string][]int{"a": {1, 2}, "b": nil}) {
		t.Errorf("map of slices: %v, %v", m, err)
	}
	var pp **int
	data, _ = pyctx.Marshal(12)
	if err := pyctx.Unmarshal(data, &pp); err != nil || pp == nil || *pp == nil || **pp != 12 {
		t.Errorf("pointer to pointer: %v", err)
	}
	var anything any
	data, _ = pyctx.Marshal(pyctx.Tuple{"x", 1.5})
	if err := pyctx.Unmarshal(data, &anything); err != nil || !reflect.DeepEqual(anything, pyctx.Tuple{"x", 1.5}) {
		t.Errorf("interface: %#v, %v", anything, err)
	}
	var raw []byte
	data, _ = pyctx.Marshal([]byte{0, 1, 255})
	if err := pyctx.Unmarshal(data, &raw); err != nil || !reflect.DeepEqual(raw, []byte{0, 1, 255}) {
		t.Errorf("bytes: %v, %v", raw, err)
	}
	var sym string
	data, _ = pyctx.Marshal(pyctx.Symbol("ok"))
	if err := pyctx.Unmarshal(data, &sym); err != nil || sym != "ok" {
		t.Errorf("symbol into string: %q, %v", sym, err)
	}
	// An existing map is added to, as encoding/json does.
	keep := map[string]int{"old": 1}
	data, _ = pyctx.Marshal(map[string]any{"new": 2})
	if err := pyctx.Unmarshal(data, &keep); err != nil || !reflect.DeepEqual(keep, map[string]int{"old": 1, "new": 2}) {
		t.Errorf("existing map: %v, %v", keep, err)
	}
}

func TestUnmarshalMismatchesNameTypesAndPath(t *testing.T) {
	cases := []struct {
		name string
		in   any
		into any
		want string
	}{
		{"str into int", map[string]any{"items": []any{map[string]any{"qty": "three"}}}, &order{},
			"cannot decode Python str into Go uint16 at .items[0].qty"},
		{"overflow", map[string]any{"items": []any{map[string]any{"qty": 70000}}}, &order{},
			"70000 does not fit Go uint16 at .items[0].qty"},
		{"negative into uint", -1, new(uint), "-1 does not fit Go uint"},
		{"float into int", 1.5, new(int), "cannot decode Python float into Go int"},
		{"list into struct", []any{1}, &lineItem{}, "cannot decode Python list into Go pyctx_test.lineItem"},
		{"array length", []any{true}, new([2]bool), "a list of 1 items does not fit Go [2]bool"},
		{"inexact float32", 0.1, new(float32), "does not fit Go float32 exactly"},
		{"map key type", map[string]any{"x": 1}, new(map[int]int), "cannot decode Python str into Go int at {key}"},
	}
	for _, tc := range cases {
		data, err := pyctx.Marshal(tc.in)
		if err != nil {
			t.Fatalf("%s: marshal: %v", tc.name, err)
		}
		err = pyctx.Unmarshal(data, tc.into)
		if !errors.Is(err, pyctx.ErrDecode) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrDecode containing %q", tc.name, err, tc.want)
		}
	}
	var n int
	if err := pyctx.Unmarshal([]byte{0x01}, n); !errors.Is(err, pyctx.ErrInvalidArgument) || !strings.Contains(err.Error(), "non-nil pointer") {
		t.Errorf("non-pointer: %v", err)
	}
	if err := pyctx.Unmarshal([]byte{0x18}, &n); !errors.Is(err, pyctx.ErrDecode) {
		t.Errorf("truncated CBOR: %v", err)
	}
}

func TestUnmarshalKeysAndTimeRejected(t *testing.T) {
	// A dict keyed by tuples decodes with pyctx.Key keys; they fill Key.
	k, err := pyctx.KeyOf(pyctx.Tuple{int64(1), int64(2)})
	if err != nil {
		t.Fatal(err)
	}
	data, err := pyctx.Marshal(map[any]any{k: "pair"}) // a Key encodes as its tuple
	if err != nil {
		t.Fatal(err)
	}
	var m map[pyctx.Key]string
	if err := pyctx.Unmarshal(data, &m); err != nil || m[k] != "pair" {
		t.Errorf("Key map: %v, %v", m, err)
	}
	if _, err := pyctx.Marshal(struct{ At time.Time }{time.Now()}); !errors.Is(err, pyctx.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "time.Time") {
		t.Errorf("time.Time: %v", err)
	}
}

func TestMarshalStructOmitEmptyAndPromotion(t *testing.T) {
	type inner struct{ Shared, Deep int }
	type outer struct {
		inner
		Shared int    `cbor:"Shared"` // shallower: hides inner.Shared
		Empty  string `cbor:"empty,omitempty"`
		Zero   int    `cbor:"zero"`
	}
	data, err := pyctx.Marshal(outer{inner: inner{Shared: 1, Deep: 2}, Shared: 3})
	if err != nil {
		t.Fatal(err)
	}
	got, err := pyctx.Decode(data)
	want := map[string]any{"Shared": int64(3), "Deep": int64(2), "zero": int64(0)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, %v; want %#v", got, err, want)
	}
}
