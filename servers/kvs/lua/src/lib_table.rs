//! The table library: `insert`, `remove`, `concat`, `sort`, `getn`,
//! `maxn`, `foreach`, `foreachi`, `setn` as Lua 5.1 has them.

use alloc::vec;
use alloc::vec::Vec;

use crate::exec::Exec;
use crate::lib_base::{arg, check_c_int, check_table, native_error, opt_c_int, opt_str};
use crate::value::{NativeResult, TableRef, Value};
use crate::{Error, Lua};

pub(crate) fn open(lua: &mut Lua) {
    let functions: [(&'static str, crate::NativeFn); 9] = [
        ("concat", concat),
        ("foreach", foreach),
        ("foreachi", foreachi),
        ("getn", getn),
        ("insert", insert),
        ("maxn", maxn),
        ("remove", remove),
        ("setn", setn),
        ("sort", sort),
    ];
    let t = lua.new_table();
    for (name, f) in functions {
        let v = lua.native(name, f);
        let _ = t.borrow_mut().set(Value::str(name.as_bytes()), v);
    }
    lua.set_global("table", Value::Table(t));
}

fn len(t: &TableRef) -> i64 {
    t.borrow().len() as i64
}

fn get(t: &TableRef, i: i64) -> Value {
    t.borrow().get(&Value::Num(i as f64))
}

/// `t[i] = v`: refused only by a read-only table (raised in C in Lua:
/// no position).
fn set(t: &TableRef, i: i64, v: Value) -> Result<(), Error> {
    t.borrow_mut()
        .set(Value::Num(i as f64), v)
        .map_err(|e| Error::message(e.message().as_bytes()))
}

fn getn(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    Ok(vec![Value::Num(len(&t) as f64)])
}

fn setn(exec: &mut Exec<'_>, _args: Vec<Value>) -> NativeResult {
    Err(native_error(exec, "'setn' is obsolete"))
}

fn maxn(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let max = t
        .borrow()
        .entries()
        .filter_map(|(k, _)| match k {
            Value::Num(n) => Some(n),
            _ => None,
        })
        .fold(0.0, f64::max);
    Ok(vec![Value::Num(max)])
}

fn insert(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let n = len(&t) + 1;
    match args.len() {
        2 => set(&t, n, arg(&args, 2))?,
        3 => {
            let pos = check_c_int(exec, &args, 2)?;
            // Lua 5.1 grows to the position given, moving up what is
            // there: t[i] = t[i - 1] from the end down to pos + 1.
            shift(&t, pos, n.max(pos), 1)?;
            set(&t, pos, arg(&args, 3))?;
        }
        _ => return Err(native_error(exec, "wrong number of arguments to 'insert'")),
    }
    exec.lua.account(32);
    Ok(Vec::new())
}

fn remove(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let n = len(&t);
    let pos = opt_c_int(exec, &args, 2, n)?;
    // Nothing to remove outside 1..=n (Lua 5.1's rule).
    if !(1 <= pos && pos <= n) {
        return Ok(Vec::new());
    }
    let removed = get(&t, pos);
    shift(&t, pos, n, -1)?;
    set(&t, n, Value::Nil)?;
    Ok(vec![removed])
}

/// The integer keys of `t` within `lo..=hi`.
fn int_keys(t: &TableRef, lo: i64, hi: i64) -> Vec<(i64, Value)> {
    t.borrow()
        .entries()
        .filter_map(|(k, v)| match k {
            Value::Num(n) if libm::trunc(n) == n && (lo as f64..=hi as f64).contains(&n) => {
                Some((n as i64, v))
            }
            _ => None,
        })
        .collect()
}

/// Moves the values between `from` and `to` one place: up (`by` 1:
/// t[i] = t[i - 1] for i from `to` down to `from` + 1) or down (-1:
/// t[i] = t[i + 1] for i from `from` up to `to` - 1). Key by key, as Lua
/// does, where the range is about the table's size; where it is far
/// larger (a position of -2^31), only the keys the table has move, to the
/// same end, so that a hostile position costs no more than the table.
fn shift(t: &TableRef, from: i64, to: i64, by: i64) -> Result<(), Error> {
    let span = to.saturating_sub(from);
    let size = t.borrow().entries().count() as i64;
    if span <= 2 * size + 64 {
        let mut i = if by > 0 { to } else { from };
        while if by > 0 { i > from } else { i < to } {
            let v = get(t, i - by);
            set(t, i, v)?;
            i -= by;
        }
        return Ok(());
    }
    // The sources (from..to-1 moving up, from+1..to moving down), and the
    // destinations, which hold nil unless a source lands there.
    let (lo, hi) = if by > 0 {
        (from, to - 1)
    } else {
        (from + 1, to)
    };
    let moving = int_keys(t, lo, hi);
    for (k, _) in int_keys(t, lo + by, hi + by) {
        set(t, k, Value::Nil)?;
    }
    for (k, v) in moving {
        set(t, k + by, v)?;
    }
    Ok(())
}

fn concat(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let sep = opt_str(exec, &args, 2, b"")?;
    let i = opt_c_int(exec, &args, 3, 1)?;
    let j = match arg(&args, 4) {
        Value::Nil => len(&t),
        _ => check_c_int(exec, &args, 4)?,
    };
    let mut out = Vec::new();
    let mut k = i;
    while k <= j {
        let v = get(&t, k);
        let Some(s) = (match &v {
            Value::Str(_) | Value::Num(_) => v.to_bytes(),
            _ => None,
        }) else {
            return Err(native_error(
                exec,
                &alloc::format!(
                    "invalid value ({}) at index {k} in table for 'concat'",
                    v.type_name()
                ),
            ));
        };
        exec.check_alloc(out.len() + s.len() + sep.len())?;
        out.extend_from_slice(&s);
        if k < j {
            out.extend_from_slice(&sep);
        }
        k += 1;
    }
    Ok(vec![Value::Str(out.into())])
}

fn foreach(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let f = arg(&args, 2);
    let mut key = Value::Nil;
    loop {
        let next = t.borrow().next(&key);
        let Ok(Some((k, v))) = next else {
            return Ok(Vec::new());
        };
        let r = exec.call(&f, vec![k.clone(), v])?;
        if let Some(r) = r.into_iter().next().filter(|r| !r.is_nil()) {
            return Ok(vec![r]);
        }
        key = k;
    }
}

fn foreachi(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let f = arg(&args, 2);
    for i in 1..=len(&t) {
        let r = exec.call(&f, vec![Value::Num(i as f64), get(&t, i)])?;
        if let Some(r) = r.into_iter().next().filter(|r| !r.is_nil()) {
            return Ok(vec![r]);
        }
    }
    Ok(Vec::new())
}

/// `table.sort`: the list 1..#t in place, by `<` or the comparator given.
/// A merge sort over a copy (stable where Lua's quicksort is not; an
/// inconsistent comparator cannot make it fail, where Lua's may raise
/// `invalid order function for sorting`).
fn sort(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let cmp = arg(&args, 2);
    if !cmp.is_nil() && !matches!(cmp, Value::Function(_)) {
        return Err(crate::lib_base::type_error(exec, &args, 2, "function"));
    }
    let n = len(&t);
    let mut items: Vec<Value> = (1..=n).map(|i| get(&t, i)).collect();
    merge_sort(exec, &mut items, &cmp)?;
    for (i, v) in items.into_iter().enumerate() {
        set(&t, i as i64 + 1, v)?;
    }
    Ok(Vec::new())
}

fn less(exec: &mut Exec<'_>, cmp: &Value, a: &Value, b: &Value) -> Result<bool, Error> {
    if cmp.is_nil() {
        return exec.less(a, b, false);
    }
    let r = exec.call(cmp, vec![a.clone(), b.clone()])?;
    Ok(r.first().is_some_and(Value::truthy))
}

fn merge_sort(exec: &mut Exec<'_>, items: &mut [Value], cmp: &Value) -> Result<(), Error> {
    if items.len() <= 1 {
        return Ok(());
    }
    let mid = items.len() / 2;
    merge_sort(exec, &mut items[..mid], cmp)?;
    merge_sort(exec, &mut items[mid..], cmp)?;
    let mut merged = Vec::with_capacity(items.len());
    let (mut i, mut j) = (0, mid);
    while i < mid && j < items.len() {
        if less(exec, cmp, &items[j], &items[i])? {
            merged.push(items[j].clone());
            j += 1;
        } else {
            merged.push(items[i].clone());
            i += 1;
        }
    }
    merged.extend_from_slice(&items[i..mid]);
    merged.extend_from_slice(&items[j..]);
    items.clone_from_slice(&merged);
    Ok(())
}
