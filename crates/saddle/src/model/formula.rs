//! User-defined landscapes: a sampled loss L̂(w; x, y) given as an expression string.
//!
//! A formula is an expression in the parameters `w1`..`wd` (1 ≤ d ≤ 8), the input `x` and,
//! optionally, the target `y`, for example `"x*w1^2/2 + w1^4/4"` or `"(w2*w1^2 - y)^2"`.
//! It is parsed once, when the model is built: the loss is evaluated by
//! [exmex](https://docs.rs/exmex/0.21) and the gradient by reverse-mode differentiation over
//! the parsed expression tree ([`ad`]), in time linear in the formula's size; evaluating the
//! loss or the gradient afterwards does not parse anything.
//!
//! # Syntax
//!
//! * **Numbers**: `2`, `0.5`, `.5`, `1.`. There is no scientific notation: write `3*10^-4`,
//!   not `3e-4`.
//! * **Variables**: `w1`..`wd`, `x`, `y`. Any other name is an error
//!   ([`FormulaError::UnknownVariable`]). A variable may also be written in braces, `{w1}`.
//! * **Binary operators**: `+ - * /` and `^` (power), with the usual precedence
//!   (`^` before `*` and `/`, before `+` and `-`); `-` and `/` associate to the left.
//! * **Functions** (unary, written `sin(w1)`; `sin w1` also works) that can be
//!   differentiated: `sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh exp
//!   ln log log2 log10 sqrt` (`log` is the natural logarithm, like `ln`).
//! * **Constants**: `PI` or `π`, `E` or `e` (Euler's number), `TAU` or `τ`.
//! * exmex also parses `abs signum floor round ceil trunc fract cbrt` and the two-argument
//!   functions `min(a, b)`, `max(a, b)`, `atan2(a, b)`, but they have no derivative here,
//!   anywhere in the formula (not even in a factor like `abs(x)` that involves no parameter),
//!   so a formula using them and a parameter is rejected with [`FormulaError::Differentiate`]. Write
//!   `sqrt(w1^2)` for |w1| (its derivative is NaN at 0), or `x^(1/3)` (only for x ≥ 0) for a
//!   cube root.
//! * Whitespace (spaces, tabs, newlines) is ignored between tokens.
//!
//! Two of exmex's rules differ from the usual mathematical convention: unary operators bind
//! more tightly than every binary operator, so exmex reads `-w1^2` as `(-w1)^2`, and `^`
//! associates to the left, so `2^3^2` is 64. So that a formula means what it appears to
//! mean, [`FormulaSpec::parse`] rejects both forms and asks for explicit parentheses: write
//! `-(w1^2)` (or `0 - w1^2`) and `2^(3^2)` or `(2^3)^2`. A unary minus that is not followed by
//! `^`, as in `-w1*x` or `2*-w1`, is accepted. Functions also bind more tightly than `^`:
//! `sin(w1)^2` and `sin w1^2` both mean (sin w1)².
//!
//! Parse errors point at the offending place in the string (see [`FormulaError::Parse`]):
//!
//! ```text
//! cannot parse formula: expected a number, a variable, `(` or a function, found operator `^`
//!   x*w1^^2
//!        ^ here
//! ```
//!
//! # Expectations
//!
//! A general formula has no closed-form expected loss in terms of the first two moments of
//! the data. Under a finite law the engine sums over its atoms exactly
//! ([`Formula::expected_loss_discrete`] and [`Formula::expected_grad_discrete`] compute the
//! same sums). Under a Gaussian or uniform law, a model built with [`Formula::with_noise`]
//! reports L(w) = E L̂(w; x) by Gauss quadrature over the law (Gauss–Hermite or Gauss–Legendre,
//! [`crate::sde::GAUSS_NODES`] nodes, as the drift of the SDE, App. C): exact for formulas
//! polynomial in the data of degree below 2·[`crate::sde::GAUSS_NODES`], an approximation
//! otherwise. [`Model::expected_grad`] stays `false` for continuous laws, so GD on a formula
//! needs a finite law.
//!
//! # Cost
//!
//! The loss copies the variable values into a fixed `[f64; 10]` buffer in exmex's order and
//! calls exmex's flat evaluator once. The gradient is one forward and one backward pass over
//! the formula's tape ([`ad`]), whatever the number of parameters; tapes of up to 64 nodes run
//! on the stack, longer ones allocate two buffers per evaluation.
//!
//! Parsing happens once, on a helper thread with a 512 MiB stack (exmex's parser recurses once
//! per nesting level), and takes at most milliseconds. Formulas are limited to [`MAX_LEN`]
//! characters (so to at most [`MAX_LEN`] tokens and tape nodes) and to a nesting depth of
//! [`MAX_DEPTH`] (open parentheses plus unary operators and functions around a point); larger
//! ones are rejected with [`FormulaError::TooLarge`].

use exmex::prelude::*;
use exmex::{FloatOpsFactory, MakeOperators};

use super::{Model, Moments, Sample};
use crate::noise::{Law, NoiseLaw};

mod ad;

/// The largest number of parameters a formula may have (`w1`..`w8`).
pub const MAX_PARAMS: usize = 8;

/// The longest formula accepted, in `char`s: it bounds the number of tokens and tape nodes.
pub const MAX_LEN: usize = 4000;

/// The deepest nesting accepted: open parentheses plus unary operators and functions waiting
/// for their operand, at any point of the formula (`cos(cos(w1))` and `-(-(w1))` have depth
/// 4). It bounds the recursion of exmex's parser.
pub const MAX_DEPTH: usize = 1000;

/// Stack size for parsing. exmex's parser recurses once per nesting level: measured with
/// exmex 0.21 in an optimised build, 800 nested `cos(…)` need between 128 KiB and 512 KiB;
/// an unoptimised build needs several times more. Only the pages used are committed.
const PARSE_STACK: usize = 512 << 20;

/// Functions and operators that have no derivative.
const NO_DERIVATIVE: [&str; 11] = [
    "abs", "signum", "floor", "round", "ceil", "trunc", "fract", "cbrt", "min", "max", "atan2",
];

/// Values of x and y at which [`FormulaSpec::origin_is_fixed`] probes the gradient at w = 0.
const PROBES: [f64; 7] = [-3.7, -1.0, -0.3, 0.0, 0.5, 1.0, 2.9];

type Expr = FlatEx<f64>;

/// Why a formula was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormulaError {
    /// The string is not a well-formed expression, or uses a form whose meaning would be
    /// surprising (`-w1^2`, `2^3^2`; see the module documentation).
    ///
    /// `message` is the full multi-line text (also the `Display` output):
    /// `cannot parse formula: <reason>`, then the formula, then a caret under `position`.
    #[error("{message}")]
    Parse {
        /// What is wrong, without the position.
        reason: String,
        /// 0-based index, in `char`s, of the offending place in the formula; equal to the
        /// formula's length in `char`s when the problem is that the formula ends too early
        /// and there is no better token to blame.
        position: usize,
        /// The rendered message with the caret.
        message: String,
    },
    /// The formula uses a variable other than `w1`..`w{params}`, `x`, `y`.
    #[error("{message}")]
    UnknownVariable {
        /// The offending variable name.
        name: String,
        /// The allowed names, in order: `w1`, ..., `w{params}`, `x`, `y`.
        allowed: Vec<String>,
        /// 0-based `char` index of its first occurrence.
        position: usize,
        /// The rendered message, with the allowed names and a caret.
        message: String,
    },
    /// The number of parameters is outside `1..=8`.
    #[error(
        "a formula has between 1 and {MAX_PARAMS} parameters (w1..w{MAX_PARAMS}), got {params}"
    )]
    BadParams {
        /// The requested number of parameters.
        params: usize,
    },
    /// The formula uses a function without a derivative (such as `abs`, `min` or `floor`)
    /// and a parameter.
    #[error("cannot differentiate the formula with respect to w{param}: {reason}")]
    Differentiate {
        /// 1-based parameter index (the `i` of `wi`).
        param: usize,
        /// exmex's explanation.
        reason: String,
    },
    /// The formula is longer than [`MAX_LEN`] characters or nested deeper than [`MAX_DEPTH`].
    #[error("formula too large: its {what} is {size}, more than the limit of {limit}")]
    TooLarge {
        /// What is measured: `length in characters` or `nesting depth`.
        what: &'static str,
        /// The formula's size (for the depth, the first depth above the limit).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// [`Formula::new`] was given a spec with a different number of parameters than its `N`.
    #[error("the formula has {spec} parameters but the model was built for {model}")]
    DimensionMismatch {
        /// [`FormulaSpec::params`].
        spec: usize,
        /// The model's dimension `N`.
        model: usize,
    },
}

/// A variable of a formula.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Parameter `w{i+1}`.
    W(usize),
    X,
    Y,
}

/// A parsed formula as a tape that gives its loss and gradient ([`ad`]). Callers always pass
/// `w`, `x`, `y`, whichever variables the formula mentions.
#[derive(Clone, Debug)]
pub struct FormulaSpec {
    /// The formula as given.
    text: String,
    /// d: the number of parameters.
    params: usize,
    /// The formula as a tape, for the loss and its gradient.
    tape: ad::Tape,
    /// Whether w_{i+1} occurs in the formula (its derivative is 0 otherwise).
    occurs: [bool; MAX_PARAMS],
    uses_x: bool,
    uses_y: bool,
    /// Result of the origin probe, computed once at parse time.
    origin_fixed: bool,
}

impl FormulaSpec {
    /// Parses `expr` as a loss in `w1..w{params}`, `x` and `y`, and prepares its gradient.
    ///
    /// # Errors
    ///
    /// [`FormulaError::BadParams`] unless `1 <= params <= 8`; [`FormulaError::Parse`] for a
    /// malformed string or an ambiguous form, with the position of the problem;
    /// [`FormulaError::UnknownVariable`] for a variable outside `w1..w{params}, x, y`;
    /// [`FormulaError::Differentiate`] when it uses a function without a derivative and a
    /// parameter; [`FormulaError::TooLarge`] beyond [`MAX_LEN`] characters or [`MAX_DEPTH`]
    /// nesting levels.
    pub fn parse(expr: &str, params: usize) -> Result<FormulaSpec, FormulaError> {
        if !(1..=MAX_PARAMS).contains(&params) {
            return Err(FormulaError::BadParams { params });
        }
        let len = expr.chars().count();
        if len > MAX_LEN {
            return Err(FormulaError::TooLarge {
                what: "length in characters",
                size: len,
                limit: MAX_LEN,
            });
        }
        on_big_stack(|| Self::parse_inner(expr, params))
    }

    fn parse_inner(expr: &str, params: usize) -> Result<FormulaSpec, FormulaError> {
        // exmex only skips ' '; tabs and newlines would be "unknown characters". Replacing each
        // whitespace char by one space keeps `char` positions unchanged.
        let text: String = expr
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let n_chars = text.chars().count();
        let parse_error = |d: Diag| {
            let message = render(
                &format!("cannot parse formula: {}", d.reason),
                &text,
                d.position,
            );
            FormulaError::Parse {
                reason: d.reason,
                position: d.position,
                message,
            }
        };

        let tokens = tokenize(&text).map_err(parse_error)?;
        let analysis = analyze(&tokens);
        // The grammar accepts a subset of what exmex accepts (exmex also takes oddities such as
        // `*2 x`), so its verdict comes first; exmex's own message is the last resort.
        if let Some(d) = analysis.syntax.or(analysis.ambiguity) {
            return Err(parse_error(d));
        }
        // Map variable names to (w index, x, y); reject unknown names, reporting the one that
        // occurs first in the string.
        let slot_of = |name: &str| -> Option<Slot> {
            match name {
                "x" => Some(Slot::X),
                "y" => Some(Slot::Y),
                _ => {
                    let i: usize = name.strip_prefix('w')?.parse().ok()?;
                    // `w01` parses as 1 but is not the canonical name.
                    if name == format!("w{i}") && (1..=params).contains(&i) {
                        Some(Slot::W(i - 1))
                    } else {
                        None
                    }
                }
            }
        };
        let unknown_variable = |name: &str, position: usize| {
            let allowed: Vec<String> = (1..=params)
                .map(|i| format!("w{i}"))
                .chain(["x".to_string(), "y".to_string()])
                .collect();
            let message = render(
                &format!(
                    "unknown variable `{}` in formula (allowed: {})",
                    shorten(name),
                    allowed.join(", ")
                ),
                &text,
                position,
            );
            FormulaError::UnknownVariable {
                name: name.to_string(),
                allowed,
                position,
                message,
            }
        };
        let mut occurs = [false; MAX_PARAMS];
        for t in tokens.iter().filter(|t| t.kind == Kind::Var) {
            match slot_of(t.name) {
                Some(Slot::W(i)) => occurs[i] = true,
                Some(_) => {}
                None => return Err(unknown_variable(t.name, t.pos)),
            }
        }
        // A function without a derivative, anywhere, when there is something to differentiate.
        if let Some(first) = occurs.iter().position(|&o| o) {
            if let Some(t) = tokens.iter().find(|t| {
                matches!(t.kind, Kind::Unary | Kind::Bin) && NO_DERIVATIVE.contains(&t.name)
            }) {
                return Err(FormulaError::Differentiate {
                    param: first + 1,
                    reason: format!("`{}` (at character {}) has no derivative", t.name, t.pos),
                });
            }
        }
        let tape = ad::Tape::build(&tokens, slot_of, MAX_DEPTH).map_err(
            |ad::BuildError::TooDeep { depth }| FormulaError::TooLarge {
                what: "nesting depth",
                size: depth,
                limit: MAX_DEPTH,
            },
        )?;

        // exmex's parser as a last check: the grammar accepts a subset of its language
        // (tested), so this only fails if that ever stops holding. exmex no longer evaluates
        // the formula: exmex 0.21 misreads some formulas, e.g. `cos(w1*3*3/11)` as
        // `w1*cos(3*3/11)` (it reorders `3*3` and the function follows the reordered operator).
        let parsed = Expr::parse(&text).map_err(|e| {
            parse_error(Diag {
                position: n_chars,
                reason: e.msg().to_string(),
            })
        })?;
        // The tokenizer mirrors exmex's, so exmex knows no other names; should it ever, the
        // name is reported without a position.
        if let Some(name) = parsed.var_names().iter().find(|n| slot_of(n).is_none()) {
            return Err(unknown_variable(name, 0));
        }
        let uses = |name: &str| tokens.iter().any(|t| t.kind == Kind::Var && t.name == name);
        let (uses_x, uses_y) = (uses("x"), uses("y"));

        let mut spec = FormulaSpec {
            text: expr.to_string(),
            params,
            tape,
            occurs,
            uses_x,
            uses_y,
            origin_fixed: false,
        };
        spec.origin_fixed = spec.probe_origin();
        Ok(spec)
    }

    /// The number of parameters d.
    pub fn params(&self) -> usize {
        self.params
    }

    /// The formula as given to [`FormulaSpec::parse`].
    pub fn expr(&self) -> &str {
        &self.text
    }

    /// Whether the formula mentions the target `y`.
    pub fn uses_y(&self) -> bool {
        self.uses_y
    }

    /// Whether the formula mentions the input `x`.
    pub fn uses_x(&self) -> bool {
        self.uses_x
    }

    /// Whether every partial derivative is exactly 0 at w = 0 for all probe data points
    /// (x, y) ∈ P × P, P = {-3.7, -1, -0.3, 0, 0.5, 1, 2.9}.
    ///
    /// This is a probe, not a proof: a formula whose gradient at the origin vanishes at these
    /// 49 points but not elsewhere (e.g. one with a factor `sin(PI*x)`, which floating point
    /// does not even make exactly 0 at integers) can be misclassified. NaN or infinite
    /// derivatives count as "not fixed".
    pub fn origin_is_fixed(&self) -> bool {
        self.origin_fixed
    }

    /// Loss L̂(w; x, y). `w` must have at least [`params`](Self::params) entries (extra ones are
    /// ignored). Returns NaN where the formula is undefined.
    #[inline]
    pub fn loss(&self, w: &[f64], x: f64, y: f64) -> f64 {
        self.tape.value(|s| match s {
            Slot::W(i) => w[i],
            Slot::X => x,
            Slot::Y => y,
        })
    }

    /// Writes ∇_w L̂(w; x, y) into `out[..params]`. `w` and `out` must have at least
    /// [`params`](Self::params) entries (extra ones are ignored / left untouched).
    #[inline]
    pub fn grad(&self, w: &[f64], x: f64, y: f64, out: &mut [f64]) {
        let mut g = [0.0; MAX_PARAMS];
        self.tape_grad(w, x, y, &mut g);
        out[..self.params].copy_from_slice(&g[..self.params]);
    }

    /// Adds `scale · ∇_w L̂(w; x, y)` to `g[..params]` (only to the coordinates of the
    /// parameters that occur in the formula).
    #[inline]
    fn grad_acc(&self, w: &[f64], x: f64, y: f64, scale: f64, g: &mut [f64]) {
        let mut d = [0.0; MAX_PARAMS];
        self.tape_grad(w, x, y, &mut d);
        for ((gi, di), &occurs) in g[..self.params].iter_mut().zip(d).zip(&self.occurs) {
            if occurs {
                *gi += scale * di;
            }
        }
    }

    /// ∇_w L̂(w; x, y) into `g[..params]`, which must hold zeros.
    #[inline(always)]
    fn tape_grad(&self, w: &[f64], x: f64, y: f64, g: &mut [f64; MAX_PARAMS]) {
        self.tape.gradient(
            |s| match s {
                Slot::W(i) => w[i],
                Slot::X => x,
                Slot::Y => y,
            },
            |i, d| g[i] += d,
        );
    }

    /// Σ p · L̂(w; s) over the atoms `(s, p)` of a discrete law.
    pub fn expected_loss_discrete(&self, w: &[f64], atoms: &[(Sample, f64)]) -> f64 {
        atoms.iter().map(|(s, p)| p * self.loss(w, s.x, s.y)).sum()
    }

    /// Writes Σ p · ∇_w L̂(w; s) over the atoms `(s, p)` into `out[..params]` (overwriting it).
    pub fn expected_grad_discrete(&self, w: &[f64], atoms: &[(Sample, f64)], out: &mut [f64]) {
        out[..self.params].fill(0.0);
        for (s, p) in atoms {
            self.grad_acc(w, s.x, s.y, *p, out);
        }
    }

    fn probe_origin(&self) -> bool {
        let w = [0.0; MAX_PARAMS];
        let mut g = [0.0; MAX_PARAMS];
        PROBES.iter().all(|&x| {
            PROBES.iter().all(|&y| {
                self.grad(&w, x, y, &mut g);
                g[..self.params].iter().all(|&v| v == 0.0)
            })
        })
    }
}

/// Runs `f` on a thread with a [`PARSE_STACK`]-byte stack (or inline if that thread cannot be
/// created), returning its result and propagating its panics.
fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let job = std::sync::Mutex::new(Some(f));
    let run = || (job.lock().unwrap().take().expect("runs once"))();
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("formula-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(s, run)
        {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => run(),
        }
    })
}

/// A [`Model`] whose sampled loss is a user formula in `N` parameters.
#[derive(Clone, Debug)]
pub struct Formula<const N: usize> {
    spec: FormulaSpec,
    /// Quadrature nodes (sample, weight) of a continuous data law, for the expected loss.
    nodes: Option<Vec<(Sample, f64)>>,
}

impl<const N: usize> Formula<N> {
    /// Wraps a parsed formula.
    ///
    /// # Errors
    ///
    /// [`FormulaError::DimensionMismatch`] if `spec.params() != N`.
    pub fn new(spec: FormulaSpec) -> Result<Self, FormulaError> {
        if spec.params() != N {
            return Err(FormulaError::DimensionMismatch {
                spec: spec.params(),
                model: N,
            });
        }
        Ok(Formula { spec, nodes: None })
    }

    /// The same model, reporting its expected loss under `noise` when that is a Gaussian or
    /// uniform law: L(w) = Σ pᵢ L̂(w; sᵢ) over the Gauss–Hermite or Gauss–Legendre nodes
    /// ([`crate::sde::data_nodes`], [`crate::sde::GAUSS_NODES`] nodes), exact for formulas
    /// polynomial in the drawn field of degree below 2·[`crate::sde::GAUSS_NODES`]. For finite
    /// laws the engine sums over the atoms itself, so nothing is kept.
    pub fn with_noise(mut self, noise: &NoiseLaw) -> Self {
        self.nodes = matches!(noise.law, Law::Gaussian { .. } | Law::Uniform { .. })
            .then(|| crate::sde::data_nodes(noise));
        self
    }

    /// The parsed formula.
    pub fn spec(&self) -> &FormulaSpec {
        &self.spec
    }

    /// Exact expected loss under a discrete law: Σ p · L̂(w; s) over its atoms `(s, p)`.
    /// `w` must have at least `N` entries.
    pub fn expected_loss_discrete(&self, w: &[f64], atoms: &[(Sample, f64)]) -> f64 {
        self.spec.expected_loss_discrete(w, atoms)
    }

    /// Exact expected gradient under a discrete law: writes Σ p · ∇_w L̂(w; s) over its atoms
    /// `(s, p)` into `out[..N]`, overwriting it. `w` and `out` must have at least `N` entries.
    pub fn expected_grad_discrete(&self, w: &[f64], atoms: &[(Sample, f64)], out: &mut [f64]) {
        self.spec.expected_grad_discrete(w, atoms, out)
    }
}

impl<const N: usize> Model for Formula<N> {
    const VECTOR_BUILDS: bool = false;
    type W = [f64; N];

    fn name(&self) -> &str {
        "formula"
    }

    #[inline]
    fn loss(&self, w: &[f64; N], s: &Sample) -> f64 {
        self.spec.loss(w, s.x, s.y)
    }

    #[inline]
    fn grad_acc(&self, w: &[f64; N], s: &Sample, scale: f64, g: &mut [f64; N]) {
        self.spec.grad_acc(w, s.x, s.y, scale, g)
    }

    /// A general formula has no closed form in the first two moments: the quadrature of
    /// [`Formula::with_noise`] for a Gaussian or uniform law, else `None` (the engine sums
    /// over the atoms of a finite law itself, as [`Formula::expected_loss_discrete`]).
    fn expected_loss(&self, w: &[f64; N], _m: &Moments) -> Option<f64> {
        self.nodes
            .as_ref()
            .map(|nodes| self.spec.expected_loss_discrete(w, nodes))
    }

    /// Always `false`: a GD step needs the exact expected gradient, which a formula has only
    /// under a finite law, where the engine sums [`Formula::expected_grad_discrete`] itself.
    fn expected_grad(&self, _w: &[f64; N], _m: &Moments, _g: &mut [f64; N]) -> bool {
        false
    }

    /// The probe of [`FormulaSpec::origin_is_fixed`] (not a proof).
    fn origin_is_fixed(&self) -> bool {
        self.spec.origin_is_fixed()
    }
}

// ---------------------------------------------------------------------------------------------
// Error positions. exmex's parse errors carry no position, so the formula is tokenized here the
// way exmex tokenizes it (same operator table, same number and name rules) and checked with a
// small grammar; the first token where that check fails is the position reported. The same pass
// finds the two forms exmex reads unconventionally (`-a^b`, `a^b^c`).
// ---------------------------------------------------------------------------------------------

/// A problem found at a `char` position.
#[derive(Debug)]
struct Diag {
    position: usize,
    reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A number literal or a named constant (`PI`, `e`, …).
    Num,
    Var,
    Open,
    Close,
    Comma,
    /// Binary only: `^ * /`, `atan2 min max`.
    Bin,
    /// Binary or unary: `+ -`.
    BinUnary,
    /// A function: `sin`, `exp`, ….
    Unary,
}

#[derive(Debug)]
struct Token<'a> {
    kind: Kind,
    /// 0-based `char` index.
    pos: usize,
    /// The token's text; for a braced variable `{w1}`, its name `w1`.
    name: &'a str,
}

/// Can `c` start a variable name (exmex: `[a-zA-Zα-ωΑ-Ω_]`)?
fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || ('α'..='ω').contains(&c) || ('Α'..='Ω').contains(&c)
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

/// Splits `text` into tokens exactly as exmex 0.21 does (`parser::tokenize_and_analyze`),
/// except that it also rejects an unclosed or empty `{…}` (exmex silently accepts `{x`).
fn tokenize(text: &str) -> Result<Vec<Token<'_>>, Diag> {
    // exmex tries the operators in reverse alphabetical order of their representation, so
    // that e.g. `log2` wins over `log`.
    let mut ops: Vec<(&'static str, Kind)> = FloatOpsFactory::<f64>::make()
        .iter()
        .map(|op| {
            let kind = if op.constant().is_some() {
                Kind::Num
            } else if op.has_bin() && op.has_unary() {
                Kind::BinUnary
            } else if op.has_bin() {
                Kind::Bin
            } else {
                Kind::Unary
            };
            (op.repr(), kind)
        })
        .collect();
    ops.sort_unstable_by(|a, b| b.0.cmp(a.0));

    let mut tokens = Vec::new();
    let mut byte = 0;
    let mut pos = 0;
    while let Some(c) = text[byte..].chars().next() {
        let rest = &text[byte..];
        let (kind, len, name) = if c == ' ' {
            byte += 1;
            pos += 1;
            continue;
        } else if c == '(' {
            (Kind::Open, 1, "(")
        } else if c == ')' {
            (Kind::Close, 1, ")")
        } else if c == ',' {
            (Kind::Comma, 1, ",")
        } else if c == '{' {
            let Some(end) = rest.find('}') else {
                return Err(Diag {
                    position: pos,
                    reason: "`{` without a matching `}`".into(),
                });
            };
            if end == 1 {
                return Err(Diag {
                    position: pos,
                    reason: "empty variable name `{}`".into(),
                });
            }
            (Kind::Var, end + 1, &rest[1..end])
        } else if c.is_ascii_digit() || c == '.' {
            // exmex: the longest run of digits and dots is a number if it has at most one dot
            // and is not a lone dot.
            let run = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let dots = rest[..run].matches('.').count();
            if dots > 1 || rest[..run] == *"." {
                return Err(Diag {
                    position: pos,
                    reason: format!("malformed number `{}`", &rest[..run]),
                });
            }
            (Kind::Num, run, &rest[..run])
        } else if let Some(&(repr, kind)) = ops.iter().find(|(repr, kind)| {
            rest.starts_with(repr)
                && (matches!(kind, Kind::Bin | Kind::BinUnary)
                    || !rest[repr.len()..].starts_with(is_name_char))
        }) {
            (kind, repr.len(), repr)
        } else if is_name_start(c) {
            let len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            (Kind::Var, len, &rest[..len])
        } else {
            return Err(Diag {
                position: pos,
                reason: format!("unexpected character `{c}`"),
            });
        };
        tokens.push(Token { kind, pos, name });
        pos += text[byte..byte + len].chars().count();
        byte += len;
    }
    Ok(tokens)
}

/// The findings of [`analyze`]: the first syntax error and the first ambiguous form.
struct Analysis {
    syntax: Option<Diag>,
    ambiguity: Option<Diag>,
}

/// Bookkeeping for one parenthesis level.
#[derive(Clone, Copy, Default)]
struct Level {
    /// Position of a unary `-` in front of the operand being read.
    neg: Option<usize>,
    /// Position of such a `-` whose operand has just been completed.
    neg_done: Option<usize>,
    /// The operand being read (or just read) is the exponent of a `^`.
    in_exponent: bool,
}

/// An open parenthesis: where, whether it is `min(`-style call syntax (and then whether its
/// comma was seen), and the enclosing level's state.
struct Frame<'a> {
    pos: usize,
    call: Option<(&'a str, bool)>,
    outer: Level,
}

/// Checks the token sequence with the grammar
/// `expr := unary* (number | variable | '(' expr ')' | binfn '(' expr ',' expr ')') (binop expr)?`
/// and reports the first token where it fails, plus the first `-a^b` or `a^b^c`. The grammar
/// accepts a subset of exmex's language (tested), so a formula it accepts is also parsed by
/// exmex, and one exmex rejects gets a position here.
fn analyze(tokens: &[Token<'_>]) -> Analysis {
    let mut out = Analysis {
        syntax: None,
        ambiguity: None,
    };
    let mut ambiguous = |position: usize, reason: String| {
        out.ambiguity.get_or_insert(Diag { position, reason });
    };
    let syntax = |position: usize, reason: String| Some(Diag { position, reason });

    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut level = Level::default();
    let mut expect_operand = true;
    let mut i = 0;
    let result = loop {
        let Some(t) = tokens.get(i) else {
            break if expect_operand {
                match tokens.last() {
                    None => syntax(0, "empty formula".into()),
                    Some(last) => syntax(
                        last.pos,
                        format!(
                            "the formula ends after `{}`, where an operand is expected",
                            last.name
                        ),
                    ),
                }
            } else if let Some(f) = stack.last() {
                syntax(f.pos, "`(` is never closed".into())
            } else {
                None
            };
        };
        if expect_operand {
            match t.kind {
                Kind::Num | Kind::Var => {
                    expect_operand = false;
                    level.neg_done = level.neg.take();
                }
                Kind::Open => {
                    stack.push(Frame {
                        pos: t.pos,
                        call: None,
                        outer: level,
                    });
                    level = Level::default();
                }
                Kind::BinUnary | Kind::Unary => {
                    if t.name == "-" && level.neg.is_none() {
                        level.neg = Some(t.pos);
                    }
                }
                Kind::Bin if tokens.get(i + 1).is_some_and(|n| n.kind == Kind::Open) => {
                    // `min(a, b)`: function-call syntax of a binary operator.
                    stack.push(Frame {
                        pos: tokens[i + 1].pos,
                        call: Some((t.name, false)),
                        outer: level,
                    });
                    level = Level::default();
                    i += 1;
                }
                Kind::Bin => {
                    break syntax(
                        t.pos,
                        format!(
                            "expected a number, a variable, `(` or a function, found operator `{}`",
                            t.name
                        ),
                    )
                }
                Kind::Close | Kind::Comma => {
                    break syntax(t.pos, format!("expected an operand before `{}`", t.name))
                }
            }
        } else {
            let neg_done = level.neg_done.take();
            match t.kind {
                Kind::Bin | Kind::BinUnary => {
                    if t.name == "^" {
                        if let Some(p) = neg_done {
                            ambiguous(
                                p,
                                "ambiguous unary minus before `^`: exmex reads `-a^b` as `(-a)^b`; \
                                 write `-(a^b)` or `(-a)^b`"
                                    .into(),
                            );
                        }
                        if level.in_exponent {
                            ambiguous(
                                t.pos,
                                "ambiguous chained power: exmex reads `a^b^c` as `(a^b)^c`; \
                                 write `(a^b)^c` or `a^(b^c)`"
                                    .into(),
                            );
                        }
                        level.in_exponent = true;
                    } else {
                        level.in_exponent = false;
                    }
                    expect_operand = true;
                }
                Kind::Close => {
                    let Some(f) = stack.pop() else {
                        break syntax(t.pos, "`)` without a matching `(`".into());
                    };
                    if let Some((op, false)) = f.call {
                        break syntax(
                            t.pos,
                            format!("`{op}(a, b)` needs two arguments separated by `,`"),
                        );
                    }
                    level = f.outer;
                    level.neg_done = level.neg.take();
                }
                Kind::Comma => match stack.last_mut() {
                    Some(Frame {
                        call: Some((_, seen @ false)),
                        ..
                    }) => {
                        *seen = true;
                        level = Level::default();
                        expect_operand = true;
                    }
                    _ => {
                        break syntax(
                            t.pos,
                            "unexpected `,` (only `atan2`, `min` and `max` take two arguments)"
                                .into(),
                        )
                    }
                },
                Kind::Num | Kind::Var | Kind::Open | Kind::Unary => {
                    let prev = &tokens[i - 1];
                    let sci = prev.kind == Kind::Num
                        && prev.pos + prev.name.chars().count() == t.pos
                        && t.name.starts_with(['e', 'E']);
                    break syntax(
                        t.pos,
                        if sci {
                            "scientific notation is not supported: write e.g. `3*10^-4` for 3e-4"
                                .into()
                        } else {
                            format!("missing operator before `{}`", t.name)
                        },
                    );
                }
            }
        }
        i += 1;
    };
    out.syntax = result;
    out
}

/// `head`, the formula indented by two spaces, and a caret under `char` position `position`.
///
/// A formula longer than [`SHOWN`] characters is shown as a window of [`SHOWN`] characters
/// around the position, with `…` where it is cut.
fn render(head: &str, text: &str, position: usize) -> String {
    let len = text.chars().count();
    let (shown, caret) = if len <= SHOWN {
        (text.to_string(), position)
    } else {
        let lo = position.saturating_sub(SHOWN / 2).min(len - SHOWN);
        let window: String = text.chars().skip(lo).take(SHOWN).collect();
        let head = if lo > 0 { "…" } else { "" };
        let tail = if lo + SHOWN < len { "…" } else { "" };
        (
            format!("{head}{window}{tail}"),
            position - lo + head.chars().count(),
        )
    };
    format!("{head}\n  {shown}\n  {}^ here", " ".repeat(caret))
}

/// The most characters of a formula an error message shows.
const SHOWN: usize = 100;

/// `s`, cut to 40 characters with `…` if longer (for names quoted in messages).
fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit LCG (Knuth's MMIX constants), enough for test points.
    struct Lcg(u64);

    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.unit()
        }
        fn below(&mut self, n: usize) -> usize {
            ((self.unit() * n as f64) as usize).min(n - 1)
        }
    }

    type ClosedGrad = fn(&[f64], f64, f64) -> Vec<f64>;

    fn spec(expr: &str, params: usize) -> FormulaSpec {
        FormulaSpec::parse(expr, params).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// Compares the symbolic gradient at 50 random points (w ∈ [lo, hi]^d, x, y ∈ [-2, 2])
    /// with central differences and, where given, with a hand-derived gradient.
    fn check_grad(expr: &str, params: usize, lo: f64, hi: f64, closed: Option<ClosedGrad>) {
        let f = spec(expr, params);
        let mut rng = Lcg(0x5eed ^ expr.len() as u64);
        for _ in 0..50 {
            let w: Vec<f64> = (0..params).map(|_| rng.uniform(lo, hi)).collect();
            let x = rng.uniform(-2.0, 2.0);
            let y = rng.uniform(-2.0, 2.0);
            let mut g = vec![0.0; params];
            f.grad(&w, x, y, &mut g);
            for i in 0..params {
                // Step h ≈ 1e-5: truncation error h²|f'''|/6 ≲ 1e-8 and rounding error
                // ε|f|/h ≲ 1e-10 for these formulas on these domains, far below 1e-6.
                let h = 1e-5 * (1.0 + w[i].abs());
                let (mut wp, mut wm) = (w.clone(), w.clone());
                wp[i] += h;
                wm[i] -= h;
                let fd = (f.loss(&wp, x, y) - f.loss(&wm, x, y)) / (2.0 * h);
                assert!(
                    (g[i] - fd).abs() <= 1e-6 * (1.0 + g[i].abs().max(fd.abs())),
                    "{expr}: d/dw{} at w={w:?} x={x} y={y}: symbolic {} vs central {fd}",
                    i + 1,
                    g[i]
                );
            }
            if let Some(closed) = closed {
                let c = closed(&w, x, y);
                for i in 0..params {
                    assert!(
                        (g[i] - c[i]).abs() <= 1e-12 * (1.0 + c[i].abs()),
                        "{expr}: d/dw{} at w={w:?} x={x} y={y}: symbolic {} vs closed form {}",
                        i + 1,
                        g[i],
                        c[i]
                    );
                }
            }
        }
    }

    /// The sharp-flat landscape with a = 0.5, b = 14. Eq. 9's `-(w1-w2)^2` is written
    /// `-((w1-w2)^2)`: exmex would read the former as `(-(w1-w2))^2` and it is rejected (see
    /// `ambiguous_forms_are_rejected`).
    const SHARP_FLAT: &str = "0.5*(-((w1-w2)^2) - (w1+w2)^2 + (w1-w2)^4 + (w1+w2)^4 \
                              - 2*0.5*w2^2 + x*14*w1^2)";

    #[test]
    fn gradient_quadratic() {
        check_grad("x*w1^2/2", 1, -3.0, 3.0, Some(|w, x, _| vec![x * w[0]]));
    }

    #[test]
    fn gradient_quartic() {
        check_grad(
            "x*w1^2/2 + w1^4/4",
            1,
            -2.0,
            2.0,
            Some(|w, x, _| vec![x * w[0] + w[0].powi(3)]),
        );
    }

    #[test]
    fn gradient_tiny_net() {
        check_grad(
            "(w2*w1^2 - y)^2",
            2,
            -1.5,
            1.5,
            Some(|w, _, y| {
                let r = w[1] * w[0] * w[0] - y;
                vec![2.0 * r * 2.0 * w[1] * w[0], 2.0 * r * w[0] * w[0]]
            }),
        );
    }

    #[test]
    fn gradient_sharp_flat() {
        let (a, b) = (0.5, 14.0);
        let f = spec(SHARP_FLAT, 2);
        let mut rng = Lcg(7);
        for _ in 0..50 {
            let w = [rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5)];
            let x = rng.uniform(-2.0, 2.0);
            let (u, v) = (w[0] - w[1], w[0] + w[1]);
            let loss = 0.5
                * (-u * u - v * v + u.powi(4) + v.powi(4) - 2.0 * a * w[1] * w[1]
                    + x * b * w[0] * w[0]);
            assert!((f.loss(&w, x, 0.0) - loss).abs() <= 1e-12 * (1.0 + loss.abs()));
        }
        check_grad(
            SHARP_FLAT,
            2,
            -1.5,
            1.5,
            Some(|w, x, _| {
                let (a, b) = (0.5, 14.0);
                let (u, v) = (w[0] - w[1], w[0] + w[1]);
                vec![
                    0.5 * (-2.0 * u - 2.0 * v
                        + 4.0 * u.powi(3)
                        + 4.0 * v.powi(3)
                        + 2.0 * x * b * w[0]),
                    0.5 * (2.0 * u - 2.0 * v - 4.0 * u.powi(3) + 4.0 * v.powi(3) - 4.0 * a * w[1]),
                ]
            }),
        );
    }

    #[test]
    fn gradient_transcendental() {
        check_grad(
            "sin(w1*x) * exp(w2/3) + ln(1 + w3^2) * y - cos(w1 - w3) + tanh(w2*w3) \
             + sqrt(1 + w1^2) + log(2 + sin(w2))",
            3,
            -2.0,
            2.0,
            None,
        );
    }

    #[test]
    fn gradient_eight_params() {
        check_grad(
            "w1*w2 + w3^2*x - w4*y + sin(w5)*w6 + exp(w7/4)*w8",
            8,
            -2.0,
            2.0,
            Some(|w, x, y| {
                vec![
                    w[1],
                    w[0],
                    2.0 * w[2] * x,
                    -y,
                    w[4].cos() * w[5],
                    w[4].sin(),
                    (w[6] / 4.0).exp() * w[7] / 4.0,
                    (w[6] / 4.0).exp(),
                ]
            }),
        );
    }

    #[test]
    fn variables_map_to_w_x_y_whatever_their_order() {
        // exmex orders the variables w1 < w2 < x < y; the spec takes care of it.
        let f = spec("y - 2*x + 3*{w2} - 4*w1", 2);
        assert_eq!(
            f.loss(&[10.0, 100.0], 1000.0, 10000.0),
            10000.0 - 2000.0 + 300.0 - 40.0
        );
        let mut g = [0.0; 2];
        f.grad(&[10.0, 100.0], 1000.0, 10000.0, &mut g);
        assert_eq!(g, [-4.0, 3.0]);
        assert!(f.uses_x() && f.uses_y());
        assert_eq!(f.params(), 2);
        assert_eq!(f.expr(), "y - 2*x + 3*{w2} - 4*w1");

        let f = spec("x*w1^2/2 + w1^4/4", 1);
        assert!(f.uses_x() && !f.uses_y());
        assert_eq!(f.loss(&[2.0], -1.0, 0.0), -2.0 + 4.0);
        let f = spec("(w2*w1^2 - y)^2", 2);
        assert!(!f.uses_x() && f.uses_y());
    }

    #[test]
    fn parameters_absent_from_the_formula_have_zero_gradient() {
        let f = spec("w1^2 + x*w3", 3);
        let mut g = [7.0; 3];
        f.grad(&[1.0, 2.0, 3.0], 5.0, 0.0, &mut g);
        assert_eq!(g, [2.0, 0.0, 5.0]);
        let f = spec("x^2 + y", 1);
        f.grad(&[1.0], 5.0, 0.0, &mut g);
        assert_eq!(g[0], 0.0);
    }

    #[test]
    fn whitespace_is_ignored() {
        let f = spec(" w1\t*\n x ", 1);
        assert_eq!(f.loss(&[3.0], 2.0, 0.0), 6.0);
        assert_eq!(f.expr(), " w1\t*\n x ");
    }

    #[test]
    fn unknown_variables_are_named() {
        for (expr, name, position) in [("w1*z", "z", 3), ("w9 + w1", "w9", 0), ("w0*x", "w0", 0)] {
            match FormulaSpec::parse(expr, 2) {
                Err(e @ FormulaError::UnknownVariable { .. }) => {
                    let msg = e.to_string();
                    let FormulaError::UnknownVariable {
                        name: n,
                        allowed,
                        position: p,
                        ..
                    } = e
                    else {
                        unreachable!()
                    };
                    assert_eq!(n, name);
                    assert_eq!(p, position, "{expr}");
                    assert_eq!(allowed, ["w1", "w2", "x", "y"]);
                    assert!(msg.contains(&format!("`{name}`")), "{msg}");
                    assert!(msg.contains("w1, w2, x, y"), "{msg}");
                }
                other => panic!("{expr}: {other:?}"),
            }
        }
        // w3 is fine with 3 parameters.
        assert!(FormulaSpec::parse("w3", 3).is_ok());
    }

    #[test]
    fn params_out_of_range_are_rejected() {
        for params in [0, 9] {
            assert_eq!(
                FormulaSpec::parse("w1", params).unwrap_err(),
                FormulaError::BadParams { params }
            );
        }
        assert!(FormulaSpec::parse("w8", 8).is_ok());
    }

    fn parse_error(expr: &str) -> (usize, String, String) {
        match FormulaSpec::parse(expr, 2) {
            Err(FormulaError::Parse {
                reason,
                position,
                message,
            }) => (position, reason, message),
            other => panic!("{expr}: expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn parse_errors_point_at_the_offending_place() {
        // Positions are 0-based char indices of the token where the formula stops making
        // sense, i.e. the end of the longest prefix that can still be completed, except at the
        // end of the string, where the unfinished construct is blamed:
        let cases = [
            // `x*w1^` is a fine start; the second `^` (index 5) is where an operand was needed.
            ("x*w1^^2", 5),
            // Everything up to the end could be completed by a `)`; the caret goes under the
            // `(` that is never closed (index 0), which tells which parenthesis is open.
            ("(w1 + 2", 0),
            // The formula ends after the `+` (index 3), which lacks its right operand.
            ("w1 + ", 3),
            // Nothing at all: index 0.
            ("", 0),
            ("   ", 0),
            // `$` (index 3) is not part of the syntax.
            ("w1 $ 2", 3),
            // After a tab (one char) the position is still a char index.
            ("w1\t$", 3),
            // Two operands in a row: the second one (index 3).
            ("w1 w2", 3),
            // A `)` that closes nothing (index 2) and an empty argument list (`)` at 4).
            ("w1)", 2),
            ("sin()", 4),
            // An operand is missing before `)` at index 3.
            ("(x*)2", 3),
            // A malformed number starts at index 2; scientific notation breaks at the `e`.
            ("x*1..2", 2),
            ("x*1e-3", 3),
            // A `,` outside `min(a, b)`-style calls.
            ("x, y", 1),
        ];
        for (expr, position) in cases {
            let (p, reason, message) = parse_error(expr);
            assert_eq!(p, position, "{expr:?}: {message}");
            assert!(message.starts_with(&format!("cannot parse formula: {reason}\n")));
        }
        let (_, _, message) = parse_error("x*w1^^2");
        assert_eq!(
            message,
            "cannot parse formula: expected a number, a variable, `(` or a function, \
             found operator `^`\n  x*w1^^2\n       ^ here"
        );
        assert!(parse_error("w1 $ 2").1.contains('$'));
        assert!(parse_error("(w1 + 2").1.contains("never closed"));
        assert!(parse_error("x*1e-3").1.contains("scientific notation"));
    }

    #[test]
    fn ambiguous_forms_are_rejected() {
        // exmex reads `-w1^2` as `(-w1)^2`: the caret is under the unary minus.
        assert_eq!(parse_error("x - -w1^2").0, 4);
        assert_eq!(parse_error("-sin(w1)^2").0, 0);
        // Eq. 9 written naively: `0.5*(-(w1-w2)^2 ...`, minus at index 5.
        assert_eq!(parse_error("0.5*(-(w1-w2)^2 - (w1+w2)^2 + (w1-w2)^4)").0, 5);
        // exmex reads `2^3^2` as `(2^3)^2`: the caret is under the second `^`.
        assert_eq!(parse_error("w1^3^2").0, 4);
        assert_eq!(parse_error("w1^(3)^2").0, 6);
        // Explicit forms are accepted and mean what they say.
        let w = [3.0, 0.0];
        for (expr, value) in [
            ("-(w1^2)", -9.0),
            ("(-w1)^2", 9.0),
            ("0 - w1^2", -9.0),
            ("2*-w1", -6.0),
            ("-w1*2", -6.0),
            ("w1 - -w1", 6.0),
            ("(w1^2)^2", 81.0),
            ("w1^(2^2)", 81.0),
            ("w1^2*w1^2", 81.0),
            ("2^-w1", 0.125),
            ("sin(w1)^2 + cos(w1)^2", 1.0),
            ("min(w1^2, 10) + 0*x", 9.0),
        ] {
            let f = FormulaSpec::parse(expr, 2).map(|f| f.loss(&w, 1.0, 0.0));
            // `min` parses; it only fails to differentiate.
            match f {
                Ok(v) => assert!((v - value).abs() < 1e-12, "{expr}: {v} != {value}"),
                Err(FormulaError::Differentiate { .. }) if expr.starts_with("min") => {}
                Err(e) => panic!("{expr}: {e}"),
            }
        }
    }

    #[test]
    fn non_differentiable_functions_are_reported() {
        for expr in ["abs(w1)", "w1^2*abs(x)", "min(w1, x)", "floor(w1)"] {
            assert!(
                matches!(
                    FormulaSpec::parse(expr, 1),
                    Err(FormulaError::Differentiate { param: 1, .. })
                ),
                "{expr}"
            );
        }
    }

    #[test]
    fn origin_probe() {
        assert!(spec("x*w1^2/2", 1).origin_is_fixed());
        assert!(spec("x*w1^2/2 + w1^4/4", 1).origin_is_fixed());
        assert!(spec("(w2*w1^2 - y)^2", 2).origin_is_fixed());
        assert!(spec(SHARP_FLAT, 2).origin_is_fixed());
        assert!(!spec("(w1 - y)^2", 1).origin_is_fixed());
        // Zero at x = 0 only.
        assert!(!spec("w1^2 + x*w1", 1).origin_is_fixed());
        // Infinite derivative at 0.
        assert!(!spec("sqrt(w1^2 + 0*x)", 1).origin_is_fixed());
    }

    #[test]
    fn model_impl() {
        let m = Formula::<2>::new(spec("(w2*w1^2 - y)^2 + x*w2", 2)).unwrap();
        assert_eq!(m.name(), "formula");
        let w = [0.5, -1.5];
        let s = Sample { x: 2.0, y: 0.25 };
        let r = w[1] * w[0] * w[0] - s.y;
        assert!((m.loss(&w, &s) - (r * r + s.x * w[1])).abs() < 1e-15);
        let mut g = [1.0, -1.0];
        m.grad_acc(&w, &s, 0.5, &mut g);
        let exact = [4.0 * r * w[1] * w[0], 2.0 * r * w[0] * w[0] + s.x];
        assert!((g[0] - (1.0 + 0.5 * exact[0])).abs() < 1e-15);
        assert!((g[1] - (-1.0 + 0.5 * exact[1])).abs() < 1e-15);
        let moments = Moments {
            mean_x: 0.0,
            m2_x: 1.0,
            mean_y: 0.0,
            m2_y: 1.0,
        };
        assert_eq!(m.expected_loss(&w, &moments), None);
        assert!(!m.expected_grad(&w, &moments, &mut g));
        assert!(!m.origin_is_fixed());
        assert_eq!(m.spec().params(), 2);

        assert_eq!(
            Formula::<3>::new(spec("w1", 2)).unwrap_err(),
            FormulaError::DimensionMismatch { spec: 2, model: 3 }
        );
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Formula<2>>();
    }

    #[test]
    fn discrete_expectations_are_weighted_sums() {
        let m = Formula::<1>::new(spec("x*w1^2/2 + w1^4/4 + y*w1", 1)).unwrap();
        let atoms = [
            (Sample { x: 1.0, y: 0.0 }, 0.25),
            (Sample { x: -3.0, y: 2.0 }, 0.75),
        ];
        let w = [1.5];
        let ex: f64 = 0.25 * 1.0 - 0.75 * 3.0;
        let ey: f64 = 0.75 * 2.0;
        let loss = ex * w[0] * w[0] / 2.0 + w[0].powi(4) / 4.0 + ey * w[0];
        assert!((m.expected_loss_discrete(&w, &atoms) - loss).abs() < 1e-12);
        let mut g = [123.0];
        m.expected_grad_discrete(&w, &atoms, &mut g);
        assert!((g[0] - (ex * w[0] + w[0].powi(3) + ey)).abs() < 1e-12);
    }

    /// A reference evaluation of a formula: (w, x, y) ↦ value.
    type Reference = Box<dyn Fn([f64; 2], f64, f64) -> f64>;

    /// A random formula in w1, w2, x, y of nesting depth at most `depth`, with an
    /// independent evaluation of it in Rust. Its values stay finite on w, x, y ∈ [-2, 2]
    /// (functions with a restricted domain get a safe argument). Sub-formulas are
    /// parenthesized where they are operands, except in the last, unparenthesized chain.
    fn random_formula(rng: &mut Lcg, depth: usize) -> (String, Reference) {
        if depth == 0 || rng.unit() < 0.2 {
            let k = rng.below(7);
            let text = ["w1", "w2", "x", "y", "0.5", "3", "w1"][k].to_string();
            let f: Reference = Box::new(move |w, x, y| [w[0], w[1], x, y, 0.5, 3.0, w[0]][k]);
            return (text, f);
        }
        let (a, fa) = random_formula(rng, depth - 1);
        let (b, fb) = random_formula(rng, depth - 1);
        let (a, b) = (format!("({a})"), format!("({b})"));
        let (text, f): (String, Reference) = match rng.below(14) {
            0 => (
                format!("{a} + {b}"),
                Box::new(move |w, x, y| fa(w, x, y) + fb(w, x, y)),
            ),
            1 => (
                format!("{a} - {b}"),
                Box::new(move |w, x, y| fa(w, x, y) - fb(w, x, y)),
            ),
            2 => (
                format!("{a} * {b}"),
                Box::new(move |w, x, y| fa(w, x, y) * fb(w, x, y)),
            ),
            3 => (
                format!("{a} * {b} / (2 + {b}^2)"),
                Box::new(move |w, x, y| {
                    let v = fb(w, x, y);
                    fa(w, x, y) * v / (2.0 + v * v)
                }),
            ),
            4 => (
                format!("{a}^2"),
                Box::new(move |w, x, y| fa(w, x, y).powi(2)),
            ),
            5 => (
                format!("{a}^3 - {b}"),
                Box::new(move |w, x, y| fa(w, x, y).powi(3) - fb(w, x, y)),
            ),
            6 => (
                format!("sin{a}"),
                Box::new(move |w, x, y| fa(w, x, y).sin()),
            ),
            7 => (
                format!("cos{a} * {b}"),
                Box::new(move |w, x, y| fa(w, x, y).cos() * fb(w, x, y)),
            ),
            8 => (
                format!("exp(tanh{a})"),
                Box::new(move |w, x, y| fa(w, x, y).tanh().exp()),
            ),
            9 => (
                format!("atan{a} + -{b}"),
                Box::new(move |w, x, y| fa(w, x, y).atan() - fb(w, x, y)),
            ),
            10 => (
                format!("sqrt(1 + {a}^2)"),
                Box::new(move |w, x, y| (1.0 + fa(w, x, y).powi(2)).sqrt()),
            ),
            11 => (
                format!("ln(2 + sin{a})"),
                Box::new(move |w, x, y| (2.0 + fa(w, x, y).sin()).ln()),
            ),
            12 => (
                format!("(2 + cos{a})^({b}/4)"),
                Box::new(move |w, x, y| (2.0 + fa(w, x, y).cos()).powf(fb(w, x, y) / 4.0)),
            ),
            _ => (
                format!("{a} - {b} + {a}*{b} - {b}/3 * 2*3"),
                Box::new(move |w, x, y| {
                    let (u, v) = (fa(w, x, y), fb(w, x, y));
                    u - v + u * v - v / 3.0 * 6.0
                }),
            ),
        };
        (text, f)
    }

    /// On random formulas, the tape's value agrees with an independent evaluation, and its
    /// gradient with central differences of that evaluation and with exmex's symbolic partial
    /// derivatives (the method used before the tape) wherever exmex evaluates the formula
    /// right.
    #[test]
    fn tape_agrees_with_references() {
        let mut rng = Lcg(2024);
        let (mut checked, mut symbolic_checked) = (0, 0);
        for _ in 0..300 {
            let (expr, reference) = random_formula(&mut rng, 4);
            let f = spec(&expr, 2);
            let exmex = Expr::parse(&expr).unwrap();
            let names = exmex.var_names().to_vec();
            let partials: Vec<Option<Expr>> = (0..2)
                .map(|i| {
                    let idx = names.iter().position(|n| *n == format!("w{}", i + 1))?;
                    Some(exmex.clone().partial(idx).expect("differentiable"))
                })
                .collect();
            for _ in 0..5 {
                let w = [rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)];
                let (x, y) = (rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0));
                let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * (1.0 + b.abs());
                let loss = f.loss(&w, x, y);
                let want = reference(w, x, y);
                assert!(
                    close(loss, want, 1e-11),
                    "{expr}: tape {loss} vs reference {want}"
                );
                let vars: Vec<f64> = names
                    .iter()
                    .map(|n| match n.as_str() {
                        "w1" => w[0],
                        "w2" => w[1],
                        "x" => x,
                        _ => y,
                    })
                    .collect();
                let exmex_right = close(exmex.eval(&vars).unwrap(), want, 1e-11);
                let mut g = [0.0; 2];
                f.grad(&w, x, y, &mut g);
                for i in 0..2 {
                    let h = 1e-5;
                    let (mut wp, mut wm) = (w, w);
                    wp[i] += h;
                    wm[i] -= h;
                    let fd = (reference(wp, x, y) - reference(wm, x, y)) / (2.0 * h);
                    assert!(
                        close(g[i], fd, 1e-5),
                        "{expr}: d/dw{} tape {} vs central {fd}",
                        i + 1,
                        g[i]
                    );
                    if exmex_right {
                        let symbolic = partials[i].as_ref().map_or(0.0, |p| p.eval(&vars).unwrap());
                        assert!(
                            close(g[i], symbolic, 1e-11),
                            "{expr}: d/dw{} tape {} vs symbolic {symbolic}",
                            i + 1,
                            g[i]
                        );
                        symbolic_checked += 1;
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 1500);
        assert!(symbolic_checked > 2000, "{symbolic_checked}");
    }

    /// exmex 0.21 misreads `cos(w1*3*3/11)` as `w1*cos(3*3/11)`; the tape does not.
    #[test]
    fn exmex_misreading_is_avoided() {
        let f = spec("cos(w1 * 3 * 3 / 11)", 1);
        let w = 0.7f64;
        assert_eq!(f.loss(&[w], 0.0, 0.0), (w * 3.0 * 3.0 / 11.0).cos());
        let exmex = Expr::parse("cos(w1 * 3 * 3 / 11)")
            .unwrap()
            .eval(&[w])
            .unwrap();
        assert!((exmex - w * (9.0f64 / 11.0).cos()).abs() < 1e-15, "{exmex}");
        let mut g = [0.0];
        f.grad(&[w], 0.0, 0.0, &mut g);
        assert!((g[0] + (9.0 / 11.0) * (w * 9.0 / 11.0).sin()).abs() < 1e-15);
    }

    #[test]
    fn tape_shape() {
        // Constants fold and unary `+` is nothing: x, w1, 2, ^, ·, 1.5, /, 0, +.
        assert_eq!(spec("x*w1^2/(3*0.5) + 0*+2", 1).tape.len(), 9);
        assert_eq!(spec("((((w1))))", 1).tape.len(), 1);
        // exmex's priorities: `/` before `*`, `-` before `+`, left to right among equals.
        for (expr, value) in [
            ("w1 - 2 - 3", -4.0),
            ("w1 / 2 / 4", 0.125),
            ("w1 / 2 * 4", 2.0),
            ("w1 * 2 / 4", 0.5),
            ("w1 + 2 - 3 + 1", 1.0),
            ("2^w1^2", 4.0),
            ("-w1 + 3", 2.0),
            ("sin w1^2 + 1", 1.0 + 1f64.sin().powi(2)),
            ("max(w1, 3) - min(1, 2)", 2.0),
        ] {
            let tokens = tokenize(expr).unwrap();
            let slot = |n: &str| (n == "w1").then_some(Slot::W(0));
            let t = ad::Tape::build(&tokens, slot, MAX_DEPTH).unwrap();
            let v = t.value(|_| 1.0);
            assert!((v - value).abs() < 1e-15, "{expr}: {v} != {value}");
        }
    }

    /// Random token soups: whatever exmex rejects, the tokenizer or the grammar rejects too, at
    /// a position of its own (so exmex's bare message, without a position, is never needed
    /// for these tokens), and the grammar's language is a subset of exmex's.
    #[test]
    fn grammar_rejects_whatever_exmex_rejects() {
        const ALPHABET: [&str; 30] = [
            "w1", "w2", "x", "y", "2", "0.5", "+", "-", "*", "/", "^", "(", ")", "(", ")", ",",
            "sin", "min", "exp", " ", "e", "PI", "{x}", "w1", "atan2", "ln", "{", "}", ".", "e3",
        ];
        let mut rng = Lcg(42);
        let (mut rejected, mut accepted) = (0, 0);
        for _ in 0..20_000 {
            let n = 1 + rng.below(8);
            let s: String = (0..n)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect();
            let exmex = Expr::parse(&s);
            let ours = tokenize(&s).map(|t| analyze(&t).syntax);
            match (&exmex, &ours) {
                (Err(_), Err(_) | Ok(Some(_))) => rejected += 1,
                (Ok(_), Ok(None)) => accepted += 1,
                (Ok(_), _) => {} // exmex is laxer (e.g. `*2 x`): fine
                (Err(e), Ok(None)) => panic!("{s:?}: exmex says {e}, the grammar accepts it"),
            }
        }
        assert!(rejected > 4_000 && accepted > 400, "{rejected} {accepted}");
    }
}
