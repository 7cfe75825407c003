/*
 * A plain C99 host linked statically against pyctx_static (the C++ runtime
 * comes in through the C++ linker): initializes the runtime, runs one call
 * and checks its value. Exit status 0 only when everything matched.
 */
#include <stdio.h>
#include <string.h>

#include "pyctx.h"

static int failures = 0;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

static int ok_or_report(pyctx_error_t *error, const char *what) {
    if (!error) return 1;
    fprintf(stderr, "FAILED: %s: %s: %s\n", what, pyctx_status_name(pyctx_error_status(error)),
            pyctx_error_message(error));
    pyctx_error_free(error);
    failures++;
    return 0;
}

int main(void) {
    pyctx_context_t *ctx = NULL;
    pyctx_cbor_writer_t *writer;
    const uint8_t *args;
    size_t args_len = 0;
    pyctx_bytes_t result = {NULL, 0};
    pyctx_cbor_reader_t reader;
    pyctx_cbor_item_t item;
    pyctx_error_t *error;
    char expected_version[32];

    check(pyctx_version() == PYCTX_VERSION, "pyctx_version() matches the header");
    sprintf(expected_version, "%d.%d.%d", PYCTX_VERSION_MAJOR, PYCTX_VERSION_MINOR,
            PYCTX_VERSION_PATCH);
    check(strcmp(pyctx_version_string(), expected_version) == 0, "version string");

    if (!ok_or_report(pyctx_init(NULL), "init")) return 1;
    if (!ok_or_report(pyctx_context_create(NULL, &ctx), "context_create")) return 1;

    /* math.gcd(84, 126) == 42 */
    writer = pyctx_cbor_writer_new();
    check(pyctx_cbor_write_array(writer, 2) == 0, "write array");
    check(pyctx_cbor_write_int(writer, 84) == 0, "write int");
    check(pyctx_cbor_write_int(writer, 126) == 0, "write int");
    args = pyctx_cbor_writer_data(writer, &args_len);
    if (ok_or_report(pyctx_call(ctx, "math", "gcd", args, args_len, NULL, 0, PYCTX_NO_TIMEOUT,
                                &result),
                     "call math.gcd")) {
        pyctx_cbor_reader_init(&reader, result.data, result.len);
        error = pyctx_cbor_read(&reader, &item);
        if (ok_or_report(error, "read result")) {
            check(item.type == PYCTX_CBOR_UINT && item.uint_value == 42, "gcd(84, 126) == 42");
            check(pyctx_cbor_reader_at_end(&reader) == 1, "result is one item");
        }
        pyctx_bytes_free(&result);
    }
    pyctx_cbor_writer_free(writer);

    check(ok_or_report(pyctx_context_close(ctx, 5000), "close"), "close");
    pyctx_context_free(ctx);
    check(ok_or_report(pyctx_shutdown(5000), "shutdown"), "shutdown");
    check(pyctx_runtime_state() == PYCTX_STATE_STOPPED, "stopped");

    if (failures == 0) printf("c_static_call: ok\n");
    return failures == 0 ? 0 : 1;
}
