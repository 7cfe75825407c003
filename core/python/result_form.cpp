#include "core/python/result_form.h"

#include "core/python/buffer_py.h"

namespace pyctx::core {

bool result_to_outcome(const Request &r, PyObject *value, const PyTypes &types,
                       ContextThread &thread, Outcome *out) {
    switch (r.result_form) {
        case ResultForm::buffer:
            return result_as_buffer(value, thread, out);
        case ResultForm::value:
            break;
    }
    if (python_to_cbor(value, types, out->value, &out->error)) return true;
    out->value.clear();
    return false;
}

}  // namespace pyctx::core
