//! Lua 5.1 for Basalt's key-value store: the language Redis embeds for
//! EVAL and FUNCTION, written in Rust for the bare-metal target.
//!
//! [`Lua`] holds a state (globals, the standard library, the string
//! metatable); [`Lua::load`] compiles a chunk into a function and
//! [`Lua::call`] runs one. What the store provides (`redis.call` and the
//! rest) are [`Host`] functions: the interpreter hands their calls to the
//! host it was given, which also decides, every thousand steps
//! ([`Host::tick`]), whether a script may go on, and whether there is room
//! for a large allocation ([`Host::room_for`]).
//!
//! Besides Lua's own libraries, the state has those Redis embeds as
//! globals: `bit` (LuaBitOp), `struct`, `cjson` (lua-cjson 2.1.0) and
//! `cmsgpack` (lua_cmsgpack), as Redis 7.0 has them.
//!
//! docs/scripting.md says why an interpreter of our own and where it
//! differs from the reference one.

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod ast;
mod exec;
mod format;
mod lexer;
mod lib_base;
mod lib_bit;
mod lib_cjson;
mod lib_cmsgpack;
mod lib_math;
mod lib_string;
mod lib_struct;
mod lib_table;
mod number;
mod parser;
mod pattern;
mod state;
mod table;
mod value;
mod zeros;

pub use exec::Exec;
pub use format::c_double_to_i64;
pub use state::{Host, Lua};
pub use table::Table;
pub use value::{Function, NativeFn, NativeResult, TableRef, Value};

use alloc::rc::Rc;
use alloc::vec::Vec;
use ast::BinOp;

/// The longest string a script may build.
pub const MAX_STRING: usize = 512 << 20;

/// An error a script raised, or one raised in it: Lua's error value (a
/// message string, usually), and whether `pcall` may catch it (a script the
/// host stops cannot catch its own stopping).
#[derive(Debug, Clone)]
pub struct Error {
    pub value: Value,
    pub fatal: bool,
    /// The chunk and line of the Lua function running when it was raised
    /// (the caller of a native function that raised it): what Redis names
    /// in an error's `on @user_script:1.`.
    pub at: Option<(Rc<[u8]>, u32)>,
}

impl Error {
    /// A catchable error with `value`.
    pub fn new(value: Value) -> Error {
        Error {
            value,
            fatal: false,
            at: None,
        }
    }

    /// An error with a message string.
    pub fn message(text: &[u8]) -> Error {
        Error::new(Value::Str(Rc::from(text)))
    }

    /// The error as text: its string or number, or what Lua's stand-alone
    /// interpreter says of another value.
    pub fn text(&self) -> Vec<u8> {
        match self.value.to_bytes() {
            Some(s) => s.to_vec(),
            None => {
                alloc::format!("(error object is a {} value)", self.value.type_name()).into_bytes()
            }
        }
    }
}

/// `x` as C's `%.<precision>g` writes it (Redis passes numbers to
/// commands as `%.17g`).
pub fn format_g(x: f64, precision: usize) -> Vec<u8> {
    let spec = format::Spec {
        flags: format::Flags::default(),
        width: None,
        precision: Some(precision),
        conv: b'g',
    };
    let mut out = Vec::new();
    format::float(&spec, x, &mut out);
    out
}

/// C's `pow` as glibc computes it: `libm`'s, but for a NaN base, whose
/// sign glibc keeps except to an odd integral power of a NaN with the sign
/// bit set, which comes out without it (`tostring` shows the sign: `nan`
/// or `-nan`; checked against Redis 7.0.15 for powers 1 to 4, -1, -2,
/// 0.5, 1.5, 100, 2^53, 2^63, 1e300 and the infinities).
pub(crate) fn pow(a: f64, b: f64) -> f64 {
    if a.is_nan() && b != 0.0 {
        let odd = libm::trunc(b) == b && b.abs() < 9_007_199_254_740_992.0 && (b as i64) % 2 != 0;
        return if a.is_sign_negative() && odd {
            f64::NAN
        } else {
            a
        };
    }
    libm::pow(a, b)
}

/// Arithmetic on two numbers, as Lua 5.1 defines `%` (`a - floor(a/b)*b`)
/// and `^` (C's `pow`).
fn arith(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Mod => a - libm::floor(a / b) * b,
        BinOp::Pow => pow(a, b),
        _ => unreachable!("only arithmetic operators reach arith"),
    }
}

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod libs_tests;
#[cfg(test)]
mod tests;
