// Python 3.12: keeps finalization from freeing argument-parser keyword
// tuples that an owngil interpreter allocated.
//
// A C function that accepts keyword arguments has a static _PyArg_Parser
// (one per function, shared by every interpreter). Its keyword tuple (e.g.
// ('usedforsecurity',) for _hashlib.openssl_sha256, which hashlib calls at
// import) is made on the first call with keywords, by whichever interpreter
// calls first, from that interpreter's allocator. CPython 3.12 keeps an
// ended interpreter's blocks that are still in use, so the tuple stays
// valid; but Py_FinalizeEx frees every owned tuple with the main
// interpreter's allocator, and one from a subinterpreter aborts the process
// ("free(): invalid pointer"). After each owngil interpreter ends, every
// parser's tuple is marked not owned (initialized = -1, as CPython marks
// statically allocated tuples), so finalization leaves it alone and the
// process frees it. 3.13 is not affected; on other versions this is a no-op.
//
// CPython internals relied on (3.12 only): the layout of _PyArg_Parser
// (Include/cpython/modsupport.h, fixed within 3.12 because extensions embed
// it), and that a newly initialized parser is pushed at the head of the
// runtime's parser list, which _PyArg_UnpackKeywords does for a fresh one.
#pragma once

namespace pyctx::core {

// With the main interpreter's GIL held, after an owngil interpreter ended.
void disown_keyword_tuples();

}  // namespace pyctx::core
