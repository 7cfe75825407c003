package pyctx

import (
	"encoding/binary"
	"math"
	"math/big"
	"unicode/utf8"
)

// Decode decodes exactly one CBOR data item into the Go types values.go
// lists (Unmarshal fills a Go value of the caller's type instead). Malformed or truncated input, trailing bytes, invalid
// UTF-8, unknown tags and nesting deeper than 256 levels fail with an error
// matching ErrDecode that names the problem and its byte offset.
func Decode(data []byte) (any, error) {
	d := decoder{data: data}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.data) {
		return nil, d.fail(d.pos, "%d trailing bytes after the value", len(d.data)-d.pos)
	}
	return v, nil
}

// decoder reads from data, which it never retains: every string, byte
// string and key is copied, so callers may decode straight from C memory or
// a reused buffer.
type decoder struct {
	data []byte
	pos  int
}

func (d *decoder) fail(offset int, format string, args ...any) error {
	e := newError(StatusDecode, format, args...)
	e.Message = "cbor: " + e.Message + " at offset " + itoa(offset)
	return e
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}

// head reads an item head: its major type, additional info and argument.
// For indefinite lengths (info 31) arg is 0.
func (d *decoder) head() (major byte, info byte, arg uint64, err error) {
	start := d.pos
	if d.pos >= len(d.data) {
		return 0, 0, 0, d.fail(start, "unexpected end of input")
	}
	ib := d.data[d.pos]
	d.pos++
	major, info = ib&0xe0, ib&0x1f
	var size int
	switch {
	case info < 24:
		return major, info, uint64(info), nil
	case info == 24:
		size = 1
	case info == 25:
		size = 2
	case info == 26:
		size = 4
	case info == 27:
		size = 8
	case info == 31:
		if major == majorUint || major == majorNegint || major == majorTag {
			return 0, 0, 0, d.fail(start, "indefinite length not allowed for major type %d", major>>5)
		}
		return major, info, 0, nil
	default:
		return 0, 0, 0, d.fail(start, "reserved additional information %d", info)
	}
	if len(d.data)-d.pos < size {
		return 0, 0, 0, d.fail(start, "truncated item head")
	}
	p := d.data[d.pos : d.pos+size]
	d.pos += size
	switch size {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	return major, info, arg, nil
}

// payload returns the next n bytes of a definite string, borrowed.
func (d *decoder) payload(start int, n uint64) ([]byte, error) {
	if n > uint64(len(d.data)-d.pos) {
		return nil, d.fail(start, "string of %d bytes runs past the end of input", n)
	}
	p := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return p, nil
}

// stringBytes reads a byte or text string (major already read) into a fresh
// slice, joining indefinite-length chunks.
func (d *decoder) stringBytes(start int, major, info byte, n uint64) ([]byte, error) {
	if info != 31 {
		p, err := d.payload(start, n)
		if err != nil {
			return nil, err
		}
		out := make([]byte, len(p))
		copy(out, p)
		return out, nil
	}
	out := []byte{}
	for {
		chunkStart := d.pos
		if d.pos < len(d.data) && d.data[d.pos] == 0xff {
			d.pos++
			return out, nil
		}
		m, ci, cn, err := d.head()
		if err != nil {
			return nil, err
		}
		if m != major || ci == 31 {
			return nil, d.fail(chunkStart, "invalid chunk in indefinite-length string")
		}
		p, err := d.payload(chunkStart, cn)
		if err != nil {
			return nil, err
		}
		out = append(out, p...)
	}
}

func (d *decoder) text(start int, info byte, n uint64) (string, error) {
	if info != 31 {
		p, err := d.payload(start, n)
		if err != nil {
			return "", err
		}
		if !utf8.Valid(p) {
			return "", d.fail(start, "invalid UTF-8 in text string")
		}
		return string(p), nil
	}
	p, err := d.stringBytes(start, majorText, info, n)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(p) {
		return "", d.fail(start, "invalid UTF-8 in text string")
	}
	return string(p), nil
}

// atBreak consumes a break byte if one is next.
func (d *decoder) atBreak() bool {
	if d.pos < len(d.data) && d.data[d.pos] == 0xff {
		d.pos++
		return true
	}
	return false
}

// capHint bounds preallocation by what the remaining input could hold, so
// a forged count cannot make us allocate gigabytes.
func (d *decoder) capHint(n uint64) int {
	if rest := uint64(len(d.data) - d.pos); n > rest {
		return int(rest)
	}
	return int(n)
}

func (d *decoder) array(start int, info byte, n uint64, depth int) ([]any, error) {
	if info == 31 {
		items := []any{}
		for !d.atBreak() {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return items, nil
	}
	if n > uint64(len(d.data)-d.pos) {
		return nil, d.fail(start, "array of %d items runs past the end of input", n)
	}
	items := make([]any, 0, d.capHint(n))
	for i := uint64(0); i < n; i++ {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

// mapValue decodes a map: map[string]any while every key is a string,
// switching to map[any]any at the first other key.
func (d *decoder) mapValue(start int, info byte, n uint64, depth int) (any, error) {
	if info != 31 && n > uint64(len(d.data)-d.pos)/2 {
		return nil, d.fail(start, "map of %d pairs runs past the end of input", n)
	}
	hint := 0
	if info != 31 {
		hint = d.capHint(n)
	}
	strMap := make(map[string]any, hint)
	var anyMap map[any]any
	for i := uint64(0); info == 31 || i < n; i++ {
		if info == 31 && d.atBreak() {
			break
		}
		k, err := d.key(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if anyMap == nil {
			if s, ok := k.(string); ok {
				strMap[s] = v
				continue
			}
			anyMap = make(map[any]any, hint)
			for sk, sv := range strMap {
				anyMap[sk] = sv
			}
		}
		anyMap[k] = v
	}
	if anyMap != nil {
		return anyMap, nil
	}
	return strMap, nil
}

// key decodes a map key or set element; values Go cannot hash become Key.
func (d *decoder) key(depth int) (any, error) {
	start := d.pos
	v, err := d.value(depth)
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case nil, bool, int64, float64, string, Symbol:
		return v, nil
	}
	return Key{encoded: string(d.data[start:d.pos])}, nil
}

func (d *decoder) tagged(start int, tag uint64, depth int) (any, error) {
	itemStart := d.pos
	switch tag {
	case tagPositiveBignum, tagNegativeBignum:
		major, info, n, err := d.head()
		if err != nil {
			return nil, err
		}
		if major != majorBytes {
			return nil, d.fail(itemStart, "bignum tag %d must wrap a byte string", tag)
		}
		p, err := d.stringBytes(itemStart, major, info, n)
		if err != nil {
			return nil, err
		}
		z := new(big.Int).SetBytes(p)
		if tag == tagNegativeBignum {
			z.Sub(bigMinusOne, z)
		}
		if z.IsInt64() {
			return z.Int64(), nil
		}
		return z, nil
	case tagSymbol:
		major, info, n, err := d.head()
		if err != nil {
			return nil, err
		}
		if major != majorText {
			return nil, d.fail(itemStart, "symbol tag 39 must wrap a text string")
		}
		s, err := d.text(itemStart, info, n)
		return Symbol(s), err
	case tagHostTerm:
		major, info, n, err := d.head()
		if err != nil {
			return nil, err
		}
		if major != majorBytes {
			return nil, d.fail(itemStart, "host term tag %d must wrap a byte string", tag)
		}
		p, err := d.stringBytes(itemStart, major, info, n)
		return HostTerm(p), err
	case tagTuple, tagSet:
		if depth+1 > maxDepth {
			return nil, d.fail(itemStart, "nesting deeper than %d levels", maxDepth)
		}
		major, info, n, err := d.head()
		if err != nil {
			return nil, err
		}
		if major != majorArray {
			return nil, d.fail(itemStart, "tag %d must wrap an array", tag)
		}
		if tag == tagTuple {
			items, err := d.array(itemStart, info, n, depth+1)
			return Tuple(items), err
		}
		items, err := d.setItems(itemStart, info, n, depth+1)
		return Set(items), err
	}
	return nil, d.fail(start, "unsupported tag %d", tag)
}

// setItems decodes set elements as keys (they are hashable in Python).
func (d *decoder) setItems(start int, info byte, n uint64, depth int) ([]any, error) {
	if info != 31 && n > uint64(len(d.data)-d.pos) {
		return nil, d.fail(start, "set of %d items runs past the end of input", n)
	}
	items := make([]any, 0, d.capHint(n))
	for i := uint64(0); info == 31 || i < n; i++ {
		if info == 31 && d.atBreak() {
			break
		}
		v, err := d.key(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

func halfToFloat(h uint16) float64 {
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(mant, -24)
	case 31:
		if mant == 0 {
			v = math.Inf(1)
		} else {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(mant+1024, exp-25)
	}
	if h&0x8000 != 0 {
		return -v
	}
	return v
}

func (d *decoder) value(depth int) (any, error) {
	start := d.pos
	if depth > maxDepth {
		return nil, d.fail(start, "nesting deeper than %d levels", maxDepth)
	}
	major, info, arg, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case majorUint:
		if arg <= math.MaxInt64 {
			return int64(arg), nil
		}
		return new(big.Int).SetUint64(arg), nil
	case majorNegint:
		if arg <= math.MaxInt64 {
			return -1 - int64(arg), nil
		}
		z := new(big.Int).SetUint64(arg)
		return z.Sub(bigMinusOne, z), nil
	case majorBytes:
		return d.stringBytes(start, major, info, arg)
	case majorText:
		return d.text(start, info, arg)
	case majorArray:
		return d.array(start, info, arg, depth)
	case majorMap:
		return d.mapValue(start, info, arg, depth)
	case majorTag:
		return d.tagged(start, arg, depth)
	}
	// Major type 7: simple values and floats.
	switch info {
	case 20:
		return false, nil
	case 21:
		return true, nil
	case 22, 23:
		return nil, nil
	case 25:
		return halfToFloat(uint16(arg)), nil
	case 26:
		return float64(math.Float32frombits(uint32(arg))), nil
	case 27:
		return math.Float64frombits(arg), nil
	case 31:
		return nil, d.fail(start, "unexpected break")
	}
	return nil, d.fail(start, "unsupported simple value %d", arg)
}
