/*
 * A deliberately old-style extension module: legacy single-phase init
 * (PyModule_Create in PyInit_, module state in C globals). CPython refuses
 * to load such a module in an isolated (owngil) subinterpreter; the tests
 * check that pyctx reports that as ImportError while worker contexts, on the
 * main interpreter, import it normally.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *legacy_answer(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromLong(42);
}

static PyMethodDef legacy_methods[] = {
    {"answer", legacy_answer, METH_NOARGS, "Returns 42."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef legacy_module = {
    PyModuleDef_HEAD_INIT, "pyctx_legacy_ext", "Single-phase init test module.", -1,
    legacy_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_pyctx_legacy_ext(void) { return PyModule_Create(&legacy_module); }
