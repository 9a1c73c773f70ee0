//! `saddle sweep` and `saddle merge`: parameter grids on disk.
//!
//! Layout of a sweep directory (docs/output.md):
//! - `sweep.toml`: the resolved base experiment with its grid; a resumed or merged sweep must
//!   match it exactly;
//! - `journal.jsonl`: one line per finished cell, appended at most 20 ms after the cell
//!   finishes (the cells of those 20 ms in one write), in completion order:
//!   `{"cell": k, "csv": [...], "summary": {...}}`;
//! - `journal.csv`: the same rows as CSV, appended alongside (rebuilt from `journal.jsonl`
//!   whenever a sweep starts or resumes, cells finished earlier first);
//! - `sweep.csv`, `sweep.jsonl`: the same rows in cell order, written when the sweep (or this
//!   shard) is complete. They depend only on the experiment, not on the thread count,
//!   interruptions or completion order.
//!
//! `kill -9` loses at most the cells in flight and those finished in the last 20 ms: `--resume`
//! keeps every journal line that is a valid entry of the grid, skips the others (a torn line,
//! a corrupt one anywhere, a cell outside the grid, a duplicate) and runs the rest.
//!
//! The directory is claimed with [`OutDir::claim`]: locked for the whole sweep (a second
//! saddle process is refused), and refused when it already holds saddle output unless
//! `--resume` or `--force`.

use crate::input::{self, InputError};
use crate::output::{num, opt, write_atomic, write_atomic_with, Claim, OutDir};
use crate::{progress, ExpArgs};
use anyhow::{Context, Result};
use rayon::prelude::*;
use saddle::config::Experiment;
use saddle::experiment::Summary;
use saddle::sweep::{Cell, CellTables, MAX_CELLS};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Condvar, Mutex};

const JOURNAL: &str = "journal.jsonl";
const CONFIG: &str = "sweep.toml";
const SHARD: &str = "shard.txt";
const JOURNAL_CSV: &str = "journal.csv";

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = || {
        InputError(format!(
            "--shard {s:?}: expected K/N with 1 <= K <= N, e.g. 2/4"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(bad().into());
    }
    Ok((k, n))
}

/// The CSV header of a sweep.
fn header(base: &Experiment) -> Vec<String> {
    let mut h = vec!["cell".to_string()];
    if let Some(g) = &base.sweep {
        h.extend(g.axes.iter().map(|a| a.path.clone()));
    }
    h.extend(
        [
            "runs",
            "steps",
            "diverged",
            "absorbed",
            "escape_fraction",
            "escape_stderr",
            "mean_loss_final",
            "mean_loss_stderr",
            "mean_norm_final",
            "mean_norm_stderr",
        ]
        .map(String::from),
    );
    for t in &base.observe.escape_rate_steps {
        h.push(format!("gamma_t{t}"));
        h.push(format!("gamma_t{t}_stderr"));
    }
    h
}

fn row(base: &Experiment, cell: &Cell, s: &Summary) -> Vec<String> {
    let mut r = vec![cell.index.to_string()];
    r.extend(cell.assignments.iter().map(|(_, v)| num(*v)));
    r.extend([
        s.runs.to_string(),
        s.steps.to_string(),
        s.diverged.to_string(),
        s.absorbed.to_string(),
        opt(s.escape.as_ref().map(|e| e.value)),
        opt(s.escape.as_ref().map(|e| e.stderr)),
        opt(s.mean_loss_final),
        opt(s.mean_loss_final_stderr),
        opt(s.mean_norm_final),
        opt(s.mean_norm_final_stderr),
    ]);
    for t in &base.observe.escape_rate_steps {
        let p = s.escape_rate.iter().find(|p| p.t == *t);
        r.push(opt(p.and_then(|p| p.value)));
        r.push(opt(p.and_then(|p| p.stderr)));
    }
    r
}

/// One finished cell as the journal holds it, with its lines in the other files rendered once,
/// by the thread that ran the cell (the journal writer and the final tables only concatenate
/// them).
struct Entry {
    /// The journal line, without its newline.
    line: String,
    /// The `sweep.csv` record, CSV-encoded, with its newline.
    csv: Vec<u8>,
    /// The `sweep.jsonl` line, with its newline.
    jsonl: String,
}

impl Entry {
    /// The entry of journal line `line`, of cell `cell` with its `sweep.csv` row and its
    /// summary as JSON text.
    fn from_parts(line: String, cell: usize, csv: &[String], summary: &str) -> Result<Entry> {
        Ok(Entry {
            line,
            csv: csv_records(std::iter::once(csv))?,
            jsonl: format!("{{\"cell\":{cell},\"summary\":{summary}}}\n"),
        })
    }

    /// The entry of a cell that just finished.
    fn new(cell: usize, csv: &[String], summary: &Summary) -> Result<Entry> {
        // The summary's keys in alphabetical order (docs/output.md).
        let summary = crate::sorted::summary_json(summary)?;
        let line = format!(
            "{{\"cell\":{cell},\"csv\":{},\"summary\":{summary}}}",
            serde_json::to_string(csv)?
        );
        Entry::from_parts(line, cell, csv, &summary)
    }

    /// The entry of journal line `line` if it is one of `grid`: the cell of `shard`, its
    /// `csv` row with the header's width, the cell's index and grid values, and a summary of
    /// that cell agreeing with the row. Otherwise why not.
    fn parse(line: &str, grid: &GridCheck) -> Result<(usize, Entry), String> {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
        let cell = v
            .get("cell")
            .and_then(|c| c.as_u64())
            .ok_or("no \"cell\" index")?;
        let cell = usize::try_from(cell)
            .ok()
            .filter(|c| *c < grid.total)
            .ok_or_else(|| format!("cell {cell} is outside the grid's 0..{}", grid.total))?;
        if cell % grid.shard.1 != grid.shard.0 - 1 {
            return Err(format!(
                "cell {cell} is not in shard {}/{}",
                grid.shard.0, grid.shard.1
            ));
        }
        let csv: Vec<String> = v
            .get("csv")
            .and_then(|c| c.as_array())
            .ok_or("no \"csv\" row")?
            .iter()
            .map(|x| x.as_str().map(String::from))
            .collect::<Option<_>>()
            .ok_or("a \"csv\" field is not a string")?;
        if csv.len() != grid.width {
            return Err(format!(
                "the csv row has {} fields, not {}",
                csv.len(),
                grid.width
            ));
        }
        let expected = grid.params(cell);
        if csv[0] != cell.to_string() || csv[1..=expected.len()] != expected[..] {
            return Err(format!(
                "the csv row does not start with cell {cell} and its grid values {}",
                expected.join(",")
            ));
        }
        let summary = v
            .get("summary")
            .filter(|s| s.is_object())
            .ok_or("no \"summary\" object")?;
        // The summary's counts are the row's (columns runs, steps, diverged, absorbed).
        let at = 1 + expected.len();
        for (i, key) in ["cell", "runs", "steps", "diverged", "absorbed"]
            .into_iter()
            .enumerate()
        {
            let want = if i == 0 { &csv[0] } else { &csv[at + i - 1] };
            if summary
                .get(key)
                .and_then(|x| x.as_u64())
                .map(|x| x.to_string())
                != Some(want.clone())
            {
                return Err(format!("the summary's {key:?} is not the row's {want:?}"));
            }
        }
        let summary = serde_json::to_string(summary).map_err(|e| e.to_string())?;
        // The line as it was read, which `saddle merge` compares between shards.
        let entry =
            Entry::from_parts(line.to_string(), cell, &csv, &summary).map_err(|e| e.to_string())?;
        Ok((cell, entry))
    }
}

/// What a journal line must match: the grid (its size, its values by axis, the row's width)
/// and the shard (K, N) the directory runs.
struct GridCheck {
    total: usize,
    values: Vec<Vec<f64>>,
    width: usize,
    shard: (usize, usize),
}

impl GridCheck {
    fn new(base: &Experiment, shard: (usize, usize)) -> GridCheck {
        let axes = base.sweep.as_ref().map_or(&[][..], |g| &g.axes[..]);
        GridCheck {
            total: base.sweep.as_ref().map_or(0, |g| g.len()),
            values: axes.iter().map(|a| a.values.values()).collect(),
            width: header(base).len(),
            shard,
        }
    }

    /// Cell k's grid values as its `sweep.csv` row writes them (row-major, last axis fastest).
    fn params(&self, k: usize) -> Vec<String> {
        let mut rem = k;
        let mut out = vec![String::new(); self.values.len()];
        for (i, v) in self.values.iter().enumerate().rev() {
            out[i] = num(v[rem % v.len()]);
            rem /= v.len();
        }
        out
    }
}

/// A journal as read: its valid entries by cell, and the lines left out.
struct Journal {
    done: BTreeMap<usize, Entry>,
    /// (line number from 1, why) of each line left out.
    skipped: Vec<(usize, String)>,
    /// The valid lines in file order, as the journal should hold them.
    kept: Vec<usize>,
    /// Whether the file holds anything but `kept`, each line with its newline.
    dirty: bool,
}

/// "n journal lines skipped (line 3: why; ...)" for stderr, at most five reasons.
fn skipped_note(skipped: &[(usize, String)]) -> String {
    if skipped.is_empty() {
        return "no journal line skipped".to_string();
    }
    let shown: Vec<String> = skipped
        .iter()
        .take(5)
        .map(|(l, why)| format!("line {l}: {why}"))
        .collect();
    let more = if skipped.len() > 5 { "; ..." } else { "" };
    format!(
        "{} journal line{} skipped ({}{more})",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" },
        shown.join("; ")
    )
}

/// Read a journal as bytes, line by line: each complete line that is a valid entry of `grid`
/// ([`Entry::parse`]) is kept; a line that is torn (no newline: kill -9 mid-write), not UTF-8
/// (a write torn inside a character), not an entry of this grid and shard, or a second line
/// of one cell, is skipped, and reading goes on with the next line. Two different lines for
/// one cell both go: the cell is run again.
fn read_journal(path: &Path, grid: &GridCheck) -> Result<Journal> {
    let mut j = Journal {
        done: BTreeMap::new(),
        skipped: vec![],
        kept: vec![],
        dirty: false,
    };
    let bytes = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(j),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    // Cell -> the line number that holds it; cells whose lines disagree.
    let mut first: BTreeMap<usize, usize> = BTreeMap::new();
    let mut conflicted: BTreeMap<usize, ()> = BTreeMap::new();
    for (i, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let no = i + 1;
        let parsed = match line.strip_suffix(b"\n") {
            None => Err("torn: no newline at the end".to_string()),
            Some(l) => std::str::from_utf8(l)
                .map_err(|_| "not UTF-8".to_string())
                .and_then(|l| Entry::parse(l, grid)),
        };
        match parsed {
            Err(why) => j.skipped.push((no, why)),
            Ok((k, _)) if conflicted.contains_key(&k) => {
                j.skipped
                    .push((no, format!("cell {k} appears in other lines that disagree")));
            }
            Ok((k, entry)) => match j.done.get(&k) {
                None => {
                    first.insert(k, no);
                    j.done.insert(k, entry);
                    j.kept.push(k);
                }
                Some(prev) if prev.line == entry.line => {
                    j.skipped
                        .push((no, format!("cell {k} repeats line {}", first[&k])));
                }
                Some(_) => {
                    j.done.remove(&k);
                    conflicted.insert(k, ());
                    j.skipped
                        .push((first[&k], format!("cell {k}: line {} disagrees", no)));
                    j.skipped
                        .push((no, format!("cell {k}: disagrees with line {}", first[&k])));
                }
            },
        }
    }
    j.kept.retain(|k| !conflicted.contains_key(k));
    j.skipped.sort_by_key(|s| s.0);
    j.dirty = !j.skipped.is_empty();
    Ok(j)
}

/// Rewrite a journal with only its valid lines (atomically), so that appending to it starts
/// after a whole line.
fn rewrite_journal(path: &Path, j: &Journal) -> Result<()> {
    write_atomic_with(path, |w| {
        j.kept.iter().try_for_each(|k| {
            w.write_all(j.done[k].line.as_bytes())?;
            w.write_all(b"\n")
        })
    })
}

/// CSV records (no header).
fn csv_records<'a>(rows: impl Iterator<Item = &'a [String]>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for r in rows {
        // The fields of a sweep's rows are numbers and empty strings, which CSV writes as
        // they are, separated by commas: written so here, without a CSV writer (and its
        // 8 KiB buffer) per row. A field that would need quoting goes through the writer.
        if r.iter().all(|f| !f.contains([',', '"', '\n', '\r'])) {
            for (i, f) in r.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(f.as_bytes());
            }
            out.push(b'\n');
        } else {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(vec![]);
            w.write_record(r)?;
            out.extend_from_slice(&w.into_inner()?);
        }
    }
    Ok(out)
}

/// Write the CSV table (header and one row per entry, in the given order) to `path`
/// atomically, the rows streamed to the file.
fn write_csv<'a>(
    path: &Path,
    base: &Experiment,
    mut entries: impl Iterator<Item = &'a Entry>,
) -> Result<()> {
    let header = csv_records(std::iter::once(&header(base)[..]))?;
    write_atomic_with(path, |w| {
        w.write_all(&header)?;
        entries.try_for_each(|e| w.write_all(&e.csv))
    })
}

/// Write `sweep.csv` and `sweep.jsonl` from the entries, in cell order: the two files at
/// once, each streamed to its file (with a sweep of thousands of short cells, the end of a
/// sweep is these writes and their syncs).
fn write_tables(dir: &Path, base: &Experiment, done: &BTreeMap<usize, Entry>) -> Result<()> {
    std::thread::scope(|scope| {
        let jsonl = scope.spawn(|| {
            write_atomic_with(&dir.join("sweep.jsonl"), |w| {
                done.values()
                    .try_for_each(|e| w.write_all(e.jsonl.as_bytes()))
            })
        });
        let csv = write_csv(&dir.join("sweep.csv"), base, done.values());
        let jsonl = jsonl
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("writing sweep.jsonl panicked")));
        csv.and(jsonl)
    })
}

/// How long a finished cell's journal line may wait to be written with others: one write per
/// file for all the cells that finish within it, instead of two per cell (thousands of
/// millisecond cells otherwise spend more time in `write` than in running).
const JOURNAL_BATCH: std::time::Duration = std::time::Duration::from_millis(20);

/// Finished cells waiting for the journal writer, and whether the sweep is over.
#[derive(Default)]
struct Queue {
    state: Mutex<(Vec<(usize, Entry)>, bool)>,
    wake: Condvar,
    /// The writer stopped on an I/O error: the cells still to run would be lost.
    failed: std::sync::atomic::AtomicBool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<(usize, Entry)>, bool)> {
        // A poisoned lock only means a cell's thread panicked; the queue itself is intact.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue a finished cell (no wake-up: the writer looks every [`JOURNAL_BATCH`]). False once
    /// the writer has failed, so the sweep stops instead of running cells it cannot keep.
    fn push(&self, cell: usize, entry: Entry) -> bool {
        self.lock().0.push((cell, entry));
        !self.failed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// No more cells: the writer writes what is queued and ends.
    fn close(&self) {
        self.lock().1 = true;
        self.wake.notify_one();
    }
}

/// Append the queued journal lines every [`JOURNAL_BATCH`], the JSON journal (the one resume
/// trusts) first, then the CSV one, until the queue is closed. Returns the entries it wrote,
/// by cell.
fn journal_writer(
    queue: &Queue,
    mut json: std::fs::File,
    mut csv: std::fs::File,
) -> Result<BTreeMap<usize, Entry>> {
    let mut written = BTreeMap::new();
    loop {
        let (batch, closed) = {
            let mut q = queue.lock();
            if !q.1 {
                q = queue
                    .wake
                    .wait_timeout(q, JOURNAL_BATCH)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            (std::mem::take(&mut q.0), q.1)
        };
        if !batch.is_empty() {
            let mut lines = String::new();
            for (_, e) in &batch {
                lines.push_str(&e.line);
                lines.push('\n');
            }
            json.write_all(lines.as_bytes())?;
            let records: Vec<u8> = batch.iter().flat_map(|(_, e)| &e.csv).copied().collect();
            csv.write_all(&records)?;
            written.extend(batch);
        }
        // Cells are queued before the queue is closed, so a closed queue taken is empty.
        if closed {
            return Ok(written);
        }
    }
}

/// `saddle sweep`.
pub fn run(
    args: &ExpArgs,
    out: Option<PathBuf>,
    claim: Claim,
    shard: Option<&str>,
    quiet: bool,
) -> Result<ExitCode> {
    let resume = claim == Claim::Resume;
    let loaded = input::load(args)?;
    let base = &loaded.experiment;
    let grid = base.sweep.as_ref().ok_or_else(|| {
        InputError(format!(
            "{}: no [sweep] table; add [[sweep.axis]] entries (path = \"optimizer.lr\", linspace = [lo, hi, n]) or use `saddle run`",
            args.file.display()
        ))
    })?;
    let (k, n) = shard.map(parse_shard).transpose()?.unwrap_or((1, 1));
    // Reading the file bounds the grid (saddle::sweep::MAX_CELLS): checked again here before
    // the cells are allocated.
    if grid.checked_len().is_none_or(|n| n > MAX_CELLS) {
        return Err(InputError(format!(
            "sweep.axis: the grid has more than {MAX_CELLS} cells, the most allowed"
        ))
        .into());
    }
    let cells = grid.cells();
    // Validate every cell before running anything.
    // In parallel (thousands of cells), then the first bad cell in cell order is reported.
    let checked: Vec<Result<(Cell, Experiment)>> = cells
        .into_par_iter()
        .filter(|c| c.index % n == k - 1)
        .map_init(
            || CellTables::new(&loaded.table),
            |tables, c| {
                let bad = |e: &dyn std::fmt::Display| {
                    let at: Vec<String> = c
                        .assignments
                        .iter()
                        .map(|(p, v)| format!("{p} = {}", saddle::config::display_num(*v)))
                        .collect();
                    InputError(format!("sweep cell {} ({}): {e}", c.index, at.join(", ")))
                };
                let e = tables.experiment(&c).map_err(|e| bad(&e))?;
                // Also what only the engine checks (e.g. GD needs an expected gradient), so a
                // sweep that cannot run fails before it creates its directory.
                saddle::experiment::check(&e).map_err(|e| bad(&e))?;
                Ok((c, e))
            },
        )
        .collect();
    let mine: Vec<(Cell, Experiment)> = checked.into_iter().collect::<Result<_>>()?;

    let dir = out.unwrap_or_else(|| PathBuf::from(format!("sweep-{}", base.name)));
    let config = base.to_toml();
    let shard_text = format!("{k}/{n}\n");
    let journal = dir.join(JOURNAL);
    // Held until the sweep ends: no other saddle process writes this directory meanwhile.
    let _held = OutDir::claim(
        &dir,
        claim,
        "sweep",
        "--resume to continue its sweep, --force to replace it,",
    )?;
    if resume {
        let old = std::fs::read_to_string(dir.join(CONFIG)).map_err(|e| {
            InputError(format!(
                "--resume: {} holds no sweep to resume ({e})",
                dir.display()
            ))
        })?;
        if old != config {
            return Err(InputError(format!(
                "--resume: the experiment differs from the one in {}; resume with the same file and --set values, or use a new --out",
                dir.join(CONFIG).display()
            ))
            .into());
        }
        let old_shard = std::fs::read_to_string(dir.join(SHARD)).unwrap_or_default();
        if old_shard != shard_text {
            return Err(InputError(format!(
                "--resume: {} was started as shard {}, not {}",
                dir.display(),
                old_shard.trim(),
                shard_text.trim()
            ))
            .into());
        }
    } else {
        write_atomic(&dir.join(CONFIG), config.as_bytes())?;
        write_atomic(&dir.join(SHARD), shard_text.as_bytes())?;
    }
    let read = read_journal(&journal, &GridCheck::new(base, (k, n)))?;
    if read.dirty {
        rewrite_journal(&journal, &read)?;
    }
    if resume {
        note!(
            "resuming {}: {} of {} cells done, {} to run; {}",
            dir.display(),
            read.done.len(),
            mine.len(),
            mine.len() - read.done.len(),
            skipped_note(&read.skipped)
        );
    }
    let mut done = read.done;
    let pending: Vec<&(Cell, Experiment)> = mine
        .iter()
        .filter(|(c, _)| !done.contains_key(&c.index))
        .collect();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal)
        .with_context(|| format!("cannot open {}", journal.display()))?;
    // journal.csv: the same rows as CSV, in completion order, rebuilt from the journal on
    // every start (so a torn line from an interruption never survives).
    let journal_csv = dir.join(JOURNAL_CSV);
    write_csv(&journal_csv, base, done.values())?;
    let csv_file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal_csv)
        .with_context(|| format!("cannot open {}", journal_csv.display()))?;
    let bar = progress::bar(mine.len() as u64, "cells", quiet);
    bar.inc((mine.len() - pending.len()) as u64);
    let queue = Queue::default();
    let (ran, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let written = journal_writer(&queue, file, csv_file);
            if written.is_err() {
                queue
                    .failed
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            written
        });
        let ran = pending.par_iter().try_for_each(|(cell, e)| -> Result<()> {
            let s = saddle::experiment::run_summary(e, cell.index as u32, None)
                .map_err(|err| InputError(format!("sweep cell {}: {err}", cell.index)))?;
            if !queue.push(
                cell.index,
                Entry::new(cell.index, &row(base, cell, &s), &s)?,
            ) {
                anyhow::bail!("the journal could not be written");
            }
            bar.inc(1);
            Ok(())
        });
        queue.close();
        (ran, writer.join())
    });
    // The writer's error first: it is the cause when the cells stopped because of it.
    let written = written
        .map_err(|_| anyhow::anyhow!("the journal writer panicked"))?
        .with_context(|| format!("cannot append to {}", journal.display()))?;
    ran?;
    done.extend(written);
    bar.finish_and_clear();
    write_tables(&dir, base, &done)?;
    note!(
        "sweep {}: {} cells ({} run now, {} already done) -> {}",
        base.name,
        mine.len(),
        pending.len(),
        mine.len() - pending.len(),
        dir.join("sweep.csv").display()
    );
    // The process ends with this command: its thousands of cell experiments and entries are
    // left to the operating system instead of being freed one by one.
    std::mem::forget(mine);
    std::mem::forget(done);
    Ok(ExitCode::SUCCESS)
}

/// `saddle merge`.
pub fn merge(out: &Path, force: bool, dirs: &[PathBuf]) -> Result<ExitCode> {
    let mut config: Option<String> = None;
    let mut grid: Option<GridCheck> = None;
    let mut all: BTreeMap<usize, Entry> = BTreeMap::new();
    for d in dirs {
        let c = std::fs::read_to_string(d.join(CONFIG))
            .map_err(|e| InputError(format!("{} is not a sweep directory ({e})", d.display())))?;
        match &config {
            None => {
                let base = Experiment::from_toml(&c)
                    .map_err(|e| InputError(format!("{}: {e}", d.join(CONFIG).display())))?;
                // Any shard's cells are accepted from any directory: the cells are the same
                // whichever shard ran them.
                grid = Some(GridCheck::new(&base, (1, 1)));
                config = Some(c);
            }
            Some(first) if *first != c => {
                return Err(InputError(format!(
                "{} holds a different experiment than {}; only shards of one sweep can be merged",
                d.display(),
                dirs[0].display()
            ))
                .into())
            }
            _ => {}
        }
        let read = read_journal(&d.join(JOURNAL), grid.as_ref().expect("set above"))?;
        if !read.skipped.is_empty() {
            note!(
                "warning: {}: {}",
                d.join(JOURNAL).display(),
                skipped_note(&read.skipped)
            );
        }
        for (k, entry) in read.done {
            match all.get(&k) {
                Some(prev) if prev.line != entry.line => {
                    return Err(InputError(format!("cell {k} differs between shards")).into());
                }
                Some(_) => {}
                None => {
                    all.insert(k, entry);
                }
            }
        }
    }
    let config = config.expect("at least one directory");
    let base = Experiment::from_toml(&config).map_err(InputError::from_display)?;
    let total = base.sweep.as_ref().map_or(0, |g| g.len());
    // Every shard is read before the output directory is touched, so `--force` may name one
    // of them.
    let _held = OutDir::claim(
        out,
        if force { Claim::Replace } else { Claim::Fresh },
        "merge",
        "--force to replace it",
    )?;
    write_atomic(&out.join(CONFIG), config.as_bytes())?;
    write_atomic(&out.join(SHARD), b"1/1\n")?;
    write_atomic_with(&out.join(JOURNAL), |w| {
        all.values().try_for_each(|e| {
            w.write_all(e.line.as_bytes())?;
            w.write_all(b"\n")
        })
    })?;
    write_csv(&out.join(JOURNAL_CSV), &base, all.values())?;
    write_tables(out, &base, &all)?;
    if all.len() < total {
        note!(
            "warning: merged {} of {} cells; run the missing shards, then merge again",
            all.len(),
            total
        );
    } else {
        note!(
            "merged {} cells -> {}",
            all.len(),
            out.join("sweep.csv").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
