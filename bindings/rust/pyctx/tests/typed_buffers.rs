//! Typed buffers: `Vec<T>` / `Box<[T]>` of plain numbers lent with their
//! PEP 3118 format and item size; a borrowed slice lent for a scope that
//! ends only after the loan did; Python results read as `&[T]` through a
//! `BufferView`, and refused when the element type does not match.

mod support {
    pub mod common;
}

use std::sync::mpsc;

use pyctx::{Buffer, Element, ErrorKind, Value};
use support::common::{MODES, context};

#[test]
fn a_lent_vec_of_f64_is_summed_by_python_like_rust_sums_it() {
    for mode in MODES {
        let ctx = context(mode);
        // Quarters sum exactly, whatever the order or compensation of the sum.
        let data: Vec<f64> = (0..1000).map(|i| f64::from(i) * 0.25 - 30.0).collect();
        let rust_sum: f64 = data.iter().sum();
        let b = Buffer::lend_elements(data).unwrap();
        let v = ctx
            .eval_with("(b.format, b.itemsize, len(b), sum(b), sum(memoryview(b).cast('B').cast('d')))")
            .local("b", Value::Buffer(0))
            .attach(&b)
            .run()
            .unwrap();
        assert_eq!(
            v,
            Value::tuple([
                Value::from("d"),
                Value::Int(8),
                Value::Int(1000),
                Value::Float(rust_sum),
                Value::Float(rust_sum)
            ]),
            "{mode}"
        );
        let info = b.info().unwrap();
        assert_eq!(
            (info.format.as_str(), info.itemsize, info.len, info.shape.as_slice()),
            ("d", 8, 8000, &[1000][..])
        );
        assert!(info.readonly);
    }
}

/// What Python sees of `values` lent as `T`s: format, item size, values.
fn lent_as<T: Element>(ctx: &pyctx::Context, values: Vec<T>) -> Value {
    let b = Buffer::lend_elements(values.into_boxed_slice()).unwrap();
    ctx.eval_with("[b.format, b.itemsize, b.tolist()]").local("b", Value::Buffer(0)).attach(&b).run().unwrap()
}

#[test]
fn every_element_type_gets_its_format_and_item_size() {
    let ctx = context(pyctx::Mode::Worker);
    let row = |format: &str, size: i64, values: Value| {
        Value::list([Value::from(format), Value::Int(size.into()), values])
    };
    assert_eq!(lent_as(&ctx, vec![0u8, 255]), row("B", 1, Value::list([0, 255])));
    assert_eq!(lent_as(&ctx, vec![-128i8, 127]), row("b", 1, Value::list([-128, 127])));
    assert_eq!(lent_as(&ctx, vec![0u16, 65535]), row("H", 2, Value::list([0, 65535])));
    assert_eq!(lent_as(&ctx, vec![-32768i16, 7]), row("h", 2, Value::list([-32768, 7])));
    assert_eq!(lent_as(&ctx, vec![u32::MAX]), row("I", 4, Value::list([i64::from(u32::MAX)])));
    assert_eq!(lent_as(&ctx, vec![i32::MIN, 3]), row("i", 4, Value::list([i64::from(i32::MIN), 3])));
    assert_eq!(lent_as(&ctx, vec![1u64 << 40]), row("Q", 8, Value::list([1i64 << 40])));
    assert_eq!(lent_as(&ctx, vec![i64::MIN, -1]), row("q", 8, Value::list([i64::MIN, -1])));
    assert_eq!(lent_as(&ctx, vec![0.5f32, -2.0]), row("f", 4, Value::list([0.5, -2.0])));
    assert_eq!(lent_as(&ctx, vec![1e300f64]), row("d", 8, Value::list([1e300])));
    // Empty arrays lend too.
    assert_eq!(lent_as(&ctx, Vec::<f64>::new()), row("d", 8, Value::list(Vec::<i64>::new())));
}

#[test]
fn a_writable_typed_loan_comes_back_with_what_python_wrote() {
    let ctx = context(pyctx::Mode::Worker);
    ctx.exec("def scale(v, k):\n    for i in range(len(v)):\n        v[i] *= k\n").unwrap();
    let (tx, rx) = mpsc::channel();
    let b = Buffer::lend_elements_mut(vec![1i64, -2, 3], move |v| tx.send(v).unwrap()).unwrap();
    ctx.call_with("__main__", "scale").args((Value::Buffer(0), 10)).attach(&b).run().unwrap();
    assert!(rx.try_recv().is_err(), "still lent while the handle lives");
    drop(b);
    assert_eq!(rx.recv().unwrap(), [10, -20, 30]);
}

#[test]
fn a_scoped_slice_of_i32_is_read_by_python_and_lent_no_longer() {
    for mode in MODES {
        let ctx = context(mode);
        let data: Vec<i32> = (-50..50).map(|i| i * 3).collect();
        let before = ctx.buffer_stats().unwrap();
        let got = Buffer::scoped(&data, |b| {
            ctx.eval_with("(b.format, b.tolist(), sum(b))").local("b", Value::Buffer(0)).attach(b).run()
        })
        .unwrap()
        .unwrap();
        let expected: Vec<i64> = data.iter().map(|&x| i64::from(x)).collect();
        assert_eq!(
            got,
            Value::tuple([
                Value::from("i"),
                Value::list(expected),
                Value::from(data.iter().map(|&x| i64::from(x)).sum::<i64>())
            ]),
            "{mode}"
        );
        let after = ctx.buffer_stats().unwrap();
        assert_eq!(after.lent_total, before.lent_total + 1);
        assert_eq!(after.lent_views, 0, "no Python view outlives the scope");
        // Refused writes: a shared slice is lent read-only.
        ctx.exec("def poke(v): v[0] = 1").unwrap();
        let err = Buffer::scoped(&data, |b| {
            ctx.call_with("__main__", "poke").arg(Value::Buffer(0)).attach(b).run()
        })
        .unwrap()
        .unwrap_err();
        assert_eq!(err.python_type(), Some("TypeError"), "{err}");
    }
}

#[test]
fn a_scoped_mutable_slice_holds_what_python_wrote() {
    let ctx = context(pyctx::Mode::Worker);
    ctx.exec("def neg(v):\n    for i in range(len(v)):\n        v[i] = -v[i]\n").unwrap();
    let mut data = [1.5f32, -2.5, 0.0];
    Buffer::scoped_mut(&mut data, |b| {
        ctx.call_with("__main__", "neg").arg(Value::Buffer(0)).attach(b).run().unwrap()
    })
    .unwrap();
    assert_eq!(data, [-1.5, 2.5, -0.0]);
}

#[test]
fn an_array_result_is_read_back_element_by_element() {
    for mode in MODES {
        let ctx = context(mode);
        let result =
            ctx.eval_with("__import__('array').array('d', [i / 4 for i in range(10)])").run_buffer().unwrap();
        // SAFETY: nothing else in Python has this array.
        let view = unsafe { result.into_view::<f64>() }.unwrap();
        assert_eq!(view.len(), 10);
        for (i, x) in view.iter().enumerate() {
            assert_eq!(*x, i as f64 / 4.0, "{mode} [{i}]");
        }
        assert_eq!(ctx.buffer_stats().unwrap().held_views, 1);
        drop(view);
        // The view is released on the context's thread, before a request
        // queued after the drop runs.
        ctx.eval("0").unwrap();
        assert_eq!(ctx.buffer_stats().unwrap().held_views, 0, "released on drop");

        // Native ints of another code but the same size and kind match.
        let longs = ctx.eval_with("__import__('array').array('l', [-1, 2**40])").run_buffer().unwrap();
        // SAFETY: as above.
        let longs = unsafe { longs.into_view::<i64>() }.unwrap();
        assert_eq!(&*longs, [-1, 1 << 40]);
        let ints = ctx.eval_with("__import__('array').array('i', [7, 8, 9])").run_buffer().unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { ints.as_elements::<i32>() }.unwrap(), [7, 8, 9]);
        let ints = unsafe { ints.into_view::<i32>() }.unwrap().into_buffer();
        assert_eq!(ints.info().unwrap().format, "i");
    }
}

#[test]
fn typed_access_of_another_layout_is_an_error() {
    let ctx = context(pyctx::Mode::Worker);
    let doubles = ctx.eval_with("__import__('array').array('d', [1.0, 2.0])").run_buffer().unwrap();
    for err in [
        // SAFETY (all): nothing writes these objects.
        unsafe { doubles.as_elements::<i64>() }.unwrap_err(), // same size, another kind
        unsafe { doubles.as_elements::<f32>() }.unwrap_err(), // another size
        unsafe { doubles.as_elements::<u64>() }.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Conversion, "{err}");
        assert!(err.message().contains("\"d\""), "{err}");
    }
    let unsigned = ctx.eval_with("__import__('array').array('I', [1])").run_buffer().unwrap();
    assert_eq!(unsafe { unsigned.as_elements::<i32>() }.unwrap_err().kind(), ErrorKind::Conversion);
    assert_eq!(unsafe { unsigned.as_elements::<u32>() }.unwrap(), [1]);
    let bytes = ctx.eval_with("b'abcdefgh'").run_buffer().unwrap();
    assert_eq!(unsafe { bytes.as_elements::<u8>() }.unwrap(), b"abcdefgh");
    let err = unsafe { bytes.into_view::<f64>() }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conversion, "{err}");
    // A non-contiguous view: every other element.
    let strided = ctx
        .eval_with("memoryview(__import__('array').array('d', [1.0, 2.0, 3.0]))[::2]")
        .run_buffer()
        .unwrap();
    let err = unsafe { strided.into_view::<f64>() }.unwrap_err();
    assert!(err.message().contains("contiguous"), "{err}");
    // A refused into_view drops its buffer; the context thread counts the
    // release when it runs it, so a round trip first (as above).
    ctx.eval("0").unwrap();
    assert_eq!(ctx.buffer_stats().unwrap().held_views, 2, "doubles and unsigned still held");
}
