//! What an ensemble is asked to observe, and the limits on the sizes of its observers.

use super::accumulator::{Hist, TraceAcc};
use super::FinalState;
use serde::Serialize;

#[cfg(doc)]
use super::Accumulator;

/// A 1-D histogram of one parameter at chosen steps (Figs 1, 9, 10).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hist1dSpec {
    /// Parameter index (0-based).
    pub param: usize,
    /// Lower edge.
    pub lo: f64,
    /// Upper edge.
    pub hi: f64,
    /// Number of equal-width bins.
    pub bins: usize,
    /// Steps at which to histogram (0 = initialisation).
    pub steps: Vec<u64>,
}

/// A 2-D histogram of two parameters at chosen steps (Figs 4, 6).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hist2dSpec {
    /// Parameter indices (0-based) on the two axes.
    pub params: [usize; 2],
    /// Lower edges.
    pub lo: [f64; 2],
    /// Upper edges.
    pub hi: [f64; 2],
    /// Bins per axis.
    pub bins: [usize; 2],
    /// Steps at which to histogram.
    pub steps: Vec<u64>,
}

/// The escape criterion ‖w_T − c‖ ≥ δ.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EscapeSpec {
    /// Threshold δ.
    pub delta: f64,
    /// Centre c (the stationary point w*), one value per parameter.
    pub center: Vec<f64>,
}

/// Everything an ensemble observes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ObserveSpec {
    /// 1-D histograms.
    pub histograms: Vec<Hist1dSpec>,
    /// 2-D histograms.
    pub histograms2d: Vec<Hist2dSpec>,
    /// Steps at which to record mean loss and mean ‖w‖ (a trace); empty = none.
    pub trace_steps: Vec<u64>,
    /// Escape fraction at the final step.
    pub escape: Option<EscapeSpec>,
    /// Steps t at which to estimate γ̂(t) (Eq. 8).
    pub escape_rate_steps: Vec<u64>,
    /// Keep every run's final state.
    pub final_states: bool,
}

/// The most histogram bins an ensemble may count in: Σ bins × steps over every 1-D and 2-D
/// histogram (a 2-D histogram's bins are bins₁ × bins₂). The engine keeps one dense copy of
/// these counts (8 bytes each, 32 MB at the limit); its per-chunk accumulators keep only the
/// bins their runs landed in.
pub const MAX_HISTOGRAM_BINS: u64 = 4_000_000;

/// The most (histogram, step) pairs, over every 1-D and 2-D histogram.
pub const MAX_HISTOGRAM_STEPS: u64 = 10_000;

/// The most trace points (`observe.trace`) and the most steps in `observe.escape_rate_steps`.
pub const MAX_STEP_LIST: u64 = 10_000;

/// The most runs whose final states may be kept (`observe.final_states = true`): about
/// 100 bytes each in memory (≈ 1 GB at the limit), and a CSV row each.
pub const MAX_FINAL_STATES: u64 = 10_000_000;

/// An observer that would hold more than the engine allows: the key, its value, the limit.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{key}: {value} {what}; at most {limit} are allowed ({why})")]
pub struct TooLarge {
    /// The key, e.g. `observe.histogram2d[0].bins`.
    pub key: String,
    /// The value that is too large.
    pub value: u64,
    /// What `value` counts.
    pub what: String,
    /// The limit.
    pub limit: u64,
    /// Why there is a limit, and what to do.
    pub why: String,
}

/// `n` steps spaced evenly in log scale between 1 and `t_max`, rounded and deduplicated.
pub fn log_steps(t_max: u64, n: usize) -> Vec<u64> {
    if n == 0 || t_max == 0 {
        return vec![];
    }
    let mut v: Vec<u64> = (0..n)
        .map(|i| {
            let f = if n == 1 {
                1.0
            } else {
                i as f64 / (n - 1) as f64
            };
            ((t_max as f64).powf(f).round() as u64).clamp(1, t_max)
        })
        .collect();
    v.dedup();
    v
}

impl ObserveSpec {
    /// Whether nothing is observed but the final step's means, counts and escape fraction
    /// (no histograms, traces, escape rates or kept final states): what
    /// [`Accumulator::record_final`] records.
    pub fn final_only(&self) -> bool {
        self.histograms.is_empty()
            && self.histograms2d.is_empty()
            && self.trace_steps.is_empty()
            && self.escape_rate_steps.is_empty()
            && !self.final_states
    }

    /// Check the sizes the engine allocates for these observers before anything is allocated:
    /// [`MAX_HISTOGRAM_BINS`], [`MAX_HISTOGRAM_STEPS`], [`MAX_STEP_LIST`], and, if final
    /// states are kept for `runs` runs, [`MAX_FINAL_STATES`].
    pub fn check_size(&self, runs: u64) -> Result<(), TooLarge> {
        let lists = [
            (
                "observe.trace",
                self.trace_steps.len() as u64,
                "trace points",
            ),
            (
                "observe.escape_rate_steps",
                self.escape_rate_steps.len() as u64,
                "steps",
            ),
        ];
        for (key, n, what) in lists {
            if n > MAX_STEP_LIST {
                return Err(TooLarge {
                    key: key.into(),
                    value: n,
                    what: what.into(),
                    limit: MAX_STEP_LIST,
                    why: "each is a record step of every run".into(),
                });
            }
        }
        let (mut bins, mut steps) = (0u64, 0u64);
        let shapes = self
            .histograms
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let key = format!("observe.histogram[{i}]");
                (key, h.bins as u64, h.steps.len() as u64)
            })
            .chain(self.histograms2d.iter().enumerate().map(|(i, h)| {
                (
                    format!("observe.histogram2d[{i}]"),
                    (h.bins[0] as u64).saturating_mul(h.bins[1] as u64),
                    h.steps.len() as u64,
                )
            }));
        for (key, b, n) in shapes {
            steps = steps.saturating_add(n);
            bins = bins.saturating_add(b.saturating_mul(n));
            if steps > MAX_HISTOGRAM_STEPS {
                return Err(TooLarge {
                    key: format!("{key}.steps"),
                    value: steps,
                    what: "histogram snapshots (steps, summed over all histograms)".into(),
                    limit: MAX_HISTOGRAM_STEPS,
                    why: "use fewer steps or fewer histograms".into(),
                });
            }
            if bins > MAX_HISTOGRAM_BINS {
                return Err(TooLarge {
                    key: format!("{key}.bins"),
                    value: bins,
                    what: "histogram bins (bins × steps, summed over all histograms)".into(),
                    limit: MAX_HISTOGRAM_BINS,
                    why: "each is a count kept in memory and written out".into(),
                });
            }
        }
        if self.final_states && runs > MAX_FINAL_STATES {
            return Err(TooLarge {
                key: "observe.final_states".into(),
                value: runs,
                what: "runs whose final states would be kept".into(),
                limit: MAX_FINAL_STATES,
                why: "each takes about 100 bytes of memory; lower `runs`, or drop \
                      `final_states` (`saddle run` without --out does not keep them)"
                    .into(),
            });
        }
        Ok(())
    }

    /// About how many bytes one chunk's [`Accumulator`] of `runs` runs holds at most: what
    /// the engine budgets its window of accumulators in flight with.
    pub fn chunk_bytes(&self, runs: u64) -> u64 {
        let snapshots = self
            .histograms
            .iter()
            .map(|h| h.steps.len())
            .chain(self.histograms2d.iter().map(|h| h.steps.len()))
            .sum::<usize>() as u64;
        let hist = snapshots * (std::mem::size_of::<Hist>() as u64 + 4 * runs);
        let trace = self.trace_steps.len() as u64 * std::mem::size_of::<TraceAcc>() as u64;
        let gamma = self.escape_rate_steps.len() as u64 * 32;
        let finals = if self.final_states {
            runs * (std::mem::size_of::<FinalState>() as u64 + 64)
        } else {
            0
        };
        1024 + hist + trace + gamma + finals
    }

    /// All record steps, sorted and unique, always including the final step `t_max`.
    pub fn record_steps(&self, t_max: u64) -> Vec<u64> {
        let mut s: Vec<u64> = self
            .histograms
            .iter()
            .flat_map(|h| h.steps.iter().copied())
            .chain(
                self.histograms2d
                    .iter()
                    .flat_map(|h| h.steps.iter().copied()),
            )
            .chain(self.trace_steps.iter().copied())
            .chain(self.escape_rate_steps.iter().copied())
            .chain(std::iter::once(t_max))
            .collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}
