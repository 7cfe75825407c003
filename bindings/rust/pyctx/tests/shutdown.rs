//! Runtime life from start to end. Its own test binary (its own process):
//! shutting down is final for a process. One test function, in order.

mod support {
    pub mod common;
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use pyctx::{ContextOptions, ErrorKind, Mode, Runtime, RuntimeOptions, State, Value};

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn init_use_shutdown_and_after() {
    // Before init.
    assert_eq!(Runtime::state(), State::Uninit);
    assert_eq!(Runtime::get().unwrap_err().kind(), ErrorKind::NotRunning);
    let (major, minor, patch) = pyctx::library_version();
    assert_eq!(pyctx::library_version_string(), format!("{major}.{minor}.{patch}"));
    assert_eq!(
        (major << 16) | (minor << 8) | patch,
        pyctx::ffi::PYCTX_VERSION,
        "the library loaded is the version the bindings declare"
    );
    // Host functions may be registered before init.
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = DropCounter(Arc::clone(&drops));
    pyctx::host::register("sd_started", {
        let (tx, rx) = mpsc::channel::<()>();
        let tx = Mutex::new(tx);
        SIGNAL.lock().unwrap().replace(rx);
        move |_: &[Value]| {
            let _keep = &counter;
            tx.lock().unwrap().send(()).unwrap();
            Ok(Value::None)
        }
    })
    .unwrap();

    // Init with options; a second init is refused, get_or_init is not.
    let dir = std::env::temp_dir().join(format!("pyctx-rust-shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rust_test_mod.py"), "VALUE = 'from sys.path'\n").unwrap();
    let rt = Runtime::init(&RuntimeOptions::new().add_path(dir.to_str().unwrap())).unwrap();
    assert_eq!(Runtime::state(), State::Running);
    assert_eq!(Runtime::init(&RuntimeOptions::new()).unwrap_err().kind(), ErrorKind::AlreadyInitialized);
    Runtime::get_or_init(&RuntimeOptions::new()).unwrap();
    assert!(rt.python_version().starts_with('3'), "{}", rt.python_version());

    let ctx = rt.context(&ContextOptions::new().mode(Mode::OwnGil)).unwrap();
    // Checked at the end, so that one failure does not hide the others.
    let from_sys_path = ctx.eval("__import__('rust_test_mod').VALUE");
    ctx.exec(&support::common::spin_after_signal("sd_started")).unwrap();
    let running = ctx.call_async("__main__", "spin", ());
    SIGNAL.lock().unwrap().as_ref().unwrap().recv().unwrap();
    let queued = ctx.eval_async("'never'");
    let env = ctx.env().unwrap();

    // Shutdown completes every pending request as closed.
    rt.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(Runtime::state(), State::Stopped);
    assert!(running.wait().unwrap_err().is_closed());
    let queued = queued.wait();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "host closures are dropped at shutdown");

    // After: nothing runs, nothing starts again, handles still drop safely.
    let err = ctx.eval("1").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Closed | ErrorKind::NotRunning), "{err}");
    assert_eq!(Runtime::get().unwrap_err().kind(), ErrorKind::NotRunning);
    assert_eq!(Runtime::get_or_init(&RuntimeOptions::new()).unwrap_err().kind(), ErrorKind::NotRunning);
    assert_eq!(Runtime::init(&RuntimeOptions::new()).unwrap_err().kind(), ErrorKind::AlreadyInitialized);
    assert_eq!(rt.context(&ContextOptions::new()).unwrap_err().kind(), ErrorKind::NotRunning);
    assert_eq!(rt.shutdown(Duration::from_secs(1)).unwrap_err().kind(), ErrorKind::NotRunning);
    assert!(pyctx::host::register("sd_late", |_: &[Value]| Ok(Value::None)).is_err());
    drop(env);
    drop(ctx);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        queued.as_ref().is_err_and(|e| e.is_closed()),
        "a queued request completes as closed at shutdown: {queued:?}"
    );
    assert_eq!(from_sys_path, Ok(Value::from("from sys.path")), "RuntimeOptions::add_path reaches sys.path");
}

static SIGNAL: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);
