#include "core/python/log_py.h"

#include "core/host/log_sink.h"
#include "core/python/context_thread.h"
#include "core/python/log_install.h"

namespace pyctx::core {

namespace {

bool text(PyObject *o, std::string *out) {
    if (o == Py_None) return true;
    Py_ssize_t n = 0;
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8AndSize(o, &n) : nullptr;
    if (!s) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "pyctx._log() takes str fields");
        return false;
    }
    out->assign(s, static_cast<size_t>(n));
    return true;
}

}  // namespace

PyObject *log_py(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "pyctx._log(level, logger, message, exception, created) takes 5 arguments");
        return nullptr;
    }
    long level = PyLong_AsLong(args[0]);
    if (level == -1 && PyErr_Occurred()) return nullptr;
    LogSink &sink = log_sink();
    if (!sink.wants(static_cast<int>(level))) Py_RETURN_FALSE;
    LogRecord r;
    r.level = static_cast<int>(level);
    if (!text(args[1], &r.logger) || !text(args[2], &r.message) || !text(args[3], &r.exception))
        return nullptr;
    r.created = PyFloat_AsDouble(args[4]);
    if (r.created == -1.0 && PyErr_Occurred()) return nullptr;
    if (ContextThread *t = ContextThread::current()) r.context_name = t->context_name();
    return PyBool_FromLong(sink.push(std::move(r)));
}

std::string log_install_code(int min_level) {
    return "import logging, pyctx\n"
           "class _PyctxHostHandler(logging.Handler):\n"
           "    pyctx_host = True\n"
           "    def emit(self, record):\n"
           "        try:\n"
           "            exc = ''\n"
           "            if record.exc_info:\n"
           "                exc = logging.Formatter().formatException(record.exc_info)\n"
           "            elif record.exc_text:\n"
           "                exc = record.exc_text\n"
           "            if record.stack_info:\n"
           "                exc = (exc + '\\n' if exc else '') + record.stack_info\n"
           "            pyctx._log(record.levelno, record.name, record.getMessage(), exc,\n"
           "                       record.created)\n"
           "        except Exception:\n"
           "            self.handleError(record)\n"
           "_root = logging.getLogger()\n"
           "_level = " + std::to_string(min_level) + "\n"
           "for _h in _root.handlers:\n"
           "    if getattr(_h, 'pyctx_host', False):\n"
           "        _h.setLevel(_level)\n"
           "        break\n"
           "else:\n"
           "    _h = _PyctxHostHandler(_level)\n"
           "    _root.addHandler(_h)\n"
           "if _root.level == logging.NOTSET or _root.level > _level:\n"
           "    _root.setLevel(_level)\n";
}

std::string log_remove_code() {
    return "import logging\n"
           "_root = logging.getLogger()\n"
           "for _h in list(_root.handlers):\n"
           "    if getattr(_h, 'pyctx_host', False):\n"
           "        _root.removeHandler(_h)\n";
}

}  // namespace pyctx::core
