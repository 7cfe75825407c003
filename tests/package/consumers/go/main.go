// An outside Go program: a struct filled from a Python dict with Unmarshal,
// and a process context (its helper found from the installed library).
package main

import (
	"context"
	"fmt"
	"os"

	pyctx "github.com/pyctx/pyctx/bindings/go"
)

type point struct {
	X     int64  `cbor:"x"`
	Y     int64  `cbor:"y"`
	Label string `cbor:"label"`
}

func main() {
	rt, err := pyctx.Init(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	defer rt.Close()
	c, err := rt.NewContext(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "context:", err)
		os.Exit(1)
	}
	defer c.Close()
	v, err := c.Eval(context.Background(), "{'x': 2, 'y': 1, 'label': 'P'}", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "eval:", err)
		os.Exit(1)
	}
	data, err := pyctx.Marshal(v)
	var p point
	if err == nil {
		err = pyctx.Unmarshal(data, &p)
	}
	if err != nil || p != (point{2, 1, "P"}) {
		fmt.Fprintf(os.Stderr, "unmarshal: %+v, %v\n", p, err)
		os.Exit(1)
	}
	child, err := rt.NewContext(&pyctx.ContextOptions{Mode: pyctx.ModeProcess})
	if err != nil {
		fmt.Fprintln(os.Stderr, "process context:", err)
		os.Exit(1)
	}
	defer child.Close()
	if v, err := child.Eval(context.Background(), "6 * 7", nil); err != nil || v != int64(42) {
		fmt.Fprintf(os.Stderr, "eval in the child: %v, %v\n", v, err)
		os.Exit(1)
	}
	fmt.Println("go outside module: ok")
}
