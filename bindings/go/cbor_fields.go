package pyctx

import (
	"reflect"
	"strings"
	"sync"
)

// structField is one CBOR map entry of a Go struct: its key, the index path
// to the field (through embedded structs) and whether empty values are
// left out when encoding.
type structField struct {
	name      string
	index     []int
	omitEmpty bool
}

// structFields lists the entries of a struct type under encoding/json's
// rules with the `cbor` tag: exported fields only; `cbor:"name"` renames,
// `cbor:"-"` skips, `,omitempty` drops empty values when encoding; the
// fields of an untagged embedded struct are promoted, a shallower field
// hides a deeper one of the same name, and two at the same depth hide each
// other unless exactly one is tagged.
type structFields struct {
	list   []structField
	byName map[string]int
	// byFold maps lower-cased names for the case-insensitive fallback.
	byFold map[string]int
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f, _ := fieldCache.LoadOrStore(t, buildFields(t))
	return f.(*structFields)
}

type fieldCandidate struct {
	structField
	depth  int
	tagged bool
}

func buildFields(t reflect.Type) *structFields {
	var candidates []fieldCandidate
	collectFields(t, nil, 0, map[reflect.Type]bool{}, &candidates)

	// Keep, per name, the shallowest field, or the one tagged field among
	// several at that depth; drop the name when that still leaves a tie.
	best := map[string]int{}
	ambiguous := map[string]bool{}
	for i, c := range candidates {
		j, seen := best[c.name]
		if !seen {
			best[c.name] = i
			continue
		}
		prev := candidates[j]
		switch {
		case c.depth < prev.depth, c.depth == prev.depth && c.tagged && !prev.tagged:
			best[c.name] = i
			delete(ambiguous, c.name)
		case c.depth == prev.depth && c.tagged == prev.tagged:
			ambiguous[c.name] = true
		}
	}
	fields := &structFields{byName: map[string]int{}, byFold: map[string]int{}}
	for i, c := range candidates {
		if best[c.name] != i || ambiguous[c.name] {
			continue
		}
		fields.byName[c.name] = len(fields.list)
		fold := strings.ToLower(c.name)
		if _, taken := fields.byFold[fold]; !taken {
			fields.byFold[fold] = len(fields.list)
		}
		fields.list = append(fields.list, c.structField)
	}
	return fields
}

func collectFields(t reflect.Type, path []int, depth int, visiting map[reflect.Type]bool, out *[]fieldCandidate) {
	if visiting[t] {
		return
	}
	visiting[t] = true
	defer delete(visiting, t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("cbor")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		index := append(append([]int(nil), path...), i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, index, depth+1, visiting, out)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		tagged := name != ""
		if !tagged {
			name = f.Name
		}
		*out = append(*out, fieldCandidate{
			structField: structField{name: name, index: index, omitEmpty: hasOption(opts, "omitempty")},
			depth:       depth,
			tagged:      tagged,
		})
	}
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		if opt == want {
			return true
		}
	}
	return false
}

// lookup finds the field for a map key: the exact name first, then a
// case-insensitive match, as encoding/json does.
func (f *structFields) lookup(key string) (structField, bool) {
	if i, ok := f.byName[key]; ok {
		return f.list[i], true
	}
	if i, ok := f.byFold[strings.ToLower(key)]; ok {
		return f.list[i], true
	}
	return structField{}, false
}

// isEmptyValue is encoding/json's notion of empty, for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
