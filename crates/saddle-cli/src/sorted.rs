//! A summary as JSON with every object's keys in alphabetical order, the form of the sweep
//! files (docs/output.md).
//!
//! `serde_json::to_value` sorts the keys too (its maps are ordered), but builds a tree of
//! maps and strings first: for a sweep of thousands of millisecond cells that costs more
//! than writing the lines. These wrappers serialize the fields straight away, in sorted
//! order; the test checks them against the tree's order, so a field added to a summary
//! type and not here fails it.

use saddle::experiment::{EscapeSummary, Summary};
use saddle::observe::{EscapeRatePoint, Histogram, TracePoint};
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// `s` as one line of JSON, keys sorted.
pub fn summary_json(s: &Summary) -> serde_json::Result<String> {
    serde_json::to_string(&Sorted(s))
}

struct Sorted<'a>(&'a Summary);
struct Escape<'a>(&'a EscapeSummary);
struct Rate<'a>(&'a EscapeRatePoint);
struct Trace<'a>(&'a TracePoint);
struct Hist<'a>(&'a Histogram);

/// A slice serialized element by element through a wrapper.
struct Each<'a, T, W>(&'a [T], fn(&'a T) -> W);

impl<'a, T, W: Serialize> Serialize for Each<'a, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
}

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        let mut m = s.serialize_struct("Summary", 22)?;
        m.serialize_field("absorbed", &x.absorbed)?;
        m.serialize_field("cell", &x.cell)?;
        m.serialize_field("diverged", &x.diverged)?;
        m.serialize_field("dt", &x.dt)?;
        m.serialize_field("escape", &x.escape.as_ref().map(Escape))?;
        m.serialize_field("escape_fraction", &x.escape_fraction)?;
        m.serialize_field("escape_rate", &Each(&x.escape_rate, Rate))?;
        m.serialize_field("histograms", &Each(&x.histograms, Hist))?;
        m.serialize_field("histograms2d", &Each(&x.histograms2d, Hist))?;
        m.serialize_field("mean_loss_final", &x.mean_loss_final)?;
        m.serialize_field("mean_loss_final_stderr", &x.mean_loss_final_stderr)?;
        m.serialize_field("mean_norm_final", &x.mean_norm_final)?;
        m.serialize_field("mean_norm_final_stderr", &x.mean_norm_final_stderr)?;
        m.serialize_field("mode", &x.mode)?;
        m.serialize_field("model", &x.model)?;
        m.serialize_field("name", &x.name)?;
        m.serialize_field("optimizer", &x.optimizer)?;
        m.serialize_field("runs", &x.runs)?;
        m.serialize_field("seed", &x.seed)?;
        m.serialize_field("steps", &x.steps)?;
        m.serialize_field("trace", &Each(&x.trace, Trace))?;
        m.serialize_field("version", &x.version)?;
        m.end()
    }
}

/// `Serialize` for a wrapper of a struct whose fields are all serialized as they are, given in
/// alphabetical order.
macro_rules! sorted_fields {
    ($wrapper:ident, $name:literal, $($field:ident),+) => {
        impl Serialize for $wrapper<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let x = self.0;
                let mut m = s.serialize_struct($name, [$(stringify!($field)),+].len())?;
                $(m.serialize_field(stringify!($field), &x.$field)?;)+
                m.end()
            }
        }
    };
}

sorted_fields!(Escape, "EscapeSummary", delta, stderr, value);
sorted_fields!(Rate, "EscapeRatePoint", excluded, n, stderr, t, value);
sorted_fields!(
    Trace,
    "TracePoint",
    absorbed,
    diverged,
    loss_stderr,
    mean_loss,
    mean_norm,
    n,
    norm_stderr,
    t
);
sorted_fields!(
    Hist,
    "Histogram",
    bins,
    counts,
    excluded,
    hi,
    lo,
    overflow,
    params,
    step,
    underflow
);

#[cfg(test)]
mod tests {
    use super::*;

    /// A summary with every optional part present (and non-finite numbers, written null).
    fn full() -> Summary {
        let hist = |params: Vec<usize>| Histogram {
            params,
            step: 7,
            lo: vec![-1.0, -2.0],
            hi: vec![1.0, 2.0],
            bins: vec![2, 3],
            counts: vec![1, 2, 3, 4, 5, 6],
            underflow: 1,
            overflow: 2,
            excluded: 3,
        };
        Summary {
            version: "1.2.3".into(),
            name: "a \"quoted\" name".into(),
            model: "quadratic".into(),
            optimizer: "sgd".into(),
            mode: "exact".into(),
            runs: 10,
            steps: 20,
            dt: Some(0.01),
            seed: 3,
            cell: 4,
            diverged: 5,
            absorbed: 6,
            escape_fraction: Some(0.25),
            escape: Some(EscapeSummary {
                delta: 0.05,
                value: 0.25,
                stderr: 0.1,
            }),
            escape_rate: vec![EscapeRatePoint {
                t: 10,
                value: Some(-0.5),
                stderr: None,
                n: 8,
                excluded: 2,
            }],
            mean_loss_final: Some(f64::INFINITY),
            mean_loss_final_stderr: Some(1.5e-300),
            mean_norm_final: Some(0.1 + 0.2),
            mean_norm_final_stderr: None,
            trace: vec![TracePoint {
                t: 1,
                mean_loss: Some(2.0),
                loss_stderr: Some(f64::NAN),
                mean_norm: Some(3.0),
                norm_stderr: Some(0.5),
                n: 9,
                diverged: 1,
                absorbed: 0,
            }],
            histograms: vec![hist(vec![0])],
            histograms2d: vec![hist(vec![0, 1])],
            final_states: None,
        }
    }

    #[test]
    fn keys_are_sorted_as_a_json_tree_sorts_them() {
        for s in [full(), {
            let mut s = full();
            s.escape = None;
            s.trace.clear();
            s.dt = None;
            s
        }] {
            let tree = serde_json::to_string(&serde_json::to_value(&s).unwrap()).unwrap();
            assert_eq!(summary_json(&s).unwrap(), tree);
        }
    }
}
