package pyctx

// #include <stdlib.h>
// #include "pyctx.h"
import "C"

// Runtime-wide set-up: steps that reach every context, including those
// created later. A running context applies a step before its next request;
// a new one starts from the current state (see "Runtime-wide set-up" in
// include/pyctx.h).

func setupStep(what, arg string, f func(*C.char) *C.pyctx_error_t) error {
	c, err := cString(what, arg)
	if err != nil {
		return err
	}
	defer freeCString(c)
	return takeError(f(c))
}

// SetupAddPath prepends path to sys.path in every context.
func SetupAddPath(path string) error {
	return setupStep("path", path, func(c *C.char) *C.pyctx_error_t { return C.pyctx_setup_add_path(c) })
}

// SetupRemovePath removes path from sys.path in every context.
func SetupRemovePath(path string) error {
	return setupStep("path", path, func(c *C.char) *C.pyctx_error_t { return C.pyctx_setup_remove_path(c) })
}

// SetupImport imports module in every context, now and at the start of new ones.
func SetupImport(module string) error {
	return setupStep("module", module, func(c *C.char) *C.pyctx_error_t { return C.pyctx_setup_import(c) })
}

// SetupRemoveImport stops new contexts from importing module.
func SetupRemoveImport(module string) error {
	return setupStep("module", module, func(c *C.char) *C.pyctx_error_t { return C.pyctx_setup_remove_import(c) })
}

// SetupReload reloads module wherever it is imported.
func SetupReload(module string) error {
	return setupStep("module", module, func(c *C.char) *C.pyctx_error_t { return C.pyctx_setup_reload(c) })
}

// SetupActivateVenv activates the virtualenv at dir in every context. It
// fails with ErrNotFound when dir is not a virtualenv and ErrUnsupported
// when it was made for another Python version.
func SetupActivateVenv(dir string) error {
	return setupStep("venv dir", dir, func(c *C.char) *C.pyctx_error_t { return C.pyctx_setup_activate_venv(c) })
}

// SetupGeneration is the number of set-up steps logged so far.
func SetupGeneration() uint64 { return uint64(C.pyctx_setup_generation()) }
