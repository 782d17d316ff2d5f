//! The interpreter: runs a [`Proto`]'s tree with Lua 5.1's semantics
//! (coercions, metatables, multiple results, varargs, closures) and its
//! error messages, naming the variable at fault as Lua does (`attempt to
//! index field 'x' (a nil value)`).
//!
//! Each call runs in a Rust frame of its own, so calls nest at most
//! [`MAX_DEPTH`] deep (`stack overflow`), tail calls included; the parser's
//! nesting limit bounds the recursion within one function.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::Error;
use crate::ast::{BinOp, Block, Call, Expr, Item, Proto, Stat, UpvalueFrom};
use crate::state::{CallInfo, Host, Lua};
use crate::value::{Cell, Function, NativeResult, Value};

/// How deep calls may nest.
pub const MAX_DEPTH: usize = 180;

/// How many steps (statements and calls) run between two of the host's
/// [`Host::tick`]s.
const TICK: u32 = 1024;

/// A running interpreter: the state and the host its `Host` functions
/// call.
pub struct Exec<'a> {
    pub lua: &'a mut Lua,
    pub host: &'a mut dyn Host,
}

/// A local slot: a plain value, or a cell a closure shares.
enum Slot {
    Val(Value),
    Cell(Cell),
}

struct Frame<'p> {
    proto: &'p Proto,
    upvalues: &'p [Cell],
    slots: Vec<Slot>,
    varargs: Vec<Value>,
}

enum Flow {
    Normal,
    Break,
    Return(Vec<Value>),
}

type R<T> = Result<T, Error>;

impl Frame<'_> {
    fn get(&self, slot: u16) -> Value {
        match &self.slots[slot as usize] {
            Slot::Val(v) => v.clone(),
            Slot::Cell(c) => c.borrow().clone(),
        }
    }

    fn set(&mut self, slot: u16, value: Value) {
        match &mut self.slots[slot as usize] {
            Slot::Val(v) => *v = value,
            Slot::Cell(c) => *c.borrow_mut() = value,
        }
    }
}

/// What an error blames: the variable an expression reads, a method by
/// name, or nothing. Worked out into words only when an error is raised,
/// so that indexing and calling cost no text.
#[derive(Clone, Copy)]
enum Blame<'e> {
    Nothing,
    /// The expression `e` of function `proto`.
    Expr(&'e Proto, &'e Expr),
    Method(&'e [u8]),
}

impl Blame<'_> {
    /// What an error message calls it: `global 'x'`, `local 'x'`,
    /// `upvalue 'x'`, `field 'x'`, `method 'x'`, or nothing.
    fn words(self) -> Option<String> {
        let name = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
        match self {
            Blame::Nothing => None,
            Blame::Method(m) => Some(format!("method '{}'", name(m))),
            Blame::Expr(proto, e) => match e {
                Expr::Global(n, _) => Some(format!("global '{}'", name(n))),
                Expr::Local(s) => {
                    Some(format!("local '{}'", name(&proto.locals[*s as usize].name)))
                }
                Expr::Upvalue(i) => Some(format!(
                    "upvalue '{}'",
                    name(&proto.upvalues[*i as usize].name)
                )),
                Expr::Index { key, .. } => match &**key {
                    Expr::Str(k) => Some(format!("field '{}'", name(k))),
                    _ => Some(String::from("field '?'")),
                },
                Expr::Paren(inner) => Blame::Expr(proto, inner).words(),
                _ => None,
            },
        }
    }
}

/// What expression `e` of the running function blames.
fn blame<'e>(frame: &Frame<'e>, e: &'e Expr) -> Blame<'e> {
    Blame::Expr(frame.proto, e)
}

/// `attempt to <what> <variable> (a <type> value)`.
fn type_error(what: &str, blame: Blame<'_>, v: &Value) -> String {
    match blame.words() {
        Some(d) => format!("attempt to {what} {d} (a {} value)", v.type_name()),
        None => format!("attempt to {what} a {} value", v.type_name()),
    }
}

impl<'a> Exec<'a> {
    pub fn new(lua: &'a mut Lua, host: &'a mut dyn Host) -> Exec<'a> {
        Exec { lua, host }
    }

    /// Starts a new variable in `slot` (a fresh cell if a closure shares
    /// it, so that each loop iteration's closures get their own).
    fn declare(&mut self, frame: &mut Frame<'_>, slot: u16, value: Value) {
        frame.slots[slot as usize] = if frame.proto.locals[slot as usize].captured {
            Slot::Cell(self.lua.cell(value))
        } else {
            Slot::Val(value)
        };
    }

    /// An error positioned at the Lua function that called the running
    /// native function (`luaL_error`), for the host's functions.
    pub fn caller_error(&self, message: &str) -> Error {
        crate::lib_base::native_error(self, message)
    }

    /// A runtime error at the running Lua function's current line.
    pub fn runtime_error(&self, message: &str) -> Error {
        let mut text = self.lua.position(0);
        text.extend_from_slice(message.as_bytes());
        Error::new(Value::Str(Rc::from(text)))
    }

    fn set_line(&mut self, line: u32) {
        if let Some(top) = self.lua.stack.last_mut() {
            top.line = line;
        }
    }

    /// Counts a step; every [`TICK`] steps the host may stop the script.
    fn step(&mut self) -> R<()> {
        self.lua.steps = self.lua.steps.wrapping_add(1);
        if self.lua.steps.is_multiple_of(TICK) {
            self.host.tick(self.lua)?;
        }
        Ok(())
    }

    // Calls.

    /// Calls `f` with `args`: a function, or a value whose metatable has
    /// `__call`.
    pub fn call(&mut self, f: &Value, args: Vec<Value>) -> NativeResult {
        self.call_named(f, args, Blame::Nothing, false)
    }

    fn call_named(
        &mut self,
        f: &Value,
        mut args: Vec<Value>,
        blame: Blame<'_>,
        method: bool,
    ) -> NativeResult {
        let func = match f {
            Value::Function(func) => func.clone(),
            other => {
                let handler = self.lua.metamethod(other, "__call");
                match handler {
                    Value::Function(func) => {
                        args.insert(0, other.clone());
                        func
                    }
                    _ => return Err(self.runtime_error(&type_error("call", blame, other))),
                }
            }
        };
        if self.lua.stack.len() >= MAX_DEPTH || self.lua.stack_used() > self.lua.stack_limit {
            return Err(self.runtime_error("stack overflow"));
        }
        self.step()?;
        let info = match &*func {
            Function::Lua { proto, .. } => CallInfo {
                chunk: Some(proto.chunk.clone()),
                line: proto.line,
                name: "?",
                method,
            },
            Function::Native { name, .. }
            | Function::Bound { name, .. }
            | Function::Host { name, .. } => CallInfo {
                chunk: None,
                line: 0,
                name,
                method,
            },
        };
        self.lua.stack.push(info);
        let mut result = match &*func {
            Function::Lua { proto, upvalues } => self.run(proto, upvalues, args),
            Function::Native { run, .. } => run(self, args),
            Function::Bound { run, state, .. } => {
                args.insert(0, state.clone());
                run(self, args)
            }
            Function::Host { id, .. } => self.host.call(self.lua, *id, args),
        };
        if let Err(e) = &mut result
            && e.at.is_none()
        {
            // The innermost Lua function on the stack raised it (a
            // native function's error is its caller's).
            e.at = self
                .lua
                .stack
                .iter()
                .rev()
                .find_map(|info| Some((info.chunk.clone()?, info.line)));
        }
        self.lua.stack.pop();
        result
    }

    fn run(&mut self, proto: &Proto, upvalues: &[Cell], mut args: Vec<Value>) -> NativeResult {
        let mut frame = Frame {
            proto,
            upvalues,
            slots: Vec::with_capacity(proto.locals.len()),
            varargs: Vec::new(),
        };
        frame
            .slots
            .resize_with(proto.locals.len(), || Slot::Val(Value::Nil));
        let nparams = proto.params.len();
        if proto.vararg && args.len() > nparams {
            frame.varargs = args.split_off(nparams);
        }
        args.resize(nparams, Value::Nil);
        for (&slot, value) in proto.params.iter().zip(args) {
            self.declare(&mut frame, slot, value);
        }
        match self.block(&mut frame, &proto.body)? {
            Flow::Return(values) => Ok(values),
            Flow::Normal | Flow::Break => Ok(Vec::new()),
        }
    }

    fn block(&mut self, frame: &mut Frame<'_>, block: &Block) -> R<Flow> {
        for stat in block {
            match self.stat(frame, stat)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    fn stat(&mut self, frame: &mut Frame<'_>, stat: &Stat) -> R<Flow> {
        self.step()?;
        match stat {
            // One name, one value: no list to build (loops are full of
            // these).
            Stat::Local { slots, values }
                if slots.len() == 1 && values.len() == 1 && !values[0].is_multi() =>
            {
                let value = self.eval(frame, &values[0])?;
                self.declare(frame, slots[0], value);
            }
            Stat::Local { slots, values } => {
                let mut values = self.exprs(frame, values)?;
                values.resize(slots.len(), Value::Nil);
                for (&slot, value) in slots.iter().zip(values) {
                    self.declare(frame, slot, value);
                }
            }
            Stat::LocalFunction { slot, proto } => {
                // Declared first: the function sees itself.
                self.declare(frame, *slot, Value::Nil);
                let f = self.closure(frame, proto);
                frame.set(*slot, f);
            }
            Stat::Assign {
                targets,
                values,
                line,
            } => self.assign(frame, targets, values, *line)?,
            Stat::Call(call) => {
                self.call_expr(frame, call)?;
            }
            Stat::Do(body) => return self.block(frame, body),
            Stat::While { cond, body } => {
                while self.eval(frame, cond)?.truthy() {
                    // A step each time round, an empty body's too.
                    self.step()?;
                    match self.block(frame, body)? {
                        Flow::Normal => {}
                        Flow::Break => break,
                        flow => return Ok(flow),
                    }
                }
            }
            Stat::Repeat { body, cond } => loop {
                self.step()?;
                match self.block(frame, body)? {
                    Flow::Normal => {}
                    Flow::Break => break,
                    flow => return Ok(flow),
                }
                if self.eval(frame, cond)?.truthy() {
                    break;
                }
            },
            Stat::If { arms, otherwise } => {
                for (cond, body) in arms {
                    if self.eval(frame, cond)?.truthy() {
                        return self.block(frame, body);
                    }
                }
                if let Some(body) = otherwise {
                    return self.block(frame, body);
                }
            }
            Stat::NumericFor {
                var,
                start,
                limit,
                step,
                body,
                line,
            } => {
                let start = self.eval(frame, start)?;
                let limit = self.eval(frame, limit)?;
                let step = match step {
                    Some(e) => self.eval(frame, e)?,
                    None => Value::Num(1.0),
                };
                self.set_line(*line);
                let Some(start) = start.to_num() else {
                    return Err(self.runtime_error("'for' initial value must be a number"));
                };
                let Some(limit) = limit.to_num() else {
                    return Err(self.runtime_error("'for' limit must be a number"));
                };
                let Some(step) = step.to_num() else {
                    return Err(self.runtime_error("'for' step must be a number"));
                };
                let mut i = start;
                while if step > 0.0 { i <= limit } else { i >= limit } {
                    self.declare(frame, *var, Value::Num(i));
                    match self.block(frame, body)? {
                        Flow::Normal => {}
                        Flow::Break => break,
                        flow => return Ok(flow),
                    }
                    self.step()?;
                    i += step;
                }
            }
            Stat::GenericFor {
                vars,
                values,
                body,
                line,
            } => {
                let mut init = self.exprs(frame, values)?;
                init.resize(3, Value::Nil);
                let mut control = init.pop().unwrap_or_default();
                let state = init.pop().unwrap_or_default();
                let f = init.pop().unwrap_or_default();
                loop {
                    self.set_line(*line);
                    let mut results = self.call(&f, vec![state.clone(), control.clone()])?;
                    let first = results.first().cloned().unwrap_or_default();
                    if first.is_nil() {
                        break;
                    }
                    control = first;
                    results.resize(vars.len(), Value::Nil);
                    for (&slot, value) in vars.iter().zip(results) {
                        self.declare(frame, slot, value);
                    }
                    match self.block(frame, body)? {
                        Flow::Normal => {}
                        Flow::Break => break,
                        flow => return Ok(flow),
                    }
                }
            }
            Stat::Return { values, line } => {
                self.set_line(*line);
                return Ok(Flow::Return(self.exprs(frame, values)?));
            }
            Stat::Break => return Ok(Flow::Break),
        }
        Ok(Flow::Normal)
    }

    /// Multiple assignment: every right-hand side is evaluated before any
    /// target is assigned.
    fn assign(
        &mut self,
        frame: &mut Frame<'_>,
        targets: &[Expr],
        values: &[Expr],
        line: u32,
    ) -> R<()> {
        // One local or shared variable, one value: no lists to build.
        if let ([target @ (Expr::Local(_) | Expr::Upvalue(_))], [value]) = (targets, values)
            && !value.is_multi()
        {
            let value = self.eval(frame, value)?;
            match target {
                Expr::Local(slot) => frame.set(*slot, value),
                Expr::Upvalue(i) => *frame.upvalues[*i as usize].borrow_mut() = value,
                _ => unreachable!("matched above"),
            }
            return Ok(());
        }
        // One indexed target, one value: its table and key, then the value.
        if let ([Expr::Index { obj, key, .. }], [value]) = (targets, values)
            && !value.is_multi()
        {
            let table = self.eval(frame, obj)?;
            let key = self.eval(frame, key)?;
            let value = self.eval(frame, value)?;
            self.set_line(line);
            // A plain table takes it at once; the rest (metatables, errors
            // that name the variable) go the whole way.
            if let Value::Table(t) = &table
                && t.borrow().meta.is_none()
            {
                self.lua.account(32);
                let result = t.borrow_mut().set(key, value);
                return result.map_err(|e| self.runtime_error(e.message()));
            }
            return self.set_index(&table, key, value, blame(frame, obj));
        }
        // The tables and keys of indexed targets are evaluated first, as
        // Lua evaluates them before the values.
        let mut places = Vec::with_capacity(targets.len());
        for target in targets {
            places.push(match target {
                Expr::Index { obj, key, .. } => {
                    Some((self.eval(frame, obj)?, self.eval(frame, key)?))
                }
                _ => None,
            });
        }
        let mut values = self.exprs(frame, values)?;
        values.resize(targets.len(), Value::Nil);
        self.set_line(line);
        // Lua assigns right to left.
        for ((target, place), value) in targets.iter().zip(places).zip(values).rev() {
            match target {
                Expr::Local(slot) => frame.set(*slot, value),
                Expr::Upvalue(i) => *frame.upvalues[*i as usize].borrow_mut() = value,
                Expr::Global(name, line) => {
                    self.set_line(*line);
                    let globals = Value::Table(self.lua.globals.clone());
                    self.set_index(&globals, Value::Str(name.clone()), value, Blame::Nothing)?;
                }
                Expr::Index { obj, .. } => {
                    if let Some((table, key)) = place {
                        self.set_index(&table, key, value, blame(frame, obj))?;
                    }
                }
                _ => unreachable!("the parser accepts only variables as targets"),
            }
        }
        Ok(())
    }

    fn closure(&mut self, frame: &Frame<'_>, proto: &Rc<Proto>) -> Value {
        let upvalues = proto
            .upvalues
            .iter()
            .map(|u| match u.from {
                UpvalueFrom::Local(slot) => match &frame.slots[slot as usize] {
                    Slot::Cell(c) => c.clone(),
                    // A captured local is always declared as a cell; one not
                    // yet declared (a forward reference) is nil.
                    Slot::Val(v) => self.lua.cell(v.clone()),
                },
                UpvalueFrom::Upvalue(i) => frame.upvalues[i as usize].clone(),
            })
            .collect();
        self.lua.account(64);
        Value::Function(Rc::new(Function::Lua {
            proto: proto.clone(),
            upvalues,
        }))
    }

    // Expressions.

    /// Evaluates a list: every expression to one value but the last, which
    /// gives all of its values.
    fn exprs(&mut self, frame: &mut Frame<'_>, exprs: &[Expr]) -> R<Vec<Value>> {
        let mut out = Vec::with_capacity(exprs.len());
        for (i, e) in exprs.iter().enumerate() {
            if i + 1 == exprs.len() && e.is_multi() {
                self.multi(frame, e, &mut out)?;
            } else {
                out.push(self.eval(frame, e)?);
            }
        }
        Ok(out)
    }

    /// Appends every value a call or `...` gives.
    fn multi(&mut self, frame: &mut Frame<'_>, e: &Expr, out: &mut Vec<Value>) -> R<()> {
        match e {
            Expr::Call(call) => out.extend(self.call_expr(frame, call)?),
            Expr::Vararg => out.extend(frame.varargs.iter().cloned()),
            _ => out.push(self.eval(frame, e)?),
        }
        Ok(())
    }

    fn call_expr(&mut self, frame: &mut Frame<'_>, call: &Call) -> NativeResult {
        let callee = self.eval(frame, &call.func)?;
        let (f, mut args, blame) = match &call.method {
            Some(name) => {
                let key = Value::Str(name.clone());
                self.set_line(call.line);
                let f = self.index(&callee, &key, blame(frame, &call.func))?;
                (f, vec![callee], Blame::Method(name))
            }
            None => (callee, Vec::new(), blame(frame, &call.func)),
        };
        for (i, e) in call.args.iter().enumerate() {
            if i + 1 == call.args.len() && e.is_multi() {
                self.multi(frame, e, &mut args)?;
            } else {
                args.push(self.eval(frame, e)?);
            }
        }
        self.set_line(call.line);
        self.call_named(&f, args, blame, call.method.is_some())
    }

    fn eval(&mut self, frame: &mut Frame<'_>, e: &Expr) -> R<Value> {
        Ok(match e {
            Expr::Nil => Value::Nil,
            Expr::True => Value::Bool(true),
            Expr::False => Value::Bool(false),
            Expr::Num(n) => Value::Num(*n),
            Expr::Str(s) => Value::Str(s.clone()),
            Expr::Vararg => frame.varargs.first().cloned().unwrap_or_default(),
            Expr::Local(slot) => frame.get(*slot),
            Expr::Upvalue(i) => frame.upvalues[*i as usize].borrow().clone(),
            Expr::Global(name, line) => {
                self.set_line(*line);
                let globals = Value::Table(self.lua.globals.clone());
                self.index(&globals, &Value::Str(name.clone()), Blame::Nothing)?
            }
            Expr::Index { obj, key, line } => {
                let o = self.eval(frame, obj)?;
                let k = self.eval(frame, key)?;
                self.set_line(*line);
                self.index(&o, &k, blame(frame, obj))?
            }
            Expr::Call(call) => self
                .call_expr(frame, call)?
                .into_iter()
                .next()
                .unwrap_or_default(),
            Expr::Function(proto) => self.closure(frame, proto),
            Expr::Paren(inner) => self.eval(frame, inner)?,
            Expr::Not(inner) => Value::Bool(!self.eval(frame, inner)?.truthy()),
            Expr::Neg { operand, line } => {
                let v = self.eval(frame, operand)?;
                self.set_line(*line);
                match v.to_num() {
                    Some(n) => Value::Num(-n),
                    None => {
                        let handler = self.lua.metamethod(&v, "__unm");
                        if handler.is_nil() {
                            let msg =
                                type_error("perform arithmetic on", blame(frame, operand), &v);
                            return Err(self.runtime_error(&msg));
                        }
                        self.first(&handler, vec![v.clone(), v])?
                    }
                }
            }
            Expr::Len { operand, line } => {
                let v = self.eval(frame, operand)?;
                self.set_line(*line);
                match &v {
                    Value::Str(s) => Value::Num(s.len() as f64),
                    Value::Table(t) => Value::Num(t.borrow().len() as f64),
                    _ => {
                        let msg = type_error("get length of", blame(frame, operand), &v);
                        return Err(self.runtime_error(&msg));
                    }
                }
            }
            Expr::Binary { op, lhs, rhs, line } => match op {
                BinOp::And => {
                    let l = self.eval(frame, lhs)?;
                    if l.truthy() {
                        self.eval(frame, rhs)?
                    } else {
                        l
                    }
                }
                BinOp::Or => {
                    let l = self.eval(frame, lhs)?;
                    if l.truthy() {
                        l
                    } else {
                        self.eval(frame, rhs)?
                    }
                }
                _ => {
                    let l = self.eval(frame, lhs)?;
                    let r = self.eval(frame, rhs)?;
                    self.set_line(*line);
                    self.binary(*op, l, r, (blame(frame, lhs), blame(frame, rhs)))?
                }
            },
            Expr::Table { items, line } => self.table(frame, items, *line)?,
        })
    }

    fn table(&mut self, frame: &mut Frame<'_>, items: &[Item], line: u32) -> R<Value> {
        let positional = items
            .iter()
            .filter(|i| matches!(i, Item::Positional(_)))
            .count();
        let mut t = self.lua.sized_table(positional, items.len() - positional);
        let mut n = 0usize;
        for (i, item) in items.iter().enumerate() {
            match item {
                Item::Positional(e) if i + 1 == items.len() && e.is_multi() => {
                    let mut values = Vec::new();
                    self.multi(frame, e, &mut values)?;
                    for v in values {
                        n += 1;
                        let _ = t.set(Value::Num(n as f64), v);
                    }
                }
                Item::Positional(e) => {
                    let v = self.eval(frame, e)?;
                    n += 1;
                    // A positive integer key is never refused.
                    let _ = t.set(Value::Num(n as f64), v);
                }
                Item::Keyed(k, v) => {
                    let k = self.eval(frame, k)?;
                    let v = self.eval(frame, v)?;
                    if let Err(e) = t.set(k, v) {
                        self.set_line(line);
                        return Err(self.runtime_error(e.message()));
                    }
                }
            }
        }
        self.lua.account(64 + 32 * items.len());
        Ok(self.lua.wrap(t))
    }

    /// The first result of calling `f`.
    fn first(&mut self, f: &Value, args: Vec<Value>) -> R<Value> {
        Ok(self.call(f, args)?.into_iter().next().unwrap_or_default())
    }

    // Operations with their metamethods.

    /// `obj[key]`, through `__index`.
    pub fn get(&mut self, obj: &Value, key: &Value) -> R<Value> {
        self.index(obj, key, Blame::Nothing)
    }

    fn index(&mut self, obj: &Value, key: &Value, blame: Blame<'_>) -> R<Value> {
        let mut obj = obj.clone();
        for _ in 0..100 {
            let handler = match &obj {
                Value::Table(t) => {
                    let v = t.borrow().get(key);
                    if !v.is_nil() {
                        return Ok(v);
                    }
                    let handler = self.lua.metamethod(&obj, "__index");
                    if handler.is_nil() {
                        return Ok(Value::Nil);
                    }
                    handler
                }
                _ => {
                    let handler = self.lua.metamethod(&obj, "__index");
                    if handler.is_nil() {
                        let msg = type_error("index", blame, &obj);
                        return Err(self.runtime_error(&msg));
                    }
                    handler
                }
            };
            if let Value::Function(_) = handler {
                return self.first(&handler, vec![obj, key.clone()]);
            }
            obj = handler;
        }
        Err(self.runtime_error("loop in gettable"))
    }

    /// `obj[key] = value`, through `__newindex`.
    fn set_index(&mut self, obj: &Value, key: Value, value: Value, blame: Blame<'_>) -> R<()> {
        let mut obj = obj.clone();
        for _ in 0..100 {
            let handler = match &obj {
                Value::Table(t) => {
                    let present = !t.borrow().get(&key).is_nil();
                    let handler = if present {
                        Value::Nil
                    } else {
                        self.lua.metamethod(&obj, "__newindex")
                    };
                    if handler.is_nil() {
                        self.lua.account(32);
                        return t
                            .borrow_mut()
                            .set(key, value)
                            .map_err(|e| self.runtime_error(e.message()));
                    }
                    handler
                }
                _ => {
                    let handler = self.lua.metamethod(&obj, "__newindex");
                    if handler.is_nil() {
                        let msg = type_error("index", blame, &obj);
                        return Err(self.runtime_error(&msg));
                    }
                    handler
                }
            };
            if let Value::Function(_) = handler {
                self.call(&handler, vec![obj, key, value])?;
                return Ok(());
            }
            obj = handler;
        }
        Err(self.runtime_error("loop in settable"))
    }

    fn binary(
        &mut self,
        op: BinOp,
        l: Value,
        r: Value,
        (left, right): (Blame<'_>, Blame<'_>),
    ) -> R<Value> {
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow => {
                if let (Some(a), Some(b)) = (l.to_num(), r.to_num()) {
                    return Ok(Value::Num(crate::arith(op, a, b)));
                }
                let event = match op {
                    BinOp::Add => "__add",
                    BinOp::Sub => "__sub",
                    BinOp::Mul => "__mul",
                    BinOp::Div => "__div",
                    BinOp::Mod => "__mod",
                    _ => "__pow",
                };
                let mut handler = self.lua.metamethod(&l, event);
                if handler.is_nil() {
                    handler = self.lua.metamethod(&r, event);
                }
                if handler.is_nil() {
                    // Lua blames the first operand that is not a number.
                    let (d, v) = if l.to_num().is_none() {
                        (left, &l)
                    } else {
                        (right, &r)
                    };
                    let msg = type_error("perform arithmetic on", d, v);
                    return Err(self.runtime_error(&msg));
                }
                self.first(&handler, vec![l, r])
            }
            BinOp::Concat => {
                if let (Some(a), Some(b)) = (l.to_bytes(), r.to_bytes()) {
                    self.check_alloc(a.len() + b.len())?;
                    // One allocation, of the exact size (an iterator of
                    // known length), not a buffer and then its copy.
                    let joined: Rc<[u8]> = a.iter().chain(b.iter()).copied().collect();
                    return Ok(Value::Str(joined));
                }
                let mut handler = self.lua.metamethod(&l, "__concat");
                if handler.is_nil() {
                    handler = self.lua.metamethod(&r, "__concat");
                }
                if handler.is_nil() {
                    let (d, v) = if l.to_bytes().is_some() {
                        (right, &r)
                    } else {
                        (left, &l)
                    };
                    let msg = type_error("concatenate", d, v);
                    return Err(self.runtime_error(&msg));
                }
                self.first(&handler, vec![l, r])
            }
            BinOp::Eq => Ok(Value::Bool(self.equals(&l, &r)?)),
            BinOp::Ne => Ok(Value::Bool(!self.equals(&l, &r)?)),
            BinOp::Lt => Ok(Value::Bool(self.less(&l, &r, false)?)),
            BinOp::Le => Ok(Value::Bool(self.less(&l, &r, true)?)),
            BinOp::Gt => Ok(Value::Bool(self.less(&r, &l, false)?)),
            BinOp::Ge => Ok(Value::Bool(self.less(&r, &l, true)?)),
            BinOp::And | BinOp::Or => unreachable!("short-circuit operators are evaluated lazily"),
        }
    }

    /// `==`: raw equality, or `__eq` for two tables sharing the handler.
    pub fn equals(&mut self, l: &Value, r: &Value) -> R<bool> {
        if l == r {
            return Ok(true);
        }
        if let (Value::Table(_), Value::Table(_)) = (l, r) {
            let a = self.lua.metamethod(l, "__eq");
            let b = self.lua.metamethod(r, "__eq");
            if !a.is_nil() && a == b {
                return Ok(self.first(&a, vec![l.clone(), r.clone()])?.truthy());
            }
        }
        Ok(false)
    }

    /// `<` (or `<=` when `or_equal`): numbers, strings (byte order, as C's
    /// locale compares), or `__lt`/`__le`.
    pub fn less(&mut self, l: &Value, r: &Value, or_equal: bool) -> R<bool> {
        match (l, r) {
            (Value::Num(a), Value::Num(b)) => return Ok(if or_equal { a <= b } else { a < b }),
            (Value::Str(a), Value::Str(b)) => {
                return Ok(if or_equal { a <= b } else { a < b });
            }
            _ => {}
        }
        if l.type_name() == r.type_name() {
            let event = if or_equal { "__le" } else { "__lt" };
            let a = self.lua.metamethod(l, event);
            let b = self.lua.metamethod(r, event);
            if !a.is_nil() && a == b {
                return Ok(self.first(&a, vec![l.clone(), r.clone()])?.truthy());
            }
            if or_equal {
                // Lua 5.1 falls back to `not (r < l)` through `__lt`.
                let a = self.lua.metamethod(l, "__lt");
                let b = self.lua.metamethod(r, "__lt");
                if !a.is_nil() && a == b {
                    return Ok(!self.first(&a, vec![r.clone(), l.clone()])?.truthy());
                }
            }
            return Err(
                self.runtime_error(&format!("attempt to compare two {} values", l.type_name()))
            );
        }
        Err(self.runtime_error(&format!(
            "attempt to compare {} with {}",
            l.type_name(),
            r.type_name()
        )))
    }

    /// Refuses an allocation of `bytes` the host says there is no room for
    /// (`not enough memory`).
    pub fn check_alloc(&mut self, bytes: usize) -> R<()> {
        if bytes > crate::MAX_STRING || !self.host.room_for(self.lua, bytes) {
            return Err(Error::new(Value::str(b"not enough memory")));
        }
        Ok(())
    }
}

impl Lua {
    /// The handler for `event` in `v`'s metatable, or nil.
    pub fn metamethod(&self, v: &Value, event: &str) -> Value {
        let meta = match v {
            Value::Table(t) => t.borrow().meta.clone(),
            Value::Str(_) => self.string_meta.clone(),
            _ => None,
        };
        match meta {
            Some(m) => m.borrow().get(&Value::str(event.as_bytes())),
            None => Value::Nil,
        }
    }
}
