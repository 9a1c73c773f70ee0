//! `[observe]`: what an ensemble measures (trace, histograms, escape fraction and rate,
//! final states): keys, limits, parsing and emission. The observers are [`crate::observe`].

use super::reader::{num, show, Reader, R};
use super::{floats, int, ints, per_param};
use crate::observe::{
    log_steps, EscapeSpec, Hist1dSpec, Hist2dSpec, ObserveSpec, MAX_HISTOGRAM_BINS,
    MAX_HISTOGRAM_STEPS, MAX_STEP_LIST,
};
use toml::{Table, Value};

/// The `[observe]` table that parses back to `ob` with `trace_points` trace points.
pub(crate) fn to_table(ob: &ObserveSpec, trace_points: usize) -> Table {
    let mut obt = Table::new();
    obt.insert("trace".into(), int(trace_points as u64));
    obt.insert("final_states".into(), ob.final_states.into());
    if !ob.escape_rate_steps.is_empty() {
        obt.insert("escape_rate_steps".into(), ints(&ob.escape_rate_steps));
    }
    if let Some(e) = &ob.escape {
        let mut et = Table::new();
        et.insert("delta".into(), e.delta.into());
        et.insert("center".into(), floats(&e.center));
        obt.insert("escape".into(), et.into());
    }
    let h1: Vec<Value> = ob
        .histograms
        .iter()
        .map(|h| {
            let mut ht = Table::new();
            ht.insert("param".into(), int(h.param as u64 + 1));
            ht.insert("lo".into(), h.lo.into());
            ht.insert("hi".into(), h.hi.into());
            ht.insert("bins".into(), int(h.bins as u64));
            ht.insert("steps".into(), ints(&h.steps));
            ht.into()
        })
        .collect();
    if !h1.is_empty() {
        obt.insert("histogram".into(), Value::Array(h1));
    }
    let h2: Vec<Value> = ob
        .histograms2d
        .iter()
        .map(|h| {
            let mut ht = Table::new();
            ht.insert(
                "params".into(),
                ints(&[h.params[0] as u64 + 1, h.params[1] as u64 + 1]),
            );
            ht.insert("lo".into(), floats(&h.lo));
            ht.insert("hi".into(), floats(&h.hi));
            ht.insert("bins".into(), ints(&[h.bins[0] as u64, h.bins[1] as u64]));
            ht.insert("steps".into(), ints(&h.steps));
            ht.into()
        })
        .collect();
    if !h2.is_empty() {
        obt.insert("histogram2d".into(), Value::Array(h2));
    }
    obt
}

fn check_steps(
    r: &Reader<'_>,
    k: &str,
    steps: &[u64],
    t_max: u64,
    allow_zero: bool,
) -> R<Vec<u64>> {
    let mut s = steps.to_vec();
    for &t in &s {
        if t > t_max || (!allow_zero && t == 0) {
            let lo = if allow_zero { 0 } else { 1 };
            return r.err(
                k,
                format!("step {t} is outside {lo}..={t_max} (steps = {t_max})"),
            );
        }
    }
    s.sort_unstable();
    s.dedup();
    Ok(s)
}

fn range(r: &Reader<'_>, lo: f64, hi: f64) -> R<()> {
    if lo >= hi {
        return r.err(
            "hi",
            format!(
                "must be greater than lo (got lo = {}, hi = {})",
                num(lo),
                num(hi)
            ),
        );
    }
    Ok(())
}

fn param_index(r: &Reader<'_>, k: &str, p: u64, d: usize) -> R<usize> {
    if p == 0 || p as usize > d {
        return r.err(
            k,
            format!("parameter {p} does not exist; the model has w1..w{d} (use 1..={d})"),
        );
    }
    Ok(p as usize - 1)
}

fn bins(r: &Reader<'_>, k: &str, b: u64) -> R<usize> {
    if b == 0 || b > 100_000 {
        return r.err(k, format!("must be between 1 and 100000 (got {b})"));
    }
    Ok(b as usize)
}

/// The bins and (histogram, step) pairs of the histograms read so far, against
/// [`MAX_HISTOGRAM_BINS`] and [`MAX_HISTOGRAM_STEPS`].
#[derive(Default)]
struct HistogramSize {
    bins: u64,
    steps: u64,
}

impl HistogramSize {
    /// Count a histogram with `bins` bins at `steps` steps; an error at its `steps` or `bins`
    /// key if the total goes over a limit.
    fn add(&mut self, h: &Reader<'_>, bins: u64, steps: u64) -> R<()> {
        self.steps += steps;
        if self.steps > MAX_HISTOGRAM_STEPS {
            return h.err(
                "steps",
                format!(
                    "{steps} steps bring the histograms to {} snapshots (steps summed over every \
                     histogram); at most {MAX_HISTOGRAM_STEPS} are allowed",
                    self.steps
                ),
            );
        }
        self.bins = self.bins.saturating_add(bins.saturating_mul(steps));
        if self.bins > MAX_HISTOGRAM_BINS {
            return h.err(
                "bins",
                format!(
                    "{bins} bins at {steps} steps bring the histograms to {} bins (bins × \
                     steps, summed over every histogram, 2-D bins counted as bins₁ × bins₂); \
                     at most {MAX_HISTOGRAM_BINS} are allowed",
                    self.bins
                ),
            );
        }
        Ok(())
    }
}

pub(super) fn parse(r: &Reader<'_>, d: usize, t_max: u64) -> R<(ObserveSpec, usize)> {
    r.only(&[
        "trace",
        "escape",
        "escape_rate_steps",
        "final_states",
        "histogram",
        "histogram2d",
    ])?;
    let trace = r.u64("trace")?.unwrap_or(0);
    if trace > MAX_STEP_LIST {
        return r.err(
            "trace",
            format!("at most {MAX_STEP_LIST} points (got {trace})"),
        );
    }
    let escape_rate_steps = match r.u64_list("escape_rate_steps")? {
        Some(s) => check_steps(r, "escape_rate_steps", &s, t_max, false)?,
        None => vec![],
    };
    if escape_rate_steps.len() as u64 > MAX_STEP_LIST {
        return r.err(
            "escape_rate_steps",
            format!(
                "at most {MAX_STEP_LIST} distinct steps (got {}): each is a record step of \
                 every run",
                escape_rate_steps.len()
            ),
        );
    }
    // What the histograms hold together (`ObserveSpec::check_size`), checked table by table
    // so the error names the one that goes over.
    let mut size = HistogramSize::default();
    let escape = if r.has("escape") {
        let empty = Table::new();
        let e = r.table("escape", &empty)?;
        e.only(&["delta", "center"])?;
        let delta = e.req_f64("delta")?;
        if delta <= 0.0 {
            return e.err("delta", format!("must be > 0 (got {})", num(delta)));
        }
        Some(EscapeSpec {
            delta,
            center: per_param(&e, "center", d, &vec![0.0; d])?,
        })
    } else {
        None
    };
    let mut histograms = vec![];
    for h in r.tables("histogram")? {
        h.only(&["param", "lo", "hi", "bins", "steps"])?;
        let param = param_index(&h, "param", h.u64("param")?.unwrap_or(1), d)?;
        let (lo, hi) = (h.req_f64("lo")?, h.req_f64("hi")?);
        range(&h, lo, hi)?;
        let bins = bins(&h, "bins", h.u64("bins")?.unwrap_or(50))?;
        let steps = check_steps(
            &h,
            "steps",
            &h.u64_list("steps")?.unwrap_or(vec![t_max]),
            t_max,
            true,
        )?;
        size.add(&h, bins as u64, steps.len() as u64)?;
        histograms.push(Hist1dSpec {
            param,
            lo,
            hi,
            bins,
            steps,
        });
    }
    let mut histograms2d = vec![];
    for h in r.tables("histogram2d")? {
        h.only(&["params", "lo", "hi", "bins", "steps"])?;
        if d < 2 {
            return h.err(
                "params",
                format!(
                    "a 2-D histogram needs a model with two or more parameters (this one has {d})"
                ),
            );
        }
        let ps = h.u64_list("params")?.unwrap_or(vec![1, 2]);
        if ps.len() != 2 || ps[0] == ps[1] {
            return h.err(
                "params",
                format!(
                    "must be two different parameters, e.g. [1, 2] (got {})",
                    show(&ints(&ps))
                ),
            );
        }
        let params = [
            param_index(&h, "params", ps[0], d)?,
            param_index(&h, "params", ps[1], d)?,
        ];
        let two = |k: &str| -> R<[f64; 2]> {
            match h.f64_list(k)? {
                Some(v) if v.len() == 1 => Ok([v[0], v[0]]),
                Some(v) if v.len() == 2 => Ok([v[0], v[1]]),
                Some(v) => h.err(
                    k,
                    format!("must be one number or two (got {} values)", v.len()),
                ),
                None => h.err(k, "missing (one number, or one per axis)"),
            }
        };
        let (lo, hi) = (two("lo")?, two("hi")?);
        for a in 0..2 {
            range(&h, lo[a], hi[a])?;
        }
        let b = h.u64_list("bins")?.unwrap_or(vec![50, 50]);
        let b = match b.len() {
            1 => [b[0], b[0]],
            2 => [b[0], b[1]],
            n => {
                return h.err(
                    "bins",
                    format!("must be one integer or two (got {n} values)"),
                )
            }
        };
        let bins = [bins(&h, "bins", b[0])?, bins(&h, "bins", b[1])?];
        let steps = check_steps(
            &h,
            "steps",
            &h.u64_list("steps")?.unwrap_or(vec![t_max]),
            t_max,
            true,
        )?;
        size.add(&h, bins[0] as u64 * bins[1] as u64, steps.len() as u64)?;
        histograms2d.push(Hist2dSpec {
            params,
            lo,
            hi,
            bins,
            steps,
        });
    }
    let spec = ObserveSpec {
        histograms,
        histograms2d,
        trace_steps: log_steps(t_max, trace as usize),
        escape,
        escape_rate_steps,
        final_states: r.bool_or("final_states", false)?,
    };
    Ok((spec, trace as usize))
}
