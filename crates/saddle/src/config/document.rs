//! Experiment documents as TOML: parsing text into a table (with shortened messages for long
//! lines), `--set` overrides by dotted path, and writing a table back with floats in their
//! shortest round-trip form.

use super::reader::{echo, show, ECHO_CHARS};
use super::ConfigError;
use toml::{Table, Value};

/// Write a table as TOML. The `toml` crate writes floats in positional notation (1e50 as a
/// 51-digit literal); this writer uses the shortest round-trip form with an exponent where
/// that is shorter, which TOML accepts as well.
pub(crate) fn emit_table(t: &Table, prefix: &str, out: &mut String) {
    use std::fmt::Write as _;
    let path = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    let is_tables =
        |v: &Value| matches!(v, Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_table));
    for (k, v) in t {
        if !v.is_table() && !is_tables(v) {
            let _ = writeln!(out, "{k} = {}", emit_value(v));
        }
    }
    for (k, v) in t {
        if let Value::Table(sub) = v {
            let _ = writeln!(out, "\n[{}]", path(k));
            emit_table(sub, &path(k), out);
        }
    }
    for (k, v) in t {
        if let (true, Value::Array(items)) = (is_tables(v), v) {
            for item in items {
                let _ = writeln!(out, "\n[[{}]]", path(k));
                emit_table(item.as_table().expect("checked"), &path(k), out);
            }
        }
    }
}

fn emit_value(v: &Value) -> String {
    match v {
        Value::Float(f) if f.is_nan() => "nan".into(),
        Value::Float(f) => format!("{f:?}"),
        Value::Array(a) => {
            format!(
                "[{}]",
                a.iter().map(emit_value).collect::<Vec<_>>().join(", ")
            )
        }
        Value::Table(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", emit_value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A validated count or seed as a TOML integer. Validation keeps them at most i64::MAX (a TOML
/// file cannot hold more), so the saturation never happens; it only rules out wrapping.
pub(crate) fn int(x: u64) -> Value {
    Value::Integer(i64::try_from(x).unwrap_or(i64::MAX))
}
pub(crate) fn floats(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|x| Value::Float(*x)).collect())
}
pub(crate) fn ints(v: &[u64]) -> Value {
    Value::Array(v.iter().map(|x| int(*x)).collect())
}

/// Parse TOML text into a table. The error is the parser's own message (line, column, the
/// line with a caret), except that a line longer than 200 characters is shown as the
/// [`ECHO_CHARS`] characters on each side of the error.
pub fn parse_table(text: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| {
        let full = e.to_string().trim_end().to_string();
        if full.lines().all(|l| l.chars().count() <= 200) {
            return ConfigError::Syntax(full);
        }
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line_no = text[..at].matches('\n').count() + 1;
        let before: Vec<char> = text[line_start..at].chars().collect();
        let column = before.len() + 1;
        let shown_before: String = before[before.len().saturating_sub(ECHO_CHARS)..]
            .iter()
            .collect();
        let after: String = text[at..line_end].chars().take(ECHO_CHARS).collect();
        let lead = if before.len() > ECHO_CHARS { "…" } else { "" };
        let tail = if text[at..line_end].chars().count() > ECHO_CHARS {
            "…"
        } else {
            ""
        };
        ConfigError::Syntax(format!(
            "TOML parse error at line {line_no}, column {column}: {}\n  {lead}{shown_before}{after}{tail}\n  {}^",
            e.message().trim_end(),
            " ".repeat(lead.chars().count() + shown_before.chars().count())
        ))
    })
}

/// Set `path` (dot-separated) to `value` in `t`, creating tables on the way.
pub fn set_path(t: &mut Table, path: &str, value: Value) -> Result<(), ConfigError> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::Invalid {
            path: path.into(),
            msg: "empty key in path".into(),
        });
    }
    let mut cur = t;
    for (i, p) in parts[..parts.len() - 1].iter().enumerate() {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(t) => t,
            other => {
                return Err(ConfigError::Invalid {
                    path: parts[..=i].join("."),
                    msg: format!(
                        "is {}, not a table, so `{}` cannot be set",
                        show(other),
                        echo(path)
                    ),
                })
            }
        };
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// Parse an override `path=value`: the value is read as a TOML value (number, boolean,
/// array, quoted string) and, failing that, taken as a bare string.
pub fn parse_override(s: &str) -> Result<(String, Value), ConfigError> {
    let (path, raw) = s
        .split_once('=')
        .ok_or_else(|| ConfigError::Override(s.into()))?;
    let (path, raw) = (path.trim(), raw.trim());
    if path.is_empty() || raw.is_empty() {
        return Err(ConfigError::Override(s.into()));
    }
    let value = format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()));
    Ok((path.to_string(), value))
}
