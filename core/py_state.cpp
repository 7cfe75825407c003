#include "core/py_state.h"

#include "core/py_compat.h"

#include "core/context.h"
#include "core/host.h"
#include "core/py_module.h"
#include "core/runtime.h"

namespace pyctx::core {

namespace {

constexpr size_t kCodeCacheLimit = 1024;
constexpr size_t kCachedSourceLimit = 16 * 1024;

// A new reference to the attribute path "a.b.c" of `root`.
PyObject *walk_attrs(PyObject *root, std::string_view path) {
    Py_INCREF(root);
    PyObject *obj = root;
    while (!path.empty()) {
        size_t dot = path.find('.');
        std::string_view part = path.substr(0, dot);
        PyObject *name = PyUnicode_FromStringAndSize(part.data(), static_cast<Py_ssize_t>(part.size()));
        if (!name) {
            Py_DECREF(obj);
            return nullptr;
        }
        PyObject *next = PyObject_GetAttr(obj, name);
        Py_DECREF(name);
        Py_DECREF(obj);
        if (!next) return nullptr;
        obj = next;
        path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    }
    return obj;
}

std::string utf8_of(PyObject *obj) {
    if (!obj) return {};
    PyObject *s = PyObject_Str(obj);
    if (!s) {
        PyErr_Clear();
        return "<unprintable>";
    }
    Py_ssize_t n = 0;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    std::string out = p ? std::string(p, static_cast<size_t>(n)) : std::string("<unprintable>");
    if (!p) PyErr_Clear();
    Py_DECREF(s);
    return out;
}

// A fresh globals dict, as a module's would be.
PyObject *new_namespace() {
    PyObject *ns = PyDict_New();
    PyObject *name = PyUnicode_FromString("__main__");
    bool ok = ns && name && PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0 &&
              PyDict_SetItemString(ns, "__name__", name) == 0;
    Py_XDECREF(name);
    if (!ok) Py_CLEAR(ns);
    return ns;
}

// Puts the runtime's extra paths at the front of this interpreter's
// sys.path (worker contexts share one sys.path: entries already there are
// left alone).
bool add_search_paths(const std::vector<std::string> &paths) {
    if (paths.empty()) return true;
    PyObject *sys_path = PySys_GetObject("path");  // borrowed
    if (!sys_path || !PyList_Check(sys_path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return false;
    }
    Py_ssize_t at = 0;
    for (const auto &p : paths) {
        PyObject *entry = PyUnicode_DecodeFSDefaultAndSize(p.data(), static_cast<Py_ssize_t>(p.size()));
        if (!entry) return false;
        int present = PySequence_Contains(sys_path, entry);
        int rc = present == 0 ? PyList_Insert(sys_path, at++, entry) : present;
        Py_DECREF(entry);
        if (rc < 0) return false;
    }
    return true;
}

// Keyword arguments and locals must be dicts keyed by str.
bool is_str_keyed_dict(PyObject *obj) {
    if (!PyDict_CheckExact(obj)) return false;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(obj, &pos, &k, &v))
        if (!PyUnicode_Check(k)) return false;
    return true;
}

Error decode_error(std::string msg) { return Error(Status::decode, std::move(msg)); }

void clear_map(StringMap<PyObject *> &m) {
    for (auto &kv : m) Py_XDECREF(kv.second);
    m.clear();
}

// Called by asyncio when a request's task finishes; `self` is the request id.
PyObject *on_task_done(PyObject *self, PyObject *task) {
    Context *ctx = Context::current();
    if (ctx && ctx->py()) ctx->py()->task_done(PyLong_AsUnsignedLongLong(self), task);
    Py_RETURN_NONE;
}
PyMethodDef task_done_def = {"_pyctx_task_done", on_task_done, METH_O, nullptr};

const char kLoopHelper[] =
    "import os\n"
    "def install(loop, fd):\n"
    "    def woken():\n"
    "        try:\n"
    "            os.read(fd, 8)\n"
    "        except BlockingIOError:\n"
    "            pass\n"
    "        loop.stop()\n"
    "    loop.add_reader(fd, woken)\n";

}  // namespace

// ---------------------------------------------------------------------------
// set-up and tear-down

bool PyState::init(const std::string &preload, Error *err) {
    if (!load_py_types(&types_, err)) return false;
    if (!add_search_paths(Runtime::get().search_paths())) {
        *err = fetch_error();
        return false;
    }
    default_ns_ = new_namespace();
    if (!default_ns_) {
        *err = fetch_error();
        return false;
    }
    if (!preload.empty()) {
        PyObject *code = Py_CompileString(preload.c_str(), "<pyctx-preload>", Py_file_input);
        PyObject *res = code ? PyEval_EvalCode(code, default_ns_, default_ns_) : nullptr;
        Py_XDECREF(code);
        if (!res) {
            *err = fetch_error();
            return false;
        }
        Py_DECREF(res);
    }
    return true;
}

void PyState::clear() {
    if (loop_) {
        // Cancel what is still pending and give the tasks a few iterations
        // to unwind; their requests were already completed as closed.
        for (auto &[id, task] : task_objects_) {
            PyObject *r = PyObject_CallMethod(task, "cancel", nullptr);
            Py_XDECREF(r);
            PyErr_Clear();
        }
        for (int i = 0; i < 3 && pending_tasks_ > 0; ++i) drive_loop(false);
        PyObject *r = PyObject_CallMethod(loop_, "close", nullptr);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    for (auto &[id, task] : task_objects_) {
        if (Request *req = ctx_.take_task(id)) req->release();
        Py_DECREF(task);
    }
    task_objects_.clear();
    pending_tasks_ = 0;
    host_calls_abandon_all(ctx_);
    Py_CLEAR(loop_);
    Py_CLEAR(loop_stop_);
    Py_CLEAR(run_forever_);
    Py_CLEAR(call_soon_);
    Py_CLEAR(create_task_);
    Py_CLEAR(ensure_future_);
    forget_functions();
    clear_map(modules_);
    clear_map(eval_code_);
    clear_map(exec_code_);
    for (auto &kv : envs_) Py_DECREF(kv.second);
    envs_.clear();
    Py_CLEAR(default_ns_);
    Py_CLEAR(format_exception_);
    release_py_types(&types_);
    PyErr_Clear();
}

// ---------------------------------------------------------------------------
// errors

Error PyState::fetch_error() {
    Error e(Status::python, "");
    PyObject *exc = take_raised_exception();
    if (!exc) {
        e.message = "unknown error (no Python exception set)";
        e.python_type = "SystemError";
        return e;
    }
    PyObject *type_obj = reinterpret_cast<PyObject *>(Py_TYPE(exc));
    PyObject *module = PyObject_GetAttrString(type_obj, "__module__");
    PyObject *qualname = PyObject_GetAttrString(type_obj, "__qualname__");
    PyErr_Clear();
    std::string mod = module ? utf8_of(module) : std::string();
    e.python_type = qualname ? utf8_of(qualname) : std::string(Py_TYPE(exc)->tp_name);
    if (!mod.empty() && mod != "builtins") e.python_type = mod + "." + e.python_type;
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    e.message = utf8_of(exc);

    if (!format_exception_) {
        PyObject *tbmod = PyImport_ImportModule("traceback");
        if (tbmod) {
            format_exception_ = PyObject_GetAttrString(tbmod, "format_exception");
            Py_DECREF(tbmod);
        }
    }
    if (format_exception_) {
        PyObject *tb = PyException_GetTraceback(exc);
        PyObject *lines = PyObject_CallFunctionObjArgs(format_exception_, type_obj, exc,
                                                       tb ? tb : Py_None, nullptr);
        Py_XDECREF(tb);
        if (lines) {
            PyObject *empty = PyUnicode_FromString("");
            PyObject *joined = empty ? PyUnicode_Join(empty, lines) : nullptr;
            if (joined) e.traceback = utf8_of(joined);
            Py_XDECREF(joined);
            Py_XDECREF(empty);
            Py_DECREF(lines);
        }
    }
    PyErr_Clear();
    Py_DECREF(exc);
    return e;
}

// ---------------------------------------------------------------------------
// lookups

PyObject *PyState::namespace_for(uint64_t env_id, Error *err) {
    if (env_id == 0) return default_ns_;
    auto it = envs_.find(env_id);
    if (it != envs_.end()) return it->second;
    PyObject *ns = new_namespace();
    if (!ns) {
        *err = fetch_error();
        return nullptr;
    }
    envs_.emplace(env_id, ns);
    return ns;
}

PyObject *PyState::resolve_function(const Request &r, Error *err) {
    if (r.target == "__main__") {
        std::string_view path = r.text;
        size_t dot = path.find('.');
        std::string first(path.substr(0, dot));
        PyObject *root = PyDict_GetItemString(default_ns_, first.c_str());
        if (!root) {
            PyErr_Format(PyExc_NameError, "name '%s' is not defined in the context namespace",
                         first.c_str());
            *err = fetch_error();
            return nullptr;
        }
        PyObject *fn = walk_attrs(root, dot == std::string_view::npos ? std::string_view()
                                                                      : path.substr(dot + 1));
        if (!fn) *err = fetch_error();
        return fn;
    }
    // A request stream usually repeats one function: compare with the last
    // one before building and hashing a cache key.
    if (last_fn_ && r.target == last_target_ && r.text == last_text_) {
        Py_INCREF(last_fn_);
        return last_fn_;
    }
    key_.assign(r.target);
    key_.push_back('\0');
    key_.append(r.text);
    if (auto it = functions_.find(std::string_view(key_)); it != functions_.end()) {
        remember_last(r, it->second);
        Py_INCREF(it->second);
        return it->second;
    }
    PyObject *module;
    if (auto it = modules_.find(std::string_view(r.target)); it != modules_.end()) {
        module = it->second;
    } else {
        module = PyImport_ImportModule(r.target.c_str());
        if (!module) {
            *err = fetch_error();
            return nullptr;
        }
        modules_.emplace(r.target, module);
    }
    PyObject *fn = walk_attrs(module, r.text);
    if (!fn) {
        *err = fetch_error();
        return nullptr;
    }
    Py_INCREF(fn);
    functions_.emplace(key_, fn);
    remember_last(r, fn);
    return fn;
}

void PyState::remember_last(const Request &r, PyObject *fn) {
    last_target_ = r.target;
    last_text_ = r.text;
    last_fn_ = fn;  // borrowed from functions_
}

void PyState::forget_functions() {
    last_fn_ = nullptr;
    clear_map(functions_);
}

PyObject *PyState::compiled(const std::string &source, int start, Error *err) {
    auto &cache = start == Py_eval_input ? eval_code_ : exec_code_;
    if (auto it = cache.find(std::string_view(source)); it != cache.end()) {
        Py_INCREF(it->second);
        return it->second;
    }
    PyObject *code = Py_CompileString(source.c_str(),
                                      start == Py_eval_input ? "<pyctx-eval>" : "<pyctx-exec>", start);
    if (!code) {
        *err = fetch_error();
        return nullptr;
    }
    if (source.size() <= kCachedSourceLimit) {
        if (cache.size() >= kCodeCacheLimit) clear_map(cache);
        Py_INCREF(code);
        cache.emplace(source, code);
    }
    return code;
}

// ---------------------------------------------------------------------------
// execution

void PyState::execute(Request *r) {
    switch (r->kind) {
        case RequestKind::call: run_call(r); break;
        case RequestKind::eval: run_eval(r); break;
        case RequestKind::exec: run_exec(r); break;
        case RequestKind::drop_env: {
            auto it = envs_.find(r->env_id);
            if (it != envs_.end()) {
                Py_DECREF(it->second);
                envs_.erase(it);
            }
            break;
        }
        case RequestKind::cancel_task: cancel_task(r->env_id); break;
        case RequestKind::host_reply: host_call_resume(ctx_, r); break;
    }
}

void PyState::run_call(Request *r) {
    Error err;
    PyObject *fn = resolve_function(*r, &err);
    if (!fn) {
        finish_unless_claimed(r, Outcome{std::move(err), {}});
        return;
    }
    // Common case: a few positional arguments and no kwargs go straight
    // from CBOR into a stack array for vectorcall, with no list.
    if (r->kwargs.empty()) {
        constexpr size_t kInline = 8;
        PyObject *items[kInline];
        size_t n = 0;
        int rc = r->args.empty() ? 0
                                 : cbor_array_into(r->args.data(), r->args.size(), types_, items,
                                                   kInline, &n, &err);
        if (rc == 0) {
            PyObject *result = PyObject_Vectorcall(fn, items, n, nullptr);
            for (size_t i = 0; i < n; ++i) Py_DECREF(items[i]);
            Py_DECREF(fn);
            complete_with(r, result);
            return;
        }
        if (rc < 0) {
            Py_DECREF(fn);
            finish_unless_claimed(r, Outcome{std::move(err), {}});
            return;
        }
    }
    PyObject *args = nullptr;
    PyObject *kwargs = nullptr;
    if (!r->args.empty()) {
        args = cbor_to_python(r->args.data(), r->args.size(), types_, &err);
        if (args && !PyList_CheckExact(args)) {
            Py_CLEAR(args);
            err = decode_error("call arguments must be a CBOR array");
        }
    }
    if (err.ok() && !r->kwargs.empty()) {
        kwargs = cbor_to_python(r->kwargs.data(), r->kwargs.size(), types_, &err);
        if (kwargs) {
            if (!is_str_keyed_dict(kwargs)) {
                Py_CLEAR(kwargs);
                err = decode_error("call keyword arguments must be a CBOR map with text keys");
            }
        }
    }
    if (!err.ok()) {
        Py_DECREF(fn);
        Py_XDECREF(args);
        finish_unless_claimed(r, Outcome{std::move(err), {}});
        return;
    }
    PyObject *result;
    if (!kwargs) {
        PyObject *const *items = args ? PySequence_Fast_ITEMS(args) : nullptr;
        size_t n = args ? static_cast<size_t>(PyList_GET_SIZE(args)) : 0;
        result = PyObject_Vectorcall(fn, items, n, nullptr);
    } else {
        PyObject *tuple = args ? PyList_AsTuple(args) : PyTuple_New(0);
        result = tuple ? PyObject_Call(fn, tuple, kwargs) : nullptr;
        Py_XDECREF(tuple);
    }
    Py_DECREF(fn);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    complete_with(r, result);
}

void PyState::run_eval(Request *r) {
    Error err;
    PyObject *ns = namespace_for(r->env_id, &err);
    PyObject *code = ns ? compiled(r->text, Py_eval_input, &err) : nullptr;
    PyObject *locals = nullptr;
    if (code && !r->args.empty()) {
        locals = cbor_to_python(r->args.data(), r->args.size(), types_, &err);
        if (locals && !is_str_keyed_dict(locals)) {
            Py_CLEAR(locals);
            err = decode_error("eval locals must be a CBOR map with text keys");
        }
    }
    if (!err.ok()) {
        Py_XDECREF(code);
        finish_unless_claimed(r, Outcome{std::move(err), {}});
        return;
    }
    PyObject *result = PyEval_EvalCode(code, ns, locals ? locals : ns);
    Py_DECREF(code);
    Py_XDECREF(locals);
    complete_with(r, result);
}

void PyState::run_exec(Request *r) {
    Error err;
    PyObject *ns = namespace_for(r->env_id, &err);
    PyObject *code = ns ? compiled(r->text, Py_file_input, &err) : nullptr;
    if (!code) {
        finish_unless_claimed(r, Outcome{std::move(err), {}});
        return;
    }
    PyObject *result = PyEval_EvalCode(code, ns, ns);
    Py_DECREF(code);
    // Code may rebind module attributes: looked-up functions are stale now.
    forget_functions();
    complete_with(r, result);
}

void PyState::finish_unless_claimed(Request *r, Outcome out) {
    if (r->claim()) ctx_.finish(r, std::move(out), false);
}

void PyState::complete_with(Request *r, PyObject *result) {
    if (r->is_claimed()) {  // completed elsewhere (cancel, timeout, close)
        Py_XDECREF(result);
        PyErr_Clear();
        return;
    }
    Outcome out;
    if (!result) {
        out.error = fetch_error();
    } else if (PyCoro_CheckExact(result) ||
               (Py_TYPE(result)->tp_as_async && Py_TYPE(result)->tp_as_async->am_await)) {
        if (start_task(r, result)) return;
        out.error = fetch_error();
    } else {
        if (!python_to_cbor(result, types_, out.value, &out.error)) out.value.clear();
        Py_DECREF(result);
    }
    finish_unless_claimed(r, std::move(out));
}

// ---------------------------------------------------------------------------
// asyncio

bool PyState::ensure_loop(Error *err) {
    if (loop_) return true;
    PyObject *asyncio = PyImport_ImportModule("asyncio");
    if (!asyncio) {
        *err = fetch_error();
        return false;
    }
    // A loop of our own for this thread; no global event-loop policy.
    PyObject *loop = PyObject_CallMethod(asyncio, "new_event_loop", nullptr);
    ensure_future_ = PyObject_GetAttrString(asyncio, "ensure_future");
    Py_DECREF(asyncio);
    PyObject *helper_ns = loop ? PyDict_New() : nullptr;
    bool ok = helper_ns && PyDict_SetItemString(helper_ns, "__builtins__", PyEval_GetBuiltins()) == 0;
    if (ok) {
        PyObject *code = Py_CompileString(kLoopHelper, "<pyctx-loop>", Py_file_input);
        PyObject *res = code ? PyEval_EvalCode(code, helper_ns, helper_ns) : nullptr;
        Py_XDECREF(code);
        ok = res != nullptr;
        Py_XDECREF(res);
    }
    if (ok) {
        PyObject *install = PyDict_GetItemString(helper_ns, "install");
        PyObject *fd = PyLong_FromLong(ctx_.event_fd());
        PyObject *res = install && fd ? PyObject_CallFunctionObjArgs(install, loop, fd, nullptr) : nullptr;
        Py_XDECREF(fd);
        ok = res != nullptr;
        Py_XDECREF(res);
    }
    Py_XDECREF(helper_ns);
    if (ok) {
        loop_stop_ = PyObject_GetAttrString(loop, "stop");
        run_forever_ = PyObject_GetAttrString(loop, "run_forever");
        call_soon_ = PyObject_GetAttrString(loop, "call_soon");
        create_task_ = PyObject_GetAttrString(loop, "create_task");
        ok = loop_stop_ && run_forever_ && call_soon_ && create_task_ && ensure_future_;
    }
    if (!ok) {
        *err = fetch_error();
        Py_XDECREF(loop);
        Py_CLEAR(loop_stop_);
        Py_CLEAR(run_forever_);
        Py_CLEAR(call_soon_);
        Py_CLEAR(create_task_);
        Py_CLEAR(ensure_future_);
        return false;
    }
    loop_ = loop;
    return true;
}

PyObject *PyState::create_future() {
    Error err;
    if (!ensure_loop(&err)) {
        PyErr_SetString(PyExc_RuntimeError, err.message.c_str());
        return nullptr;
    }
    return PyObject_CallMethod(loop_, "create_future", nullptr);
}

bool PyState::start_task(Request *r, PyObject *awaitable) {
    Error err;
    if (!ensure_loop(&err)) {
        Py_DECREF(awaitable);
        PyErr_SetString(PyExc_RuntimeError, err.message.c_str());
        return false;
    }
    PyObject *task;
    if (PyCoro_CheckExact(awaitable)) {
        task = PyObject_CallOneArg(create_task_, awaitable);
    } else {
        PyObject *kw = Py_BuildValue("{s:O}", "loop", loop_);
        PyObject *args = PyTuple_Pack(1, awaitable);
        task = kw && args ? PyObject_Call(ensure_future_, args, kw) : nullptr;
        Py_XDECREF(kw);
        Py_XDECREF(args);
    }
    Py_DECREF(awaitable);
    if (!task) return false;
    PyObject *id = PyLong_FromUnsignedLongLong(r->id);
    PyObject *cb = id ? PyCFunction_New(&task_done_def, id) : nullptr;
    Py_XDECREF(id);
    PyObject *res = cb ? PyObject_CallMethod(task, "add_done_callback", "O", cb) : nullptr;
    Py_XDECREF(cb);
    if (!res) {
        Py_DECREF(task);
        return false;
    }
    Py_DECREF(res);
    task_objects_.emplace(r->id, task);
    ++pending_tasks_;
    ctx_.add_task(r);
    r->phase.store(Phase::task, std::memory_order_seq_cst);
    if (r->is_claimed()) cancel_task(r->id);  // cancelled while it was starting
    return true;
}

void PyState::drive_loop(bool block) {
    if (!loop_) return;
    ++loop_depth_;
    if (!block) {
        PyObject *h = PyObject_CallOneArg(call_soon_, loop_stop_);
        Py_XDECREF(h);
    }
    PyObject *res = PyObject_CallNoArgs(run_forever_);
    if (!res) {
        // An exception escaping the loop itself (not a task's): report it the
        // way asyncio reports unhandled errors, and keep serving.
        PyErr_WriteUnraisable(loop_);
    }
    Py_XDECREF(res);
    --loop_depth_;
}

void PyState::task_done(uint64_t request_id, PyObject *task) {
    auto it = task_objects_.find(request_id);
    if (it != task_objects_.end()) {
        Py_DECREF(it->second);
        task_objects_.erase(it);
        if (pending_tasks_) --pending_tasks_;
    }
    // Let serve() regain control to deliver completions promptly.
    if (loop_stop_) {
        PyObject *r = PyObject_CallNoArgs(loop_stop_);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    Request *r = ctx_.take_task(request_id);
    if (!r) return;
    if (r->is_claimed()) {
        r->release();
        return;
    }
    Outcome out;
    PyObject *cancelled = PyObject_CallMethod(task, "cancelled", nullptr);
    int was_cancelled = cancelled ? PyObject_IsTrue(cancelled) : 0;
    Py_XDECREF(cancelled);
    if (was_cancelled == 1) {
        out.error = Error(Status::cancelled, "the coroutine was cancelled");
    } else {
        PyObject *value = PyObject_CallMethod(task, "result", nullptr);
        if (!value) {
            out.error = fetch_error();
        } else {
            if (!python_to_cbor(value, types_, out.value, &out.error)) out.value.clear();
            Py_DECREF(value);
        }
    }
    PyErr_Clear();
    r->phase.store(Phase::finished, std::memory_order_release);
    finish_unless_claimed(r, std::move(out));
    r->release();
}

void PyState::cancel_task(uint64_t request_id) {
    auto it = task_objects_.find(request_id);
    if (it == task_objects_.end()) return;
    PyObject *r = PyObject_CallMethod(it->second, "cancel", nullptr);
    Py_XDECREF(r);
    PyErr_Clear();
}


}  // namespace pyctx::core
