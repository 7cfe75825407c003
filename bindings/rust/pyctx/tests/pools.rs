//! Pools: members made from one set of options, calls sync and async,
//! round-robin spread, keys that stick to a member and moves reported after
//! a resize, member handles, cancel by id, objects made through a pool,
//! stats, close, and bad options.

mod support {
    pub mod common;
}

use std::collections::BTreeSet;
use std::time::Duration;

use pyctx::{ContextOptions, ErrorKind, Pool, PoolOptions, Routing, Value};
use support::common::runtime;

const PRELOAD: &str = "\
import threading
def tid():
    return threading.get_native_id()
def add(a, b=0):
    return a + b
def spin():
    while True:
        pass
class Box:
    def __init__(self, v): self.v = v
    def get(self): return self.v
";

fn pool(size: usize, routing: Routing) -> Pool {
    Pool::new(
        &runtime(),
        &PoolOptions::new()
            .size(size)
            .routing(routing)
            .name("rpool")
            .member_options(ContextOptions::new().preload(PRELOAD)),
    )
    .expect("create a pool")
}

#[test]
fn pools_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Pool>();
}

#[test]
fn calls_sync_async_and_with_kwargs_run_on_the_members() {
    let p = pool(2, Routing::LeastQueued);
    assert_eq!(p.size(), 2);
    assert_eq!(p.name(), "rpool");
    assert_eq!(p.call("__main__", "add", (40, 2)).unwrap(), Value::Int(42));
    assert_eq!(p.call_with("__main__", "add").arg(1).kwarg("b", 2).run().unwrap(), Value::Int(3));
    let pending: Vec<_> = (0..20).map(|i| p.call_async("__main__", "add", (i, 100))).collect();
    let got: Vec<i64> = pending.into_iter().map(|f| f.wait().unwrap().as_i64().unwrap()).collect();
    assert_eq!(got, (100..120).collect::<Vec<_>>());
    let stats = p.stats().unwrap();
    assert_eq!(stats.completed, 22);
    assert_eq!(stats.size, 2);
    assert_eq!(stats.created, 2);
    let err = p.call("__main__", "add", ("x", 1)).unwrap_err();
    assert_eq!(err.python_type(), Some("TypeError"));
    assert_eq!(p.stats().unwrap().failed, 1);
}

#[test]
fn round_robin_spreads_calls_evenly_over_the_members() {
    let p = pool(3, Routing::RoundRobin);
    let threads: Vec<i64> =
        (0..6).map(|_| p.call("__main__", "tid", ()).unwrap().as_i64().unwrap()).collect();
    assert_eq!(threads.iter().collect::<BTreeSet<_>>().len(), 3, "{threads:?}");
    let mut member_threads = BTreeSet::new();
    for i in 0..3 {
        let s = p.member_stats(i).unwrap();
        assert_eq!(s.completed, 2, "member {i}: {s:?}");
        assert_eq!(s.slot, i as u64);
        member_threads.insert(s.thread_id as i64);
    }
    assert_eq!(member_threads, threads.iter().copied().collect());
    assert_eq!(p.member_stats(3).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn a_key_sticks_to_its_member_and_a_resize_reports_the_keys_it_moves() {
    let p = pool(3, Routing::ByKey);
    let route = |key: &str| {
        let mut r = p.call_with("__main__", "tid").key(key).request().unwrap();
        r.run().unwrap();
        (r.pool_member().expect("a pool request names its member"), r.key_moved())
    };
    let keys: Vec<String> = (0..200).map(|i| format!("user:{i}")).collect();
    let before: Vec<u64> = keys.iter().map(|k| route(k).0).collect();
    for (k, m) in keys.iter().zip(&before) {
        assert_eq!(route(k), (*m, false), "{k}");
    }
    assert_eq!(before.iter().collect::<BTreeSet<_>>().len(), 3);

    p.resize(4, None).unwrap();
    assert_eq!(p.size(), 4);
    let fresh = p.member_stats(3).unwrap().member_id;
    let mut moved = 0;
    for (k, m) in keys.iter().zip(&before) {
        let (now, reported) = route(k);
        if now == *m {
            assert!(!reported, "{k} reported but did not move");
        } else {
            moved += 1;
            assert_eq!(now, fresh, "{k} moved between old members");
            assert!(reported, "{k} moved without a report");
        }
    }
    assert!((10..=90).contains(&moved), "{moved} of 200 keys moved");
    assert!(p.stats().unwrap().keys_known >= 200);
    // Call::run with a key takes the request path and still answers.
    assert_eq!(p.call_with("__main__", "add").key("k").args((1, 1)).run().unwrap(), Value::Int(2));
}

#[test]
fn member_handles_cancel_by_id_objects_and_close() {
    let p = pool(2, Routing::RoundRobin);
    let m0 = p.member(0).unwrap();
    assert!(m0.name().starts_with("rpool"), "{}", m0.name());
    m0.exec("only_here = 7").unwrap();
    assert_eq!(m0.eval("only_here").unwrap(), Value::Int(7));
    drop(m0); // a member handle's drop does not close the member
    assert_eq!(p.size(), 2);
    assert_eq!(p.member(2).unwrap_err().kind(), ErrorKind::NotFound);

    let spinning = p.call_async("__main__", "spin", ());
    p.cancel(spinning.request_id().unwrap()).unwrap();
    assert_eq!(spinning.wait().unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(p.cancel(u64::MAX).unwrap_err().kind(), ErrorKind::NotFound);

    let b = p.call_with("__main__", "Box").arg("inside").run_object().unwrap();
    assert!(b.context().is_none());
    assert!(b.context_name().starts_with("rpool"));
    assert_eq!(b.call_method("get", ()).unwrap(), Value::from("inside"));
    // A stream lives in one context: a pool's request is refused.
    let err = p.call_with("__main__", "tid").stream(1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");

    p.close(Duration::from_secs(10)).unwrap();
    assert!(p.is_closed());
    assert_eq!(p.size(), 0);
    assert_eq!(p.call("__main__", "add", (1, 2)).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(p.call_async("__main__", "add", (1, 2)).wait().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(b.call_method("get", ()).unwrap_err().kind(), ErrorKind::Closed);
    p.close(Duration::from_secs(1)).unwrap();
}

#[test]
fn bad_options_are_clear_errors() {
    for size in [0, 257] {
        let err = Pool::new(&runtime(), &PoolOptions::new().size(size)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "size {size}: {err}");
    }
    let err = Pool::new(
        &runtime(),
        &PoolOptions::new().member_options(ContextOptions::new().preload("raise KeyError('boom')")),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Python, "{err}");
    let p = pool(1, Routing::LeastQueued);
    assert_eq!(p.resize(0, None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(p.size(), 1);
}

#[test]
fn a_pool_env_pins_its_member_and_fails_closed_once_the_member_left() {
    let p = pool(3, Routing::RoundRobin);
    let env = p.env().unwrap();
    assert!(env.context().is_none());
    env.exec("x = 41").unwrap();
    // Round robin would spread these over the members; the env pins them.
    let mut homes = BTreeSet::new();
    for _ in 0..9 {
        let mut r = env.eval_with("x + 1").request().unwrap();
        assert_eq!(r.run().unwrap(), Value::Int(42));
        homes.insert(r.pool_member().unwrap());
    }
    assert_eq!(homes.len(), 1, "{homes:?}");
    assert_eq!(env.eval_async("x").wait().unwrap(), Value::Int(41));
    // Other envs of the pool are namespaces of their own.
    let other = p.env().unwrap();
    assert_eq!(other.eval("x").unwrap_err().python_type(), Some("NameError"));

    // Closing the env's member (the pool replaces it): the env went with it.
    let home = *homes.iter().next().unwrap();
    let slot = (0..3).find(|&i| p.member_stats(i).unwrap().member_id == home).expect("the env's member");
    p.member(slot).unwrap().close(Duration::from_secs(10)).unwrap();
    assert_eq!(env.eval("x").unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(p.call("__main__", "add", (2, 3)).unwrap(), Value::Int(5));
    p.close(Duration::from_secs(10)).unwrap();
    assert_eq!(env.exec("y = 1").unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn a_process_member_whose_child_died_is_replaced_and_its_requests_fail_once_as_crashed() {
    use std::io::Write;
    let fifo = std::env::temp_dir().join(format!("pyctx-rust-pool-gate-{}", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    let fifo_text = fifo.to_str().unwrap();
    let preload = format!(
        "import os\ngate = {fifo_text:?}\ntry:\n    os.mkfifo(gate)\nexcept FileExistsError:\n    pass\nREADY = True\n"
    );
    let p = Pool::new(
        &runtime(),
        &PoolOptions::new()
            .size(2)
            .routing(Routing::RoundRobin)
            .member_options(ContextOptions::new().mode(pyctx::Mode::Process).preload(preload)),
    )
    .expect("create a process pool");
    let m0 = p.member(0).unwrap();
    let victim = m0.process_info().unwrap().pid;
    // Member 0 blocks on the FIFO, then exits; round robin puts every other
    // pool request behind it.
    let gate = m0.exec_async("with open(gate, 'rb') as f:\n    f.read(1)\n");
    let exit = m0.exec_async("os._exit(3)");
    const N: i64 = 40;
    let pending: Vec<_> = (0..N).map(|i| p.call_async("operator", "add", (i, 1))).collect();
    std::fs::OpenOptions::new().write(true).open(&fifo).unwrap().write_all(b"x").unwrap();
    assert_eq!(gate.wait().unwrap(), Value::None);
    assert_eq!(exit.wait().unwrap_err().kind(), ErrorKind::Crashed);
    let (mut ran, mut crashed) = (0, 0);
    for (i, r) in pending.into_iter().enumerate() {
        match r.wait() {
            Ok(v) => {
                assert_eq!(v, Value::Int(i as i128 + 1));
                ran += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Crashed, "{e}");
                crashed += 1;
            }
        }
    }
    assert_eq!((ran, crashed), (N / 2, N / 2), "round robin over two members");
    support::common::wait_until("the replacement", Duration::from_secs(30), || {
        p.stats().map(|s| s.replaced == 1 && s.size == 2).unwrap_or(false)
    });
    let fresh = p.member(0).unwrap();
    let next = fresh.process_info().unwrap().pid;
    assert!(next != 0 && next != victim, "new child {next}, dead one {victim}");
    assert_eq!(fresh.eval("READY").unwrap(), Value::Bool(true));
    for i in 0..4 {
        assert_eq!(p.call("operator", "add", (i, 1)).unwrap(), Value::Int(i + 1));
    }
    let _ = std::fs::remove_file(&fifo);
}
