#include "core/python/errors.h"

#include "core/python/compat.h"
#include "core/python/ref.h"

namespace pyctx::core {

namespace {

std::string utf8_of(PyObject *obj) {
    if (!obj) return {};
    PyRef s(PyObject_Str(obj));
    Py_ssize_t n = 0;
    const char *p = s ? PyUnicode_AsUTF8AndSize(s.get(), &n) : nullptr;
    if (!p) {
        PyErr_Clear();
        return "<unprintable>";
    }
    return std::string(p, static_cast<size_t>(n));
}

// "module.QualName", or the bare name for builtins.
std::string qualified_type_name(PyObject *exc) {
    PyObject *type_obj = reinterpret_cast<PyObject *>(Py_TYPE(exc));
    PyRef module(PyObject_GetAttrString(type_obj, "__module__"));
    PyRef qualname(PyObject_GetAttrString(type_obj, "__qualname__"));
    PyErr_Clear();
    std::string name = qualname ? utf8_of(qualname.get()) : std::string(Py_TYPE(exc)->tp_name);
    std::string mod = module ? utf8_of(module.get()) : std::string();
    if (!mod.empty() && mod != "builtins") name = mod + "." + name;
    return name;
}

std::string formatted_traceback(PyObject *exc) {
    PyRef tbmod(PyImport_ImportModule("traceback"));  // cached in sys.modules
    PyRef format(tbmod ? PyObject_GetAttrString(tbmod.get(), "format_exception") : nullptr);
    if (!format) {
        PyErr_Clear();
        return {};
    }
    PyRef tb(PyException_GetTraceback(exc));
    PyRef lines(PyObject_CallFunctionObjArgs(format.get(), reinterpret_cast<PyObject *>(Py_TYPE(exc)),
                                             exc, tb ? tb.get() : Py_None, nullptr));
    PyRef empty(PyUnicode_FromString(""));
    PyRef joined(lines && empty ? PyUnicode_Join(empty.get(), lines.get()) : nullptr);
    std::string text = joined ? utf8_of(joined.get()) : std::string();
    PyErr_Clear();
    return text;
}

}  // namespace

Error fetch_python_error() {
    Error e(Status::python, "");
    PyRef exc(take_raised_exception());
    if (!exc) {
        e.message = "unknown error (no Python exception set)";
        e.python_type = "SystemError";
        return e;
    }
    e.python_type = qualified_type_name(exc.get());
    e.message = utf8_of(exc.get());
    e.traceback = formatted_traceback(exc.get());
    PyErr_Clear();
    return e;
}

std::string take_python_error_text() {
    PyRef exc(take_raised_exception());
    if (!exc) return "unknown error";
    std::string text = qualified_type_name(exc.get());
    std::string msg = utf8_of(exc.get());
    if (!msg.empty()) text += ": " + msg;
    PyErr_Clear();
    return text;
}

}  // namespace pyctx::core
