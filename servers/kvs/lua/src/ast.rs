//! The parsed program: statements and expressions with every variable
//! resolved to a local slot, a shared variable (upvalue) or a global.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;

/// A compiled function: what a closure runs.
pub struct Proto {
    /// The chunk name errors show (`user_script`).
    pub chunk: Rc<[u8]>,
    pub line: u32,
    /// Slots of the parameters, in order.
    pub params: Vec<u16>,
    pub vararg: bool,
    /// One entry per local slot: its name, and whether a closure shares
    /// it (then it lives in a [`crate::value::Cell`]).
    pub locals: Vec<LocalInfo>,
    /// Where each shared variable comes from in the enclosing function.
    pub upvalues: Vec<Upvalue>,
    pub body: Block,
}

pub struct LocalInfo {
    pub name: Rc<[u8]>,
    pub captured: bool,
}

/// A shared variable: a local of the enclosing function, or one of its
/// own shared variables.
pub struct Upvalue {
    pub name: Rc<[u8]>,
    pub from: UpvalueFrom,
}

#[derive(Clone, Copy)]
pub enum UpvalueFrom {
    Local(u16),
    Upvalue(u16),
}

pub type Block = Vec<Stat>;

pub enum Stat {
    Local {
        slots: Vec<u16>,
        values: Vec<Expr>,
    },
    LocalFunction {
        slot: u16,
        proto: Rc<Proto>,
    },
    Assign {
        targets: Vec<Expr>,
        values: Vec<Expr>,
        line: u32,
    },
    Call(Call),
    Do(Block),
    While {
        cond: Expr,
        body: Block,
    },
    Repeat {
        body: Block,
        cond: Expr,
    },
    If {
        arms: Vec<(Expr, Block)>,
        otherwise: Option<Block>,
    },
    NumericFor {
        var: u16,
        start: Expr,
        limit: Expr,
        step: Option<Expr>,
        body: Block,
        line: u32,
    },
    GenericFor {
        vars: Vec<u16>,
        values: Vec<Expr>,
        body: Block,
        line: u32,
    },
    Return {
        values: Vec<Expr>,
        line: u32,
    },
    Break,
}

pub struct Call {
    pub func: Expr,
    /// `obj:name(...)`: the method's name.
    pub method: Option<Rc<[u8]>>,
    pub args: Vec<Expr>,
    pub line: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    /// `+ - * / % ^`: what Lua folds on numerals, and codes with the
    /// right operand's constants made first.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow
        )
    }
}

pub enum Expr {
    Nil,
    True,
    False,
    Num(f64),
    Str(Rc<[u8]>),
    Vararg,
    Local(u16),
    Upvalue(u16),
    /// A global, read or assigned on `line`.
    Global(Rc<[u8]>, u32),
    Index {
        obj: Box<Expr>,
        key: Box<Expr>,
        line: u32,
    },
    Call(Box<Call>),
    Function(Rc<Proto>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        line: u32,
    },
    Not(Box<Expr>),
    Neg {
        operand: Box<Expr>,
        line: u32,
    },
    Len {
        operand: Box<Expr>,
        line: u32,
    },
    Table {
        items: Vec<Item>,
        line: u32,
    },
    /// `(e)`: one value even where `e` gives several.
    Paren(Box<Expr>),
}

/// An item of a table constructor.
pub enum Item {
    /// A list item: the next index.
    Positional(Expr),
    Keyed(Expr, Expr),
}

impl Expr {
    /// Whether the expression may give several values (a call or `...`).
    pub fn is_multi(&self) -> bool {
        matches!(self, Expr::Call(_) | Expr::Vararg)
    }
}
