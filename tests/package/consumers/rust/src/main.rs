//! An outside program: a derived struct through Python and back, and a
//! process context (its helper found from the installed library).

use pyctx::{ContextOptions, Mode, Runtime, RuntimeOptions, Value};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Point {
    x: i64,
    y: i64,
    label: String,
}

fn main() {
    let rt = Runtime::get_or_init(&RuntimeOptions::new()).expect("runtime");
    let ctx = rt.context(&ContextOptions::new()).expect("context");
    ctx.exec("def flip(p):\n    return {'x': p['y'], 'y': p['x'], 'label': p['label'].upper()}").expect("exec");
    let p = Point { x: 1, y: 2, label: "p".into() };
    let back: Point = ctx.call_serde("__main__", "flip", &(p,)).expect("call");
    assert_eq!(back, Point { x: 2, y: 1, label: "P".into() });
    let child = rt.context(&ContextOptions::new().mode(Mode::Process)).expect("process context");
    assert_eq!(child.eval("6 * 7").expect("eval in the child"), Value::Int(42));
    println!("rust outside crate (libpyctx {}): ok", pyctx::library_version_string());
}
