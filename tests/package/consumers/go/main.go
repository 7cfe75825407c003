// An outside Go program: a struct filled from a Python dict with Unmarshal.
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
	fmt.Println("go outside module: ok")
}
