/* Process contexts in the VM: the SIGCHLD disposition their exit status
 * needs. */
#ifndef PYCTX_ERL_NIF_PROCESS_H
#define PYCTX_ERL_NIF_PROCESS_H

#include <erl_nif.h>

/* keep_child_exit_status() -> restored | unchanged. */
ERL_NIF_TERM nif_keep_child_exit_status(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
