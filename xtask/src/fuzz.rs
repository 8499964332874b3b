//! `cargo xtask fuzz [SECONDS] [--minutes N] [TARGET...]`: build every cargo-fuzz target in
//! `fuzz/` and run each in turn; exit non-zero if any target crashes, times out or runs out of
//! memory.
//!
//! Two modes:
//! - smoke (the default, what CI runs): each target for SECONDS (default 10);
//! - campaign, `--minutes N`: N minutes IN TOTAL, split evenly across the selected targets
//!   (`--minutes 60` with 12 targets runs each for 5 minutes, so the whole run ends after about
//!   N minutes plus the build).
//!
//! Each target prints one line with its executions, exec/s, coverage at start -> end (libFuzzer's
//! `cov:` counter), new corpus units and result; a table of all targets with the total closes
//! the run.
//!
//! cargo-fuzz needs nightly. When a `nightly` toolchain is installed it is used
//! (`cargo +nightly fuzz`); otherwise the default (stable) toolchain runs with
//! `RUSTC_BOOTSTRAP=1`, which unlocks the `-Z` flags cargo-fuzz passes. `cargo-fuzz` itself is
//! installed with `cargo install cargo-fuzz` when missing (set `XTASK_FUZZ_NO_INSTALL=1` to
//! forbid that). Corpora go to `fuzz/corpus/<target>`, crash inputs to `fuzz/artifacts/<target>`
//! (both ignored by git); `fuzz/seeds/<target>` (checked in) seeds each run. `XTASK_FUZZ_DIR`
//! points at another cargo-fuzz crate (used to test this command against a deliberately
//! crashing target).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const DEFAULT_SECONDS: u64 = 10;

const USAGE: &str = "usage: cargo xtask fuzz [SECONDS] [--minutes N] [TARGET...]
  SECONDS      smoke mode: run each target this long (default 10)
  --minutes N  campaign: N minutes in total, split evenly across the targets
  TARGET...    only these targets (default: all)";

/// What the command line asks for.
struct Plan {
    /// Seconds per target.
    seconds: u64,
    /// Only these targets (empty: all).
    only: Vec<String>,
    /// `--minutes N`: total budget to split.
    total_minutes: Option<u64>,
}

fn parse_args(args: &[String]) -> Result<Option<Plan>, String> {
    let mut plan = Plan {
        seconds: DEFAULT_SECONDS,
        only: Vec::new(),
        total_minutes: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--minutes" => {
                let v = it.next().ok_or("--minutes needs a number of minutes")?;
                let m: u64 = v
                    .parse()
                    .map_err(|_| format!("--minutes: cannot parse {v:?} as minutes"))?;
                plan.total_minutes = Some(m.max(1));
            }
            _ => match a.parse::<u64>() {
                Ok(s) if plan.only.is_empty() => plan.seconds = s.max(1),
                _ => plan.only.push(a.clone()),
            },
        }
    }
    Ok(Some(plan))
}

pub fn run(args: &[String]) -> Result<(), String> {
    let Some(mut plan) = parse_args(args)? else {
        return Ok(());
    };
    let fuzz_dir = std::env::var_os("XTASK_FUZZ_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("fuzz"));
    if !fuzz_dir.join("Cargo.toml").is_file() {
        return Err(format!("{} has no Cargo.toml", fuzz_dir.display()));
    }
    ensure_cargo_fuzz()?;
    let toolchain = Toolchain::detect();
    eprintln!("xtask fuzz: using {}", toolchain.describe());

    let targets = list_targets(&fuzz_dir, &toolchain)?;
    let selected = select(&targets, std::mem::take(&mut plan.only))?;
    if let Some(m) = plan.total_minutes {
        plan.seconds = (m * 60 / selected.len() as u64).max(1);
        eprintln!(
            "xtask fuzz: campaign of {m} min over {} targets: {} s each",
            selected.len(),
            plan.seconds
        );
    }

    // Build everything first: a build failure is reported as such, not as a crash.
    let mut build = toolchain.cargo_fuzz(&fuzz_dir, "build");
    run_status(&mut build, "cargo fuzz build")?;

    let mut results = Vec::new();
    for t in &selected {
        let r = run_target(&fuzz_dir, &toolchain, t, plan.seconds)?;
        eprintln!("xtask fuzz: {}", r.line());
        if !r.ok {
            for l in &r.tail {
                eprintln!("    {l}");
            }
        }
        results.push(r);
    }
    print_table(&results);
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.target.as_str())
        .collect();
    if failed.is_empty() {
        eprintln!(
            "xtask fuzz: all {} targets ran {} s each without a crash, timeout or OOM",
            results.len(),
            plan.seconds
        );
        Ok(())
    } else {
        Err(format!(
            "fuzz target(s) failed: {} (inputs in {})",
            failed.join(", "),
            fuzz_dir.join("artifacts").display()
        ))
    }
}

fn select(targets: &[String], only: Vec<String>) -> Result<Vec<String>, String> {
    if targets.is_empty() {
        return Err("no fuzz targets found (cargo fuzz list is empty)".into());
    }
    if only.is_empty() {
        return Ok(targets.to_vec());
    }
    if let Some(t) = only.iter().find(|t| !targets.contains(t)) {
        return Err(format!(
            "unknown fuzz target `{t}` (targets: {})",
            targets.join(", ")
        ));
    }
    Ok(only)
}

/// One target's run, from libFuzzer's output.
struct TargetResult {
    target: String,
    ok: bool,
    /// `crash`, `timeout`, `oom`, `leak` or the exit status, when not ok.
    failure: String,
    executions: Option<u64>,
    exec_per_sec: Option<u64>,
    cov_start: Option<u64>,
    cov_end: Option<u64>,
    new_units: Option<u64>,
    seconds: f64,
    tail: Vec<String>,
}

impl TargetResult {
    fn from_output(target: &str, success: bool, status: String, stderr: &str, secs: f64) -> Self {
        let stat = |name: &str| {
            stderr
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        };
        let failure = if success {
            String::new()
        } else if stderr.contains("ERROR: libFuzzer: timeout") {
            "timeout".into()
        } else if stderr.contains("ERROR: libFuzzer: out-of-memory") {
            "oom".into()
        } else if stderr.contains("ERROR: LeakSanitizer") {
            "leak".into()
        } else if stderr.contains("ERROR: libFuzzer: deadly signal")
            || stderr.contains("ERROR: AddressSanitizer")
        {
            "crash".into()
        } else {
            status
        };
        let lines: Vec<&str> = stderr.lines().collect();
        TargetResult {
            target: target.to_owned(),
            ok: success,
            failure,
            executions: stat("stat::number_of_executed_units:"),
            exec_per_sec: stat("stat::average_exec_per_sec:"),
            cov_start: cov_of(stderr, "INITED"),
            cov_end: cov_of(stderr, "DONE").or_else(|| last_cov(stderr)),
            new_units: stat("stat::new_units_added:"),
            seconds: secs,
            tail: failure_excerpt(&lines),
        }
    }

    fn line(&self) -> String {
        let n = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
        format!(
            "{}: {} executions in {:.1} s ({} exec/s), cov {} -> {}, {} new units, {}",
            self.target,
            n(self.executions),
            self.seconds,
            n(self.exec_per_sec),
            n(self.cov_start),
            n(self.cov_end),
            n(self.new_units),
            if self.ok {
                "0 crashes".to_owned()
            } else {
                format!("FAILED: {}", self.failure)
            }
        )
    }
}

/// The lines that explain a failure: the panic or sanitizer report (12 lines from its start)
/// and the artifact / reproduce lines; the last 20 lines when neither is found.
fn failure_excerpt(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(i) = lines.iter().position(|l| {
        l.contains("panicked at") || l.contains("==ERROR") || l.contains("ERROR: libFuzzer")
    }) {
        out.extend(
            lines[i..lines.len().min(i + 12)]
                .iter()
                .map(|l| (*l).to_owned()),
        );
    }
    out.extend(
        lines
            .iter()
            .filter(|l| l.contains("artifacts/") && !l.contains("Minimize"))
            .map(|l| (*l).to_owned()),
    );
    if out.is_empty() {
        out.extend(
            lines[lines.len().saturating_sub(20)..]
                .iter()
                .map(|l| (*l).to_owned()),
        );
    }
    out
}

/// libFuzzer's `cov: N` on the line with `marker` (`#123\tINITED cov: 45 ft: ...`).
fn cov_of(stderr: &str, marker: &str) -> Option<u64> {
    stderr
        .lines()
        .filter(|l| l.contains(marker))
        .find_map(cov_field)
}

fn last_cov(stderr: &str) -> Option<u64> {
    stderr.lines().rev().find_map(cov_field)
}

fn cov_field(line: &str) -> Option<u64> {
    let rest = line.split("cov: ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

fn run_target(
    fuzz_dir: &Path,
    toolchain: &Toolchain,
    t: &str,
    seconds: u64,
) -> Result<TargetResult, String> {
    let corpus = fuzz_dir.join("corpus").join(t);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("create {}: {e}", corpus.display()))?;
    let mut cmd = toolchain.cargo_fuzz(fuzz_dir, "run");
    cmd.arg(t).arg(&corpus);
    // Checked-in seed inputs (valid packets, a full handshake, ...), read but never written.
    let seeds = fuzz_dir.join("seeds").join(t);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1");
    eprintln!("xtask fuzz: running {t} for {seconds} s");
    let started = Instant::now();
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cargo fuzz run {t}: cannot start: {e}"))?;
    Ok(TargetResult::from_output(
        t,
        out.status.success(),
        out.status.to_string(),
        &String::from_utf8_lossy(&out.stderr),
        started.elapsed().as_secs_f64(),
    ))
}

fn print_table(results: &[TargetResult]) {
    let n = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
    println!(
        "{:<18} {:>12} {:>8} {:>8} {:>13} {:>6}  result",
        "target", "executions", "seconds", "exec/s", "cov", "new"
    );
    for r in results {
        println!(
            "{:<18} {:>12} {:>8.0} {:>8} {:>13} {:>6}  {}",
            r.target,
            n(r.executions),
            r.seconds,
            n(r.exec_per_sec),
            format!("{}->{}", n(r.cov_start), n(r.cov_end)),
            n(r.new_units),
            if r.ok { "ok" } else { r.failure.as_str() }
        );
    }
    let total: u64 = results.iter().filter_map(|r| r.executions).sum();
    let secs: f64 = results.iter().map(|r| r.seconds).sum();
    println!("{:<18} {total:>12} {secs:>8.0}", "total");
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// How to get a compiler that accepts cargo-fuzz's `-Z` flags.
enum Toolchain {
    /// `cargo +nightly`.
    Nightly,
    /// The default toolchain with `RUSTC_BOOTSTRAP=1`.
    Bootstrap,
}

impl Toolchain {
    fn detect() -> Toolchain {
        if std::env::var_os("XTASK_FUZZ_FORCE_BOOTSTRAP").is_some() {
            return Toolchain::Bootstrap;
        }
        let nightly = Command::new("cargo")
            .args(["+nightly", "--version"])
            .env_remove("RUSTUP_TOOLCHAIN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if nightly {
            Toolchain::Nightly
        } else {
            Toolchain::Bootstrap
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Toolchain::Nightly => "the nightly toolchain",
            Toolchain::Bootstrap => {
                "the default toolchain with RUSTC_BOOTSTRAP=1 (no nightly installed)"
            }
        }
    }

    /// `cargo [+nightly] fuzz <sub> --fuzz-dir <dir>`, run in `dir`.
    fn cargo_fuzz(&self, dir: &Path, sub: &str) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(dir)
            // Variables set by the outer `cargo run` must not leak into the fuzz build.
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        match self {
            Toolchain::Nightly => {
                cmd.arg("+nightly");
            }
            Toolchain::Bootstrap => {
                cmd.env("RUSTC_BOOTSTRAP", "1");
            }
        }
        cmd.arg("fuzz").arg(sub).arg("--fuzz-dir").arg(dir);
        cmd
    }
}

fn has_cargo_fuzz() -> bool {
    Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    if has_cargo_fuzz() {
        return Ok(());
    }
    if std::env::var_os("XTASK_FUZZ_NO_INSTALL").is_some() {
        return Err("cargo-fuzz is not installed; run `cargo install cargo-fuzz`".into());
    }
    eprintln!("xtask fuzz: cargo-fuzz missing, installing it (cargo install cargo-fuzz)");
    run_status(
        Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]),
        "cargo install cargo-fuzz",
    )?;
    if has_cargo_fuzz() {
        Ok(())
    } else {
        Err("cargo-fuzz still not available after installing it; is ~/.cargo/bin in PATH?".into())
    }
}

fn list_targets(fuzz_dir: &Path, toolchain: &Toolchain) -> Result<Vec<String>, String> {
    let out = toolchain
        .cargo_fuzz(fuzz_dir, "list")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo fuzz list: cannot start: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo fuzz list failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

fn run_status(cmd: &mut Command, what: &str) -> Result<(), String> {
    eprintln!("+ {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed: {status}"))
    }
}
