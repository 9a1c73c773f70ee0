//! A path-aware reader over a TOML table: every error names the full key path, the bad value
//! and what is allowed. serde's derive gives good types but only generic messages ("invalid
//! type: string, expected f64") without the path or the allowed range, so experiment files are
//! read through this small layer instead.

use super::ConfigError;
use toml::{Table, Value};

/// Reads the keys of one TOML table, tracking its path for error messages.
pub struct Reader<'a> {
    pub path: String,
    pub table: &'a Table,
}

pub type R<T> = Result<T, ConfigError>;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// The most characters of a user-given text that a message echoes.
pub const ECHO_CHARS: usize = 60;

/// A user-given text as a message echoes it: whole up to [`ECHO_CHARS`] characters, else its
/// first [`ECHO_CHARS`] characters followed by `…(N bytes)`, so that a 100 KB value never
/// floods the terminal. Control characters are escaped.
pub fn echo(s: &str) -> String {
    let n = s.chars().count();
    let head: String = s.chars().take(ECHO_CHARS).collect();
    let head: String = head.chars().flat_map(char::escape_debug).collect();
    if n <= ECHO_CHARS {
        head
    } else {
        format!("{head}…({} bytes)", s.len())
    }
}

/// [`echo`] in double quotes: `"abc"`, `"aaaa…"…(100000 bytes)`.
pub fn echo_quoted(s: &str) -> String {
    if s.chars().count() <= ECHO_CHARS {
        format!("\"{}\"", echo(s))
    } else {
        let head: String = s.chars().take(ECHO_CHARS).collect();
        format!("\"{}…\"({} bytes)", echo(&head), s.len())
    }
}

/// A number exactly as given, compactly: the shortest text that reads back as the same `f64`,
/// in positional form for magnitudes in [1e-6, 1e6) and with an exponent beyond (`1e308`, not
/// 309 digits; `2.5e-7`). `nan`, `inf` and `-inf` as TOML writes them.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else if x == 0.0 || (1e-6..1e6).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A message with every decimal number of more than 20 digits (a float written by `{}`:
/// 10³⁰⁰ as 301 digits, 5·10⁻³²⁴ as 324 zeros) rewritten by [`num`]; the rest unchanged.
/// For messages built from library values that Rust's `Display` spells out in full.
pub fn compact_numbers(msg: &str) -> String {
    let b = msg.as_bytes();
    let mut out = String::with_capacity(msg.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
        {
            let start = i;
            let mut digits = 0;
            let mut dot = false;
            while i < b.len() && (b[i].is_ascii_digit() || (b[i] == b'.' && !dot)) {
                if b[i] == b'.' {
                    dot = true;
                } else {
                    digits += 1;
                }
                i += 1;
            }
            let token = &msg[start..i];
            // Part of a word (a hash, an identifier): left alone.
            let word = i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_');
            match token.parse::<f64>() {
                Ok(x) if digits > 20 && !word => out.push_str(&num(x)),
                _ => out.push_str(token),
            }
        } else {
            let c = msg[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// A number derived by arithmetic (a linspace point, a mean), for people: rounded to 10
/// significant digits, then as [`num`], so `1.2100000000000002` shows as `1.21` and
/// `0.11699999999999999` as `0.117`. Not for data files, which keep every digit.
pub fn display_num(x: f64) -> String {
    if !x.is_finite() {
        return num(x);
    }
    num(format!("{x:.9e}").parse().unwrap_or(x))
}

/// Render a value for a message, shortened: strings by [`echo_quoted`], numbers by [`num`],
/// arrays element by element (at most 8 shown).
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => echo_quoted(s),
        Value::Float(f) => num(*f),
        Value::Table(_) => "a table".into(),
        Value::Array(a) => {
            let mut items: Vec<String> = a.iter().take(8).map(show).collect();
            if a.len() > 8 {
                items.push(format!("… ({} items)", a.len()));
            }
            let joined = format!("[{}]", items.join(", "));
            if joined.chars().count() > 4 * ECHO_CHARS {
                format!("an array of {} items", a.len())
            } else {
                joined
            }
        }
        other => other.to_string(),
    }
}

/// The closest of `choices` to `given` (by Jaro–Winkler similarity, at least 0.7), for a
/// "did you mean" hint.
pub fn closest<'c>(given: &str, choices: &[&'c str]) -> Option<&'c str> {
    choices
        .iter()
        .map(|c| (strsim::jaro_winkler(given, c), *c))
        .filter(|(s, _)| *s >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Whether `s` is a whole number in decimal that does not fit an i64 (TOML's integers).
pub fn is_big_integer(s: &str) -> bool {
    let t = s.trim().trim_start_matches('+').replace('_', "");
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && t.parse::<i64>().is_err()
}

impl<'a> Reader<'a> {
    pub fn root(table: &'a Table) -> Self {
        Reader {
            path: String::new(),
            table,
        }
    }

    pub fn key(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.path)
        }
    }

    pub fn err<T>(&self, k: &str, msg: impl Into<String>) -> R<T> {
        Err(ConfigError::Invalid {
            path: self.key(k),
            msg: msg.into(),
        })
    }

    /// Reject keys not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> R<()> {
        for k in self.table.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = closest(k, allowed)
                    .map(|c| format!("; did you mean `{}`?", self.key(c)))
                    .unwrap_or_default();
                return Err(ConfigError::Invalid {
                    path: self.key(&echo(k)),
                    msg: format!("unknown key; allowed here: {}{hint}", allowed.join(", ")),
                });
            }
        }
        Ok(())
    }

    pub fn has(&self, k: &str) -> bool {
        self.table.contains_key(k)
    }

    fn num(&self, k: &str, v: &Value) -> R<f64> {
        let x = match v {
            Value::Integer(i) => *i as f64,
            Value::Float(f) => *f,
            other => return self.err(k, format!("expected a number, got {}", type_name(other))),
        };
        if !x.is_finite() {
            return self.err(k, format!("must be a finite number, got {}", num(x)));
        }
        Ok(x)
    }

    /// A non-negative integer. TOML integers are i64, so a file cannot hold a larger one (the
    /// parser rejects it); `--set` passes such a value on as a string, reported here as too
    /// large rather than wrapped.
    fn int(&self, k: &str, v: &Value) -> R<u64> {
        match v {
            Value::Integer(i) if *i >= 0 => Ok(*i as u64),
            Value::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15 => Ok(*f as u64),
            Value::Float(f) if f.fract() == 0.0 && *f >= 9.0e15 => self.err(
                k,
                format!(
                    "{} is too large (whole numbers written as floats must be below 9e15; \
                     write larger ones as integers)",
                    num(*f)
                ),
            ),
            Value::String(s) if is_big_integer(s) => self.err(
                k,
                format!("{} is too large (at most {})", echo(s.trim()), i64::MAX),
            ),
            other => self.err(
                k,
                format!("expected a non-negative integer, got {}", show(other)),
            ),
        }
    }

    pub fn f64(&self, k: &str) -> R<Option<f64>> {
        self.table.get(k).map(|v| self.num(k, v)).transpose()
    }

    pub fn f64_or(&self, k: &str, d: f64) -> R<f64> {
        Ok(self.f64(k)?.unwrap_or(d))
    }

    pub fn req_f64(&self, k: &str) -> R<f64> {
        self.f64(k)?
            .map_or_else(|| self.err(k, "missing (a number is required)"), Ok)
    }

    pub fn u64(&self, k: &str) -> R<Option<u64>> {
        self.table.get(k).map(|v| self.int(k, v)).transpose()
    }

    pub fn req_u64(&self, k: &str) -> R<u64> {
        self.u64(k)?
            .map_or_else(|| self.err(k, "missing (an integer is required)"), Ok)
    }

    pub fn bool_or(&self, k: &str, d: bool) -> R<bool> {
        match self.table.get(k) {
            None => Ok(d),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(o) => self.err(k, format!("expected true or false, got {}", show(o))),
        }
    }

    pub fn str(&self, k: &str) -> R<Option<&'a str>> {
        match self.table.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(o) => self.err(k, format!("expected a string, got {}", show(o))),
        }
    }

    /// A string that must be one of `choices`.
    pub fn choice(&self, k: &str, choices: &[&str], default: Option<&str>) -> R<String> {
        match (self.str(k)?, default) {
            (Some(s), _) if choices.contains(&s) => Ok(s.to_string()),
            (Some(s), _) => self.err(
                k,
                format!(
                    "unknown value {}; allowed: {}",
                    echo_quoted(s),
                    choices.join(", ")
                ),
            ),
            (None, Some(d)) => Ok(d.to_string()),
            (None, None) => self.err(k, format!("missing; allowed: {}", choices.join(", "))),
        }
    }

    /// A list of numbers (a single number is taken as a list of one).
    pub fn f64_list(&self, k: &str) -> R<Option<Vec<f64>>> {
        match self.table.get(k) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| self.num(&format!("{k}[{i}]"), v))
                .collect::<R<Vec<_>>>()
                .map(Some),
            Some(v) => Ok(Some(vec![self.num(k, v)?])),
        }
    }

    /// A list of non-negative integers (a single one is taken as a list of one).
    pub fn u64_list(&self, k: &str) -> R<Option<Vec<u64>>> {
        match self.table.get(k) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| self.int(&format!("{k}[{i}]"), v))
                .collect::<R<Vec<_>>>()
                .map(Some),
            Some(v) => Ok(Some(vec![self.int(k, v)?])),
        }
    }

    /// A sub-table (absent = empty).
    pub fn table(&self, k: &str, empty: &'a Table) -> R<Reader<'a>> {
        match self.table.get(k) {
            None => Ok(Reader {
                path: self.key(k),
                table: empty,
            }),
            Some(Value::Table(t)) => Ok(Reader {
                path: self.key(k),
                table: t,
            }),
            Some(o) => self.err(k, format!("expected a table, got {}", type_name(o))),
        }
    }

    /// A required sub-table.
    pub fn req_table(&self, k: &str) -> R<Reader<'a>> {
        match self.table.get(k) {
            None => self.err(k, "missing table"),
            Some(Value::Table(t)) => Ok(Reader {
                path: self.key(k),
                table: t,
            }),
            Some(o) => self.err(k, format!("expected a table, got {}", type_name(o))),
        }
    }

    /// An array of tables (`[[k]]`); a single table is taken as an array of one.
    pub fn tables(&self, k: &str) -> R<Vec<Reader<'a>>> {
        match self.table.get(k) {
            None => Ok(vec![]),
            Some(Value::Table(t)) => Ok(vec![Reader {
                path: self.key(k),
                table: t,
            }]),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Table(t) => Ok(Reader {
                        path: format!("{}[{i}]", self.key(k)),
                        table: t,
                    }),
                    o => self.err(
                        &format!("{k}[{i}]"),
                        format!("expected a table, got {}", type_name(o)),
                    ),
                })
                .collect(),
            Some(o) => self.err(
                k,
                format!("expected an array of tables, got {}", type_name(o)),
            ),
        }
    }
}
