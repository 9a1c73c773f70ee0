//! `saddle reproduce` end to end: the real binary writes the report into a temporary
//! directory, and the report is checked file by file.

mod common;

use common::{json, saddle, tempdir};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn experiments_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
}

/// The width and height of a PNG file, after checking its signature and IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// The `width`/`height` attributes of an SVG's root element.
fn svg_size(text: &str) -> (f64, f64) {
    let start = text.find("<svg").expect("an <svg element");
    let end = start + text[start..].find('>').expect("end of the <svg tag");
    let tag = &text[start..end];
    let attr = |name: &str| -> f64 {
        let key = format!("{name}=\"");
        let i = tag
            .find(&key)
            .unwrap_or_else(|| panic!("<svg has no {name}"))
            + key.len();
        let j = i + tag[i..].find('"').unwrap();
        tag[i..j]
            .trim_end_matches("px")
            .parse()
            .expect("numeric size")
    };
    assert!(text.trim_end().ends_with("</svg>"), "SVG is complete");
    (attr("width"), attr("height"))
}

/// Every field of a check, with its JSON type (docs/report.md).
fn check_schema(c: &Value) {
    let o = c.as_object().expect("a check is an object");
    for k in [
        "id", "section", "kind", "claim", "ref", "unit", "rule", "detail",
    ] {
        assert!(o[k].is_string(), "{k} is a string in {c}");
    }
    assert!(o["measured"].is_number(), "measured is a number in {c}");
    for k in ["theory", "uncertainty", "tolerance", "p_value", "level"] {
        assert!(
            o[k].is_number() || o[k].is_null(),
            "{k} is a number or null in {c}"
        );
    }
    assert!(o["pass"].is_boolean());
    assert!(["claim", "agreement"].contains(&o["kind"].as_str().unwrap()));
    let rule = o["rule"].as_str().unwrap();
    assert!(["within", "at-most", "at-least", "below", "above", "p-value"].contains(&rule));
    // A p-value test has a p-value and a level and no tolerance; every other rule has a
    // tolerance and a theory value, and no p-value.
    if rule == "p-value" {
        assert!(o["p_value"].is_number() && o["level"].is_number() && o["tolerance"].is_null());
    } else {
        assert!(o["tolerance"].is_number() && o["theory"].is_number() && o["p_value"].is_null());
    }
    assert_eq!(o.len(), 15, "no unexpected fields in {c}");
}

/// A copy of the shipped experiment files in `dir/name`, with the files of `overlay` (if
/// any) written over them.
fn experiments_copy(dir: &Path, name: &str, overlay: Option<&Path>) -> PathBuf {
    let copy = dir.join(name);
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(experiments_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&p, copy.join(p.file_name().unwrap())).unwrap();
        }
    }
    if let Some(o) = overlay {
        for e in std::fs::read_dir(o).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, copy.join(p.file_name().unwrap())).unwrap();
        }
    }
    copy
}

fn broken_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken-experiments")
}

#[test]
fn quick_report_passes_every_check_and_writes_every_file() {
    let dir = tempdir();
    let out = dir.path().join("report");
    let exp = experiments_dir();
    let r = saddle(
        dir.path(),
        &[
            "reproduce",
            "--scale",
            "quick",
            "--out",
            out.to_str().unwrap(),
            "--experiments",
            exp.to_str().unwrap(),
        ],
    );
    let stdout = r.ok();
    assert!(stdout.contains("0 failed"), "{}", r.describe());
    // Progress goes to stderr, one line per section started and finished.
    assert!(r.stderr.contains("[1/11] prop1") && r.stderr.contains("[11/11] fig10"));
    assert!(
        !r.stderr.contains(" 1 checks") && !stdout.contains(" 1 checks"),
        "{}",
        r.describe()
    );

    // checks.json against its schema, every check passing.
    let doc = json(&std::fs::read_to_string(out.join("checks.json")).unwrap());
    assert_eq!(doc["scale"], "quick");
    assert!(doc["saddle_version"].is_string());
    let checks = doc["checks"].as_array().expect("checks array");
    assert!(checks.len() >= 30, "{} checks", checks.len());
    let mut ids = BTreeSet::new();
    for c in checks {
        check_schema(c);
        assert!(
            ids.insert(c["id"].as_str().unwrap().to_string()),
            "ids are unique"
        );
        assert_eq!(c["pass"], true, "failing check: {c}");
    }
    assert_eq!(doc["passed"].as_u64(), Some(checks.len() as u64));
    assert_eq!(doc["failed"].as_u64(), Some(0));
    assert_eq!(doc["modified_files"], serde_json::json!([]));
    // Every section checks at least one claim of the paper as such; every section with a
    // theory to compare with has an agreement check too.
    for sec in [
        "prop1", "fig1", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "eq65", "fig10",
    ] {
        let kinds: BTreeSet<&str> = checks
            .iter()
            .filter(|c| c["section"] == sec)
            .map(|c| c["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains("claim"), "{sec} has a claim check");
        if !["fig4", "fig5"].contains(&sec) {
            assert!(kinds.contains("agreement"), "{sec} has an agreement check");
        }
    }
    // Test levels and p-values have their own fields, not the theory column.
    for id in ["fig3-exact", "fig9-stationary"] {
        let c = checks.iter().find(|c| c["id"] == id).unwrap();
        assert_eq!(c["rule"], "p-value", "{c}");
        assert!(c["level"].as_f64().unwrap() <= 1e-3 && c["p_value"].as_f64().unwrap() >= 0.0);
    }
    // Fig. 6 middle: every final state classified, the counts add up to the runs.
    let places = std::fs::read_to_string(out.join("data/fig6-final-places.csv")).unwrap();
    for line in places.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
        assert_eq!(v[1..].iter().sum::<f64>(), 500.0, "{line}");
    }
    // The manifest lists exactly the files written.
    let manifest = std::fs::read_to_string(out.join(".saddle-report")).unwrap();
    assert!(manifest.lines().any(|l| l == "figures/fig10.png"));
    assert!(manifest.lines().any(|l| l == "data/fig6-final-places.csv"));
    for id in [
        "prop1-absorbed",
        "prop2-phase",
        "prop3-gamma-star-a-1",
        "prop4-sharp",
        "prop5-amsgrad-beta1-0",
        "prop5-amsgrad-beta1-0.9",
        "fig6-left-loss",
        "fig6-mid-loss",
        "fig6-onset",
        "fig8-settle-lr0.8",
        "fig8-gamma-lr0.8",
        "fig1-left-trapped",
        "fig1-left-shrinks",
        "fig3-trapped-maximum",
        "fig3-slow-escape",
        "fig6-left-global",
        "fig6-mid-saddle-line",
        "fig7-trapped-maximum",
        "eq65-inside-minimum",
        "fig10-centred",
        "eq65-mode",
        "fig9-tail",
        "fig9-fokker-planck",
        "fig10-target",
    ] {
        assert!(ids.contains(id), "check {id} is present");
    }

    // Every figure exists as a valid SVG and PNG of the same size, and the page references
    // both; every CSV exists, has a header and data rows, and is referenced too.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // Self-contained: nothing loaded from elsewhere (the SVG namespace URI is not a load).
    for bad in [
        "src=\"http",
        "href=\"http",
        "<script",
        "url(http",
        "@import",
    ] {
        assert!(!html.contains(bad), "the page loads {bad}");
    }
    let figures = [
        "prop1", "fig1", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "eq65", "fig10",
    ];
    for f in figures {
        let svg = std::fs::read_to_string(out.join(format!("figures/{f}.svg"))).unwrap();
        let png = std::fs::read(out.join(format!("figures/{f}.png"))).unwrap();
        let (sw, sh) = svg_size(&svg);
        let (pw, ph) = png_size(&png);
        // The PNG is the same drawing at twice the size, for slides.
        assert_eq!(
            (2 * sw as u32, 2 * sh as u32),
            (pw, ph),
            "{f}: PNG twice the SVG"
        );
        assert!(
            html.contains(&format!("figures/{f}.svg")),
            "{f}.svg referenced"
        );
        assert!(
            html.contains(&format!("figures/{f}.png")),
            "{f}.png referenced"
        );
    }
    // The figures are inline too: one <svg per figure.
    assert_eq!(html.matches("<svg").count(), figures.len());
    let mut csvs = 0;
    for entry in std::fs::read_dir(out.join("data")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.lines().count() >= 2, "{name} has data");
        assert!(html.contains(&format!("data/{name}")), "{name} referenced");
        csvs += 1;
    }
    assert!(csvs >= figures.len());
    for c in checks {
        assert!(
            html.contains(c["id"].as_str().unwrap()),
            "check in the page"
        );
    }
    // Counts print as integers: prop2-phase counts cells in the wrong phase (0).
    let row = &html[html.find("<code>prop2-phase</code>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("<td class=\"num\">0</td>") && !row.contains("0.000"),
        "{row}"
    );
    assert!(!html.contains("Modified experiment files"));
}

#[test]
fn each_broken_experiment_file_fails_a_claim_of_its_section() {
    // tests/broken-experiments/SECTION/ holds files that break the paper's claim in section
    // SECTION (one changed line each, marked "broken"): the report must fail a claim check of
    // that section, not only an agreement check, exit 1 and say which file differs.
    let dir = tempdir();
    let mut seen = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(broken_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for case in entries {
        let section = case.file_name().unwrap().to_str().unwrap().to_string();
        let exp = experiments_copy(dir.path(), &format!("exp-{section}"), Some(&case));
        let out = dir.path().join(format!("out-{section}"));
        let r = saddle(
            dir.path(),
            &[
                "reproduce",
                "--scale",
                "quick",
                "--only",
                &section,
                "--experiments",
                exp.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "-q",
            ],
        );
        assert_eq!(r.code, Some(1), "{section}: {}", r.describe());
        let doc = json(&std::fs::read_to_string(out.join("checks.json")).unwrap());
        let failed_claims: Vec<&str> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["section"] == section.as_str() && c["kind"] == "claim")
            .filter(|c| c["pass"] == false)
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert!(
            !failed_claims.is_empty(),
            "{section}: no claim check fails: {}",
            r.describe()
        );
        for id in &failed_claims {
            assert!(
                r.stdout.contains(&format!("FAIL {id} (claim)")),
                "{}",
                r.describe()
            );
        }
        let broken: Vec<String> = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_str().unwrap().to_string())
            .collect();
        let modified = doc["modified_files"].as_array().unwrap();
        for b in &broken {
            assert!(
                modified.iter().any(|m| m["file"] == b.as_str()),
                "{section}: {b} listed as modified in {modified:?}"
            );
            assert!(r.stdout.contains(&format!("modified: {b}")));
        }
        let html = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(html.contains("Modified experiment files"), "{section}");
        seen.push(section);
    }
    assert!(seen.len() >= 10, "broken cases: {seen:?}");
}

#[test]
fn fig1_at_a_large_escape_rate_fails_its_claim_and_says_what_ran() {
    // The case: lr = 0.3 makes μ > 0. The claim ("every run is pulled into w = 0",
    // "γ̂ < 0") fails; the agreement with Prop. 2's exact law still holds; the page prints
    // the λ that ran.
    let dir = tempdir();
    let exp = experiments_copy(dir.path(), "exp", Some(&broken_dir().join("fig1")));
    let out = dir.path().join("out");
    let r = saddle(
        dir.path(),
        &[
            "reproduce",
            "--scale",
            "quick",
            "--only",
            "fig1",
            "--experiments",
            exp.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.describe());
    let doc = json(&std::fs::read_to_string(out.join("checks.json")).unwrap());
    let check = |id: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    for id in ["fig1-left-trapped", "fig1-left-shrinks"] {
        assert_eq!(check(id)["pass"], false, "{id}");
        assert_eq!(check(id)["kind"], "claim");
    }
    assert!(check("fig1-left-trapped")["measured"].as_f64().unwrap() > 0.9);
    assert!(check("fig1-left-shrinks")["measured"].as_f64().unwrap() > 0.0);
    for id in ["fig1-left-escape", "fig1-left-gamma"] {
        assert_eq!(check(id)["pass"], true, "{id}");
        assert_eq!(check(id)["kind"], "agreement");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("λ = 0.3"), "the λ run is printed");
    assert!(
        html.contains("optimizer.lr: 0.8 → 0.3"),
        "the change is named"
    );
    assert!(html.contains("predicts escape"));
}

#[test]
fn the_report_directory_holds_exactly_the_report() {
    let dir = tempdir();
    let out = dir.path().join("rep");
    let run = |only: &str| {
        saddle(
            dir.path(),
            &[
                "reproduce",
                "--scale",
                "quick",
                "--only",
                only,
                "--out",
                out.to_str().unwrap(),
                "-q",
            ],
        )
    };
    run("prop1,fig8").ok();
    assert!(out.join("figures/fig8.svg").exists() && out.join("data/fig8.csv").exists());
    // A file of the user's in the directory is left alone.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("figures/mine.svg"), "mine").unwrap();
    run("prop1").ok();
    for stale in ["figures/fig8.svg", "figures/fig8.png", "data/fig8.csv"] {
        assert!(!out.join(stale).exists(), "{stale} removed");
    }
    assert!(out.join("figures/prop1.svg").exists() && out.join("data/prop1.csv").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(out.join("figures/mine.svg").exists());
    let manifest = std::fs::read_to_string(out.join(".saddle-report")).unwrap();
    assert!(!manifest.contains("fig8") && manifest.contains("figures/prop1.svg"));
    // A non-empty directory that is not a report is refused, and nothing is written.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.tex"), "x").unwrap();
    saddle(
        dir.path(),
        &["reproduce", "--only", "prop1", "--out", "foreign", "-q"],
    )
    .assert_bad_input(&["--out", "foreign", "not empty"]);
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
    // A manifest cannot name files outside the report's own.
    std::fs::write(
        out.join(".saddle-report"),
        "# saddle reproduce: files written by this report\nnotes.txt\n../foreign/thesis.tex\n",
    )
    .unwrap();
    run("prop1").ok();
    assert!(out.join("notes.txt").exists() && foreign.join("thesis.tex").exists());
}

#[test]
fn help_lists_the_sections() {
    let dir = tempdir();
    let r = saddle(dir.path(), &["reproduce", "--help"]);
    let help = r.ok();
    for (id, title) in [
        ("prop1", "Prop. 1"),
        ("fig1", "Fig. 1: SGD converges to a local maximum"),
        ("fig3", "Fig. 3"),
        ("fig6", "Fig. 6"),
        ("eq65", "Eqs 63 and 65"),
        ("fig10", "Fig. 10"),
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(id) && l.contains(title)),
            "{id} in {help}"
        );
    }
}

#[test]
fn sections_can_be_chosen_and_the_built_in_files_serve_without_a_checkout() {
    // No experiments/ directory here: the copies built into the binary are used.
    let dir = tempdir();
    let r = saddle(
        dir.path(),
        &[
            "reproduce",
            "--scale",
            "quick",
            "--only",
            "prop1,fig8",
            "-q",
        ],
    );
    r.ok();
    assert!(r.stderr.is_empty(), "--quiet: {}", r.describe());
    let out = dir.path().join("saddle-report");
    let doc = json(&std::fs::read_to_string(out.join("checks.json")).unwrap());
    let sections: BTreeSet<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["section"].as_str().unwrap())
        .collect();
    assert_eq!(sections, BTreeSet::from(["fig8", "prop1"]));
    assert!(out.join("figures/fig8.png").exists() && !out.join("figures/fig1.png").exists());
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("built into this saddle binary"));
}

#[test]
fn bad_reproduce_arguments_exit_2() {
    let dir = tempdir();
    let r = saddle(
        dir.path(),
        &["reproduce", "--only", "prop1", "--scale", "quick", "-q"],
    );
    r.ok();
    assert!(r.stdout.contains(": 2 checks,") || r.stdout.contains(": 1 check,"));
    saddle(dir.path(), &["reproduce", "--only", "fig2"]).assert_bad_input(&[
        "--only",
        "fig2",
        "prop1, fig1, fig3",
    ]);
    saddle(dir.path(), &["reproduce", "--scale", "huge"]).assert_bad_input(&["--scale", "huge"]);
    saddle(dir.path(), &["reproduce", "--experiments", "no-such-dir"])
        .assert_bad_input(&["--experiments", "no-such-dir"]);
    saddle(dir.path(), &["reproduce", "--threads", "0"]).assert_bad_input(&["--threads"]);
    // A broken experiment file is named.
    let exp = dir.path().join("exp");
    std::fs::create_dir(&exp).unwrap();
    std::fs::write(exp.join("prop1.toml"), "name = \"prop1\"\nruns = -3\n").unwrap();
    saddle(
        dir.path(),
        &["reproduce", "--only", "prop1", "--experiments", "exp"],
    )
    .assert_bad_input(&["prop1.toml", "runs"]);
    // A missing one too.
    saddle(
        dir.path(),
        &["reproduce", "--only", "fig1", "--experiments", "exp"],
    )
    .assert_bad_input(&["fig1-left.toml"]);
}

#[test]
fn the_report_does_not_depend_on_the_thread_count() {
    let dir = tempdir();
    let exp = experiments_dir();
    let mut outs = Vec::new();
    for threads in ["1", "2", "3"] {
        let out = dir.path().join(format!("t{threads}"));
        saddle(
            dir.path(),
            &[
                "reproduce",
                "--scale",
                "quick",
                "--only",
                "fig1,fig3,fig9",
                "--threads",
                threads,
                "--out",
                out.to_str().unwrap(),
                "--experiments",
                exp.to_str().unwrap(),
                "-q",
            ],
        )
        .ok();
        outs.push(out);
    }
    for rel in [
        "checks.json",
        "data/fig1.csv",
        "data/fig3-left.csv",
        "data/fig3-right.csv",
        "data/fig9-tail.csv",
        "figures/fig3.svg",
    ] {
        let first = std::fs::read(outs[0].join(rel)).unwrap();
        for o in &outs[1..] {
            assert!(
                first == std::fs::read(o.join(rel)).unwrap(),
                "{rel} differs between thread counts"
            );
        }
    }
}
