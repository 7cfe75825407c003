/* Definitions shared by the NIF's source files: resource types, error
 * terms, argument helpers. */
#ifndef PYCTX_ERL_NIF_COMMON_H
#define PYCTX_ERL_NIF_COMMON_H

#include <erl_nif.h>
#include <pyctx.h>
#include <stdatomic.h>
#include <stdint.h>

/* A context handle. Freed (pyctx_context_free) by the resource destructor
 * once no Erlang term, env handle or pending request refers to it. */
typedef struct ctx_res {
    pyctx_context_t *ctx;
    ErlNifMonitor owner_monitor;
    atomic_int has_owner; /* 1 while an owner process is monitored */
} ctx_res;

/* An env (namespace) handle; keeps its context alive. */
typedef struct env_res {
    pyctx_env_t *env;
    ctx_res *ctx;
} env_res;

/* Request states. The completion callback moves PENDING -> SENDING, sends
 * the reply, then moves to SENT (the reply is in the owner's mailbox, or
 * already received). The owner's abandon, or the owner's death, moves
 * PENDING -> ABANDONED, and no reply is ever sent. Whoever wins the
 * compare-and-swap decides. */
enum { REQ_PENDING = 0, REQ_SENDING = 1, REQ_SENT = 2, REQ_ABANDONED = 3 };
/* What a successful reply carries: the value, or just `ok` (exec). */
enum {
    REQ_KIND_VALUE = 0,   /* {ok, Value} */
    REQ_KIND_EXEC = 1,    /* ok */
    REQ_KIND_OBJECT = 2,  /* {ok, Object}: result form object */
    REQ_KIND_BUFFER = 3,  /* {ok, Binary}: result form buffer, a resource binary */
    REQ_KIND_RELEASE = 4  /* ok: an object release */
};

struct req_res;
struct pool_res;

/* One per process that makes requests (kept in its process dictionary):
 * monitors the process once, and lists its pending requests so that they
 * are cancelled when it dies. Far cheaper than a monitor per request. */
typedef struct owner_res {
    ErlNifPid pid;
    ErlNifMutex *lock;      /* guards `pending` and `dead` */
    struct req_res *pending; /* doubly linked through req_res.prev/next */
    int dead;
    ErlNifMonitor monitor;
} owner_res;

/* One asynchronous request; its term is the request reference. */
typedef struct req_res {
    ctx_res *ctx;       /* kept for the resource's life (cancel needs it);
                           NULL for a pool request */
    struct pool_res *pool; /* a pool request's pool, kept for the resource's
                              life (cancel by id goes through the pool) */
    env_res *env;       /* kept until completion; NULL for the default namespace */
    owner_res *owner;   /* kept for the resource's life */
    struct req_res *prev, *next; /* in owner->pending until completion */
    /* The request object, for requests made with one (objects, buffers,
     * result forms); NULL for the one-call functions. Freed by the
     * destructor: by then it is done (or was never accepted). */
    pyctx_request_t *preq;
    uint64_t id;
    int kind;
    int route_info; /* a pool request whose ok reply also names its route:
                       {ok, Value, #{member, key_moved}} */
    atomic_int state;
} req_res;

/* An object handle: a live Python object in one context. The destructor
 * frees the handle, which releases the Python reference (on the context
 * thread, later) unless it was released explicitly. Keeps its context
 * alive, as an env does. */
typedef struct obj_res {
    pyctx_object_t *obj;
    ctx_res *ctx;
} obj_res;

/* An Erlang binary lent to Python read-only, without a copy. The binary is
 * kept alive by a process-independent env that the buffer's finalizer
 * frees once the loan ends (the handle freed by the destructor, and every
 * request and Python view of it gone). */
typedef struct lend_res {
    pyctx_buffer_t *buf;
} lend_res;

/* A view of a Python buffer-protocol result, pinned while the resource
 * binary made from it lives. */
typedef struct view_res {
    pyctx_buffer_t *buf;
} view_res;

/* A pool handle (pyctx_pool_t). The destructor frees it (closing an open
 * pool without waiting) once no term or request refers to it. */
typedef struct pool_res {
    pyctx_pool_t *pool;
} pool_res;

/* A pending Python -> Erlang host call; answered exactly once. */
typedef struct host_call_res {
    _Atomic(pyctx_host_call_t *) call;
} host_call_res;

extern ErlNifResourceType *CTX_TYPE;
extern ErlNifResourceType *ENV_TYPE;
extern ErlNifResourceType *REQ_TYPE;
extern ErlNifResourceType *OWNER_TYPE;
extern ErlNifResourceType *HOST_CALL_TYPE;
extern ErlNifResourceType *OBJ_TYPE;
extern ErlNifResourceType *LEND_TYPE;
extern ErlNifResourceType *VIEW_TYPE;
extern ErlNifResourceType *STREAM_TYPE;
extern ErlNifResourceType *POOL_TYPE;

/* Resource type set-up, one per source file; 0 on failure. */
int context_resources_open(ErlNifEnv *env);
int request_resources_open(ErlNifEnv *env);
int host_resources_open(ErlNifEnv *env);
int object_resources_open(ErlNifEnv *env);
int stream_resources_open(ErlNifEnv *env);
int pool_resources_open(ErlNifEnv *env);

/* The reason term of an error (without the {error, _} wrapper):
 *   timeout | cancelled | closed | not_running | queue_full
 *   {python, Type, Message, Traceback}
 *   {Status, Message} for every other status. */
ERL_NIF_TERM error_reason(ErlNifEnv *env, const pyctx_error_t *error);
/* {error, Reason} from an error, which it frees. */
ERL_NIF_TERM error_tuple_consume(ErlNifEnv *env, pyctx_error_t *error);
/* {error, {Tag, <<Message>>}} */
ERL_NIF_TERM error_message_tuple(ErlNifEnv *env, ERL_NIF_TERM tag, const char *message);
/* A binary copy of a NUL-terminated string. */
ERL_NIF_TERM make_binary_str(ErlNifEnv *env, const char *s);

/* A NUL-terminated UTF-8 string taken from an atom, binary or iolist. */
typedef struct cstr_arg {
    char *ptr;
    char stack[256];
} cstr_arg;

/* 0 when `term` is not text or contains a NUL byte. */
int cstr_from_term(ErlNifEnv *env, ERL_NIF_TERM term, cstr_arg *out);
void cstr_release(cstr_arg *s);

/* A NIF function, as enif_schedule_nif takes it. */
typedef ERL_NIF_TERM (*nif_fn)(ErlNifEnv *, int, const ERL_NIF_TERM[]);
/* The arguments were too big to encode on a normal scheduler within its
 * time slice: run `fn` (the whole NIF again) on a dirty CPU scheduler. */
ERL_NIF_TERM go_dirty(ErlNifEnv *env, const char *name, nif_fn fn, int argc,
                      const ERL_NIF_TERM argv[]);

/* The CBOR writer of the calling scheduler thread, reset and ready. A NIF
 * call runs to its end on one thread, so one writer per thread suffices. */
pyctx_cbor_writer_t *thread_writer(void);

/* A process-independent env for building one message on a library thread,
 * reused per thread: cleared after each send. */
ErlNifEnv *thread_message_env(void);

#endif
