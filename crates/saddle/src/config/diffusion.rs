//! `[diffusion]`: where the SDE's diffusion C(w) comes from (the minibatch variance, a
//! formula, or Prop. 10's designed noise): keys, parsing and emission.

use super::int;
use super::reader::{Reader, R};
use super::OptimizerSpec;
use crate::model::formula::FormulaSpec;
use toml::Table;

/// Where the diffusion C(w) of an SDE comes from (`[diffusion]`, [`crate::sde::Diffusion`]).
#[derive(Clone, Debug)]
pub enum DiffusionSpec {
    /// The minibatch variance of the model and noise (Eqs 3, 49, 71).
    Minibatch,
    /// A formula in `w1`.
    Formula(Box<FormulaSpec>),
    /// Prop. 10: the C(w) that makes `target` (a formula in `w1`, not necessarily normalised)
    /// the stationary density on the box `optimizer.clip`.
    Designed {
        /// The target density p(w).
        target: Box<FormulaSpec>,
        /// The integration constant c₀ of Eq. 117 (None: the smallest that keeps C ≥ 0).
        c0: Option<f64>,
        /// Grid cells on which ∫p dL is tabulated.
        cells: usize,
    },
}

impl PartialEq for DiffusionSpec {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (DiffusionSpec::Minibatch, DiffusionSpec::Minibatch) => true,
            (DiffusionSpec::Formula(a), DiffusionSpec::Formula(b)) => a.expr() == b.expr(),
            (
                DiffusionSpec::Designed { target, c0, cells },
                DiffusionSpec::Designed {
                    target: t,
                    c0: c,
                    cells: n,
                },
            ) => target.expr() == t.expr() && c0 == c && cells == n,
            _ => false,
        }
    }
}

impl DiffusionSpec {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            DiffusionSpec::Minibatch => "minibatch",
            DiffusionSpec::Formula(_) => "formula",
            DiffusionSpec::Designed { .. } => "designed",
        }
    }
}

/// Default number of grid cells for designed noise.
pub const DEFAULT_DESIGN_CELLS: usize = 4096;

impl DiffusionSpec {
    /// The `[diffusion]` table that parses back to `self`.
    pub(crate) fn to_table(&self) -> Table {
        let mut dt = Table::new();
        dt.insert("kind".into(), self.kind().into());
        match self {
            DiffusionSpec::Formula(f) => {
                dt.insert("c".into(), f.expr().into());
            }
            DiffusionSpec::Designed { target, c0, cells } => {
                dt.insert("target".into(), target.expr().into());
                if let Some(c0) = c0 {
                    dt.insert("c0".into(), (*c0).into());
                }
                dt.insert("cells".into(), int(*cells as u64));
            }
            DiffusionSpec::Minibatch => {}
        }
        dt
    }
}

pub(super) fn parse(r: &Reader<'_>, o: &OptimizerSpec) -> R<DiffusionSpec> {
    let kind = r.choice(
        "kind",
        &["minibatch", "formula", "designed"],
        Some("minibatch"),
    )?;
    let formula = |k: &str, what: &str| -> R<Box<FormulaSpec>> {
        let expr = match r.str(k)? {
            Some(s) => s,
            None => return r.err(k, format!("missing: {what} as a formula in w1")),
        };
        match FormulaSpec::parse(expr, 1) {
            Ok(f) if f.uses_x() || f.uses_y() => {
                r.err(k, "must be a formula in w1 only (no x or y)")
            }
            Ok(f) => Ok(Box::new(f)),
            Err(e) => r.err(k, e.to_string()),
        }
    };
    Ok(match kind.as_str() {
        "minibatch" => {
            r.only(&["kind"])?;
            DiffusionSpec::Minibatch
        }
        "formula" => {
            r.only(&["kind", "c"])?;
            DiffusionSpec::Formula(formula("c", "C(w)")?)
        }
        _ => {
            r.only(&["kind", "target", "c0", "cells"])?;
            let target = formula("target", "the target density p(w)")?;
            if o.clip.is_none() {
                return r.err(
                    "kind",
                    "designed noise lives on a box: give optimizer.clip = [lo, hi], the domain of the target density",
                );
            }
            let cells = r.u64("cells")?.unwrap_or(DEFAULT_DESIGN_CELLS as u64);
            if !(16..=10_000_000).contains(&cells) {
                return r.err(
                    "cells",
                    format!("must be between 16 and 10000000 (got {cells})"),
                );
            }
            DiffusionSpec::Designed {
                target,
                c0: r.f64("c0")?,
                cells: cells as usize,
            }
        }
    })
}
