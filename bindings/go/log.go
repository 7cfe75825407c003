package pyctx

// #include "shims_talk.h"
import "C"

import (
	"runtime/cgo"
	"time"
)

// Python logging levels.
const (
	LogDebug    = 10
	LogInfo     = 20
	LogWarning  = 30
	LogError    = 40
	LogCritical = 50
)

// LogRecord is one Python logging record. (log/slog, which this maps onto
// naturally, needs Go 1.21; the module supports 1.19, so it is a callback.)
type LogRecord struct {
	Level     int
	Logger    string
	Message   string
	Exception string // formatted exception and stack, or ""
	Context   string // the context's name, "" for other Python threads
	Created   time.Time
}

// LogStats are the delivery counters since the process started.
type LogStats struct {
	Delivered, Dropped uint64
}

// SetLogHandler routes every context's Python logging records at or above
// minLevel to fn, called on the library's log thread, one record at a time,
// in order. Python never waits for fn: when capacity records are queued the
// next ones are dropped and counted. A panic in fn is recovered.
func SetLogHandler(minLevel, capacity int, fn func(LogRecord)) error {
	if fn == nil {
		return ClearLogHandler()
	}
	if capacity <= 0 {
		return newError(StatusInvalidArgument, "log capacity must be positive")
	}
	h := cgo.NewHandle(fn)
	if err := takeError(C.pyctxgo_log_set_handler(C.uintptr_t(h), C.int(minLevel), C.size_t(capacity))); err != nil {
		h.Delete()
		return err
	}
	return nil
}

// ClearLogHandler removes the log handler.
func ClearLogHandler() error {
	return takeError(C.pyctx_log_set_handler(nil, nil, nil, 0, 0))
}

// FlushLog waits until every queued record has been handled.
func FlushLog(timeout time.Duration) error {
	return takeError(C.pyctx_log_flush(millis(timeout)))
}

// CurrentLogStats reads the delivery counters.
func CurrentLogStats() LogStats {
	var s C.pyctx_log_stats_t
	C.pyctx_log_stats(&s)
	return LogStats{Delivered: uint64(s.delivered), Dropped: uint64(s.dropped)}
}

//export goPyctxLog
func goPyctxLog(handle C.uintptr_t, level C.int, logger, message, exception, contextName *C.char,
	created C.double) {
	defer func() { _ = recover() }()
	fn := cgo.Handle(handle).Value().(func(LogRecord))
	secs := float64(created)
	fn(LogRecord{
		Level: int(level), Logger: C.GoString(logger), Message: C.GoString(message),
		Exception: C.GoString(exception), Context: C.GoString(contextName),
		Created: time.Unix(0, int64(secs*1e9)),
	})
}
