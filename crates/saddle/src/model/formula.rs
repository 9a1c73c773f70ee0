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
//! [`crate::noise::GAUSS_NODES`] nodes, as the drift of the SDE, App. C): exact for formulas
//! polynomial in the data of degree below 2·[`crate::noise::GAUSS_NODES`], an approximation
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

use super::{Model, Moments, Sample};
use crate::noise::{Law, NoiseLaw};

mod ad;
mod parse;
#[cfg(test)]
mod tests;

/// The largest number of parameters a formula may have (`w1`..`w8`).
pub const MAX_PARAMS: usize = 8;

/// The longest formula accepted, in `char`s: it bounds the number of tokens and tape nodes.
pub const MAX_LEN: usize = 4000;

/// The deepest nesting accepted: open parentheses plus unary operators and functions waiting
/// for their operand, at any point of the formula (`cos(cos(w1))` and `-(-(w1))` have depth
/// 4). It bounds the recursion of exmex's parser.
pub const MAX_DEPTH: usize = 1000;

/// Values of x and y at which [`FormulaSpec::origin_is_fixed`] probes the gradient at w = 0.
const PROBES: [f64; 7] = [-3.7, -1.0, -0.3, 0.0, 0.5, 1.0, 2.9];

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
    /// ([`crate::noise::data_nodes`], [`crate::noise::GAUSS_NODES`] nodes), exact for formulas
    /// polynomial in the drawn field of degree below 2·[`crate::noise::GAUSS_NODES`]. For finite
    /// laws the engine sums over the atoms itself, so nothing is kept.
    pub fn with_noise(mut self, noise: &NoiseLaw) -> Self {
        self.nodes = matches!(noise.law, Law::Gaussian { .. } | Law::Uniform { .. })
            .then(|| crate::noise::data_nodes(noise));
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
