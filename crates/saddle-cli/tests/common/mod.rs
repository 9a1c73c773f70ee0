//! Helpers shared by the end-to-end tests: run the real `saddle` binary in a directory and
//! check its exit code, stdout and stderr.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_saddle");

/// The outcome of one invocation.
pub struct Out {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn describe(&self) -> String {
        format!(
            "saddle {}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// Assert success and return stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success:\n{}", self.describe());
        assert!(
            !self.stderr.contains("panicked"),
            "panic on stderr:\n{}",
            self.describe()
        );
        &self.stdout
    }

    /// Check a bad-input failure: exit 2, empty stdout, no panic, and every `expect`
    /// substring on stderr. Returns a description of what is wrong, if anything.
    pub fn check_bad_input(&self, expect: &[&str]) -> Option<String> {
        let mut problems = vec![];
        if self.code != Some(2) {
            problems.push(format!("exit code {:?}, expected 2", self.code));
        }
        if !self.stdout.is_empty() {
            problems.push("stdout is not empty".to_string());
        }
        if self.stderr.contains("panicked") {
            problems.push("stderr shows a panic".to_string());
        }
        for e in expect {
            if !self.stderr.contains(e) {
                problems.push(format!("stderr lacks {e:?}"));
            }
        }
        if problems.is_empty() {
            None
        } else {
            Some(format!("{}\n{}", problems.join("; "), self.describe()))
        }
    }

    pub fn assert_bad_input(&self, expect: &[&str]) {
        if let Some(p) = self.check_bad_input(expect) {
            panic!("{p}");
        }
    }
}

/// Run `saddle args...` in `dir`.
pub fn saddle(dir: &Path, args: &[&str]) -> Out {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("cannot start the saddle binary");
    Out {
        args: args.iter().map(|s| s.to_string()).collect(),
        code: o.status.code(),
        stdout: String::from_utf8(o.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(o.stderr).expect("stderr is UTF-8"),
    }
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write test file");
    p
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}
