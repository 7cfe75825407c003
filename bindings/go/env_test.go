package pyctx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pyctx/pyctx/bindings/go"
)

func TestEnvsAreSeparateNamespaces(t *testing.T) {
	modes(t, func(t *testing.T, c *pyctx.Context) {
		bg := context.Background()
		a, err := c.NewEnv()
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := c.NewEnv()
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if a.Context() != c {
			t.Error("Env.Context() is not its context")
		}
		if err := a.Exec(bg, "x = 'in a'"); err != nil {
			t.Fatal(err)
		}
		if v, err := a.Eval(bg, "x", nil); err != nil || v != "in a" {
			t.Errorf("a.x = %v, %v", v, err)
		}
		var pe *pyctx.PythonError
		if _, err := b.Eval(bg, "x", nil); !errors.As(err, &pe) || pe.Type != "NameError" {
			t.Errorf("b.x: %v, want NameError", err)
		}
		if _, err := c.Eval(bg, "x", nil); !errors.As(err, &pe) || pe.Type != "NameError" {
			t.Errorf("default namespace x: %v, want NameError", err)
		}
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		if v, err := a.Eval(ctx, "x + y", map[string]any{"y": "!"}); err != nil || v != "in a!" {
			t.Errorf("cancellable Eval with locals: %v, %v", v, err)
		}
		f, err := b.ExecAsync(bg, "x = 'in b'")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := result(t, c, f); err != nil {
			t.Fatal(err)
		}
		f, err = b.EvalAsync(bg, "x", nil)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := result(t, c, f); err != nil || v != "in b" {
			t.Errorf("b.x = %v, %v", v, err)
		}

		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Eval(bg, "1", nil); !errors.Is(err, pyctx.ErrClosed) {
			t.Errorf("Eval on closed env: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}
