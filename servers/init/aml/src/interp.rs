//! The interpreter: loads tables (a table is executed like a method whose
//! declarations fill the namespace) and evaluates named objects, running
//! methods as it goes.
//!
//! It reads and writes no memory or I/O port of the machine. A field of a
//! PCI configuration region reads the configuration space through the
//! [`Host`]; any field the AML wrote is kept in the interpreter (a shadow)
//! and read back from there, so that `_PIC` storing the interrupt model in
//! a firmware variable and `_PRT` reading it work. A read of a memory or
//! I/O field that was never written is an error ([`Error::Refused`]).
//!
//! A runaway method cannot hang init: every evaluation has a step budget
//! and a call depth limit.

use crate::name::{NameString, Path, Seg};
use crate::stream::Reader;
use crate::value::{Object, Value};
use crate::{Error, Host};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

/// Steps (terms evaluated) one evaluation may take.
const STEP_BUDGET: u64 = 5_000_000;
/// Nested method calls.
const MAX_DEPTH: usize = 16;
/// Nested terms and expressions, calls included: what bounds the
/// machine stack an evaluation takes. A level takes about 1.1 KiB
/// optimized (the workspace builds this crate optimized in every
/// profile), so 96 levels fit well within init's 256 KiB stack.
const MAX_NESTING: usize = 96;

/// `Ones` and every result are cut to the table's integer width: 32 bits
/// for a DSDT of revision 1, 64 otherwise.
#[derive(Clone, Copy)]
struct Width(u64);

/// A method's (or a table's) locals, arguments and scope.
struct Frame {
    scope: Path,
    args: Vec<Value>,
    locals: [Value; 8],
}

impl Frame {
    fn new(scope: Path, args: Vec<Value>) -> Self {
        Self {
            scope,
            args,
            locals: Default::default(),
        }
    }
}

/// How a term list ended.
enum Flow {
    Normal,
    Return(Value),
    Break,
    Continue,
}

/// Where a value is stored.
enum Target {
    None,
    Local(usize),
    Arg(usize),
    Name(Path),
    Element(Rc<RefCell<Vec<Value>>>, usize),
    Byte(Rc<RefCell<Vec<u8>>>, usize),
}

/// The namespace and what evaluates it.
pub struct Interpreter<H: Host> {
    objects: BTreeMap<Path, Object>,
    /// Values the AML wrote to region fields, by field.
    shadow: BTreeMap<Path, u64>,
    host: H,
    width: Width,
    steps: u64,
    depth: usize,
    nesting: usize,
}

impl<H: Host> Interpreter<H> {
    /// An empty namespace with the predefined scopes; `revision` is the
    /// DSDT's (it sets the integer width).
    pub fn new(host: H, revision: u8) -> Self {
        let mut objects = BTreeMap::new();
        objects.insert(Path::root(), Object::Node { device: false });
        for seg in [*b"_GPE", *b"_PR_", *b"_SB_", *b"_SI_", *b"_TZ_"] {
            objects.insert(Path::root().child(seg), Object::Node { device: false });
        }
        Self {
            objects,
            shadow: BTreeMap::new(),
            host,
            width: Width(if revision < 2 { 0xffff_ffff } else { u64::MAX }),
            steps: 0,
            depth: 0,
            nesting: 0,
        }
    }

    /// The host the interpreter reads configuration space through.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// Executes a table's AML (the bytes after its 36-byte header).
    pub fn load(&mut self, aml: &[u8]) -> Result<(), Error> {
        self.steps = 0;
        let mut frame = Frame::new(Path::root(), Vec::new());
        let mut r = Reader::new(aml);
        self.term_list(&mut r, aml.len(), &mut frame)?;
        Ok(())
    }

    /// Whether `path` names an object.
    pub fn exists(&self, path: &Path) -> bool {
        self.objects.contains_key(path)
    }

    /// The devices directly under `scope`.
    pub fn devices_under(&self, scope: &Path) -> Vec<Path> {
        self.objects
            .iter()
            .filter(|(p, o)| {
                matches!(o, Object::Node { device: true })
                    && p.0.len() == scope.0.len() + 1
                    && p.0.starts_with(&scope.0)
            })
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Evaluates the object at `path`: a method is run with `args`, data
    /// is returned, a field is read.
    pub fn evaluate(&mut self, path: &Path, args: Vec<Value>) -> Result<Value, Error> {
        self.steps = 0;
        self.depth = 0;
        self.nesting = 0;
        self.value_of(path, args)
    }

    /// Evaluates `path` if it exists.
    pub fn evaluate_if_present(&mut self, path: &Path) -> Result<Option<Value>, Error> {
        if self.exists(path) {
            self.evaluate(path, Vec::new()).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Where a name written in `scope` points: for a single segment the
    /// first of the scope and the scopes above it that has it.
    pub fn lookup(&self, name: &NameString, scope: &Path) -> Option<Path> {
        if name.searched() {
            let mut s = scope.clone();
            loop {
                let p = s.child(name.segs[0]);
                if self.objects.contains_key(&p) {
                    return Some(p);
                }
                s.0.pop()?;
            }
        }
        let p = name.resolve(scope);
        self.objects.contains_key(&p).then_some(p)
    }

    /// Declares `path` a field of `bits` bits at `bit_offset` of `buffer`
    /// (`CreateField` and its fixed-size forms).
    fn buffer_field(
        &mut self,
        path: Path,
        buffer: Rc<RefCell<Vec<u8>>>,
        bit_offset: u64,
        bits: u64,
    ) -> Result<Flow, Error> {
        self.insert(
            path,
            Object::BufferField {
                buffer,
                bit_offset,
                bits,
            },
        );
        Ok(Flow::Normal)
    }

    fn insert(&mut self, path: Path, object: Object) {
        // A declaration by `External` gives way to the definition.
        if matches!(object, Object::External { .. }) && self.objects.contains_key(&path) {
            return;
        }
        self.objects.insert(path, object);
    }

    /// Goes one level deeper into terms (see [`MAX_NESTING`]).
    fn enter(&mut self, at: usize) -> Result<(), Error> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            self.nesting -= 1;
            return Err(Error::TooNested { at });
        }
        Ok(())
    }

    fn step(&mut self, at: usize) -> Result<(), Error> {
        self.steps += 1;
        if self.steps > STEP_BUDGET {
            return Err(Error::TooLong { at });
        }
        Ok(())
    }

    fn term_list(&mut self, r: &mut Reader, end: usize, f: &mut Frame) -> Result<Flow, Error> {
        while r.pos < end {
            match self.term(r, end, f)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    /// Opens a scope object (`Scope`, `Device` and the like) and runs
    /// what it holds in it.
    fn scope_body(
        &mut self,
        r: &mut Reader,
        end: usize,
        path: Path,
        f: &mut Frame,
    ) -> Result<Flow, Error> {
        let saved = core::mem::replace(&mut f.scope, path);
        let flow = self.term_list(r, end, f);
        f.scope = saved;
        r.pos = end;
        // A `Return` inside a scope ends the table or method around it.
        match flow? {
            Flow::Return(v) => Ok(Flow::Return(v)),
            _ => Ok(Flow::Normal),
        }
    }

    /// One term: a declaration, a statement, or an expression whose value
    /// is dropped. `list_end` is where the enclosing list ends (an `Else`
    /// is looked for only before it).
    fn term(&mut self, r: &mut Reader, list_end: usize, f: &mut Frame) -> Result<Flow, Error> {
        self.enter(r.pos)?;
        let flow = self.term_here(r, list_end, f);
        self.nesting -= 1;
        flow
    }

    fn term_here(&mut self, r: &mut Reader, list_end: usize, f: &mut Frame) -> Result<Flow, Error> {
        let at = r.pos;
        self.step(at)?;
        match r.peek()? {
            0x10 => {
                r.pos += 1;
                let end = r.package_end()?;
                let name = r.name()?;
                r.within(end)?;
                let path = self
                    .lookup(&name, &f.scope)
                    .unwrap_or_else(|| name.resolve(&f.scope));
                if !self.objects.contains_key(&path) {
                    self.insert(path.clone(), Object::Node { device: false });
                }
                self.scope_body(r, end, path, f)
            }
            0x08 => {
                r.pos += 1;
                let name = r.name()?;
                let value = self.term_arg(r, f)?;
                self.insert(name.resolve(&f.scope), Object::Data(value));
                Ok(Flow::Normal)
            }
            0x14 => {
                r.pos += 1;
                let end = r.package_end()?;
                let name = r.name()?;
                let flags = r.byte()?;
                r.within(end)?;
                let code: Rc<[u8]> = Rc::from(&r.code[r.pos..end]);
                r.pos = end;
                self.insert(
                    name.resolve(&f.scope),
                    Object::Method {
                        code,
                        args: flags & 7,
                    },
                );
                Ok(Flow::Normal)
            }
            0x15 => {
                r.pos += 1;
                let name = r.name()?;
                let _kind = r.byte()?;
                let args = r.byte()?;
                self.insert(name.resolve(&f.scope), Object::External { args: args & 7 });
                Ok(Flow::Normal)
            }
            0x06 => {
                r.pos += 1;
                let source = r.name()?;
                let alias = r.name()?;
                let target = self
                    .lookup(&source, &f.scope)
                    .unwrap_or_else(|| source.resolve(&f.scope));
                self.insert(alias.resolve(&f.scope), Object::Alias(target));
                Ok(Flow::Normal)
            }
            0x5b => self.extended_term(r, f),
            0xa0 => {
                r.pos += 1;
                let end = r.package_end()?;
                let taken = self.integer(r, f)? != 0;
                r.within(end)?;
                let flow = if taken {
                    self.term_list(r, end, f)?
                } else {
                    Flow::Normal
                };
                r.pos = end;
                if r.pos < list_end && r.peek()? == 0xa1 {
                    r.pos += 1;
                    let else_end = r.package_end()?;
                    if !taken {
                        let flow = self.term_list(r, else_end, f)?;
                        r.pos = else_end;
                        return Ok(flow);
                    }
                    r.pos = else_end;
                }
                Ok(flow)
            }
            0xa1 => {
                // An `Else` with no `If` before it: skipped.
                r.pos += 1;
                r.pos = r.package_end()?;
                Ok(Flow::Normal)
            }
            0xa2 => {
                r.pos += 1;
                let end = r.package_end()?;
                let condition = r.pos;
                loop {
                    r.pos = condition;
                    self.step(condition)?;
                    if self.integer(r, f)? == 0 {
                        break;
                    }
                    r.within(end)?;
                    match self.term_list(r, end, f)? {
                        Flow::Break => break,
                        Flow::Return(v) => {
                            r.pos = end;
                            return Ok(Flow::Return(v));
                        }
                        Flow::Normal | Flow::Continue => {}
                    }
                }
                r.pos = end;
                Ok(Flow::Normal)
            }
            0xa3 | 0xcc => {
                r.pos += 1;
                Ok(Flow::Normal)
            }
            0xa4 => {
                r.pos += 1;
                // `Return` with nothing after it in its list returns 0.
                if r.pos >= list_end {
                    return Ok(Flow::Return(Value::Integer(0)));
                }
                let v = self.term_arg(r, f)?;
                Ok(Flow::Return(self.deref(v)?))
            }
            0xa5 => {
                r.pos += 1;
                Ok(Flow::Break)
            }
            0x9f => {
                r.pos += 1;
                Ok(Flow::Continue)
            }
            0x86 => {
                r.pos += 1;
                self.target(r, f)?;
                self.term_arg(r, f)?;
                Ok(Flow::Normal)
            }
            op @ (0x8a | 0x8b | 0x8c | 0x8d | 0x8f) => {
                r.pos += 1;
                let buffer = self.buffer(r, f)?;
                let index = self.integer(r, f)?;
                let name = r.name()?;
                let (bit_offset, bits) = match op {
                    0x8a => (index * 8, 32),
                    0x8b => (index * 8, 16),
                    0x8c => (index * 8, 8),
                    0x8d => (index, 1),
                    _ => (index * 8, 64),
                };
                self.buffer_field(name.resolve(&f.scope), buffer, bit_offset, bits)
            }
            _ => {
                self.term_arg(r, f)?;
                Ok(Flow::Normal)
            }
        }
    }

    /// The terms after the extended-opcode prefix 0x5b.
    fn extended_term(&mut self, r: &mut Reader, f: &mut Frame) -> Result<Flow, Error> {
        let at = r.pos;
        let Some(op) = r.peek_second() else {
            return Err(Error::Truncated { at });
        };
        match op {
            0x82..=0x85 => {
                r.pos += 2;
                let end = r.package_end()?;
                let name = r.name()?;
                match op {
                    0x83 => drop(r.bytes(6)?),
                    0x84 => drop(r.bytes(3)?),
                    _ => {}
                }
                r.within(end)?;
                let path = name.resolve(&f.scope);
                self.insert(path.clone(), Object::Node { device: op == 0x82 });
                self.scope_body(r, end, path, f)
            }
            0x80 => {
                r.pos += 2;
                let name = r.name()?;
                let space = r.byte()?;
                let offset = self.integer(r, f)?;
                let length = self.integer(r, f)?;
                self.insert(
                    name.resolve(&f.scope),
                    Object::Region {
                        space,
                        offset,
                        length,
                    },
                );
                Ok(Flow::Normal)
            }
            0x81 | 0x86 | 0x87 => {
                r.pos += 2;
                let end = r.package_end()?;
                let region = r.name()?;
                let region = match op {
                    0x81 => Some(
                        self.lookup(&region, &f.scope)
                            .unwrap_or_else(|| region.resolve(&f.scope)),
                    ),
                    0x86 => {
                        r.name()?;
                        None
                    }
                    _ => {
                        r.name()?;
                        self.term_arg(r, f)?;
                        None
                    }
                };
                r.byte()?;
                r.within(end)?;
                self.field_list(r, end, region, f)?;
                r.pos = end;
                Ok(Flow::Normal)
            }
            0x01 => {
                r.pos += 2;
                let name = r.name()?;
                r.byte()?;
                self.insert(name.resolve(&f.scope), Object::Opaque("mutex"));
                Ok(Flow::Normal)
            }
            0x02 => {
                r.pos += 2;
                let name = r.name()?;
                self.insert(name.resolve(&f.scope), Object::Opaque("event"));
                Ok(Flow::Normal)
            }
            0x13 => {
                r.pos += 2;
                let buffer = self.buffer(r, f)?;
                let bit_offset = self.integer(r, f)?;
                let bits = self.integer(r, f)?;
                let name = r.name()?;
                self.buffer_field(name.resolve(&f.scope), buffer, bit_offset, bits)
            }
            0x88 => {
                r.pos += 2;
                let name = r.name()?;
                for _ in 0..3 {
                    self.term_arg(r, f)?;
                }
                self.insert(name.resolve(&f.scope), Object::Opaque("data region"));
                Ok(Flow::Normal)
            }
            0x21 | 0x22 => {
                // Stall and Sleep: nothing here waits on hardware.
                r.pos += 2;
                self.term_arg(r, f)?;
                Ok(Flow::Normal)
            }
            0x24 | 0x26 | 0x27 => {
                r.pos += 2;
                self.target(r, f)?;
                Ok(Flow::Normal)
            }
            0x32 => {
                r.pos += 2;
                let kind = r.byte()?;
                let code = r.le(4)?;
                let arg = self.integer(r, f)?;
                Err(Error::Fatal { kind, code, arg })
            }
            _ => {
                self.term_arg(r, f)?;
                Ok(Flow::Normal)
            }
        }
    }

    /// A field list: each named unit becomes a field of `region` (`None`:
    /// an index or bank field, which evaluation does not read).
    fn field_list(
        &mut self,
        r: &mut Reader,
        end: usize,
        region: Option<Path>,
        f: &Frame,
    ) -> Result<(), Error> {
        let mut bit = 0u64;
        while r.pos < end {
            match r.peek()? {
                0x00 => {
                    r.pos += 1;
                    bit += r.package_length()?;
                }
                0x01 => drop(r.bytes(3)?),
                0x03 => drop(r.bytes(4)?),
                0x02 => {
                    return Err(Error::Unsupported {
                        what: "a connection field",
                        at: r.pos,
                    });
                }
                _ => {
                    let at = r.pos;
                    let seg: Seg = r.bytes(4)?.try_into().map_err(|_| Error::BadName { at })?;
                    let bits = r.package_length()?;
                    let object = match &region {
                        Some(region) => Object::Field {
                            region: region.clone(),
                            bit_offset: bit,
                            bits,
                        },
                        None => Object::Opaque("index or bank field"),
                    };
                    self.insert(f.scope.child(seg), object);
                    bit += bits;
                }
            }
        }
        Ok(())
    }

    /// An operand that must be a buffer (the source of a buffer field).
    fn buffer(&mut self, r: &mut Reader, f: &mut Frame) -> Result<Rc<RefCell<Vec<u8>>>, Error> {
        let at = r.pos;
        match self.term_arg(r, f).and_then(|v| self.deref(v))? {
            Value::Buffer(buffer) => Ok(buffer),
            _ => Err(Error::Type {
                expected: "a buffer",
                at,
            }),
        }
    }

    fn integer(&mut self, r: &mut Reader, f: &mut Frame) -> Result<u64, Error> {
        let at = r.pos;
        let v = self.term_arg(r, f)?;
        self.integer_from(v, at)
    }

    fn integer_from(&mut self, v: Value, at: usize) -> Result<u64, Error> {
        match self.deref(v)? {
            Value::Integer(i) => Ok(i),
            Value::Buffer(b) => Ok(b
                .borrow()
                .iter()
                .take(8)
                .rev()
                .fold(0u64, |v, &x| v << 8 | u64::from(x))
                & self.width.0),
            Value::String(s) => {
                let s = s.trim_start_matches("0x").trim_start_matches("0X");
                Ok(u64::from_str_radix(s, 16).unwrap_or(0) & self.width.0)
            }
            _ => Err(Error::Type {
                expected: "an integer",
                at,
            }),
        }
    }

    /// A name inside a value resolved to what it names (a package's
    /// element read through `DerefOf`).
    fn deref(&mut self, v: Value) -> Result<Value, Error> {
        match v {
            Value::Name { name, scope } => {
                let path = self
                    .lookup(&name, &scope)
                    .ok_or_else(|| Error::NotFound(format!("{}", name.resolve(&scope))))?;
                self.value_of(&path, Vec::new())
            }
            v => Ok(v),
        }
    }

    /// The value of the object at `path` (a method is called with `args`).
    fn value_of(&mut self, path: &Path, args: Vec<Value>) -> Result<Value, Error> {
        let object = self
            .objects
            .get(path)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("{path}")))?;
        match object {
            Object::Method { code, .. } => self.call(path, &code, args),
            Object::Data(v) => Ok(v),
            Object::Field { .. } => self.read_field(path),
            Object::BufferField {
                buffer,
                bit_offset,
                bits,
            } => Ok(Value::Integer(read_bits(
                &buffer.borrow(),
                bit_offset,
                bits,
            ))),
            Object::Alias(target) => self.value_of(&target, args),
            Object::External { .. } => Err(Error::NotFound(format!("{path}"))),
            Object::Node { .. } | Object::Region { .. } | Object::Opaque(_) => {
                Ok(Value::Object(path.clone()))
            }
        }
    }

    fn call(&mut self, path: &Path, code: &[u8], args: Vec<Value>) -> Result<Value, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::TooDeep(format!("{path}")));
        }
        self.depth += 1;
        let mut frame = Frame::new(path.clone(), args);
        let mut r = Reader::new(code);
        let flow = self.term_list(&mut r, code.len(), &mut frame);
        self.depth -= 1;
        match flow.map_err(|e| e.inside(path))? {
            Flow::Return(v) => Ok(v),
            _ => Ok(Value::Integer(0)),
        }
    }

    /// A name in an expression: a method is called with the arguments that
    /// follow it.
    fn name_value(&mut self, r: &mut Reader, f: &mut Frame) -> Result<Value, Error> {
        let name = r.name()?;
        if name.segs.is_empty() {
            return Ok(Value::Uninitialized);
        }
        let path = self
            .lookup(&name, &f.scope)
            .ok_or_else(|| Error::NotFound(format!("{}", name.resolve(&f.scope))))?;
        let args = match self.objects.get(&path) {
            Some(Object::Method { args, .. } | Object::External { args }) => *args,
            _ => 0,
        };
        let mut values = Vec::new();
        for _ in 0..args {
            let v = self.term_arg(r, f)?;
            values.push(v);
        }
        self.value_of(&path, values)
    }

    fn read_field(&mut self, path: &Path) -> Result<Value, Error> {
        if let Some(&v) = self.shadow.get(path) {
            return Ok(Value::Integer(v));
        }
        let Some(Object::Field {
            region,
            bit_offset,
            bits,
        }) = self.objects.get(path).cloned()
        else {
            return Err(Error::NotFound(format!("{path}")));
        };
        let Some(Object::Region { space, offset, .. }) = self.objects.get(&region).cloned() else {
            return Err(Error::NotFound(format!("{region}")));
        };
        if space != 2 {
            return Err(Error::Refused {
                field: format!("{path}"),
                space,
                address: offset + bit_offset / 8,
            });
        }
        if bits > 64 {
            return Err(Error::Unsupported {
                what: "a configuration-space field wider than 64 bits",
                at: 0,
            });
        }
        // The region's device: its _ADR on the bus of the bridge above it.
        let device = region.parent();
        let address = self.integer_of(&device.child(*b"_ADR"))?.unwrap_or(0);
        let bus = self
            .integer_of(&device.parent().child(*b"_BBN"))?
            .unwrap_or(0);
        let first = offset + bit_offset / 8;
        let last = offset + (bit_offset + bits).div_ceil(8);
        let mut bytes = Vec::new();
        for at in first..last {
            let at = u16::try_from(at).map_err(|_| Error::Unsupported {
                what: "a configuration-space field past 64 KiB",
                at: 0,
            })?;
            bytes.push(self.host.pci_read(
                bus as u8,
                (address >> 16) as u8,
                (address & 0xffff) as u8,
                at,
            ));
        }
        Ok(Value::Integer(read_bits(&bytes, bit_offset % 8, bits)))
    }

    /// The integer `path` evaluates to, if it exists.
    fn integer_of(&mut self, path: &Path) -> Result<Option<u64>, Error> {
        if !self.exists(path) {
            return Ok(None);
        }
        let v = self.value_of(path, Vec::new())?;
        self.integer_from(v, 0).map(Some)
    }

    fn target(&mut self, r: &mut Reader, f: &mut Frame) -> Result<Target, Error> {
        let at = r.pos;
        match r.peek()? {
            0x00 => {
                r.pos += 1;
                Ok(Target::None)
            }
            op @ 0x60..=0x67 => {
                r.pos += 1;
                Ok(Target::Local(usize::from(op - 0x60)))
            }
            op @ 0x68..=0x6e => {
                r.pos += 1;
                Ok(Target::Arg(usize::from(op - 0x68)))
            }
            0x5b if r.peek_second() == Some(0x31) => {
                r.pos += 2;
                Ok(Target::None)
            }
            0x88 => {
                r.pos += 1;
                let source = self.term_arg(r, f)?;
                let index = self.integer(r, f)? as usize;
                self.target(r, f)?;
                match self.deref(source)? {
                    Value::Package(p) => Ok(Target::Element(p, index)),
                    Value::Buffer(b) => Ok(Target::Byte(b, index)),
                    _ => Err(Error::Type {
                        expected: "a package or buffer",
                        at,
                    }),
                }
            }
            _ if r.at_name() => {
                let name = r.name()?;
                let path = self
                    .lookup(&name, &f.scope)
                    .ok_or_else(|| Error::NotFound(format!("{}", name.resolve(&f.scope))))?;
                Ok(Target::Name(path))
            }
            op => Err(Error::Opcode {
                op: u16::from(op),
                at,
            }),
        }
    }

    fn store(&mut self, target: Target, value: Value, f: &mut Frame) -> Result<(), Error> {
        match target {
            Target::None => {}
            Target::Local(i) => f.locals[i] = value,
            Target::Arg(i) => {
                if f.args.len() <= i {
                    f.args.resize(i + 1, Value::Uninitialized);
                }
                f.args[i] = value;
            }
            Target::Element(p, i) => {
                let mut p = p.borrow_mut();
                let slot = p.get_mut(i).ok_or(Error::Index { index: i as u64 })?;
                *slot = value;
            }
            Target::Byte(b, i) => {
                let v = self.integer_from(value, 0)?;
                let mut b = b.borrow_mut();
                let slot = b.get_mut(i).ok_or(Error::Index { index: i as u64 })?;
                *slot = v as u8;
            }
            Target::Name(path) => match self.objects.get(&path).cloned() {
                Some(Object::Field { .. }) => {
                    let v = self.integer_from(value, 0)?;
                    self.shadow.insert(path, v);
                }
                Some(Object::BufferField {
                    buffer,
                    bit_offset,
                    bits,
                }) => {
                    let v = self.integer_from(value, 0)?;
                    write_bits(&mut buffer.borrow_mut(), bit_offset, bits, v);
                }
                Some(Object::Alias(to)) => self.store(Target::Name(to), value, f)?,
                _ => {
                    self.objects.insert(path, Object::Data(value));
                }
            },
        }
        Ok(())
    }

    /// The value a target holds (for `Increment`, `Decrement`, `SizeOf`).
    fn read_target(&mut self, target: &Target, f: &Frame) -> Result<Value, Error> {
        match target {
            Target::None => Ok(Value::Uninitialized),
            Target::Local(i) => Ok(f.locals[*i].clone()),
            Target::Arg(i) => Ok(f.args.get(*i).cloned().unwrap_or_default()),
            Target::Name(p) => self.value_of(p, Vec::new()),
            Target::Element(p, i) => p
                .borrow()
                .get(*i)
                .cloned()
                .ok_or(Error::Index { index: *i as u64 }),
            Target::Byte(b, i) => b
                .borrow()
                .get(*i)
                .map(|&x| Value::Integer(u64::from(x)))
                .ok_or(Error::Index { index: *i as u64 }),
        }
    }

    /// An expression's value.
    fn term_arg(&mut self, r: &mut Reader, f: &mut Frame) -> Result<Value, Error> {
        self.enter(r.pos)?;
        let v = self.term_arg_here(r, f);
        self.nesting -= 1;
        v
    }

    fn term_arg_here(&mut self, r: &mut Reader, f: &mut Frame) -> Result<Value, Error> {
        let at = r.pos;
        self.step(at)?;
        let mask = self.width.0;
        let op = r.peek()?;
        if r.at_name() {
            return self.name_value(r, f);
        }
        r.pos += 1;
        let v = match op {
            0x00 => Value::Integer(0),
            0x01 => Value::Integer(1),
            0xff => Value::Integer(mask),
            0x0a => Value::Integer(r.le(1)?),
            0x0b => Value::Integer(r.le(2)?),
            0x0c => Value::Integer(r.le(4)?),
            0x0e => Value::Integer(r.le(8)? & mask),
            0x0d => {
                let start = r.pos;
                while r.byte()? != 0 {}
                Value::String(String::from_utf8_lossy(&r.code[start..r.pos - 1]).into_owned())
            }
            0x11 => {
                let end = r.package_end()?;
                let size = self.integer(r, f)?;
                let size = usize::try_from(size)
                    .ok()
                    .filter(|&s| s <= 1 << 20)
                    .ok_or(Error::Index { index: size })?;
                r.within(end)?;
                let given = &r.code[r.pos..end];
                let mut bytes = vec![0u8; size.max(given.len())];
                bytes[..given.len()].copy_from_slice(given);
                r.pos = end;
                Value::buffer(bytes)
            }
            0x12 | 0x13 => {
                let end = r.package_end()?;
                let count = if op == 0x12 {
                    u64::from(r.byte()?)
                } else {
                    self.integer(r, f)?
                };
                r.within(end)?;
                let mut elements = Vec::new();
                while r.pos < end {
                    if r.at_name() {
                        elements.push(Value::Name {
                            name: r.name()?,
                            scope: f.scope.clone(),
                        });
                    } else {
                        let v = self.term_arg(r, f)?;
                        elements.push(v);
                    }
                }
                r.pos = end;
                let count = usize::try_from(count)
                    .ok()
                    .filter(|&c| c <= 1 << 16)
                    .ok_or(Error::Index { index: count })?;
                if elements.len() < count {
                    elements.resize(count, Value::Uninitialized);
                }
                Value::package(elements)
            }
            0x60..=0x67 => f.locals[usize::from(op - 0x60)].clone(),
            0x68..=0x6e => f
                .args
                .get(usize::from(op - 0x68))
                .cloned()
                .unwrap_or_default(),
            0x70 => {
                let v = self.term_arg(r, f)?;
                let t = self.target(r, f)?;
                self.store(t, v.clone(), f)?;
                v
            }
            0x9d => {
                let v = self.term_arg(r, f)?;
                let t = self.target(r, f)?;
                self.store(t, v.clone(), f)?;
                v
            }
            0x72 | 0x74 | 0x77 | 0x79 | 0x7a | 0x7b | 0x7c | 0x7d | 0x7e | 0x7f | 0x85 => {
                let a = self.integer(r, f)?;
                let b = self.integer(r, f)?;
                let v = match op {
                    0x72 => a.wrapping_add(b),
                    0x74 => a.wrapping_sub(b),
                    0x77 => a.wrapping_mul(b),
                    0x79 => a.checked_shl(b as u32).unwrap_or(0),
                    0x7a => a.checked_shr(b as u32).unwrap_or(0),
                    0x7b => a & b,
                    0x7c => !(a & b),
                    0x7d => a | b,
                    0x7e => !(a | b),
                    0x7f => a ^ b,
                    _ => a.checked_rem(b).ok_or(Error::DivideByZero { at })?,
                } & mask;
                let t = self.target(r, f)?;
                self.store(t, Value::Integer(v), f)?;
                Value::Integer(v)
            }
            0x78 => {
                let a = self.integer(r, f)?;
                let b = self.integer(r, f)?;
                if b == 0 {
                    return Err(Error::DivideByZero { at });
                }
                let remainder = self.target(r, f)?;
                self.store(remainder, Value::Integer(a % b), f)?;
                let quotient = self.target(r, f)?;
                self.store(quotient, Value::Integer(a / b), f)?;
                Value::Integer(a / b)
            }
            0x75 | 0x76 => {
                let t = self.target(r, f)?;
                let old = self.read_target(&t, f)?;
                let old = self.integer_from(old, at)?;
                let v = if op == 0x75 {
                    old.wrapping_add(1)
                } else {
                    old.wrapping_sub(1)
                } & mask;
                self.store(t, Value::Integer(v), f)?;
                Value::Integer(v)
            }
            0x80..=0x82 => {
                let a = self.integer(r, f)?;
                let v = match op {
                    0x80 => !a & mask,
                    0x81 => 64 - u64::from(a.leading_zeros()),
                    _ => {
                        if a == 0 {
                            0
                        } else {
                            u64::from(a.trailing_zeros()) + 1
                        }
                    }
                };
                let t = self.target(r, f)?;
                self.store(t, Value::Integer(v), f)?;
                Value::Integer(v)
            }
            0x83 => {
                let v = self.term_arg(r, f)?;
                match self.deref(v)? {
                    Value::Object(p) => self.value_of(&p, Vec::new())?,
                    v => v,
                }
            }
            0x87 => {
                let t = self.target(r, f)?;
                let v = self.read_target(&t, f)?;
                let size = match self.deref(v)? {
                    Value::Buffer(b) => b.borrow().len(),
                    Value::Package(p) => p.borrow().len(),
                    Value::String(s) => s.len(),
                    _ => {
                        return Err(Error::Type {
                            expected: "a buffer, package or string",
                            at,
                        });
                    }
                };
                Value::Integer(size as u64)
            }
            0x88 => {
                let source = self.term_arg(r, f)?;
                let index = self.integer(r, f)?;
                let v = match self.deref(source)? {
                    Value::Package(p) => p.borrow().get(index as usize).cloned(),
                    Value::Buffer(b) => b
                        .borrow()
                        .get(index as usize)
                        .map(|&x| Value::Integer(u64::from(x))),
                    Value::String(s) => s
                        .as_bytes()
                        .get(index as usize)
                        .map(|&x| Value::Integer(u64::from(x))),
                    _ => {
                        return Err(Error::Type {
                            expected: "a package, buffer or string",
                            at,
                        });
                    }
                }
                .ok_or(Error::Index { index })?;
                let t = self.target(r, f)?;
                self.store(t, v.clone(), f)?;
                v
            }
            0x90 | 0x91 => {
                let a = self.integer(r, f)? != 0;
                let b = self.integer(r, f)? != 0;
                truth(if op == 0x90 { a && b } else { a || b }, mask)
            }
            0x92 => match r.peek()? {
                c @ 0x93..=0x95 => {
                    r.pos += 1;
                    let ord = self.compare(r, f)?;
                    let v = match c {
                        0x93 => ord.is_ne(),
                        0x94 => ord.is_le(),
                        _ => ord.is_ge(),
                    };
                    truth(v, mask)
                }
                _ => {
                    let a = self.integer(r, f)?;
                    truth(a == 0, mask)
                }
            },
            0x93..=0x95 => {
                let ord = self.compare(r, f)?;
                let v = match op {
                    0x93 => ord.is_eq(),
                    0x94 => ord.is_gt(),
                    _ => ord.is_lt(),
                };
                truth(v, mask)
            }
            0x99 => {
                let a = self.integer(r, f)?;
                let t = self.target(r, f)?;
                self.store(t, Value::Integer(a), f)?;
                Value::Integer(a)
            }
            0x96..=0x98 => {
                let v = self.term_arg(r, f)?;
                let v = match (op, self.deref(v)?) {
                    (0x96, Value::Integer(i)) => {
                        let n = if mask == u64::MAX { 8 } else { 4 };
                        Value::buffer(i.to_le_bytes()[..n].to_vec())
                    }
                    (0x96, Value::String(s)) => {
                        let mut b = s.into_bytes();
                        b.push(0);
                        Value::buffer(b)
                    }
                    (0x96, v @ Value::Buffer(_)) => v,
                    (0x97, Value::Integer(i)) => Value::String(format!("{i}")),
                    (0x98, Value::Integer(i)) => Value::String(format!("{i:X}")),
                    (_, v @ Value::String(_)) => v,
                    (_, Value::Buffer(b)) => {
                        let b = b.borrow();
                        let parts: Vec<String> = b
                            .iter()
                            .map(|x| {
                                if op == 0x97 {
                                    format!("{x}")
                                } else {
                                    format!("0x{x:02X}")
                                }
                            })
                            .collect();
                        Value::String(parts.join(","))
                    }
                    _ => {
                        return Err(Error::Type {
                            expected: "an integer, string or buffer",
                            at,
                        });
                    }
                };
                let t = self.target(r, f)?;
                self.store(t, v.clone(), f)?;
                v
            }
            0x5b => {
                let op = r.byte()?;
                match op {
                    0x12 => {
                        let found = match r.peek()? {
                            _ if r.at_name() => {
                                let name = r.name()?;
                                self.lookup(&name, &f.scope).is_some()
                            }
                            _ => {
                                self.target(r, f)?;
                                true
                            }
                        };
                        self.target(r, f)?;
                        truth(found, mask)
                    }
                    0x23 => {
                        // Acquire: nothing else runs AML here; never times out.
                        self.target(r, f)?;
                        r.le(2)?;
                        Value::Integer(0)
                    }
                    0x25 => {
                        self.target(r, f)?;
                        self.term_arg(r, f)?;
                        Value::Integer(0)
                    }
                    0x30 => Value::Integer(0),
                    0x33 => Value::Integer(0),
                    op => {
                        return Err(Error::Opcode {
                            op: 0x5b00 | u16::from(op),
                            at,
                        });
                    }
                }
            }
            op => {
                return Err(Error::Opcode {
                    op: u16::from(op),
                    at,
                });
            }
        };
        Ok(v)
    }

    /// Two operands compared as integers, or as strings or buffers byte by
    /// byte.
    fn compare(&mut self, r: &mut Reader, f: &mut Frame) -> Result<core::cmp::Ordering, Error> {
        let at = r.pos;
        let a = self.term_arg(r, f)?;
        let a = self.deref(a)?;
        let b = self.term_arg(r, f)?;
        match a {
            Value::String(s) => {
                let b = match self.deref(b)? {
                    Value::String(t) => t.into_bytes(),
                    Value::Buffer(t) => t.borrow().clone(),
                    _ => {
                        return Err(Error::Type {
                            expected: "a string",
                            at,
                        });
                    }
                };
                Ok(s.as_bytes().cmp(&b))
            }
            Value::Buffer(s) => {
                let b = match self.deref(b)? {
                    Value::Buffer(t) => t.borrow().clone(),
                    Value::String(t) => t.into_bytes(),
                    _ => {
                        return Err(Error::Type {
                            expected: "a buffer",
                            at,
                        });
                    }
                };
                Ok(s.borrow().as_slice().cmp(&b))
            }
            a => {
                let a = self.integer_from(a, at)?;
                let b = self.integer_from(b, at)?;
                Ok(a.cmp(&b))
            }
        }
    }
}

/// AML's true (all ones) and false.
fn truth(v: bool, mask: u64) -> Value {
    Value::Integer(if v { mask } else { 0 })
}

/// `bits` bits (at most 64) of `bytes` from bit `offset`; bits past the
/// bytes read as zero.
fn read_bits(bytes: &[u8], offset: u64, bits: u64) -> u64 {
    let mut v = 0u64;
    for i in 0..bits.min(64) {
        let bit = offset + i;
        let byte = bytes.get((bit / 8) as usize).copied().unwrap_or(0);
        if byte >> (bit % 8) & 1 != 0 {
            v |= 1 << i;
        }
    }
    v
}

/// Writes the low `bits` bits of `v` into `bytes` from bit `offset`; bits
/// past the bytes are dropped.
fn write_bits(bytes: &mut [u8], offset: u64, bits: u64, v: u64) {
    for i in 0..bits.min(64) {
        let bit = offset + i;
        if let Some(byte) = bytes.get_mut((bit / 8) as usize) {
            let mask = 1u8 << (bit % 8);
            if v >> i & 1 != 0 {
                *byte |= mask;
            } else {
                *byte &= !mask;
            }
        }
    }
}
