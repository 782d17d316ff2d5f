//! The table library: `insert`, `remove`, `concat`, `sort`, `getn`,
//! `maxn`, `foreach`, `foreachi`, `setn` as Lua 5.1 has them.

use alloc::vec;
use alloc::vec::Vec;

use crate::exec::Exec;
use crate::lib_base::{arg, check_int, check_table, native_error, opt_int, opt_str};
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
            let pos = check_int(exec, &args, 2)?;
            // Lua 5.1 grows to the position given, moving up what is there.
            let n = n.max(pos);
            let mut i = n;
            while i > pos {
                let v = get(&t, i - 1);
                set(&t, i, v)?;
                i -= 1;
            }
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
    let pos = opt_int(exec, &args, 2, n)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let removed = get(&t, pos);
    let mut i = pos;
    while i < n {
        let v = get(&t, i + 1);
        set(&t, i, v)?;
        i += 1;
    }
    set(&t, n, Value::Nil)?;
    Ok(vec![removed])
}

fn concat(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let sep = opt_str(exec, &args, 2, b"")?;
    let i = opt_int(exec, &args, 3, 1)?;
    let j = match arg(&args, 4) {
        Value::Nil => len(&t),
        _ => check_int(exec, &args, 4)?,
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
