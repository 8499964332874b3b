//! `cargo xtask fuzz [SECONDS] [TARGET...]`: build every cargo-fuzz target in `fuzz/` and run each
//! for SECONDS (default 10); exit non-zero if any target crashes.
//!
//! cargo-fuzz needs nightly. When a `nightly` toolchain is installed it is used
//! (`cargo +nightly fuzz`); otherwise the default (stable) toolchain runs with
//! `RUSTC_BOOTSTRAP=1`, which unlocks the `-Z` flags cargo-fuzz passes. `cargo-fuzz` itself is
//! installed with `cargo install cargo-fuzz` when missing (set `XTASK_FUZZ_NO_INSTALL=1` to
//! forbid that). Corpora go to `fuzz/corpus/<target>`, crash inputs to `fuzz/artifacts/<target>`
//! (both ignored by git); `fuzz/seeds/<target>` (checked in) seeds each run. `XTASK_FUZZ_DIR` points at another cargo-fuzz crate (used to test
//! this command against a deliberately crashing target).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const DEFAULT_SECONDS: u64 = 10;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut only: Vec<String> = Vec::new();
    for a in args {
        if a == "-h" || a == "--help" {
            println!("usage: cargo xtask fuzz [SECONDS] [TARGET...]   (default {DEFAULT_SECONDS} s per target)");
            return Ok(());
        }
        match a.parse::<u64>() {
            Ok(s) if only.is_empty() => seconds = s.max(1),
            _ => only.push(a.clone()),
        }
    }
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
    let selected: Vec<String> = if only.is_empty() {
        targets.clone()
    } else {
        for t in &only {
            if !targets.contains(t) {
                return Err(format!(
                    "unknown fuzz target `{t}` (targets: {})",
                    targets.join(", ")
                ));
            }
        }
        only
    };
    if selected.is_empty() {
        return Err("no fuzz targets found (cargo fuzz list is empty)".into());
    }

    // Build everything first: a build failure is reported as such, not as a crash.
    let mut build = toolchain.cargo_fuzz(&fuzz_dir, "build");
    run_status(&mut build, "cargo fuzz build")?;

    let mut crashed = Vec::new();
    for t in &selected {
        let corpus = fuzz_dir.join("corpus").join(t);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("create {}: {e}", corpus.display()))?;
        let mut cmd = toolchain.cargo_fuzz(&fuzz_dir, "run");
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
        let stderr = String::from_utf8_lossy(&out.stderr);
        let runs = stderr
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "?".into());
        if out.status.success() {
            eprintln!(
                "xtask fuzz: {t}: ok, {runs} runs in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        } else {
            // Show the tail of libFuzzer's report (panic message, artifact path).
            let lines: Vec<&str> = stderr.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("xtask fuzz: {t}: FAILED ({})", out.status);
            for l in tail {
                eprintln!("    {l}");
            }
            crashed.push(t.clone());
        }
    }
    if crashed.is_empty() {
        eprintln!(
            "xtask fuzz: all {} targets ran {seconds} s without a crash",
            selected.len()
        );
        Ok(())
    } else {
        Err(format!(
            "fuzz target(s) crashed: {} (inputs in {})",
            crashed.join(", "),
            fuzz_dir.join("artifacts").display()
        ))
    }
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
