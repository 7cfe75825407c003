package pyctx

// #include <stdlib.h>
// #include "pyctx.h"
import "C"

import (
	"errors"
	"time"
	"unsafe"
)

// Channel is the host's end of a bounded two-way queue with Python code in
// a context, with backpressure both ways. Python opens it by id:
// ch = pyctx.Channel(id); ch.recv() (or await ch.recv()); ch.send(v).
// Close (or Free) ends it: every waiter wakes and sees the end.
type Channel struct {
	c     *C.pyctx_channel_t
	bytes bool
}

// ChannelStats are the counters of one channel.
type ChannelStats struct {
	ToPython, FromPython         uint64 // values each side received
	QueuedToPython, QueuedToHost uint64
}

// NewChannel makes a channel of up to capacity values per direction;
// bytesMode makes a byte channel (SendBytes/RecvBytes; Python sees bytes).
func NewChannel(capacity int, bytesMode bool) (*Channel, error) {
	if capacity <= 0 {
		return nil, newError(StatusInvalidArgument, "channel capacity must be positive")
	}
	var c *C.pyctx_channel_t
	b := C.int(0)
	if bytesMode {
		b = 1
	}
	if err := takeError(C.pyctx_channel_new(C.size_t(capacity), b, &c)); err != nil {
		return nil, err
	}
	return &Channel{c: c, bytes: bytesMode}, nil
}

// ID is what Python opens the channel by.
func (ch *Channel) ID() uint64 { return uint64(C.pyctx_channel_id(ch.c)) }

// Send sends v, waiting up to timeout (0: as long as it takes) for room.
func (ch *Channel) Send(v any, timeout time.Duration) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	return ch.sendRaw(b, timeout)
}

// SendBytes sends raw bytes on a byte channel.
func (ch *Channel) SendBytes(data []byte, timeout time.Duration) error {
	if !ch.bytes {
		return newError(StatusInvalidArgument, "SendBytes needs a byte channel")
	}
	return ch.sendRaw(data, timeout)
}

func (ch *Channel) sendRaw(b []byte, timeout time.Duration) error {
	var p *C.uint8_t
	if len(b) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&b[0]))
	}
	ms := C.uint32_t(C.PYCTX_NO_TIMEOUT)
	if timeout > 0 {
		ms = millis(timeout)
	}
	return takeError(C.pyctx_channel_send(ch.c, p, C.size_t(len(b)), ms))
}

// Recv returns the next value Python sent, waiting up to timeout (0: as
// long as it takes); ErrClosed once closed and drained.
func (ch *Channel) Recv(timeout time.Duration) (any, error) {
	b, err := ch.recvRaw(timeout)
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// RecvBytes returns the next raw bytes from a byte channel.
func (ch *Channel) RecvBytes(timeout time.Duration) ([]byte, error) {
	if !ch.bytes {
		return nil, newError(StatusInvalidArgument, "RecvBytes needs a byte channel")
	}
	return ch.recvRaw(timeout)
}

// TryRecv returns the next value if one is waiting (ok false otherwise).
func (ch *Channel) TryRecv() (v any, ok bool, err error) {
	var out C.pyctx_bytes_t
	if err := takeError(C.pyctx_channel_try_recv(ch.c, &out)); err != nil {
		if errors.Is(err, ErrTimeout) {
			return nil, false, nil
		}
		return nil, false, err
	}
	b := C.GoBytes(unsafe.Pointer(out.data), C.int(out.len))
	C.pyctx_bytes_free(&out)
	v, err = Decode(b)
	return v, err == nil, err
}

func (ch *Channel) recvRaw(timeout time.Duration) ([]byte, error) {
	ms := C.uint32_t(C.PYCTX_NO_TIMEOUT)
	if timeout > 0 {
		ms = millis(timeout)
	}
	var out C.pyctx_bytes_t
	if err := takeError(C.pyctx_channel_recv(ch.c, ms, &out)); err != nil {
		return nil, err
	}
	b := C.GoBytes(unsafe.Pointer(out.data), C.int(out.len))
	C.pyctx_bytes_free(&out)
	return b, nil
}

// Close closes both directions.
func (ch *Channel) Close() { C.pyctx_channel_close(ch.c) }

// Free closes the channel and releases the handle; not concurrently with
// other calls on it.
func (ch *Channel) Free() {
	if ch.c != nil {
		C.pyctx_channel_free(ch.c)
		ch.c = nil
	}
}

// Stats reads the channel's counters.
func (ch *Channel) Stats() ChannelStats {
	var s C.pyctx_channel_stats_t
	C.pyctx_channel_stats(ch.c, &s)
	return ChannelStats{uint64(s.to_python), uint64(s.from_python), uint64(s.queued_to_python),
		uint64(s.queued_to_host)}
}
