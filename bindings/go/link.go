package pyctx

// The package links against libpyctx from the project's CMake build tree.
// To use another build tree, set CGO_LDFLAGS (it is placed before these flags,
// so its -L and -rpath win), e.g.
//   CGO_LDFLAGS="-L$PYCTX_BUILD_DIR -Wl,-rpath,$PYCTX_BUILD_DIR"

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../build -lpyctx -Wl,-rpath,${SRCDIR}/../../build
*/
import "C"
