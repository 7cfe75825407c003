package pyctx

// The package finds libpyctx through pkg-config: an installed pyctx.pc
// (PKG_CONFIG_PATH=<prefix>/lib/pkgconfig for a non-system prefix), or, for
// this repository's own tests, the pyctx.pc that test.sh generates for the
// CMake build tree. No path is baked into the package: a program built from
// it finds the library the way the system finds any other (ldconfig, an
// rpath the program's build adds through CGO_LDFLAGS, or LD_LIBRARY_PATH).

/*
#cgo pkg-config: pyctx
*/
import "C"
