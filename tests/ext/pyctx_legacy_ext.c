/*
 * A deliberately old-style extension module: legacy single-phase init
 * (PyModule_Create in PyInit_, module state in C globals). CPython refuses
 * to load such a module in an isolated (owngil) subinterpreter; the tests
 * check that pyctx reports that as ImportError while worker contexts, on the
 * main interpreter, import it normally, and (init_calls) that its init
 * function ran once in the process, never in an owngil interpreter.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *legacy_answer(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromLong(42);
}

/* How many times PyInit_pyctx_legacy_ext ran in this process. */
static int init_calls = 0;

static PyObject *legacy_init_calls(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromLong(init_calls);
}

static PyMethodDef legacy_methods[] = {
    {"answer", legacy_answer, METH_NOARGS, "Returns 42."},
    {"init_calls", legacy_init_calls, METH_NOARGS, "How many times the init function ran."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef legacy_module = {
    PyModuleDef_HEAD_INIT, "pyctx_legacy_ext", "Single-phase init test module.", -1,
    legacy_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_pyctx_legacy_ext(void) {
    ++init_calls;
    return PyModule_Create(&legacy_module);
}
