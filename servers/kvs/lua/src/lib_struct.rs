//! The `struct` library Redis embeds (Roberto Ierusalimschy's): packing
//! numbers and strings into binary strings and back, as Redis 7.0's copy
//! does it.
//!
//! Formats: `>` big-endian, `<` little-endian (the default, as on x86),
//! `!n` alignment (a power of two; 8 without `n`), `x` a zero byte, `b B`
//! char, `h H` short, `l L` long (8 bytes), `T` size_t, `i I` int of `n`
//! bytes (4 without `n`, at most 32), `f` float, `d` double, `c n` a string
//! of `n` bytes (`c0`: the whole string to `pack`, the length the previous
//! result gave to `unpack`), `s` a zero-terminated string, and spaces.
//! `unpack(fmt, data [, pos])` returns the values and the position after
//! them; `size(fmt)` the length a format packs to.
//!
//! Integers go through a 64-bit integer as in the C library (so 8+ byte
//! sizes carry at most 64 bits, the rest zeros), and the C casts' results
//! for what does not fit.
//!
//! Known differences from Redis 7.0's: none we know of. The error for too
//! many results ("stack overflow (too many results)") comes where Lua 5.1's
//! 8000-slot C stack would overflow.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::exec::Exec;
use crate::format::{c_double_to_i64, c_double_to_u64};
use crate::lib_base::{arg_error, check_num, check_str, native_error, opt_int};
use crate::value::{NativeResult, Value};
use crate::{Error, Lua};

/// The largest integer size (`i32`).
const MAX_INT_SIZE: usize = 32;
/// The default alignment of `!`.
const MAX_ALIGN: usize = 8;
/// Lua 5.1's C stack limit (`LUAI_MAXCSTACK`), which bounds how many
/// values one call returns.
pub(crate) const C_STACK: usize = 8000;

pub(crate) fn open(lua: &mut Lua) {
    let functions: [(&'static str, crate::NativeFn); 3] =
        [("pack", pack), ("unpack", unpack), ("size", size)];
    let t = lua.new_table();
    for (name, f) in functions {
        let v = lua.native(name, f);
        let _ = t.borrow_mut().set(Value::str(name.as_bytes()), v);
    }
    lua.set_global("struct", Value::Table(t));
}

/// Makes room for `extra` more bytes in `out`, asking the host first when
/// the buffer must grow (`not enough memory` if it refuses).
pub(crate) fn grow(exec: &mut Exec<'_>, out: &mut Vec<u8>, extra: usize) -> Result<(), Error> {
    let need = out.len().saturating_add(extra);
    if need > out.capacity() {
        let want = need.max(out.capacity().saturating_mul(2)).max(64);
        exec.check_alloc(want)?;
        out.reserve_exact(want - out.len());
    }
    Ok(())
}

struct Header {
    little: bool,
    align: usize,
}

/// The format string and where its reader is.
struct Fmt<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// A reader at the start of `bytes`, and the default header (little
/// endian, no alignment), as every function begins.
fn reader(bytes: &[u8]) -> (Fmt<'_>, Header) {
    (
        Fmt { bytes, pos: 0 },
        Header {
            little: true,
            align: 1,
        },
    )
}

impl Fmt<'_> {
    /// The next option byte (a zero byte ends the format, as in C).
    fn next(&mut self) -> Option<u8> {
        let c = *self.bytes.get(self.pos)?;
        if c == 0 {
            return None;
        }
        self.pos += 1;
        Some(c)
    }

    /// A decimal count, or `default` if none follows.
    fn number(&mut self, exec: &Exec<'_>, default: usize) -> Result<usize, Error> {
        let mut a: usize = 0;
        let mut any = false;
        while let Some(&d) = self.bytes.get(self.pos).filter(|d| d.is_ascii_digit()) {
            let d = usize::from(d - b'0');
            if a > (i32::MAX as usize) / 10 || a * 10 > i32::MAX as usize - d {
                return Err(native_error(exec, "integral size overflow"));
            }
            a = a * 10 + d;
            any = true;
            self.pos += 1;
        }
        Ok(if any { a } else { default })
    }
}

/// How many bytes option `opt` takes (0 for those that are not data).
fn option_size(exec: &Exec<'_>, opt: u8, fmt: &mut Fmt<'_>) -> Result<usize, Error> {
    Ok(match opt {
        b'b' | b'B' | b'x' => 1,
        b'h' | b'H' => 2,
        b'l' | b'L' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => fmt.number(exec, 1)?,
        b'i' | b'I' => {
            let size = fmt.number(exec, 4)?;
            if size > MAX_INT_SIZE {
                return Err(native_error(
                    exec,
                    &format!("integral size {size} is larger than limit of {MAX_INT_SIZE}"),
                ));
            }
            size
        }
        _ => 0,
    })
}

/// The padding before an item of `size` bytes at offset `len` (the C
/// library's `int`, added to offsets with wrapping).
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    let pad = size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1);
    pad as i32 as isize as usize
}

/// The options that are not data: white space, endianness, alignment.
fn control(exec: &Exec<'_>, opt: u8, fmt: &mut Fmt<'_>, h: &mut Header) -> Result<(), Error> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = fmt.number(exec, MAX_ALIGN)?;
            if !a.is_power_of_two() {
                return Err(native_error(
                    exec,
                    &format!("alignment {a} is not a power of 2"),
                ));
            }
            h.align = a;
        }
        _ => {
            return Err(arg_error(
                exec,
                1,
                &format!("invalid format option '{}'", opt as char),
            ));
        }
    }
    Ok(())
}

/// A number argument of `pack`; a missing one is the nil the C library
/// pushes after its arguments.
fn pack_num(exec: &Exec<'_>, args: &[Value], n: usize) -> Result<f64, Error> {
    if n > args.len() {
        return Err(arg_error(exec, n, "number expected, got nil"));
    }
    check_num(exec, args, n)
}

fn pack(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let fmt_bytes = check_str(exec, &args, 1)?;
    let (mut fmt, mut h) = reader(&fmt_bytes);
    let mut n = 2;
    let mut total: usize = 0;
    let mut out = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = option_size(exec, opt, &mut fmt)?;
        let pad = padding(total, &h, opt, size);
        total = total.wrapping_add(pad);
        if (pad as isize) > 0 {
            grow(exec, &mut out, pad)?;
            out.resize(out.len() + pad, 0);
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let x = pack_num(exec, &args, n)?;
                n += 1;
                let mut value = if x < 0.0 {
                    c_double_to_i64(x) as u64
                } else {
                    c_double_to_u64(x)
                };
                let mut bytes = [0u8; MAX_INT_SIZE];
                for b in bytes.iter_mut().take(size) {
                    *b = value as u8;
                    value >>= 8;
                }
                if !h.little {
                    bytes[..size].reverse();
                }
                grow(exec, &mut out, size)?;
                out.extend_from_slice(&bytes[..size]);
            }
            b'x' => {
                grow(exec, &mut out, 1)?;
                out.push(0);
            }
            b'f' | b'd' => {
                let x = pack_num(exec, &args, n)?;
                n += 1;
                let mut bytes = if opt == b'f' {
                    (x as f32).to_le_bytes().to_vec()
                } else {
                    x.to_le_bytes().to_vec()
                };
                if !h.little {
                    bytes.reverse();
                }
                grow(exec, &mut out, bytes.len())?;
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let s = if n > args.len() {
                    return Err(arg_error(exec, n, "string expected, got nil"));
                } else {
                    check_str(exec, &args, n)?
                };
                n += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C library names the argument after this one.
                    return Err(arg_error(exec, n, "string too short"));
                }
                grow(exec, &mut out, size + 1)?;
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => control(exec, opt, &mut fmt, &mut h)?,
        }
        total = total.wrapping_add(size);
    }
    Ok(vec![Value::Str(out.into())])
}

/// An integer of `bytes` (at most 32; only the last 64 bits count, as
/// the C library shifts them through a 64-bit integer).
fn get_integer(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let size = bytes.len();
    for i in 0..size {
        let b = if little {
            bytes[size - 1 - i]
        } else {
            bytes[i]
        };
        l = (l << 8) | u64::from(b);
    }
    if !signed {
        return l as f64;
    }
    // The C shift count, reduced as x86 reduces it.
    let shift = (size as u32 * 8).wrapping_sub(1) & 63;
    let mask = u64::MAX << shift;
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let fmt_bytes = check_str(exec, &args, 1)?;
    let data = check_str(exec, &args, 2)?;
    let ld = data.len();
    let start = opt_int(exec, &args, 3, 1)?;
    if start < 1 {
        return Err(arg_error(exec, 3, "offset must be 1 or greater"));
    }
    let mut pos = (start - 1) as usize;
    let (mut fmt, mut h) = reader(&fmt_bytes);
    let mut results: Vec<Value> = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = option_size(exec, opt, &mut fmt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if pos.checked_add(size).is_none_or(|end| end > ld) {
            return Err(arg_error(exec, 2, "data string too short"));
        }
        if args.len() + results.len() + 2 > C_STACK {
            return Err(native_error(exec, "stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let x = get_integer(&data[pos..pos + size], h.little, opt.is_ascii_lowercase());
                results.push(Value::Num(x));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let x = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                results.push(Value::Num(f64::from(x)));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                let x = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                results.push(Value::Num(x));
            }
            b'c' => {
                if size == 0 {
                    let previous = results.last().and_then(Value::to_num);
                    let Some(len) = previous else {
                        return Err(native_error(exec, "format 'c0' needs a previous size"));
                    };
                    results.pop();
                    size = c_double_to_u64(len) as usize;
                    if size > ld || pos > ld - size {
                        return Err(arg_error(exec, 2, "data string too short"));
                    }
                }
                results.push(Value::str(&data[pos..pos + size]));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(native_error(exec, "unfinished string in data"));
                };
                results.push(Value::str(&data[pos..pos + end]));
                size = end + 1;
            }
            _ => control(exec, opt, &mut fmt, &mut h)?,
        }
        pos += size;
    }
    results.push(Value::Num((pos as i64).wrapping_add(1) as f64));
    Ok(results)
}

fn size(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let fmt_bytes = check_str(exec, &args, 1)?;
    let (mut fmt, mut h) = reader(&fmt_bytes);
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next() {
        let size = option_size(exec, opt, &mut fmt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(exec, 1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(arg_error(exec, 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            control(exec, opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(vec![Value::Num(pos as i64 as f64)])
}
