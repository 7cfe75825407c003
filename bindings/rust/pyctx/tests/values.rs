//! The value mapping through real Python, in both modes: what Rust sends
//! arrives as the right Python type, what Python returns arrives as the
//! right `Value`.

mod support {
    pub mod common;
}

use pyctx::{BigInt, Context, ErrorKind, Value};
use support::common::{MODES, context};

const HELPERS: &str = "
import math, pyctx
def echo(x):
    return x
def type_of(x):
    return type(x).__name__
def describe(x):
    return [type(x).__name__, sorted(type(i).__name__ for i in x)]
";

fn ctx_with_helpers(mode: pyctx::Mode) -> Context {
    let ctx = context(mode);
    ctx.exec(HELPERS).unwrap();
    ctx
}

fn py_type(ctx: &Context, v: &Value) -> String {
    ctx.call("__main__", "type_of", (v.clone(),)).unwrap().try_into().unwrap()
}

#[test]
fn every_kind_round_trips_as_the_documented_python_type() {
    let big: BigInt = "123456789012345678901234567890123456789012345678901234567890".parse().unwrap();
    let cases = [
        (Value::None, "NoneType"),
        (Value::Bool(true), "bool"),
        (Value::Int(-7), "int"),
        (Value::Int(i128::from(u64::MAX) + 1), "int"),
        (Value::from(big.clone()), "int"),
        (Value::Float(0.25), "float"),
        (Value::from("text \u{1F40D}"), "str"),
        (Value::Bytes(vec![0, 1, 255]), "bytes"),
        (Value::list([1, 2]), "list"),
        (Value::tuple(["a", "b"]), "tuple"),
        (Value::map([("k", 1)]), "dict"),
        (Value::set([1, 2, 3]), "set"),
        (Value::symbol("ok"), "Symbol"),
        (Value::host_term(vec![1, 2, 3]), "HostTerm"),
    ];
    for mode in MODES {
        let ctx = ctx_with_helpers(mode);
        for (value, python_type) in &cases {
            assert_eq!(py_type(&ctx, value), *python_type, "{mode}: type of {value}");
            assert_eq!(
                &ctx.call("__main__", "echo", (value.clone(),)).unwrap(),
                value,
                "{mode}: echo {value}"
            );
        }
    }
}

#[test]
fn python_values_arrive_as_the_right_variant() {
    for mode in MODES {
        let ctx = ctx_with_helpers(mode);
        let ev = |e: &str| ctx.eval(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert_eq!(ev("2**64 - 1"), Value::from(u64::MAX));
        assert_eq!(ev("-(2**64)"), Value::Int(-(1i128 << 64)));
        assert_eq!(ev("2**100"), Value::Int(1i128 << 100));
        assert_eq!(
            ev("-(2**200)").to_string(),
            format!("-{}", "1606938044258990275541962092341162602522202993782792835301376")
        );
        assert!(matches!(ev("2**200"), Value::BigInt(_)));
        assert_eq!(ev("(1, 'a', None)"), Value::tuple([Value::Int(1), Value::from("a"), Value::None]));
        assert_eq!(ev("{3, 1, 2}"), Value::set([1, 2, 3]));
        assert_eq!(ev("frozenset({'x'})"), Value::set(["x"]));
        assert_eq!(ev("{(1, 2): 'pair'}"), Value::map([(Value::tuple([1, 2]), Value::from("pair"))]));
        assert_eq!(ev("bytearray(b'ab')"), Value::Bytes(b"ab".to_vec()));
        assert_eq!(ev("pyctx.Symbol('atom')"), Value::symbol("atom"));
        assert_eq!(ev("float('-inf')"), Value::Float(f64::NEG_INFINITY));
        assert!(matches!(ev("float('nan')"), Value::Float(x) if x.is_nan()));
    }
}

#[test]
fn keys_and_nested_sets_become_hashable_in_python() {
    let ctx = ctx_with_helpers(pyctx::Mode::Worker);
    // A list as a dict key must arrive as a tuple, a set inside a set as a frozenset.
    let key = Value::map([(Value::list([1, 2]), Value::from("v"))]);
    assert_eq!(
        ctx.eval_with("type(next(iter(d))).__name__").local("d", key).run().unwrap(),
        Value::from("tuple")
    );
    let nested = Value::set([Value::set([1])]);
    assert_eq!(
        ctx.call("__main__", "describe", (nested,)).unwrap(),
        Value::list([Value::from("set"), Value::list(["frozenset"])])
    );
}

#[test]
fn rust_types_convert_through_python() {
    use std::collections::{BTreeMap, HashMap};
    let ctx = ctx_with_helpers(pyctx::Mode::OwnGil);
    let m: HashMap<String, Vec<i64>> = [("a".to_string(), vec![1, 2]), ("b".to_string(), vec![])].into();
    let back: HashMap<String, Vec<i64>> =
        ctx.call("__main__", "echo", (m.clone(),)).unwrap().try_into().unwrap();
    assert_eq!(back, m);
    let sorted: BTreeMap<i32, String> = ctx.eval("{2: 'b', 1: 'a'}").unwrap().try_into().unwrap();
    assert_eq!(sorted.into_iter().collect::<Vec<_>>(), [(1, "a".to_string()), (2, "b".to_string())]);
    let (n, s, bytes): (u64, String, Vec<u8>) =
        ctx.eval("(2**63, 'x' * 3, b'\\x00')").unwrap().try_into().unwrap();
    assert_eq!((n, s.as_str(), bytes), (1 << 63, "xxx", vec![0]));
    let err = i32::try_from(ctx.eval("2**40").unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conversion);
}

#[test]
fn unencodable_results_and_undecodable_arguments_are_clear_errors() {
    for mode in MODES {
        let ctx = ctx_with_helpers(mode);
        let err = ctx.eval("object()").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Encode, "{mode}: {err}");
        assert!(err.message().contains("object"), "{mode}: the message names the type: {err}");
        // A dict cannot be a dict key in Python: the library rejects it.
        let bad_key = Value::map([(Value::map([(1, 2)]), Value::None)]);
        let err = ctx.call("__main__", "echo", (bad_key,)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{mode}: {err}");
    }
}

#[test]
fn the_deepest_values_python_returns_decode_here() {
    let ctx = ctx_with_helpers(pyctx::Mode::Worker);
    ctx.exec("def nest(d, kind):\n    v = 0\n    for _ in range(d): v = kind(v)\n    return v\n").unwrap();
    for kind in ["lambda v: [v]", "lambda v: (v,)", "lambda v: {0: v}", "lambda v: frozenset([v])"] {
        let deepest = ctx.eval(&format!("nest({}, {kind})", pyctx::cbor::MAX_DEPTH)).unwrap();
        assert_eq!(pyctx::cbor::decode(&pyctx::cbor::encode(&deepest)).unwrap(), deepest, "{kind}");
        let err = ctx.eval(&format!("nest({}, {kind})", pyctx::cbor::MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Encode, "{kind}: {err}");
    }
}
