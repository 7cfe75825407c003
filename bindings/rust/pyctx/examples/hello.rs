//! A first pyctx program in Rust: run it with `cargo run --example hello`.

use std::time::Duration;

use pyctx::{ContextOptions, Mode, Runtime, RuntimeOptions, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::init(&RuntimeOptions::new())?;
    println!("pyctx {} running Python {}", pyctx::library_version_string(), rt.python_version());

    // A context in its own subinterpreter (own GIL), if this Python has them.
    let mode = if rt.owngil_supported() { Mode::OwnGil } else { Mode::Worker };
    let ctx = rt.context(&ContextOptions::new().mode(mode).name("hello"))?;

    // Call a function, evaluate an expression, execute statements.
    let root = ctx.call("math", "sqrt", (2.0,))?;
    println!("math.sqrt(2) = {root}");
    ctx.exec("def describe(xs):\n    return {'n': len(xs), 'sum': sum(xs), 'kinds': tuple(sorted({type(x).__name__ for x in xs}))}")?;
    let summary = ctx.call("__main__", "describe", (vec![1.5, 2.5, 4.0],))?;
    println!("describe([1.5, 2.5, 4.0]) = {summary}");
    let total: f64 = summary.get("sum").cloned().unwrap_or_default().try_into()?;
    println!("the sum as a Rust f64: {total}");

    // Python errors come back structured.
    if let Err(e) = ctx.eval("int('not a number')") {
        println!("error: type {:?}, message {:?}", e.python_type().unwrap_or(""), e.message());
    }

    // Python calling Rust.
    pyctx::host::register("rust_upper", |args: &[Value]| {
        let s = args.first().and_then(Value::as_str).ok_or("expected one str")?;
        Ok(Value::from(s.to_uppercase()))
    })?;
    ctx.exec("import pyctx")?;
    println!("pyctx.call('rust_upper', 'shout') = {}", ctx.eval("pyctx.call('rust_upper', 'shout')")?);

    // An asynchronous request: a future; `wait` blocks on it without an executor.
    let pending = ctx.call_with("math", "factorial").arg(30).timeout(Duration::from_secs(5)).run_async();
    println!("30! = {}", pending.wait()?);

    ctx.close(Duration::from_secs(5))?;
    rt.shutdown(Duration::from_secs(5))?;
    Ok(())
}
