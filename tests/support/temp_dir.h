// A scratch directory removed with its contents at scope exit.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace pyctx_test {

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "pyctx-test-XXXXXX").string();
        if (char *p = ::mkdtemp(tmpl.data())) path_ = p;
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }

    const std::string &path() const { return path_; }

    /** Writes `content` to `name` inside the directory; returns its path. */
    std::string write(const std::string &name, const std::string &content) const {
        std::string file = path_ + "/" + name;
        std::ofstream(file) << content;
        return file;
    }

private:
    std::string path_;
};

} // namespace pyctx_test
