/*
 * A plain C99 host that does not link against pyctx at all: it loads the
 * shared library given as argv[1] with dlopen, resolves the entry points it
 * needs with dlsym (types from pyctx.h), runs one call and checks its value.
 * This is how runtime-loading bindings use the library.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "pyctx.h"

typedef uint32_t (*version_fn)(void);
typedef pyctx_error_t *(*init_fn)(const pyctx_runtime_options_t *);
typedef pyctx_error_t *(*shutdown_fn)(uint32_t);
typedef pyctx_error_t *(*context_create_fn)(const pyctx_context_options_t *, pyctx_context_t **);
typedef void (*context_free_fn)(pyctx_context_t *);
typedef pyctx_error_t *(*call_fn)(pyctx_context_t *, const char *, const char *, const uint8_t *,
                                  size_t, const uint8_t *, size_t, uint32_t, pyctx_bytes_t *);
typedef void (*bytes_free_fn)(pyctx_bytes_t *);
typedef const char *(*error_message_fn)(const pyctx_error_t *);
typedef void (*error_free_fn)(pyctx_error_t *);

static void *library;

/* dlsym returns an object pointer; copy it into a function pointer. */
static int resolve(const char *name, void *fn_out, size_t fn_size) {
    void *sym = dlsym(library, name);
    if (!sym) {
        fprintf(stderr, "FAILED: dlsym(%s): %s\n", name, dlerror());
        return 0;
    }
    memcpy(fn_out, &sym, fn_size);
    return 1;
}
#define RESOLVE(var, name) resolve(name, &(var), sizeof(var))

int main(int argc, char **argv) {
    version_fn version;
    init_fn init;
    shutdown_fn shutdown;
    context_create_fn context_create;
    context_free_fn context_free;
    call_fn call;
    bytes_free_fn bytes_free;
    error_message_fn error_message;
    error_free_fn error_free;
    pyctx_context_t *ctx = NULL;
    pyctx_error_t *error;
    pyctx_bytes_t result = {NULL, 0};
    /* CBOR [6, 7] */
    static const uint8_t args[] = {0x82, 0x06, 0x07};
    int ok;

    if (argc != 2) {
        fprintf(stderr, "usage: %s /path/to/libpyctx.so\n", argv[0]);
        return 2;
    }
    library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        fprintf(stderr, "FAILED: dlopen: %s\n", dlerror());
        return 1;
    }
    if (!(RESOLVE(version, "pyctx_version") && RESOLVE(init, "pyctx_init") &&
          RESOLVE(shutdown, "pyctx_shutdown") && RESOLVE(context_create, "pyctx_context_create") &&
          RESOLVE(context_free, "pyctx_context_free") && RESOLVE(call, "pyctx_call") &&
          RESOLVE(bytes_free, "pyctx_bytes_free") && RESOLVE(error_message, "pyctx_error_message") &&
          RESOLVE(error_free, "pyctx_error_free")))
        return 1;
    if (dlsym(library, "pyctx_no_such_function") != NULL) {
        fprintf(stderr, "FAILED: dlsym found a function that does not exist\n");
        return 1;
    }
    if (version() != PYCTX_VERSION) {
        fprintf(stderr, "FAILED: loaded version %u, header %u\n", (unsigned)version(),
                (unsigned)PYCTX_VERSION);
        return 1;
    }

    error = init(NULL);
    if (!error) error = context_create(NULL, &ctx);
    if (!error) error = call(ctx, "operator", "mul", args, sizeof args, NULL, 0, 0, &result);
    if (error) {
        fprintf(stderr, "FAILED: %s\n", error_message(error));
        error_free(error);
        return 1;
    }
    /* 42 is CBOR 0x18 0x2a. */
    ok = result.len == 2 && result.data[0] == 0x18 && result.data[1] == 0x2a;
    if (!ok) fprintf(stderr, "FAILED: operator.mul(6, 7) did not return 42\n");
    bytes_free(&result);
    context_free(ctx);
    error = shutdown(5000);
    if (error) {
        fprintf(stderr, "FAILED: shutdown: %s\n", error_message(error));
        error_free(error);
        return 1;
    }
    /* The library stays loaded: Python's shared state cannot be unloaded. */
    if (ok) printf("c_dlopen_call: ok\n");
    return ok ? 0 : 1;
}
