/* Atoms used by the NIF, created once at load time (make_atoms()).
 * X-macro list: each entry becomes a global `ATOM_<name>`. */
#ifndef PYCTX_ERL_ATOMS_H
#define PYCTX_ERL_ATOMS_H

#include <erl_nif.h>

#define PYCTX_ERL_ATOM_LIST(X) \
    X(ok) X(error) X(true) X(false) X(none) X(undefined) \
    X(bytes) X(symbol) X(set) X(float) X(nan) X(infinity) X(neg_infinity) \
    X(pyctx) X(pyctx_host_call) X(python) \
    X(timeout) X(cancelled) X(closed) X(not_running) X(queue_full) \
    X(invalid_argument) X(already_initialized) X(unsupported) X(decode) \
    X(encode) X(not_found) X(no_memory) X(stuck) X(internal) X(crashed) \
    X(abandoned) X(sending) X(sent) X(pending) X(not_owner) X(already_answered) \
    X(uninit) X(initing) X(running) X(shutting_down) X(stopped) \
    X(worker) X(owngil) X(process) X(name) X(mode) X(completed) X(failed) \
    X(timed_out) X(queue_depth) X(thread_id) X(closed_requests) \
    X(memory_used) X(memory_limit) X(restored) X(unchanged) \
    X(call) X(eval) X(object_call) X(method_call) X(getattr) X(release) \
    X(value) X(object) X(buffer) X(live_objects) X(id) X(alive) X(context) \
    X(pyctx_stream) X(item) X(done) X(ended) X(idle) X(owed) X(child_pid) X(restarts) X(lent_views) X(lent_total) X(held_views) \
    X(stderr) X(log) X(member) X(key_moved)

#define PYCTX_ERL_DECLARE_ATOM(a) extern ERL_NIF_TERM ATOM_##a;
PYCTX_ERL_ATOM_LIST(PYCTX_ERL_DECLARE_ATOM)
#undef PYCTX_ERL_DECLARE_ATOM

/* Creates every atom above; called from the NIF load callback. */
void make_atoms(ErlNifEnv *env);

#endif
