//! The interpreter's state: globals, the string metatable, the call stack
//! errors are positioned by, and the collection of the cycles that
//! reference counting cannot free.

use alloc::collections::BTreeSet;
use alloc::rc::{Rc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::exec::Exec;
use crate::table::{Keyed, Table};
use crate::value::{Cell, Function, NativeFn, NativeResult, TableRef, Value};
use crate::{Error, parser};

/// What the interpreter asks of the program it runs in.
pub trait Host {
    /// Runs host function `id` (made by [`Lua::host_function`]).
    fn call(&mut self, lua: &mut Lua, id: u32, args: Vec<Value>) -> NativeResult;

    /// Called every thousand steps: an error stops the script (make it
    /// [`Error::fatal`] so that `pcall` cannot catch it).
    fn tick(&mut self, _lua: &mut Lua) -> Result<(), Error> {
        Ok(())
    }

    /// Whether `bytes` more may be allocated for one string or table.
    fn room_for(&mut self, _lua: &Lua, _bytes: usize) -> bool {
        true
    }
}

/// One call in progress: a Lua function's chunk and current line (for
/// error positions), or a native function's name (for argument errors).
pub struct CallInfo {
    pub chunk: Option<Rc<[u8]>>,
    pub line: u32,
    pub name: &'static str,
    /// Called as `obj:name(...)` (its argument errors count from `self`).
    pub method: bool,
}

/// A Lua state.
pub struct Lua {
    pub(crate) globals: TableRef,
    pub(crate) string_meta: Option<TableRef>,
    pub(crate) keys: Keyed,
    pub(crate) stack: Vec<CallInfo>,
    pub(crate) steps: u32,
    /// `math.random`'s generator (a 48-bit linear congruential one).
    pub(crate) rand: u64,
    /// Bytes accounted since [`Lua::collect`]: a rough measure the host may
    /// read.
    allocated: usize,
    /// Every table and shared cell made since the last collection, to clear
    /// the unreachable ones (cycles)...
    tables: Vec<Weak<RefCell<Table>>>,
    cells: Vec<Weak<RefCell<Value>>>,
    /// ... and those an earlier collection found reachable, which may have
    /// become garbage since.
    old_tables: Vec<Weak<RefCell<Table>>>,
    old_cells: Vec<Weak<RefCell<Value>>>,
    /// Where the machine stack was when [`Lua::call`] began, and how much
    /// of it calls may use below that (`stack overflow` past it).
    stack_base: usize,
    pub(crate) stack_limit: usize,
}

/// An address in the current machine stack frame (the stack grows down on
/// x86_64, so deeper calls give lower addresses).
#[inline(always)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    core::hint::black_box(&marker) as *const u8 as usize
}

impl Lua {
    /// A state with the standard library: base functions, `string`,
    /// `table` and `math`, hashing table keys under `seed`.
    pub fn new(seed: u64) -> Lua {
        let keys = Keyed(
            seed ^ 0x736f_6d65_7073_6575,
            seed.rotate_left(32) ^ 0x646f_7261_6e64_6f6d,
        );
        let globals = Rc::new(RefCell::new(Table::new(keys)));
        let mut lua = Lua {
            globals,
            string_meta: None,
            keys,
            stack: Vec::new(),
            steps: 0,
            rand: 0,
            allocated: 0,
            tables: Vec::new(),
            cells: Vec::new(),
            old_tables: Vec::new(),
            old_cells: Vec::new(),
            stack_base: 0,
            stack_limit: 1 << 20,
        };
        crate::lib_base::open(&mut lua);
        crate::lib_string::open(&mut lua);
        crate::lib_table::open(&mut lua);
        crate::lib_math::open(&mut lua);
        crate::lib_bit::open(&mut lua);
        crate::lib_struct::open(&mut lua);
        crate::lib_cjson::open(&mut lua);
        crate::lib_cmsgpack::open(&mut lua);
        lua
    }

    /// The globals table.
    pub fn globals(&self) -> TableRef {
        self.globals.clone()
    }

    /// Puts `globals` in place of the globals table, and returns the one it
    /// replaces (a host runs code in another environment so, as Redis runs
    /// a function library's loading).
    pub fn set_globals(&mut self, globals: TableRef) -> TableRef {
        core::mem::replace(&mut self.globals, globals)
    }

    /// A new empty table, tracked for [`Lua::collect`].
    pub fn new_table(&mut self) -> TableRef {
        match self.wrap(Table::new(self.keys)) {
            Value::Table(t) => t,
            _ => unreachable!("wrap makes a table value"),
        }
    }

    /// `t` as a value, tracked for [`Lua::collect`].
    pub fn wrap(&mut self, t: Table) -> Value {
        let t = Rc::new(RefCell::new(t));
        self.tables.push(Rc::downgrade(&t));
        Value::Table(t)
    }

    /// A shared cell for a closure's variable, tracked for
    /// [`Lua::collect`].
    pub(crate) fn cell(&mut self, value: Value) -> Cell {
        let c = Rc::new(RefCell::new(value));
        self.cells.push(Rc::downgrade(&c));
        c
    }

    /// A table with room for `array` list items and `hash` fields (not yet
    /// a value: [`Lua::wrap`]).
    pub fn sized_table(&self, array: usize, hash: usize) -> Table {
        Table::with_capacity(self.keys, array, hash)
    }

    /// Sets global `name` (no metamethods, read-only globals too).
    pub fn set_global(&mut self, name: &str, value: Value) {
        let _ = self
            .globals
            .borrow_mut()
            .set_unchecked(Value::str(name.as_bytes()), value);
    }

    /// Global `name` (no metamethods).
    pub fn global(&self, name: &str) -> Value {
        self.globals.borrow().get(&Value::str(name.as_bytes()))
    }

    /// A function the host answers as `id`; `name` is what argument errors
    /// call it.
    pub fn host_function(&self, name: &'static str, id: u32) -> Value {
        Value::Function(Rc::new(Function::Host { name, id }))
    }

    /// A native function.
    pub fn native(&self, name: &'static str, run: NativeFn) -> Value {
        Value::Function(Rc::new(Function::Native { name, run }))
    }

    /// Sets the metatable of every string (its `__index` is how
    /// `s:upper()` finds `string.upper`).
    pub(crate) fn set_string_meta(&mut self, meta: TableRef) {
        self.string_meta = Some(meta);
    }

    /// Compiles `src` into a function; `chunk` names it in messages
    /// (`chunk:line: …`).
    pub fn load(&mut self, src: &[u8], chunk: &[u8]) -> Result<Value, Error> {
        let proto = parser::parse(src, chunk).map_err(|e| Error::message(&e.0))?;
        Ok(Value::Function(Rc::new(Function::Lua {
            proto,
            upvalues: Vec::new(),
        })))
    }

    /// Calls `f` with `args`, the host answering its host functions.
    pub fn call(&mut self, host: &mut dyn Host, f: &Value, args: Vec<Value>) -> NativeResult {
        self.stack.clear();
        self.stack_base = stack_pointer();
        let result = Exec::new(self, host).call(f, args);
        self.stack.clear();
        result
    }

    /// Sets how many bytes of machine stack a call may use (1 MiB unless
    /// set): the host's stack, less what it needs itself.
    pub fn set_stack_limit(&mut self, bytes: usize) {
        self.stack_limit = bytes;
    }

    /// Machine stack used since [`Lua::call`] began.
    pub(crate) fn stack_used(&self) -> usize {
        self.stack_base.saturating_sub(stack_pointer())
    }

    /// `chunk:line: ` of the Lua function `level` calls below the top of
    /// the stack (0: the running function), or nothing if that is not a
    /// Lua function.
    pub(crate) fn position(&self, level: usize) -> Vec<u8> {
        let Some(info) = self
            .stack
            .len()
            .checked_sub(level + 1)
            .map(|i| &self.stack[i])
        else {
            return Vec::new();
        };
        match &info.chunk {
            Some(chunk) => {
                let mut out = chunk.to_vec();
                out.extend_from_slice(alloc::format!(":{}: ", info.line).as_bytes());
                out
            }
            None => Vec::new(),
        }
    }

    /// Counts `bytes` allocated (an estimate for the host's limits).
    pub(crate) fn account(&mut self, bytes: usize) {
        self.allocated = self.allocated.saturating_add(bytes);
    }

    /// The estimate of bytes allocated since the last collection.
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    /// Frees what reference counting cannot: every table and shared
    /// variable made since the last collection that neither the globals,
    /// the string metatable nor `roots` reach is emptied, which breaks the
    /// cycles it was part of (a recursive local function holds itself; a
    /// table may hold itself). Run it when no script is running: values a
    /// running script holds in its frames are not roots.
    ///
    /// Where every table and cell made since the last collection is gone
    /// already (freed by its count: a script that kept nothing), there is
    /// nothing to mark, and this costs a pass over what they left. What an
    /// earlier collection found reachable is looked at again only with a
    /// marking, or by [`Lua::collect_all`].
    pub fn collect(&mut self, roots: &[Value]) {
        self.tables.retain(|t| t.strong_count() > 0);
        self.cells.retain(|c| c.strong_count() > 0);
        if self.tables.is_empty() && self.cells.is_empty() {
            self.allocated = 0;
            return;
        }
        self.collect_all(roots);
    }

    /// [`Lua::collect`], marking whatever was made since the last one (what
    /// a host runs when it dropped roots: a function library deleted).
    pub fn collect_all(&mut self, roots: &[Value]) {
        let mut marked = BTreeSet::new();
        let mut pending: Vec<Value> = vec![Value::Table(self.globals.clone())];
        if let Some(m) = &self.string_meta {
            pending.push(Value::Table(m.clone()));
        }
        pending.extend(roots.iter().cloned());
        let mut cells_seen = BTreeSet::new();
        while let Some(v) = pending.pop() {
            match &v {
                Value::Table(t) => {
                    if !marked.insert(v.address()) {
                        continue;
                    }
                    let t = t.borrow();
                    for (k, v) in t.entries() {
                        pending.push(k);
                        pending.push(v);
                    }
                    if let Some(m) = &t.meta {
                        pending.push(Value::Table(m.clone()));
                    }
                }
                Value::Function(f) => {
                    if !marked.insert(v.address()) {
                        continue;
                    }
                    if let Function::Lua { upvalues, .. } = &**f {
                        for c in upvalues {
                            if cells_seen.insert(Rc::as_ptr(c) as usize) {
                                pending.push(c.borrow().clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // The reachable stay tracked, as old: they may become garbage later.
        let mut tables = core::mem::take(&mut self.tables);
        tables.append(&mut self.old_tables);
        self.old_tables = tables
            .into_iter()
            .filter(|t| match t.upgrade() {
                Some(t) if marked.contains(&(Rc::as_ptr(&t) as *const u8 as usize)) => true,
                Some(t) => {
                    t.borrow_mut().clear();
                    false
                }
                None => false,
            })
            .collect();
        let mut cells = core::mem::take(&mut self.cells);
        cells.append(&mut self.old_cells);
        self.old_cells = cells
            .into_iter()
            .filter(|c| match c.upgrade() {
                Some(c) if cells_seen.contains(&(Rc::as_ptr(&c) as usize)) => true,
                Some(c) => {
                    *c.borrow_mut() = Value::Nil;
                    false
                }
                None => false,
            })
            .collect();
        self.allocated = 0;
    }
}
