//! Numerical building blocks for the theory ([`crate::theory`]): adaptive quadrature with break
//! points on finite or infinite intervals, Brent's root finder, all roots of a function in an
//! interval, and 1-D maximisation.
//!
//! These serve the paper's expectations over the data law (μ = E ln|1 − λx| of Lemma 1 and
//! Prop. 6, with an integrable logarithmic singularity where 1 − λx = 0), the roots μ(λ) = 0
//! of Prop. 2, the maximum of μ of Prop. 3, and the continuous-time densities of App. C.
//!
//! Errors are [`TheoryError::InvalidArgument`] for a bad interval or tolerance (named `range`,
//! `tol`, `grid`) and [`TheoryError::Numeric`] when a method does not reach its tolerance or the
//! function returns NaN.
//!
//! The error type, [`TheoryError`], is defined here, below the theory that reports it (and
//! re-exported as [`crate::theory::TheoryError`]), so that this layer and the data laws
//! ([`crate::noise`]) need nothing from above them.

mod json;
mod maxima;
mod quadrature;
mod roots;
mod special;

pub use json::{serialize_f64, serialize_opt_f64};
pub use maxima::{maximize, Maximum};
pub use quadrature::{integrate, Integral, Tolerance, MAX_PIECES};
pub use roots::{
    all_roots, all_roots_with, brent_root, check_grid, scan_samples, MAX_GRID, MAX_LADDERS,
};
pub use special::{binomial_tails, erf, erfc};

/// Why a theoretical quantity could not be computed.
///
/// Every message names the offending argument (as the user wrote it: `lr`, `a`, `delta`, …)
/// or the quantity that does not exist, and what is allowed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TheoryError {
    /// An argument is out of its domain (λ ≤ 0, an empty range, a density that is not
    /// positive, …).
    #[error("{name}: {msg}")]
    InvalidArgument {
        /// The argument, as the user names it (e.g. `lr`, `a`, `range`).
        name: String,
        /// What is wrong and what is allowed.
        msg: String,
    },
    /// A moment or integral the quantity needs does not exist (is infinite or undefined).
    #[error("{0}")]
    MomentDoesNotExist(String),
    /// The quantity does not exist for these arguments (no root, no stationary law, …).
    #[error("{0}")]
    NoSolution(String),
    /// A density cannot be normalised on the requested domain.
    #[error("{0}")]
    NotNormalisable(String),
    /// A numerical method did not reach its tolerance.
    #[error("numerical method failed: {0}")]
    Numeric(String),
    /// The computation would be too large (e.g. too many count vectors to enumerate).
    #[error("{0}")]
    TooLarge(String),
}

/// Shorthand for an [`TheoryError::InvalidArgument`].
pub(crate) fn invalid<T>(name: &str, msg: impl Into<String>) -> Result<T, TheoryError> {
    Err(TheoryError::InvalidArgument {
        name: name.into(),
        msg: msg.into(),
    })
}
