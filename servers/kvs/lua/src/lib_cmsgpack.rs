//! The `cmsgpack` library Redis embeds (lua_cmsgpack): MessagePack
//! encoding of Lua values, as Redis 7.0's copy does it.
//!
//! `pack(...)` encodes each argument and concatenates them: integers (a
//! number a 64-bit integer holds exactly) in the shortest form, other
//! numbers as a float if one holds them exactly, else as a double;
//! strings as str (fixstr, str8, str16, str32); a table whose keys are
//! exactly 1..n as an array (the empty table too), any other as a map;
//! nil, functions and userdata (`cjson.null` included) as nil. Tables
//! nested 16 deep are encoded as nil (which also stops a table that holds
//! itself). `unpack(s)` decodes every value in `s`; `unpack_one(s [,
//! offset])` one value and `unpack_limit(s, limit [, offset])` up to
//! `limit` values, each returning first the offset to resume from (-1 at
//! the end). Decoding reads nil, booleans, every integer and float
//! format, str8/16/32 and fixstr, arrays and maps; bin and ext types are
//! "Bad data format in input."; a short input "Missing bytes in input.".
//! uint64 values decode through a signed 64-bit integer (so 2^64-1 is -1),
//! as Redis's does.
//!
//! Known differences from Redis 7.0's: decoding refuses containers nested
//! more than 1000 deep (Redis's limit is its Lua stack, a few thousand
//! levels) with the message Redis gives when it runs out; the limit on the
//! number of values returned (7999) is counted at the top level only. The
//! order of a map's entries follows our tables' traversal order.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::exec::Exec;
use crate::format::c_double_to_i64;
use crate::lib_base::{arg_error, check_int, check_str, native_error, opt_int};
use crate::lib_struct::{C_STACK, grow};
use crate::value::{NativeResult, TableRef, Value};
use crate::{Error, Lua};

/// Tables nested this deep are packed as nil.
const MAX_PACK_NESTING: usize = 16;
/// How deep unpacked containers may nest.
const MAX_UNPACK_NESTING: usize = 1000;

pub(crate) fn open(lua: &mut Lua) {
    let functions: [(&'static str, crate::NativeFn); 4] = [
        ("pack", pack),
        ("unpack", unpack),
        ("unpack_one", unpack_one),
        ("unpack_limit", unpack_limit),
    ];
    let t = lua.new_table();
    for (name, f) in functions {
        let v = lua.native(name, f);
        let _ = t.borrow_mut().set(Value::str(name.as_bytes()), v);
    }
    lua.set_global("cmsgpack", Value::Table(t));
}

// Packing.

fn pack(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    if args.is_empty() {
        return Err(arg_error(exec, 0, "MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for v in &args {
        encode(exec, v, 0, &mut out)?;
    }
    Ok(vec![Value::Str(out.into())])
}

/// Whether `n` is an integer a C `int` holds (the cast gives it back).
fn is_int(n: f64) -> bool {
    n.is_finite() && (-2_147_483_648.0..2_147_483_648.0).contains(&n) && n == (n as i32 as f64)
}

fn encode(exec: &mut Exec<'_>, v: &Value, level: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    grow(exec, out, 9)?;
    match v {
        Value::Str(s) => {
            let len = s.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.extend_from_slice(&[0xd9, len as u8]);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            grow(exec, out, len)?;
            out.extend_from_slice(s);
        }
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Num(n) => encode_number(*n, out),
        Value::Table(t) if level < MAX_PACK_NESTING => encode_table(exec, t, level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    if n.is_finite() && c_double_to_i64(n) as f64 == n {
        encode_int(c_double_to_i64(n), out);
    } else if f64::from(n as f32) == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A container header: `fix` with the count if under 16, else the 16- or
/// 32-bit form.
fn header(fix: u8, wide: u8, n: usize, out: &mut Vec<u8>) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_table(
    exec: &mut Exec<'_>,
    t: &TableRef,
    level: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let entries: Vec<(Value, Value)> = t.borrow().entries().collect();
    // An array: only keys 1..n (the int-valued positive numbers, as many
    // as the largest).
    let mut max: i64 = 0;
    let mut array = true;
    for (k, _) in &entries {
        match k {
            Value::Num(n) if *n > 0.0 && is_int(*n) => max = max.max(*n as i64),
            _ => {
                array = false;
                break;
            }
        }
    }
    if array && max == entries.len() as i64 {
        header(0x90, 0xdc, entries.len(), out);
        for i in 1..=entries.len() {
            let v = t.borrow().get(&Value::Num(i as f64));
            encode(exec, &v, level + 1, out)?;
        }
    } else {
        header(0x80, 0xde, entries.len(), out);
        for (k, v) in &entries {
            encode(exec, k, level + 1, out)?;
            encode(exec, v, level + 1, out)?;
        }
    }
    Ok(())
}

// Unpacking.

enum Fault {
    /// The input ends inside a value.
    Eof,
    /// A byte that starts no value this library reads.
    Format,
    /// A Lua error (a nil or NaN map key, nesting too deep).
    Lua(Error),
}

/// A container being filled: its table, how many items (keys and values
/// for a map) are still to come, and the next array index or the key
/// waiting for its value.
struct Open {
    table: TableRef,
    left: u64,
    map: bool,
    index: f64,
    key: Option<Value>,
}

/// What one step of decoding read: a value, or the start of a container.
enum Item {
    Value(Value),
    Array(u64),
    Map(u64),
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    /// `n` bytes from the cursor (after `skip`), consumed with the
    /// `skip`.
    fn take(&mut self, skip: usize, n: usize) -> Result<&[u8], Fault> {
        let total = skip.checked_add(n).ok_or(Fault::Eof)?;
        if self.left() < total {
            return Err(Fault::Eof);
        }
        let start = self.pos + skip;
        self.pos += total;
        Ok(&self.data[start..start + n])
    }

    /// A big-endian unsigned integer of `n` bytes after the type byte.
    fn uint(&mut self, n: usize) -> Result<u64, Fault> {
        Ok(self
            .take(1, n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A string whose length takes `n` bytes after the type byte.
    fn string(&mut self, n: usize) -> Result<Item, Fault> {
        if self.left() < 1 + n {
            return Err(Fault::Eof);
        }
        let len = self.uint(n)?;
        self.pos -= 1 + n;
        let len = usize::try_from(len).map_err(|_| Fault::Eof)?;
        Ok(Item::Value(Value::str(self.take(1 + n, len)?)))
    }

    fn item(&mut self) -> Result<Item, Fault> {
        let Some(&byte) = self.data.get(self.pos) else {
            return Err(Fault::Eof);
        };
        let num = |x: f64| Ok(Item::Value(Value::Num(x)));
        match byte {
            0xcc => num(self.uint(1)? as f64),
            0xcd => num(self.uint(2)? as f64),
            0xce => num(self.uint(4)? as f64),
            0xcf => num(self.uint(8)? as i64 as f64),
            0xd0 => num(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => num(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => num(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => num(self.uint(8)? as i64 as f64),
            0xc0 => {
                self.pos += 1;
                Ok(Item::Value(Value::Nil))
            }
            0xc2 | 0xc3 => {
                self.pos += 1;
                Ok(Item::Value(Value::Bool(byte == 0xc3)))
            }
            0xca => num(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => num(f64::from_bits(self.uint(8)?)),
            0xd9 => self.string(1),
            0xda => self.string(2),
            0xdb => self.string(4),
            0xdc => Ok(Item::Array(self.uint(2)?)),
            0xdd => Ok(Item::Array(self.uint(4)?)),
            0xde => Ok(Item::Map(self.uint(2)?)),
            0xdf => Ok(Item::Map(self.uint(4)?)),
            _ if byte & 0x80 == 0 => {
                self.pos += 1;
                num(f64::from(byte))
            }
            _ if byte & 0xe0 == 0xe0 => {
                self.pos += 1;
                num(f64::from(byte as i8))
            }
            _ if byte & 0xe0 == 0xa0 => {
                let len = usize::from(byte & 0x1f);
                Ok(Item::Value(Value::str(self.take(1, len)?)))
            }
            _ if byte & 0xf0 == 0x90 => {
                self.pos += 1;
                Ok(Item::Array(u64::from(byte & 0x0f)))
            }
            _ if byte & 0xf0 == 0x80 => {
                self.pos += 1;
                Ok(Item::Map(u64::from(byte & 0x0f)))
            }
            _ => Err(Fault::Format),
        }
    }
}

/// Decodes one value at the cursor (its containers without recursion).
fn decode(exec: &mut Exec<'_>, c: &mut Cursor<'_>) -> Result<Value, Fault> {
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let start = c.pos;
        let mut value = match c.item()? {
            Item::Value(v) => v,
            Item::Array(_) | Item::Map(_) if stack.len() >= MAX_UNPACK_NESTING => {
                return Err(Fault::Lua(nesting_error(exec, c.data[start])));
            }
            Item::Array(0) => Value::Table(exec.lua.new_table()),
            Item::Map(0) => Value::Table(exec.lua.new_table()),
            Item::Array(n) => {
                stack.push(Open {
                    table: exec.lua.new_table(),
                    left: n,
                    map: false,
                    index: 1.0,
                    key: None,
                });
                continue;
            }
            Item::Map(n) => {
                stack.push(Open {
                    table: exec.lua.new_table(),
                    left: n.saturating_mul(2),
                    map: true,
                    index: 0.0,
                    key: None,
                });
                continue;
            }
        };
        // Store the value in the containers it completes.
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(value);
            };
            if top.map {
                match top.key.take() {
                    None => top.key = Some(value),
                    Some(key) => {
                        top.table
                            .borrow_mut()
                            .set(key, value)
                            .map_err(|e| Fault::Lua(Error::message(e.message().as_bytes())))?;
                    }
                }
            } else {
                let _ = top.table.borrow_mut().set(Value::Num(top.index), value);
                top.index += 1.0;
            }
            top.left -= 1;
            if top.left > 0 {
                break;
            }
            value = match stack.pop() {
                Some(done) => Value::Table(done.table),
                None => Value::Nil,
            };
        }
    }
}

/// What Redis's stack check says when containers nest too deep.
fn nesting_error(exec: &Exec<'_>, byte: u8) -> Error {
    if byte == 0xdc || byte == 0xdd || byte & 0xf0 == 0x90 {
        native_error(exec, "stack overflow (in function mp_decode_to_lua_array)")
    } else {
        native_error(
            exec,
            "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
        )
    }
}

/// Decodes up to `limit` values from `offset` (every value if both are
/// 0); unless decoding every value, the offset to resume from (-1 at the
/// end) comes first.
fn unpack_full(exec: &mut Exec<'_>, s: &[u8], limit: i64, offset: i64) -> NativeResult {
    let len = s.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(native_error(
            exec,
            &format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        ));
    }
    if offset as u64 > len as u64 {
        return Err(native_error(
            exec,
            &format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        ));
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cursor {
        data: s,
        pos: offset as usize,
    };
    let mut results = Vec::new();
    while c.left() > 0 && (results.len() as i64) < limit {
        if results.len() + 2 > C_STACK {
            return Err(native_error(
                exec,
                "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
            ));
        }
        match decode(exec, &mut c) {
            Ok(v) => results.push(v),
            Err(Fault::Eof) => return Err(native_error(exec, "Missing bytes in input.")),
            Err(Fault::Format) => return Err(native_error(exec, "Bad data format in input.")),
            Err(Fault::Lua(e)) => return Err(e),
        }
    }
    if !decode_all {
        if results.len() + 2 > C_STACK {
            return Err(native_error(
                exec,
                "stack overflow (in function mp_unpack_full)",
            ));
        }
        let next = if c.left() == 0 { -1.0 } else { c.pos as f64 };
        results.insert(0, Value::Num(next));
    }
    Ok(results)
}

fn unpack(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let s = check_str(exec, &args, 1)?;
    unpack_full(exec, &s, 0, 0)
}

fn unpack_one(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let offset = opt_int(exec, &args, 2, 0)?;
    let s = check_str(exec, &args, 1)?;
    unpack_full(exec, &s, 1, offset)
}

fn unpack_limit(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let limit = check_int(exec, &args, 2)?;
    let offset = opt_int(exec, &args, 3, 0)?;
    let s = check_str(exec, &args, 1)?;
    unpack_full(exec, &s, limit, offset)
}
