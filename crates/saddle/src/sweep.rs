//! Parameter sweeps: a Cartesian grid over any numeric key of an experiment file.
//!
//! Cell k of a grid with axes A₁…A_m is the row-major (last axis fastest) k-th combination;
//! its experiment is the base file with each axis path set to the cell's value, validated as
//! a whole, and its streams are keyed with cell = k, so each cell's result depends only on
//! (seed, k) and not on which other cells run, in which order, or on which machine.

use crate::config::{set_path, ConfigError, Experiment};
use toml::{Table, Value};

/// The values of one axis.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisValues {
    /// n evenly spaced values from lo to hi inclusive (n = 1: lo).
    Linspace {
        /// First value.
        lo: f64,
        /// Last value.
        hi: f64,
        /// Count.
        n: usize,
    },
    /// n values evenly spaced in log scale from lo to hi inclusive.
    Logspace {
        /// First value (> 0).
        lo: f64,
        /// Last value.
        hi: f64,
        /// Count.
        n: usize,
    },
    /// Explicit values.
    List(Vec<f64>),
}

impl AxisValues {
    /// The number of values, without computing them.
    pub fn len(&self) -> usize {
        match self {
            AxisValues::Linspace { n, .. } | AxisValues::Logspace { n, .. } => *n,
            AxisValues::List(v) => v.len(),
        }
    }

    /// Whether there is no value (never, for an axis read from an experiment file).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values.
    pub fn values(&self) -> Vec<f64> {
        let space = |lo: f64, hi: f64, n: usize| -> Vec<f64> {
            if n == 1 {
                return vec![lo];
            }
            (0..n)
                .map(|i| {
                    if i == n - 1 {
                        hi
                    } else {
                        lo + (hi - lo) * i as f64 / (n - 1) as f64
                    }
                })
                .collect()
        };
        match self {
            AxisValues::Linspace { lo, hi, n } => space(*lo, *hi, *n),
            AxisValues::Logspace { lo, hi, n } => {
                let mut v: Vec<f64> = space(lo.ln(), hi.ln(), *n)
                    .into_iter()
                    .map(f64::exp)
                    .collect();
                v[0] = *lo;
                if *n > 1 {
                    v[n - 1] = *hi;
                }
                v
            }
            AxisValues::List(v) => v.clone(),
        }
    }
}

/// One swept key.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Dot-separated key path, e.g. `optimizer.lr`.
    pub path: String,
    /// Its values.
    pub values: AxisValues,
}

/// A Cartesian grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Axes, first slowest.
    pub axes: Vec<Axis>,
}

/// One cell of a grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Index, row-major.
    pub index: usize,
    /// (path, value) for each axis.
    pub assignments: Vec<(String, f64)>,
}

/// The most cells a grid may have, 2²⁰. Before a sweep runs, each cell's experiment is built,
/// validated and kept, and each finished cell's journal entry stays in memory until the tables
/// are written: measured, a sweep of 262144 one-run cells peaks at 742 MB (2.8 KB per cell),
/// so a grid at the bound needs about 3 GB, and one that is larger is refused before anything
/// is allocated per cell.
pub const MAX_CELLS: usize = 1 << 20;

impl Grid {
    /// Number of cells: the product of the axes' lengths, None if it overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        self.axes
            .iter()
            .try_fold(1usize, |p, a| p.checked_mul(a.values.len()))
    }

    /// Number of cells, `usize::MAX` if the product overflows (a grid read from an experiment
    /// file has at most [`MAX_CELLS`]).
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Whether the grid has no cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All cells in index order. Allocates per cell: call it only on a grid of at most
    /// [`MAX_CELLS`] cells (as every grid read from an experiment file is).
    pub fn cells(&self) -> Vec<Cell> {
        let vals: Vec<Vec<f64>> = self.axes.iter().map(|a| a.values.values()).collect();
        (0..self.len())
            .map(|index| {
                let mut rem = index;
                let mut assignments = vec![(String::new(), 0.0); vals.len()];
                for (i, v) in vals.iter().enumerate().rev() {
                    assignments[i] = (self.axes[i].path.clone(), v[rem % v.len()]);
                    rem /= v.len();
                }
                Cell { index, assignments }
            })
            .collect()
    }

    /// The grid as the `[sweep]` table of an experiment file.
    pub fn to_table(&self) -> Table {
        let axes = self
            .axes
            .iter()
            .map(|a| {
                let mut t = Table::new();
                t.insert("path".into(), a.path.clone().into());
                let fl = |v: &[f64]| Value::Array(v.iter().map(|x| Value::Float(*x)).collect());
                match &a.values {
                    AxisValues::Linspace { lo, hi, n } => {
                        t.insert("linspace".into(), fl(&[*lo, *hi, *n as f64]))
                    }
                    AxisValues::Logspace { lo, hi, n } => {
                        t.insert("logspace".into(), fl(&[*lo, *hi, *n as f64]))
                    }
                    AxisValues::List(v) => t.insert("values".into(), fl(v)),
                };
                Value::Table(t)
            })
            .collect();
        let mut t = Table::new();
        t.insert("axis".into(), Value::Array(axes));
        t
    }
}

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
