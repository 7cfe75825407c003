// pyctx.send(target, value, missing_ok=False): a message to the host that
// does not wait for an answer (core/host/endpoints.h).
#pragma once

#include "core/python/ref.h"

namespace pyctx::core {

PyObject *send_py(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);

}  // namespace pyctx::core
