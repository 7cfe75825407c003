// Borrowed buffers on the Python side, both directions, in one interpreter:
//  - host -> Python: pyctx.LentBuffer, a small exporter of a lent Buffer
//    (core/request/buffers.h) through the buffer protocol; Python gets a
//    memoryview over it, so numpy.frombuffer, bytes() and hashlib read the
//    host's memory itself. The exporter holds one lease on the Buffer, so
//    the loan ends only when Python dropped the last view.
//  - Python -> host: a buffer-protocol result pinned (PyBuffer) for the
//    host, released on the context thread once the host lets go.
// Every function runs on a context thread with its GIL held.
#pragma once

#include "core/python/convert.h"  // Python.h, PyTypes

#include <string>

#include "core/request/buffers.h"
#include "core/request/request.h"

namespace pyctx::core {

class ContextThread;

// pyctx.LentBuffer, created per interpreter by the pyctx module.
extern PyType_Spec lent_buffer_spec;

// Tag kTagBuffer while decoding: a memoryview over buffer `index` of
// types.lent. nullptr with *problem set (no Python exception) when there is
// no such buffer; nullptr with a Python exception set and *problem empty
// when Python failed.
PyObject *lent_buffer_view(const PyTypes &types, uint64_t index, std::string *problem);

// ResultForm::buffer: pins `result`'s buffer for the host in out->buffer.
// False with out->error (Status::encode) when `result` has no buffer view
// the host can read (no buffer protocol, or an indirect one).
bool result_as_buffer(PyObject *result, ContextThread &thread, Outcome *out);

// Releases the pinned views the host let go of (the ledger's queue).
void release_host_views(BufferLedger &ledger);
// Closing: releases views as the host lets go of them, until it holds none.
// Waits with the GIL released.
void wait_host_views(BufferLedger &ledger);

}  // namespace pyctx::core
