#include "atoms.h"

#define PYCTX_ERL_DEFINE_ATOM(a) ERL_NIF_TERM ATOM_##a;
PYCTX_ERL_ATOM_LIST(PYCTX_ERL_DEFINE_ATOM)
#undef PYCTX_ERL_DEFINE_ATOM

void make_atoms(ErlNifEnv *env) {
#define PYCTX_ERL_MAKE_ATOM(a) ATOM_##a = enif_make_atom(env, #a);
    PYCTX_ERL_ATOM_LIST(PYCTX_ERL_MAKE_ATOM)
#undef PYCTX_ERL_MAKE_ATOM
}
