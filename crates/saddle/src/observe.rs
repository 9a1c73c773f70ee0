//! Observers: what an ensemble measures, accumulated run by run in O(1) memory per run
//! (SciML-style reductions), never storing trajectories.
//!
//! The engine advances each run without interruption between *record steps* (the union of
//! every observer's steps and the final step T) and hands the state to [`Accumulator::record`]
//! there. Accumulators of disjoint chunks of runs are merged in chunk order, so results do not
//! depend on the thread count.

use crate::stats::{proportion_stderr, Welford};
use serde::Serialize;

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

/// A histogram's counts. A chunk's accumulator notes the bin of each run it records (`hits`),
/// so it holds O(runs in the chunk) whatever the number of bins; the dense counts are allocated
/// once, in the accumulator the chunks are merged into (or once a chunk has noted as many runs
/// as there are bins). Counts are sums of integers, so where a run is counted first changes
/// nothing.
#[derive(Clone, Debug)]
struct Hist {
    /// Dense counts, one per bin; empty until needed.
    counts: Vec<u64>,
    /// Bins counted since, one entry per run.
    hits: Vec<usize>,
    bins: usize,
    under: u64,
    over: u64,
    excluded: u64,
}

impl Hist {
    fn new(n: usize) -> Self {
        Hist {
            counts: Vec::new(),
            hits: Vec::new(),
            bins: n,
            under: 0,
            over: 0,
            excluded: 0,
        }
    }

    /// Count a run in bin `i`.
    #[inline]
    fn add(&mut self, i: usize) {
        self.hits.push(i);
        if self.hits.len() >= self.bins.max(CHUNK_HITS) {
            self.densify();
        }
    }

    /// Allocate the dense counts (if not yet) and add the noted bins to them.
    fn densify(&mut self) {
        if self.counts.len() != self.bins {
            self.counts = vec![0; self.bins];
        }
        for &i in &self.hits {
            self.counts[i] += 1;
        }
        self.hits.clear();
    }

    fn merge(&mut self, o: &Hist) {
        self.densify();
        if !o.counts.is_empty() {
            self.counts
                .iter_mut()
                .zip(&o.counts)
                .for_each(|(a, b)| *a += b);
        }
        for &i in &o.hits {
            self.counts[i] += 1;
        }
        self.under += o.under;
        self.over += o.over;
        self.excluded += o.excluded;
    }

    /// The dense counts.
    fn into_counts(mut self) -> Vec<u64> {
        self.densify();
        self.counts
    }
}

/// Runs a histogram notes one by one before it allocates its dense counts, even with fewer
/// bins: a chunk's runs ([`crate::ensemble::CHUNK`]).
const CHUNK_HITS: usize = 256;

/// Bin index of `x` in [lo, hi) with `n` bins: Err(false) below, Err(true) at or above hi.
///
/// Bin i is [lo + i·w, lo + (i+1)·w) with w = (hi − lo)/n, the edges exactly as computed (and
/// written to CSV); the index from the division is corrected by one where rounding put `x`
/// across an edge (e.g. x = −10⁻²⁰⁰ with lo = −1 must land left of 0).
#[inline]
fn bin(x: f64, lo: f64, hi: f64, n: usize) -> Result<usize, bool> {
    if x < lo {
        return Err(false);
    }
    if x > hi {
        return Err(true);
    }
    let width = (hi - lo) / n as f64;
    let mut i = (((x - lo) / width) as usize).min(n - 1);
    if i > 0 && x < lo + width * i as f64 {
        i -= 1;
    } else if i + 1 < n && x >= lo + width * (i + 1) as f64 {
        i += 1;
    }
    // The upper edge belongs to the last bin.
    Ok(i)
}

/// ln‖w‖ without overflow or underflow of the squares (scaled by the largest coordinate).
#[inline]
pub fn ln_norm(w: &[f64]) -> f64 {
    let m = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if m == 0.0 || !m.is_finite() || w.len() == 1 {
        return m.ln();
    }
    m.ln() + 0.5 * w.iter().map(|x| (x / m) * (x / m)).sum::<f64>().ln()
}

/// Whether ‖w − c‖ ≥ δ, with ‖w − c‖ computed as √(Σ (wᵢ − cᵢ)²). In one dimension, with
/// δ in (S, L] = (10⁻¹⁵⁰, 10¹⁵⁰], that is |w − c| ≥ δ, so the square root, the costliest step
/// of recording a cheap run, is skipped. For x = |w − c| in (S, L), x² is a normal number
/// and √(x²) rounds to x exactly in binary floating point with rounding to nearest (Boldo,
/// "Stupid is as stupid does", 2015). Below and above, both sides agree because the
/// rounded √(x²) is monotone in x: for x ≤ S it is at most √(S²) = S < δ, and for x ≥ L at
/// least L ≥ δ (∞ where x² overflows). NaN fails both.
#[inline(always)]
fn beyond(w: &[f64], c: &[f64], delta: f64) -> bool {
    if let ([w], [c]) = (w, c) {
        if root_free(delta) {
            return (w - c).abs() >= delta;
        }
    }
    let d2: f64 = w.iter().zip(c).map(|(w, c)| (w - c) * (w - c)).sum();
    d2.sqrt() >= delta
}

/// Whether [`beyond`] in one dimension is |w − c| ≥ δ: δ in (S, L].
#[inline(always)]
fn root_free(delta: f64) -> bool {
    delta > SQUARE_SAFE.0 && delta <= SQUARE_SAFE.1
}

/// (S, L): magnitudes whose squares are normal numbers, with room to spare.
const SQUARE_SAFE: (f64, f64) = (1e-150, 1e150);

/// ‖w‖ without overflow or underflow of the squares.
#[inline]
pub fn norm(w: &[f64]) -> f64 {
    let m = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if m == 0.0 || !m.is_finite() || w.len() == 1 {
        return m;
    }
    m * w.iter().map(|x| (x / m) * (x / m)).sum::<f64>().sqrt()
}

#[derive(Clone, Debug, Default)]
struct TraceAcc {
    loss: Welford,
    norm: Welford,
    diverged: u64,
    absorbed: u64,
}

/// Values set aside by [`Accumulator::record_batch`] for the means of one observer at one
/// record step (empty between uses).
#[derive(Clone, Debug, Default)]
struct Batch {
    loss: Vec<f64>,
    norm: Vec<f64>,
}

/// Where [`Accumulator::record_views`] puts a value for a mean: into its accumulator at once
/// (one run), or aside into a batch buffer, for [`Welford::push_all`].
#[inline(always)]
fn put(acc: &mut Welford, buf: &mut Option<&mut Vec<f64>>, x: f64) {
    match buf {
        Some(b) => b.push(x),
        None => acc.push(x),
    }
}

/// Mean loss and mean ‖w‖ of the runs `(w, status, loss)` that did not diverge, with counts
/// of the diverged and absorbed ones; values pushed one by one or, if `batched`, a batch at a
/// time.
#[inline(always)]
fn trace<'v>(
    acc: &mut TraceAcc,
    batch: &mut Batch,
    batched: bool,
    runs: impl Iterator<Item = (&'v [f64], Status, Option<f64>)>,
) {
    let (mut bl, mut bn) = if batched {
        (Some(&mut batch.loss), Some(&mut batch.norm))
    } else {
        (None, None)
    };
    for (w, status, loss) in runs {
        match status {
            Status::Diverged(_) => acc.diverged += 1,
            s => {
                if let Status::Absorbed(_) = s {
                    acc.absorbed += 1;
                }
                if let Some(l) = loss {
                    put(&mut acc.loss, &mut bl, l);
                }
                put(&mut acc.norm, &mut bn, norm(w));
            }
        }
    }
    flush(&mut acc.loss, bl);
    flush(&mut acc.norm, bn);
}

/// Add a batch buffer's values to `acc` at once and empty it.
#[inline(always)]
fn flush(acc: &mut Welford, buf: Option<&mut Vec<f64>>) {
    if let Some(b) = buf {
        acc.push_all(b);
        b.clear();
    }
}

/// Per-chunk accumulator for an [`ObserveSpec`].
#[derive(Clone, Debug)]
pub struct Accumulator {
    /// Scratch of [`Accumulator::record_batch`] (empty between calls).
    batch: Batch,
    t_max: u64,
    h1: Vec<Vec<Hist>>,
    h2: Vec<Vec<Hist>>,
    trace: Vec<TraceAcc>,
    final_acc: TraceAcc,
    escaped: u64,
    runs: u64,
    gamma: Vec<(Welford, u64)>,
    finals: Vec<FinalState>,
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

impl Accumulator {
    /// An empty accumulator.
    pub fn new(spec: &ObserveSpec, t_max: u64) -> Self {
        Accumulator {
            t_max,
            h1: spec
                .histograms
                .iter()
                .map(|h| h.steps.iter().map(|_| Hist::new(h.bins)).collect())
                .collect(),
            h2: spec
                .histograms2d
                .iter()
                .map(|h| {
                    h.steps
                        .iter()
                        .map(|_| Hist::new(h.bins[0] * h.bins[1]))
                        .collect()
                })
                .collect(),
            trace: vec![TraceAcc::default(); spec.trace_steps.len()],
            final_acc: TraceAcc::default(),
            escaped: 0,
            runs: 0,
            gamma: vec![(Welford::default(), 0); spec.escape_rate_steps.len()],
            finals: vec![],
            batch: Batch::default(),
        }
    }

    /// Record one run at one record step.
    pub fn record(&mut self, spec: &ObserveSpec, v: &RunView<'_>) {
        self.record_views(spec, std::slice::from_ref(v), false);
    }

    /// Record several runs at the same record step, in order: as [`Accumulator::record`] for
    /// each in turn, except that each mean and variance takes the batch's values at once
    /// ([`Welford::push_all`]: two passes over the batch, merged as Chan et al.) instead of one
    /// by one. The statistics are the same up to rounding, without a division per run on one
    /// dependency chain, which otherwise bounds how fast cheap runs (exact mode) are counted.
    pub fn record_batch(&mut self, spec: &ObserveSpec, views: &[RunView<'_>]) {
        self.record_views(spec, views, true);
    }

    /// Record runs at one record step, observer by observer (which observers record at this
    /// step is looked up once), with the values for the means pushed one by one or, if
    /// `batched`, a batch at a time.
    #[inline(always)]
    fn record_views(&mut self, spec: &ObserveSpec, views: &[RunView<'_>], batched: bool) {
        let Some(t) = views.first().map(|v| v.t) else {
            return;
        };
        debug_assert!(
            views.iter().all(|v| v.t == t),
            "a batch is recorded at one step"
        );
        let mut batch = std::mem::take(&mut self.batch);
        for (h, acc) in spec.histograms.iter().zip(&mut self.h1) {
            if let Ok(k) = h.steps.binary_search(&t) {
                let a = &mut acc[k];
                for v in views {
                    if matches!(v.status, Status::Diverged(_)) {
                        a.excluded += 1;
                        continue;
                    }
                    match bin(v.w[h.param], h.lo, h.hi, h.bins) {
                        Ok(i) => a.add(i),
                        Err(false) => a.under += 1,
                        Err(true) => a.over += 1,
                    }
                }
            }
        }
        for (h, acc) in spec.histograms2d.iter().zip(&mut self.h2) {
            if let Ok(k) = h.steps.binary_search(&t) {
                let a = &mut acc[k];
                for v in views {
                    if matches!(v.status, Status::Diverged(_)) {
                        a.excluded += 1;
                        continue;
                    }
                    let bx = bin(v.w[h.params[0]], h.lo[0], h.hi[0], h.bins[0]);
                    let by = bin(v.w[h.params[1]], h.lo[1], h.hi[1], h.bins[1]);
                    match (bx, by) {
                        (Ok(i), Ok(j)) => a.add(i * h.bins[1] + j),
                        (Err(true), _) | (_, Err(true)) => a.over += 1,
                        _ => a.under += 1,
                    }
                }
            }
        }
        let runs = || views.iter().map(|v| (v.w, v.status, v.loss));
        if let Ok(k) = spec.trace_steps.binary_search(&t) {
            trace(&mut self.trace[k], &mut batch, batched, runs());
        }
        if let Ok(k) = spec.escape_rate_steps.binary_search(&t) {
            let (acc, excluded) = &mut self.gamma[k];
            let mut buf = batched.then_some(&mut batch.loss);
            for v in views {
                let zero_start = v.w0.iter().all(|x| *x == 0.0);
                match v.status {
                    Status::Alive if !zero_start => {
                        put(acc, &mut buf, (ln_norm(v.w) - ln_norm(v.w0)) / v.t as f64)
                    }
                    _ => *excluded += 1,
                }
            }
            flush(acc, buf);
        }
        if t == self.t_max {
            self.final_means(spec, &mut batch, batched, runs());
            if spec.final_states {
                self.finals.extend(views.iter().map(|v| FinalState {
                    run: v.run,
                    w: v.w.to_vec(),
                    status: v.status,
                }));
            }
        }
        self.batch = batch;
    }

    /// Record runs of a one-parameter model at the final step, given as arrays: states `w`
    /// (for a diverged run its last finite state), statuses, and expected losses (NaN where
    /// there is none). The same as [`Accumulator::record_batch`] with their views, for a spec
    /// that observes only the final step's means and escape fraction
    /// ([`ObserveSpec::final_only`]).
    #[inline(always)]
    pub fn record_final(&mut self, spec: &ObserveSpec, w: &[f64], status: &[Status], loss: &[f64]) {
        debug_assert!(spec.final_only() && w.len() == status.len() && w.len() == loss.len());
        let mut batch = std::mem::take(&mut self.batch);
        let plain = status.iter().all(|s| *s == Status::Alive) && !loss.iter().any(|l| l.is_nan());
        if plain {
            // Every run alive, with a loss: what `final_means` does, stage by stage.
            self.runs += w.len() as u64;
            self.final_acc.loss.push_all(loss);
            batch
                .norm
                .extend(w.iter().map(|x| norm(std::slice::from_ref(x))));
            self.final_acc.norm.push_all(&batch.norm);
            batch.norm.clear();
            if let Some(e) = &spec.escape {
                self.escaped += match e.center[..] {
                    [c] if root_free(e.delta) => w
                        .iter()
                        .map(|x| ((x - c).abs() >= e.delta) as u64)
                        .sum::<u64>(),
                    _ => w
                        .iter()
                        .map(|x| beyond(std::slice::from_ref(x), &e.center, e.delta) as u64)
                        .sum(),
                };
            }
            self.batch = batch;
            return;
        }
        let runs = w
            .iter()
            .zip(status)
            .zip(loss)
            .map(|((w, s), l)| (std::slice::from_ref(w), *s, (!l.is_nan()).then_some(*l)));
        self.final_means(spec, &mut batch, true, runs);
        self.batch = batch;
    }

    /// The final step's run count, means (as [`trace`]) and escape count.
    #[inline(always)]
    fn final_means<'v>(
        &mut self,
        spec: &ObserveSpec,
        batch: &mut Batch,
        batched: bool,
        runs: impl Iterator<Item = (&'v [f64], Status, Option<f64>)> + Clone,
    ) {
        let before = self.final_acc.diverged;
        self.runs += runs.clone().count() as u64;
        trace(&mut self.final_acc, batch, batched, runs.clone());
        if let Some(e) = &spec.escape {
            // A diverged run has escaped.
            let mut escaped = self.final_acc.diverged - before;
            for (w, s, _) in runs {
                if !matches!(s, Status::Diverged(_)) {
                    escaped += beyond(w, &e.center, e.delta) as u64;
                }
            }
            self.escaped += escaped;
        }
    }

    /// Merge the accumulator of the next chunk (call in chunk order).
    pub fn merge(&mut self, o: &Accumulator) {
        for (a, b) in self.h1.iter_mut().zip(&o.h1) {
            a.iter_mut().zip(b).for_each(|(x, y)| x.merge(y));
        }
        for (a, b) in self.h2.iter_mut().zip(&o.h2) {
            a.iter_mut().zip(b).for_each(|(x, y)| x.merge(y));
        }
        let merge_trace = |a: &mut TraceAcc, b: &TraceAcc| {
            a.loss.merge(&b.loss);
            a.norm.merge(&b.norm);
            a.diverged += b.diverged;
            a.absorbed += b.absorbed;
        };
        self.trace
            .iter_mut()
            .zip(&o.trace)
            .for_each(|(a, b)| merge_trace(a, b));
        merge_trace(&mut self.final_acc, &o.final_acc);
        for (a, b) in self.gamma.iter_mut().zip(&o.gamma) {
            a.0.merge(&b.0);
            a.1 += b.1;
        }
        self.escaped += o.escaped;
        self.runs += o.runs;
        self.finals.extend(o.finals.iter().cloned());
    }

    /// [`Accumulator::merge`], taking the next chunk's accumulator: its final states are
    /// moved, not copied.
    pub fn merge_from(&mut self, mut o: Accumulator) {
        let finals = std::mem::take(&mut o.finals);
        self.merge(&o);
        self.finals.extend(finals);
    }

    /// The observed results.
    pub fn finish(self, spec: &ObserveSpec) -> Observed {
        let histograms = spec
            .histograms
            .iter()
            .zip(self.h1)
            .flat_map(|(h, accs)| {
                h.steps.iter().zip(accs).map(|(t, a)| Histogram {
                    params: vec![h.param],
                    step: *t,
                    lo: vec![h.lo],
                    hi: vec![h.hi],
                    bins: vec![h.bins],
                    underflow: a.under,
                    overflow: a.over,
                    excluded: a.excluded,
                    counts: a.into_counts(),
                })
            })
            .collect();
        let histograms2d = spec
            .histograms2d
            .iter()
            .zip(self.h2)
            .flat_map(|(h, accs)| {
                h.steps.iter().zip(accs).map(|(t, a)| Histogram {
                    params: h.params.to_vec(),
                    step: *t,
                    lo: h.lo.to_vec(),
                    hi: h.hi.to_vec(),
                    bins: h.bins.to_vec(),
                    underflow: a.under,
                    overflow: a.over,
                    excluded: a.excluded,
                    counts: a.into_counts(),
                })
            })
            .collect();
        let point = |t: u64, a: &TraceAcc| TracePoint {
            t,
            mean_loss: a.loss.mean(),
            loss_stderr: a.loss.stderr(),
            mean_norm: a.norm.mean(),
            norm_stderr: a.norm.stderr(),
            n: a.norm.n,
            diverged: a.diverged,
            absorbed: a.absorbed,
        };
        let trace = spec
            .trace_steps
            .iter()
            .zip(&self.trace)
            .map(|(t, a)| point(*t, a))
            .collect();
        let escape_rate = spec
            .escape_rate_steps
            .iter()
            .zip(&self.gamma)
            .map(|(t, (w, ex))| EscapeRatePoint {
                t: *t,
                value: w.mean(),
                stderr: w.stderr(),
                n: w.n,
                excluded: *ex,
            })
            .collect();
        let escape = spec.escape.as_ref().map(|e| EscapeFraction {
            delta: e.delta,
            value: if self.runs > 0 {
                self.escaped as f64 / self.runs as f64
            } else {
                0.0
            },
            stderr: proportion_stderr(self.escaped, self.runs),
            escaped: self.escaped,
        });
        Observed {
            final_point: point(self.t_max, &self.final_acc),
            histograms,
            histograms2d,
            trace,
            escape,
            escape_rate,
            final_states: spec.final_states.then_some(self.finals),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-dimensional shortcut of the escape test is the square-root form: for δ at and
    /// near the ends of its range and in between, and states over every binade of f64
    /// (subnormal to overflowing squares), next to δ, and not finite.
    #[test]
    fn one_dimensional_escape_test_is_the_square_root_form() {
        let by_root = |x: f64, c: f64, d: f64| ((x - c) * (x - c)).sqrt() >= d;
        let (s, l) = SQUARE_SAFE;
        let up = |x: f64| f64::from_bits(x.to_bits() + 1);
        let down = |x: f64| f64::from_bits(x.to_bits() - 1);
        let mut rng = crate::rng::Philox4x32::new(5, 0, 0);
        let mut checked = 0;
        for d in [up(s), 2.0 * s, 1e-100, 0.05, 1.0, 3e7, 1e100, down(l), l] {
            for e in -1074..=1023 {
                for _ in 0..8 {
                    let x = (1.0 + rng.next_f64()) * 2f64.powi(e);
                    for w in [x, -x, up(x), d, up(d), down(d), -d] {
                        for c in [0.0, 0.25 * d] {
                            assert_eq!(beyond(&[w], &[c], d), by_root(w, c, d), "w {w:e} δ {d:e}");
                            checked += 1;
                        }
                    }
                }
            }
            for w in [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
                s,
                l,
                f64::MAX,
            ] {
                assert_eq!(
                    beyond(&[w], &[0.0], d),
                    by_root(w, 0.0, d),
                    "w {w:e} δ {d:e}"
                );
            }
        }
        assert!(checked > 2_000_000);
        // Outside (S, L] the square root is taken: δ = S, say, and |w| below it.
        assert_eq!(beyond(&[1e-160], &[0.0], s), by_root(1e-160, 0.0, s));
    }
}
