//! The synchronous round trip of a trivial call from Rust, beside the same
//! call made through the raw C API in the same run.
//!
//! The "C" figure is what a C program does: `pyctx_call` with a CBOR
//! argument buffer built once, then `pyctx_bytes_free`. The "Rust" figure is
//! the safe API: `ctx.call(...)` encoding the argument and decoding the
//! result into a `Value`. Both call `pyctx_bench_funcs.identity(2.0)` (the
//! function of bench/bench_roundtrip.cpp) on the same context.
//!
//! Two measurements, both robust to a machine that other work keeps busy:
//!  - latency: C and Rust calls interleaved one by one, each timed; the
//!    medians (p50) of both;
//!  - throughput: alternating rounds of back-to-back calls; the median over
//!    rounds of the mean time per call.
//!
//! Plus the Rust encode/decode work alone, which hardly depends on load.
//!
//! Then the pipelined case: `--batch` requests in flight at once, as
//! reused `Request` objects submitted one by one (`submit` each) or
//! together (`Request::submit_many`, one wake-up of the context), and as
//! `call_async` futures; alternating rounds, the median of the mean time per
//! call.
//!
//! usage: cargo run --release --example bench_roundtrip -- [--mode worker|owngil|both]
//!        [--calls N] [--rounds N] [--batch N] [--json]

use std::ffi::CString;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use pyctx::{Context, ContextOptions, IntoArgs, Mode, Request, Runtime, RuntimeOptions, Value, cbor, ffi};

struct Options {
    modes: Vec<Mode>,
    calls: u32,
    rounds: u32,
    batch: usize,
    json: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        modes: vec![Mode::Worker, Mode::OwnGil],
        calls: 20_000,
        rounds: 7,
        batch: 256,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--mode" => {
                o.modes = match value()?.as_str() {
                    "both" => vec![Mode::Worker, Mode::OwnGil],
                    m => vec![m.parse::<Mode>().map_err(|e| e.to_string())?],
                }
            }
            "--calls" => o.calls = value()?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--rounds" => o.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--batch" => o.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--json" => o.json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.calls == 0 || o.rounds == 0 || o.batch == 0 {
        return Err("--calls, --rounds and --batch must be positive".into());
    }
    Ok(o)
}

/// The request as a C program makes it.
struct RawCall {
    module: CString,
    function: CString,
    args: Vec<u8>,
}

impl RawCall {
    #[inline]
    fn run(&self, ctx: &Context) {
        let mut out = ffi::pyctx_bytes_t { data: std::ptr::null_mut(), len: 0 };
        // SAFETY: live context, NUL-terminated names, a valid CBOR buffer.
        unsafe {
            let err = ffi::pyctx_call(
                ctx.as_raw(),
                self.module.as_ptr(),
                self.function.as_ptr(),
                self.args.as_ptr(),
                self.args.len(),
                std::ptr::null(),
                0,
                ffi::PYCTX_NO_TIMEOUT,
                &mut out,
            );
            assert!(err.is_null(), "pyctx_call failed");
            black_box(out.len);
            ffi::pyctx_bytes_free(&mut out);
        }
    }
}

/// The same request through the safe API.
#[inline]
fn rust_call(ctx: &Context) {
    let v = ctx.call("pyctx_bench_funcs", "identity", (2.0,)).expect("identity call");
    black_box(v);
}

/// Interleaved single calls, each timed: (C p50, Rust p50) in ns.
fn latency_p50(ctx: &Context, raw: &RawCall, calls: u32) -> (f64, f64) {
    let mut c = Vec::with_capacity(calls as usize);
    let mut rust = Vec::with_capacity(calls as usize);
    for i in 0..calls {
        // Alternate which goes first so neither always follows the other.
        for first in [i % 2 == 0, i % 2 != 0] {
            let t = Instant::now();
            if first {
                raw.run(ctx)
            } else {
                rust_call(ctx)
            }
            let ns = t.elapsed().as_nanos() as f64;
            if first { c.push(ns) } else { rust.push(ns) }
        }
    }
    (median(&c), median(&rust))
}

/// `calls` back-to-back calls of `one`; mean ns per call.
fn round(calls: u32, mut one: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        one();
    }
    start.elapsed().as_nanos() as f64 / f64::from(calls)
}

/// What the safe API adds to a C call, without the call: encoding the
/// argument tuple into a reused buffer (as `Context::call` does) and
/// decoding a float result into a `Value`. Mean ns per call.
fn binding_overhead(result: &[u8], calls: u32) -> f64 {
    let mut buf = Vec::new();
    round(calls, || {
        buf.clear();
        black_box((2.0,)).encode_args(&mut buf);
        black_box(&buf);
        black_box(cbor::decode(black_box(result)).expect("decode"));
    })
}

/// How the pipelined case puts a batch in flight.
#[derive(Clone, Copy)]
enum Pipeline {
    /// `Request::submit` of each reused request object.
    OneByOne,
    /// `Request::submit_many` of the whole batch.
    SubmitMany,
    /// `call_async` futures, waited one after another.
    Futures,
}

/// `calls` identity calls, `requests.len()` in flight at a time; mean ns
/// per call. Every result is decoded, as a caller would.
fn pipelined_round(ctx: &Context, requests: &mut [Request], calls: u32, how: Pipeline) -> f64 {
    let batch = requests.len();
    let start = Instant::now();
    let mut left = calls as usize;
    while left > 0 {
        let n = left.min(batch);
        let requests = &mut requests[..n];
        match how {
            Pipeline::OneByOne | Pipeline::SubmitMany => {
                if let Pipeline::SubmitMany = how {
                    Request::submit_many(requests.iter_mut()).expect("submit_many");
                } else {
                    for r in requests.iter_mut() {
                        r.submit().expect("submit");
                    }
                }
                for r in requests.iter() {
                    r.wait(None).expect("wait");
                    black_box(r.result().expect("identity call"));
                }
            }
            Pipeline::Futures => {
                let pending: Vec<_> =
                    (0..n).map(|_| ctx.call_async("pyctx_bench_funcs", "identity", (2.0,))).collect();
                for p in pending {
                    black_box(p.wait().expect("identity call"));
                }
            }
        }
        left -= n;
    }
    start.elapsed().as_nanos() as f64 / f64::from(calls)
}

/// Alternating rounds of the three pipelines: median ns per call of each.
fn pipelined(ctx: &Context, o: &Options) -> [f64; 3] {
    let mut requests: Vec<Request> = (0..o.batch)
        .map(|_| ctx.call_with("pyctx_bench_funcs", "identity").args((2.0,)).request().expect("request"))
        .collect();
    let hows = [Pipeline::OneByOne, Pipeline::SubmitMany, Pipeline::Futures];
    for how in hows {
        pipelined_round(ctx, &mut requests, o.calls / 5 + 100, how); // warm-up
    }
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..o.rounds as usize {
        for k in 0..3 {
            let k = (k + i) % 3; // rotate which goes first
            samples[k].push(pipelined_round(ctx, &mut requests, o.calls, hows[k]));
        }
    }
    samples.map(|s| median(&s))
}

fn median(xs: &[f64]) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn emit(mode: Mode, metric: &str, value: f64, unit: &str, python: &str) {
    println!(
        "{{\"bench\": \"rust_roundtrip\", \"case\": \"identity\", \"mode\": \"{mode}\", \"metric\": \"{metric}\", \
         \"value\": {value:.6}, \"unit\": \"{unit}\", \"python\": \"{python}\"}}"
    );
}

fn main() {
    let o = parse_options().unwrap_or_else(|e| {
        eprintln!("bench_roundtrip: {e}");
        std::process::exit(2);
    });
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../bench");
    let bench_dir = bench_dir.canonicalize().unwrap_or(bench_dir).to_string_lossy().into_owned();
    let rt = Runtime::init(&RuntimeOptions::new().add_path(&bench_dir)).expect("initialize pyctx");
    // Import up front so no measured call pays for it. The sys.path line
    // repeats add_path, which the engine ignores at the time of writing.
    let preload = format!(
        "import sys\nif {bench_dir:?} not in sys.path: sys.path.insert(0, {bench_dir:?})\nimport pyctx_bench_funcs\n"
    );
    let python = rt.python_version();
    let raw = RawCall {
        module: CString::new("pyctx_bench_funcs").unwrap(),
        function: CString::new("identity").unwrap(),
        args: cbor::encode(&Value::list([2.0])),
    };
    let float_result = cbor::encode(&Value::Float(2.0));

    if !o.json {
        println!(
            "sync round trip of pyctx_bench_funcs.identity(2.0), Python {python}: {} interleaved calls each, \
             then {} rounds of {} calls",
            o.calls, o.rounds, o.calls
        );
        println!(
            "{:<8} {:>9} {:>9} {:>7}   {:>10} {:>10} {:>7}   {:>8}",
            "mode", "C p50", "Rust p50", "Rust/C", "C mean", "Rust mean", "Rust/C", "codec"
        );
    }
    for &mode in &o.modes {
        let ctx = rt.context(&ContextOptions::new().mode(mode).preload(&preload)).expect("create context");
        assert_eq!(ctx.call("pyctx_bench_funcs", "identity", (2.0,)).unwrap(), Value::Float(2.0));
        // Warm-up: caches, branch predictors, the context's spinning.
        round(o.calls / 5 + 100, || raw.run(&ctx));
        round(o.calls / 5 + 100, || rust_call(&ctx));
        binding_overhead(&float_result, o.calls / 5 + 100);

        let (c_p50, rust_p50) = latency_p50(&ctx, &raw, o.calls);
        let (mut c, mut rust, mut codec) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..o.rounds {
            let c_round = |c: &mut Vec<f64>| c.push(round(o.calls, || raw.run(&ctx)));
            let rust_round = |r: &mut Vec<f64>| r.push(round(o.calls, || rust_call(&ctx)));
            if i % 2 == 0 {
                c_round(&mut c);
                rust_round(&mut rust);
            } else {
                rust_round(&mut rust);
                c_round(&mut c);
            }
            codec.push(binding_overhead(&float_result, o.calls));
        }
        let (c_mean, rust_mean, overhead) = (median(&c), median(&rust), median(&codec));
        if o.json {
            for (metric, value, unit) in [
                ("c_p50_ns", c_p50, "ns"),
                ("rust_p50_ns", rust_p50, "ns"),
                ("rust_over_c_p50", rust_p50 / c_p50, "ratio"),
                ("c_mean_ns", c_mean, "ns"),
                ("rust_mean_ns", rust_mean, "ns"),
                ("rust_over_c_mean", rust_mean / c_mean, "ratio"),
                ("rust_codec_ns", overhead, "ns"),
            ] {
                emit(mode, metric, value, unit, &python);
            }
        } else {
            println!(
                "{:<8} {c_p50:>9.0} {rust_p50:>9.0} {:>7.3}   {c_mean:>10.0} {rust_mean:>10.0} {:>7.3}   {overhead:>8.0}",
                mode.as_str(),
                rust_p50 / c_p50,
                rust_mean / c_mean
            );
        }
    }
    if !o.json {
        println!();
        println!(
            "pipelined, {} in flight, {} rounds of {} calls (mean ns per call)",
            o.batch, o.rounds, o.calls
        );
        println!(
            "{:<8} {:>11} {:>11} {:>9} {:>9}",
            "mode", "one-by-one", "submit_many", "futures", "1by1/many"
        );
    }
    for &mode in &o.modes {
        let ctx = rt.context(&ContextOptions::new().mode(mode).preload(&preload)).expect("create context");
        let [one, many, futures] = pipelined(&ctx, &o);
        if o.json {
            for (metric, value, unit) in [
                ("pipelined_one_by_one_ns", one, "ns"),
                ("pipelined_submit_many_ns", many, "ns"),
                ("pipelined_futures_ns", futures, "ns"),
                ("one_by_one_over_submit_many", one / many, "ratio"),
            ] {
                emit(mode, metric, value, unit, &python);
            }
        } else {
            println!("{:<8} {one:>11.0} {many:>11.0} {futures:>9.0} {:>9.2}", mode.as_str(), one / many);
        }
    }
    rt.shutdown(std::time::Duration::from_secs(5)).expect("shutdown");
}
