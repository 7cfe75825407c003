#include "core/python/namespaces.h"

#include <string_view>

#include "core/python/errors.h"

namespace pyctx::core {

namespace {

constexpr size_t kCodeCacheLimit = 1024;
constexpr size_t kCachedSourceLimit = 16 * 1024;

// A new reference to the attribute path "a.b.c" of `root`.
PyObject *walk_attrs(PyObject *root, std::string_view path) {
    PyRef obj = PyRef::borrow(root);
    while (!path.empty()) {
        size_t dot = path.find('.');
        std::string_view part = path.substr(0, dot);
        PyRef name(PyUnicode_FromStringAndSize(part.data(), static_cast<Py_ssize_t>(part.size())));
        if (!name) return nullptr;
        obj.reset(PyObject_GetAttr(obj.get(), name.get()));
        if (!obj) return nullptr;
        path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    }
    return obj.release();
}

void clear_map(StringMap<PyObject *> &m) {
    for (auto &kv : m) Py_XDECREF(kv.second);
    m.clear();
}

}  // namespace

PyObject *new_namespace() {
    PyRef ns(PyDict_New());
    PyRef name(PyUnicode_FromString("__main__"));
    if (!ns || !name || PyDict_SetItemString(ns.get(), "__builtins__", PyEval_GetBuiltins()) < 0 ||
        PyDict_SetItemString(ns.get(), "__name__", name.get()) < 0)
        return nullptr;
    return ns.release();
}

bool Namespaces::init(Error *err) {
    default_ns_ = new_namespace();
    if (!default_ns_) *err = fetch_python_error();
    return default_ns_ != nullptr;
}

void Namespaces::clear() {
    forget_functions();
    clear_map(modules_);
    clear_map(eval_code_);
    clear_map(exec_code_);
    for (auto &kv : envs_) Py_DECREF(kv.second);
    envs_.clear();
    Py_CLEAR(default_ns_);
}

PyObject *Namespaces::namespace_for(uint64_t env_id, Error *err) {
    if (env_id == 0) return default_ns_;
    auto it = envs_.find(env_id);
    if (it != envs_.end()) return it->second;
    PyObject *ns = new_namespace();
    if (!ns) {
        *err = fetch_python_error();
        return nullptr;
    }
    envs_.emplace(env_id, ns);
    return ns;
}

void Namespaces::drop(uint64_t env_id) {
    auto it = envs_.find(env_id);
    if (it == envs_.end()) return;
    Py_DECREF(it->second);
    envs_.erase(it);
}

PyObject *Namespaces::resolve_function(const Request &r, Error *err) {
    if (r.target == "__main__") {
        std::string_view path = r.text;
        size_t dot = path.find('.');
        std::string first(path.substr(0, dot));
        PyObject *root = PyDict_GetItemString(default_ns_, first.c_str());
        if (!root) {
            PyErr_Format(PyExc_NameError, "name '%s' is not defined in the context namespace",
                         first.c_str());
            *err = fetch_python_error();
            return nullptr;
        }
        PyObject *fn = walk_attrs(root, dot == std::string_view::npos ? std::string_view()
                                                                      : path.substr(dot + 1));
        if (!fn) *err = fetch_python_error();
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
            *err = fetch_python_error();
            return nullptr;
        }
        modules_.emplace(r.target, module);
    }
    PyObject *fn = walk_attrs(module, r.text);
    if (!fn) {
        *err = fetch_python_error();
        return nullptr;
    }
    Py_INCREF(fn);
    functions_.emplace(key_, fn);
    remember_last(r, fn);
    return fn;
}

void Namespaces::remember_last(const Request &r, PyObject *fn) {
    last_target_ = r.target;
    last_text_ = r.text;
    last_fn_ = fn;  // borrowed from functions_
}

void Namespaces::forget_functions() {
    last_fn_ = nullptr;
    clear_map(functions_);
}

PyObject *Namespaces::compiled(const std::string &source, int start, Error *err) {
    auto &cache = start == Py_eval_input ? eval_code_ : exec_code_;
    if (auto it = cache.find(std::string_view(source)); it != cache.end()) {
        Py_INCREF(it->second);
        return it->second;
    }
    PyObject *code = Py_CompileString(source.c_str(),
                                      start == Py_eval_input ? "<pyctx-eval>" : "<pyctx-exec>", start);
    if (!code) {
        *err = fetch_python_error();
        return nullptr;
    }
    if (source.size() <= kCachedSourceLimit) {
        if (cache.size() >= kCodeCacheLimit) clear_map(cache);
        Py_INCREF(code);
        cache.emplace(source, code);
    }
    return code;
}

}  // namespace pyctx::core
