//! Borrowed buffers: host memory lent to Python (read-only and writable),
//! its format and shape, library memory, the loan ending exactly once
//! (after a normal request, an error, a view kept in a global), and Python
//! results taken as pinned views.

mod support {
    pub mod common;
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use pyctx::{Buffer, BufferMemory, ErrorKind, Value};
use support::common::{MODES, context};

/// Counts drops of the data it wraps.
struct Counted {
    data: Vec<u8>,
    drops: Arc<AtomicUsize>,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn buffers_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Buffer>();
}

#[test]
fn python_reads_lent_bytes_in_place_and_cannot_write_them() {
    for mode in MODES {
        let ctx = context(mode);
        let b = Buffer::lend(b"hello buffers".to_vec()).unwrap();
        let v = ctx
            .eval_with("(bytes(view), view.readonly, type(view).__name__)")
            .local("view", Value::Buffer(0))
            .attach(&b)
            .run()
            .unwrap();
        assert_eq!(
            v,
            Value::tuple([Value::bytes(b"hello buffers".to_vec()), true.into(), "memoryview".into()]),
            "{mode}"
        );
        ctx.exec("import hashlib\ndef sha(v): return hashlib.sha256(v).hexdigest()\ndef poke(v): v[0] = 1")
            .unwrap();
        let digest = ctx.call_with("__main__", "sha").arg(Value::Buffer(0)).attach(&b).run().unwrap();
        assert_eq!(digest.as_str().unwrap().len(), 64);
        let err = ctx.call_with("__main__", "poke").arg(Value::Buffer(0)).attach(&b).run().unwrap_err();
        assert_eq!(err.python_type(), Some("TypeError"), "{err}");
        let info = b.info().unwrap();
        assert_eq!((info.len, info.itemsize, info.format.as_str()), (13, 1, "B"));
        assert!(info.readonly && info.c_contiguous);
        assert_eq!(info.memory, BufferMemory::Host);
    }
}

#[test]
fn a_writable_loan_comes_back_with_what_python_wrote() {
    let ctx = context(pyctx::Mode::Worker);
    ctx.exec("def fill(view, byte):\n    for i in range(len(view)):\n        view[i] = byte + i\n").unwrap();
    let (tx, rx) = mpsc::channel();
    let b = Buffer::lend_mut(vec![0u8; 5], move |data| tx.send(data).unwrap()).unwrap();
    ctx.call_with("__main__", "fill").args((Value::Buffer(0), 10)).attach(&b).run().unwrap();
    assert!(rx.try_recv().is_err(), "still lent while the handle lives");
    // SAFETY: no request using it runs now.
    assert_eq!(unsafe { b.as_slice() }.unwrap(), [10, 11, 12, 13, 14]);
    drop(b);
    assert_eq!(rx.recv().unwrap(), [10, 11, 12, 13, 14]);
}

#[test]
fn format_shape_and_strides_reach_python() {
    let ctx = context(pyctx::Mode::Worker);
    let doubles: Vec<u8> = [1.5f64, 2.5, 3.5, 4.5, 5.5, 6.5].iter().flat_map(|d| d.to_ne_bytes()).collect();
    let mut b = Buffer::lend(doubles).unwrap();
    b.set_format("d").unwrap();
    b.set_shape(&[2, 3], None).unwrap();
    let v = ctx
        .eval_with("(v.format, v.shape, v.tolist())")
        .local("v", Value::Buffer(0))
        .attach(&b)
        .run()
        .unwrap();
    assert_eq!(
        v,
        Value::tuple([
            Value::from("d"),
            Value::tuple([2, 3]),
            Value::list([Value::list([1.5, 2.5, 3.5]), Value::list([4.5, 5.5, 6.5])]),
        ])
    );
    // Attached once, the layout is fixed.
    assert_eq!(b.set_format("B").unwrap_err().kind(), ErrorKind::InvalidArgument);

    // Every other double, through strides.
    let mut s = Buffer::lend(vec![0u8; 48]).unwrap();
    s.set_format("d").unwrap();
    s.set_shape(&[3], Some(&[16])).unwrap();
    let info = s.info().unwrap();
    assert_eq!((info.shape, info.strides, info.c_contiguous), (vec![3], vec![16], false));
    // SAFETY: nothing uses it; a strided buffer has no contiguous slice.
    assert!(unsafe { s.as_slice() }.is_none());

    let mut bad = Buffer::lend(vec![0u8; 10]).unwrap();
    assert_eq!(bad.set_format("d").unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(bad.set_format("x").unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(bad.set_shape(&[2], Some(&[1, 1])).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn library_memory_is_zeroed_aligned_and_shared() {
    let ctx = context(pyctx::Mode::Worker);
    let mut b = Buffer::alloc(8).unwrap();
    // SAFETY: not attached yet.
    let bytes = unsafe { b.as_mut_slice() }.unwrap();
    assert_eq!(bytes, [0; 8]);
    assert_eq!(bytes.as_ptr() as usize % 64, 0);
    bytes.copy_from_slice(b"abcdefgh");
    ctx.exec("def upper(v): v[:] = bytes(v).upper()").unwrap();
    ctx.call_with("__main__", "upper").arg(Value::Buffer(0)).attach(&b).run().unwrap();
    // SAFETY: the request completed.
    assert_eq!(unsafe { b.as_slice() }.unwrap(), b"ABCDEFGH");
    assert_eq!(b.info().unwrap().memory, BufferMemory::Library);
}

#[test]
fn the_loan_ends_once_after_a_request_an_error_and_a_view_kept_in_a_global() {
    let ctx = context(pyctx::Mode::OwnGil);
    let drops = Arc::new(AtomicUsize::new(0));
    let lend = || Buffer::lend(Counted { data: vec![7; 4], drops: Arc::clone(&drops) }).unwrap();

    let b = lend();
    assert_eq!(
        ctx.call_with("builtins", "len").arg(Value::Buffer(0)).attach(&b).run().unwrap(),
        Value::Int(4)
    );
    drop(b);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    let b = lend();
    let err = ctx.eval_with("v[99]").local("v", Value::Buffer(0)).attach(&b).run().unwrap_err();
    assert_eq!(err.python_type(), Some("IndexError"));
    drop(b);
    assert_eq!(drops.load(Ordering::SeqCst), 2);

    // A view Python keeps keeps the memory lent past the request and the handle.
    ctx.exec("kept = []\ndef keep(v): kept.append(v)").unwrap();
    let b = lend();
    ctx.call_with("__main__", "keep").arg(Value::Buffer(0)).attach(&b).run().unwrap();
    drop(b);
    assert_eq!(drops.load(Ordering::SeqCst), 2, "Python still views it");
    assert_eq!(ctx.buffer_stats().unwrap().lent_views, 1);
    ctx.exec("kept.clear()").unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    let stats = ctx.buffer_stats().unwrap();
    assert_eq!((stats.lent_views, stats.lent_total), (0, 3));

    // An index beyond the attachments is a decode error.
    let b = lend();
    let err = ctx.call_with("builtins", "len").arg(Value::Buffer(1)).attach(&b).run().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
}

#[test]
fn results_come_back_as_pinned_views() {
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("import array\ndata = array.array('i', [1, 2, 3])\ndef grow(): data.append(4)").unwrap();
        let view = ctx.eval_with("data").run_buffer().unwrap();
        let info = view.info().unwrap();
        assert_eq!((info.format.as_str(), info.itemsize, info.shape.clone()), ("i", 4, vec![3]), "{mode}");
        assert!(!info.readonly);
        assert_eq!(info.memory, BufferMemory::Python);
        assert_eq!(ctx.buffer_stats().unwrap().held_views, 1);
        // SAFETY: nothing in Python writes `data` while we read.
        let ints: Vec<i32> = unsafe { view.as_slice() }
            .unwrap()
            .chunks(4)
            .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(ints, [1, 2, 3]);
        // Pinned: Python cannot resize an array whose buffer is exported.
        let err = ctx.call("__main__", "grow", ()).unwrap_err();
        assert_eq!(err.python_type(), Some("BufferError"), "{err}");
        drop(view);
        ctx.call("__main__", "grow", ()).unwrap();
        assert_eq!(ctx.buffer_stats().unwrap().held_views, 0);

        let err = ctx.eval_with("42").run_buffer().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Encode, "{err}");
        let bytes = ctx.call_with("builtins", "bytes").arg(3).run_buffer().unwrap();
        assert!(bytes.info().unwrap().readonly);
        // SAFETY: bytes are immutable.
        assert_eq!(unsafe { bytes.as_slice() }.unwrap(), [0, 0, 0]);
    }
}
