#include "core/python/keyword_tuples.h"

#include <Python.h>

namespace pyctx::core {

#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000

namespace {

const char *const kMarkerKeywords[] = {"pyctx_marker", nullptr};

// The marker of the previous call: every parser after it in the list was
// handled then. Teardowns are serialized (and run with the main GIL).
_PyArg_Parser *g_previous = nullptr;

}  // namespace

void disown_keyword_tuples() {
    // A fresh parser goes to the head of the list when first used: from it,
    // `next` leads through every parser initialized since the last call.
    auto *marker = new _PyArg_Parser{};
    marker->keywords = kMarkerKeywords;
    marker->fname = "pyctx_marker";
    PyObject *buf[2] = {nullptr, nullptr};
    PyObject *const *none = nullptr;
    if (!_PyArg_UnpackKeywords(none, 0, nullptr, nullptr, marker, 0, 0, 0, buf)) {
        PyErr_Clear();
        if (!marker->initialized) delete marker;  // else linked: leave it be
        return;
    }
    _PyArg_Parser *pred = marker;
    for (_PyArg_Parser *p = marker->next; p; pred = p, p = p->next) {
        if (p == g_previous) {
            // Unlink the old marker; its tuple came from the main interpreter.
            pred->next = p->next;
            if (p->initialized == 1) Py_CLEAR(p->kwtuple);
            delete p;
            break;
        }
        if (p->initialized == 1) p->initialized = -1;
    }
    // The marker's own tuple is the main interpreter's: finalization may free it.
    g_previous = marker;
}

#else

void disown_keyword_tuples() {}

#endif

}  // namespace pyctx::core
