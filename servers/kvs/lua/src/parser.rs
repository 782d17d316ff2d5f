//! Lua 5.1's grammar: tokens to a [`Proto`], every name resolved.
//!
//! A recursive-descent parser with Lua's operator priorities, its error
//! texts (`'=' expected near 'x'`, `'end' expected (to close 'if' at line
//! 3) near '<eof>'`) and its limits: 200 locals per function, 60 shared
//! variables, 200 levels of nesting (`chunk has too many syntax levels`),
//! which also bounds the interpreter's recursion over the tree.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::ast::{BinOp, Block, Call, Expr, Item, LocalInfo, Proto, Stat, Upvalue, UpvalueFrom};
use crate::lexer::{LexError, Lexer, Token};

const MAX_LOCALS: usize = 200;
const MAX_UPVALUES: usize = 60;
const MAX_LEVELS: usize = 200;

/// A syntax error, formatted as Lua formats one: `chunk:line: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError(pub Vec<u8>);

/// One function being parsed.
struct FuncState {
    line: u32,
    params: Vec<u16>,
    vararg: bool,
    locals: Vec<LocalInfo>,
    /// Locals in scope, innermost last: name and slot.
    active: Vec<(Rc<[u8]>, u16)>,
    /// How many of `active` each open block started with.
    blocks: Vec<(usize, bool)>,
    upvalues: Vec<Upvalue>,
    /// Loops open around the current point (`break` needs one).
    loops: usize,
}

enum Var {
    Local(u16),
    Upvalue(u16),
}

pub struct Parser<'s> {
    lexer: Lexer<'s>,
    chunk: Rc<[u8]>,
    token: Token,
    line: u32,
    text: &'s [u8],
    /// The line of the token before `token` (for the ambiguous-call check).
    last_line: u32,
    ahead: Option<(Token, u32, &'s [u8])>,
    funcs: Vec<FuncState>,
    levels: usize,
}

type R<T> = Result<T, SyntaxError>;

/// Parses a chunk into the function that runs it (a vararg function of no
/// parameters).
pub fn parse(src: &[u8], chunk: &[u8]) -> R<Rc<Proto>> {
    let mut lexer = Lexer::new(src);
    let chunk: Rc<[u8]> = Rc::from(chunk);
    let (token, line, text) = lexer.next().map_err(|e| lex_error(&chunk, e))?;
    let mut p = Parser {
        lexer,
        chunk,
        token,
        line,
        text,
        last_line: line,
        ahead: None,
        funcs: Vec::new(),
        levels: 0,
    };
    p.open_function(0);
    p.funcs[0].vararg = true;
    let body = p.block()?;
    if p.token != Token::Eof {
        return Err(p.error_near("'<eof>' expected"));
    }
    Ok(p.close_function(body))
}

/// Lua 5.1's folding of arithmetic on two numerals: not a division or
/// modulo by zero, nor a NaN result.
fn fold(op: BinOp, a: f64, b: f64) -> Option<f64> {
    if !op.is_arithmetic() || (matches!(op, BinOp::Div | BinOp::Mod) && b == 0.0) {
        return None;
    }
    let n = crate::arith(op, a, b);
    (!n.is_nan()).then_some(n)
}

fn lex_error(chunk: &[u8], e: LexError) -> SyntaxError {
    let mut out = Vec::new();
    out.extend_from_slice(chunk);
    out.extend_from_slice(format!(":{}: {} near '", e.line, e.message).as_bytes());
    out.extend_from_slice(&e.near);
    out.push(b'\'');
    SyntaxError(out)
}

impl<'s> Parser<'s> {
    fn advance(&mut self) -> R<()> {
        self.last_line = self.line;
        let (token, line, text) = match self.ahead.take() {
            Some(t) => t,
            None => self.lexer.next().map_err(|e| lex_error(&self.chunk, e))?,
        };
        self.token = token;
        self.line = line;
        self.text = text;
        Ok(())
    }

    fn peek(&mut self) -> R<&Token> {
        if self.ahead.is_none() {
            let next = self.lexer.next().map_err(|e| lex_error(&self.chunk, e))?;
            self.ahead = Some(next);
        }
        Ok(self.ahead.as_ref().map(|a| &a.0).unwrap_or(&Token::Eof))
    }

    fn error_at(&self, line: u32, message: &str) -> SyntaxError {
        let mut out = Vec::new();
        out.extend_from_slice(&self.chunk);
        out.extend_from_slice(format!(":{line}: {message}").as_bytes());
        SyntaxError(out)
    }

    /// `message near 'token'`, at the current token's line.
    fn error_near(&self, message: &str) -> SyntaxError {
        let mut e = self.error_at(self.line, message);
        e.0.extend_from_slice(b" near '");
        e.0.extend_from_slice(self.text);
        e.0.push(b'\'');
        e
    }

    fn is(&self, sym: &str) -> bool {
        matches!(&self.token, Token::Sym(s) if *s == sym)
    }

    fn accept(&mut self, sym: &str) -> R<bool> {
        if self.is(sym) {
            self.advance()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, sym: &str) -> R<()> {
        if !self.accept(sym)? {
            return Err(self.error_near(&format!("'{sym}' expected")));
        }
        Ok(())
    }

    /// Expects `what` closing `who` opened at `line`.
    fn expect_match(&mut self, what: &str, who: &str, line: u32) -> R<()> {
        if self.accept(what)? {
            return Ok(());
        }
        if line == self.line {
            return Err(self.error_near(&format!("'{what}' expected")));
        }
        Err(self.error_near(&format!(
            "'{what}' expected (to close '{who}' at line {line})"
        )))
    }

    fn name(&mut self) -> R<Rc<[u8]>> {
        match &self.token {
            Token::Name(n) => {
                let n = n.clone();
                self.advance()?;
                Ok(n)
            }
            _ => Err(self.error_near("'<name>' expected")),
        }
    }

    fn enter(&mut self) -> R<()> {
        self.levels += 1;
        if self.levels > MAX_LEVELS {
            return Err(self.error_near("chunk has too many syntax levels"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.levels -= 1;
    }

    // Scopes and names.

    fn open_function(&mut self, line: u32) {
        self.funcs.push(FuncState {
            line,
            params: Vec::new(),
            vararg: false,
            locals: Vec::new(),
            active: Vec::new(),
            blocks: vec![(0, false)],
            upvalues: Vec::new(),
            loops: 0,
        });
    }

    fn close_function(&mut self, body: Block) -> Rc<Proto> {
        let f = self
            .funcs
            .pop()
            .unwrap_or_else(|| unreachable!("a function is open"));
        let mut body = body;
        crate::zeros::one_zero(&mut body);
        Rc::new(Proto {
            chunk: self.chunk.clone(),
            line: f.line,
            params: f.params,
            vararg: f.vararg,
            locals: f.locals,
            upvalues: f.upvalues,
            body,
        })
    }

    fn func(&mut self) -> &mut FuncState {
        let last = self.funcs.len() - 1;
        &mut self.funcs[last]
    }

    /// Declares a local (not yet in scope: [`Self::activate`]).
    fn declare(&mut self, name: Rc<[u8]>) -> R<u16> {
        let f = self
            .funcs
            .last()
            .unwrap_or_else(|| unreachable!("a function is open"));
        if f.active.len() >= MAX_LOCALS {
            let line = f.line;
            let what = if line == 0 {
                String::from("main function")
            } else {
                format!("function at line {line}")
            };
            return Err(self.error_near(&format!(
                "too many local variables (limit is {MAX_LOCALS}) in {what}"
            )));
        }
        let f = self.func();
        let slot = f.locals.len() as u16;
        f.locals.push(LocalInfo {
            name,
            captured: false,
        });
        Ok(slot)
    }

    fn activate(&mut self, slots: &[u16]) {
        let f = self.func();
        for &slot in slots {
            let name = f.locals[slot as usize].name.clone();
            f.active.push((name, slot));
        }
    }

    fn open_block(&mut self, is_loop: bool) {
        let f = self.func();
        let n = f.active.len();
        f.blocks.push((n, is_loop));
        if is_loop {
            f.loops += 1;
        }
    }

    fn close_block(&mut self) {
        let f = self.func();
        if let Some((n, is_loop)) = f.blocks.pop() {
            f.active.truncate(n);
            if is_loop {
                f.loops -= 1;
            }
        }
    }

    /// Resolves `name` in function `level` (and those enclosing it).
    fn resolve(&mut self, level: usize, name: &Rc<[u8]>) -> R<Option<Var>> {
        let f = &mut self.funcs[level];
        if let Some(&(_, slot)) = f.active.iter().rev().find(|(n, _)| n == name) {
            return Ok(Some(Var::Local(slot)));
        }
        if let Some(i) = f.upvalues.iter().position(|u| &u.name == name) {
            return Ok(Some(Var::Upvalue(i as u16)));
        }
        if level == 0 {
            return Ok(None);
        }
        let from = match self.resolve(level - 1, name)? {
            None => return Ok(None),
            Some(Var::Local(slot)) => {
                self.funcs[level - 1].locals[slot as usize].captured = true;
                UpvalueFrom::Local(slot)
            }
            Some(Var::Upvalue(i)) => UpvalueFrom::Upvalue(i),
        };
        let f = &mut self.funcs[level];
        if f.upvalues.len() >= MAX_UPVALUES {
            let line = f.line;
            return Err(self.error_near(&format!(
                "function at line {line} has more than {MAX_UPVALUES} upvalues"
            )));
        }
        let f = &mut self.funcs[level];
        f.upvalues.push(Upvalue {
            name: name.clone(),
            from,
        });
        Ok(Some(Var::Upvalue((f.upvalues.len() - 1) as u16)))
    }

    fn variable(&mut self, name: Rc<[u8]>) -> R<Expr> {
        let level = self.funcs.len() - 1;
        Ok(match self.resolve(level, &name)? {
            Some(Var::Local(slot)) => Expr::Local(slot),
            Some(Var::Upvalue(i)) => Expr::Upvalue(i),
            None => Expr::Global(name, self.last_line),
        })
    }

    // Statements.

    fn block_follows(&self) -> bool {
        matches!(self.token, Token::Eof)
            || matches!(&self.token, Token::Sym(s) if matches!(*s, "else" | "elseif" | "end" | "until"))
    }

    fn block(&mut self) -> R<Block> {
        self.enter()?;
        let mut stats = Vec::new();
        while !self.block_follows() {
            if self.is("return") {
                let line = self.line;
                self.advance()?;
                let values = if self.block_follows() || self.is(";") {
                    Vec::new()
                } else {
                    self.expr_list()?
                };
                self.accept(";")?;
                stats.push(Stat::Return { values, line });
                break;
            }
            if self.is("break") {
                self.advance()?;
                if self.funcs.last().is_some_and(|f| f.loops == 0) {
                    return Err(self.error_near("no loop to break"));
                }
                self.accept(";")?;
                stats.push(Stat::Break);
                break;
            }
            stats.push(self.statement()?);
            self.accept(";")?;
        }
        self.leave();
        Ok(stats)
    }

    /// A block in a scope of its own.
    fn scoped_block(&mut self, is_loop: bool) -> R<Block> {
        self.open_block(is_loop);
        let block = self.block();
        self.close_block();
        block
    }

    fn statement(&mut self) -> R<Stat> {
        let line = self.line;
        match &self.token {
            Token::Sym("if") => self.if_stat(line),
            Token::Sym("while") => {
                self.advance()?;
                let cond = self.expr()?;
                self.expect("do")?;
                let body = self.scoped_block(true)?;
                self.expect_match("end", "while", line)?;
                Ok(Stat::While { cond, body })
            }
            Token::Sym("do") => {
                self.advance()?;
                let body = self.scoped_block(false)?;
                self.expect_match("end", "do", line)?;
                Ok(Stat::Do(body))
            }
            Token::Sym("for") => self.for_stat(line),
            Token::Sym("repeat") => {
                self.advance()?;
                // The condition sees the body's locals.
                self.open_block(true);
                let body = self.block()?;
                self.expect_match("until", "repeat", line)?;
                let cond = self.expr()?;
                self.close_block();
                Ok(Stat::Repeat { body, cond })
            }
            Token::Sym("function") => {
                self.advance()?;
                let name = self.name()?;
                let mut target = self.variable(name)?;
                let mut is_method = false;
                while self.is(".") || self.is(":") {
                    is_method = self.is(":");
                    self.advance()?;
                    let key = self.name()?;
                    target = Expr::Index {
                        obj: Box::new(target),
                        key: Box::new(Expr::Str(key)),
                        line: self.line,
                    };
                    if is_method {
                        break;
                    }
                }
                let proto = self.function_body(is_method, line)?;
                Ok(Stat::Assign {
                    targets: vec![target],
                    values: vec![Expr::Function(proto)],
                    line,
                })
            }
            Token::Sym("local") => {
                self.advance()?;
                if self.accept("function")? {
                    let name = self.name()?;
                    let slot = self.declare(name)?;
                    // In scope inside its own body, for recursion.
                    self.activate(&[slot]);
                    let proto = self.function_body(false, line)?;
                    return Ok(Stat::LocalFunction { slot, proto });
                }
                let mut names = vec![self.name()?];
                while self.accept(",")? {
                    names.push(self.name()?);
                }
                let values = if self.accept("=")? {
                    self.expr_list()?
                } else {
                    Vec::new()
                };
                let mut slots = Vec::new();
                for name in names {
                    slots.push(self.declare(name)?);
                }
                self.activate(&slots);
                Ok(Stat::Local { slots, values })
            }
            _ => self.expr_stat(),
        }
    }

    fn if_stat(&mut self, line: u32) -> R<Stat> {
        let mut arms = Vec::new();
        let mut otherwise = None;
        self.advance()?;
        loop {
            let cond = self.expr()?;
            self.expect("then")?;
            let body = self.scoped_block(false)?;
            arms.push((cond, body));
            if self.accept("elseif")? {
                continue;
            }
            if self.accept("else")? {
                otherwise = Some(self.scoped_block(false)?);
            }
            break;
        }
        self.expect_match("end", "if", line)?;
        Ok(Stat::If { arms, otherwise })
    }

    fn for_stat(&mut self, line: u32) -> R<Stat> {
        self.advance()?;
        let first = self.name()?;
        if self.accept("=")? {
            let start = self.expr()?;
            self.expect(",")?;
            let limit = self.expr()?;
            let step = if self.accept(",")? {
                Some(self.expr()?)
            } else {
                None
            };
            self.expect("do")?;
            self.open_block(true);
            let var = self.declare(first)?;
            self.activate(&[var]);
            let body = self.block();
            self.close_block();
            let body = body?;
            self.expect_match("end", "for", line)?;
            return Ok(Stat::NumericFor {
                var,
                start,
                limit,
                step,
                body,
                line,
            });
        }
        if !self.is(",") && !self.is("in") {
            return Err(self.error_near("'=' or 'in' expected"));
        }
        let mut names = vec![first];
        while self.accept(",")? {
            names.push(self.name()?);
        }
        self.expect("in")?;
        let values = self.expr_list()?;
        self.expect("do")?;
        self.open_block(true);
        let mut vars = Vec::new();
        for name in names {
            vars.push(self.declare(name)?);
        }
        self.activate(&vars);
        let body = self.block();
        self.close_block();
        let body = body?;
        self.expect_match("end", "for", line)?;
        Ok(Stat::GenericFor {
            vars,
            values,
            body,
            line,
        })
    }

    /// A call statement or an assignment.
    fn expr_stat(&mut self) -> R<Stat> {
        let line = self.line;
        let first = self.suffixed()?;
        if let Expr::Call(call) = first {
            return Ok(Stat::Call(*call));
        }
        let mut targets = vec![first];
        loop {
            let assignable = targets.last().is_some_and(|t| {
                matches!(
                    t,
                    Expr::Local(_) | Expr::Upvalue(_) | Expr::Global(..) | Expr::Index { .. }
                )
            });
            if !assignable {
                return Err(self.error_near("syntax error"));
            }
            if !self.accept(",")? {
                break;
            }
            targets.push(self.suffixed()?);
        }
        self.expect("=")?;
        let values = self.expr_list()?;
        Ok(Stat::Assign {
            targets,
            values,
            line,
        })
    }

    fn function_body(&mut self, is_method: bool, line: u32) -> R<Rc<Proto>> {
        self.enter()?;
        self.open_function(line);
        if is_method {
            let slot = self.declare(Rc::from(&b"self"[..]))?;
            self.activate(&[slot]);
            self.func().params.push(slot);
        }
        self.expect("(")?;
        if !self.is(")") {
            loop {
                if self.accept("...")? {
                    self.func().vararg = true;
                    break;
                }
                let name = match &self.token {
                    Token::Name(_) => self.name()?,
                    _ => return Err(self.error_near("<name> or '...' expected")),
                };
                let slot = self.declare(name)?;
                self.activate(&[slot]);
                self.func().params.push(slot);
                if !self.accept(",")? {
                    break;
                }
            }
        }
        self.expect(")")?;
        let body = self.block()?;
        self.expect_match("end", "function", line)?;
        self.leave();
        Ok(self.close_function(body))
    }

    // Expressions.

    fn expr_list(&mut self) -> R<Vec<Expr>> {
        let mut list = vec![self.expr()?];
        while self.accept(",")? {
            list.push(self.expr()?);
        }
        Ok(list)
    }

    pub fn expr(&mut self) -> R<Expr> {
        self.sub_expr(0)
    }

    fn binary_op(&self) -> Option<(BinOp, u8, u8)> {
        let Token::Sym(s) = &self.token else {
            return None;
        };
        Some(match *s {
            "+" => (BinOp::Add, 6, 6),
            "-" => (BinOp::Sub, 6, 6),
            "*" => (BinOp::Mul, 7, 7),
            "/" => (BinOp::Div, 7, 7),
            "%" => (BinOp::Mod, 7, 7),
            "^" => (BinOp::Pow, 10, 9),
            ".." => (BinOp::Concat, 5, 4),
            "==" => (BinOp::Eq, 3, 3),
            "~=" => (BinOp::Ne, 3, 3),
            "<" => (BinOp::Lt, 3, 3),
            "<=" => (BinOp::Le, 3, 3),
            ">" => (BinOp::Gt, 3, 3),
            ">=" => (BinOp::Ge, 3, 3),
            "and" => (BinOp::And, 2, 2),
            "or" => (BinOp::Or, 1, 1),
            _ => return None,
        })
    }

    /// An expression whose binary operators bind tighter than `limit`.
    fn sub_expr(&mut self, limit: u8) -> R<Expr> {
        self.enter()?;
        const UNARY: u8 = 8;
        let line = self.line;
        let mut lhs = if self.accept("not")? {
            // Folded as Lua folds it: a constant operand never becomes
            // a constant of the function (`not -0` leaves `0` its own).
            match self.sub_expr(UNARY)? {
                Expr::Nil | Expr::False => Expr::True,
                Expr::True | Expr::Num(_) | Expr::Str(_) => Expr::False,
                operand => Expr::Not(Box::new(operand)),
            }
        } else if self.accept("-")? {
            let operand = self.sub_expr(UNARY)?;
            match operand {
                // Folded as Lua folds constants.
                Expr::Num(n) => Expr::Num(-n),
                operand => Expr::Neg {
                    operand: Box::new(operand),
                    line,
                },
            }
        } else if self.accept("#")? {
            Expr::Len {
                operand: Box::new(self.sub_expr(UNARY)?),
                line,
            }
        } else {
            self.simple()?
        };
        while let Some((op, left, right)) = self.binary_op() {
            if left <= limit {
                break;
            }
            let line = self.line;
            self.advance()?;
            let rhs = self.sub_expr(right)?;
            lhs = match (&lhs, &rhs) {
                (Expr::Num(a), Expr::Num(b)) if let Some(n) = fold(op, *a, *b) => Expr::Num(n),
                _ => Expr::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    line,
                },
            };
        }
        self.leave();
        Ok(lhs)
    }

    fn simple(&mut self) -> R<Expr> {
        let e = match &self.token {
            Token::Num(n) => Expr::Num(*n),
            Token::Str(s) => Expr::Str(s.clone()),
            Token::Sym("nil") => Expr::Nil,
            Token::Sym("true") => Expr::True,
            Token::Sym("false") => Expr::False,
            Token::Sym("...") => {
                if !self.funcs.last().is_some_and(|f| f.vararg) {
                    return Err(self.error_near("cannot use '...' outside a vararg function"));
                }
                Expr::Vararg
            }
            Token::Sym("{") => return self.table(),
            Token::Sym("function") => {
                let line = self.line;
                self.advance()?;
                return Ok(Expr::Function(self.function_body(false, line)?));
            }
            _ => return self.suffixed(),
        };
        self.advance()?;
        Ok(e)
    }

    fn primary(&mut self) -> R<Expr> {
        match &self.token {
            Token::Name(_) => {
                let name = self.name()?;
                self.variable(name)
            }
            Token::Sym("(") => {
                let line = self.line;
                self.advance()?;
                let e = self.expr()?;
                self.expect_match(")", "(", line)?;
                // A numeral stays one in parentheses, so that Lua's
                // folding goes on through them: `(1 - 1) / -2` is a -0.
                Ok(match e {
                    Expr::Num(n) => Expr::Num(n),
                    e => Expr::Paren(Box::new(e)),
                })
            }
            _ => Err(self.error_near("unexpected symbol")),
        }
    }

    fn suffixed(&mut self) -> R<Expr> {
        let mut e = self.primary()?;
        loop {
            let line = self.line;
            match &self.token {
                Token::Sym(".") => {
                    self.advance()?;
                    let key = self.name()?;
                    e = Expr::Index {
                        obj: Box::new(e),
                        key: Box::new(Expr::Str(key)),
                        line,
                    };
                }
                Token::Sym("[") => {
                    self.advance()?;
                    let key = self.expr()?;
                    self.expect("]")?;
                    e = Expr::Index {
                        obj: Box::new(e),
                        key: Box::new(key),
                        line,
                    };
                }
                Token::Sym(":") => {
                    self.advance()?;
                    let method = self.name()?;
                    let args = self.call_args()?;
                    e = Expr::Call(Box::new(Call {
                        func: e,
                        method: Some(method),
                        args,
                        line,
                    }));
                }
                Token::Sym("(") | Token::Str(_) | Token::Sym("{") => {
                    let args = self.call_args()?;
                    e = Expr::Call(Box::new(Call {
                        func: e,
                        method: None,
                        args,
                        line,
                    }));
                }
                _ => return Ok(e),
            }
        }
    }

    fn call_args(&mut self) -> R<Vec<Expr>> {
        match &self.token {
            Token::Str(s) => {
                let s = s.clone();
                self.advance()?;
                Ok(vec![Expr::Str(s)])
            }
            Token::Sym("{") => Ok(vec![self.table()?]),
            Token::Sym("(") => {
                if self.line != self.last_line {
                    return Err(self.error_near("ambiguous syntax (function call x new statement)"));
                }
                let line = self.line;
                self.advance()?;
                let args = if self.is(")") {
                    Vec::new()
                } else {
                    self.expr_list()?
                };
                self.expect_match(")", "(", line)?;
                Ok(args)
            }
            _ => Err(self.error_near("function arguments expected")),
        }
    }

    fn table(&mut self) -> R<Expr> {
        let line = self.line;
        self.expect("{")?;
        let mut items = Vec::new();
        while !self.is("}") {
            if self.is("[") {
                self.advance()?;
                let key = self.expr()?;
                self.expect("]")?;
                self.expect("=")?;
                items.push(Item::Keyed(key, self.expr()?));
            } else if matches!(self.token, Token::Name(_))
                && matches!(self.peek()?, Token::Sym("="))
            {
                let key = self.name()?;
                self.expect("=")?;
                items.push(Item::Keyed(Expr::Str(key), self.expr()?));
            } else {
                items.push(Item::Positional(self.expr()?));
            }
            if !self.accept(",")? && !self.accept(";")? {
                break;
            }
        }
        self.expect_match("}", "{", line)?;
        Ok(Expr::Table { items, line })
    }
}
