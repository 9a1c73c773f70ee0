//! Reverse-mode differentiation of a formula over its parsed expression tree.
//!
//! The formula's tokens are turned, without recursion (shunting-yard with an explicit operator
//! stack), into a postfix tape: every node is a leaf (number, constant, variable) or an operator
//! applied to earlier nodes. One forward pass over the tape gives every node's value; one
//! backward pass gives the adjoint ∂L̂/∂node of every node that depends on a parameter, and
//! the gradient is the sum of the adjoints of the `wi` leaves. Both passes are linear in the
//! formula's size, whatever its shape: a 1000-factor product or 800 nested `cos` cost a few
//! microseconds, where a symbolic derivative grows quadratically or worse.
//!
//! The tape gives the loss too. It follows exmex's reading of a formula:
//! the operator priorities `^` 4, `/` 3, `*` 2, `-` 1, `+` 0, left to right among equals, and
//! unary operators and functions binding more tightly than every binary operator. Subtrees
//! that do not depend on a parameter get no adjoint, exactly as a symbolic derivative treats
//! them as constants (so `w1*sqrt(w2)` has ∂/∂w1 = √w2 = 0 at w2 = 0, not 1·0 + w1·∞·0).

use super::parse::{Kind, Token};
use super::Slot;

/// A unary function of the formula syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Func {
    Neg,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Exp,
    Ln,
    Log2,
    Log10,
    Sqrt,
    /// `abs signum floor round ceil trunc fract cbrt`: evaluated, never differentiated (a
    /// formula that uses one and a parameter is rejected before a tape is built).
    Abs,
    Signum,
    Floor,
    Round,
    Ceil,
    Trunc,
    Fract,
    Cbrt,
}

impl Func {
    /// The function named `name` (a `Kind::Unary` token, or `-` as a prefix).
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "-" => Func::Neg,
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "tan" => Func::Tan,
            "asin" => Func::Asin,
            "acos" => Func::Acos,
            "atan" => Func::Atan,
            "sinh" => Func::Sinh,
            "cosh" => Func::Cosh,
            "tanh" => Func::Tanh,
            "asinh" => Func::Asinh,
            "acosh" => Func::Acosh,
            "atanh" => Func::Atanh,
            "exp" => Func::Exp,
            "ln" | "log" => Func::Ln,
            "log2" => Func::Log2,
            "log10" => Func::Log10,
            "sqrt" => Func::Sqrt,
            "abs" => Func::Abs,
            "signum" => Func::Signum,
            "floor" => Func::Floor,
            "round" => Func::Round,
            "ceil" => Func::Ceil,
            "trunc" => Func::Trunc,
            "fract" => Func::Fract,
            "cbrt" => Func::Cbrt,
            _ => return None,
        })
    }

    /// The value at `u` (exmex's definitions: `log` is ln).
    #[inline(always)]
    fn value(self, u: f64) -> f64 {
        match self {
            Func::Neg => -u,
            Func::Sin => u.sin(),
            Func::Cos => u.cos(),
            Func::Tan => u.tan(),
            Func::Asin => u.asin(),
            Func::Acos => u.acos(),
            Func::Atan => u.atan(),
            Func::Sinh => u.sinh(),
            Func::Cosh => u.cosh(),
            Func::Tanh => u.tanh(),
            Func::Asinh => u.asinh(),
            Func::Acosh => u.acosh(),
            Func::Atanh => u.atanh(),
            Func::Exp => u.exp(),
            Func::Ln => u.ln(),
            Func::Log2 => u.log2(),
            Func::Log10 => u.log10(),
            Func::Sqrt => u.sqrt(),
            Func::Abs => u.abs(),
            Func::Signum => u.signum(),
            Func::Floor => u.floor(),
            Func::Round => u.round(),
            Func::Ceil => u.ceil(),
            Func::Trunc => u.trunc(),
            Func::Fract => u.fract(),
            Func::Cbrt => u.cbrt(),
        }
    }

    /// The derivative at `u`, given the value `v` = f(u).
    #[inline(always)]
    fn derivative(self, u: f64, v: f64) -> f64 {
        match self {
            Func::Neg => -1.0,
            Func::Sin => u.cos(),
            Func::Cos => -u.sin(),
            Func::Tan => 1.0 + v * v,
            Func::Asin => 1.0 / (1.0 - u * u).sqrt(),
            Func::Acos => -1.0 / (1.0 - u * u).sqrt(),
            Func::Atan => 1.0 / (1.0 + u * u),
            Func::Sinh => u.cosh(),
            Func::Cosh => u.sinh(),
            Func::Tanh => 1.0 - v * v,
            Func::Asinh => 1.0 / (u * u + 1.0).sqrt(),
            Func::Acosh => 1.0 / (u * u - 1.0).sqrt(),
            Func::Atanh => 1.0 / (1.0 - u * u),
            Func::Exp => v,
            Func::Ln => 1.0 / u,
            Func::Log2 => 1.0 / (u * std::f64::consts::LN_2),
            Func::Log10 => 1.0 / (u * std::f64::consts::LN_10),
            Func::Sqrt => 0.5 / v,
            Func::Abs
            | Func::Signum
            | Func::Floor
            | Func::Round
            | Func::Ceil
            | Func::Trunc
            | Func::Fract
            | Func::Cbrt => f64::NAN,
        }
    }
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    /// `atan2 min max`: evaluated, never differentiated.
    Atan2,
    Min,
    Max,
}

impl Bin {
    fn from_name(name: &str) -> Option<(Bin, u8)> {
        Some(match name {
            "^" => (Bin::Pow, 4),
            "/" => (Bin::Div, 3),
            "*" => (Bin::Mul, 2),
            "-" => (Bin::Sub, 1),
            "+" => (Bin::Add, 0),
            "atan2" => (Bin::Atan2, 0),
            "min" => (Bin::Min, 0),
            "max" => (Bin::Max, 0),
            _ => return None,
        })
    }

    #[inline(always)]
    fn value(self, a: f64, b: f64) -> f64 {
        match self {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::Pow => a.powf(b),
            Bin::Atan2 => a.atan2(b),
            Bin::Min => a.min(b),
            Bin::Max => a.max(b),
        }
    }
}

/// What a tape node computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Op {
    Const(f64),
    Var(Slot),
    Unary(Func),
    Binary(Bin),
}

/// One node: its operation, its operands (indices of earlier nodes; `b` is unused by unary
/// nodes) and whether it depends on a parameter.
#[derive(Clone, Copy, Debug)]
struct Node {
    op: Op,
    a: u32,
    b: u32,
    dep: bool,
}

/// A formula as a postfix tape, ready for value-and-gradient passes.
#[derive(Clone, Debug)]
pub(super) struct Tape {
    nodes: Vec<Node>,
}

/// Why a tape could not be built.
#[derive(Debug)]
pub(super) enum BuildError {
    /// The nesting depth (open parentheses plus unary operators and functions waiting for
    /// their operand) exceeds `limit`: the depth reached first.
    TooDeep { depth: usize },
}

/// An entry of the builder's operator stack.
#[derive(Clone, Copy)]
enum Pending {
    Paren,
    /// `min(`-style call: the operator, applied when its `)` closes.
    Call(Bin),
    Unary(Func),
    Binary(Bin, u8),
}

impl Tape {
    /// Builds the tape of a token sequence that [`super::parse::analyze`] accepted, resolving variable
    /// names with `slot_of` (names it does not know must have been rejected before). Fails if
    /// the nesting depth exceeds `max_depth`.
    pub(super) fn build(
        tokens: &[Token<'_>],
        slot_of: impl Fn(&str) -> Option<Slot>,
        max_depth: usize,
    ) -> Result<Tape, BuildError> {
        let mut tape = Tape {
            nodes: Vec::with_capacity(tokens.len()),
        };
        let mut ops: Vec<Pending> = Vec::new();
        // Root node index of each complete operand.
        let mut operands: Vec<u32> = Vec::new();
        let mut depth = 0usize;
        let mut expect_operand = true;
        let mut i = 0;
        while let Some(t) = tokens.get(i) {
            i += 1;
            if expect_operand {
                match t.kind {
                    Kind::Num | Kind::Var => {
                        let op = if t.kind == Kind::Var {
                            Op::Var(slot_of(t.name).unwrap_or(Slot::X))
                        } else {
                            Op::Const(constant(t.name))
                        };
                        operands.push(tape.push(op, 0, 0));
                        tape.close_operand(&mut ops, &mut operands, &mut depth);
                        expect_operand = false;
                    }
                    Kind::Open => {
                        ops.push(Pending::Paren);
                        depth += 1;
                    }
                    Kind::BinUnary | Kind::Unary => {
                        // Unary `+` is the identity: nothing to record.
                        if t.name != "+" {
                            let f = Func::from_name(t.name).unwrap_or(Func::Neg);
                            ops.push(Pending::Unary(f));
                            depth += 1;
                        }
                    }
                    Kind::Bin => {
                        // `min(`: the grammar guarantees the `(` follows.
                        let (b, _) = Bin::from_name(t.name).unwrap_or((Bin::Add, 0));
                        ops.push(Pending::Call(b));
                        depth += 1;
                        i += 1;
                    }
                    Kind::Close | Kind::Comma => {}
                }
                if depth > max_depth {
                    return Err(BuildError::TooDeep { depth });
                }
            } else {
                match t.kind {
                    Kind::Bin | Kind::BinUnary => {
                        let (b, prio) = Bin::from_name(t.name).unwrap_or((Bin::Add, 0));
                        while let Some(&Pending::Binary(top, p)) = ops.last() {
                            if p < prio {
                                break;
                            }
                            ops.pop();
                            tape.apply_binary(top, &mut operands);
                        }
                        ops.push(Pending::Binary(b, prio));
                        expect_operand = true;
                    }
                    Kind::Comma => {
                        // The first argument of a `min(a, b)` call is complete.
                        tape.reduce_binaries(&mut ops, &mut operands);
                        expect_operand = true;
                    }
                    Kind::Close => {
                        tape.reduce_binaries(&mut ops, &mut operands);
                        // The grammar balances parentheses: the top is this `)`'s `(` or call.
                        if let Some(Pending::Call(b)) = ops.pop() {
                            tape.apply_binary(b, &mut operands);
                        }
                        depth -= 1;
                        tape.close_operand(&mut ops, &mut operands, &mut depth);
                    }
                    Kind::Num | Kind::Var | Kind::Open | Kind::Unary => {}
                }
            }
        }
        tape.reduce_binaries(&mut ops, &mut operands);
        Ok(tape)
    }

    /// Appends a node, folding an operation on constants into a constant.
    fn push(&mut self, op: Op, a: u32, b: u32) -> u32 {
        let node = |i: u32| self.nodes[i as usize];
        let folded = match op {
            Op::Unary(f) => match node(a).op {
                Op::Const(u) => Some((f.value(u), 1)),
                _ => None,
            },
            Op::Binary(bin) => match (node(a).op, node(b).op) {
                (Op::Const(u), Op::Const(v)) => Some((bin.value(u, v), 2)),
                _ => None,
            },
            _ => None,
        };
        // Operands of a new node are the last subtrees, so constant operands are the last
        // nodes: drop them.
        let (op, dep) = match folded {
            Some((c, n)) => {
                self.nodes.truncate(self.nodes.len() - n);
                (Op::Const(c), false)
            }
            None => {
                let dep = match op {
                    Op::Var(Slot::W(_)) => true,
                    Op::Const(_) | Op::Var(_) => false,
                    Op::Unary(_) => node(a).dep,
                    Op::Binary(_) => node(a).dep || node(b).dep,
                };
                (op, dep)
            }
        };
        self.nodes.push(Node { op, a, b, dep });
        (self.nodes.len() - 1) as u32
    }

    /// An operand just completed: apply the unary operators waiting for it.
    fn close_operand(&mut self, ops: &mut Vec<Pending>, operands: &mut [u32], depth: &mut usize) {
        while let Some(&Pending::Unary(f)) = ops.last() {
            ops.pop();
            *depth -= 1;
            let top = operands.last_mut().expect("an operand");
            *top = self.push(Op::Unary(f), *top, 0);
        }
    }

    fn apply_binary(&mut self, b: Bin, operands: &mut Vec<u32>) {
        let rhs = operands.pop().expect("two operands");
        let lhs = operands.pop().expect("two operands");
        let n = self.push(Op::Binary(b), lhs, rhs);
        operands.push(n);
    }

    /// Applies the pending binary operators down to the nearest `(` or call.
    fn reduce_binaries(&mut self, ops: &mut Vec<Pending>, operands: &mut Vec<u32>) {
        while let Some(&Pending::Binary(b, _)) = ops.last() {
            ops.pop();
            self.apply_binary(b, operands);
        }
    }

    /// The number of nodes.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The value of the formula at the variable values `vars`.
    #[inline]
    pub(super) fn value(&self, vars: impl Fn(Slot) -> f64) -> f64 {
        let n = self.nodes.len();
        if n <= 16 {
            let mut vals = [0.0; 16];
            self.forward(&vars, &mut vals[..n]);
            vals[n - 1]
        } else if n <= 64 {
            let mut vals = [0.0; 64];
            self.forward(&vars, &mut vals[..n]);
            vals[n - 1]
        } else {
            let mut vals = vec![0.0; n];
            self.forward(&vars, &mut vals);
            vals[n - 1]
        }
    }

    /// Calls `out(i, ∂L̂/∂w_{i+1})` for every `wi` leaf, possibly several times per parameter
    /// (the contributions add up), given the variable values `vars`.
    #[inline]
    pub(super) fn gradient(&self, vars: impl Fn(Slot) -> f64, out: impl FnMut(usize, f64)) {
        let n = self.nodes.len();
        if n <= 16 {
            self.passes::<16>(&vars, out)
        } else if n <= 64 {
            self.passes::<64>(&vars, out)
        } else {
            let mut vals = vec![0.0; n];
            let mut adj = vec![0.0; n];
            self.forward(&vars, &mut vals);
            self.backward(&vals, &mut adj, out);
        }
    }

    #[inline(always)]
    fn passes<const C: usize>(&self, vars: &impl Fn(Slot) -> f64, out: impl FnMut(usize, f64)) {
        let mut vals = [0.0; C];
        let mut adj = [0.0; C];
        let n = self.nodes.len();
        self.forward(vars, &mut vals[..n]);
        self.backward(&vals[..n], &mut adj[..n], out);
    }

    #[inline(always)]
    fn forward(&self, vars: &impl Fn(Slot) -> f64, vals: &mut [f64]) {
        for (k, node) in self.nodes.iter().enumerate() {
            let (a, b) = (node.a as usize, node.b as usize);
            vals[k] = match node.op {
                Op::Const(c) => c,
                Op::Var(s) => vars(s),
                Op::Unary(f) => f.value(vals[a]),
                Op::Binary(bin) => bin.value(vals[a], vals[b]),
            };
        }
    }

    /// Adjoints from the root down. The tape is a tree, so each node's adjoint is set once,
    /// by its parent; only nodes that depend on a parameter are visited.
    #[inline(always)]
    fn backward(&self, vals: &[f64], adj: &mut [f64], mut out: impl FnMut(usize, f64)) {
        let Some(root) = self.nodes.len().checked_sub(1) else {
            return;
        };
        adj[root] = 1.0;
        for k in (0..=root).rev() {
            let node = self.nodes[k];
            if !node.dep {
                continue;
            }
            let g = adj[k];
            let (a, b) = (node.a as usize, node.b as usize);
            let (da, db) = (self.nodes[a].dep, self.nodes[b].dep);
            match node.op {
                Op::Var(Slot::W(i)) => out(i, g),
                Op::Const(_) | Op::Var(_) => {}
                Op::Unary(f) => adj[a] = g * f.derivative(vals[a], vals[k]),
                Op::Binary(bin) => {
                    let (u, v) = (vals[a], vals[b]);
                    match bin {
                        Bin::Add => {
                            adj[a] = g;
                            adj[b] = g;
                        }
                        Bin::Sub => {
                            adj[a] = g;
                            adj[b] = -g;
                        }
                        Bin::Mul => {
                            adj[a] = g * v;
                            adj[b] = g * u;
                        }
                        Bin::Div => {
                            adj[a] = g / v;
                            adj[b] = -g * (vals[k] / v);
                        }
                        Bin::Pow => {
                            // d(u^v) = v u^(v−1) du + u^v ln u dv; a term whose operand
                            // does not depend on a parameter is left out, as a symbolic
                            // derivative leaves it out (ln u is NaN for u < 0).
                            if da {
                                let e = v - 1.0;
                                let p = if e == 1.0 {
                                    u
                                } else if e == 0.0 {
                                    1.0
                                } else {
                                    u.powf(e)
                                };
                                adj[a] = g * (v * p);
                            }
                            if db {
                                adj[b] = g * (vals[k] * u.ln());
                            }
                        }
                        Bin::Atan2 | Bin::Min | Bin::Max => {
                            adj[a] = f64::NAN;
                            adj[b] = f64::NAN;
                        }
                    }
                }
            }
        }
    }
}

/// The value of a number token or a named constant (exmex's table).
fn constant(name: &str) -> f64 {
    match name {
        "PI" | "π" => std::f64::consts::PI,
        "E" | "e" => std::f64::consts::E,
        "TAU" | "τ" => std::f64::consts::TAU,
        s => s.parse().unwrap_or(f64::NAN),
    }
}
