//! The table against a model: a map from keys to non-nil values, with the
//! array part's invariants checked after every step.

use super::{InvalidKey, KeyError, Keyed, Table};
use crate::value::Value;
use alloc::vec::Vec;
use std::collections::HashMap;

fn key(i: u64) -> Value {
    // Integers 1..=12 (array candidates), a fraction, strings.
    match i % 16 {
        0..=11 => Value::Num((i % 16 + 1) as f64),
        12 => Value::Num(0.5),
        13 => Value::Num(-3.0),
        n => Value::str(&[b'a' + n as u8]),
    }
}

fn model_key(v: &Value) -> std::string::String {
    std::format!("{v:?}")
}

#[test]
fn behaves_as_a_map_and_traverses_every_live_entry_once() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..200 {
        let mut t = Table::new(Keyed(round, 7));
        let mut model: HashMap<std::string::String, f64> = HashMap::new();
        for _ in 0..60 {
            let k = key(rand());
            let value = if rand() % 3 == 0 {
                Value::Nil
            } else {
                Value::Num((rand() % 100) as f64)
            };
            match &value {
                Value::Num(n) => model.insert(model_key(&k), *n),
                _ => model.remove(&model_key(&k)),
            };
            assert_eq!(t.set(k, value), Ok(()));
            // Invariant: no trailing nil in the array part.
            assert!(t.array().last().is_none_or(|v| !v.is_nil()));
            let mut seen = Vec::new();
            let mut at = Value::Nil;
            while let Ok(Some((k, v))) = t.next(&at) {
                assert!(!v.is_nil());
                assert_eq!(
                    model.get(&model_key(&k)),
                    Some(&v.to_num().unwrap_or(f64::NAN)),
                    "{k:?}"
                );
                seen.push(model_key(&k));
                at = k;
            }
            seen.sort();
            let mut expected: Vec<_> = model.keys().cloned().collect();
            expected.sort();
            assert_eq!(seen, expected);
            // The border: t[#t] is non-nil (or #t is 0) and t[#t + 1] is nil.
            let n = t.len();
            assert!(n == 0 || !t.get_int(n).is_nil());
            assert!(t.get_int(n + 1).is_nil());
        }
    }
}

#[test]
fn clearing_fields_during_a_traversal_keeps_it_going() {
    let mut t = Table::new(Keyed(1, 2));
    for i in 1..=5 {
        assert_eq!(t.set(Value::Num(f64::from(i)), Value::Num(0.0)), Ok(()));
        assert_eq!(
            t.set(Value::str(&[b'a' + i as u8]), Value::Num(0.0)),
            Ok(())
        );
    }
    let mut at = Value::Nil;
    let mut visited = 0;
    while let Ok(Some((k, _))) = t.next(&at) {
        assert_eq!(t.set(k.clone(), Value::Nil), Ok(()));
        visited += 1;
        at = k;
    }
    assert_eq!(visited, 10);
    assert!(t.is_empty());
}

#[test]
fn refuses_nil_and_nan_keys_and_unknown_next_keys() {
    let mut t = Table::new(Keyed(0, 0));
    assert_eq!(t.set(Value::Nil, Value::Num(1.0)), Err(KeyError::Nil));
    assert_eq!(
        t.set(Value::Num(f64::NAN), Value::Num(1.0)),
        Err(KeyError::NaN)
    );
    assert_eq!(t.next(&Value::str(b"nope")), Err(InvalidKey));
    // -0 and 0 are one key.
    assert_eq!(t.set(Value::Num(-0.0), Value::Num(1.0)), Ok(()));
    assert_eq!(t.get(&Value::Num(0.0)), Value::Num(1.0));
}
