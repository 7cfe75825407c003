package pyctx

// #include <stdlib.h>
// #include "pyctx.h"
import "C"

import (
	"errors"
	"unsafe"
)

// The process-wide shared store: values under text keys, shared by the host
// and every context (worker and owngil alike), each write stamped with a
// version unique in the process (never reused; 0 means absent). Python uses
// pyctx.store_get/store_entry/store_put/store_cas/store_delete/store_keys.

// StorePut stores v under key and returns its new version.
func StorePut(key string, v any) (uint64, error) {
	b, err := Marshal(v)
	if err != nil {
		return 0, err
	}
	ckey, err := cString("store key", key)
	if err != nil {
		return 0, err
	}
	defer freeCString(ckey)
	var version C.uint64_t
	err = takeError(C.pyctx_store_put(ckey, (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b)), &version))
	return uint64(version), err
}

// StoreGet returns the value of key and its version; found is false when
// the key is absent.
func StoreGet(key string) (v any, version uint64, found bool, err error) {
	ckey, err := cString("store key", key)
	if err != nil {
		return nil, 0, false, err
	}
	defer freeCString(ckey)
	var out C.pyctx_bytes_t
	var cv C.uint64_t
	if err := takeError(C.pyctx_store_get(ckey, &out, &cv)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, 0, false, nil
		}
		return nil, 0, false, err
	}
	b := C.GoBytes(unsafe.Pointer(out.data), C.int(out.len))
	C.pyctx_bytes_free(&out)
	v, err = Decode(b)
	return v, uint64(cv), err == nil, err
}

// StoreCompareAndSwap stores v only when key's version is expected (0: only
// when absent). It reports whether it stored and the entry's version
// afterwards: the new one, or the current one on a conflict (0 if absent).
func StoreCompareAndSwap(key string, expected uint64, v any) (swapped bool, version uint64, err error) {
	b, err := Marshal(v)
	if err != nil {
		return false, 0, err
	}
	ckey, err := cString("store key", key)
	if err != nil {
		return false, 0, err
	}
	defer freeCString(ckey)
	var cs C.int
	var cv C.uint64_t
	err = takeError(C.pyctx_store_cas(ckey, C.uint64_t(expected), (*C.uint8_t)(unsafe.Pointer(&b[0])),
		C.size_t(len(b)), &cs, &cv))
	return cs != 0, uint64(cv), err
}

// StoreDelete removes key (only at version expected, unless 0); it reports
// whether an entry was removed.
func StoreDelete(key string, expected uint64) (bool, error) {
	ckey, err := cString("store key", key)
	if err != nil {
		return false, err
	}
	defer freeCString(ckey)
	var deleted C.int
	err = takeError(C.pyctx_store_delete(ckey, C.uint64_t(expected), &deleted))
	return deleted != 0, err
}

// StoreKeys returns the keys starting with prefix, sorted.
func StoreKeys(prefix string) ([]string, error) {
	var cprefix *C.char
	if prefix != "" {
		var err error
		if cprefix, err = cString("store key prefix", prefix); err != nil {
			return nil, err
		}
		defer freeCString(cprefix)
	}
	var out C.pyctx_bytes_t
	if err := takeError(C.pyctx_store_keys(cprefix, &out)); err != nil {
		return nil, err
	}
	b := C.GoBytes(unsafe.Pointer(out.data), C.int(out.len))
	C.pyctx_bytes_free(&out)
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	items, _ := v.([]any)
	keys := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			keys = append(keys, s)
		}
	}
	return keys, nil
}
