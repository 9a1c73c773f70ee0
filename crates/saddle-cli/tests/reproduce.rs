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
    for k in ["id", "section", "claim", "ref", "rule", "detail"] {
        assert!(o[k].is_string(), "{k} is a string in {c}");
    }
    for k in ["theory", "measured", "tolerance"] {
        assert!(o[k].is_number(), "{k} is a number in {c}");
    }
    assert!(
        o["uncertainty"].is_number() || o["uncertainty"].is_null(),
        "uncertainty is a number or null in {c}"
    );
    assert!(o["pass"].is_boolean());
    assert!(["within", "at-most", "at-least"].contains(&o["rule"].as_str().unwrap()));
    assert_eq!(o.len(), 11, "no unexpected fields in {c}");
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
        assert_eq!((sw as u32, sh as u32), (pw, ph), "{f}: SVG and PNG sizes");
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
