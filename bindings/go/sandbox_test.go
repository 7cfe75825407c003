package pyctx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pyctx/pyctx/bindings/go"
)

func TestSandboxBlocksProcessCreation(t *testing.T) {
	for _, mode := range []pyctx.Mode{pyctx.ModeWorker, pyctx.ModeOwnGIL} {
		mode := mode
		t.Run(mode.String(), func(t *testing.T) {
			if mode == pyctx.ModeOwnGIL && !pyctx.OwnGILSupported() {
				t.Skip("owngil needs Python 3.12+")
			}
			opts := contextOptions(mode)
			opts.Name = "sandboxed"
			opts.Sandbox = &pyctx.Sandbox{BlockProcessCreation: true}
			c, err := pyctx.Default().NewContext(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Exec(context.Background(), "import subprocess\nsubprocess.run(['true'])")
			var pe *pyctx.PythonError
			if !errors.As(err, &pe) || pe.Type != "PermissionError" {
				t.Fatalf("subprocess.run: %v, want PermissionError", err)
			}
			if !strings.Contains(pe.Message, "subprocess.Popen") ||
				!strings.Contains(pe.Message, "process creation blocked") {
				t.Errorf("message does not name the operation and policy: %q", pe.Message)
			}
			// Other operations stay possible.
			if err := c.Exec(context.Background(), "import socket\nsocket.socket().close()"); err != nil {
				t.Errorf("socket under a process-only policy: %v", err)
			}
		})
	}
}

func TestMemoryLimitNeedsOwnGIL(t *testing.T) {
	opts := contextOptions(pyctx.ModeWorker)
	opts.MemoryLimit = 64 << 20
	c, err := pyctx.Default().NewContext(opts)
	if err == nil {
		c.Close()
		t.Fatal("a worker context accepted a memory limit")
	}
	if !errors.Is(err, pyctx.ErrUnsupported) {
		t.Errorf("got %v, want ErrUnsupported", err)
	}
}
