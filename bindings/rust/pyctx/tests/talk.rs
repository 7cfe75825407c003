//! Python talking to the host: the shared store and pyctx.send.

mod support {
    pub mod common;
}

use std::sync::{Mutex, MutexGuard};

use pyctx::{Value, send, store};

/// The set-up test changes every context (and deletes the files its steps
/// name when done): the tests of this file run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
use support::common::{MODES, context, runtime};

#[test]
fn store_is_shared_between_rust_and_python() {
    let _serial = serial();
    for mode in MODES {
        if mode == pyctx::Mode::OwnGil && !runtime().owngil_supported() {
            continue;
        }
        let ctx = context(mode);
        let v = store::put("rs.shared", Value::list([1, 2])).unwrap();
        assert_eq!(ctx.eval("__import__('pyctx').store_get('rs.shared')").unwrap(), Value::list([1, 2]));
        let py_version = ctx.eval("__import__('pyctx').store_cas('rs.shared', 0, 'no')").unwrap();
        assert_eq!(py_version, Value::None, "expected a conflict (the key exists)");
        ctx.exec(&format!("import pyctx\nassert pyctx.store_cas('rs.shared', {v}, 'py') is not None"))
            .unwrap();
        let (value, version) = store::get("rs.shared").unwrap().unwrap();
        assert_eq!(value, Value::from("py"));
        assert!(version > v);
        assert_eq!(store::compare_and_swap("rs.shared", v, 0).unwrap(), Err(version));
        assert!(store::keys("rs.").unwrap().contains(&"rs.shared".to_string()));
        assert!(store::delete("rs.shared", Some(version)).unwrap());
        assert_eq!(store::get("rs.shared").unwrap(), None);
    }
}

#[test]
fn store_rejects_bad_keys() {
    let _serial = serial();
    assert!(store::put("", 1).is_err());
    assert!(store::put("a\0b", 1).is_err());
}

#[test]
fn send_reaches_a_receiver_in_order() {
    let _serial = serial();
    for mode in MODES {
        if mode == pyctx::Mode::OwnGil && !runtime().owngil_supported() {
            continue;
        }
        let ctx = context(mode);
        let inbox = send::endpoint("rs.inbox").unwrap();
        ctx.exec("import pyctx\nfor i in range(100): pyctx.send('rs.inbox', i)").unwrap();
        let got: Vec<i64> = inbox.try_iter().map(|m| m.value.as_i64().unwrap()).collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        drop(inbox);
        let err = ctx.eval("pyctx.send('rs.inbox', 1)").unwrap_err();
        assert_eq!(err.python_type(), Some("pyctx.SendError"));
    }
}

#[test]
fn router_gets_host_terms_and_can_refuse() {
    let _serial = serial();
    let ctx = context(pyctx::Mode::Worker);
    send::set_router(|m| m.target == Value::host_term(b"alive".to_vec())).unwrap();
    ctx.exec("import pyctx").unwrap();
    assert_eq!(ctx.eval("pyctx.send(pyctx.HostTerm(b'alive'), 1)").unwrap(), Value::Bool(true));
    assert_eq!(
        ctx.eval("pyctx.send(pyctx.HostTerm(b'dead'), 1, missing_ok=True)").unwrap(),
        Value::Bool(false)
    );
    send::clear_router().unwrap();
}

#[test]
fn async_call_inside_the_users_own_asyncio_run() {
    let _serial = serial();
    pyctx::host::register("rs.twice", |args: &[Value]| Ok(Value::from(args[0].as_i64().unwrap_or(0) * 2)))
        .unwrap();
    for mode in MODES {
        if mode == pyctx::Mode::OwnGil && !runtime().owngil_supported() {
            continue;
        }
        let ctx = context(mode);
        ctx.exec(
            "import asyncio, pyctx\n\
             async def main():\n    return await asyncio.gather(*(pyctx.async_call('rs.twice', i) for i in range(5)))\n",
        )
        .unwrap();
        assert_eq!(ctx.eval("asyncio.run(main())").unwrap(), Value::list([0, 2, 4, 6, 8]));
    }
    pyctx::host::unregister("rs.twice").unwrap();
}

#[test]
fn setup_reaches_running_and_new_contexts() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("pyctx-rs-setup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rs_setup_mod.py"), "VALUE = 5\n").unwrap();
    let dir_s = dir.to_str().unwrap();
    let running = context(pyctx::Mode::Worker);
    let before = pyctx::setup::generation();
    pyctx::setup::add_path(dir_s).unwrap();
    pyctx::setup::import("rs_setup_mod").unwrap();
    assert_eq!(pyctx::setup::generation(), before + 2);
    assert_eq!(running.eval("__import__('sys').modules['rs_setup_mod'].VALUE").unwrap(), Value::Int(5));
    if runtime().owngil_supported() {
        let fresh = context(pyctx::Mode::OwnGil);
        assert_eq!(fresh.eval("__import__('sys').modules['rs_setup_mod'].VALUE").unwrap(), Value::Int(5));
    }
    pyctx::setup::remove_import("rs_setup_mod").unwrap();
    pyctx::setup::remove_path(dir_s).unwrap();
    assert!(pyctx::setup::activate_venv(dir_s).is_err(), "not a virtualenv");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn logging_reaches_a_rust_closure() {
    let _serial = serial();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    pyctx::log::set_handler(pyctx::log::WARNING, 64, move |r| {
        let _ = tx.lock().unwrap().send(r.clone());
    })
    .unwrap();
    let ctx = context(pyctx::Mode::Worker);
    ctx.exec("import logging\nlogging.getLogger('rs.app').info('skipped')\nlogging.getLogger('rs.app').error('bad %s', 'thing')")
        .unwrap();
    pyctx::log::flush(std::time::Duration::from_secs(10)).unwrap();
    let r = rx.try_recv().unwrap();
    assert_eq!((r.level, r.logger.as_str(), r.message.as_str()), (pyctx::log::ERROR, "rs.app", "bad thing"));
    assert!(rx.try_recv().is_err(), "the info record is below the level");
    pyctx::log::clear_handler().unwrap();
}

#[test]
fn channel_round_trip_with_backpressure() {
    let _serial = serial();
    for mode in MODES {
        if mode == pyctx::Mode::OwnGil && !runtime().owngil_supported() {
            continue;
        }
        let ctx = context(mode);
        let ch = pyctx::Channel::new(2).unwrap();
        ch.send(1).unwrap();
        ch.send(2).unwrap();
        assert!(ch.try_send(3).is_err(), "full at the bound");
        assert_eq!(ch.stats().queued_to_python, 2);
        ctx.exec(&format!(
            "import pyctx\nc = pyctx.Channel({})\nc.send(c.recv() + c.recv())\nc.close()",
            ch.id()
        ))
        .unwrap();
        assert_eq!(ch.recv().unwrap(), Value::Int(3));
        assert!(ch.recv().unwrap_err().is_closed());
        let b = pyctx::Channel::new_bytes(1).unwrap();
        b.send_bytes(b"\x00raw").unwrap();
        ctx.exec(&format!("c = pyctx.Channel({})\nc.send(c.recv()[::-1])", b.id())).unwrap();
        assert_eq!(b.recv_bytes().unwrap(), b"war\x00".to_vec());
    }
}
