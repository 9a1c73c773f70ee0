//! The report page: one self-contained HTML file, figures inline as SVG, no scripts and no
//! network access.

use crate::checks::{Check, Kind};
use crate::sections::num;
use crate::{plural, Options, Report, ReproduceError, Section};
use std::fmt::Write;
use std::path::Path;

/// Escape text for HTML.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; max-width: 1300px;
       margin: 2em auto; padding: 0 1.5em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2.2em; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-family: 'DejaVu Sans Mono', monospace; white-space: nowrap; }
.pass { color: #fff; background: #1a7f37; font-weight: bold; text-align: center; }
.fail { color: #fff; background: #cf222e; font-weight: bold; text-align: center; }
.banner { padding: 0.6em 1em; border-radius: 4px; font-weight: bold; }
.banner.pass { text-align: left; }
.banner.fail { text-align: left; }
.banner.modified { background: #fff3cd; color: #5c4400; border: 1px solid #e0b000; }
figure { margin: 1em 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #444; font-size: 0.92em; margin-top: 0.4em; }
.claim { background: #f6f8fa; border-left: 4px solid #0072B2; padding: 0.5em 1em; }
.detail { color: #555; font-size: 0.85em; }
ul.params { font-family: 'DejaVu Sans Mono', monospace; font-size: 0.85em; }
";

fn verdict(pass: bool) -> &'static str {
    if pass {
        "<td class=\"pass\">pass</td>"
    } else {
        "<td class=\"fail\">FAIL</td>"
    }
}

/// A value of a check: an integer for counts, else [`num`]; empty when absent.
fn value(c: &Check, x: Option<f64>) -> String {
    match x {
        None => String::new(),
        Some(x) if c.is_count() && x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => num(x),
    }
}

fn check_rows(out: &mut String, checks: &[&Check], full: bool) {
    for c in checks {
        let _ = write!(
            out,
            "<tr><td><a href=\"#{sec}\"><code>{id}</code></a></td><td>{kind}</td><td>{claim}",
            sec = esc(&c.section),
            id = esc(&c.id),
            kind = c.kind.name(),
            claim = esc(&c.claim)
        );
        if full {
            let _ = write!(
                out,
                "<div class=\"detail\">{} — {}</div>",
                esc(c.rule.formula()),
                esc(&c.detail)
            );
        }
        let test = match (c.p_value, c.level) {
            (Some(p), Some(l)) => format!("p = {} ≥ {}?", num(p), num(l)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "</td><td>{r}</td><td class=\"num\">{t}</td><td class=\"num\">{m}</td>\
             <td class=\"num\">{u}</td><td class=\"num\">{tol}</td><td class=\"num\">{test}</td>\
             <td>{unit}</td>{v}</tr>",
            r = esc(&c.reference),
            t = value(c, c.theory),
            m = value(c, Some(c.measured)),
            u = c
                .uncertainty
                .map_or(String::new(), |u| format!("± {}", num(u))),
            tol = value(c, c.tolerance),
            test = esc(&test),
            unit = esc(&c.unit),
            v = verdict(c.pass)
        );
    }
}

const HEAD: &str = "<tr><th>check</th><th>kind</th><th>claim</th><th>paper</th>\
                    <th>theory</th><th>measured</th><th>uncertainty (SE)</th>\
                    <th>tolerance</th><th>p-value ≥ level</th><th>unit</th><th>verdict</th></tr>";

fn section_html(
    out: &mut String,
    s: &Section,
    dir: &Path,
    modified: &[(String, Vec<String>)],
) -> Result<(), ReproduceError> {
    let changed: Vec<&str> = s
        .experiments
        .iter()
        .filter(|f| modified.iter().any(|(m, _)| m == *f))
        .map(String::as_str)
        .collect();
    let _ = writeln!(
        out,
        "<h2 id=\"{}\">{}{}</h2>",
        esc(&s.id),
        esc(&s.title),
        if changed.is_empty() {
            String::new()
        } else {
            format!(" <small>(modified: {})</small>", esc(&changed.join(", ")))
        }
    );
    let _ = writeln!(out, "<p class=\"claim\">{}</p>", esc(&s.claim));
    let _ = writeln!(out, "<p>Parameters:</p><ul class=\"params\">");
    for p in &s.parameters {
        let _ = writeln!(out, "<li>{}</li>", esc(p));
    }
    let _ = writeln!(out, "</ul>");
    if let Some(f) = &s.figure {
        let path = dir.join("figures").join(format!("{f}.svg"));
        let svg = std::fs::read_to_string(&path).map_err(|e| ReproduceError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let svg = svg
            .trim_start()
            .strip_prefix("<?xml")
            .and_then(|r| r.find("?>").map(|i| &r[i + 2..]))
            .unwrap_or(&svg);
        let _ = writeln!(
            out,
            "<figure>{svg}<figcaption>{cap} Files: <a href=\"figures/{f}.svg\">figures/{f}.svg</a>, \
             <a href=\"figures/{f}.png\">figures/{f}.png</a>.</figcaption></figure>",
            cap = esc(&s.caption),
            f = esc(f)
        );
    }
    if !s.data.is_empty() {
        let links: Vec<String> = s
            .data
            .iter()
            .map(|d| format!("<a href=\"data/{0}\">data/{0}</a>", esc(d)))
            .collect();
        let _ = writeln!(out, "<p>Data: {}.</p>", links.join(", "));
    }
    for n in &s.notes {
        let _ = writeln!(out, "<p><em>Note.</em> {}</p>", esc(n));
    }
    let _ = writeln!(out, "<table>{HEAD}");
    let checks: Vec<&Check> = s.checks.iter().collect();
    check_rows(out, &checks, true);
    let _ = writeln!(
        out,
        "</table><p class=\"detail\">Experiments: {}. Section time {:.2} s.</p>",
        esc(&s.experiments.join(", ")),
        s.seconds
    );
    Ok(())
}

/// The whole page.
pub(crate) fn page(report: &Report, opts: &Options, dir: &Path) -> Result<String, ReproduceError> {
    let checks: Vec<&Check> = report.checks().collect();
    let failed = checks.iter().filter(|c| !c.pass).count();
    let claims = checks.iter().filter(|c| c.kind == Kind::Claim).count();
    let claims_failed = checks
        .iter()
        .filter(|c| c.kind == Kind::Claim && !c.pass)
        .count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>saddle report: SGD May Never Escape Saddle Points</title><style>{STYLE}</style>\
         </head><body>"
    );
    let _ = writeln!(
        out,
        "<h1>SGD May Never Escape Saddle Points: the paper, reproduced</h1>\
         <p class=\"meta\">Ziyin, Li, Simon, Ueda (2021), also titled <em>SGD with a Constant \
         Large Learning Rate Can Converge to Local Maxima</em>. Report by saddle {ver}, scale \
         <b>{scale}</b>, {threads} threads, run time {secs:.1} s, from {src}. Seeds are those of \
         the experiment files; the same seeds give the same numbers, whatever the thread \
         count.</p>",
        ver = env!("CARGO_PKG_VERSION"),
        scale = opts.scale.name(),
        threads = opts.threads,
        secs = report.seconds,
        src = esc(&report.source)
    );
    let _ = writeln!(
        out,
        "<p class=\"banner {cls}\">{msg}</p>",
        cls = if failed == 0 { "pass" } else { "fail" },
        msg = {
            let split = format!(
                "{} of the paper, {} of measurement and theory",
                plural(claims, "claim"),
                plural(checks.len() - claims, "agreement")
            );
            if failed == 0 && checks.len() == 1 {
                format!("The one check passes ({split}).")
            } else if failed == 0 {
                format!("All {} pass ({split}).", plural(checks.len(), "check"))
            } else {
                format!(
                    "{failed} of {} fail{}: {} of {}, {} of {}.",
                    plural(checks.len(), "check"),
                    if failed == 1 { "s" } else { "" },
                    claims_failed,
                    plural(claims, "claim"),
                    failed - claims_failed,
                    plural(checks.len() - claims, "agreement")
                )
            }
        }
    );
    if !report.modified.is_empty() {
        let _ = writeln!(
            out,
            "<div class=\"banner modified\" id=\"modified\"><p>Modified experiment files: these differ from the \
             copies shipped with saddle {}, so this report does not show the paper's settings. \
             The claims are still the paper's, checked on what was run.</p><ul>",
            env!("CARGO_PKG_VERSION")
        );
        for (f, changes) in &report.modified {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(f),
                esc(&changes.join("; "))
            );
        }
        let _ = writeln!(out, "</ul></div>");
    }
    let _ = writeln!(
        out,
        "<p>Each check is of one of two kinds. A <b>claim</b> check tests the paper's statement \
         itself on the runs (e.g. \"SGD converges to the maximum\": almost no run escapes and \
         γ̂ &lt; 0); an <b>agreement</b> check compares the measurement with the theory's value \
         for the parameters run, and can pass where the claim fails. Every statistical check \
         is a test at false-alarm level 10⁻³ (two-sided, Bonferroni over the comparisons one \
         check makes); tolerances come from standard errors, exact sampling laws or the \
         paper's own numbers, as each check's detail says. Counts are integers; the unit \
         column gives the unit of theory, measured, uncertainty and tolerance. \
         <a href=\"checks.json\">checks.json</a> holds the same table.</p>"
    );
    let _ = writeln!(out, "<h2 id=\"summary\">Summary</h2><table>{HEAD}");
    check_rows(&mut out, &checks, false);
    let _ = writeln!(out, "</table><p>Sections: ");
    let links: Vec<String> = report
        .sections
        .iter()
        .map(|s| format!("<a href=\"#{}\">{}</a>", esc(&s.id), esc(&s.title)))
        .collect();
    let _ = writeln!(out, "{}.</p>", links.join(" · "));
    for s in &report.sections {
        section_html(&mut out, s, dir, &report.modified)?;
    }
    let _ = writeln!(out, "</body></html>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("a < b & \"c\" > d"),
            "a &lt; b &amp; &quot;c&quot; &gt; d"
        );
    }
}
