#include "core/python/embed.h"

#include <Python.h>

#include "core/python/module.h"

namespace pyctx::core {

namespace {

Error status_error(const PyStatus &st, const char *what) {
    std::string msg = what;
    if (st.func) msg += std::string(" (") + st.func + ")";
    if (st.err_msg) msg += std::string(": ") + st.err_msg;
    return Error(Status::internal, msg);
}

}  // namespace

namespace {
bool g_process_child = false;  // written once, before Python runs any code
}  // namespace

bool in_process_child() { return g_process_child; }

Error initialize_python(const EmbedSettings &s) {
    g_process_child = s.process_child;
    PyPreConfig pre;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
    if (s.allocator == 1) pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    if (s.allocator == 2) pre.allocator = PYMEM_ALLOCATOR_PYMALLOC;
    PyStatus st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st)) return status_error(st, "Python pre-initialization failed");
    if (PyImport_AppendInittab("pyctx", pyctx_py_module_init) != 0)
        return Error(Status::internal, "could not register the pyctx module");
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = s.own_signals ? 1 : 0;
    config.parse_argv = 0;
    config.site_import = 1;
    if (!s.home.empty()) st = PyConfig_SetBytesString(&config, &config.home, s.home.c_str());
    if (!PyStatus_Exception(st) && !s.program_name.empty())
        st = PyConfig_SetBytesString(&config, &config.program_name, s.program_name.c_str());
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) return status_error(st, "Python initialization failed");
    return {};
}

}  // namespace pyctx::core
