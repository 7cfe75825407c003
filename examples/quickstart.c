/*
 * quickstart.c -- the smallest complete pyctx program.
 *
 * Starts Python, creates a context (a Python execution lane with its own
 * thread), calls math.sqrt(2.0), runs statements with exec, evaluates an
 * expression with local variables, shows what a Python error looks like,
 * and shuts down.
 *
 * Values cross the API as CBOR: arguments are built with pyctx_cbor_writer,
 * results are printed with pyctx_cbor_diagnose.
 *
 *   cmake --build build --target quickstart && build/examples/quickstart
 */
#include <pyctx.h>

#include <stdio.h>

/* If `err` is an error: prints "<what> failed: <status>: <Type>: <message>",
 * frees it and returns 1. Returns 0 for NULL (success). */
static int report(const char *what, pyctx_error_t *err)
{
    if (err == NULL)
        return 0;
    printf("%s failed: %s: ", what, pyctx_status_name(pyctx_error_status(err)));
    if (pyctx_error_python_type(err)[0] != '\0')
        printf("%s: ", pyctx_error_python_type(err));
    printf("%s\n", pyctx_error_message(err));
    pyctx_error_free(err);
    return 1;
}

/* Prints a CBOR result in diagnostic notation (e.g. 1.4142135623730951 or
 * "text") and releases it. */
static void print_result(const char *label, pyctx_bytes_t *result)
{
    pyctx_bytes_t text = {NULL, 0};
    if (!report("diagnose", pyctx_cbor_diagnose(result->data, result->len, &text))) {
        printf("%s = %s\n", label, (const char *)text.data);
        pyctx_bytes_free(&text);
    }
    pyctx_bytes_free(result);
}

int main(void)
{
    pyctx_context_t *ctx = NULL;
    pyctx_cbor_writer_t *args = NULL;
    pyctx_bytes_t result = {NULL, 0};
    const uint8_t *data;
    size_t len;
    int failed = 0;

    /* 1. Start the runtime (defaults) and one context (worker mode). */
    if (report("pyctx_init", pyctx_init(NULL)))
        return 1;
    printf("Python %s\n", pyctx_python_version());
    if (report("pyctx_context_create", pyctx_context_create(NULL, &ctx))) {
        failed = 1;
        goto shutdown;
    }

    /* 2. Call math.sqrt(2.0): the arguments are one CBOR array [2.0]. */
    args = pyctx_cbor_writer_new();
    if (args == NULL || pyctx_cbor_write_array(args, 1) != 0 ||
        pyctx_cbor_write_float(args, 2.0) != 0) {
        printf("out of memory\n");
        failed = 1;
        goto close;
    }
    data = pyctx_cbor_writer_data(args, &len);
    if (report("call", pyctx_call(ctx, "math", "sqrt", data, len, NULL, 0, PYCTX_NO_TIMEOUT,
                                  &result)))
        failed = 1;
    else
        print_result("math.sqrt(2.0)", &result);

    /* 3. Exec defines a function in the context's default namespace, which
     *    persists across requests ... */
    if (report("exec", pyctx_exec(ctx, "def greet(name):\n    return 'hello, ' + name\n", NULL,
                                  PYCTX_NO_TIMEOUT)))
        failed = 1;

    /* 4. ... so eval can use it, here with a local variable {"who": "pyctx"}. */
    pyctx_cbor_writer_reset(args);
    if (pyctx_cbor_write_map(args, 1) != 0 || pyctx_cbor_write_cstr(args, "who") != 0 ||
        pyctx_cbor_write_cstr(args, "pyctx") != 0) {
        printf("out of memory\n");
        failed = 1;
        goto close;
    }
    data = pyctx_cbor_writer_data(args, &len);
    if (report("eval", pyctx_eval(ctx, "greet(who)", NULL, data, len, PYCTX_NO_TIMEOUT,
                                  &result)))
        failed = 1;
    else
        print_result("greet(who)", &result);

    /* 5. A Python exception comes back as an error with its type and
     *    message (and traceback, via pyctx_error_traceback). This one is
     *    expected: the report prints "... ZeroDivisionError: division by zero". */
    if (!report("eval 1/0", pyctx_eval(ctx, "1/0", NULL, NULL, 0, PYCTX_NO_TIMEOUT, &result))) {
        pyctx_bytes_free(&result);
        printf("eval 1/0 unexpectedly succeeded\n");
        failed = 1;
    }

close:
    /* 6. Close the context (waiting up to 5 s), then stop the runtime. */
    if (report("close", pyctx_context_close(ctx, 5000)))
        failed = 1;
    pyctx_context_free(ctx);
    pyctx_cbor_writer_free(args);
shutdown:
    if (report("shutdown", pyctx_shutdown(5000)))
        failed = 1;
    return failed;
}
