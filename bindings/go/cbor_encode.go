package pyctx

import (
	"encoding/binary"
	"math"
	"math/big"
	"reflect"
	"time"
	"unicode/utf8"
)

// CBOR tags shared with the engine (see pyctx.h).
const (
	tagPositiveBignum = 2
	tagNegativeBignum = 3
	tagSymbol         = 39
	tagSet            = 258
	tagTuple          = 28793
	tagHostTerm       = 28794
	// maxDepth is PYCTX_CBOR_MAX_DEPTH: deeper nesting (or a cycle) is an
	// error in both directions.
	maxDepth = 256
)

const (
	majorUint   = 0 << 5
	majorNegint = 1 << 5
	majorBytes  = 2 << 5
	majorText   = 3 << 5
	majorArray  = 4 << 5
	majorMap    = 5 << 5
	majorTag    = 6 << 5
	majorSimple = 7 << 5
)

// Marshal encodes a Go value as one CBOR data item (see values.go for the
// mapping). Unsupported types, invalid UTF-8 in strings and nesting deeper
// than 256 levels fail with an error matching ErrInvalidArgument.
func Marshal(v any) ([]byte, error) {
	return appendValue(nil, v, 0, nil)
}

func appendHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= math.MaxUint8:
		return append(b, major|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, major|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, major|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, major|27), n)
	}
}

func appendInt(b []byte, n int64) []byte {
	if n >= 0 {
		return appendHead(b, majorUint, uint64(n))
	}
	return appendHead(b, majorNegint, uint64(-1-n))
}

func appendFloat(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, majorSimple|27), math.Float64bits(f))
}

func appendText(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return b, newError(StatusInvalidArgument, "cbor: string is not valid UTF-8: %q", s)
	}
	return append(appendHead(b, majorText, uint64(len(s))), s...), nil
}

func appendBytes(b []byte, p []byte) []byte {
	return append(appendHead(b, majorBytes, uint64(len(p))), p...)
}

var bigMinusOne = big.NewInt(-1)

func appendBigInt(b []byte, n *big.Int) []byte {
	if n.IsInt64() {
		return appendInt(b, n.Int64())
	}
	if n.IsUint64() {
		return appendHead(b, majorUint, n.Uint64())
	}
	if n.Sign() > 0 {
		return appendBytes(appendHead(b, majorTag, tagPositiveBignum), n.Bytes())
	}
	// Negative: CBOR stores -1 - n.
	m := new(big.Int).Sub(bigMinusOne, n)
	if m.IsUint64() {
		return appendHead(b, majorNegint, m.Uint64())
	}
	return appendBytes(appendHead(b, majorTag, tagNegativeBignum), m.Bytes())
}

func appendItems(b []byte, items []any, depth int, att *attachments) ([]byte, error) {
	b = appendHead(b, majorArray, uint64(len(items)))
	var err error
	for _, item := range items {
		if b, err = appendValue(b, item, depth, att); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendStringMap(b []byte, m map[string]any, depth int, att *attachments) ([]byte, error) {
	b = appendHead(b, majorMap, uint64(len(m)))
	var err error
	for k, v := range m {
		if b, err = appendText(b, k); err != nil {
			return b, err
		}
		if b, err = appendValue(b, v, depth, att); err != nil {
			return b, err
		}
	}
	return b, nil
}

// appendValue appends v's encoding; depth counts enclosing containers.
func appendValue(b []byte, v any, depth int, att *attachments) ([]byte, error) {
	if depth > maxDepth {
		return b, newError(StatusInvalidArgument,
			"cbor: value nested deeper than %d levels (or cyclic)", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(b, majorSimple|22), nil
	case bool:
		if x {
			return append(b, majorSimple|21), nil
		}
		return append(b, majorSimple|20), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case int16:
		return appendInt(b, int64(x)), nil
	case int8:
		return appendInt(b, int64(x)), nil
	case uint:
		return appendHead(b, majorUint, uint64(x)), nil
	case uint64:
		return appendHead(b, majorUint, x), nil
	case uint32:
		return appendHead(b, majorUint, uint64(x)), nil
	case uint16:
		return appendHead(b, majorUint, uint64(x)), nil
	case uint8:
		return appendHead(b, majorUint, uint64(x)), nil
	case uintptr:
		return appendHead(b, majorUint, uint64(x)), nil
	case float64:
		return appendFloat(b, x), nil
	case float32:
		return appendFloat(b, float64(x)), nil
	case *big.Int:
		if x == nil {
			return append(b, majorSimple|22), nil
		}
		return appendBigInt(b, x), nil
	case big.Int:
		return appendBigInt(b, &x), nil
	case string:
		return appendText(b, x)
	case []byte:
		return appendBytes(b, x), nil
	case Symbol:
		return appendText(appendHead(b, majorTag, tagSymbol), string(x))
	case HostTerm:
		return appendBytes(appendHead(b, majorTag, tagHostTerm), x), nil
	case Key:
		return append(b, x.encoded...), nil
	case *Object:
		if x == nil {
			return append(b, majorSimple|22), nil
		}
		return x.appendRef(b)
	case *Buffer:
		return att.appendBuffer(b, x)
	case RawCBOR:
		if len(x) == 0 {
			return b, newError(StatusInvalidArgument, "cbor: empty RawCBOR")
		}
		return append(b, x...), nil
	case []any:
		return appendItems(b, x, depth+1, att)
	case Tuple:
		return appendItems(appendHead(b, majorTag, tagTuple), x, depth+1, att)
	case Set:
		return appendItems(appendHead(b, majorTag, tagSet), x, depth+1, att)
	case map[string]any:
		return appendStringMap(b, x, depth+1, att)
	case Kwargs:
		return appendStringMap(b, x, depth+1, att)
	case map[any]any:
		b = appendHead(b, majorMap, uint64(len(x)))
		var err error
		for k, item := range x {
			if b, err = appendValue(b, k, depth+1, att); err != nil {
				return b, err
			}
			if b, err = appendValue(b, item, depth+1, att); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return appendReflect(b, reflect.ValueOf(v), depth, att)
}

// appendReflect covers the types the fast switch does not name: named basic
// types, other slices, arrays and maps, pointers and structs.
func appendReflect(b []byte, rv reflect.Value, depth int, att *attachments) ([]byte, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return appendValue(b, rv.Bool(), depth, att)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(b, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return appendHead(b, majorUint, rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(b, rv.Float()), nil
	case reflect.String:
		return appendText(b, rv.String())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(b, majorSimple|22), nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			p := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(p), rv)
			return appendBytes(b, p), nil
		}
		n := rv.Len()
		b = appendHead(b, majorArray, uint64(n))
		var err error
		for i := 0; i < n; i++ {
			if b, err = appendValue(b, rv.Index(i).Interface(), depth+1, att); err != nil {
				return b, err
			}
		}
		return b, nil
	case reflect.Map:
		if rv.IsNil() {
			return append(b, majorSimple|22), nil
		}
		b = appendHead(b, majorMap, uint64(rv.Len()))
		var err error
		it := rv.MapRange()
		for it.Next() {
			if b, err = appendValue(b, it.Key().Interface(), depth+1, att); err != nil {
				return b, err
			}
			if b, err = appendValue(b, it.Value().Interface(), depth+1, att); err != nil {
				return b, err
			}
		}
		return b, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(b, majorSimple|22), nil
		}
		return appendValue(b, rv.Elem().Interface(), depth+1, att)
	case reflect.Struct:
		if rv.Type() == timeType {
			// Its fields are unexported: it would encode as an empty dict.
			return b, newError(StatusInvalidArgument,
				"cbor: cannot encode time.Time (pyctx has no time type: send t.Unix() or t.Format(...))")
		}
		return appendStruct(b, rv, depth, att)
	}
	return b, newError(StatusInvalidArgument, "cbor: cannot encode Go value of type %s", rv.Type())
}

var timeType = reflect.TypeOf(time.Time{})

// appendStruct encodes a struct as a dict with str keys, under the field
// rules Unmarshal reads back (cbor_fields.go): `cbor:"name"`, `cbor:"-"`,
// `,omitempty`, promoted fields of embedded structs.
func appendStruct(b []byte, rv reflect.Value, depth int, att *attachments) ([]byte, error) {
	fields := fieldsOf(rv.Type())
	values := make([]reflect.Value, 0, len(fields.list))
	names := make([]string, 0, len(fields.list))
	for _, f := range fields.list {
		v, ok := fieldByIndex(rv, f.index)
		if !ok || (f.omitEmpty && isEmptyValue(v)) {
			continue
		}
		values = append(values, v)
		names = append(names, f.name)
	}
	b = appendHead(b, majorMap, uint64(len(values)))
	var err error
	for i, v := range values {
		if b, err = appendText(b, names[i]); err != nil {
			return b, err
		}
		if b, err = appendValue(b, v.Interface(), depth+1, att); err != nil {
			return b, err
		}
	}
	return b, nil
}

// fieldByIndex walks to a (possibly promoted) field; false when a nil
// embedded pointer is on the way, so the field does not exist.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}
