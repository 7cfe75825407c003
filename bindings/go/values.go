package pyctx

import "fmt"

// Go values that stand for Python types without a native Go counterpart.
// Decoding gives, and encoding accepts:
//
//	None               nil
//	bool               bool
//	int                int64, or *big.Int beyond 64 bits (encoding also
//	                   accepts every Go integer type and big.Int)
//	float              float64 (float32 encodes too)
//	str                string
//	bytes              []byte
//	list               []any (encoding accepts any slice or array)
//	dict               map[string]any when every key is a str, otherwise
//	                   map[any]any (encoding accepts any map)
//	tuple              Tuple
//	set / frozenset    Set
//	pyctx.Symbol       Symbol
//	pyctx.HostTerm     HostTerm
//
// Map keys that Go cannot hash (bytes, tuples, frozensets, big integers)
// decode as Key, which keeps their exact CBOR encoding.

// Tuple is a Python tuple.
type Tuple []any

// Set is a Python set (or frozenset). Its elements are in Python's iteration
// order.
type Set []any

// Symbol is a pyctx.Symbol, the str subclass Python uses for atoms and other
// host identifiers (CBOR tag 39).
type Symbol string

// HostTerm is opaque host data that Python keeps and returns unchanged
// (pyctx.HostTerm).
type HostTerm []byte

// Kwargs, passed as the last argument of Call or CallAsync, become the
// keyword arguments of the Python call.
type Kwargs map[string]any

// RawCBOR is an already-encoded CBOR data item, sent verbatim.
type RawCBOR []byte

// Key is a decoded dict key or set element whose Go form cannot be a map key
// (a tuple, bytes, a frozenset, a big integer). It is comparable, encodes
// back to exactly the same CBOR, and Value returns the decoded form.
type Key struct {
	encoded string
}

// KeyOf builds the Key for v, so decoded maps can be indexed by such keys:
// m[pyctx.KeyOf(pyctx.Tuple{int64(1), int64(2)})]. v must encode the way
// Python encodes the key (e.g. a Tuple of int64, not a []any).
func KeyOf(v any) (Key, error) {
	b, err := Marshal(v)
	if err != nil {
		return Key{}, err
	}
	return Key{encoded: string(b)}, nil
}

// Value decodes the key.
func (k Key) Value() any {
	v, err := Decode([]byte(k.encoded))
	if err != nil {
		// A Key only ever holds one complete item the decoder accepted.
		panic("pyctx: corrupt Key: " + err.Error())
	}
	return v
}

// CBOR returns the key's encoding.
func (k Key) CBOR() []byte { return []byte(k.encoded) }

func (k Key) String() string { return fmt.Sprint(k.Value()) }
