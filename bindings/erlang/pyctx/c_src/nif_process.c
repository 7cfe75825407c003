#include "nif_process.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "atoms.h"

/* The BEAM ignores SIGCHLD: its one child of its own, erl_child_setup (the
 * parent of every port program), lives as long as the VM. While SIGCHLD is
 * ignored the kernel discards the exit status of every child, so the
 * library could not say how a process context's child died (only that it
 * did). This restores the default disposition, under which a child's
 * status waits for its parent (the library's reaper collects it). A
 * handler someone installed is left alone. Called before a process context
 * starts, unless the application's `process_exit_status' is false. */
ERL_NIF_TERM nif_keep_child_exit_status(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)env;
    (void)argc;
    (void)argv;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    ERL_NIF_TERM result = ATOM_unchanged;
    pthread_mutex_lock(&mu);
    struct sigaction now;
    if (sigaction(SIGCHLD, NULL, &now) == 0 &&
        (now.sa_handler == SIG_IGN ||
         (now.sa_handler == SIG_DFL && (now.sa_flags & SA_NOCLDWAIT)))) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        if (sigaction(SIGCHLD, &dfl, NULL) == 0) result = ATOM_restored;
    }
    pthread_mutex_unlock(&mu);
    return result;
}
