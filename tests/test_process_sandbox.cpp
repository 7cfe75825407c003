// The kernel half of a process context's sandbox: what the audit hook
// cannot stop -- C code and ctypes calling the C library directly -- the
// child's Landlock rules and seccomp filter do. Each case goes around the
// hook on purpose (ctypes) and checks the errno the kernel gave.
#include <gtest/gtest.h>

#include <string>

#include "support/limits.h"
#include "support/process.h"
#include "support/runtime_env.h"
#include "support/temp_dir.h"

using namespace pyctx_test;

namespace {

auto *const g_runtime = install_runtime();

// ctypes' view of libc, with errno kept per call, and a helper that says
// what one call returned and which errno it left.
constexpr const char *kLibc = R"(
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def c_result(r):
    e = ctypes.get_errno()
    return 'ok' if r >= 0 else 'errno ' + errno.errorcode.get(e, str(e))
)";

class ProcessSandbox : public ::testing::Test {
protected:
    void start(pyctx_sandbox_t *sandbox) {
        LimitedSpec spec;
        spec.mode = PYCTX_MODE_PROCESS;
        spec.sandbox = sandbox;
        spec.name = "sandboxed";
        spec.preload = kLibc;
        ASSERT_TRUE(IsOk(create_limited_context(ctx_, spec)));
    }
    std::string eval_str(const std::string &expr) {
        return eval_text(ctx_.get(), expr.c_str()).value_or("<not text>");
    }
    Context ctx_;
};

TEST_F(ProcessSandbox, CtypesForkAndExecFailButThreadsStart) {
    Sandbox s(pyctx_sandbox_new());
    ASSERT_TRUE(IsOk(pyctx_sandbox_block_process_creation(s.get())));
    start(s.get());
    EXPECT_EQ(eval_str("c_result(libc.fork())"), "errno EPERM");
    EXPECT_EQ(eval_str("c_result(libc.execv(b'/bin/true', (ctypes.c_char_p * 2)(b'true', None)))"),
              "errno EPERM");
    // posix_spawn goes through clone without CLONE_THREAD: refused too.
    EXPECT_EQ(eval_str("c_result(-libc.posix_spawn(ctypes.byref(ctypes.c_int()), b'/bin/true', "
                       "None, None, (ctypes.c_char_p * 2)(b'true', None), None))"),
              "errno EPERM");
    // Threads are clone(CLONE_THREAD) and still start.
    EXPECT_EQ(eval_str("(lambda t: (t.start(), t.join(), 'started')[2])"
                       "(__import__('threading').Thread(target=int))"),
              "started");
    // The child is still whole: it serves, and the host is untouched.
    EXPECT_EQ(eval_int(ctx_.get(), "6 * 7"), 42);
}

TEST_F(ProcessSandbox, CtypesSocketsFailButSocketPairsAndAsyncioWork) {
    Sandbox s(pyctx_sandbox_new());
    ASSERT_TRUE(IsOk(pyctx_sandbox_block_sockets(s.get())));
    start(s.get());
    EXPECT_EQ(eval_str("c_result(libc.socket(2, 1, 0))"), "errno EPERM");   // AF_INET, TCP
    EXPECT_EQ(eval_str("c_result(libc.socket(10, 2, 0))"), "errno EPERM");  // AF_INET6, UDP
    EXPECT_EQ(eval_str("c_result(libc.socket(1, 1, 0))"), "ok");            // AF_UNIX
    EXPECT_EQ(eval_str("(lambda a, b: (a.close(), b.close(), 'pair')[2])"
                       "(*__import__('socket').socketpair())"),
              "pair");
    EXPECT_EQ(eval_str("__import__('asyncio').run(__import__('asyncio').sleep(0, 'loop ran'))"),
              "loop ran");
}

TEST_F(ProcessSandbox, CtypesOpenOutsideAllowedPathsFails) {
    TempDir rw, ro, outside;
    ro.write("data.txt", "read me");
    const std::string secret = outside.write("secret.txt", "not for you");
    Sandbox s(pyctx_sandbox_new());
    ASSERT_TRUE(IsOk(pyctx_sandbox_allow_path(s.get(), rw.path().c_str(), 0)));
    ASSERT_TRUE(IsOk(pyctx_sandbox_allow_path(s.get(), ro.path().c_str(), 1)));
    start(s.get());
    auto c_open = [&](const std::string &path, const char *flags) {
        return eval_str("c_result(libc.open(b'" + path + "', " + flags + "))");
    };
    EXPECT_EQ(c_open(secret, "os.O_RDONLY"), "errno EACCES");
    EXPECT_EQ(c_open(ro.path() + "/data.txt", "os.O_RDONLY"), "ok");
    EXPECT_EQ(c_open(ro.path() + "/data.txt", "os.O_WRONLY"), "errno EACCES");
    EXPECT_EQ(c_open(ro.path() + "/new.txt", "os.O_WRONLY | os.O_CREAT"), "errno EACCES");
    EXPECT_EQ(c_open(rw.path() + "/new.txt", "os.O_WRONLY | os.O_CREAT"), "ok");
    EXPECT_EQ(eval_str("c_result(libc.unlink(b'" + rw.path() + "/new.txt'))"), "ok");
    // Python's own installation stays readable: imports keep working.
    EXPECT_EQ(eval_str("__import__('json').dumps([1])"), "[1]");
    // The policy's message for what Python itself tries (the audit hook).
    Outcome o = eval(ctx_.get(), ("open('" + secret + "').read()").c_str());
    EXPECT_TRUE(RaisesPython(o.error.get(), "PermissionError")) << o.describe();
}

}  // namespace
