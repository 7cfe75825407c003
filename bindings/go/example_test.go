package pyctx_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/pyctx/pyctx/bindings/go"
)

// The whole life cycle: Python is initialized once per process.
func ExampleInit() {
	rt, err := pyctx.Init(&pyctx.Options{Paths: []string{"./python"}})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	c, err := rt.NewContext(&pyctx.ContextOptions{Mode: pyctx.ModeOwnGIL})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	v, err := c.Call(context.Background(), "math", "sqrt", 2.0)
	fmt.Println(v, err)
}

func ExampleContext_Call() {
	c, err := pyctx.Default().NewContext(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	v, err := c.Call(context.Background(), "math", "gcd", 12, 18)
	fmt.Println(v, err)
	v, err = c.Call(context.Background(), "builtins", "sorted", []int{3, 1, 2}, pyctx.Kwargs{"reverse": true})
	fmt.Println(v, err)
	// Output:
	// 6 <nil>
	// [3 2 1] <nil>
}

func ExampleContext_Call_timeout() {
	c, err := pyctx.Default().NewContext(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = c.Exec(ctx, "while True: pass") // interrupted at the deadline
	fmt.Println(errors.Is(err, pyctx.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	// Output: true true
}

func ExamplePythonError() {
	c, err := pyctx.Default().NewContext(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Eval(context.Background(), "1 / 0", nil)
	var pe *pyctx.PythonError
	if errors.As(err, &pe) {
		fmt.Println(pe.Type, "-", pe.Message)
	}
	// Output: ZeroDivisionError - division by zero
}

func ExampleContext_CallAsync() {
	c, err := pyctx.Default().NewContext(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	f, err := c.CallAsync(context.Background(), "operator", "mul", 6, 7)
	if err != nil {
		log.Fatal(err)
	}
	// ... do other work, or select on f.Done() ...
	fmt.Println(f.Result())
	// Output: 42 <nil>
}

func ExampleRegister() {
	err := pyctx.Register("greet", func(args []any) (any, error) {
		return fmt.Sprintf("hello, %v", args[0]), nil
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pyctx.Unregister("greet")

	c, err := pyctx.Default().NewContext(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	v, err := c.Eval(context.Background(), "__import__('pyctx').call('greet', 'gopher')", nil)
	fmt.Println(v, err)
	// Output: hello, gopher <nil>
}

func ExampleContext_NewEnv() {
	c, err := pyctx.Default().NewContext(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	env, err := c.NewEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()

	ctx := context.Background()
	if err := env.Exec(ctx, "def area(w, h):\n    return w * h"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(env.Eval(ctx, "area(w, 3)", map[string]any{"w": 4}))
	// Output: 12 <nil>
}
