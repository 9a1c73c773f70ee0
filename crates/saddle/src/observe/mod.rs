//! Observers: what an ensemble measures, accumulated run by run in O(1) memory per run
//! (SciML-style reductions), never storing trajectories.
//!
//! The engine advances each run without interruption between *record steps* (the union of
//! every observer's steps and the final step T) and hands the state to [`Accumulator::record`]
//! there. Accumulators of disjoint chunks of runs are merged in chunk order, so results do not
//! depend on the thread count.

mod accumulator;
mod norms;
mod results;
mod spec;

pub use accumulator::Accumulator;
pub use norms::{ln_norm, norm};
pub use results::{
    EscapeFraction, EscapeRatePoint, FinalState, Histogram, Observed, RunView, Status, TracePoint,
};
pub use spec::{
    log_steps, EscapeSpec, Hist1dSpec, Hist2dSpec, ObserveSpec, TooLarge, MAX_FINAL_STATES,
    MAX_HISTOGRAM_BINS, MAX_HISTOGRAM_STEPS, MAX_STEP_LIST,
};
