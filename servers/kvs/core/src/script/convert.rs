//! Values across the script boundary, by Redis 7.0's rules: a command's
//! reply into Lua (RESP2's types, or RESP3's after `redis.setresp(3)`), a
//! script's result or error out of it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lua::{Lua, TableRef, Value};

use crate::reply::Reply;

/// How deep a returned table may nest before its conversion stops (a
/// table that holds itself would never end); Redis's limit is its Lua
/// stack's, deeper, but each level here is a frame on the store's machine
/// stack.
const MAX_DEPTH: usize = 200;

fn key(name: &str) -> Value {
    Value::str(name.as_bytes())
}

/// `{err = text}`.
pub(super) fn error_table(lua: &mut Lua, text: &[u8]) -> Value {
    let t = lua.new_table();
    let _ = t.borrow_mut().set(key("err"), Value::str(text));
    Value::Table(t)
}

/// A table with `field = value`.
fn tagged(lua: &mut Lua, field: &str, value: Value) -> Value {
    let t = lua.new_table();
    let _ = t.borrow_mut().set(key(field), value);
    Value::Table(t)
}

fn list(lua: &mut Lua, items: Vec<Value>) -> Value {
    let mut t = lua.sized_table(items.len(), 0);
    for (i, item) in items.into_iter().enumerate() {
        let _ = t.set(Value::Num((i + 1) as f64), item);
    }
    lua.wrap(t)
}

/// A double reply's text as a number (`inf`, `-inf` and `nan` included).
fn number(text: &str) -> f64 {
    crate::num::parse_f64(text.as_bytes()).unwrap_or(f64::NAN)
}

/// A command's reply as the script sees it. RESP2: integers are numbers,
/// bulk strings strings, a nil false, an array a list, a status `{ok=…}`;
/// doubles, maps and sets as RESP2 writes them. RESP3 adds nil for a nil,
/// `{double=…}`, `{map={…}}`, `{set={member=true}}` and booleans.
pub(super) fn to_lua(lua: &mut Lua, reply: Reply, resp3: bool) -> Value {
    if !resp3 {
        return resp2(lua, reply.into_resp2());
    }
    match reply {
        Reply::Bulk(None) | Reply::Array(None) => Value::Nil,
        Reply::Double(text) => tagged(lua, "double", Value::Num(number(&text))),
        Reply::Bool(b) => Value::Bool(b),
        Reply::BigNumber(text) => tagged(lua, "big_number", Value::str(text.as_bytes())),
        Reply::Verbatim(format, text) => {
            let t = lua.new_table();
            let _ = t.borrow_mut().set(key("format"), Value::str(&format));
            let _ = t.borrow_mut().set(key("string"), Value::str(&text));
            tagged(lua, "verbatim_string", Value::Table(t))
        }
        Reply::Map(pairs) | Reply::Keyed(pairs) => {
            let t = lua.new_table();
            for (k, v) in pairs {
                let k = to_lua(lua, k, true);
                let v = to_lua(lua, v, true);
                let _ = t.borrow_mut().set(k, v);
            }
            tagged(lua, "map", Value::Table(t))
        }
        Reply::Set(items) => {
            let t = lua.new_table();
            for item in items {
                let k = to_lua(lua, item, true);
                let _ = t.borrow_mut().set(k, Value::Bool(true));
            }
            tagged(lua, "set", Value::Table(t))
        }
        Reply::Pairs(pairs) => {
            let items = pairs
                .into_iter()
                .map(|(a, b)| {
                    let a = to_lua(lua, a, true);
                    let b = to_lua(lua, b, true);
                    list(lua, alloc::vec![a, b])
                })
                .collect();
            list(lua, items)
        }
        Reply::Array(Some(items)) => {
            let items = items.into_iter().map(|r| to_lua(lua, r, true)).collect();
            list(lua, items)
        }
        other => resp2(lua, other),
    }
}

/// A reply already in RESP2's types.
fn resp2(lua: &mut Lua, reply: Reply) -> Value {
    match reply {
        Reply::Simple(s) => tagged(lua, "ok", Value::str(s.as_bytes())),
        Reply::Error(s) => error_table(lua, s.as_bytes()),
        Reply::Integer(n) => Value::Num(n as f64),
        Reply::Bulk(Some(b)) => Value::str(&b),
        Reply::Bulk(None) | Reply::Array(None) => Value::Bool(false),
        Reply::Array(Some(items)) => {
            let items = items.into_iter().map(|r| resp2(lua, r)).collect();
            list(lua, items)
        }
        // `into_resp2` left only the types above.
        other => resp2(lua, other.into_resp2()),
    }
}

/// A string field of a table (raw), if it is one.
fn string_field(t: &TableRef, name: &str) -> Option<alloc::rc::Rc<[u8]>> {
    match t.borrow().get(&key(name)) {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a script returned, as the reply: numbers truncated to integers
/// (as C casts them), strings as bulk strings, nil (and false, unless the
/// script said `setresp(3)`) as a nil, true as 1; a table by the first of
/// its fields `err`, `ok`, `double`, `big_number`, `verbatim_string`,
/// `map`, `set` that has the right type, else as the list up to its first
/// nil.
pub(super) fn to_reply(v: &Value, resp3: bool) -> Reply {
    reply_at(v, resp3, 0)
}

fn reply_at(v: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match v {
        // C's `(long long)` cast.
        Value::Num(n) => Reply::Integer(lua::c_double_to_i64(*n)),
        Value::Str(s) => Reply::Bulk(Some(s.to_vec())),
        Value::Bool(true) if resp3 => Reply::Bool(true),
        Value::Bool(true) => Reply::Integer(1),
        Value::Bool(false) if resp3 => Reply::Bool(false),
        Value::Table(t) => table_reply(t, resp3, depth),
        _ => Reply::nil(),
    }
}

fn table_reply(t: &TableRef, resp3: bool, depth: usize) -> Reply {
    if let Some(err) = string_field(t, "err") {
        return Reply::Error(text(&err));
    }
    if let Some(ok) = string_field(t, "ok") {
        return Reply::Simple(text(&ok).into());
    }
    let field = |name: &str| t.borrow().get(&key(name));
    if let Value::Num(d) = field("double") {
        return Reply::Double(text(&lua::format_g(d, 17)));
    }
    if let Some(n) = string_field(t, "big_number") {
        return Reply::BigNumber(text(&n));
    }
    if let Value::Table(v) = field("verbatim_string")
        && let (Some(format), Some(s)) = (string_field(&v, "format"), string_field(&v, "string"))
    {
        // Cut or padded to the three bytes RESP3 gives a format.
        let mut f = [b' '; 3];
        for (slot, b) in f.iter_mut().zip(format.iter()) {
            *slot = *b;
        }
        return Reply::Verbatim(f, s.to_vec());
    }
    if let Value::Table(m) = field("map") {
        let pairs = m
            .borrow()
            .entries()
            .map(|(k, v)| {
                (
                    reply_at(&k, resp3, depth + 1),
                    reply_at(&v, resp3, depth + 1),
                )
            })
            .collect();
        return Reply::Map(pairs);
    }
    if let Value::Table(s) = field("set") {
        let items = s
            .borrow()
            .entries()
            .map(|(k, _)| reply_at(&k, resp3, depth + 1))
            .collect();
        return Reply::Set(items);
    }
    let mut items = Vec::new();
    let t = t.borrow();
    for i in 1.. {
        let v = t.get_int(i);
        if v.is_nil() {
            break;
        }
        items.push(reply_at(&v, resp3, depth + 1));
    }
    Reply::array(items)
}

/// What a script that raised `e` is told, before where: its `err` string
/// as it is (a number will do here, unlike in a returned table), or `ERR`
/// and the value as `tostring` shows it.
pub(super) fn message(e: &lua::Error) -> String {
    let err = match &e.value {
        Value::Table(t) => t.borrow().get(&key("err")).to_bytes(),
        _ => None,
    };
    match (&e.value, err) {
        (_, Some(err)) => text(&err),
        (Value::Nil, _) => String::from("ERR nil"),
        (Value::Bool(b), _) => format!("ERR {b}"),
        (Value::Num(_) | Value::Str(_), _) => format!("ERR {}", text(&e.text())),
        (other, _) => format!("ERR {}: {:#x}", other.type_name(), other.address()),
    }
}

/// The reply to a script (or function, `name` being its SHA1 or name) that
/// raised `e`: its [`message`], then where it was raised: ` script:
/// <name>, on @user_script:<line>.`
pub(super) fn raised(e: &lua::Error, name: &[u8]) -> Reply {
    let (chunk, line) = match &e.at {
        Some((chunk, line)) if &chunk[..] == b"user_script" || &chunk[..] == b"user_function" => {
            (format!("@{}", text(chunk)), *line)
        }
        Some((chunk, line)) => (text(chunk), *line),
        None => (String::from("@user_script"), 0),
    };
    Reply::Error(format!(
        "{} script: {}, on {chunk}:{line}.",
        message(e),
        text(name)
    ))
}
