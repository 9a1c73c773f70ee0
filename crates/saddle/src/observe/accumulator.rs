//! The per-chunk accumulator: runs recorded at their record steps, chunks merged in order,
//! and the results finished.

use super::norms::{beyond, ln_norm, norm, root_free};
use super::{
    EscapeFraction, EscapeRatePoint, FinalState, Histogram, ObserveSpec, Observed, RunView, Status,
    TracePoint,
};
use crate::stats::{proportion_stderr, Welford};

/// A histogram's counts. A chunk's accumulator notes the bin of each run it records (`hits`),
/// so it holds O(runs in the chunk) whatever the number of bins; the dense counts are allocated
/// once, in the accumulator the chunks are merged into (or once a chunk has noted as many runs
/// as there are bins). Counts are sums of integers, so where a run is counted first changes
/// nothing.
#[derive(Clone, Debug)]
pub(super) struct Hist {
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

#[derive(Clone, Debug, Default)]
pub(super) struct TraceAcc {
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
