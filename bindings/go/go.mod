module pyctx.dev/pyctx

go 1.19
