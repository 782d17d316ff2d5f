//! The base library (`type`, `pairs`, `pcall`, `error`, …) and the
//! argument checks every library shares, with Lua's messages (`bad
//! argument #1 to 'insert' (table expected, got nil)`).

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::Error;
use crate::Lua;
use crate::exec::Exec;
use crate::value::{NativeResult, TableRef, Value};

/// The most values `unpack` and friends may return at once.
pub(crate) const MAX_RESULTS: usize = 8000;

// Argument checks.

/// `bad argument #n to 'name' (message)`, positioned at the caller. A
/// method call counts its arguments after `self`.
pub(crate) fn arg_error(exec: &Exec<'_>, n: usize, message: &str) -> Error {
    let lua = &exec.lua;
    let (name, method) = lua
        .stack
        .last()
        .map_or(("?", false), |info| (info.name, info.method));
    let mut text = lua.position(1);
    if method && n == 1 {
        text.extend_from_slice(format!("calling '{name}' on bad self ({message})").as_bytes());
    } else {
        let n = if method { n - 1 } else { n };
        text.extend_from_slice(format!("bad argument #{n} to '{name}' ({message})").as_bytes());
    }
    Error::message(&text)
}

/// An error positioned at the native function's caller (`luaL_error`).
pub(crate) fn native_error(exec: &Exec<'_>, message: &str) -> Error {
    let mut text = exec.lua.position(1);
    text.extend_from_slice(message.as_bytes());
    Error::message(&text)
}

/// `<expected> expected, got <type>`, for argument `n` (1-based).
pub(crate) fn type_error(exec: &Exec<'_>, args: &[Value], n: usize, expected: &str) -> Error {
    let got = args.get(n - 1).map_or("no value", Value::type_name);
    arg_error(exec, n, &format!("{expected} expected, got {got}"))
}

pub(crate) fn arg(args: &[Value], n: usize) -> Value {
    args.get(n - 1).cloned().unwrap_or_default()
}

/// A string argument (a number converts).
pub(crate) fn check_str(exec: &Exec<'_>, args: &[Value], n: usize) -> Result<Rc<[u8]>, Error> {
    arg(args, n)
        .to_bytes()
        .ok_or_else(|| type_error(exec, args, n, "string"))
}

/// An optional string argument.
pub(crate) fn opt_str(
    exec: &Exec<'_>,
    args: &[Value],
    n: usize,
    default: &[u8],
) -> Result<Rc<[u8]>, Error> {
    if arg(args, n).is_nil() {
        return Ok(Rc::from(default));
    }
    check_str(exec, args, n)
}

/// A number argument (a numeric string converts).
pub(crate) fn check_num(exec: &Exec<'_>, args: &[Value], n: usize) -> Result<f64, Error> {
    arg(args, n)
        .to_num()
        .ok_or_else(|| type_error(exec, args, n, "number"))
}

/// An integer argument: a number truncated toward zero, as C's cast does
/// (the x86 cast's result, i64::MIN, for what does not fit).
pub(crate) fn check_int(exec: &Exec<'_>, args: &[Value], n: usize) -> Result<i64, Error> {
    Ok(crate::format::c_double_to_i64(check_num(exec, args, n)?))
}

/// An `int` argument (`luaL_checkint`): the integer cut to its low 32
/// bits, as C's cast to `int` cuts it.
pub(crate) fn check_c_int(exec: &Exec<'_>, args: &[Value], n: usize) -> Result<i64, Error> {
    Ok(i64::from(check_int(exec, args, n)? as i32))
}

/// An optional `int` argument (`luaL_optint`).
pub(crate) fn opt_c_int(
    exec: &Exec<'_>,
    args: &[Value],
    n: usize,
    default: i64,
) -> Result<i64, Error> {
    Ok(i64::from(opt_int(exec, args, n, default)? as i32))
}

pub(crate) fn opt_int(
    exec: &Exec<'_>,
    args: &[Value],
    n: usize,
    default: i64,
) -> Result<i64, Error> {
    if arg(args, n).is_nil() {
        return Ok(default);
    }
    check_int(exec, args, n)
}

pub(crate) fn check_table(exec: &Exec<'_>, args: &[Value], n: usize) -> Result<TableRef, Error> {
    match arg(args, n) {
        Value::Table(t) => Ok(t),
        _ => Err(type_error(exec, args, n, "table")),
    }
}

/// Any argument, even nil, but present (`value expected`).
pub(crate) fn check_any(exec: &Exec<'_>, args: &[Value], n: usize) -> Result<Value, Error> {
    match args.get(n - 1) {
        Some(v) => Ok(v.clone()),
        None => Err(arg_error(exec, n, "value expected")),
    }
}

fn one(v: Value) -> NativeResult {
    Ok(vec![v])
}

// The functions.

pub(crate) fn open(lua: &mut Lua) {
    let functions: [(&'static str, crate::NativeFn); 21] = [
        ("assert", assert),
        ("error", error),
        ("getmetatable", getmetatable),
        ("ipairs", ipairs),
        ("load", load),
        ("loadstring", loadstring),
        ("next", next),
        ("pairs", pairs),
        ("pcall", pcall),
        ("rawequal", rawequal),
        ("rawget", rawget),
        ("rawset", rawset),
        ("select", select),
        ("setmetatable", setmetatable),
        ("tonumber", tonumber),
        ("tostring", tostring),
        ("type", type_),
        ("unpack", unpack),
        ("xpcall", xpcall),
        ("gcinfo", gcinfo),
        ("collectgarbage", collectgarbage),
    ];
    for (name, f) in functions {
        let v = lua.native(name, f);
        lua.set_global(name, v);
    }
    let g = Value::Table(lua.globals());
    lua.set_global("_G", g);
    lua.set_global("_VERSION", Value::str(b"Lua 5.1"));
}

fn assert(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let v = check_any(exec, &args, 1)?;
    if v.truthy() {
        return Ok(args);
    }
    let message = opt_str(exec, &args, 2, b"assertion failed!")?;
    Err(native_error(exec, &String::from_utf8_lossy(&message)))
}

fn error(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let value = arg(&args, 1);
    let level = opt_int(exec, &args, 2, 1)?;
    // A string, or a number (which is one to Lua), gets the position.
    if let (Value::Str(_) | Value::Num(_), Some(s)) = (&value, value.to_bytes())
        && level > 0
    {
        let mut text = exec.lua.position(level as usize);
        text.extend_from_slice(&s);
        return Err(Error::message(&text));
    }
    Err(Error::new(value))
}

fn getmetatable(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let v = check_any(exec, &args, 1)?;
    let meta = match &v {
        Value::Table(t) => t.borrow().meta.clone(),
        Value::Str(_) => exec.lua.string_meta.clone(),
        _ => None,
    };
    let Some(meta) = meta else {
        return one(Value::Nil);
    };
    let protected = meta.borrow().get(&Value::str(b"__metatable"));
    if !protected.is_nil() {
        return one(protected);
    }
    one(Value::Table(meta))
}

fn setmetatable(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let meta = match arg(&args, 2) {
        Value::Nil => None,
        Value::Table(m) => Some(m),
        _ => return Err(arg_error(exec, 2, "nil or table expected")),
    };
    let protected = t
        .borrow()
        .meta
        .as_ref()
        .is_some_and(|m| !m.borrow().get(&Value::str(b"__metatable")).is_nil());
    if protected {
        return Err(native_error(exec, "cannot change a protected metatable"));
    }
    t.borrow_mut()
        .set_meta(meta)
        .map_err(|e| Error::message(e.message().as_bytes()))?;
    one(Value::Table(t))
}

fn ipairs(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let aux = exec.lua.native("ipairs_aux", ipairs_aux);
    Ok(vec![aux, Value::Table(t), Value::Num(0.0)])
}

fn ipairs_aux(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let i = check_int(exec, &args, 2)? + 1;
    let v = t.borrow().get(&Value::Num(i as f64));
    if v.is_nil() {
        return Ok(Vec::new());
    }
    Ok(vec![Value::Num(i as f64), v])
}

fn next(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let result = t.borrow().next(&arg(&args, 2));
    match result {
        Ok(Some((k, v))) => Ok(vec![k, v]),
        Ok(None) => one(Value::Nil),
        // Raised inside the C function in Lua: no position.
        Err(_) => Err(Error::message(b"invalid key to 'next'")),
    }
}

fn pairs(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let next = exec.lua.global("next");
    let next = match next {
        Value::Function(_) => next,
        _ => exec.lua.native("next", self::next),
    };
    Ok(vec![next, Value::Table(t), Value::Nil])
}

fn pcall(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    let f = check_any(exec, &args, 1)?;
    args.remove(0);
    match exec.call(&f, args) {
        Ok(mut results) => {
            results.insert(0, Value::Bool(true));
            Ok(results)
        }
        Err(e) if e.fatal => Err(e),
        Err(e) => Ok(vec![Value::Bool(false), e.value]),
    }
}

fn xpcall(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let f = arg(&args, 1);
    let handler = check_any(exec, &args, 2)?;
    match exec.call(&f, Vec::new()) {
        Ok(mut results) => {
            results.insert(0, Value::Bool(true));
            Ok(results)
        }
        Err(e) if e.fatal => Err(e),
        Err(e) => {
            let mut results = exec.call(&handler, vec![e.value])?;
            results.truncate(1);
            results.resize(1, Value::Nil);
            results.insert(0, Value::Bool(false));
            Ok(results)
        }
    }
}

fn rawequal(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let a = check_any(exec, &args, 1)?;
    let b = check_any(exec, &args, 2)?;
    one(Value::Bool(a == b))
}

fn rawget(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let k = check_any(exec, &args, 2)?;
    one(t.borrow().get(&k))
}

fn rawset(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let k = check_any(exec, &args, 2)?;
    let v = check_any(exec, &args, 3)?;
    // Raised inside the C function in Lua: no position.
    t.borrow_mut()
        .set(k, v)
        .map_err(|e| Error::message(e.message().as_bytes()))?;
    one(Value::Table(t))
}

fn select(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    let n = args.len() as i64 - 1;
    if let Value::Str(s) = arg(&args, 1)
        && &*s == b"#"
    {
        return one(Value::Num(n as f64));
    }
    let i = check_c_int(exec, &args, 1)?;
    let i = if i < 0 {
        n + i
    } else if i > n {
        n
    } else {
        i - 1
    };
    if i < 0 {
        return Err(arg_error(exec, 1, "index out of range"));
    }
    Ok(args.split_off(1 + i as usize))
}

fn tonumber(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let base = opt_int(exec, &args, 2, 10)?;
    if base == 10 {
        let v = check_any(exec, &args, 1)?;
        return one(v.to_num().map_or(Value::Nil, Value::Num));
    }
    let s = check_str(exec, &args, 1)?;
    if !(2..=36).contains(&base) {
        return Err(arg_error(exec, 2, "base out of range"));
    }
    one(parse_base(&s, base as u32).map_or(Value::Nil, Value::Num))
}

/// An unsigned integer in `base` (C's `strtoul`, white space around it).
fn parse_base(s: &[u8], base: u32) -> Option<f64> {
    let s = s.trim_ascii();
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = if base == 16 && (digits.starts_with(b"0x") || digits.starts_with(b"0X")) {
        &digits[2..]
    } else {
        digits
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        let d = (d as char).to_digit(base)?;
        // Past the largest, strtoul answers the largest.
        n = n
            .saturating_mul(u64::from(base))
            .saturating_add(u64::from(d));
    }
    let n = if negative { n.wrapping_neg() } else { n };
    Some(n as f64)
}

/// `tostring`: `__tostring`, or the value's text (`table: 0x…` for what
/// has an identity).
pub(crate) fn tostring_value(exec: &mut Exec<'_>, v: &Value) -> Result<Rc<[u8]>, Error> {
    let handler = exec.lua.metamethod(v, "__tostring");
    if !handler.is_nil() {
        let result = exec.call(&handler, vec![v.clone()])?;
        return match result.into_iter().next() {
            Some(Value::Str(s)) => Ok(s),
            Some(n @ Value::Num(_)) => Ok(n.to_bytes().unwrap_or_else(|| Rc::from(&b""[..]))),
            _ => Err(native_error(exec, "'__tostring' must return a string")),
        };
    }
    Ok(match v {
        Value::Nil => Rc::from(&b"nil"[..]),
        Value::Bool(true) => Rc::from(&b"true"[..]),
        Value::Bool(false) => Rc::from(&b"false"[..]),
        Value::Num(_) | Value::Str(_) => v.to_bytes().unwrap_or_else(|| Rc::from(&b""[..])),
        // C's `%p`, as Lua prints an identity: glibc writes a null one so.
        Value::Light(0) => Rc::from(&b"userdata: (nil)"[..]),
        other => Rc::from(format!("{}: {:#x}", other.type_name(), other.address()).as_bytes()),
    })
}

fn tostring(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let v = check_any(exec, &args, 1)?;
    one(Value::Str(tostring_value(exec, &v)?))
}

fn type_(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let v = check_any(exec, &args, 1)?;
    one(Value::str(v.type_name().as_bytes()))
}

fn unpack(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let t = check_table(exec, &args, 1)?;
    let i = opt_c_int(exec, &args, 2, 1)?;
    let j = match arg(&args, 3) {
        Value::Nil => t.borrow().len() as i64,
        _ => check_c_int(exec, &args, 3)?,
    };
    if i > j {
        return Ok(Vec::new());
    }
    let n = j.saturating_sub(i).saturating_add(1);
    if n <= 0 || n as u64 > MAX_RESULTS as u64 {
        return Err(native_error(exec, "too many results to unpack"));
    }
    let t = t.borrow();
    Ok((i..=j).map(|k| t.get(&Value::Num(k as f64))).collect())
}

fn loadstring(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let src = check_str(exec, &args, 1)?;
    let name = opt_str(exec, &args, 2, &src)?;
    compile(exec, &src, &name)
}

/// `load(reader [, name])`: the chunk is what `reader` returns, piece by
/// piece, until it returns nil or an empty string.
fn load(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let reader = arg(&args, 1);
    if !matches!(reader, Value::Function(_)) {
        return Err(type_error(exec, &args, 1, "function"));
    }
    let name = opt_str(exec, &args, 2, b"=(load)")?;
    let mut src = Vec::new();
    loop {
        let piece = exec
            .call(&reader, Vec::new())?
            .into_iter()
            .next()
            .unwrap_or_default();
        match piece {
            Value::Nil => break,
            Value::Str(s) if s.is_empty() => break,
            Value::Str(s) => {
                exec.check_alloc(src.len() + s.len())?;
                src.extend_from_slice(&s);
            }
            _ => {
                return Ok(vec![
                    Value::Nil,
                    Value::str(b"reader function must return a string"),
                ]);
            }
        }
    }
    compile(exec, &src, &name)
}

/// A chunk compiled, or nil and the message.
fn compile(exec: &mut Exec<'_>, src: &[u8], name: &[u8]) -> NativeResult {
    match exec.lua.load(src, &chunk_id(name)) {
        Ok(f) => one(f),
        Err(e) => Ok(vec![Value::Nil, e.value]),
    }
}

/// What messages call a chunk named `name` (Lua's `luaO_chunkid`): the rest
/// of a name starting with `=` or `@`, else `[string "…"]` with its first
/// line, shortened as Lua shortens it.
fn chunk_id(name: &[u8]) -> Vec<u8> {
    const ROOM: usize = 60 - 15;
    if let Some(rest) = name.strip_prefix(b"=").or_else(|| name.strip_prefix(b"@")) {
        return rest.to_vec();
    }
    let src = name;
    let line_end = src.iter().position(|&c| c == b'\n' || c == b'\r');
    let mut first = &src[..line_end.unwrap_or(src.len())];
    let cut = line_end.is_some() || first.len() > ROOM;
    if first.len() > ROOM {
        first = &first[..ROOM];
    }
    let mut out = b"[string \"".to_vec();
    out.extend_from_slice(first);
    if cut {
        out.extend_from_slice(b"...");
    }
    out.extend_from_slice(b"\"]");
    out
}

fn gcinfo(exec: &mut Exec<'_>, _args: Vec<Value>) -> NativeResult {
    one(Value::Num((exec.lua.allocated() / 1024) as f64))
}

fn collectgarbage(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let option = opt_str(exec, &args, 1, b"collect")?;
    match &*option {
        b"count" => one(Value::Num(exec.lua.allocated() as f64 / 1024.0)),
        b"collect" | b"stop" | b"restart" | b"step" | b"setpause" | b"setstepmul" => {
            one(Value::Num(0.0))
        }
        _ => Err(arg_error(
            exec,
            1,
            &format!("invalid option '{}'", String::from_utf8_lossy(&option)),
        )),
    }
}
