package pyctx

// #include "pyctx.h"
import "C"

// Sandbox is the policy a context's Python runs under (ContextOptions.Sandbox).
// A blocked operation raises PermissionError in Python (a *PythonError for
// the request) naming the operation and the policy; the host is not
// affected.
//
// In worker and owngil contexts it is enforced by an audit hook, which is no
// security boundary: C code and ctypes bypass it (see the README, "Sandbox
// and limits"). What stays allowed: reading Python's own installation and
// sys.path, AF_UNIX socket pairs (asyncio's self-pipe).
type Sandbox struct {
	// BlockProcessCreation blocks fork, exec, spawn, posix_spawn,
	// subprocess, os.system and os.popen.
	BlockProcessCreation bool
	// BlockSockets blocks opening sockets (AF_UNIX socket pairs excepted),
	// binding, connecting, sending to an address and name lookups.
	BlockSockets bool
	// RestrictFiles limits file access to Paths (and Python's own paths,
	// read-only); implied by a non-empty Paths.
	RestrictFiles bool
	// Paths are the allowed directories (or files), absolute.
	Paths []SandboxPath
}

// SandboxPath allows Path and everything beneath it.
type SandboxPath struct {
	Path     string
	ReadOnly bool
}

// apply copies the policy into C context options.
func (s *Sandbox) apply(copts *C.pyctx_context_options_t) error {
	cs := C.pyctx_sandbox_new()
	if cs == nil {
		return newError(StatusNoMemory, "allocating a sandbox")
	}
	defer C.pyctx_sandbox_free(cs)
	if s.BlockProcessCreation {
		if err := takeError(C.pyctx_sandbox_block_process_creation(cs)); err != nil {
			return err
		}
	}
	if s.BlockSockets {
		if err := takeError(C.pyctx_sandbox_block_sockets(cs)); err != nil {
			return err
		}
	}
	if s.RestrictFiles {
		if err := takeError(C.pyctx_sandbox_restrict_files(cs)); err != nil {
			return err
		}
	}
	for _, p := range s.Paths {
		readOnly := C.int(0)
		if p.ReadOnly {
			readOnly = 1
		}
		if err := withCString("sandbox path", p.Path, func(cp *C.char) error {
			return takeError(C.pyctx_sandbox_allow_path(cs, cp, readOnly))
		}); err != nil {
			return err
		}
	}
	return takeError(C.pyctx_context_options_set_sandbox(copts, cs))
}
