package pyctx

import (
	"sync"
	"sync/atomic"
)

// guard protects a C handle against being freed while a C call uses it
// (pyctx.h forbids freeing a handle concurrently with its use) without a
// lock on the hot path: users count themselves in and out atomically, and
// the closer sets a flag and waits for the count to drain.
//
// Unlike a sync.RWMutex, acquiring never blocks, so a host function that
// re-enters a context while that context is being closed gets ErrClosed
// instead of deadlocking against the waiting closer.
type guard struct {
	state   atomic.Int64 // users in the low bits, closingBit once closing
	drained chan struct{}
	once    sync.Once
}

const closingBit = int64(1) << 62

func newGuard() *guard { return &guard{drained: make(chan struct{})} }

// acquire reports whether the handle may be used; if so, release must follow.
func (g *guard) acquire() bool {
	if g.state.Add(1)&closingBit != 0 {
		g.release()
		return false
	}
	return true
}

func (g *guard) release() {
	if g.state.Add(-1) == closingBit {
		g.once.Do(func() { close(g.drained) })
	}
}

// beginClose makes every later acquire fail. It reports false if closing
// had already begun.
func (g *guard) beginClose() bool {
	for {
		s := g.state.Load()
		if s&closingBit != 0 {
			return false
		}
		if g.state.CompareAndSwap(s, s|closingBit) {
			if s == 0 {
				g.once.Do(func() { close(g.drained) })
			}
			return true
		}
	}
}

// wait blocks until no user holds the handle (after beginClose).
func (g *guard) wait() { <-g.drained }

func (g *guard) closing() bool { return g.state.Load()&closingBit != 0 }
