package pyctx

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bigInt(s string) *big.Int {
	z, _ := new(big.Int).SetString(s, 10)
	return z
}

// Vectors from RFC 8949 appendix A (plus the pyctx tags), encoded the way
// this package encodes (shortest heads, floats as float64).
func TestMarshalVectors(t *testing.T) {
	cases := []struct {
		in  any
		hex string
	}{
		{0, "00"}, {23, "17"}, {24, "1818"}, {100, "1864"}, {1000, "1903e8"},
		{1000000, "1a000f4240"}, {uint64(18446744073709551615), "1bffffffffffffffff"},
		{bigInt("18446744073709551616"), "c249010000000000000000"},
		{bigInt("-18446744073709551616"), "3bffffffffffffffff"},
		{bigInt("-18446744073709551617"), "c349010000000000000000"},
		{-1, "20"}, {-1000, "3903e7"},
		{1.1, "fb3ff199999999999a"}, {math.Inf(1), "fb7ff0000000000000"},
		{false, "f4"}, {true, "f5"}, {nil, "f6"},
		{"", "60"}, {"IETF", "6449455446"}, {"\u00fc", "62c3bc"},
		{[]byte{1, 2, 3, 4}, "4401020304"},
		{[]any{}, "80"}, {[]any{1, []any{2, 3}}, "8201820203"},
		{map[string]any{"a": 1}, "a1616101"},
		{Tuple{1}, "d9707981" + "01"}, {Set{1}, "d9010281" + "01"},
		{Symbol("ok"), "d827626f6b"}, {HostTerm{7}, "d9707a4107"},
		{RawCBOR{0xf6}, "f6"},
	}
	for _, tc := range cases {
		got, err := Marshal(tc.in)
		if err != nil || hex.EncodeToString(got) != tc.hex {
			t.Errorf("Marshal(%#v) = %x, %v; want %s", tc.in, got, err, tc.hex)
		}
	}
}

func TestDecodeVectors(t *testing.T) {
	cases := []struct {
		hex  string
		want any
	}{
		{"00", int64(0)}, {"1bffffffffffffffff", new(big.Int).SetUint64(math.MaxUint64)},
		{"c249010000000000000000", bigInt("18446744073709551616")},
		{"c349010000000000000000", bigInt("-18446744073709551617")},
		{"c24101", int64(1)}, // bignum that fits: normalized to int64
		{"3bffffffffffffffff", bigInt("-18446744073709551616")},
		{"3903e7", int64(-1000)},
		{"f90000", 0.0}, {"f93c00", 1.0}, {"f97bff", 65504.0}, {"f90001", 5.960464477539063e-08},
		{"f9c400", -4.0}, {"fa47c35000", 100000.0}, {"fb3ff199999999999a", 1.1},
		{"f97c00", math.Inf(1)}, {"f9fc00", math.Inf(-1)},
		{"f4", false}, {"f5", true}, {"f6", nil}, {"f7", nil},
		{"6449455446", "IETF"}, {"4401020304", []byte{1, 2, 3, 4}},
		{"5f42010243030405ff", []byte{1, 2, 3, 4, 5}},
		{"7f657374726561646d696e67ff", "streaming"},
		{"9f018202039f0405ffff", []any{int64(1), []any{int64(2), int64(3)}, []any{int64(4), int64(5)}}},
		{"a201020304", map[any]any{int64(1): int64(2), int64(3): int64(4)}},
		{"bf61610161629f0203ffff", map[string]any{"a": int64(1), "b": []any{int64(2), int64(3)}}},
		{"d827626f6b", Symbol("ok")}, {"d9707a4107", HostTerm{7}},
		{"d970798201f6", Tuple{int64(1), nil}},
		{"d90102820102", Set{int64(1), int64(2)}},
	}
	for _, tc := range cases {
		got, err := Decode(unhex(t, tc.hex))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Decode(%s) = %#v, %v; want %#v", tc.hex, got, err, tc.want)
		}
	}
	nan, err := Decode(unhex(t, "f97e00"))
	if f, ok := nan.(float64); err != nil || !ok || !math.IsNaN(f) {
		t.Errorf("half NaN: %#v, %v", nan, err)
	}
}

func TestDecodeErrorsNameProblemAndOffset(t *testing.T) {
	deep := bytes.Repeat([]byte{0x81}, 300)
	deep = append(deep, 0x00)
	cases := []struct {
		hex  string
		want string
	}{
		{"", "unexpected end of input at offset 0"},
		{"1a0001", "truncated item head at offset 0"},
		{"a16161", "unexpected end of input at offset 3"},
		{"8201", "array of 2 items runs past the end of input at offset 0"},
		{"0000", "1 trailing bytes after the value at offset 1"},
		{"62c328", "invalid UTF-8 in text string at offset 0"},
		{"c06161", "unsupported tag 0 at offset 0"},
		{"1c", "reserved additional information 28 at offset 0"},
		{"ff", "unexpected break at offset 0"},
		{"f0", "unsupported simple value 16 at offset 0"},
		{"5f6161ff", "invalid chunk in indefinite-length string at offset 1"},
		{"9bffffffffffffffff", "runs past the end of input at offset 0"},
		{"d82701", "symbol tag 39 must wrap a text string at offset 2"},
		{hex.EncodeToString(deep), "nesting deeper than 256 levels at offset 257"},
	}
	for _, tc := range cases {
		_, err := Decode(unhex(t, tc.hex))
		if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%s) = %v; want ErrDecode %q", tc.hex, err, tc.want)
		}
	}
}

func TestDecodedValuesDoNotAliasInput(t *testing.T) {
	in := unhex(t, "83"+"43010203"+"6161"+"d9707a4109")
	v, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0
	}
	want := []any{[]byte{1, 2, 3}, "a", HostTerm{9}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("after clobbering the input: %#v", v)
	}
}

func TestMarshalDecodeRoundTrip(t *testing.T) {
	pair, err := KeyOf(Tuple{int64(1), int64(2)})
	if err != nil {
		t.Fatal(err)
	}
	v := map[any]any{
		pair:        []any{Set{int64(1)}, Symbol("s"), bigInt("-99999999999999999999999")},
		int64(-5):   map[string]any{"nested": []any{nil, true, 2.5, []byte{}}},
		"text":      HostTerm("term"),
		Symbol("k"): Tuple{},
	}
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Errorf("round trip: %#v, %v", got, err)
	}
}
