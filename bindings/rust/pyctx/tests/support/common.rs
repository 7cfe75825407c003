//! What every integration test needs: the runtime, contexts, waiting.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use pyctx::{Context, ContextOptions, Mode, Runtime, RuntimeOptions};

/// Both modes, for tests that must hold in each.
pub const MODES: [Mode; 2] = [Mode::Worker, Mode::OwnGil];

/// The process's runtime, initialized by whichever test gets here first.
/// Never shut down: Python lives once per process (see tests/shutdown.rs).
pub fn runtime() -> Runtime {
    Runtime::get_or_init(&RuntimeOptions::new()).expect("initialize the pyctx runtime")
}

pub fn context(mode: Mode) -> Context {
    runtime().context(&ContextOptions::new().mode(mode)).expect("create a context")
}

/// Waits for `condition`, polling; panics after `limit` naming `what`.
/// For state changed by another thread with nothing to block on.
pub fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Python that signals the test through the host function `name` and then
/// spins until interrupted: a request that is provably running.
pub fn spin_after_signal(name: &str) -> String {
    format!("import pyctx\ndef spin():\n    pyctx.call({name:?})\n    while True:\n        pass\n")
}
