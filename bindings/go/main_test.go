package pyctx_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pyctx/pyctx/bindings/go"
)

// TestMain initializes Python once for the whole test binary (it can only be
// initialized once per process) and shuts it down at the end.
func TestMain(m *testing.M) {
	var err error
	testdata, err = filepath.Abs("testdata")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rt, err := pyctx.Init(&pyctx.Options{Paths: []string{testdata}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pyctx.Init:", err)
		os.Exit(2)
	}
	code := m.Run()
	if err := rt.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "pyctx shutdown:", err)
		if code == 0 {
			code = 1
		}
	}
	if st := pyctx.CurrentState(); st != pyctx.StateStopped && code == 0 {
		fmt.Fprintln(os.Stderr, "runtime state after shutdown:", st)
		code = 1
	}
	os.Exit(code)
}

// testdata is the absolute path of the test's Python module directory.
var testdata string

// contextOptions are the options of test contexts (TestMain puts the test
// module on sys.path through Options.Paths).
func contextOptions(mode pyctx.Mode) *pyctx.ContextOptions {
	return &pyctx.ContextOptions{Mode: mode}
}

// newContext creates a context closed at the end of the test.
func newContext(t testing.TB, mode pyctx.Mode) *pyctx.Context {
	t.Helper()
	c, err := pyctx.Default().NewContext(contextOptions(mode))
	if err != nil {
		t.Fatalf("NewContext(%v): %v", mode, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// modes runs fn as a subtest in each context mode.
func modes(t *testing.T, fn func(t *testing.T, c *pyctx.Context)) {
	for _, mode := range []pyctx.Mode{pyctx.ModeWorker, pyctx.ModeOwnGIL} {
		mode := mode
		t.Run(mode.String(), func(t *testing.T) {
			if mode == pyctx.ModeOwnGIL && !pyctx.OwnGILSupported() {
				t.Skip("owngil needs Python 3.12+")
			}
			fn(t, newContext(t, mode))
		})
	}
}
