/*
 * A program of an outside project, built against an installed pyctx only
 * (tests/package/run.sh builds it four ways). It checks that the library it
 * loaded is the version its header names, then makes a context and checks
 * the values of a call and an eval. Exit status 0 only when all matched.
 */
#include <stdio.h>
#include <string.h>

#include <pyctx.h>

static int failures = 0;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

/* Returns 1 when err is NULL; otherwise reports and frees it. */
static int ok(pyctx_error_t *err, const char *what)
{
    if (err == NULL)
        return 1;
    fprintf(stderr, "FAILED: %s: %s: %s\n", what, pyctx_status_name(pyctx_error_status(err)),
            pyctx_error_message(err));
    pyctx_error_free(err);
    failures++;
    return 0;
}

/* The one item of `result` must be the unsigned integer `want`. */
static void check_uint(const pyctx_bytes_t *result, uint64_t want, const char *what)
{
    pyctx_cbor_reader_t reader;
    pyctx_cbor_item_t item;
    pyctx_cbor_reader_init(&reader, result->data, result->len);
    if (ok(pyctx_cbor_read(&reader, &item), what))
        check(item.type == PYCTX_CBOR_UINT && item.uint_value == want &&
                  pyctx_cbor_reader_at_end(&reader),
              what);
}

int main(void)
{
    char header_version[32];
    pyctx_context_t *ctx = NULL;
    pyctx_cbor_writer_t *w;
    const uint8_t *args;
    size_t len = 0;
    pyctx_bytes_t result = {NULL, 0};

    snprintf(header_version, sizeof header_version, "%d.%d.%d", PYCTX_VERSION_MAJOR,
             PYCTX_VERSION_MINOR, PYCTX_VERSION_PATCH);
    check(strcmp(pyctx_version_string(), header_version) == 0,
          "the loaded library is the header's version");

    if (!ok(pyctx_init(NULL), "pyctx_init") || !ok(pyctx_context_create(NULL, &ctx), "create"))
        return 1;

    /* math.gcd(84, 126) == 42 */
    w = pyctx_cbor_writer_new();
    check(w != NULL && pyctx_cbor_write_array(w, 2) == 0 && pyctx_cbor_write_int(w, 84) == 0 &&
              pyctx_cbor_write_int(w, 126) == 0,
          "encode arguments");
    args = pyctx_cbor_writer_data(w, &len);
    if (ok(pyctx_call(ctx, "math", "gcd", args, len, NULL, 0, PYCTX_NO_TIMEOUT, &result),
           "call math.gcd"))
        check_uint(&result, 42, "math.gcd(84, 126) == 42");
    pyctx_bytes_free(&result);
    pyctx_cbor_writer_free(w);

    /* Python's own arithmetic, through eval. */
    if (ok(pyctx_eval(ctx, "sum(range(101))", NULL, NULL, 0, PYCTX_NO_TIMEOUT, &result),
           "eval"))
        check_uint(&result, 5050, "sum(range(101)) == 5050");
    pyctx_bytes_free(&result);

    ok(pyctx_context_close(ctx, 5000), "close");
    pyctx_context_free(ctx);
    ok(pyctx_shutdown(5000), "shutdown");

    if (failures == 0)
        printf("package app %s, Python %s: ok\n", pyctx_version_string(), pyctx_python_version());
    return failures == 0 ? 0 : 1;
}
