//! The layering of `docs/architecture.md` holds in the code: every `crate::…` path in a module
//! of the library names a module of its own layer or a lower one, and the modules' imports
//! have no cycle. Read from the sources, so a new import that breaks the layering fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, from the bottom (docs/architecture.md).
const LAYERS: &[&[&str]] = &[
    &["rng", "vector", "stats", "flush", "numeric"],
    &["noise"],
    &["model"],
    &["optimizer", "sde", "exact", "observe", "rules"],
    &["ensemble"],
    &["config", "sweep"],
    &["theory"],
    &["plan", "backend", "experiment", "analysis"],
];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer of docs/architecture.md"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules named by `crate::NAME` in code (comments left out).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let name: String = rest[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name.chars().next().unwrap().is_ascii_lowercase() {
                out.insert(name);
            }
            rest = &rest[i + 7..];
        }
    }
    out
}

#[test]
fn modules_import_only_from_their_layer_or_below_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = vec![];
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for m in imports(&text) {
            if m == module || m == "VERSION" {
                continue;
            }
            if layer(&m) > layer(&module) {
                wrong.push(format!(
                    "{}: `{module}` (layer {}) imports `{m}` (layer {})",
                    rel.display(),
                    layer(&module),
                    layer(&m)
                ));
            }
            graph.entry(module.clone()).or_default().insert(m);
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
    // No cycles: a depth-first search finds no edge back to a module on the current path.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} -> {m}", path[i..].join(" -> "));
        }
        path.push(m.to_string());
        for n in graph.get(m).into_iter().flatten() {
            visit(n, graph, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut vec![], &mut done);
    }
}

/// The scan sees the imports it must: it is not vacuous.
#[test]
fn the_import_scan_finds_imports() {
    let found = imports(
        "use crate::rules::{Rules};\n// crate::theory in a comment\nlet x = crate::numeric::f();",
    );
    assert_eq!(
        found,
        BTreeSet::from(["numeric".to_string(), "rules".to_string()])
    );
    assert!(layer("theory") > layer("numeric"));
}
