//! The `cjson` library Redis embeds (lua-cjson 2.1.0): JSON encoding and
//! decoding, with its configuration functions, as Redis 7.0's copy does
//! it.
//!
//! `encode(v)`: nil and `cjson.null` as `null`, numbers with `%.14g`
//! (`encode_number_precision`), strings with `"`, `\`, `/` and control
//! bytes (and 0x7f) escaped and other bytes as they are; a table whose keys
//! are all positive integers as an array (holes as `null`; an excessively
//! sparse one, `encode_sparse_array`, an error or an object), any other as
//! an object whose number keys become strings. NaN and the infinities are
//! an error unless `encode_invalid_numbers` allows them (`nan`, `inf`) or
//! makes them `null`. Nesting deeper than `encode_max_depth` (1000) is an
//! error, which also stops a table that holds itself.
//!
//! `decode(s)`: JSON to Lua, `null` as `cjson.null` (a light userdata), with
//! lua-cjson's parse errors ("Expected object key string but found T_END at
//! character 2"). As in lua-cjson, a number is what C's `strtod` reads, and
//! with `decode_invalid_numbers` on (the default) that includes hex, `+1`,
//! leading zeros, `inf` and `nan`; a zero byte ends the input; strings are
//! not checked for valid UTF-8. Nesting deeper than `decode_max_depth`
//! (1000) is an error.
//!
//! The configuration (`encode_max_depth`, `decode_max_depth`,
//! `encode_number_precision`, `encode_sparse_array`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`) lasts as long as the
//! interpreter, as it lasts for the server's life in Redis.
//!
//! Known differences from Redis 7.0's: an object's keys come out in our
//! tables' traversal order (insertion order), not Redis's hash order;
//! `encode_keep_buffer` only records its setting; a hex number with more
//! than 15 significant digits may round differently from glibc's `strtod`;
//! `tostring(cjson.null)` is the base library's `userdata: 0x0` where Redis
//! prints `userdata: (nil)`.

use alloc::format;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::exec::Exec;
use crate::format::{Flags, Spec};
use crate::lib_base::{arg, arg_error, check_int, check_str, native_error};
use crate::lib_struct::grow;
use crate::value::{Function, NativeFn, NativeResult, TableRef, Value};
use crate::{Error, Lua};

/// The configuration, kept in a table of numbers (1..=9) the functions
/// share as their bound state.
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: i64,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    precision: i64,
    keep_buffer: i64,
    /// 0: an error; 1: `nan`/`inf`; 2: `null`.
    encode_invalid: i64,
    decode_invalid: i64,
}

const DEFAULTS: Config = Config {
    sparse_convert: 0,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    precision: 14,
    keep_buffer: 1,
    encode_invalid: 0,
    decode_invalid: 1,
};

impl Config {
    fn fields(&mut self) -> [&mut i64; 9] {
        [
            &mut self.sparse_convert,
            &mut self.sparse_ratio,
            &mut self.sparse_safe,
            &mut self.encode_max_depth,
            &mut self.decode_max_depth,
            &mut self.precision,
            &mut self.keep_buffer,
            &mut self.encode_invalid,
            &mut self.decode_invalid,
        ]
    }

    fn load(state: &Value) -> Config {
        let mut cfg = DEFAULTS;
        if let Value::Table(t) = state {
            let t = t.borrow();
            for (i, f) in cfg.fields().into_iter().enumerate() {
                if let Value::Num(n) = t.get(&Value::Num((i + 1) as f64)) {
                    *f = n as i64;
                }
            }
        }
        cfg
    }

    fn save(mut self, state: &Value) {
        if let Value::Table(t) = state {
            let mut t = t.borrow_mut();
            for (i, f) in self.fields().into_iter().enumerate() {
                let _ = t.set(Value::Num((i + 1) as f64), Value::Num(*f as f64));
            }
        }
    }
}

pub(crate) fn open(lua: &mut Lua) {
    let functions: [(&'static str, NativeFn); 9] = [
        ("encode", encode),
        ("decode", decode),
        ("encode_keep_buffer", encode_keep_buffer),
        ("encode_max_depth", encode_max_depth),
        ("decode_max_depth", decode_max_depth),
        ("encode_number_precision", encode_number_precision),
        ("encode_sparse_array", encode_sparse_array),
        ("encode_invalid_numbers", encode_invalid_numbers),
        ("decode_invalid_numbers", decode_invalid_numbers),
    ];
    // Not tracked for collection: only these functions reach it.
    let state = Value::Table(Rc::new(RefCell::new(lua.sized_table(9, 0))));
    DEFAULTS.save(&state);
    let t = lua.new_table();
    for (name, run) in functions {
        let f = Value::Function(Rc::new(Function::Bound {
            name,
            run,
            state: state.clone(),
        }));
        let _ = t.borrow_mut().set(Value::str(name.as_bytes()), f);
    }
    let _ = t.borrow_mut().set(Value::str(b"null"), Value::Light(0));
    lua.set_global("cjson", Value::Table(t));
}

// Configuration.

/// Takes the bound state off the arguments; refuses more than `n` left.
fn config_args(exec: &Exec<'_>, args: &mut Vec<Value>, n: usize) -> Result<Value, Error> {
    let state = if args.is_empty() {
        Value::Nil
    } else {
        args.remove(0)
    };
    if args.len() > n {
        return Err(arg_error(exec, n + 1, "found too many arguments"));
    }
    Ok(state)
}

/// An option that is a boolean, or one of `options` by name (the first
/// two are false and true).
fn enum_option(
    exec: &Exec<'_>,
    args: &[Value],
    n: usize,
    setting: &mut i64,
    options: &[&str],
) -> Result<Value, Error> {
    match arg(args, n) {
        Value::Nil => {}
        Value::Bool(b) => *setting = i64::from(b),
        _ => {
            let name = check_str(exec, args, n)?;
            match options.iter().position(|o| o.as_bytes() == &*name) {
                Some(i) => *setting = i as i64,
                None => {
                    return Err(arg_error(
                        exec,
                        n,
                        &format!(
                            "invalid option '{}'",
                            alloc::string::String::from_utf8_lossy(&name)
                        ),
                    ));
                }
            }
        }
    }
    Ok(if *setting <= 1 {
        Value::Bool(*setting == 1)
    } else {
        Value::str(options[*setting as usize].as_bytes())
    })
}

/// An integer option in `min..=max` (lua-cjson names argument 1 in its
/// range error, whichever it checks).
fn integer_option(
    exec: &Exec<'_>,
    args: &[Value],
    n: usize,
    setting: &mut i64,
    min: i64,
    max: i64,
) -> Result<Value, Error> {
    if !arg(args, n).is_nil() {
        let v = i64::from(check_int(exec, args, n)? as i32);
        if v < min || v > max {
            return Err(arg_error(
                exec,
                1,
                &format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = v;
    }
    Ok(Value::Num(*setting as f64))
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

fn encode_keep_buffer(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    let state = config_args(exec, &mut args, 1)?;
    let mut cfg = Config::load(&state);
    let v = enum_option(exec, &args, 1, &mut cfg.keep_buffer, BOOL_OPTIONS)?;
    cfg.save(&state);
    Ok(vec![v])
}

/// A configuration function that sets one integer field (`lo..=hi`)
/// and returns it.
fn integer_setting(
    exec: &mut Exec<'_>,
    mut args: Vec<Value>,
    field: fn(&mut Config) -> &mut i64,
    lo: i64,
    hi: i64,
) -> NativeResult {
    let state = config_args(exec, &mut args, 1)?;
    let mut cfg = Config::load(&state);
    let v = integer_option(exec, &args, 1, field(&mut cfg), lo, hi)?;
    cfg.save(&state);
    Ok(vec![v])
}

fn encode_max_depth(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    integer_setting(exec, args, |c| &mut c.encode_max_depth, 1, i32::MAX.into())
}

fn decode_max_depth(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    integer_setting(exec, args, |c| &mut c.decode_max_depth, 1, i32::MAX.into())
}

fn encode_number_precision(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    integer_setting(exec, args, |c| &mut c.precision, 1, 14)
}

fn encode_sparse_array(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    let state = config_args(exec, &mut args, 3)?;
    let mut cfg = Config::load(&state);
    let convert = enum_option(exec, &args, 1, &mut cfg.sparse_convert, BOOL_OPTIONS)?;
    let max = i32::MAX.into();
    let ratio = integer_option(exec, &args, 2, &mut cfg.sparse_ratio, 0, max)?;
    let safe = integer_option(exec, &args, 3, &mut cfg.sparse_safe, 0, max)?;
    cfg.save(&state);
    Ok(vec![convert, ratio, safe])
}

fn encode_invalid_numbers(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    let state = config_args(exec, &mut args, 1)?;
    let mut cfg = Config::load(&state);
    let v = enum_option(
        exec,
        &args,
        1,
        &mut cfg.encode_invalid,
        &["off", "on", "null"],
    )?;
    cfg.save(&state);
    Ok(vec![v])
}

fn decode_invalid_numbers(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    let state = config_args(exec, &mut args, 1)?;
    let mut cfg = Config::load(&state);
    let v = enum_option(exec, &args, 1, &mut cfg.decode_invalid, BOOL_OPTIONS)?;
    cfg.save(&state);
    Ok(vec![v])
}

// Encoding.

/// A table being written: an array's next index, or an object's entries
/// and the next of them.
enum Frame {
    Array {
        t: TableRef,
        len: usize,
        i: usize,
    },
    Object {
        entries: Vec<(Value, Value)>,
        i: usize,
    },
}

struct Encoder {
    cfg: Config,
    out: Vec<u8>,
    stack: Vec<Frame>,
}

/// `Cannot serialise <type>: <reason>`.
fn cannot(exec: &Exec<'_>, v: &Value, reason: &str) -> Error {
    native_error(
        exec,
        &format!("Cannot serialise {}: {reason}", v.type_name()),
    )
}

/// The state an encoder or decoder is bound to (its first argument), and
/// a check that exactly one argument follows it.
fn bound_state(exec: &Exec<'_>, args: &mut Vec<Value>) -> Result<Value, Error> {
    let state = if args.is_empty() {
        Value::Nil
    } else {
        args.remove(0)
    };
    if args.len() != 1 {
        return Err(arg_error(exec, 1, "expected 1 argument"));
    }
    Ok(state)
}

fn encode(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    let state = bound_state(exec, &mut args)?;
    let mut enc = Encoder {
        cfg: Config::load(&state),
        out: Vec::new(),
        stack: Vec::new(),
    };
    encode_value(exec, &mut enc, &args[0])?;
    loop {
        // The next value to write, with its key or separator written.
        let next = match enc.stack.last_mut() {
            None => break,
            Some(Frame::Array { t, len, i }) => {
                if *i == *len {
                    None
                } else {
                    *i += 1;
                    let v = t.borrow().get(&Value::Num(*i as f64));
                    Some((None, v, *i > 1))
                }
            }
            Some(Frame::Object { entries, i }) => {
                if *i == entries.len() {
                    None
                } else {
                    *i += 1;
                    let (k, v) = entries[*i - 1].clone();
                    Some((Some(k), v, *i > 1))
                }
            }
        };
        let Some((key, value, comma)) = next else {
            let close = match enc.stack.pop() {
                Some(Frame::Array { .. }) => b']',
                _ => b'}',
            };
            grow(exec, &mut enc.out, 1)?;
            enc.out.push(close);
            continue;
        };
        if comma {
            grow(exec, &mut enc.out, 1)?;
            enc.out.push(b',');
        }
        match &key {
            None => {}
            Some(Value::Num(n)) => {
                grow(exec, &mut enc.out, 1)?;
                enc.out.push(b'"');
                append_number(exec, &mut enc, *n)?;
                grow(exec, &mut enc.out, 2)?;
                enc.out.extend_from_slice(b"\":");
            }
            Some(Value::Str(s)) => {
                append_string(exec, &mut enc.out, s)?;
                grow(exec, &mut enc.out, 1)?;
                enc.out.push(b':');
            }
            Some(other) => {
                return Err(cannot(exec, other, "table key must be a number or string"));
            }
        }
        encode_value(exec, &mut enc, &value)?;
    }
    Ok(vec![Value::Str(enc.out.into())])
}

/// Writes a value, or opens a table (its items follow from the stack).
fn encode_value(exec: &mut Exec<'_>, enc: &mut Encoder, v: &Value) -> Result<(), Error> {
    match v {
        Value::Str(s) => append_string(exec, &mut enc.out, s),
        Value::Num(n) => append_number(exec, enc, *n),
        Value::Bool(b) => {
            let text: &[u8] = if *b { b"true" } else { b"false" };
            grow(exec, &mut enc.out, text.len())?;
            enc.out.extend_from_slice(text);
            Ok(())
        }
        Value::Nil | Value::Light(0) => {
            grow(exec, &mut enc.out, 4)?;
            enc.out.extend_from_slice(b"null");
            Ok(())
        }
        Value::Table(t) => {
            let depth = enc.stack.len() + 1;
            if depth as i64 > enc.cfg.encode_max_depth {
                return Err(native_error(
                    exec,
                    &format!("Cannot serialise, excessive nesting ({depth})"),
                ));
            }
            let len = array_length(exec, &enc.cfg, t, v)?;
            grow(exec, &mut enc.out, 1)?;
            if len > 0 {
                enc.out.push(b'[');
                enc.stack.push(Frame::Array {
                    t: t.clone(),
                    len: len as usize,
                    i: 0,
                });
            } else {
                enc.out.push(b'{');
                let entries = t.borrow().entries().collect();
                enc.stack.push(Frame::Object { entries, i: 0 });
            }
            Ok(())
        }
        other => Err(cannot(exec, other, "type not supported")),
    }
}

/// C's `(int)x` on x86: `i32::MIN` for what does not fit.
fn c_int(x: f64) -> i32 {
    if (-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        x as i32
    } else {
        i32::MIN
    }
}

/// The length to write a table as an array with, or -1 (or 0, empty) for
/// an object; an error for an excessively sparse array unless configured
/// to write it as an object.
fn array_length(exec: &Exec<'_>, cfg: &Config, t: &TableRef, v: &Value) -> Result<i32, Error> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    for (k, _) in t.borrow().entries() {
        match k {
            Value::Num(k) if k != 0.0 && libm::floor(k) == k && k >= 1.0 => {
                if k > f64::from(max) {
                    max = c_int(k);
                }
                items = items.wrapping_add(1);
            }
            _ => return Ok(-1),
        }
    }
    let ratio = cfg.sparse_ratio as i32;
    if ratio > 0 && max > items.wrapping_mul(ratio) && i64::from(max) > cfg.sparse_safe {
        if cfg.sparse_convert == 0 {
            return Err(cannot(exec, v, "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

fn append_number(exec: &mut Exec<'_>, enc: &mut Encoder, n: f64) -> Result<(), Error> {
    if !n.is_finite() {
        match enc.cfg.encode_invalid {
            0 => {
                return Err(cannot(exec, &Value::Num(n), "must not be NaN or Inf"));
            }
            1 if n.is_nan() => {
                grow(exec, &mut enc.out, 3)?;
                enc.out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {}
            _ => {
                grow(exec, &mut enc.out, 4)?;
                enc.out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    let spec = Spec {
        flags: Flags::default(),
        width: None,
        precision: Some(enc.cfg.precision.clamp(1, 14) as usize),
        conv: b'g',
    };
    grow(exec, &mut enc.out, 32)?;
    crate::format::float(&spec, n, &mut enc.out);
    Ok(())
}

fn append_string(exec: &mut Exec<'_>, out: &mut Vec<u8>, s: &[u8]) -> Result<(), Error> {
    grow(exec, out, s.len().saturating_mul(6).saturating_add(2))?;
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
    Ok(())
}

// Decoding.

enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A token that could not be read, and why.
    Error(&'static str),
}

impl Tok {
    /// What a parse error says was found.
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(why) => why,
        }
    }
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    decode_invalid: bool,
    /// Where the last token began (or where its error is).
    index: usize,
}

impl Parser<'_> {
    /// The byte at `i`, or 0 past the end (the C string's terminator).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error(&mut self, why: &'static str) -> Tok {
        self.index = self.pos;
        Tok::Error(why)
    }

    fn next(&mut self) -> Tok {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        self.index = self.pos;
        let c = self.at(self.pos);
        let single = match c {
            0 => return Tok::End,
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b':' => Tok::Colon,
            b',' => Tok::Comma,
            b'"' => return self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.decode_invalid && self.invalid_number() {
                    return self.error("invalid number");
                }
                return self.number();
            }
            _ => {
                let rest = &self.data[self.pos..];
                let (tok, len) = if rest.starts_with(b"true") {
                    (Tok::Bool(true), 4)
                } else if rest.starts_with(b"false") {
                    (Tok::Bool(false), 5)
                } else if rest.starts_with(b"null") {
                    (Tok::Null, 4)
                } else if self.decode_invalid && self.invalid_number() {
                    return self.number();
                } else {
                    return self.error("invalid token");
                };
                self.pos += len;
                return tok;
            }
        };
        self.pos += 1;
        single
    }

    /// Whether the number here is one strict JSON refuses but `strtod`
    /// would read: a leading `+` or zero, hex, `inf`, `nan`.
    fn invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..w.len()).all(|i| self.at(p + i).to_ascii_lowercase() == w[i]);
        word(b"inf") || word(b"nan")
    }

    fn number(&mut self) -> Tok {
        match strtod(&self.data[self.pos..]) {
            Some((x, len)) => {
                self.pos += len;
                Tok::Num(x)
            }
            None => self.error("invalid number"),
        }
    }

    fn string(&mut self) -> Tok {
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let c = self.at(self.pos);
            match c {
                b'"' => {
                    self.pos += 1;
                    return Tok::Str(s);
                }
                0 => return self.error("unexpected end of string"),
                b'\\' => {
                    let e = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            if !self.unicode_escape(&mut s) {
                                return self.error("invalid unicode escape code");
                            }
                            continue;
                        }
                        _ => return self.error("invalid escape code"),
                    };
                    s.push(e);
                    self.pos += 2;
                }
                _ => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Four hex digits at `i`.
    fn hex4(&self, i: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, k| {
            Some(acc * 16 + (self.at(i + k) as char).to_digit(16)?)
        })
    }

    /// `\uXXXX` (a surrogate pair as two) at the cursor, appended as UTF-8.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let Some(ch) = char::from_u32(cp) else {
            return false;
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        self.pos += len;
        true
    }
}

/// What C's `strtod` reads at the start of `s`: the number and how many
/// bytes it took, or `None` if it reads nothing. Decimal numbers round
/// correctly (as glibc's do); also `inf`, `infinity`, `nan`, `nan(...)`
/// and hex, with an optional sign.
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let negative = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |x: f64| if negative { -x } else { x };
    let word =
        |from: usize, w: &[u8]| (0..w.len()).all(|k| at(from + k).to_ascii_lowercase() == w[k]);
    if word(i, b"inf") {
        let end = if word(i + 3, b"inity") { i + 8 } else { i + 3 };
        return Some((sign(f64::INFINITY), end));
    }
    if word(i, b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Some((sign(f64::NAN), end));
    }
    if at(i) == b'0'
        && at(i + 1) | 0x20 == b'x'
        && let Some((x, end)) = hex(s, i + 2)
    {
        return Some((sign(x), end));
    }
    let start = i;
    let digits = |mut j: usize| {
        while at(j).is_ascii_digit() {
            j += 1;
        }
        j
    };
    let int_end = digits(i);
    let mut end = int_end;
    let mut any = int_end > start;
    if at(end) == b'.' {
        let frac_end = digits(end + 1);
        any |= frac_end > end + 1;
        end = frac_end;
    }
    if !any {
        return None;
    }
    if at(end) | 0x20 == b'e' {
        let mut j = end + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            end = exp_end;
        }
    }
    let text = core::str::from_utf8(&s[start..end]).ok()?;
    let x: f64 = text.parse().ok().or_else(|| {
        // "1." is not Rust's syntax; the digits before the point are.
        text.trim_end_matches('.').parse().ok()
    })?;
    Some((sign(x), end))
}

/// A hex number's digits after `0x` at `i`: the value and where it ends,
/// or `None` if no digit follows (then `strtod` reads just the `0`).
fn hex(s: &[u8], mut i: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let digit = |c: u8| (c as char).to_digit(16);
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut any = false;
    let mut sticky = false;
    while let Some(d) = digit(at(i)) {
        if mantissa >> 56 == 0 {
            mantissa = mantissa * 16 + u64::from(d);
        } else {
            exp += 4;
            sticky |= d != 0;
        }
        any = true;
        i += 1;
    }
    if at(i) == b'.' {
        let mut j = i + 1;
        while let Some(d) = digit(at(j)) {
            if mantissa >> 56 == 0 {
                mantissa = mantissa * 16 + u64::from(d);
                exp -= 4;
            } else {
                sticky |= d != 0;
            }
            any = true;
            j += 1;
        }
        if any {
            i = j;
        }
    }
    if !any {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let negative = match at(j) {
            b'-' => {
                j += 1;
                true
            }
            b'+' => {
                j += 1;
                false
            }
            _ => false,
        };
        let start = j;
        let mut e: i64 = 0;
        while at(j).is_ascii_digit() {
            e = (e * 10 + i64::from(at(j) - b'0')).min(100_000);
            j += 1;
        }
        if j > start {
            exp += if negative { -e } else { e };
            i = j;
        }
    }
    // The sticky bit makes a tie round away, as more digits would.
    let m = (mantissa | u64::from(sticky)) as f64;
    Some((libm::ldexp(m, exp.clamp(-5000, 5000) as i32), i))
}

/// A container being filled: an array with its next index, or an object
/// with the key waiting for its value.
enum Open {
    Array(TableRef, f64),
    Object(TableRef, Value),
}

fn decode(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    let state = bound_state(exec, &mut args)?;
    let cfg = Config::load(&state);
    let data = check_str(exec, &args, 1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(native_error(
            exec,
            "JSON parser does not support UTF-16 or UTF-32",
        ));
    }
    let mut p = Parser {
        data: &data,
        pos: 0,
        decode_invalid: cfg.decode_invalid != 0,
        index: 0,
    };
    let expected = |exec: &Exec<'_>, p: &Parser<'_>, what: &str, tok: &Tok| {
        native_error(
            exec,
            &format!(
                "Expected {what} but found {} at character {}",
                tok.name(),
                p.index + 1
            ),
        )
    };
    let mut stack: Vec<Open> = Vec::new();
    let mut tok = p.next();
    loop {
        // A value starts at `tok`.
        let mut value = match tok {
            Tok::Str(s) => Value::Str(s.into()),
            Tok::Num(x) => Value::Num(x),
            Tok::Bool(b) => Value::Bool(b),
            Tok::Null => Value::Light(0),
            Tok::ObjBegin | Tok::ArrBegin => {
                let depth = stack.len() + 1;
                if depth as i64 > cfg.decode_max_depth {
                    return Err(native_error(
                        exec,
                        &format!(
                            "Found too many nested data structures ({depth}) at character {}",
                            p.pos
                        ),
                    ));
                }
                exec.lua.account(64);
                let t = exec.lua.new_table();
                let object = matches!(tok, Tok::ObjBegin);
                tok = p.next();
                match (&tok, object) {
                    (Tok::ObjEnd, true) | (Tok::ArrEnd, false) => Value::Table(t),
                    (_, false) => {
                        stack.push(Open::Array(t, 1.0));
                        continue;
                    }
                    (Tok::Str(key), true) => {
                        let key = Value::str(key);
                        tok = p.next();
                        if !matches!(tok, Tok::Colon) {
                            return Err(expected(exec, &p, "colon", &tok));
                        }
                        stack.push(Open::Object(t, key));
                        tok = p.next();
                        continue;
                    }
                    (_, true) => return Err(expected(exec, &p, "object key string", &tok)),
                }
            }
            _ => return Err(expected(exec, &p, "value", &tok)),
        };
        // Store the value in the containers it completes.
        loop {
            match stack.last_mut() {
                None => {
                    tok = p.next();
                    if !matches!(tok, Tok::End) {
                        return Err(expected(exec, &p, "the end", &tok));
                    }
                    return Ok(vec![value]);
                }
                Some(Open::Array(t, i)) => {
                    exec.lua.account(32);
                    let _ = t.borrow_mut().set(Value::Num(*i), value);
                    *i += 1.0;
                    tok = p.next();
                    match tok {
                        Tok::ArrEnd => {}
                        Tok::Comma => {
                            tok = p.next();
                            break;
                        }
                        _ => return Err(expected(exec, &p, "comma or array end", &tok)),
                    }
                }
                Some(Open::Object(t, key)) => {
                    exec.lua.account(32);
                    let _ = t.borrow_mut().set(core::mem::take(key), value);
                    tok = p.next();
                    match tok {
                        Tok::ObjEnd => {}
                        Tok::Comma => {
                            tok = p.next();
                            let Tok::Str(s) = &tok else {
                                return Err(expected(exec, &p, "object key string", &tok));
                            };
                            *key = Value::str(s);
                            tok = p.next();
                            if !matches!(tok, Tok::Colon) {
                                return Err(expected(exec, &p, "colon", &tok));
                            }
                            tok = p.next();
                            break;
                        }
                        _ => return Err(expected(exec, &p, "comma or object end", &tok)),
                    }
                }
            }
            // The container closed: it is the value to store next.
            value = match stack.pop() {
                Some(Open::Array(t, _)) | Some(Open::Object(t, _)) => Value::Table(t),
                None => Value::Nil,
            };
        }
    }
}
