// pyctx-process-helper: the child program of process contexts. The library
// starts it (posix_spawn) with its channel on descriptors 3-5; it is not
// meant to be run by hand.
#include <cstdio>
#include <cstring>

#include "core/engine/process/child/child_server.h"
#include "core/engine/process/spawn.h"

int main(int argc, char **argv) {
    if (argc < 2 || std::strcmp(argv[1], pyctx::core::kHelperMagicArg) != 0) {
        std::fprintf(stderr,
                     "%s: the child program of pyctx process contexts, started by the "
                     "library; not meant to be run by hand\n",
                     argc ? argv[0] : "pyctx-process-helper");
        return 64;
    }
    return pyctx::core::child_main();
}
