package pyctx

import (
	"math"
	"math/big"
	"reflect"
	"strconv"
)

// Unmarshal decodes one CBOR data item into the value v points to, the way
// encoding/json.Unmarshal fills Go values from JSON:
//
//   - a struct from a dict with str keys: each key sets the field named by
//     its `cbor:"name"` tag, else the field of that name, else one whose name
//     matches case-insensitively; keys with no field are ignored, `cbor:"-"`
//     fields are never set, untagged embedded structs have their fields
//     promoted;
//   - a map from a dict (keys and values converted to the map's types; a nil
//     map is made, an existing one is added to), a slice from a list, tuple
//     or set, an array from one of exactly its length, []byte from bytes;
//   - a pointer is allocated as needed and None sets it to nil (likewise
//     interfaces, maps and slices; other kinds keep their value on None);
//   - an empty interface gets what Decode returns; integers convert to any
//     integer or float type they fit exactly, floats only to float types,
//     str and Symbol to string types, *big.Int and big.Int take any int.
//
// Malformed CBOR fails as Decode does. A value that does not fit the Go type
// fails with an error matching ErrDecode that names the Python type, the Go
// type and where in the value (e.g. `.items[2].qty`); v must be a non-nil
// pointer, else the error matches ErrInvalidArgument.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return newError(StatusInvalidArgument, "cbor: Unmarshal needs a non-nil pointer, not %s", typeName(v))
	}
	tree, err := Decode(data)
	if err != nil {
		return err
	}
	return assign(rv.Elem(), tree, "")
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

var (
	bigIntType = reflect.TypeOf(big.Int{})
	bytesType  = reflect.TypeOf([]byte(nil))
)

// pythonType names the Python type a decoded value came from, for errors.
func pythonType(src any) string {
	switch src.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case Tuple:
		return "tuple"
	case Set:
		return "set"
	case map[string]any, map[any]any:
		return "dict"
	case Symbol:
		return "Symbol"
	case HostTerm:
		return "HostTerm"
	case Key:
		return "dict key"
	}
	return reflect.TypeOf(src).String()
}

func mismatch(src any, dst reflect.Type, path string) error {
	where := ""
	if path != "" {
		where = " at " + path
	}
	return newError(StatusDecode, "cbor: cannot decode Python %s into Go %s%s", pythonType(src), dst, where)
}

// assign stores src, a value as Decode returns it, into dst (settable).
func assign(dst reflect.Value, src any, path string) error {
	t := dst.Type()
	if src == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
			dst.Set(reflect.Zero(t))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		return assign(dst.Elem(), src, path)
	case reflect.Interface:
		sv := reflect.ValueOf(src)
		if !sv.Type().AssignableTo(t) {
			return mismatch(src, t, path)
		}
		dst.Set(sv)
		return nil
	}
	if t == bigIntType {
		return assignBigInt(dst, src, path)
	}
	switch t.Kind() {
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			return mismatch(src, t, path)
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := src.(int64)
		if !ok || dst.OverflowInt(n) {
			return intMismatch(src, t, path)
		}
		dst.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return assignUint(dst, src, path)
	case reflect.Float32, reflect.Float64:
		return assignFloat(dst, src, path)
	case reflect.String:
		switch s := src.(type) {
		case string:
			dst.SetString(s)
		case Symbol:
			dst.SetString(string(s))
		default:
			return mismatch(src, t, path)
		}
	case reflect.Slice:
		return assignSlice(dst, src, path)
	case reflect.Array:
		return assignArray(dst, src, path)
	case reflect.Map:
		return assignMap(dst, src, path)
	case reflect.Struct:
		// A Key (a dict key Go cannot hash) fills a Key as it is.
		if sv := reflect.ValueOf(src); sv.Type() == t {
			dst.Set(sv)
			return nil
		}
		return assignStruct(dst, src, path)
	default:
		return mismatch(src, t, path)
	}
	return nil
}

func intMismatch(src any, t reflect.Type, path string) error {
	switch n := src.(type) {
	case int64:
		return newError(StatusDecode, "cbor: %d does not fit Go %s%s", n, t, atPath(path))
	case *big.Int:
		return newError(StatusDecode, "cbor: %s does not fit Go %s%s", n, t, atPath(path))
	}
	return mismatch(src, t, path)
}

func atPath(path string) string {
	if path == "" {
		return ""
	}
	return " at " + path
}

func assignUint(dst reflect.Value, src any, path string) error {
	var u uint64
	switch n := src.(type) {
	case int64:
		if n < 0 {
			return intMismatch(src, dst.Type(), path)
		}
		u = uint64(n)
	case *big.Int:
		// Decode gives *big.Int for integers beyond int64: up to 2^64-1 fits.
		if n.Sign() < 0 || !n.IsUint64() {
			return intMismatch(src, dst.Type(), path)
		}
		u = n.Uint64()
	default:
		return mismatch(src, dst.Type(), path)
	}
	if dst.OverflowUint(u) {
		return newError(StatusDecode, "cbor: %d does not fit Go %s%s", u, dst.Type(), atPath(path))
	}
	dst.SetUint(u)
	return nil
}

func assignFloat(dst reflect.Value, src any, path string) error {
	var f float64
	switch n := src.(type) {
	case float64:
		f = n
	case int64:
		// An int converts when the float holds it exactly, like 3 -> 3.0.
		f = float64(n)
		if n != int64(f) || f == math.Exp2(63) {
			return intMismatch(src, dst.Type(), path)
		}
	case *big.Int:
		bf, acc := new(big.Float).SetInt(n).Float64()
		if acc != big.Exact {
			return intMismatch(src, dst.Type(), path)
		}
		f = bf
	default:
		return mismatch(src, dst.Type(), path)
	}
	if dst.Kind() == reflect.Float32 && float64(float32(f)) != f && !math.IsNaN(f) {
		return newError(StatusDecode, "cbor: %v does not fit Go %s exactly%s", f, dst.Type(), atPath(path))
	}
	dst.SetFloat(f)
	return nil
}

func assignBigInt(dst reflect.Value, src any, path string) error {
	target := dst.Addr().Interface().(*big.Int)
	switch n := src.(type) {
	case int64:
		target.SetInt64(n)
	case *big.Int:
		target.Set(n)
	default:
		return mismatch(src, dst.Type(), path)
	}
	return nil
}

// items gives the elements of a list, tuple or set.
func items(src any) ([]any, bool) {
	switch s := src.(type) {
	case []any:
		return s, true
	case Tuple:
		return s, true
	case Set:
		return s, true
	}
	return nil, false
}

func assignSlice(dst reflect.Value, src any, path string) error {
	t := dst.Type()
	if t.Elem().Kind() == reflect.Uint8 {
		var b []byte
		switch s := src.(type) {
		case []byte:
			b = s
		case HostTerm:
			b = s
		}
		if b != nil {
			out := reflect.MakeSlice(t, len(b), len(b))
			reflect.Copy(out, reflect.ValueOf(b))
			dst.Set(out)
			return nil
		}
	}
	list, ok := items(src)
	if !ok {
		return mismatch(src, t, path)
	}
	out := reflect.MakeSlice(t, len(list), len(list))
	for i, item := range list {
		if err := assign(out.Index(i), item, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	dst.Set(out)
	return nil
}

func assignArray(dst reflect.Value, src any, path string) error {
	t := dst.Type()
	if b, ok := src.([]byte); ok && t.Elem().Kind() == reflect.Uint8 {
		if len(b) != t.Len() {
			return newError(StatusDecode, "cbor: %d bytes do not fit Go %s%s", len(b), t, atPath(path))
		}
		reflect.Copy(dst, reflect.ValueOf(b))
		return nil
	}
	list, ok := items(src)
	if !ok {
		return mismatch(src, t, path)
	}
	if len(list) != t.Len() {
		return newError(StatusDecode, "cbor: a %s of %d items does not fit Go %s%s", pythonType(src), len(list), t,
			atPath(path))
	}
	for i, item := range list {
		if err := assign(dst.Index(i), item, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	return nil
}

func assignMap(dst reflect.Value, src any, path string) error {
	t := dst.Type()
	if dst.IsNil() {
		dst.Set(reflect.MakeMap(t))
	}
	put := func(k, v any) error {
		key := reflect.New(t.Key()).Elem()
		if err := assign(key, k, path+"{key}"); err != nil {
			return err
		}
		val := reflect.New(t.Elem()).Elem()
		if err := assign(val, v, path+"["+keyText(k)+"]"); err != nil {
			return err
		}
		dst.SetMapIndex(key, val)
		return nil
	}
	switch m := src.(type) {
	case map[string]any:
		for k, v := range m {
			if err := put(k, v); err != nil {
				return err
			}
		}
	case map[any]any:
		for k, v := range m {
			if err := put(k, v); err != nil {
				return err
			}
		}
	default:
		return mismatch(src, t, path)
	}
	return nil
}

func keyText(k any) string {
	switch k := k.(type) {
	case string:
		return strconv.Quote(k)
	case int64:
		return strconv.FormatInt(k, 10)
	}
	return pythonType(k)
}

func assignStruct(dst reflect.Value, src any, path string) error {
	fields := fieldsOf(dst.Type())
	set := func(k string, v any) error {
		f, ok := fields.lookup(k)
		if !ok {
			return nil
		}
		field, err := fieldByIndexAlloc(dst, f.index)
		if err != nil {
			return newError(StatusDecode, "cbor: %v%s", err, atPath(path))
		}
		return assign(field, v, path+"."+f.name)
	}
	switch m := src.(type) {
	case map[string]any:
		for k, v := range m {
			if err := set(k, v); err != nil {
				return err
			}
		}
	case map[any]any:
		for k, v := range m {
			name, ok := k.(string)
			if !ok {
				if sym, isSym := k.(Symbol); isSym {
					name, ok = string(sym), true
				}
			}
			if !ok {
				return newError(StatusDecode, "cbor: a dict key of type %s cannot name a field of Go %s%s",
					pythonType(k), dst.Type(), atPath(path))
			}
			if err := set(name, v); err != nil {
				return err
			}
		}
	default:
		return mismatch(src, dst.Type(), path)
	}
	return nil
}

// fieldByIndexAlloc walks to a (possibly promoted) field, allocating nil
// embedded struct pointers on the way.
func fieldByIndexAlloc(v reflect.Value, index []int) (reflect.Value, error) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return v, newError(StatusDecode, "cannot set embedded pointer to unexported %s", v.Type().Elem())
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, nil
}
