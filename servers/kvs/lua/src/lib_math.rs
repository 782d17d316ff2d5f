//! The math library, with `libm` for what `core` lacks, and Redis's
//! `math.random`: the 48-bit generator of `lrand48`, its state kept by the
//! interpreter across scripts (as Redis 7.0 keeps it for the process).

use alloc::vec;
use alloc::vec::Vec;

use crate::Lua;
use crate::exec::Exec;
use crate::lib_base::{arg_error, check_int, check_num, native_error};
use crate::value::{NativeResult, Value};

/// `lrand48`'s state before any seeding.
pub(crate) const RAND_INITIAL: u64 = 0x1234_ABCD_330E;

pub(crate) fn open(lua: &mut Lua) {
    let functions: [(&'static str, crate::NativeFn); 29] = [
        ("abs", |e, a| unary(e, a, f64::abs)),
        ("acos", |e, a| unary(e, a, |x| domain(x, libm::acos(x)))),
        ("asin", |e, a| unary(e, a, |x| domain(x, libm::asin(x)))),
        ("atan", |e, a| unary(e, a, libm::atan)),
        ("atan2", |e, a| binary(e, a, libm::atan2)),
        ("ceil", |e, a| unary(e, a, libm::ceil)),
        ("cos", |e, a| unary(e, a, libm::cos)),
        ("cosh", |e, a| unary(e, a, libm::cosh)),
        ("deg", |e, a| {
            unary(e, a, |x| x * (180.0 / core::f64::consts::PI))
        }),
        ("exp", |e, a| unary(e, a, libm::exp)),
        ("floor", |e, a| unary(e, a, libm::floor)),
        ("fmod", |e, a| binary(e, a, libm::fmod)),
        ("frexp", frexp),
        ("ldexp", ldexp),
        ("log", |e, a| unary(e, a, libm::log)),
        ("log10", |e, a| unary(e, a, |x| domain(x, libm::log10(x)))),
        ("max", max),
        ("min", min),
        ("mod", |e, a| binary(e, a, libm::fmod)),
        ("modf", modf),
        ("pow", |e, a| binary(e, a, crate::pow)),
        ("rad", |e, a| {
            unary(e, a, |x| x * (core::f64::consts::PI / 180.0))
        }),
        ("random", random),
        ("randomseed", randomseed),
        ("sin", |e, a| unary(e, a, libm::sin)),
        ("sinh", |e, a| unary(e, a, libm::sinh)),
        ("sqrt", |e, a| unary(e, a, libm::sqrt)),
        ("tan", |e, a| unary(e, a, libm::tan)),
        ("tanh", |e, a| unary(e, a, libm::tanh)),
    ];
    let t = lua.new_table();
    for (name, f) in functions {
        let v = lua.native(name, f);
        let _ = t.borrow_mut().set(Value::str(name.as_bytes()), v);
    }
    let _ = t
        .borrow_mut()
        .set(Value::str(b"pi"), Value::Num(core::f64::consts::PI));
    let _ = t
        .borrow_mut()
        .set(Value::str(b"huge"), Value::Num(f64::INFINITY));
    lua.rand = RAND_INITIAL;
    lua.set_global("math", Value::Table(t));
}

/// glibc's NaN for an argument outside the domain of `asin`, `acos` and
/// `log10`: positive, where `libm`'s has the sign bit set (`tostring`
/// shows the sign: `nan` or `-nan`).
fn domain(x: f64, y: f64) -> f64 {
    if y.is_nan() && !x.is_nan() {
        f64::NAN
    } else {
        y
    }
}

fn unary(exec: &mut Exec<'_>, args: Vec<Value>, f: fn(f64) -> f64) -> NativeResult {
    Ok(vec![Value::Num(f(check_num(exec, &args, 1)?))])
}

/// A function of two numbers. Lua's C checks them in one call's
/// arguments, which gcc evaluates right to left: the second is checked
/// first (which a message naming the bad argument shows).
fn binary(exec: &mut Exec<'_>, args: Vec<Value>, f: fn(f64, f64) -> f64) -> NativeResult {
    let b = check_num(exec, &args, 2)?;
    let a = check_num(exec, &args, 1)?;
    Ok(vec![Value::Num(f(a, b))])
}

fn frexp(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let (m, e) = libm::frexp(check_num(exec, &args, 1)?);
    Ok(vec![Value::Num(m), Value::Num(f64::from(e))])
}

fn ldexp(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    // Checked right to left, as `binary`'s arguments.
    let e = check_int(exec, &args, 2)? as i32;
    let x = check_num(exec, &args, 1)?;
    Ok(vec![Value::Num(libm::ldexp(x, e))])
}

fn modf(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let (frac, int) = libm::modf(check_num(exec, &args, 1)?);
    Ok(vec![Value::Num(int), Value::Num(frac)])
}

/// `max` and `min`: the first argument that no later one beats.
fn extreme(exec: &mut Exec<'_>, args: Vec<Value>, beats: fn(f64, f64) -> bool) -> NativeResult {
    let mut best = check_num(exec, &args, 1)?;
    for n in 2..=args.len() {
        let x = check_num(exec, &args, n)?;
        if beats(x, best) {
            best = x;
        }
    }
    Ok(vec![Value::Num(best)])
}

fn max(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    extreme(exec, args, |x, best| x > best)
}

fn min(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    extreme(exec, args, |x, best| x < best)
}

/// The next of `lrand48`'s 31-bit outputs.
fn lrand48(lua: &mut Lua) -> u64 {
    lua.rand = (lua.rand.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & ((1 << 48) - 1);
    lua.rand >> 17
}

fn random(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    const MAX: u64 = 2_147_483_647;
    let r = (lrand48(exec.lua) % MAX) as f64 / MAX as f64;
    let x = match args.len() {
        0 => r,
        1 => {
            let u = check_int(exec, &args, 1)? as i32;
            if u < 1 {
                return Err(arg_error(exec, 1, "interval is empty"));
            }
            libm::floor(r * f64::from(u)) + 1.0
        }
        2 => {
            let l = check_int(exec, &args, 1)? as i32;
            let u = check_int(exec, &args, 2)? as i32;
            if l > u {
                return Err(arg_error(exec, 2, "interval is empty"));
            }
            libm::floor(r * (f64::from(u) - f64::from(l) + 1.0)) + f64::from(l)
        }
        _ => return Err(native_error(exec, "wrong number of arguments")),
    };
    Ok(vec![Value::Num(x)])
}

fn randomseed(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let seed = check_int(exec, &args, 1)? as i32 as u32;
    exec.lua.rand = u64::from(seed) << 16 | 0x330E;
    Ok(Vec::new())
}
