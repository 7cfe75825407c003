// Sandboxed contexts (audit-hook policy, worker and owngil): every blocked
// operation raises PermissionError naming the operation, the context and the
// policy; allowed paths and the context's own machinery (imports, asyncio)
// keep working; contexts without a policy are unaffected.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "support/limits.h"
#include "support/runtime_env.h"
#include "support/temp_dir.h"

using namespace pyctx_test;

namespace {

auto *const g_runtime = install_runtime();

::testing::AssertionResult Blocked(const std::string &outcome, const std::string &operation,
                                   const std::string &policy_part) {
    if (outcome.rfind("PermissionError: pyctx sandbox: ", 0) != 0)
        return ::testing::AssertionFailure() << "not refused by the sandbox: " << outcome;
    if (outcome.find(operation) == std::string::npos)
        return ::testing::AssertionFailure() << "does not name '" << operation << "': " << outcome;
    if (outcome.find(policy_part) == std::string::npos)
        return ::testing::AssertionFailure() << "does not name policy '" << policy_part
                                             << "': " << outcome;
    if (outcome.find("context 'sandboxed'") == std::string::npos)
        return ::testing::AssertionFailure() << "does not name the context: " << outcome;
    return ::testing::AssertionSuccess();
}

class SandboxTest : public ModeTest {
protected:
    void SetUp() override {
        ModeTest::SetUp();
        if (IsSkipped()) return;
        ASSERT_FALSE(rw_.path().empty());
        ASSERT_FALSE(ro_.path().empty());
        ro_file_ = ro_.write("data.txt", "read me");
    }

    // A context of the test's mode with `sandbox`.
    void start(const Sandbox &sandbox) {
        LimitedSpec spec;
        spec.mode = mode();
        spec.sandbox = sandbox.get();
        spec.name = "sandboxed";
        ASSERT_TRUE(IsOk(create_limited_context(ctx_, spec)));
    }

    Sandbox full_policy() {
        Sandbox s(pyctx_sandbox_new());
        EXPECT_TRUE(IsOk(pyctx_sandbox_block_process_creation(s.get())));
        EXPECT_TRUE(IsOk(pyctx_sandbox_block_sockets(s.get())));
        EXPECT_TRUE(IsOk(pyctx_sandbox_allow_path(s.get(), rw_.path().c_str(), 0)));
        EXPECT_TRUE(IsOk(pyctx_sandbox_allow_path(s.get(), ro_.path().c_str(), 1)));
        return s;
    }

    std::string run(const std::string &code) { return attempt(ctx_.get(), code); }

    TempDir rw_, ro_, outside_;
    std::string ro_file_;
    Context ctx_;
};

TEST_P(SandboxTest, ProcessCreationIsBlocked) {
    Sandbox s(pyctx_sandbox_new());
    ASSERT_TRUE(IsOk(pyctx_sandbox_block_process_creation(s.get())));
    start(s);
    const char *policy = "process creation blocked";
    EXPECT_TRUE(Blocked(run("import subprocess; subprocess.run(['true'])"), "subprocess.Popen", policy));
    EXPECT_TRUE(Blocked(run("import os; os.system('true')"), "os.system", policy));
    // os.popen is subprocess.Popen underneath.
    EXPECT_TRUE(Blocked(run("import os; os.popen('true')"), "subprocess.Popen", policy));
    EXPECT_TRUE(Blocked(run("import os; os.posix_spawn('/bin/true', ['true'], {})"),
                        "os.posix_spawn", policy));
    if (mode() == PYCTX_MODE_WORKER) {
        // os.spawn* is fork + exec underneath on POSIX.
        EXPECT_TRUE(Blocked(run("import os; os.spawnv(os.P_WAIT, '/bin/true', ['true'])"),
                            "os.fork", policy));
        // An owngil interpreter refuses fork and exec itself (RuntimeError)
        // before any audit event is raised.
        EXPECT_TRUE(Blocked(run("import os; os.fork()"), "os.fork", policy));
        EXPECT_TRUE(Blocked(run("import os; os.forkpty()"), "os.forkpty", policy));
        EXPECT_TRUE(Blocked(run("import os; os.execv('/bin/true', ['true'])"), "os.exec", policy));
    } else {
        EXPECT_NE(run("import os; os.fork()"), "ok");
        EXPECT_NE(run("import os; os.spawnv(os.P_WAIT, '/bin/true', ['true'])"), "ok");
        EXPECT_NE(run("import os; os.execv('/bin/true', ['true'])"), "ok");
    }
    // Sockets are not part of this policy.
    EXPECT_EQ(run("import socket; socket.socket().close()"), "ok");
}

TEST_P(SandboxTest, SocketsAreBlockedButSocketPairsWork) {
    Sandbox s(pyctx_sandbox_new());
    ASSERT_TRUE(IsOk(pyctx_sandbox_block_sockets(s.get())));
    start(s);
    const char *policy = "sockets blocked";
    EXPECT_TRUE(Blocked(run("import socket; socket.socket()"), "socket.__new__", policy));
    EXPECT_TRUE(Blocked(run("import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)"),
                        "socket.__new__", policy));
    EXPECT_TRUE(Blocked(run("import socket; socket.create_connection(('127.0.0.1', 9))"),
                        "socket.", policy));
    EXPECT_TRUE(Blocked(run("import socket; socket.getaddrinfo('localhost', 80)"),
                        "socket.getaddrinfo", policy));
    std::string unix_path = outside_.path() + "/sock";
    EXPECT_TRUE(Blocked(run("import socket; s = socket.socket(socket.AF_UNIX); s.bind('" +
                            unix_path + "')"),
                        "socket.bind", policy));
    EXPECT_TRUE(Blocked(run("import socket; s = socket.socket(socket.AF_UNIX); s.connect('" +
                            unix_path + "')"),
                        "socket.connect", policy));
    EXPECT_EQ(run("import socket\na, b = socket.socketpair()\na.sendall(b'x')\n"
                  "assert b.recv(1) == b'x'\na.close(); b.close()"),
              "ok");
}

TEST_P(SandboxTest, FilesOutsideAllowedPathsAreBlocked) {
    Sandbox s = full_policy();
    start(s);
    const std::string rw = rw_.path(), ro = ro_.path(), out = outside_.path();
    const char *policy = "files limited to";
    // Allowed: read-write and read-only paths, as allowed.
    EXPECT_EQ(run("open('" + rw + "/new.txt', 'w').write('hi')"), "ok");
    EXPECT_EQ(run("assert open('" + rw + "/new.txt').read() == 'hi'"), "ok");
    EXPECT_EQ(run("assert open('" + ro_file_ + "').read() == 'read me'"), "ok");
    EXPECT_EQ(run("import os; assert os.listdir('" + ro + "') == ['data.txt']"), "ok");
    EXPECT_EQ(run("import os; os.mkdir('" + rw + "/d'); os.rename('" + rw + "/d', '" + rw +
                  "/e'); os.rmdir('" + rw + "/e')"),
              "ok");
    // Read-only stays read-only.
    EXPECT_TRUE(Blocked(run("open('" + ro_file_ + "', 'a')"), "open of '" + ro_file_ + "' for writing",
                        policy));
    EXPECT_TRUE(Blocked(run("import os; os.remove('" + ro_file_ + "')"), "os.remove", policy));
    EXPECT_TRUE(Blocked(run("import os; os.chmod('" + ro_file_ + "', 0o600)"), "os.chmod", policy));
    // Outside: nothing.
    EXPECT_TRUE(Blocked(run("open('/etc/hostname')"), "open of '/etc/hostname'", policy));
    EXPECT_TRUE(Blocked(run("import os; os.listdir('/etc')"), "os.listdir of '/etc'", policy));
    EXPECT_TRUE(Blocked(run("import os; list(os.scandir('" + out + "'))"), "os.scandir", policy));
    // The default directory of listdir is the working directory (this
    // test's, which is not allowed).
    EXPECT_TRUE(Blocked(run("import os; os.listdir()"), "os.listdir of", policy));
    EXPECT_TRUE(Blocked(run("import os; os.mkdir('" + out + "/x')"), "os.mkdir", policy));
    EXPECT_TRUE(Blocked(run("import os; os.rename('" + rw + "/new.txt', '" + out + "/stolen')"),
                        "os.rename", policy));
    EXPECT_TRUE(Blocked(run("import shutil; shutil.copyfile('" + ro_file_ + "', '" + out +
                            "/copy')"),
                        "shutil.copyfile", policy));
    // Symlinks are resolved: a link inside an allowed directory to a file
    // outside gives no access to it.
    EXPECT_EQ(run("import os; os.symlink('/etc/hostname', '" + rw + "/link')"), "ok");
    EXPECT_TRUE(Blocked(run("open('" + rw + "/link')"), "-> '/etc/hostname'", policy));
    // dir_fd is resolved: relative to an allowed directory is allowed.
    EXPECT_EQ(run("import os\nfd = os.open('" + rw + "', os.O_RDONLY)\nos.mkdir('sub', dir_fd=fd)\n"
                  "os.rmdir('sub', dir_fd=fd)\nos.close(fd)"),
              "ok");
    EXPECT_TRUE(Blocked(run("import os\nfd = os.open('" + rw + "', os.O_RDONLY)\n"
                            "try:\n    os.mkdir('../escaped', dir_fd=fd)\nfinally:\n    os.close(fd)"),
                        "os.mkdir", policy));
    // A dir_fd that is no directory resolves to nothing allowed.
    EXPECT_TRUE(Blocked(run("import os, socket\na, b = socket.socketpair()\n"
                            "try:\n    os.mkdir('x', dir_fd=a.fileno())\nfinally:\n"
                            "    a.close(); b.close()"),
                        "os.mkdir", policy));
    EXPECT_FALSE(std::filesystem::exists(out + "/x"));
    EXPECT_FALSE(std::filesystem::exists(out + "/stolen"));
    // Python's own files stay readable: a stdlib module not imported yet.
    EXPECT_EQ(run("import colorsys, importlib; importlib.reload(colorsys)"), "ok");
}

TEST_P(SandboxTest, NoAllowedPathsMeansOnlyPythonsOwn) {
    Sandbox s(pyctx_sandbox_new());
    ASSERT_TRUE(IsOk(pyctx_sandbox_restrict_files(s.get())));
    start(s);
    EXPECT_TRUE(Blocked(run("open('" + ro_file_ + "')"), "open of", "files limited to"));
    EXPECT_EQ(run("import os, sys; os.listdir(sys.prefix)"), "ok");
}

TEST_P(SandboxTest, AsyncioRunsInsideTheSandbox) {
    Sandbox s = full_policy();
    LimitedSpec spec;
    spec.mode = mode();
    spec.sandbox = s.get();
    spec.name = "sandboxed";
    spec.preload = R"(
import asyncio
async def work(n):
    await asyncio.sleep(0.001)
    loop = asyncio.get_running_loop()
    doubled = await loop.run_in_executor(None, lambda: n * 2)
    return doubled + 1
def run_fresh_loop(n):
    return asyncio.run(work(n))
)";
    ASSERT_TRUE(IsOk(create_limited_context(ctx_, spec)));
    // A coroutine call runs on the context's own loop.
    Outcome o = call(ctx_.get(), "__main__", "work", cbor_array(20));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 41);
    // A fresh loop with its self-pipe, in the sandbox.
    o = call(ctx_.get(), "__main__", "run_fresh_loop", cbor_array(1));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 3);
}

TEST_P(SandboxTest, ThreadsStartedInsideInheritThePolicy) {
    Sandbox s = full_policy();
    start(s);
    // The thread's outcome is re-raised as PermissionError(outcome).
    const std::string in_thread =
        "import threading, socket\n"
        "box = []\n"
        "def f():\n"
        "    try:\n"
        "        socket.socket()\n"
        "        box.append('the thread opened a socket')\n"
        "    except PermissionError as e:\n"
        "        box.append(str(e))\n"
        "t = threading.Thread(target=f); t.start(); t.join()\n"
        "raise PermissionError(box[0])\n";
    EXPECT_TRUE(Blocked(run(in_thread), "socket.__new__", "sockets blocked"));
    EXPECT_TRUE(Blocked(run("import concurrent.futures as cf, socket\n"
                            "with cf.ThreadPoolExecutor(1) as ex:\n"
                            "    ex.submit(socket.socket).result()"),
                        "socket.__new__", "sockets blocked"));
}

TEST_P(SandboxTest, ContextsWithoutAPolicyAreUnaffected) {
    Sandbox s = full_policy();
    start(s);  // a sandboxed context exists meanwhile
    Context plain;
    LimitedSpec spec;
    spec.mode = mode();
    ASSERT_TRUE(IsOk(create_limited_context(plain, spec)));
    EXPECT_EQ(attempt(plain.get(), "import socket; socket.socket().close()"), "ok");
    EXPECT_EQ(attempt(plain.get(), "open('/etc/hostname').read()"), "ok");
    EXPECT_EQ(attempt(plain.get(), "import os; os.listdir('/etc')"), "ok");
    EXPECT_EQ(attempt(plain.get(), "import threading, socket\n"
                                   "t = threading.Thread(target=lambda: socket.socket().close())\n"
                                   "t.start(); t.join()"),
              "ok");
    // And the sandboxed one is still sandboxed.
    EXPECT_TRUE(Blocked(run("import socket; socket.socket()"), "socket.__new__", "sockets blocked"));
}

PYCTX_INSTANTIATE_FOR_ALL_MODES(SandboxTest);

TEST(SandboxOptions, BadArgumentsAreRejected) {
    Sandbox s(pyctx_sandbox_new());
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(FailsWith(pyctx_sandbox_allow_path(s.get(), "relative/dir", 1),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_sandbox_allow_path(s.get(), nullptr, 1), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_sandbox_allow_path(nullptr, "/tmp", 1), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_sandbox_block_sockets(nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_sandbox_block_process_creation(nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_sandbox_restrict_files(nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_sandbox(nullptr, s.get()),
                          PYCTX_ERR_INVALID_ARGUMENT));
    pyctx_sandbox_free(nullptr);
}

TEST(SandboxOptions, TheOptionsKeepACopy) {
    Sandbox s(pyctx_sandbox_new());
    ASSERT_TRUE(IsOk(pyctx_sandbox_block_sockets(s.get())));
    ContextOptions options(pyctx_context_options_new());
    ASSERT_TRUE(IsOk(pyctx_context_options_set_sandbox(options.get(), s.get())));
    s.reset();  // the options do not depend on the builder
    ASSERT_TRUE(IsOk(pyctx_context_options_set_preload(options.get(), kAttemptPreload)));
    ASSERT_TRUE(IsOk(pyctx_context_options_set_name(options.get(), "sandboxed")));
    pyctx_context_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_context_create(options.get(), &raw)));
    Context ctx(raw);
    EXPECT_TRUE(Blocked(attempt(ctx.get(), "import socket; socket.socket()"), "socket.__new__",
                        "sockets blocked"));
    // Clearing it again gives an unsandboxed context.
    ASSERT_TRUE(IsOk(pyctx_context_options_set_sandbox(options.get(), nullptr)));
    ASSERT_TRUE(IsOk(pyctx_context_create(options.get(), &raw)));
    Context plain(raw);
    EXPECT_EQ(attempt(plain.get(), "import socket; socket.socket().close()"), "ok");
}

}  // namespace
