//! The `serde` feature: derived structs and enums become Python dicts,
//! lists and scalars and come back equal, in both modes; what Python sends
//! that does not fit the Rust type is a conversion error naming the problem.

#![cfg(feature = "serde")]

mod support {
    pub mod common;
}

use std::collections::BTreeMap;

use pyctx::{ErrorKind, Value, from_value, to_value};
use serde::{Deserialize, Serialize};
use support::common::{MODES, context};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Shape {
    Empty,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Segment(i64, i64),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Order {
    id: u64,
    customer: String,
    #[serde(rename = "lineItems")]
    items: Vec<Item>,
    note: Option<String>,
    tags: BTreeMap<String, i32>,
    shape: Shape,
    pair: (bool, char),
    big: i128,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Item {
    sku: String,
    quantity: u16,
    price: f64,
}

fn order() -> Order {
    Order {
        id: u64::MAX,
        customer: "Zoë".into(),
        items: vec![
            Item { sku: "A-1".into(), quantity: 2, price: 9.5 },
            Item { sku: "B-2".into(), quantity: 1, price: 0.25 },
        ],
        note: None,
        tags: BTreeMap::from([("rush".to_string(), 1), ("gift".to_string(), -2)]),
        shape: Shape::Rect { w: 3, h: 4 },
        pair: (true, 'λ'),
        big: i128::MIN,
    }
}

const HELPERS: &str = "
def echo(x):
    return x
def describe(order):
    # What Python sees of the struct: plain dicts, lists, tuples, scalars.
    return [type(order).__name__, type(order['lineItems']).__name__, type(order['pair']).__name__,
            order['note'] is None, order['shape'], sum(i['quantity'] for i in order['lineItems'])]
def total(order):
    return {'id': order['id'], 'sum': sum(i['quantity'] * i['price'] for i in order['lineItems'])}
def make_item(n):
    return {'sku': 'S-%d' % n, 'quantity': n, 'price': n}
";

#[test]
fn a_derived_struct_round_trips_through_python() {
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec(HELPERS).unwrap();
        let back: Order = ctx.call_serde("__main__", "echo", &(order(),)).unwrap();
        assert_eq!(back, order(), "{mode:?}");
    }
}

#[test]
fn python_sees_dicts_lists_and_tuples() {
    let ctx = context(pyctx::Mode::Worker);
    ctx.exec(HELPERS).unwrap();
    let seen = ctx.call("__main__", "describe", (to_value(&order()).unwrap(),)).unwrap();
    let expected = Value::list([
        Value::from("dict"),
        Value::from("list"),
        Value::from("tuple"),
        Value::Bool(true),
        Value::map([("Rect", Value::map([("w", 3), ("h", 4)]))]),
        Value::Int(3),
    ]);
    assert_eq!(seen, expected);

    #[derive(Deserialize, Debug, PartialEq)]
    struct Total {
        id: u64,
        sum: f64,
    }
    let total: Total = ctx.call_serde("__main__", "total", &(order(),)).unwrap();
    assert_eq!(total, Total { id: u64::MAX, sum: 19.25 });
}

#[test]
fn results_built_by_python_deserialize() {
    let ctx = context(pyctx::Mode::OwnGil);
    ctx.exec(HELPERS).unwrap();
    // Python's int 5 for a f64 field is accepted, as serde_json does.
    let item: Item = ctx.call_serde("__main__", "make_item", &(5,)).unwrap();
    assert_eq!(item, Item { sku: "S-5".into(), quantity: 5, price: 5.0 });
    let items: Vec<Item> = ctx.eval("[make_item(1), make_item(2)]").unwrap().deserialize_into().unwrap();
    assert_eq!(items.iter().map(|i| i.quantity).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn every_enum_variant_kind_round_trips() {
    let ctx = context(pyctx::Mode::Worker);
    ctx.exec(HELPERS).unwrap();
    for shape in [Shape::Empty, Shape::Circle(1.5), Shape::Rect { w: 1, h: 2 }, Shape::Segment(-3, 4)] {
        let back: Shape = ctx.call_serde("__main__", "echo", &(shape.clone(),)).unwrap();
        assert_eq!(back, shape);
    }
    assert_eq!(to_value(&Shape::Empty).unwrap(), Value::from("Empty"));
    assert_eq!(to_value(&Shape::Circle(2.0)).unwrap(), Value::map([("Circle", 2.0)]));
}

#[test]
fn mismatches_are_conversion_errors_naming_the_problem() {
    let ctx = context(pyctx::Mode::Worker);
    ctx.exec(HELPERS).unwrap();

    let err = ctx.call_serde::<_, Item>("__main__", "echo", &({ "sku" },)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conversion);
    assert!(err.message().contains("invalid type"), "{}", err.message());

    let missing = from_value::<Item>(Value::map([("sku", Value::from("x")), ("price", Value::Float(1.0))]));
    let missing = missing.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Conversion);
    assert!(missing.message().contains("missing field `quantity`"), "{}", missing.message());

    let too_big = from_value::<u16>(Value::Int(70000)).unwrap_err();
    assert!(too_big.message().contains("70000"), "{}", too_big.message());

    let huge: pyctx::BigInt = "1".repeat(50).parse().unwrap();
    let err = from_value::<i128>(Value::from(huge)).unwrap_err();
    assert!(err.message().contains("beyond 128 bits"), "{}", err.message());

    let err = ctx.call_serde::<_, Value>("__main__", "echo", &Item { sku: "x".into(), quantity: 1, price: 1.0 });
    let err = err.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("tuple or a sequence, not dict"), "{}", err.message());
}

#[test]
fn value_itself_is_serialize_and_deserialize() {
    let value = Value::map([
        (Value::from("list"), Value::list([1, 2])),
        (Value::from("none"), Value::None),
        (Value::from("bytes"), Value::Bytes(vec![0, 255])),
        (Value::from("float"), Value::Float(-0.5)),
    ]);
    // Value -> serde -> Value is the identity for these kinds.
    let again: Value = from_value(to_value(&value).unwrap()).unwrap();
    assert_eq!(again, value);
    // A tuple serializes as a serde tuple, which reads back as a list.
    let tuple: Value = from_value(to_value(&Value::tuple([1, 2])).unwrap()).unwrap();
    assert_eq!(tuple, Value::list([1, 2]));
}
