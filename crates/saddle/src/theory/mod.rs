//! Theory: the paper's analytical results as callable code, so that every simulation can be
//! laid beside its prediction.
//!
//! Discrete time (App. B, D): the log-moments μ(λ), s²(λ) of Lemma 1 ([`log_moments`]), the
//! phase boundary of Prop. 2 ([`phase`]), the escape rate of Prop. 3 ([`escape_rate`]), the
//! exact escape probability at finite t ([`escape_probability`]), Prop. 4's sharp-flat
//! construction ([`sharp_flat`]), Prop. 5's AMSGrad interval ([`amsgrad`]) and the Kesten tail
//! exponent of SGD with additive noise ([`kesten`]).
//!
//! Continuous time (App. C, D.5): stationary densities of the 1-D Fokker–Planck equation
//! ([`stationary`]), its transient solution ([`fokker_planck`]), the designed noise of Prop. 10
//! ([`designed_noise`]) and distances between a histogram and a density ([`distance`]).

pub mod amsgrad;
pub mod designed_noise;
pub mod distance;
pub mod escape_probability;
pub mod escape_rate;
pub mod fokker_planck;
pub mod kesten;
pub mod log_moments;
pub mod phase;
pub mod sharp_flat;
pub mod stationary;

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
