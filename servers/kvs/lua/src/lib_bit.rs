//! The `bit` library Redis embeds (LuaBitOp): bitwise operations on
//! 32-bit integers. A number becomes one as LuaBitOp makes it: adding
//! 2^52 + 2^51 to the double and keeping the low 32 bits of its
//! representation (so 2^32 + 1 is 1, 1.5 rounds to 2, NaN and the
//! infinities are 0); results are signed (`bit.tobit(0xffffffff)` is -1).
//!
//! Known differences from Redis 7.0's: none we know of (`tohex` with a
//! count of -2^31 gives the eight upper-case digits Redis's build gives).

use alloc::vec;
use alloc::vec::Vec;

use crate::Lua;
use crate::exec::Exec;
use crate::lib_base::check_num;
use crate::value::{NativeResult, Value};

pub(crate) fn open(lua: &mut Lua) {
    let functions: [(&'static str, crate::NativeFn); 12] = [
        ("tobit", tobit),
        ("tohex", tohex),
        ("bnot", bnot),
        ("band", |e, a| fold(e, a, |x, y| x & y)),
        ("bor", |e, a| fold(e, a, |x, y| x | y)),
        ("bxor", |e, a| fold(e, a, |x, y| x ^ y)),
        ("lshift", |e, a| shift(e, a, |b, n| b << n)),
        ("rshift", |e, a| shift(e, a, |b, n| b >> n)),
        ("arshift", |e, a| {
            shift(e, a, |b, n| ((b as i32) >> n) as u32)
        }),
        ("rol", |e, a| shift(e, a, u32::rotate_left)),
        ("ror", |e, a| shift(e, a, u32::rotate_right)),
        ("bswap", bswap),
    ];
    let t = lua.new_table();
    for (name, f) in functions {
        let v = lua.native(name, f);
        let _ = t.borrow_mut().set(Value::str(name.as_bytes()), v);
    }
    lua.set_global("bit", Value::Table(t));
}

/// A number's 32 bits, as LuaBitOp normalizes it.
pub(crate) fn to_bits(x: f64) -> u32 {
    (x + 6_755_399_441_055_744.0).to_bits() as u32
}

/// Argument `n` as 32 bits (`number expected` otherwise).
fn barg(exec: &Exec<'_>, args: &[Value], n: usize) -> Result<u32, crate::Error> {
    Ok(to_bits(check_num(exec, args, n)?))
}

/// A result: the bits as a signed 32-bit number.
fn bits(b: u32) -> NativeResult {
    Ok(vec![Value::Num(f64::from(b as i32))])
}

fn tobit(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    bits(barg(exec, &args, 1)?)
}

fn bnot(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    bits(!barg(exec, &args, 1)?)
}

fn bswap(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    bits(barg(exec, &args, 1)?.swap_bytes())
}

/// `band`, `bor`, `bxor`: the first argument combined with the others
/// (checked last to second, as LuaBitOp does).
fn fold(exec: &mut Exec<'_>, args: Vec<Value>, op: fn(u32, u32) -> u32) -> NativeResult {
    let mut b = barg(exec, &args, 1)?;
    for n in (2..=args.len()).rev() {
        b = op(b, barg(exec, &args, n)?);
    }
    bits(b)
}

/// The shifts and rotations: by the second argument's low five bits.
fn shift(exec: &mut Exec<'_>, args: Vec<Value>, op: fn(u32, u32) -> u32) -> NativeResult {
    let b = barg(exec, &args, 1)?;
    let n = barg(exec, &args, 2)? & 31;
    bits(op(b, n))
}

fn tohex(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let b = barg(exec, &args, 1)?;
    let n = if args.len() < 2 {
        8
    } else {
        barg(exec, &args, 2)? as i32
    };
    let (count, digits): (i32, &[u8; 16]) = if n == i32::MIN {
        // -n overflows; Redis's build prints eight upper-case digits.
        (8, b"0123456789ABCDEF")
    } else if n < 0 {
        (-n, b"0123456789ABCDEF")
    } else {
        (n, b"0123456789abcdef")
    };
    let count = count.min(8) as usize;
    let mut out = vec![0u8; count];
    let mut x = b;
    for slot in out.iter_mut().rev() {
        *slot = digits[(x & 15) as usize];
        x >>= 4;
    }
    Ok(vec![Value::Str(out.into())])
}
