//! The crate's CBOR codec against the library's own: the C writer produces
//! the same bytes, the C reader and diagnoser read what Rust writes, and
//! Rust decodes what the C writer writes. Also exercises the raw `ffi`
//! codec declarations.

use std::ffi::CStr;

use pyctx::{BigInt, Value, cbor, ffi};

/// Writes `v` with the C writer, the way a C program would.
fn c_write(w: *mut ffi::pyctx_cbor_writer_t, v: &Value) {
    // SAFETY: `w` is a live writer; buffers live for each call.
    let rc = unsafe {
        match v {
            Value::None => ffi::pyctx_cbor_write_null(w),
            Value::Bool(b) => ffi::pyctx_cbor_write_bool(w, i32::from(*b)),
            Value::Int(n) if *n >= 0 => ffi::pyctx_cbor_write_uint(w, u64::try_from(*n).unwrap()),
            Value::Int(n) => ffi::pyctx_cbor_write_int(w, i64::try_from(*n).unwrap()),
            Value::Float(x) => ffi::pyctx_cbor_write_float(w, *x),
            Value::Str(s) => ffi::pyctx_cbor_write_text(w, s.as_ptr().cast(), s.len()),
            Value::Bytes(b) => ffi::pyctx_cbor_write_bytes(w, b.as_ptr(), b.len()),
            Value::List(items) => {
                let rc = ffi::pyctx_cbor_write_array(w, items.len() as u64);
                items.iter().for_each(|i| c_write(w, i));
                rc
            }
            Value::Tuple(items) | Value::Set(items) => {
                let tag = if matches!(v, Value::Tuple(_)) {
                    ffi::PYCTX_CBOR_TAG_TUPLE
                } else {
                    ffi::PYCTX_CBOR_TAG_SET
                };
                let rc = ffi::pyctx_cbor_write_tag(w, u64::from(tag))
                    | ffi::pyctx_cbor_write_array(w, items.len() as u64);
                items.iter().for_each(|i| c_write(w, i));
                rc
            }
            Value::Map(pairs) => {
                let rc = ffi::pyctx_cbor_write_map(w, pairs.len() as u64);
                for (k, v) in pairs {
                    c_write(w, k);
                    c_write(w, v);
                }
                rc
            }
            Value::Symbol(s) => {
                ffi::pyctx_cbor_write_tag(w, u64::from(ffi::PYCTX_CBOR_TAG_SYMBOL))
                    | ffi::pyctx_cbor_write_text(w, s.as_ptr().cast(), s.len())
            }
            Value::HostTerm(b) => {
                ffi::pyctx_cbor_write_tag(w, u64::from(ffi::PYCTX_CBOR_TAG_HOST_TERM))
                    | ffi::pyctx_cbor_write_bytes(w, b.as_ptr(), b.len())
            }
            other => panic!("no C writer call for {other:?}"),
        }
    };
    assert_eq!(rc, 0, "C writer failed on {v}");
}

fn c_encode(v: &Value) -> Vec<u8> {
    // SAFETY: a fresh writer, freed below; the data pointer is read before.
    unsafe {
        let w = ffi::pyctx_cbor_writer_new();
        assert!(!w.is_null());
        c_write(w, v);
        let mut len = 0;
        let data = ffi::pyctx_cbor_writer_data(w, &mut len);
        let out = std::slice::from_raw_parts(data, len).to_vec();
        ffi::pyctx_cbor_writer_free(w);
        out
    }
}

fn c_diagnose(bytes: &[u8]) -> Result<String, String> {
    let mut out = ffi::pyctx_bytes_t { data: std::ptr::null_mut(), len: 0 };
    // SAFETY: a valid buffer; the text is NUL-terminated and freed below.
    unsafe {
        let err = ffi::pyctx_cbor_diagnose(bytes.as_ptr(), bytes.len(), &mut out);
        if !err.is_null() {
            let message = CStr::from_ptr(ffi::pyctx_error_message(err)).to_string_lossy().into_owned();
            ffi::pyctx_error_free(err);
            return Err(message);
        }
        let text = CStr::from_ptr(out.data.cast()).to_string_lossy().into_owned();
        ffi::pyctx_bytes_free(&mut out);
        Ok(text)
    }
}

fn samples() -> Vec<Value> {
    vec![
        Value::None,
        Value::Bool(false),
        Value::Int(0),
        Value::Int(23),
        Value::Int(24),
        Value::Int(65536),
        Value::from(u64::MAX),
        Value::Int(-1),
        Value::Int(-25),
        Value::from(i64::MIN),
        Value::Float(1.5),
        Value::Float(f64::INFINITY),
        Value::from("h\u{e9}llo"),
        Value::Bytes((0..=255).collect()),
        Value::list([Value::Int(1), Value::list(["a"])]),
        Value::tuple([1, 2]),
        Value::set([Value::symbol("x")]),
        Value::map([(Value::tuple([1]), Value::host_term(vec![9]))]),
        Value::Str("x".repeat(70_000)),
    ]
}

#[test]
fn the_c_writer_and_the_crate_encode_identically() {
    for v in samples() {
        let rust = cbor::encode(&v);
        assert_eq!(rust, c_encode(&v), "{}", c_diagnose(&rust).unwrap_or_default());
        assert_eq!(cbor::decode(&c_encode(&v)).unwrap(), v);
    }
}

#[test]
fn the_c_diagnoser_reads_what_rust_writes() {
    let cases: [(Value, &str); 6] = [
        (Value::list([Value::Int(1), Value::from("a")]), r#"[1, "a"]"#),
        (Value::Bytes(vec![0, 255]), "h'00ff'"),
        (Value::set([1, 2]), "258([1, 2])"),
        (Value::symbol("ok"), r#"39("ok")"#),
        (Value::tuple(Vec::<i32>::new()), "28793([])"),
        (Value::map([("k", Value::None)]), r#"{"k": null}"#),
    ];
    for (v, expected) in cases {
        assert_eq!(c_diagnose(&cbor::encode(&v)).unwrap(), expected);
    }
    let big = Value::from("-340282366920938463463374607431768211457".parse::<BigInt>().unwrap());
    let text = c_diagnose(&cbor::encode(&big)).unwrap();
    assert!(text.starts_with("3(h'"), "bignums use tag 3: {text}");
    assert!(c_diagnose(&[0x82, 0x01]).is_err(), "truncated input is an error");
}

#[test]
fn the_c_reader_walks_rust_output() {
    let v = Value::list([Value::Int(-3), Value::Float(0.5), Value::from("t")]);
    let bytes = cbor::encode(&v);
    let mut reader = ffi::pyctx_cbor_reader_t { data: std::ptr::null(), len: 0, pos: 0 };
    let mut item = std::mem::MaybeUninit::<ffi::pyctx_cbor_item_t>::zeroed();
    let mut kinds = Vec::new();
    // SAFETY: the reader borrows `bytes`, alive throughout.
    unsafe {
        ffi::pyctx_cbor_reader_init(&mut reader, bytes.as_ptr(), bytes.len());
        while ffi::pyctx_cbor_reader_at_end(&reader) == 0 {
            let err = ffi::pyctx_cbor_read(&mut reader, item.as_mut_ptr());
            assert!(err.is_null(), "read failed");
            let it = item.assume_init_ref();
            kinds.push((it.r#type, it.int_value, it.count));
        }
    }
    let types: Vec<u32> = kinds.iter().map(|k| k.0).collect();
    assert_eq!(
        types,
        [ffi::PYCTX_CBOR_ARRAY, ffi::PYCTX_CBOR_NEGINT, ffi::PYCTX_CBOR_FLOAT, ffi::PYCTX_CBOR_TEXT]
    );
    assert_eq!(kinds[0].2, 3, "array count");
    assert_eq!(kinds[1].1, -3, "negative int value");
}
