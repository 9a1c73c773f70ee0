//! Axis scales. Every axis is drawn as a linear coordinate in *display space*: the value
//! itself on a linear axis, its decimal logarithm on a log axis. Ticks are chosen here (round
//! numbers on linear axes, decades or 1-2-5 steps on log axes) and labelled readably.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

use super::Axis;

/// One axis in display space, with its ticks.
#[derive(Clone, Debug)]
pub(super) struct Scale {
    /// Lower end of the shown range (display space).
    pub lo: f64,
    /// Upper end of the shown range (display space).
    pub hi: f64,
    /// Logarithmic axis (display value = log10 of the value).
    pub log: bool,
    /// Major ticks: display position and label.
    pub ticks: Vec<(f64, String)>,
    /// Minor ticks (display positions) for the light grid.
    pub minor: Vec<f64>,
}

impl Scale {
    /// The scale of a validated axis (finite `lo < hi`, `lo > 0` on a log axis), with at most
    /// about `max_ticks` labelled ticks.
    pub fn new(axis: &Axis, max_ticks: usize) -> Scale {
        let (lo, hi) = axis.range;
        let max_ticks = max_ticks.max(2);
        if axis.log {
            let (dlo, dhi) = (lo.log10(), hi.log10());
            let (ticks, minor) = log_ticks(dlo, dhi, max_ticks);
            Scale {
                lo: dlo,
                hi: dhi,
                log: true,
                ticks,
                minor,
            }
        } else {
            let (ticks, minor) = linear_ticks(lo, hi, max_ticks);
            Scale {
                lo,
                hi,
                log: false,
                ticks,
                minor,
            }
        }
    }

    /// A unit range without ticks (the cross axis of a colour bar).
    pub fn unit() -> Scale {
        Scale {
            lo: 0.0,
            hi: 1.0,
            log: false,
            ticks: Vec::new(),
            minor: Vec::new(),
        }
    }

    /// The display-space position of data value `v`, or None where it cannot be shown
    /// (non-finite, or ≤ 0 on a log axis).
    pub fn to_display(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    /// Where display position `d` lies in the shown range, 0 at `lo` and 1 at `hi`.
    pub fn fraction(&self, d: f64) -> f64 {
        (d - self.lo) / (self.hi - self.lo)
    }
}

impl Ranged for Scale {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let p = f64::from(limit.0) + self.fraction(*v) * f64::from(limit.1 - limit.0);
        if p.is_nan() {
            limit.0
        } else {
            // Far outside points are clamped so that pixel arithmetic cannot overflow.
            p.round().clamp(-1.0e6, 1.0e6) as i32
        }
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            Vec::new()
        } else if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.iter().map(|t| t.0).collect()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Scale {
    fn format_ext(&self, v: &f64) -> String {
        let tol = 1e-9 * (self.hi - self.lo).abs();
        self.ticks
            .iter()
            .find(|t| (t.0 - v).abs() <= tol)
            .map(|t| t.1.clone())
            .unwrap_or_default()
    }
}

/// The smallest number of decimals (up to 12) that writes `step` exactly.
fn decimals_for(step: f64) -> usize {
    (0..12)
        .find(|&d| {
            let s = step * 10f64.powi(d as i32);
            (s - s.round()).abs() <= 1e-6 * s.abs().max(1.0)
        })
        .unwrap_or(12)
}

/// A round step (1, 2, 2.5 or 5 × 10^k) giving at most `max_ticks` ticks over `[lo, hi]`,
/// and the step of the minor ticks under it.
fn nice_step(lo: f64, hi: f64, max_ticks: usize) -> (f64, f64) {
    let max_ticks = max_ticks.max(2);
    let raw = (hi - lo) / (max_ticks - 1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    for (m, sub) in [(1.0, 5.0), (2.0, 4.0), (2.5, 5.0), (5.0, 5.0), (10.0, 5.0)] {
        let step = m * mag;
        if multiples(lo, hi, step).len() <= max_ticks {
            return (step, step / sub);
        }
    }
    (20.0 * mag, 4.0 * mag)
}

/// Multiples of `step` within `[lo, hi]`.
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let k0 = (lo / step - 1e-9).ceil() as i64;
    let k1 = (hi / step + 1e-9).floor() as i64;
    (k0..=k1.min(k0 + 1000)).map(|k| k as f64 * step).collect()
}

/// Ticks of a linear axis over `[lo, hi]`.
fn linear_ticks(lo: f64, hi: f64, max_ticks: usize) -> (Vec<(f64, String)>, Vec<f64>) {
    let (step, minor_step) = nice_step(lo, hi, max_ticks);
    let values = multiples(lo, hi, step);
    let big = lo.abs().max(hi.abs());
    let scientific = !(1e-3..1e5).contains(&big);
    let labels: Vec<String> = if scientific {
        // Mantissa digits enough to tell neighbouring ticks apart.
        let exp = big.log10().floor();
        let digits = decimals_for(step / 10f64.powf(exp)).min(4);
        values
            .iter()
            .map(|&v| {
                if v.abs() < step * 1e-6 {
                    "0".to_string()
                } else {
                    sci_label(v, digits)
                }
            })
            .collect()
    } else {
        let d = decimals_for(step);
        values
            .iter()
            .map(|&v| {
                let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
                format!("{v:.d$}")
            })
            .collect()
    };
    let ticks = values.into_iter().zip(labels).collect();
    let minor = multiples(lo, hi, minor_step);
    (ticks, minor)
}

/// `v` as mantissa × 10 to an exponent, e.g. "2.5×10⁻⁵".
fn sci_label(v: f64, digits: usize) -> String {
    let exp = v.abs().log10().floor();
    let mut mant = v / 10f64.powf(exp);
    let mut exp = exp as i32;
    // Rounding may carry the mantissa to 10.
    if (mant.abs() * 10f64.powi(digits as i32)).round() >= 10f64.powi(digits as i32 + 1) {
        mant /= 10.0;
        exp += 1;
    }
    format!("{mant:.digits$}×10{}", superscript(exp))
}

/// An integer in Unicode superscript digits (the bundled font has them).
pub(super) fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

/// Ticks of a log axis over display range `[dlo, dhi]` (decimal logarithms): decades when
/// at least three are shown, else 1-2-5 steps, else round numbers.
fn log_ticks(dlo: f64, dhi: f64, max_ticks: usize) -> (Vec<(f64, String)>, Vec<f64>) {
    let eps = 1e-9;
    let d0 = (dlo - eps).ceil() as i64;
    let d1 = (dhi + eps).floor() as i64;
    let decades = d1 - d0 + 1;
    // (mantissa, exponent) of each major tick.
    let mut major: Vec<(f64, i64)> = Vec::new();
    let mut minor: Vec<f64> = Vec::new();
    let inside = |d: f64| d >= dlo - eps && d <= dhi + eps;
    if decades >= 3 {
        // Decade labels are short: one more than `max_ticks` still fits.
        let stride = ((decades as usize).div_ceil(max_ticks + 1)).max(1) as i64;
        let first = d0 + (stride - d0.rem_euclid(stride)) % stride;
        let mut d = first;
        while d <= d1 {
            major.push((1.0, d));
            d += stride;
        }
        for d in (d0 - 1)..=d1 {
            if stride == 1 {
                for m in 2..=9 {
                    let v = f64::from(m).log10() + d as f64;
                    if inside(v) {
                        minor.push(v);
                    }
                }
            } else if (d - first).rem_euclid(stride) != 0 && inside(d as f64) {
                minor.push(d as f64);
            }
        }
    } else {
        let candidates = |set: &[f64]| -> Vec<(f64, i64)> {
            let mut out = Vec::new();
            for d in (dlo.floor() as i64)..=(dhi.ceil() as i64) {
                for &m in set {
                    if inside(m.log10() + d as f64) {
                        out.push((m, d));
                    }
                }
            }
            out
        };
        let sets: [&[f64]; 3] = [&[1.0, 2.0, 5.0], &[1.0, 3.0], &[1.0]];
        let fits = |c: &Vec<(f64, i64)>| c.len() >= 3 && c.len() <= max_ticks + 1;
        let chosen = sets.iter().map(|s| candidates(s)).find(fits).or_else(|| {
            // Too many 1-2-5 ticks for a small axis: decades alone.
            (candidates(sets[0]).len() >= 3).then(|| candidates(sets[2]))
        });
        match chosen {
            Some(chosen) => major = chosen,
            None => {
                // Less than about half a decade: round numbers, placed logarithmically.
                let (ticks, minor_lin) = linear_ticks(10f64.powf(dlo), 10f64.powf(dhi), max_ticks);
                let ticks = ticks
                    .into_iter()
                    .filter(|t| t.0 > 0.0)
                    .map(|(v, l)| (v.log10(), l))
                    .collect();
                let minor = minor_lin
                    .into_iter()
                    .filter(|&v| v > 0.0)
                    .map(f64::log10)
                    .collect();
                return (ticks, minor);
            }
        }
        for (m, d) in candidates(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]) {
            if !major.contains(&(m, d)) {
                minor.push(m.log10() + d as f64);
            }
        }
    }
    // Plain decimals when every label is short, powers of ten otherwise.
    let plain = major.iter().all(|&(_, e)| (-3..=4).contains(&e));
    let ticks = major
        .into_iter()
        .map(|(m, e)| {
            let pos = m.log10() + e as f64;
            let label = if plain {
                let d = (-e).max(0) as usize;
                format!("{:.d$}", m * 10f64.powi(e as i32))
            } else if m == 1.0 {
                format!("10{}", superscript(e as i32))
            } else {
                format!("{m}×10{}", superscript(e as i32))
            };
            (pos, label)
        })
        .collect();
    (ticks, minor)
}
