//! Output directories are never corrupted or silently replaced, and grids are bounded: the
//! real `saddle` binary in a temporary directory.
//!
//! - a grid whose cell count wraps around or exceeds the limit is refused (exit 2) before
//!   anything is allocated per cell;
//! - `run --out`, `sweep` and `merge` refuse a directory that already holds saddle output
//!   unless `--force` (or `sweep --resume`);
//! - a directory being written by one saddle process is refused to another (exit 2);
//! - `--resume` keeps exactly the valid journal lines (torn UTF-8, cells outside the grid,
//!   corrupt lines in the middle, duplicates) and ends with the bytes of an uninterrupted
//!   sweep;
//! - a failed write leaves no temporary file, and a resume removes those of a killed run.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TABLES: [&str; 2] = ["sweep.csv", "sweep.jsonl"];

/// The files in `dir` whose names start with a dot (temporary files, the lock file).
fn hidden_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    v.sort();
    v
}

fn assert_same_tables(a: &Path, b: &Path) {
    for t in TABLES {
        assert!(
            read(&a.join(t)) == read(&b.join(t)),
            "{t} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// An uninterrupted sweep of LIGHT_SWEEP in `d/full`; its journal lines.
fn reference(d: &Path) -> Vec<String> {
    write(d, "exp.toml", LIGHT_SWEEP);
    saddle(d, &["sweep", "exp.toml", "--out", "full", "-q"]).ok();
    let j = String::from_utf8(read(&d.join("full/journal.jsonl"))).unwrap();
    let lines: Vec<String> = j.lines().map(String::from).collect();
    assert_eq!(lines.len(), 12);
    lines
}

/// The journal line of `cell` among `lines`.
fn line_of(lines: &[String], cell: usize) -> String {
    lines
        .iter()
        .find(|l| json(l)["cell"].as_u64() == Some(cell as u64))
        .unwrap_or_else(|| panic!("no line for cell {cell}"))
        .clone()
}

/// A sweep directory `d/name` of LIGHT_SWEEP whose journal holds `journal` (bytes), resumed:
/// the resume must keep exactly `kept` cells, say it skipped `skipped` lines, run the rest,
/// and end with the tables of the uninterrupted sweep in `d/full` and a clean journal.
fn resume_case(d: &Path, name: &str, journal: &[u8], kept: usize, skipped: usize) {
    let dir = d.join(name);
    std::fs::create_dir(&dir).unwrap();
    for f in ["sweep.toml", "shard.txt"] {
        std::fs::copy(d.join("full").join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("journal.jsonl"), journal).unwrap();
    let out = saddle(d, &["sweep", "exp.toml", "--out", name, "--resume", "-q"]);
    out.ok();
    let skipped_text = match skipped {
        0 => "no journal line skipped".to_string(),
        1 => "1 journal line skipped".to_string(),
        n => format!("{n} journal lines skipped"),
    };
    let want = format!(
        "{kept} of 12 cells done, {} to run; {skipped_text}",
        12 - kept
    );
    assert!(
        out.stderr.contains(&want),
        "stderr lacks {want:?}:\n{}",
        out.describe()
    );
    assert!(
        out.stderr
            .contains(&format!("({} run now, {kept} already done)", 12 - kept)),
        "{}",
        out.describe()
    );
    assert_same_tables(&d.join("full"), &dir);
    // The journal now holds one valid line per cell, each with its newline.
    let j = String::from_utf8(read(&dir.join("journal.jsonl"))).expect("journal is UTF-8");
    assert!(j.ends_with('\n'));
    let mut cells: Vec<u64> = j
        .lines()
        .map(|l| json(l)["cell"].as_u64().unwrap())
        .collect();
    cells.sort_unstable();
    assert_eq!(cells, (0..12).collect::<Vec<u64>>());
    assert_eq!(hidden_files(&dir), Vec::<String>::new());
    // A second resume has nothing to do and changes nothing.
    let before = read(&dir.join("sweep.csv"));
    let again = saddle(d, &["sweep", "exp.toml", "--out", name, "--resume", "-q"]);
    again.ok();
    assert!(
        again
            .stderr
            .contains("12 of 12 cells done, 0 to run; no journal line skipped"),
        "{}",
        again.describe()
    );
    assert_eq!(read(&dir.join("sweep.csv")), before);
}

// ---------------------------------------------------------------------------------------------
// Grid sizes
// ---------------------------------------------------------------------------------------------

/// The grid part of an experiment with the given axes (path, n).
fn grid(axes: &[(&str, u64)]) -> String {
    let base = LIGHT_SWEEP
        .split("[[sweep.axis]]")
        .next()
        .unwrap()
        .to_string();
    let mut s = base;
    for (p, n) in axes {
        s.push_str(&format!(
            "[[sweep.axis]]\npath = \"{p}\"\nlinspace = [0.1, 0.9, {n}]\n"
        ));
    }
    s
}

/// 4 axes of 65536 values: 2⁶⁴ cells, which wraps to 0 in a 64-bit product.
#[test]
fn a_grid_whose_cell_count_wraps_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    let axes = [
        ("optimizer.lr", 65536),
        ("noise.a", 65536),
        ("init.lo", 65536),
        ("init.hi", 65536),
    ];
    write(d, "exp.toml", &grid(&axes));
    let t0 = Instant::now();
    let out = saddle(d, &["sweep", "exp.toml", "--out", "s"]);
    out.assert_bad_input(&[
        "sweep.axis",
        "65536 (optimizer.lr) × 65536 (noise.a) × 65536 (init.lo) × 65536 (init.hi)",
        "18446744073709551616 cells",
        "at most 1048576",
    ]);
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(
        !d.join("s").exists(),
        "a refused sweep created its directory"
    );
    // `saddle run` and `describe` read the same file: refused alike.
    saddle(d, &["describe", "exp.toml"]).assert_bad_input(&["sweep.axis", "at most 1048576"]);
}

/// 65536 × 65536 cells (4.3·10⁹, once a 137 GB allocation): refused at once, in a process
/// limited to 2 GB of address space, so nothing on the way allocates per cell.
#[test]
fn a_huge_grid_is_refused_quickly_with_bounded_memory() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "exp.toml",
        &grid(&[("optimizer.lr", 65536), ("noise.a", 65536)]),
    );
    let t0 = Instant::now();
    let o = Command::new("bash")
        .args(["-c", "ulimit -v 2000000 && exec \"$0\" \"$@\""])
        .arg(BIN)
        .args(["sweep", "exp.toml", "--out", "s"])
        .current_dir(d)
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    let elapsed = t0.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sweep.axis")
            && stderr.contains("65536 (optimizer.lr) × 65536 (noise.a) = 4294967296 cells")
            && stderr.contains("at most 1048576"),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// The limit itself: 1024 × 1024 = 2²⁰ cells is a valid grid, one more row is not.
#[test]
fn the_grid_limit_is_exact() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "ok.toml",
        &grid(&[("optimizer.lr", 1024), ("noise.a", 1024)]),
    );
    write(
        d,
        "over.toml",
        &grid(&[("optimizer.lr", 1025), ("noise.a", 1024)]),
    );
    saddle(d, &["describe", "ok.toml"]).ok();
    saddle(d, &["describe", "over.toml"]).assert_bad_input(&[
        "sweep.axis",
        "1025 (optimizer.lr) × 1024 (noise.a) = 1049600 cells",
        "at most 1048576",
    ]);
}

// ---------------------------------------------------------------------------------------------
// One policy for run, sweep and merge: refuse, unless --force (or --resume)
// ---------------------------------------------------------------------------------------------

#[test]
fn run_out_refuses_an_occupied_directory_unless_forced() {
    let dir = tempdir();
    let d = dir.path();
    let exp = LIGHT_SWEEP.replace(
        "[observe]\n",
        "[observe]\nhistogram = { param = 1, lo = -1.0, hi = 1.0, bins = 8, steps = [200] }\n",
    );
    write(d, "exp.toml", &exp);
    saddle(d, &["run", "exp.toml", "--out", "r", "-q"]).ok();
    assert!(d.join("r/histograms.csv").exists());
    write(&d.join("r"), "notes.txt", "mine");
    let summary = read(&d.join("r/summary.json"));

    let out = saddle(
        d,
        &["run", "exp.toml", "--out", "r", "--set", "seed=4", "-q"],
    );
    out.assert_bad_input(&["run --out r", "already holds", "summary.json", "--force"]);
    assert_eq!(
        read(&d.join("r/summary.json")),
        summary,
        "refused, yet changed"
    );

    // --force: the run's files are replaced (the histogram this run does not make is gone),
    // other files are left alone.
    write(d, "plain.toml", LIGHT_SWEEP);
    saddle(
        d,
        &[
            "run",
            "plain.toml",
            "--out",
            "r",
            "--set",
            "seed=4",
            "--force",
            "-q",
        ],
    )
    .ok();
    let s = json(&String::from_utf8(read(&d.join("r/summary.json"))).unwrap());
    assert_eq!(s["seed"].as_u64(), Some(4));
    assert!(!d.join("r/histograms.csv").exists());
    assert_eq!(read(&d.join("r/notes.txt")), b"mine");
    assert_eq!(hidden_files(&d.join("r")), Vec::<String>::new());

    // An empty directory, or one without saddle output, is fine.
    std::fs::create_dir(d.join("empty")).unwrap();
    saddle(d, &["run", "exp.toml", "--out", "empty", "-q"]).ok();
    // A sweep directory is not a run's to take.
    saddle(d, &["sweep", "exp.toml", "--out", "s", "-q"]).ok();
    saddle(d, &["run", "exp.toml", "--out", "s", "-q"])
        .assert_bad_input(&["already holds a sweep", "sweep.toml"]);
    // Nor a run directory a sweep's.
    saddle(d, &["sweep", "exp.toml", "--out", "r", "-q"])
        .assert_bad_input(&["already holds the output of `saddle run`", "--force"]);
}

#[test]
fn sweep_force_replaces_and_resume_continues() {
    let dir = tempdir();
    let d = dir.path();
    reference(d);
    saddle(
        d,
        &["sweep", "exp.toml", "--out", "s", "--set", "seed=9", "-q"],
    )
    .ok();
    saddle(d, &["sweep", "exp.toml", "--out", "s", "-q"]).assert_bad_input(&[
        "already holds a sweep",
        "--resume",
        "--force",
    ]);
    // --resume with another experiment is refused; --force starts afresh.
    saddle(d, &["sweep", "exp.toml", "--out", "s", "--resume", "-q"])
        .assert_bad_input(&["--resume", "differs"]);
    saddle(d, &["sweep", "exp.toml", "--out", "s", "--force", "-q"]).ok();
    assert_same_tables(&d.join("full"), &d.join("s"));
    assert_eq!(
        read(&d.join("s/journal.jsonl")).len(),
        read(&d.join("full/journal.jsonl")).len()
    );
    saddle(
        d,
        &["sweep", "exp.toml", "--out", "s", "--force", "--resume"],
    )
    .assert_bad_input(&["--force", "--resume"]);
}

#[test]
fn merge_refuses_an_unrelated_sweep_unless_forced() {
    let dir = tempdir();
    let d = dir.path();
    reference(d);
    for (k, out) in [("1/2", "p1"), ("2/2", "p2")] {
        saddle(d, &["sweep", "exp.toml", "--out", out, "--shard", k, "-q"]).ok();
    }
    // An unrelated sweep in the target.
    saddle(
        d,
        &["sweep", "exp.toml", "--out", "u", "--set", "seed=11", "-q"],
    )
    .ok();
    let before: Vec<Vec<u8>> = ["sweep.toml", "journal.jsonl", "sweep.csv"]
        .iter()
        .map(|f| read(&d.join("u").join(f)))
        .collect();
    saddle(d, &["merge", "--out", "u", "p1", "p2"]).assert_bad_input(&[
        "merge --out u",
        "already holds a sweep",
        "--force",
    ]);
    let after: Vec<Vec<u8>> = ["sweep.toml", "journal.jsonl", "sweep.csv"]
        .iter()
        .map(|f| read(&d.join("u").join(f)))
        .collect();
    assert!(before == after, "the refused merge changed u");

    saddle(d, &["merge", "--out", "u", "--force", "p1", "p2"]).ok();
    assert_same_tables(&d.join("full"), &d.join("u"));
    assert_eq!(hidden_files(&d.join("u")), Vec::<String>::new());
    // A fresh directory needs no flag; merging into a shard replaces it only with --force.
    saddle(d, &["merge", "--out", "m", "p1", "p2"]).ok();
    assert_same_tables(&d.join("full"), &d.join("m"));
    saddle(d, &["merge", "--out", "p1", "p1", "p2"]).assert_bad_input(&["already holds a sweep"]);
    saddle(d, &["merge", "--out", "p1", "--force", "p1", "p2"]).ok();
    assert_same_tables(&d.join("full"), &d.join("p1"));
}

// ---------------------------------------------------------------------------------------------
// One writer at a time
// ---------------------------------------------------------------------------------------------

/// While a sweep writes a directory, a second sweep, a resume, a merge or a run into it is
/// refused (exit 2); once the first is killed, its lock goes with it and a resume finishes.
#[test]
fn a_directory_in_use_is_refused_to_a_second_process() {
    let dir = tempdir();
    let d = dir.path();
    // 120 cells of tens of milliseconds on one thread: a few seconds.
    let slow = LIGHT_SWEEP
        .replace("runs = 200", "runs = 4000")
        .replace("steps = 200", "steps = 1000")
        .replace("linspace = [0.2, 0.9, 4]", "linspace = [0.2, 0.9, 40]")
        .replace(
            "escape_rate_steps = [10, 200]",
            "escape_rate_steps = [10, 100]",
        );
    write(d, "exp.toml", &slow);
    let mut child = Command::new(BIN)
        .args(["sweep", "exp.toml", "--out", "busy", "--threads", "1", "-q"])
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start saddle sweep");
    let journal = d.join("busy/journal.jsonl");
    let t0 = Instant::now();
    loop {
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the first sweep ended before the test could run"
        );
        if std::fs::read(&journal).is_ok_and(|j| j.contains(&b'\n')) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no journal line");
        std::thread::sleep(Duration::from_millis(5));
    }
    let busy = "in use by another saddle process";
    let results = [
        saddle(d, &["sweep", "exp.toml", "--out", "busy", "--resume", "-q"]),
        saddle(d, &["sweep", "exp.toml", "--out", "busy", "--force", "-q"]),
        saddle(d, &["sweep", "exp.toml", "--out", "busy", "-q"]),
        saddle(d, &["merge", "--out", "busy", "--force", "busy"]),
        saddle(d, &["run", "exp.toml", "--out", "busy", "--force", "-q"]),
    ];
    let still_running = child.try_wait().expect("poll").is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        still_running,
        "the first sweep ended while the others ran: nothing was tested"
    );
    for r in &results {
        r.assert_bad_input(&["busy", busy]);
    }
    // The killed sweep's lock died with it.
    let out = saddle(d, &["sweep", "exp.toml", "--out", "busy", "--resume", "-q"]);
    out.ok();
    saddle(d, &["sweep", "exp.toml", "--out", "ref", "-q"]).ok();
    assert_same_tables(&d.join("ref"), &d.join("busy"));
    assert_eq!(hidden_files(&d.join("busy")), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// The journal: keep every valid line, skip only what is broken
// ---------------------------------------------------------------------------------------------

fn joined(lines: &[String]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect()
}

#[test]
fn resume_after_a_write_torn_inside_a_character() {
    let dir = tempdir();
    let d = dir.path();
    let lines = reference(d);
    // Five lines, then a line cut inside "é" (0xC3 0xA9): the kill landed mid-character.
    let mut j = joined(&lines[..5]);
    j.extend_from_slice(b"{\"cell\":7,\"note\":\"caf\xC3");
    resume_case(d, "torn-utf8", &j, 5, 1);
    // Ending in bytes that are no UTF-8 at all.
    let mut j = joined(&lines[..5]);
    j.extend_from_slice(b"\xff\xfe\x00garbage");
    resume_case(d, "non-utf8-tail", &j, 5, 1);
    // A complete line of invalid UTF-8 in the middle: the lines after it are kept.
    let mut j = joined(&lines[..3]);
    j.extend_from_slice(b"\xff\xff\xff\n");
    j.extend_from_slice(&joined(&lines[3..8]));
    resume_case(d, "non-utf8-middle", &j, 8, 1);
}

#[test]
fn resume_skips_a_cell_outside_the_grid() {
    let dir = tempdir();
    let d = dir.path();
    let lines = reference(d);
    // A copy of cell 3's line claiming to be cell 99999 of this 12-cell grid.
    let fake = line_of(&lines, 3)
        .replacen("{\"cell\":3,", "{\"cell\":99999,", 1)
        .replacen("\"csv\":[\"3\",", "\"csv\":[\"99999\",", 1);
    assert!(fake.contains("99999"));
    let mut kept = lines[..6].to_vec();
    kept.push(fake);
    resume_case(d, "out-of-range", &joined(&kept), 6, 1);
    assert_eq!(
        String::from_utf8(read(&d.join("out-of-range/sweep.csv")))
            .unwrap()
            .lines()
            .count(),
        13,
        "header and 12 rows"
    );
}

#[test]
fn resume_keeps_the_lines_after_a_corrupt_one() {
    let dir = tempdir();
    let d = dir.path();
    let lines = reference(d);
    let mut j = lines[..3].to_vec();
    j.push("{\"cell\": 4, \"csv\": [tru".to_string());
    j.extend_from_slice(&lines[3..10]);
    resume_case(d, "corrupt-middle", &joined(&j), 10, 1);
}

#[test]
fn resume_checks_each_line_against_the_grid() {
    let dir = tempdir();
    let d = dir.path();
    let lines = reference(d);
    let l2 = line_of(&lines, 2);
    let row: Vec<String> = serde_json::from_value(json(&l2)["csv"].clone()).unwrap();
    // Cell 2's row with another learning rate than the grid's for cell 2.
    let wrong_value = l2.replacen(
        &format!("\"csv\":[\"2\",\"{}\"", row[1]),
        "\"csv\":[\"2\",\"0.55\"",
        1,
    );
    assert_ne!(wrong_value, l2);
    // A row with a field missing.
    let short = l2.replacen(&format!("\"{}\",", row[1]), "", 1);
    assert_ne!(short, l2);
    // The summary of another cell.
    let other_summary = l2.replacen(",\"cell\":2,", ",\"cell\":5,", 1);
    assert_ne!(other_summary, l2);
    // Not a JSON object with the fields.
    let no_summary = format!(
        "{{\"cell\":2,\"csv\":{}}}",
        serde_json::to_string(&row).unwrap()
    );
    let others: Vec<String> = lines
        .iter()
        .filter(|l| json(l)["cell"].as_u64() != Some(2))
        .cloned()
        .collect();
    let mut j = others.clone();
    j.extend([wrong_value, short, other_summary, no_summary]);
    resume_case(d, "mismatch", &joined(&j), 11, 4);

    // An exact repeat of a line is dropped, the cell kept.
    let mut j = others.clone();
    j.push(l2.clone());
    j.push(l2.clone());
    resume_case(d, "repeat", &joined(&j), 12, 1);
    // Two different lines for one cell (here: one carries an extra key): neither is trusted.
    let variant = l2.replacen("{\"cell\":2,", "{\"cell\":2,\"extra\":1,", 1);
    let mut j = others;
    j.push(l2);
    j.push(variant);
    resume_case(d, "conflict", &joined(&j), 11, 2);
}

// ---------------------------------------------------------------------------------------------
// Temporary files
// ---------------------------------------------------------------------------------------------

/// A table that cannot be written (here `sweep.csv` is a directory, so the rename fails after
/// the temporary file is complete) fails the sweep without leaving the temporary file.
#[test]
fn a_failed_write_leaves_no_temporary_file() {
    let dir = tempdir();
    let d = dir.path();
    let lines = reference(d);
    let s = d.join("s");
    std::fs::create_dir(&s).unwrap();
    for f in ["sweep.toml", "shard.txt"] {
        std::fs::copy(d.join("full").join(f), s.join(f)).unwrap();
    }
    std::fs::write(s.join("journal.jsonl"), joined(&lines[..4])).unwrap();
    std::fs::create_dir(s.join("sweep.csv")).unwrap();
    let out = saddle(d, &["sweep", "exp.toml", "--out", "s", "--resume", "-q"]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(out.stderr.contains("sweep.csv"), "{}", out.describe());
    assert_eq!(hidden_files(&s), Vec::<String>::new());
    // The journal kept every cell that ran: once the obstacle is gone, the resume has
    // nothing left to run.
    std::fs::remove_dir(s.join("sweep.csv")).unwrap();
    let out = saddle(d, &["sweep", "exp.toml", "--out", "s", "--resume", "-q"]);
    out.ok();
    assert!(
        out.stderr.contains("12 of 12 cells done"),
        "{}",
        out.describe()
    );
    assert_same_tables(&d.join("full"), &s);
}

/// Temporary files of saddle's own outputs left by a killed process are removed on the next
/// claim of the directory; files that are not saddle's are left alone.
#[test]
fn resume_removes_stale_temporary_files() {
    let dir = tempdir();
    let d = dir.path();
    reference(d);
    let full = d.join("full");
    for f in [
        ".sweep.csv.tmp4242",
        ".journal.csv.tmp7",
        ".summary.json.tmp12",
    ] {
        write(&full, f, "partial");
    }
    write(&full, ".notes.tmp1", "not ours");
    write(&full, ".sweep.csv.tmpX", "not ours either");
    let out = saddle(d, &["sweep", "exp.toml", "--out", "full", "--resume", "-q"]);
    out.ok();
    assert_eq!(
        hidden_files(&full),
        vec![".notes.tmp1".to_string(), ".sweep.csv.tmpX".to_string()]
    );
}

/// Unmounts a tmpfs when dropped.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A full disk (ENOSPC on a 256 KiB tmpfs, where the test may mount one: as root): the
/// resume fails with exit 1 and leaves no temporary file, and the directory is intact.
#[test]
fn a_full_disk_leaves_no_temporary_file() {
    let dir = tempdir();
    let d = dir.path();
    let lines = reference(d);
    let mnt = d.join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("a_full_disk_leaves_no_temporary_file: cannot mount a tmpfs here (not root?); skipped (a_failed_write_leaves_no_temporary_file covers the error path)");
        return;
    }
    let _m = Mount(mnt.clone());
    let s = mnt.join("s");
    std::fs::create_dir(&s).unwrap();
    for f in ["sweep.toml", "shard.txt"] {
        std::fs::copy(d.join("full").join(f), s.join(f)).unwrap();
    }
    let journal = joined(&lines[..6]);
    std::fs::write(s.join("journal.jsonl"), &journal).unwrap();
    // Fill the rest of the file system.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(mnt.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let out = saddle(
        &mnt,
        &["sweep", "../exp.toml", "--out", "s", "--resume", "-q"],
    );
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("No space left on device"),
        "{}",
        out.describe()
    );
    assert_eq!(hidden_files(&s), Vec::<String>::new());
    assert_eq!(read(&s.join("journal.jsonl")), journal);
    // With room again, the same resume finishes the sweep.
    std::fs::remove_file(mnt.join("filler")).unwrap();
    saddle(
        &mnt,
        &["sweep", "../exp.toml", "--out", "s", "--resume", "-q"],
    )
    .ok();
    assert_same_tables(&d.join("full"), &s);
}
