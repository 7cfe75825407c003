package pyctx_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/pyctx/pyctx/bindings/go"
)

// An object handle keeps a compiled regex in its context.
func ExampleContext_EvalObject() {
	c, err := pyctx.Default().NewContext(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	rx, err := c.EvalObject(ctx, "__import__('re').compile(r'\\d+')", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rx.Close()
	fmt.Println(rx.CallMethod(ctx, "findall", "a1b22"))
	fmt.Println(rx.GetAttr(ctx, "pattern"))
	// Passed back, Python receives the object itself.
	fmt.Println(c.Eval(ctx, "len(rx.split('x1y2z'))", map[string]any{"rx": rx}))
	// Output:
	// [1 22] <nil>
	// \d+ <nil>
	// 3 <nil>
}

// A stream reads a generator item by item.
func ExampleContext_EvalStream() {
	c, err := pyctx.Default().NewContext(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	s, err := c.EvalStream(context.Background(), "(i * i for i in range(4))", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for {
		v, err := s.Next()
		if err == io.EOF {
			break
		}
		fmt.Println(v, err)
	}
	// Output:
	// 0 <nil>
	// 1 <nil>
	// 4 <nil>
	// 9 <nil>
}

// A pool routes each key to one member.
func ExamplePool_Key() {
	p, err := pyctx.Default().NewPool(&pyctx.PoolOptions{Size: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()

	user := p.Key("user:42")
	first, _ := user.CallAsync(ctx, "threading", "get_native_id")
	second, _ := user.CallAsync(ctx, "threading", "get_native_id")
	a, _ := first.Result()
	b, _ := second.Result()
	fmt.Println(a == b, first.Member() == second.Member())
	// Output:
	// true true
}
