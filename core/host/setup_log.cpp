#include "core/host/setup_log.h"

#include <sys/stat.h>

#include <cctype>
#include <fstream>

namespace pyctx::core {

std::string SetupStep::describe() const {
    switch (kind) {
        case Kind::add_path: return "add sys.path entry '" + arg + "'";
        case Kind::remove_path: return "remove sys.path entry '" + arg + "'";
        case Kind::import_module: return "import '" + arg + "'";
        case Kind::remove_import: return "stop importing '" + arg + "'";
        case Kind::reload_module: return "reload '" + arg + "'";
        case Kind::activate_venv: return "activate virtualenv '" + arg2 + "'";
        case Kind::run_code: return "set-up code";
    }
    return "set-up step";
}

SetupLog &setup_log() {
    static SetupLog *log = new SetupLog();  // outlives static teardown
    return *log;
}

uint64_t SetupLog::append(SetupStep step) {
    std::lock_guard lock(mu_);
    steps_.push_back(std::move(step));
    // Published after the step is in place: a reader that sees the new
    // generation finds the step (under the same lock).
    generation_.store(steps_.size(), std::memory_order_release);
    return steps_.size();
}

std::vector<SetupStep> SetupLog::slice(uint64_t from, uint64_t to) {
    std::lock_guard lock(mu_);
    if (to > steps_.size()) to = steps_.size();
    if (from >= to) return {};
    return std::vector<SetupStep>(steps_.begin() + static_cast<ptrdiff_t>(from),
                                  steps_.begin() + static_cast<ptrdiff_t>(to));
}

std::vector<SetupStep> SetupLog::window(uint64_t from, uint64_t to, bool fresh) {
    std::lock_guard lock(mu_);
    using K = SetupStep::Kind;
    if (to > steps_.size()) to = steps_.size();
    std::vector<SetupStep> out;
    for (uint64_t i = from; i < to; ++i) {
        const SetupStep &s = steps_[i];
        bool removal = s.kind == K::remove_path || s.kind == K::remove_import;
        if (fresh && (removal || s.kind == K::reload_module)) continue;
        if (!removal && s.kind != K::reload_module && s.kind != K::run_code) {
            // A virtualenv is undone by removing its site-packages path.
            K undo = s.kind == K::import_module ? K::remove_import : K::remove_path;
            bool undone = false;
            for (uint64_t j = i + 1; j < to && !undone; ++j)
                undone = steps_[j].kind == undo && steps_[j].arg == s.arg;
            if (undone) continue;
        }
        out.push_back(s);
    }
    return out;
}

namespace {

bool is_dir(const std::string &p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string trim(const std::string &s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

}  // namespace

std::string venv_site_packages(const std::string &dir, int major, int minor, std::string *error) {
    std::ifstream cfg(dir + "/pyvenv.cfg");
    if (!cfg) {
        *error = "'" + dir + "' is not a virtualenv (no pyvenv.cfg)";
        return {};
    }
    std::string line, version;
    while (std::getline(cfg, line)) {
        size_t eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = trim(line.substr(0, eq));
        // `version` (venv) or `version_info` (virtualenv, uv).
        if (key == "version" || key == "version_info") version = trim(line.substr(eq + 1));
    }
    std::string want = std::to_string(major) + "." + std::to_string(minor);
    if (version.empty()) {
        *error = "the pyvenv.cfg of '" + dir + "' names no Python version";
        return {};
    }
    if (version != want && version.rfind(want + ".", 0) != 0) {
        *error = "the virtualenv '" + dir + "' is for Python " + version +
                 ", but the embedded Python is " + want;
        return {};
    }
    for (const char *suffix : {"", "t"}) {  // "t": a free-threaded build's lib dir
        std::string sp = dir + "/lib/python" + want + suffix + "/site-packages";
        if (is_dir(sp)) return sp;
    }
    *error = "the virtualenv '" + dir + "' has no lib/python" + want + "/site-packages";
    return {};
}

}  // namespace pyctx::core
