//! Checks: one claim of the paper, its theoretical value, the measured value with its
//! uncertainty, a tolerance and a verdict (`checks.json`, schema in `docs/report.md`).
//!
//! Statistical checks are tests at a family-wise false-alarm level of [`ALPHA`] = 10⁻³
//! (two-sided): a check that compares m values at once uses the Bonferroni threshold
//! [`z_threshold`]`(m)` standard errors for each. Tolerances come from standard errors computed
//! from the data or the theory, never from the outcome.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

/// The family-wise false-alarm level of every statistical check.
pub const ALPHA: f64 = 1e-3;

/// What a check tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The paper's statement itself, measured on the runs (e.g. "SGD converges to the
    /// maximum": almost no run escapes and γ̂ < 0). Fails when the experiment does not show
    /// what the paper says, whatever the theory predicts for the parameters run.
    Claim,
    /// The measurement against the theory's value for the parameters run (e.g. the escape
    /// fraction against the exact escape probability). Can pass where the claim fails: the
    /// theory also predicts escape when the parameters make SGD escape.
    Agreement,
}

impl Kind {
    /// The name shown in the page.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Claim => "claim",
            Kind::Agreement => "agreement",
        }
    }
}

/// How the measured value is compared with the theoretical one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// |measured − theory| ≤ tolerance.
    Within,
    /// measured ≤ theory + tolerance.
    AtMost,
    /// measured ≥ theory − tolerance.
    AtLeast,
    /// measured + tolerance ≤ theory: below the bound by at least the tolerance (a one-sided
    /// significance margin).
    Below,
    /// measured − tolerance ≥ theory: above the bound by at least the tolerance.
    Above,
    /// A statistical test: p-value ≥ level.
    PValue,
}

impl Rule {
    /// The rule as a formula.
    pub fn formula(self) -> &'static str {
        match self {
            Rule::Within => "|measured − theory| ≤ tolerance",
            Rule::AtMost => "measured ≤ theory + tolerance",
            Rule::AtLeast => "measured ≥ theory − tolerance",
            Rule::Below => "measured + tolerance ≤ theory",
            Rule::Above => "measured − tolerance ≥ theory",
            Rule::PValue => "p-value ≥ level",
        }
    }
}

/// One checked claim (an element of `checks.json`'s `checks`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Stable identifier, e.g. `prop2-phase`.
    pub id: String,
    /// The report section (figure) it belongs to, e.g. `fig3`.
    pub section: String,
    /// Claim of the paper, or agreement of measurement and theory.
    pub kind: Kind,
    /// The claim in one sentence.
    pub claim: String,
    /// Where the paper makes it, e.g. "Prop. 2, Eq. 7".
    #[serde(rename = "ref")]
    pub reference: String,
    /// The unit of theory, measured, uncertainty and tolerance (e.g. "fraction of runs",
    /// "per step", "runs"; empty for a pure number).
    pub unit: String,
    /// The theoretical value or bound (null for a test that has none: a p-value test).
    pub theory: Option<f64>,
    /// The measured value.
    pub measured: f64,
    /// The measured value's standard error, where it has one.
    pub uncertainty: Option<f64>,
    /// The tolerance of [`Check::rule`] (null for a p-value test).
    pub tolerance: Option<f64>,
    /// The p-value of a statistical test (rule `p-value`).
    pub p_value: Option<f64>,
    /// The test's level (rule `p-value`).
    pub level: Option<f64>,
    /// How measured and theory are compared.
    pub rule: Rule,
    /// Where the tolerance comes from, and anything else needed to read the numbers.
    pub detail: String,
    /// The verdict.
    pub pass: bool,
}

/// Units whose values are counts, printed as integers.
const COUNT_UNITS: &[&str] = &["runs", "cells", "steps"];

impl Check {
    /// A check, its verdict computed from `rule`; kind [`Kind::Agreement`] and no unit until
    /// set with [`Check::claim`] and [`Check::unit`]. Non-finite values fail.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &str,
        section: &str,
        claim: &str,
        reference: &str,
        theory: f64,
        measured: f64,
        uncertainty: Option<f64>,
        tolerance: f64,
        rule: Rule,
        detail: String,
    ) -> Check {
        let pass = theory.is_finite()
            && measured.is_finite()
            && tolerance.is_finite()
            && match rule {
                Rule::Within => (measured - theory).abs() <= tolerance,
                Rule::AtMost => measured <= theory + tolerance,
                Rule::AtLeast => measured >= theory - tolerance,
                Rule::Below => measured + tolerance <= theory,
                Rule::Above => measured - tolerance >= theory,
                Rule::PValue => false,
            };
        Check {
            theory: Some(finite_or_zero(theory)),
            uncertainty: uncertainty.filter(|u| u.is_finite()),
            tolerance: Some(finite_or_zero(tolerance)),
            pass,
            ..Check::base(id, section, claim, reference, measured, rule, detail)
        }
    }

    /// The fields every check has; the rest empty and the verdict `false`.
    fn base(
        id: &str,
        section: &str,
        claim: &str,
        reference: &str,
        measured: f64,
        rule: Rule,
        detail: String,
    ) -> Check {
        Check {
            id: id.into(),
            section: section.into(),
            kind: Kind::Agreement,
            claim: claim.into(),
            reference: reference.into(),
            unit: String::new(),
            theory: None,
            measured: finite_or_zero(measured),
            uncertainty: None,
            tolerance: None,
            p_value: None,
            level: None,
            rule,
            detail,
            pass: false,
        }
    }

    /// A statistical test: passes when `p_value` ≥ `level`. `theory` is the value the test
    /// compares with, where it has one; `measured` the statistic or the value tested.
    #[allow(clippy::too_many_arguments)]
    pub fn test(
        id: &str,
        section: &str,
        claim: &str,
        reference: &str,
        theory: Option<f64>,
        measured: f64,
        p_value: f64,
        level: f64,
        detail: String,
    ) -> Check {
        Check {
            theory: theory.map(finite_or_zero),
            p_value: Some(finite_or_zero(p_value)),
            level: Some(level),
            pass: p_value.is_finite() && measured.is_finite() && p_value >= level,
            ..Check::base(
                id,
                section,
                claim,
                reference,
                measured,
                Rule::PValue,
                detail,
            )
        }
    }

    /// A claim that some cells of a grid show an effect: `cells` (the number that do) ≥ 1.
    pub fn some_cells(
        id: &str,
        section: &str,
        claim: &str,
        reference: &str,
        cells: usize,
        detail: String,
    ) -> Check {
        Check::new(
            id,
            section,
            claim,
            reference,
            1.0,
            cells as f64,
            None,
            0.0,
            Rule::AtLeast,
            detail,
        )
        .claim()
        .unit("cells")
    }

    /// The same check, of kind [`Kind::Claim`].
    pub fn claim(mut self) -> Check {
        self.kind = Kind::Claim;
        self
    }

    /// The same check with its values' unit.
    pub fn unit(mut self, unit: &str) -> Check {
        self.unit = unit.into();
        self
    }

    /// Whether its values are counts (printed as integers).
    pub fn is_count(&self) -> bool {
        COUNT_UNITS.contains(&self.unit.as_str())
    }

    /// A statistical comparison of `measured` ± `se` with `theory`: passes when they differ by
    /// at most `z_threshold(comparisons)` standard errors.
    #[allow(clippy::too_many_arguments)]
    pub fn z(
        id: &str,
        section: &str,
        claim: &str,
        reference: &str,
        theory: f64,
        measured: f64,
        se: f64,
        comparisons: usize,
        detail: &str,
    ) -> Check {
        let z = z_threshold(comparisons);
        let mut d = format!(
            "tolerance = {z:.2} standard errors (two-sided level {ALPHA}{})",
            if comparisons > 1 {
                format!(", Bonferroni over {comparisons} comparisons")
            } else {
                String::new()
            }
        );
        if !detail.is_empty() {
            d = format!("{d}; {detail}");
        }
        Check::new(
            id,
            section,
            claim,
            reference,
            theory,
            measured,
            Some(se),
            z * se,
            Rule::Within,
            d,
        )
    }
}

/// JSON has no NaN or infinity: a non-finite value (which also fails its check) is written
/// as 0 and explained in `detail` by the caller.
fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// The two-sided standard-normal threshold at level [`ALPHA`] with a Bonferroni correction
/// over `m` comparisons: Φ⁻¹(1 − α/(2m)). One comparison: 3.29.
pub fn z_threshold(m: usize) -> f64 {
    let n = Normal::standard();
    n.inverse_cdf(1.0 - ALPHA / (2.0 * m.max(1) as f64))
}

/// The standard error of a binomial fraction with success probability `p` over `n` trials.
pub fn binomial_se(p: f64, n: u64) -> f64 {
    (p * (1.0 - p) / n.max(1) as f64).sqrt()
}

/// The two-sided exact binomial p-value of observing `k` successes in `n` trials with success
/// probability `p`: min(1, 2·min(P(X ≤ k), P(X ≥ k))) ([`saddle::numeric::binomial_tails`]);
/// NaN for a NaN p.
pub fn binomial_p_value(k: u64, n: u64, p: f64) -> f64 {
    if p.is_nan() {
        return f64::NAN;
    }
    let (lower, upper) = saddle::numeric::binomial_tails(k, n, p);
    (2.0 * lower.min(upper)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_normal_quantiles() {
        // Φ⁻¹(1 − 0.0005) = 3.2905 and Φ⁻¹(1 − 0.0005/100) = 4.4172 (standard tables).
        assert!((z_threshold(1) - 3.2905).abs() < 1e-3);
        assert!((z_threshold(100) - 4.4172).abs() < 1e-3);
    }

    #[test]
    fn binomial_p_values_match_direct_sums() {
        // n = 10, p = ½: P(X ≤ 2) = (1 + 10 + 45)/1024 = 56/1024.
        assert!((binomial_p_value(2, 10, 0.5) - 2.0 * 56.0 / 1024.0).abs() < 1e-12);
        assert!((binomial_p_value(5, 10, 0.5) - 1.0).abs() < 1e-12);
        // p = 0: zero successes are certain, one is impossible.
        assert_eq!(binomial_p_value(0, 100, 0.0), 1.0);
        assert_eq!(binomial_p_value(1, 100, 0.0), 0.0);
        // n = 3, p = 0.1: P(X ≥ 3) = 0.001.
        assert!((binomial_p_value(3, 3, 0.1) - 0.002).abs() < 1e-12);
    }

    #[test]
    fn verdicts_follow_the_rule() {
        let c = |m: f64, rule| Check::new("x", "s", "c", "r", 1.0, m, None, 0.5, rule, "".into());
        assert!(c(1.4, Rule::Within).pass && !c(1.6, Rule::Within).pass);
        assert!(!c(0.4, Rule::Within).pass);
        assert!(c(0.2, Rule::AtMost).pass && !c(1.6, Rule::AtMost).pass);
        assert!(c(9.0, Rule::AtLeast).pass && !c(0.4, Rule::AtLeast).pass);
        assert!(c(0.4, Rule::Below).pass && !c(0.6, Rule::Below).pass);
        assert!(c(1.6, Rule::Above).pass && !c(1.4, Rule::Above).pass);
        assert!(!c(f64::NAN, Rule::Within).pass);
        let j = serde_json::to_string(&c(f64::INFINITY, Rule::Within)).unwrap();
        assert!(j.contains("\"measured\":0.0") && j.contains("\"pass\":false"));
        assert!(j.contains("\"kind\":\"agreement\""));
        let t = |p: f64| Check::test("t", "s", "c", "r", None, 1.0, p, 0.01, "".into());
        assert!(t(0.02).pass && !t(0.005).pass && !t(f64::NAN).pass);
        assert_eq!(t(0.5).claim().kind, Kind::Claim);
    }
}
