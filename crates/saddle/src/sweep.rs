//! Parameter sweeps: a Cartesian grid over any numeric key of an experiment file.
//!
//! Cell k of a grid with axes A₁…A_m is the row-major (last axis fastest) k-th combination;
//! its experiment is the base file with each axis path set to the cell's value, validated as
//! a whole, and its streams are keyed with cell = k, so each cell's result depends only on
//! (seed, k) and not on which other cells run, in which order, or on which machine.

pub use crate::config::grid::{Axis, AxisValues, Cell, Grid, MAX_CELLS};
use crate::config::{set_path, ConfigError, Experiment};
use toml::{Table, Value};

/// The experiment of one cell: `base` (a parsed experiment file) with the cell's values set.
///
/// A value is written as an integer when it is integral and the key holds an integer in
/// `base` (e.g. `noise.batch`), otherwise as a float.
pub fn cell_experiment(base: &Table, cell: &Cell) -> Result<Experiment, ConfigError> {
    CellTables::new(base).experiment(cell)
}

/// The experiments of many cells of one base, as [`cell_experiment`], with one working copy
/// of the table reused from cell to cell: the cells of a grid set the same keys, so each
/// overwrites the last one's values, and the table is not copied per cell (a cell that sets
/// other keys than the last gets a fresh copy). Keep one per thread (e.g. with rayon's
/// `map_init`).
pub struct CellTables<'b> {
    base: &'b Table,
    /// `base` without its sweep section, with the last cell's values set; None until the
    /// first cell, and after a cell whose values could not all be set.
    work: Option<Table>,
    /// The keys the last cell set.
    keys: Vec<String>,
}

impl<'b> CellTables<'b> {
    /// For cells of `base`.
    pub fn new(base: &'b Table) -> Self {
        CellTables {
            base,
            work: None,
            keys: Vec::new(),
        }
    }

    /// The experiment of `cell`.
    pub fn experiment(&mut self, cell: &Cell) -> Result<Experiment, ConfigError> {
        let base = self.base;
        if !cell.assignments.iter().map(|(p, _)| p).eq(&self.keys) {
            self.work = None;
            self.keys = cell.assignments.iter().map(|(p, _)| p.clone()).collect();
        }
        let t = self.work.get_or_insert_with(|| {
            let mut t = base.clone();
            t.remove("sweep");
            t
        });
        for (path, v) in &cell.assignments {
            let is_int = lookup(base, path).is_some_and(|x| matches!(x, Value::Integer(_)))
                || ["runs", "steps", "seed", "noise.batch"].contains(&path.as_str());
            let value = if is_int && v.fract() == 0.0 && v.abs() < 9.0e15 {
                Value::Integer(*v as i64)
            } else {
                Value::Float(*v)
            };
            if let Err(e) = set_path(t, path, value) {
                // Some values may be set and others not: start afresh next time.
                self.work = None;
                return Err(e);
            }
        }
        Experiment::from_table(t)
    }
}

fn lookup<'a>(t: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = t.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_table()?.get(p)?;
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_row_major_and_inclusive() {
        let g = Grid {
            axes: vec![
                Axis {
                    path: "a".into(),
                    values: AxisValues::Linspace {
                        lo: -1.0,
                        hi: 1.0,
                        n: 3,
                    },
                },
                Axis {
                    path: "b".into(),
                    values: AxisValues::List(vec![5.0, 6.0]),
                },
            ],
        };
        let c = g.cells();
        assert_eq!(c.len(), 6);
        assert_eq!(
            c[1].assignments,
            vec![("a".into(), -1.0), ("b".into(), 6.0)]
        );
        assert_eq!(c[2].assignments, vec![("a".into(), 0.0), ("b".into(), 5.0)]);
        assert_eq!(c[5].assignments, vec![("a".into(), 1.0), ("b".into(), 6.0)]);
        let l = AxisValues::Logspace {
            lo: 0.001,
            hi: 0.1,
            n: 3,
        }
        .values();
        assert_eq!(l[0], 0.001);
        assert!((l[1] - 0.01).abs() < 1e-15);
        assert_eq!(l[2], 0.1);
    }
}
