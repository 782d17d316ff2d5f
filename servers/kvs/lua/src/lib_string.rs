//! The string library, over bytes (C's locale: ASCII case, byte order),
//! with Lua 5.1's patterns ([`crate::pattern`]) and `format`
//! ([`crate::format`]). Strings share it as their metatable's `__index`,
//! so `s:upper()` works.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::exec::Exec;
use crate::format;
use crate::lib_base::{
    arg, arg_error, check_int, check_num, check_str, native_error, opt_int, type_error,
};
use crate::pattern::{self, Budget, Capture, Match};
use crate::value::{Function, NativeResult, Value};
use crate::{Error, Lua};

pub(crate) fn open(lua: &mut Lua) {
    let functions: [(&'static str, crate::NativeFn); 15] = [
        ("byte", byte),
        ("char", char),
        ("dump", dump),
        ("find", find),
        ("format", format),
        ("gfind", gmatch),
        ("gmatch", gmatch),
        ("gsub", gsub),
        ("len", len),
        ("lower", lower),
        ("match", match_),
        ("rep", rep),
        ("reverse", reverse),
        ("sub", sub),
        ("upper", upper),
    ];
    let t = lua.new_table();
    for (name, f) in functions {
        let v = lua.native(name, f);
        let _ = t.borrow_mut().set(Value::str(name.as_bytes()), v);
    }
    lua.set_global("string", Value::Table(t.clone()));
    let meta = lua.new_table();
    let _ = meta
        .borrow_mut()
        .set(Value::str(b"__index"), Value::Table(t));
    lua.set_string_meta(meta);
}

fn string(bytes: Vec<u8>) -> Value {
    Value::Str(Rc::from(bytes))
}

/// A position argument relative to a string of `len` bytes: negative
/// counts from the end (-1 is the last byte), as Lua's `posrelat`.
fn relative(pos: i64, len: usize) -> i64 {
    if pos < 0 { pos + len as i64 + 1 } else { pos }
}

fn len(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    Ok(vec![Value::Num(s.len() as f64)])
}

fn sub(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    let l = s.len();
    let start = relative(check_int(exec, &args, 2)?, l).max(1);
    let end = relative(opt_int(exec, &args, 3, -1)?, l).min(l as i64);
    if start > end {
        return Ok(vec![Value::str(b"")]);
    }
    Ok(vec![Value::str(&s[start as usize - 1..end as usize])])
}

fn upper(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    Ok(vec![string(s.to_ascii_uppercase())])
}

fn lower(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    Ok(vec![string(s.to_ascii_lowercase())])
}

fn reverse(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    Ok(vec![string(s.iter().rev().copied().collect())])
}

fn rep(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    let n = crate::lib_base::check_c_int(exec, &args, 2)?;
    if n <= 0 || s.is_empty() {
        return Ok(vec![Value::str(b"")]);
    }
    let total = s
        .len()
        .saturating_mul(usize::try_from(n).unwrap_or(usize::MAX));
    exec.check_alloc(total)?;
    Ok(vec![string(s.repeat(n as usize))])
}

fn byte(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    let l = s.len();
    let i = opt_int(exec, &args, 2, 1)?;
    let start = relative(i, l).max(1);
    let end = relative(opt_int(exec, &args, 3, i)?, l).min(l as i64);
    if start > end {
        return Ok(Vec::new());
    }
    if end - start >= crate::lib_base::MAX_RESULTS as i64 {
        return Err(native_error(exec, "string slice too long"));
    }
    Ok(s[start as usize - 1..end as usize]
        .iter()
        .map(|&b| Value::Num(f64::from(b)))
        .collect())
}

fn char(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let mut out = Vec::with_capacity(args.len());
    for n in 1..=args.len() {
        let c = crate::lib_base::check_c_int(exec, &args, n)?;
        let Ok(c) = u8::try_from(c) else {
            return Err(arg_error(exec, n, "invalid value"));
        };
        out.push(c);
    }
    Ok(vec![string(out)])
}

fn dump(exec: &mut Exec<'_>, _args: Vec<Value>) -> NativeResult {
    Err(native_error(exec, "unable to dump given function"))
}

fn format(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let fmt = check_str(exec, &args, 1)?;
    let mut out = Vec::with_capacity(fmt.len());
    let mut n = 1;
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        if fmt.get(i) == Some(&b'%') {
            out.push(b'%');
            i += 1;
            continue;
        }
        let (spec, next) = format::parse_spec(&fmt, i)
            .map_err(|e| native_error(exec, &String::from_utf8_lossy(&e.message_bytes())))?;
        i = next;
        n += 1;
        if n > args.len() {
            return Err(arg_error(exec, n, "no value"));
        }
        match spec.conv {
            b'c' => {
                let c = check_num(exec, &args, n)?;
                format::character(&spec, format::c_double_to_i64(c) as u8, &mut out);
            }
            b'd' | b'i' => {
                let x = check_num(exec, &args, n)?;
                format::int(&spec, format::c_double_to_i64(x), &mut out);
            }
            b'o' | b'u' | b'x' | b'X' => {
                let x = check_num(exec, &args, n)?;
                format::uint(&spec, format::c_double_to_u64(x), &mut out);
            }
            b'e' | b'E' | b'f' | b'g' | b'G' => {
                let x = check_num(exec, &args, n)?;
                format::float(&spec, x, &mut out);
            }
            b'q' => {
                let s = check_str(exec, &args, n)?;
                format::quoted(&s, &mut out);
            }
            _ => {
                let s = check_str(exec, &args, n)?;
                format::string(&spec, &s, &mut out);
            }
        }
        exec.check_alloc(out.len())?;
    }
    Ok(vec![string(out)])
}

// Patterns.

fn pattern_error(exec: &Exec<'_>, e: pattern::PatternError) -> Error {
    native_error(exec, e.message())
}

/// The value of capture `i` of `m` over `s`.
fn capture_value(s: &[u8], m: &Match, i: usize) -> Result<Value, pattern::PatternError> {
    Ok(match m.capture(i)? {
        Capture::Span(r) => Value::str(&s[r]),
        Capture::Position(p) => Value::Num((p + 1) as f64),
    })
}

/// Every capture of `m` (the whole match when there are none).
fn captures(exec: &Exec<'_>, s: &[u8], m: &Match) -> Result<Vec<Value>, Error> {
    (0..m.value_count())
        .map(|i| capture_value(s, m, i).map_err(|e| pattern_error(exec, e)))
        .collect()
}

/// `find` and `match`: where the pattern first matches from `init`.
fn find_aux(exec: &mut Exec<'_>, args: Vec<Value>, find: bool) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    let p = check_str(exec, &args, 2)?;
    let init = relative(opt_int(exec, &args, 3, 1)?, s.len()) - 1;
    let init = init.clamp(0, s.len() as i64) as usize;
    if find && (arg(&args, 4).truthy() || pattern::is_plain(&p)) {
        let found = if p.is_empty() {
            Some(init)
        } else {
            s[init..]
                .windows(p.len())
                .position(|w| w == &p[..])
                .map(|i| i + init)
        };
        return Ok(match found {
            Some(i) => vec![Value::Num((i + 1) as f64), Value::Num((i + p.len()) as f64)],
            None => vec![Value::Nil],
        });
    }
    let m = pattern::find(&s, &p, init).map_err(|e| pattern_error(exec, e))?;
    let Some(m) = m else {
        return Ok(vec![Value::Nil]);
    };
    if find {
        let mut out = vec![Value::Num((m.start + 1) as f64), Value::Num(m.end as f64)];
        if !m.captures.is_empty() {
            out.extend(captures(exec, &s, &m)?);
        }
        return Ok(out);
    }
    captures(exec, &s, &m)
}

fn find(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    find_aux(exec, args, true)
}

fn match_(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    find_aux(exec, args, false)
}

/// `gmatch`: an iterator over the matches, its state (subject, pattern,
/// position) in a table it is bound to.
fn gmatch(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    let p = check_str(exec, &args, 2)?;
    let state = exec.lua.new_table();
    {
        let mut t = state.borrow_mut();
        let _ = t.set(Value::Num(1.0), Value::Str(s));
        let _ = t.set(Value::Num(2.0), Value::Str(p));
        let _ = t.set(Value::Num(3.0), Value::Num(0.0));
    }
    Ok(vec![Value::Function(Rc::new(Function::Bound {
        name: "gmatch_aux",
        run: gmatch_step,
        state: Value::Table(state),
    }))])
}

fn gmatch_step(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let Value::Table(state) = arg(&args, 1) else {
        return Ok(vec![Value::Nil]);
    };
    let (s, p, mut pos) = {
        let t = state.borrow();
        let s = t
            .get_int(1)
            .to_bytes()
            .unwrap_or_else(|| Rc::from(&b""[..]));
        let p = t
            .get_int(2)
            .to_bytes()
            .unwrap_or_else(|| Rc::from(&b""[..]));
        let pos = t.get_int(3).to_num().unwrap_or(0.0) as usize;
        (s, p, pos)
    };
    let mut budget = Budget::default();
    while pos <= s.len() {
        let m = pattern::match_at_budgeted(&s, &p, pos, &mut budget)
            .map_err(|e| pattern_error(exec, e))?;
        if let Some(m) = m {
            // An empty match moves on a byte, so the loop ends.
            let next = if m.end == m.start { m.end + 1 } else { m.end };
            let _ = state
                .borrow_mut()
                .set(Value::Num(3.0), Value::Num(next as f64));
            return captures(exec, &s, &m);
        }
        pos += 1;
    }
    let _ = state
        .borrow_mut()
        .set(Value::Num(3.0), Value::Num((s.len() + 1) as f64));
    Ok(vec![Value::Nil])
}

fn gsub(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    let p = check_str(exec, &args, 2)?;
    let repl = arg(&args, 3);
    if !matches!(
        repl,
        Value::Num(_) | Value::Str(_) | Value::Table(_) | Value::Function(_)
    ) {
        return Err(type_error(exec, &args, 3, "string/function/table"));
    }
    let max = match arg(&args, 4) {
        Value::Nil => i64::MAX,
        _ => crate::lib_base::check_c_int(exec, &args, 4)?,
    };
    let (anchored, p) = pattern::anchor(&p);
    let mut budget = Budget::default();
    let mut out = Vec::with_capacity(s.len());
    let mut pos = 0;
    let mut count = 0i64;
    while count < max {
        let m = pattern::match_at_budgeted(&s, p, pos, &mut budget)
            .map_err(|e| pattern_error(exec, e))?;
        if let Some(m) = &m {
            count += 1;
            replace(exec, &s, m, &repl, &mut out)?;
            exec.check_alloc(out.len())?;
        }
        match m {
            Some(m) if m.end > pos => pos = m.end,
            _ if pos < s.len() => {
                out.push(s[pos]);
                pos += 1;
            }
            _ => break,
        }
        if anchored {
            break;
        }
    }
    out.extend_from_slice(&s[pos.min(s.len())..]);
    Ok(vec![string(out), Value::Num(count as f64)])
}

/// Appends what replaces match `m`: the replacement string with its `%n`
/// captures, or the value a table or function gives for the first capture
/// (the match itself if false or nil).
fn replace(
    exec: &mut Exec<'_>,
    s: &[u8],
    m: &Match,
    repl: &Value,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let value = match repl {
        Value::Str(_) | Value::Num(_) => {
            let r = repl.to_bytes().unwrap_or_else(|| Rc::from(&b""[..]));
            let mut i = 0;
            while i < r.len() {
                let c = r[i];
                i += 1;
                if c != b'%' || i == r.len() {
                    out.push(c);
                    continue;
                }
                let d = r[i];
                i += 1;
                if !d.is_ascii_digit() {
                    out.push(d);
                } else if d == b'0' {
                    out.extend_from_slice(&s[m.start..m.end]);
                } else {
                    let v = capture_value(s, m, usize::from(d - b'1'))
                        .map_err(|e| pattern_error(exec, e))?;
                    out.extend_from_slice(&v.to_bytes().unwrap_or_else(|| Rc::from(&b""[..])));
                }
            }
            return Ok(());
        }
        Value::Table(t) => {
            let key = capture_value(s, m, 0).map_err(|e| pattern_error(exec, e))?;
            exec.get(&Value::Table(t.clone()), &key)?
        }
        _ => {
            let caps = captures(exec, s, m)?;
            exec.call(repl, caps)?
                .into_iter()
                .next()
                .unwrap_or_default()
        }
    };
    match &value {
        Value::Nil | Value::Bool(false) => out.extend_from_slice(&s[m.start..m.end]),
        Value::Str(_) | Value::Num(_) => {
            out.extend_from_slice(&value.to_bytes().unwrap_or_else(|| Rc::from(&b""[..])));
        }
        other => {
            return Err(native_error(
                exec,
                &alloc::format!("invalid replacement value (a {})", other.type_name()),
            ));
        }
    }
    Ok(())
}
