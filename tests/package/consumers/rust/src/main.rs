//! An outside program: a derived struct through Python and back.

use pyctx::{ContextOptions, Runtime, RuntimeOptions};
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
    println!("rust outside crate (libpyctx {}): ok", pyctx::library_version_string());
}
