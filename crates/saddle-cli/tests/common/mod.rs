//! Helpers shared by the end-to-end tests: run the real `saddle` binary in a directory and
//! check its exit code, stdout and stderr.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    saddle_env(dir, args, &[])
}

/// Run `saddle args...` in `dir` with extra environment variables.
pub fn saddle_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
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

/// A cheap 12-cell sweep (4 learning rates × 3 values of a).
pub const LIGHT_SWEEP: &str = r#"name = "light"
seed = 3
runs = 200
steps = 200

[model]
kind = "quadratic"

[noise]
kind = "two-point"
a = -1.0

[optimizer]
kind = "sgd"
lr = 0.5

[observe]
escape = { delta = 0.05 }
escape_rate_steps = [10, 200]

[[sweep.axis]]
path = "optimizer.lr"
linspace = [0.2, 0.9, 4]

[[sweep.axis]]
path = "noise.a"
values = [-1.0, 0.0, 1.0]
"#;

/// Read a file, naming it when it cannot be read.
pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Wait for `child` at most `secs` seconds; kill it and fail the test ("hang") past that.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    secs: u64,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().expect("wait for saddle") {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hang: {what} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
