// Runtime-wide set-up: an append-only log of steps (sys.path entries added
// or removed, modules imported or reloaded, a virtualenv activated, Python
// code run). A running interpreter applies the steps it has not seen yet,
// in order, before its next request; a new one starts from the current
// state (the paths still added, the imports still registered, the
// virtualenvs still active, in the order they were logged). Either way a
// step undone by a later one is left out (window()), so a path added and
// removed again, or a module imported and dropped again, never reaches an
// interpreter that had not applied it yet. No Python here
// (core/python/setup_py.cpp applies the steps).
//
// The generation is the number of steps logged; an interpreter that has
// applied that many is up to date, so the check on the request path is one
// atomic load compared with a number the context keeps.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace pyctx::core {

struct SetupStep {
    enum class Kind {
        add_path,
        remove_path,
        import_module,
        remove_import,  // no longer imported by new contexts
        reload_module,
        activate_venv,
        run_code,
    };
    Kind kind;
    std::string arg;   // path, module name, venv site-packages, or code
    std::string arg2;  // activate_venv: the venv directory (sys.prefix)

    // For error messages, e.g. "import 'mod'".
    std::string describe() const;
};

class SetupLog {
public:
    // Appends a step; returns the new generation.
    uint64_t append(SetupStep step);
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    // The steps [from, to) to apply, leaving out those a later step of the
    // window undoes; `fresh` (a new interpreter, from 0) also leaves out the
    // removals and reloads, which have nothing to act on there.
    std::vector<SetupStep> window(uint64_t from, uint64_t to, bool fresh);
    // The steps [from, to) exactly as logged (a process context's child
    // mirrors the log, so its own window() leaves out what this one would).
    std::vector<SetupStep> slice(uint64_t from, uint64_t to);

private:
    std::mutex mu_;
    std::vector<SetupStep> steps_;
    std::atomic<uint64_t> generation_{0};
};

SetupLog &setup_log();

// Checks that `dir` is a virtualenv made for Python `major.minor` and finds
// its site-packages. Returns an empty string and sets *error otherwise
// (missing pyvenv.cfg or site-packages, a different Python version).
std::string venv_site_packages(const std::string &dir, int major, int minor, std::string *error);

}  // namespace pyctx::core
