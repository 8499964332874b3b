//! `cargo xtask test`: everything CI runs, in order, without stopping at the first failure:
//!
//! 1. setup: `tests/setup/setup.sh` (Debian packages, patched sstp-server; fast when present)
//! 2. `cargo fmt --all --check`
//! 3. `cargo clippy --workspace --all-targets -- -D warnings`
//! 4. `cargo test --workspace --no-fail-fast` (unit, property and test-bed tests; the UML boots
//!    serialize themselves through a lock file; every test binary runs even after a failure)
//! 5. `cargo xtask fuzz` (every fuzz target briefly)
//!
//! Ends with a summary and the line `N passed, N failed` (each test of step 4 counts once, every
//! other step counts as one check).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Step {
    name: &'static str,
    ok: bool,
    passed: u64,
    failed: u64,
    time: Duration,
    note: String,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let skip_setup = args.iter().any(|a| a == "--no-setup");
    let root = integration_tests::testbed::workspace_root();
    let mut steps: Vec<Step> = Vec::new();

    if !skip_setup {
        steps.push(plain_step("setup", || setup(&root)));
    }
    steps.push(plain_step("fmt", || {
        cargo(&root, &["fmt", "--all", "--check"])
    }));
    steps.push(plain_step("clippy", || {
        cargo(
            &root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )
    }));
    steps.push(cargo_test_step(&root));
    steps.push(plain_step("fuzz", || {
        banner("cargo xtask fuzz");
        crate::fuzz::run(&[])
    }));

    println!();
    println!("xtask test summary:");
    let (mut passed, mut failed) = (0u64, 0u64);
    for s in &steps {
        passed += s.passed;
        failed += s.failed;
        println!(
            "  {:<12} {:<6} {:>7.1}s  {}",
            s.name,
            if s.ok { "ok" } else { "FAILED" },
            s.time.as_secs_f64(),
            s.note
        );
    }
    println!("{passed} passed, {failed} failed");
    let _ = std::io::stdout().flush();
    if failed == 0 && steps.iter().all(|s| s.ok) {
        Ok(())
    } else {
        Err(format!("{failed} failed"))
    }
}

fn banner(what: &str) {
    println!("\n==== {what}");
    let _ = std::io::stdout().flush();
}

fn plain_step(name: &'static str, f: impl FnOnce() -> Result<(), String>) -> Step {
    let t = Instant::now();
    let result = f();
    let time = t.elapsed();
    match result {
        Ok(()) => Step {
            name,
            ok: true,
            passed: 1,
            failed: 0,
            time,
            note: String::new(),
        },
        Err(e) => {
            eprintln!("xtask test: {name}: {e}");
            Step {
                name,
                ok: false,
                passed: 0,
                failed: 1,
                time,
                note: first_line(&e),
            }
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(100).collect()
}

/// The cargo that runs us (so `cargo +nightly xtask test` stays on nightly).
pub(crate) fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    banner(&format!("cargo {}", args.join(" ")));
    let status = Command::new(cargo_bin())
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}

/// Runs the project's setup script (Debian packages and the patched sstp-server).
pub(crate) fn setup(root: &Path) -> Result<(), String> {
    banner("setup (tests/setup/setup.sh)");
    let script = root.join("tests/setup/setup.sh");
    let status = Command::new("bash")
        .arg(&script)
        .current_dir(root)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", script.display()))
    }
}

/// `cargo test --workspace --no-fail-fast`, echoing its output and counting the tests from its
/// `test result:` lines.
fn cargo_test_step(root: &Path) -> Step {
    banner("cargo test --workspace --no-fail-fast");
    let t = Instant::now();
    let child = Command::new(cargo_bin())
        .args(["test", "--workspace", "--no-fail-fast"])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Step {
                name: "cargo test",
                ok: false,
                passed: 0,
                failed: 1,
                time: t.elapsed(),
                note: format!("cannot run cargo: {e}"),
            }
        }
    };
    let (mut passed, mut failed, mut suites) = (0u64, 0u64, 0u64);
    if let Some(out) = child.stdout.take() {
        let mut stdout = std::io::stdout();
        for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line);
            let _ = writeln!(stdout, "{line}");
            if let Some((p, f)) = parse_test_result(&line) {
                passed += p;
                failed += f;
                suites += 1;
            }
        }
        let _ = stdout.flush();
    }
    let status = child.wait();
    let ok = matches!(status, Ok(s) if s.success());
    let mut note = format!("{suites} test binaries");
    if !ok && failed == 0 {
        // A build failure or a crashed test binary: count it.
        failed = 1;
        note = format!(
            "cargo test failed ({}), {suites} test binaries ran",
            fmt_status(&status)
        );
    }
    Step {
        name: "cargo test",
        ok,
        passed,
        failed,
        time: t.elapsed(),
        note,
    }
}

fn fmt_status(s: &std::io::Result<std::process::ExitStatus>) -> String {
    match s {
        Ok(s) => s.to_string(),
        Err(e) => e.to_string(),
    }
}

/// `test result: ok. 12 passed; 0 failed; 0 ignored; ...` → (12, 0).
fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let mut passed = None;
    let mut failed = None;
    for part in rest.split(';') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let n = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
        match words.as_slice() {
            [.., _, "passed"] => passed = n(words.len() - 2),
            [_, "failed"] => failed = n(0),
            _ => {}
        }
    }
    Some((passed?, failed?))
}

#[cfg(test)]
mod tests {
    use super::parse_test_result;

    #[test]
    fn parses_cargo_test_summaries() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            parse_test_result("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured"),
            Some((3, 2))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
        assert_eq!(parse_test_result("test result: garbage"), None);
    }
}
