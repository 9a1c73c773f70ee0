//! What an observer sees of a run, and the observed results.

use serde::Serialize;

/// The state of a run when it is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Still running normally.
    Alive,
    /// Left the bound or became non-finite at the given step; frozen since.
    Diverged(u64),
    /// Reached 0 at the given step (exactly, as in Prop. 1, or below
    /// [`crate::ensemble::ABSORB_BELOW`]) on a landscape whose origin is a fixed point.
    Absorbed(u64),
}

/// What an observer sees of one run at one record step.
#[derive(Clone, Copy, Debug)]
pub struct RunView<'a> {
    /// Run index.
    pub run: u64,
    /// Step.
    pub t: u64,
    /// State at step t (for a diverged run: the last finite state).
    pub w: &'a [f64],
    /// Initial state.
    pub w0: &'a [f64],
    /// Status at step t.
    pub status: Status,
    /// Expected loss L(w_t), where the model and noise give one.
    pub loss: Option<f64>,
}

/// One run's final state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalState {
    /// Run index.
    pub run: u64,
    /// Final state (for a diverged run, its last finite state).
    pub w: Vec<f64>,
    /// Final status.
    pub status: Status,
}

/// A histogram (1-D or 2-D; 2-D counts are row-major, first parameter slowest).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Histogram {
    /// Parameter indices (0-based).
    pub params: Vec<usize>,
    /// Step.
    pub step: u64,
    /// Lower edges.
    pub lo: Vec<f64>,
    /// Upper edges.
    pub hi: Vec<f64>,
    /// Bins per axis.
    pub bins: Vec<usize>,
    /// Counts.
    pub counts: Vec<u64>,
    /// Runs below the range (any axis).
    pub underflow: u64,
    /// Runs above the range (any axis).
    pub overflow: u64,
    /// Diverged runs, left out.
    pub excluded: u64,
}

/// Mean loss and mean ‖w‖ at one step, over runs that have not diverged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TracePoint {
    /// Step.
    pub t: u64,
    /// Mean expected loss L(w_t) (null when the model has no expected loss).
    pub mean_loss: Option<f64>,
    /// Its standard error.
    pub loss_stderr: Option<f64>,
    /// Mean ‖w_t‖ (|w_t| for one parameter).
    pub mean_norm: Option<f64>,
    /// Its standard error.
    pub norm_stderr: Option<f64>,
    /// Runs averaged (not diverged).
    pub n: u64,
    /// Runs diverged by this step.
    pub diverged: u64,
    /// Runs absorbed at 0 by this step (included in the means).
    pub absorbed: u64,
}

/// γ̂(t) = (1/t)·mean ln(‖w_t‖/‖w₀‖) over runs alive at t (Eq. 8).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EscapeRatePoint {
    /// Step t.
    pub t: u64,
    /// γ̂(t) (null when no run is alive).
    pub value: Option<f64>,
    /// Standard error of γ̂(t).
    pub stderr: Option<f64>,
    /// Runs averaged.
    pub n: u64,
    /// Runs left out: diverged or absorbed by t (ln 0 = −∞), or starting at 0.
    pub excluded: u64,
}

/// P(‖w_T − c‖ ≥ δ); diverged runs count as escaped.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EscapeFraction {
    /// δ
    pub delta: f64,
    /// The fraction.
    pub value: f64,
    /// Its binomial standard error.
    pub stderr: f64,
    /// Escaped runs.
    pub escaped: u64,
}

/// Results of all observers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Observed {
    /// Mean loss and ‖w‖ at the final step.
    pub final_point: TracePoint,
    /// 1-D histograms.
    pub histograms: Vec<Histogram>,
    /// 2-D histograms.
    pub histograms2d: Vec<Histogram>,
    /// The trace.
    pub trace: Vec<TracePoint>,
    /// Escape fraction.
    pub escape: Option<EscapeFraction>,
    /// γ̂ at the chosen steps.
    pub escape_rate: Vec<EscapeRatePoint>,
    /// Final states, in run order.
    pub final_states: Option<Vec<FinalState>>,
}
