//! Lua's values, and the raw equality and hashing tables key them by.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::hash::{Hash, Hasher};

use crate::ast::Proto;
use crate::exec::Exec;
use crate::table::Table;

/// A Lua value. Strings are immutable byte strings; tables and functions
/// are shared references, compared by identity.
#[derive(Clone, Default)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Num(f64),
    Str(Rc<[u8]>),
    Table(TableRef),
    Function(Rc<Function>),
    /// A light userdata: a bare tag compared by value (`cjson.null` is
    /// the one scripts meet).
    Light(usize),
}

/// A shared table.
pub type TableRef = Rc<RefCell<Table>>;

/// A variable a closure shares with the function that made it.
pub type Cell = Rc<RefCell<Value>>;

/// What a native function returns: its results, or the error it raises.
pub type NativeResult = Result<Vec<Value>, crate::Error>;

/// A function written in Rust.
pub type NativeFn = fn(&mut Exec<'_>, Vec<Value>) -> NativeResult;

/// A function.
pub enum Function {
    /// A Lua function with its shared variables.
    Lua {
        proto: Rc<Proto>,
        upvalues: Vec<Cell>,
    },
    /// A function of the standard library.
    Native { name: &'static str, run: NativeFn },
    /// A native function bound to a state value, which it receives as its
    /// first argument (`gmatch`'s iterator).
    Bound {
        name: &'static str,
        run: NativeFn,
        state: Value,
    },
    /// A function the host answers ([`crate::Host::call`]), by number.
    Host { name: &'static str, id: u32 },
}

impl Value {
    /// A string value.
    pub fn str(bytes: &[u8]) -> Value {
        Value::Str(Rc::from(bytes))
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Lua's truth: everything but `nil` and `false`.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// The name `type` gives the value's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Num(_) => "number",
            Value::Str(_) => "string",
            Value::Table(_) => "table",
            Value::Function(_) => "function",
            Value::Light(_) => "userdata",
        }
    }

    /// The number a value is or converts to (strings as `tonumber` reads
    /// them), as arithmetic coerces.
    pub fn to_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => crate::number::parse(s),
            _ => None,
        }
    }

    /// The string a value is or converts to (numbers as `%.14g`), as
    /// concatenation and the string library coerce.
    pub fn to_bytes(&self) -> Option<Rc<[u8]>> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Num(n) => {
                let mut out = Vec::new();
                crate::format::number(*n, &mut out);
                Some(Rc::from(out))
            }
            _ => None,
        }
    }

    /// The identity of a table or function (for `tostring` and hashing).
    pub fn address(&self) -> usize {
        match self {
            Value::Table(t) => Rc::as_ptr(t) as *const u8 as usize,
            Value::Function(f) => Rc::as_ptr(f) as *const u8 as usize,
            Value::Light(tag) => *tag,
            _ => 0,
        }
    }
}

/// Drops `pending` and what only it holds one value at a time, from a
/// list, rather than by recursion: a script can nest tables (`t = {t}` in
/// a loop) or closures a million deep, which recursive drops would
/// overflow the machine stack with. Each value's contents are moved out
/// onto the list before it goes, so that its own drop finds it empty.
pub(crate) fn drop_iteratively(mut pending: Vec<Value>) {
    // `try_unwrap`, not `get_mut`: the weak references the state keeps for
    // its collection must not stop this.
    while let Some(v) = pending.pop() {
        match v {
            Value::Table(t) => {
                if let Ok(cell) = Rc::try_unwrap(t) {
                    cell.into_inner().take_all(&mut pending);
                }
            }
            Value::Function(f) => {
                if let Ok(mut f) = Rc::try_unwrap(f)
                    && let Function::Lua { upvalues, .. } = &mut f
                {
                    take_cells(upvalues, &mut pending);
                }
            }
            _ => {}
        }
    }
}

/// Moves the values only these cells hold onto `out`.
fn take_cells(cells: &mut Vec<Cell>, out: &mut Vec<Value>) {
    for cell in cells.drain(..) {
        if let Ok(cell) = Rc::try_unwrap(cell) {
            out.push(cell.into_inner());
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Function::Lua { upvalues, .. } = self {
            let mut pending = Vec::new();
            take_cells(upvalues, &mut pending);
            drop_iteratively(pending);
        }
    }
}

/// Raw equality (`rawequal`): numbers by value, strings by content, tables
/// and functions by identity.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Num(a), Value::Num(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Table(a), Value::Table(b)) => Rc::ptr_eq(a, b),
            (Value::Function(a), Value::Function(b)) => Rc::ptr_eq(a, b),
            (Value::Light(a), Value::Light(b)) => a == b,
            _ => false,
        }
    }
}

/// Table keys are never NaN (a table refuses one), so equality is an
/// equivalence there.
impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Nil => 0u8.hash(state),
            Value::Bool(b) => b.hash(state),
            // -0 and 0 are equal keys: hash them alike.
            Value::Num(n) => (if *n == 0.0 { 0 } else { n.to_bits() }).hash(state),
            Value::Str(s) => s.hash(state),
            Value::Table(_) | Value::Function(_) | Value::Light(_) => self.address().hash(state),
        }
    }
}

impl core::fmt::Debug for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Num(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{:?}", alloc::string::String::from_utf8_lossy(s)),
            other => write!(f, "{}: {:#x}", other.type_name(), other.address()),
        }
    }
}
