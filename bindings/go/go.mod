module github.com/pyctx/pyctx/bindings/go

go 1.19
