// pyctx._log(level, logger, message, exception, created): what the host
// handler installed in `logging` (log_install.h) calls for each record. It
// never blocks: a full queue drops the record (core/host/log_sink.h).
#pragma once

#include "core/python/ref.h"

namespace pyctx::core {

PyObject *log_py(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

}  // namespace pyctx::core
