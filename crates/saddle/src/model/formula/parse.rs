//! Parsing a formula: the tokenizer and grammar that locate errors and reject ambiguous forms,
//! the tape built from the tokens, and exmex's parser as a last check.

use exmex::prelude::*;
use exmex::{FloatOpsFactory, MakeOperators};

use super::{ad, FormulaError, FormulaSpec, Slot, MAX_DEPTH, MAX_LEN, MAX_PARAMS};

/// Stack size for parsing. exmex's parser recurses once per nesting level: measured with
/// exmex 0.21 in an optimised build, 800 nested `cos(…)` need between 128 KiB and 512 KiB;
/// an unoptimised build needs several times more. Only the pages used are committed.
const PARSE_STACK: usize = 512 << 20;

/// Functions and operators that have no derivative.
const NO_DERIVATIVE: [&str; 11] = [
    "abs", "signum", "floor", "round", "ceil", "trunc", "fract", "cbrt", "min", "max", "atan2",
];

pub(super) type Expr = FlatEx<f64>;

impl FormulaSpec {
    /// Parses `expr` as a loss in `w1..w{params}`, `x` and `y`, and prepares its gradient.
    ///
    /// # Errors
    ///
    /// [`FormulaError::BadParams`] unless `1 <= params <= 8`; [`FormulaError::Parse`] for a
    /// malformed string or an ambiguous form, with the position of the problem;
    /// [`FormulaError::UnknownVariable`] for a variable outside `w1..w{params}, x, y`;
    /// [`FormulaError::Differentiate`] when it uses a function without a derivative and a
    /// parameter; [`FormulaError::TooLarge`] beyond [`MAX_LEN`] characters or [`MAX_DEPTH`]
    /// nesting levels.
    pub fn parse(expr: &str, params: usize) -> Result<FormulaSpec, FormulaError> {
        if !(1..=MAX_PARAMS).contains(&params) {
            return Err(FormulaError::BadParams { params });
        }
        let len = expr.chars().count();
        if len > MAX_LEN {
            return Err(FormulaError::TooLarge {
                what: "length in characters",
                size: len,
                limit: MAX_LEN,
            });
        }
        on_big_stack(|| Self::parse_inner(expr, params))
    }

    fn parse_inner(expr: &str, params: usize) -> Result<FormulaSpec, FormulaError> {
        // exmex only skips ' '; tabs and newlines would be "unknown characters". Replacing each
        // whitespace char by one space keeps `char` positions unchanged.
        let text: String = expr
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let n_chars = text.chars().count();
        let parse_error = |d: Diag| {
            let message = render(
                &format!("cannot parse formula: {}", d.reason),
                &text,
                d.position,
            );
            FormulaError::Parse {
                reason: d.reason,
                position: d.position,
                message,
            }
        };

        let tokens = tokenize(&text).map_err(parse_error)?;
        let analysis = analyze(&tokens);
        // The grammar accepts a subset of what exmex accepts (exmex also takes oddities such as
        // `*2 x`), so its verdict comes first; exmex's own message is the last resort.
        if let Some(d) = analysis.syntax.or(analysis.ambiguity) {
            return Err(parse_error(d));
        }
        // Map variable names to (w index, x, y); reject unknown names, reporting the one that
        // occurs first in the string.
        let slot_of = |name: &str| -> Option<Slot> {
            match name {
                "x" => Some(Slot::X),
                "y" => Some(Slot::Y),
                _ => {
                    let i: usize = name.strip_prefix('w')?.parse().ok()?;
                    // `w01` parses as 1 but is not the canonical name.
                    if name == format!("w{i}") && (1..=params).contains(&i) {
                        Some(Slot::W(i - 1))
                    } else {
                        None
                    }
                }
            }
        };
        let unknown_variable = |name: &str, position: usize| {
            let allowed: Vec<String> = (1..=params)
                .map(|i| format!("w{i}"))
                .chain(["x".to_string(), "y".to_string()])
                .collect();
            let message = render(
                &format!(
                    "unknown variable `{}` in formula (allowed: {})",
                    shorten(name),
                    allowed.join(", ")
                ),
                &text,
                position,
            );
            FormulaError::UnknownVariable {
                name: name.to_string(),
                allowed,
                position,
                message,
            }
        };
        let mut occurs = [false; MAX_PARAMS];
        for t in tokens.iter().filter(|t| t.kind == Kind::Var) {
            match slot_of(t.name) {
                Some(Slot::W(i)) => occurs[i] = true,
                Some(_) => {}
                None => return Err(unknown_variable(t.name, t.pos)),
            }
        }
        // A function without a derivative, anywhere, when there is something to differentiate.
        if let Some(first) = occurs.iter().position(|&o| o) {
            if let Some(t) = tokens.iter().find(|t| {
                matches!(t.kind, Kind::Unary | Kind::Bin) && NO_DERIVATIVE.contains(&t.name)
            }) {
                return Err(FormulaError::Differentiate {
                    param: first + 1,
                    reason: format!("`{}` (at character {}) has no derivative", t.name, t.pos),
                });
            }
        }
        let tape = ad::Tape::build(&tokens, slot_of, MAX_DEPTH).map_err(
            |ad::BuildError::TooDeep { depth }| FormulaError::TooLarge {
                what: "nesting depth",
                size: depth,
                limit: MAX_DEPTH,
            },
        )?;

        // exmex's parser as a last check: the grammar accepts a subset of its language
        // (tested), so this only fails if that ever stops holding. exmex no longer evaluates
        // the formula: exmex 0.21 misreads some formulas, e.g. `cos(w1*3*3/11)` as
        // `w1*cos(3*3/11)` (it reorders `3*3` and the function follows the reordered operator).
        let parsed = Expr::parse(&text).map_err(|e| {
            parse_error(Diag {
                position: n_chars,
                reason: e.msg().to_string(),
            })
        })?;
        // The tokenizer mirrors exmex's, so exmex knows no other names; should it ever, the
        // name is reported without a position.
        if let Some(name) = parsed.var_names().iter().find(|n| slot_of(n).is_none()) {
            return Err(unknown_variable(name, 0));
        }
        let uses = |name: &str| tokens.iter().any(|t| t.kind == Kind::Var && t.name == name);
        let (uses_x, uses_y) = (uses("x"), uses("y"));

        let mut spec = FormulaSpec {
            text: expr.to_string(),
            params,
            tape,
            occurs,
            uses_x,
            uses_y,
            origin_fixed: false,
        };
        spec.origin_fixed = spec.probe_origin();
        Ok(spec)
    }
}

/// Runs `f` on a thread with a [`PARSE_STACK`]-byte stack (or inline if that thread cannot be
/// created), returning its result and propagating its panics.
fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let job = std::sync::Mutex::new(Some(f));
    let run = || (job.lock().unwrap().take().expect("runs once"))();
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("formula-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(s, run)
        {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => run(),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Error positions. exmex's parse errors carry no position, so the formula is tokenized here the
// way exmex tokenizes it (same operator table, same number and name rules) and checked with a
// small grammar; the first token where that check fails is the position reported. The same pass
// finds the two forms exmex reads unconventionally (`-a^b`, `a^b^c`).
// ---------------------------------------------------------------------------------------------

/// A problem found at a `char` position.
#[derive(Debug)]
pub(super) struct Diag {
    position: usize,
    reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A number literal or a named constant (`PI`, `e`, …).
    Num,
    Var,
    Open,
    Close,
    Comma,
    /// Binary only: `^ * /`, `atan2 min max`.
    Bin,
    /// Binary or unary: `+ -`.
    BinUnary,
    /// A function: `sin`, `exp`, ….
    Unary,
}

#[derive(Debug)]
pub(super) struct Token<'a> {
    pub(super) kind: Kind,
    /// 0-based `char` index.
    pub(super) pos: usize,
    /// The token's text; for a braced variable `{w1}`, its name `w1`.
    pub(super) name: &'a str,
}

/// Can `c` start a variable name (exmex: `[a-zA-Zα-ωΑ-Ω_]`)?
fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || ('α'..='ω').contains(&c) || ('Α'..='Ω').contains(&c)
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

/// Splits `text` into tokens exactly as exmex 0.21 does (`parser::tokenize_and_analyze`),
/// except that it also rejects an unclosed or empty `{…}` (exmex silently accepts `{x`).
pub(super) fn tokenize(text: &str) -> Result<Vec<Token<'_>>, Diag> {
    // exmex tries the operators in reverse alphabetical order of their representation, so
    // that e.g. `log2` wins over `log`.
    let mut ops: Vec<(&'static str, Kind)> = FloatOpsFactory::<f64>::make()
        .iter()
        .map(|op| {
            let kind = if op.constant().is_some() {
                Kind::Num
            } else if op.has_bin() && op.has_unary() {
                Kind::BinUnary
            } else if op.has_bin() {
                Kind::Bin
            } else {
                Kind::Unary
            };
            (op.repr(), kind)
        })
        .collect();
    ops.sort_unstable_by(|a, b| b.0.cmp(a.0));

    let mut tokens = Vec::new();
    let mut byte = 0;
    let mut pos = 0;
    while let Some(c) = text[byte..].chars().next() {
        let rest = &text[byte..];
        let (kind, len, name) = if c == ' ' {
            byte += 1;
            pos += 1;
            continue;
        } else if c == '(' {
            (Kind::Open, 1, "(")
        } else if c == ')' {
            (Kind::Close, 1, ")")
        } else if c == ',' {
            (Kind::Comma, 1, ",")
        } else if c == '{' {
            let Some(end) = rest.find('}') else {
                return Err(Diag {
                    position: pos,
                    reason: "`{` without a matching `}`".into(),
                });
            };
            if end == 1 {
                return Err(Diag {
                    position: pos,
                    reason: "empty variable name `{}`".into(),
                });
            }
            (Kind::Var, end + 1, &rest[1..end])
        } else if c.is_ascii_digit() || c == '.' {
            // exmex: the longest run of digits and dots is a number if it has at most one dot
            // and is not a lone dot.
            let run = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let dots = rest[..run].matches('.').count();
            if dots > 1 || rest[..run] == *"." {
                return Err(Diag {
                    position: pos,
                    reason: format!("malformed number `{}`", &rest[..run]),
                });
            }
            (Kind::Num, run, &rest[..run])
        } else if let Some(&(repr, kind)) = ops.iter().find(|(repr, kind)| {
            rest.starts_with(repr)
                && (matches!(kind, Kind::Bin | Kind::BinUnary)
                    || !rest[repr.len()..].starts_with(is_name_char))
        }) {
            (kind, repr.len(), repr)
        } else if is_name_start(c) {
            let len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            (Kind::Var, len, &rest[..len])
        } else {
            return Err(Diag {
                position: pos,
                reason: format!("unexpected character `{c}`"),
            });
        };
        tokens.push(Token { kind, pos, name });
        pos += text[byte..byte + len].chars().count();
        byte += len;
    }
    Ok(tokens)
}

/// The findings of [`analyze`]: the first syntax error and the first ambiguous form.
pub(super) struct Analysis {
    pub(super) syntax: Option<Diag>,
    ambiguity: Option<Diag>,
}

/// Bookkeeping for one parenthesis level.
#[derive(Clone, Copy, Default)]
struct Level {
    /// Position of a unary `-` in front of the operand being read.
    neg: Option<usize>,
    /// Position of such a `-` whose operand has just been completed.
    neg_done: Option<usize>,
    /// The operand being read (or just read) is the exponent of a `^`.
    in_exponent: bool,
}

/// An open parenthesis: where, whether it is `min(`-style call syntax (and then whether its
/// comma was seen), and the enclosing level's state.
struct Frame<'a> {
    pos: usize,
    call: Option<(&'a str, bool)>,
    outer: Level,
}

/// Checks the token sequence with the grammar
/// `expr := unary* (number | variable | '(' expr ')' | binfn '(' expr ',' expr ')') (binop expr)?`
/// and reports the first token where it fails, plus the first `-a^b` or `a^b^c`. The grammar
/// accepts a subset of exmex's language (tested), so a formula it accepts is also parsed by
/// exmex, and one exmex rejects gets a position here.
pub(super) fn analyze(tokens: &[Token<'_>]) -> Analysis {
    let mut out = Analysis {
        syntax: None,
        ambiguity: None,
    };
    let mut ambiguous = |position: usize, reason: String| {
        out.ambiguity.get_or_insert(Diag { position, reason });
    };
    let syntax = |position: usize, reason: String| Some(Diag { position, reason });

    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut level = Level::default();
    let mut expect_operand = true;
    let mut i = 0;
    let result = loop {
        let Some(t) = tokens.get(i) else {
            break if expect_operand {
                match tokens.last() {
                    None => syntax(0, "empty formula".into()),
                    Some(last) => syntax(
                        last.pos,
                        format!(
                            "the formula ends after `{}`, where an operand is expected",
                            last.name
                        ),
                    ),
                }
            } else if let Some(f) = stack.last() {
                syntax(f.pos, "`(` is never closed".into())
            } else {
                None
            };
        };
        if expect_operand {
            match t.kind {
                Kind::Num | Kind::Var => {
                    expect_operand = false;
                    level.neg_done = level.neg.take();
                }
                Kind::Open => {
                    stack.push(Frame {
                        pos: t.pos,
                        call: None,
                        outer: level,
                    });
                    level = Level::default();
                }
                Kind::BinUnary | Kind::Unary => {
                    if t.name == "-" && level.neg.is_none() {
                        level.neg = Some(t.pos);
                    }
                }
                Kind::Bin if tokens.get(i + 1).is_some_and(|n| n.kind == Kind::Open) => {
                    // `min(a, b)`: function-call syntax of a binary operator.
                    stack.push(Frame {
                        pos: tokens[i + 1].pos,
                        call: Some((t.name, false)),
                        outer: level,
                    });
                    level = Level::default();
                    i += 1;
                }
                Kind::Bin => {
                    break syntax(
                        t.pos,
                        format!(
                            "expected a number, a variable, `(` or a function, found operator `{}`",
                            t.name
                        ),
                    )
                }
                Kind::Close | Kind::Comma => {
                    break syntax(t.pos, format!("expected an operand before `{}`", t.name))
                }
            }
        } else {
            let neg_done = level.neg_done.take();
            match t.kind {
                Kind::Bin | Kind::BinUnary => {
                    if t.name == "^" {
                        if let Some(p) = neg_done {
                            ambiguous(
                                p,
                                "ambiguous unary minus before `^`: exmex reads `-a^b` as `(-a)^b`; \
                                 write `-(a^b)` or `(-a)^b`"
                                    .into(),
                            );
                        }
                        if level.in_exponent {
                            ambiguous(
                                t.pos,
                                "ambiguous chained power: exmex reads `a^b^c` as `(a^b)^c`; \
                                 write `(a^b)^c` or `a^(b^c)`"
                                    .into(),
                            );
                        }
                        level.in_exponent = true;
                    } else {
                        level.in_exponent = false;
                    }
                    expect_operand = true;
                }
                Kind::Close => {
                    let Some(f) = stack.pop() else {
                        break syntax(t.pos, "`)` without a matching `(`".into());
                    };
                    if let Some((op, false)) = f.call {
                        break syntax(
                            t.pos,
                            format!("`{op}(a, b)` needs two arguments separated by `,`"),
                        );
                    }
                    level = f.outer;
                    level.neg_done = level.neg.take();
                }
                Kind::Comma => match stack.last_mut() {
                    Some(Frame {
                        call: Some((_, seen @ false)),
                        ..
                    }) => {
                        *seen = true;
                        level = Level::default();
                        expect_operand = true;
                    }
                    _ => {
                        break syntax(
                            t.pos,
                            "unexpected `,` (only `atan2`, `min` and `max` take two arguments)"
                                .into(),
                        )
                    }
                },
                Kind::Num | Kind::Var | Kind::Open | Kind::Unary => {
                    let prev = &tokens[i - 1];
                    let sci = prev.kind == Kind::Num
                        && prev.pos + prev.name.chars().count() == t.pos
                        && t.name.starts_with(['e', 'E']);
                    break syntax(
                        t.pos,
                        if sci {
                            "scientific notation is not supported: write e.g. `3*10^-4` for 3e-4"
                                .into()
                        } else {
                            format!("missing operator before `{}`", t.name)
                        },
                    );
                }
            }
        }
        i += 1;
    };
    out.syntax = result;
    out
}

/// `head`, the formula indented by two spaces, and a caret under `char` position `position`.
///
/// A formula longer than [`SHOWN`] characters is shown as a window of [`SHOWN`] characters
/// around the position, with `…` where it is cut.
fn render(head: &str, text: &str, position: usize) -> String {
    let len = text.chars().count();
    let (shown, caret) = if len <= SHOWN {
        (text.to_string(), position)
    } else {
        let lo = position.saturating_sub(SHOWN / 2).min(len - SHOWN);
        let window: String = text.chars().skip(lo).take(SHOWN).collect();
        let head = if lo > 0 { "…" } else { "" };
        let tail = if lo + SHOWN < len { "…" } else { "" };
        (
            format!("{head}{window}{tail}"),
            position - lo + head.chars().count(),
        )
    };
    format!("{head}\n  {shown}\n  {}^ here", " ".repeat(caret))
}

/// The most characters of a formula an error message shows.
const SHOWN: usize = 100;

/// `s`, cut to 40 characters with `…` if longer (for names quoted in messages).
fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}
