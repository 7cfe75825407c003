package pyctx

// #include "pyctx.h"
import "C"

import (
	"context"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Routing selects how a pool chooses the member of a request without a key.
type Routing int

const (
	// RouteLeastQueued (the default) picks the member with the fewest
	// queued requests, preferring at equal load one whose thread is awake.
	RouteLeastQueued Routing = C.PYCTX_POOL_LEAST_QUEUED
	// RouteRoundRobin picks the members in turn.
	RouteRoundRobin Routing = C.PYCTX_POOL_ROUND_ROBIN
	// RouteByKey routes keyed requests by key (as every pool does) and the
	// others least queued.
	RouteByKey Routing = C.PYCTX_POOL_BY_KEY
)

// ReplacePolicy is what a pool does with a member that closed or crashed.
type ReplacePolicy int

const (
	// ReplaceMember (the default) makes a new member in its place.
	ReplaceMember ReplacePolicy = C.PYCTX_POOL_REPLACE
	// LeaveMember drops it: the pool shrinks.
	LeaveMember ReplacePolicy = C.PYCTX_POOL_LEAVE
)

// MaxPoolSize is the largest pool.
const MaxPoolSize = C.PYCTX_POOL_MAX_SIZE

// PoolOptions configure NewPool. The zero value means defaults: one worker
// member, least-queued routing, unbounded queue, replacement, and 65536
// keys remembered.
type PoolOptions struct {
	// Size is the number of members, 1..MaxPoolSize (0: 1).
	Size int
	// Member are every member's options (mode, preload, queue capacity,
	// sandbox, memory limit); nil: a worker context's defaults. A Name
	// prefixes the members' names ("<name>-<member id>"). CloseTimeout is
	// not used: the pool's own applies.
	Member *ContextOptions
	// Name is the pool's name (default "pool-<n>").
	Name    string
	Routing Routing
	// QueueBound bounds the requests queued over all members (0:
	// unbounded); a submission beyond it fails with ErrQueueFull.
	QueueBound int
	Replace    ReplacePolicy
	// KeyMemory is how many keys the pool remembers to report
	// Future.KeyMoved (0: the default 65536; negative: none, never
	// reported).
	KeyMemory int
	// CloseTimeout bounds Close; zero means DefaultCloseTimeout.
	CloseTimeout time.Duration
}

// Pool is N contexts ("members") made from the same options behind one
// submit path: each request goes to the member the routing chooses, or,
// with a key (Pool.Key), always to the same member while the membership
// does not change. Every method is safe for concurrent use. Close it when
// done; an unreachable Pool is closed (without waiting) and freed by a
// finalizer.
type Pool struct {
	ptr          *C.pyctx_pool_t
	guard        *guard
	closeMu      sync.Mutex
	closeTimeout time.Duration
	name         string
}

// NewPool creates the pool and all its members (one after the other, each
// as NewContext does). If one cannot be made, those made are closed and the
// error names the member.
func (r *Runtime) NewPool(opts *PoolOptions) (*Pool, error) {
	if opts == nil {
		opts = &PoolOptions{}
	}
	if opts.QueueBound < 0 {
		return nil, newError(StatusInvalidArgument, "negative QueueBound %d", opts.QueueBound)
	}
	if opts.Size < 0 {
		return nil, newError(StatusInvalidArgument, "negative pool Size %d", opts.Size)
	}
	popts := C.pyctx_pool_options_new()
	if popts == nil {
		return nil, newError(StatusNoMemory, "allocating pool options")
	}
	defer C.pyctx_pool_options_free(popts)
	size := opts.Size
	if size == 0 {
		size = 1
	}
	if err := takeError(C.pyctx_pool_options_set_size(popts, C.size_t(size))); err != nil {
		return nil, err
	}
	if opts.Member != nil {
		copts, err := opts.Member.toC()
		if err != nil {
			return nil, err
		}
		err = takeError(C.pyctx_pool_options_set_member_options(popts, copts))
		C.pyctx_context_options_free(copts)
		if err != nil {
			return nil, err
		}
	}
	if opts.Name != "" {
		if err := withCString("pool name", opts.Name, func(s *C.char) error {
			return takeError(C.pyctx_pool_options_set_name(popts, s))
		}); err != nil {
			return nil, err
		}
	}
	if err := takeError(C.pyctx_pool_options_set_routing(popts,
		C.pyctx_pool_routing(opts.Routing))); err != nil {
		return nil, err
	}
	if err := takeError(C.pyctx_pool_options_set_queue_bound(popts,
		C.size_t(opts.QueueBound))); err != nil {
		return nil, err
	}
	if err := takeError(C.pyctx_pool_options_set_replace(popts,
		C.pyctx_pool_replace(opts.Replace))); err != nil {
		return nil, err
	}
	if opts.KeyMemory != 0 {
		keys := opts.KeyMemory
		if keys < 0 {
			keys = 0
		}
		if err := takeError(C.pyctx_pool_options_set_key_memory(popts, C.size_t(keys))); err != nil {
			return nil, err
		}
	}
	var ptr *C.pyctx_pool_t
	if err := takeError(C.pyctx_pool_create(popts, &ptr)); err != nil {
		return nil, err
	}
	p := &Pool{ptr: ptr, guard: newGuard(), closeTimeout: opts.CloseTimeout,
		name: C.GoString(C.pyctx_pool_name(ptr))}
	if p.closeTimeout <= 0 {
		p.closeTimeout = DefaultCloseTimeout
	}
	runtime.SetFinalizer(p, (*Pool).finalize)
	return p, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Size returns the number of members routed to now (0 once closed).
func (p *Pool) Size() int {
	if !p.guard.acquire() {
		return 0
	}
	defer p.guard.release()
	n := int(C.pyctx_pool_size(p.ptr))
	runtime.KeepAlive(p)
	return n
}

// Closed reports whether the pool is closed or closing.
func (p *Pool) Closed() bool {
	if !p.guard.acquire() {
		return true
	}
	defer p.guard.release()
	closed := C.pyctx_pool_is_closed(p.ptr) != 0
	runtime.KeepAlive(p)
	return closed
}

// Call calls module.function(*args) on the member the routing chooses; see
// Context.Call for the arguments and how ctx bounds the request.
func (p *Pool) Call(ctx context.Context, module, function string, args ...any) (any, error) {
	s := callSpec(module, function, args)
	s.pool = p
	v, _, err := s.run(ctx)
	return v, err
}

// CallAsync submits Call and returns at once. Request ids are unique per
// pool, so Future.Cancel finds the request on whichever member holds it.
func (p *Pool) CallAsync(ctx context.Context, module, function string, args ...any) (*Future, error) {
	s := callSpec(module, function, args)
	s.pool = p
	return s.submitAsync(ctx, &Future{pool: p})
}

// PoolKey submits a pool's requests with one routing key.
type PoolKey struct {
	pool *Pool
	key  string
}

// Key returns the submitter of requests with routing key (any bytes; ""
// means no key): while the pool's membership does not change, every
// request with the same key goes to the same member, whatever the pool's
// Routing. A key's Python state lives in its member and does not follow it
// when the member changes (resize, replacement): Future.KeyMoved reports
// such a move at the key's first request on its new member.
func (p *Pool) Key(key string) PoolKey { return PoolKey{pool: p, key: key} }

// Call is Pool.Call routed by the key.
func (k PoolKey) Call(ctx context.Context, module, function string, args ...any) (any, error) {
	s := callSpec(module, function, args)
	s.pool, s.key = k.pool, k.key
	v, _, err := s.run(ctx)
	return v, err
}

// CallAsync is Pool.CallAsync routed by the key.
func (k PoolKey) CallAsync(ctx context.Context, module, function string, args ...any) (*Future, error) {
	s := callSpec(module, function, args)
	s.pool, s.key = k.pool, k.key
	return s.submitAsync(ctx, &Future{pool: k.pool})
}

// Cancel cancels request id of this pool on whichever member holds it (see
// Future.Cancel). It returns nil also when the request has completed.
func (p *Pool) Cancel(id uint64) error {
	if !p.guard.acquire() {
		return nil // the pool is closing: the request completes as closed
	}
	err := takeError(C.pyctx_pool_cancel(p.ptr, C.uint64_t(id)))
	p.guard.release()
	runtime.KeepAlive(p)
	if e, ok := err.(*Error); ok && (e.Status == StatusNotFound || e.Status == StatusClosed) {
		return nil
	}
	return err
}

// Resize changes the number of members to size (1..MaxPoolSize). Growing
// makes the new members first (an error leaves the pool as it was).
// Shrinking takes the members with the highest slots out of the routing at
// once and lets each finish its queue for at most timeout (0: as long as it
// takes) before it closes; what is left then completes with ErrClosed.
// Resize returns once the leaving members have closed.
func (p *Pool) Resize(size int, timeout time.Duration) error {
	if size <= 0 {
		return newError(StatusInvalidArgument, "pool size %d: at least 1", size)
	}
	ms := C.uint32_t(C.PYCTX_NO_TIMEOUT)
	if timeout > 0 {
		ms = millis(timeout)
	}
	if !p.guard.acquire() {
		return &Error{Status: StatusClosed, Message: "pool is closed"}
	}
	err := takeError(C.pyctx_pool_resize(p.ptr, C.size_t(size), ms))
	p.guard.release()
	runtime.KeepAlive(p)
	return err
}

// PoolStats are a pool's counters, over every member it ever had.
type PoolStats struct {
	Size          uint64 // members routed to now
	Leaving       uint64 // members finishing their queue before closing
	Created       uint64 // members ever made (growth, replacements)
	Replaced      uint64 // members replaced after they closed
	ReplaceFailed uint64 // replacements that could not be made
	RefusedFull   uint64 // submissions refused at the queue bound
	// The members' counters, summed (see Stats).
	Completed, Failed, Cancelled, TimedOut, Closed uint64
	QueueDepth                                     uint64 // queued now over all members
	KeysKnown                                      uint64 // keys remembered for KeyMoved
}

// Stats returns the pool's counters.
func (p *Pool) Stats() (PoolStats, error) {
	if !p.guard.acquire() {
		return PoolStats{}, &Error{Status: StatusClosed, Message: "pool is closed"}
	}
	defer p.guard.release()
	var s C.pyctx_pool_stats_t
	err := takeError(C.pyctx_pool_stats(p.ptr, &s, C.size_t(unsafe.Sizeof(s))))
	runtime.KeepAlive(p)
	if err != nil {
		return PoolStats{}, err
	}
	return PoolStats{
		Size: uint64(s.size), Leaving: uint64(s.leaving), Created: uint64(s.created),
		Replaced: uint64(s.replaced), ReplaceFailed: uint64(s.replace_failed),
		RefusedFull: uint64(s.refused_full), Completed: uint64(s.completed),
		Failed: uint64(s.failed), Cancelled: uint64(s.cancelled), TimedOut: uint64(s.timed_out),
		Closed: uint64(s.closed), QueueDepth: uint64(s.queue_depth), KeysKnown: uint64(s.keys_known),
	}, nil
}

// MemberStats are one member's counters and routing state.
type MemberStats struct {
	MemberID                                       uint64 // unique in the pool, never reused (Future.Member)
	Slot                                           uint64 // its place on the ring (a replacement keeps it)
	Parked                                         bool   // its thread has parked (a hint)
	Busy                                           bool   // it runs a request (a hint)
	Completed, Failed, Cancelled, TimedOut, Closed uint64
	QueueDepth                                     uint64
	ThreadID                                       uint64
}

// MemberStats returns the counters of member index (0..Size()-1, in slot
// order); ErrNotFound when out of range.
func (p *Pool) MemberStats(index int) (MemberStats, error) {
	if index < 0 {
		return MemberStats{}, newError(StatusNotFound, "member index %d", index)
	}
	if !p.guard.acquire() {
		return MemberStats{}, &Error{Status: StatusClosed, Message: "pool is closed"}
	}
	defer p.guard.release()
	var s C.pyctx_pool_member_stats_t
	err := takeError(C.pyctx_pool_member_stats(p.ptr, C.size_t(index), &s,
		C.size_t(unsafe.Sizeof(s))))
	runtime.KeepAlive(p)
	if err != nil {
		return MemberStats{}, err
	}
	return MemberStats{
		MemberID: uint64(s.member_id), Slot: uint64(s.slot), Parked: s.parked != 0,
		Busy: s.busy != 0, Completed: uint64(s.completed), Failed: uint64(s.failed),
		Cancelled: uint64(s.cancelled), TimedOut: uint64(s.timed_out), Closed: uint64(s.closed),
		QueueDepth: uint64(s.queue_depth), ThreadID: uint64(s.thread_id),
	}, nil
}

// Member returns a Context of member index (0..Size()-1): its stats, a
// set-up Exec on every member, object handles and streams (which live in
// one context). Closing it closes that member (the pool then replaces or
// drops it per its ReplacePolicy); letting it become unreachable only
// releases the handle.
func (p *Pool) Member(index int) (*Context, error) {
	if index < 0 {
		return nil, newError(StatusNotFound, "member index %d", index)
	}
	if !p.guard.acquire() {
		return nil, &Error{Status: StatusClosed, Message: "pool is closed"}
	}
	var ptr *C.pyctx_context_t
	err := takeError(C.pyctx_pool_member_context(p.ptr, C.size_t(index), &ptr))
	p.guard.release()
	runtime.KeepAlive(p)
	if err != nil {
		return nil, err
	}
	return wrapContext(ptr, p.closeTimeout), nil
}

// Close closes the pool: new submissions fail with ErrClosed and every
// member closes as Context.Close does, all within PoolOptions.CloseTimeout
// (ErrStuck names the members whose Python did not return). Idempotent.
func (p *Pool) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if !p.guard.beginClose() {
		return nil
	}
	err := takeError(C.pyctx_pool_close(p.ptr, millis(p.closeTimeout)))
	p.guard.wait()
	C.pyctx_pool_free(p.ptr)
	p.ptr = nil
	runtime.SetFinalizer(p, nil)
	if se, ok := err.(*Error); ok && (se.Status == StatusClosed || se.Status == StatusNotRunning) {
		err = nil // closed by the engine already, e.g. at runtime shutdown
	}
	return err
}

// finalize runs when the Pool is unreachable: pyctx_pool_free closes it
// without waiting.
func (p *Pool) finalize() {
	p.guard.beginClose()
	C.pyctx_pool_free(p.ptr)
	p.ptr = nil
}
