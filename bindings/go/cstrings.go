package pyctx

// #include <stdint.h>
// #include <stdlib.h>
import "C"

import (
	"strings"
	"time"
	"unsafe"
)

// checkText rejects strings C would silently truncate.
func checkText(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return newError(StatusInvalidArgument, "%s contains a NUL byte", what)
	}
	return nil
}

// cString is C.CString after checkText; free it with freeCString.
func cString(what, s string) (*C.char, error) {
	if err := checkText(what, s); err != nil {
		return nil, err
	}
	return C.CString(s), nil
}

func freeCString(p *C.char) { C.free(unsafe.Pointer(p)) }

// millis converts d to whole milliseconds for the C API, rounding up so a
// deadline never fires early, clamped to [1, MaxUint32].
func millis(d time.Duration) C.uint32_t {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	switch {
	case ms < 1:
		return 1
	case ms > 0xffffffff:
		return 0xffffffff
	}
	return C.uint32_t(ms)
}
