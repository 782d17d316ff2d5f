//! One zero per function, as Lua 5.1's constant table has it.
//!
//! Lua keeps one constant per value in a function, looked up by equality,
//! and `-0 == 0`: whichever zero the compiler meets first (a numeral, or a
//! folded `0 / -7`) stands for every zero numeral of the function. So
//! `return -0, 0` gives `-0` twice, and a script whose first zero is a
//! folded `-0` passes `-0` where it wrote `0` (Redis then refuses `-0` as
//! an integer argument). Scripts tested against Redis meet this; the
//! numerals left after folding are the constants, met in the order Lua
//! 5.1's code generator makes them: source order, but for arithmetic on
//! a numeral, whose right operand comes first, and a numeral left of
//! `and`, which is never made a constant.

use crate::ast::{BinOp, Block, Call, Expr, Item, Stat};

/// Gives every zero numeral of `body` (not of the functions inside it,
/// which have constants of their own) the sign of the first.
pub fn one_zero(body: &mut Block) {
    let mut first = None;
    block(body, &mut first);
}

fn block(b: &mut Block, first: &mut Option<f64>) {
    for s in b {
        stat(s, first);
    }
}

fn exprs(list: &mut [Expr], first: &mut Option<f64>) {
    for e in list {
        expr(e, first);
    }
}

fn stat(s: &mut Stat, first: &mut Option<f64>) {
    match s {
        Stat::Local { values, .. } => exprs(values, first),
        Stat::LocalFunction { .. } | Stat::Break => {}
        Stat::Assign {
            targets, values, ..
        } => {
            exprs(targets, first);
            exprs(values, first);
        }
        Stat::Call(c) => call(c, first),
        Stat::Do(body) => block(body, first),
        Stat::While { cond, body } => {
            expr(cond, first);
            block(body, first);
        }
        Stat::Repeat { body, cond } => {
            block(body, first);
            expr(cond, first);
        }
        Stat::If { arms, otherwise } => {
            for (cond, body) in arms {
                expr(cond, first);
                block(body, first);
            }
            if let Some(body) = otherwise {
                block(body, first);
            }
        }
        Stat::NumericFor {
            start,
            limit,
            step,
            body,
            ..
        } => {
            expr(start, first);
            expr(limit, first);
            if let Some(step) = step {
                expr(step, first);
            }
            block(body, first);
        }
        Stat::GenericFor { values, body, .. } => {
            exprs(values, first);
            block(body, first);
        }
        Stat::Return { values, .. } => exprs(values, first),
    }
}

fn call(c: &mut Call, first: &mut Option<f64>) {
    expr(&mut c.func, first);
    exprs(&mut c.args, first);
}

fn expr(e: &mut Expr, first: &mut Option<f64>) {
    match e {
        Expr::Num(n) if *n == 0.0 => *n = *first.get_or_insert(*n),
        Expr::Index { obj, key, .. } => {
            expr(obj, first);
            expr(key, first);
        }
        Expr::Call(c) => call(c, first),
        Expr::Binary { op, lhs, rhs, .. } => match (op, &**lhs) {
            // `0 and x` is `x`: Lua drops a constant left of `and`
            // without making it one of the function's.
            (BinOp::And, Expr::Num(_)) => expr(rhs, first),
            // Arithmetic on a numeral it could not fold (`0 * x`, or
            // `0 / 0`): Lua makes the right operand's constants first.
            (op, Expr::Num(_)) if op.is_arithmetic() => {
                expr(rhs, first);
                expr(lhs, first);
            }
            _ => {
                expr(lhs, first);
                expr(rhs, first);
            }
        },
        Expr::Not(inner) | Expr::Paren(inner) => expr(inner, first),
        Expr::Neg { operand, .. } | Expr::Len { operand, .. } => expr(operand, first),
        Expr::Table { items, .. } => {
            for item in items {
                match item {
                    Item::Positional(v) => expr(v, first),
                    Item::Keyed(k, v) => {
                        expr(k, first);
                        expr(v, first);
                    }
                }
            }
        }
        _ => {}
    }
}
