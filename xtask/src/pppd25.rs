//! `cargo xtask pppd25`: fetch Debian 13 (trixie)'s ppp 2.5.2 source package and build it into
//! `target/pppd-2.5.2/{src,install}`.
//!
//! apt runs with a PRIVATE directory set under `target/pppd-2.5.2/apt` (own state, cache and
//! source list, `Dir::Etc::SourceParts=/dev/null`), so the system's package lists are never
//! touched. The command is idempotent: when `install/sbin/pppd` and the installed headers exist
//! it only prints the install prefix. The last line of stdout is always the install prefix.
//!
//! Use the result with the ffi/plugin crates:
//! `PPPD_INCLUDE_DIR=$prefix/include CARGO_TARGET_DIR=target/pppd-2.5.2/cargo cargo build -p sstp-pppd-plugin`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = "2.5.2";
const SUITE: &str = "trixie";
const DEFAULT_URI: &str = "http://deb.debian.org/debian";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut force = false;
    for a in args {
        match a.as_str() {
            "--force" => force = true,
            other => {
                return Err(format!(
                    "unknown argument `{other}` (usage: pppd25 [--force])"
                ))
            }
        }
    }
    let base = workspace_root()
        .join("target")
        .join(format!("pppd-{VERSION}"));
    let prefix = base.join("install");
    if !force && is_built(&prefix) {
        eprintln!("pppd {VERSION} already built");
        println!("{}", prefix.display());
        return Ok(());
    }
    fs::create_dir_all(&base).map_err(|e| format!("create {}: {e}", base.display()))?;
    let src = fetch_source(&base)?;
    build(&src, &prefix)?;
    if !is_built(&prefix) {
        return Err(format!(
            "build finished but {} is incomplete",
            prefix.display()
        ));
    }
    println!("{}", prefix.display());
    Ok(())
}

fn workspace_root() -> PathBuf {
    // xtask/Cargo.toml lives one level below the workspace root.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

fn is_built(prefix: &Path) -> bool {
    prefix.join("sbin/pppd").is_file()
        && prefix.join("include/pppd/pppdconf.h").is_file()
        && prefix.join("include/pppd/pppd.h").is_file()
}

/// The archive URI this machine already uses (first `URIs:` of debian.sources), else the default.
fn archive_uri() -> String {
    let text = fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("URIs:"))
        .flat_map(|rest| rest.split_whitespace())
        .find(|uri| !uri.contains("security"))
        .map(str::to_owned)
        .unwrap_or_else(|| DEFAULT_URI.to_owned())
}

fn run_cmd(cmd: &mut Command, what: &str) -> Result<(), String> {
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

/// Download and unpack the source package; returns the unpacked source tree `base/src`.
fn fetch_source(base: &Path) -> Result<PathBuf, String> {
    let src = base.join("src");
    if src.join("configure").is_file() || src.join("configure.ac").is_file() {
        return Ok(src);
    }
    let apt = base.join("apt");
    let dl = base.join("download");
    for d in [
        apt.join("state/lists/partial"),
        apt.join("cache/archives/partial"),
        apt.join("etc"),
        dl.clone(),
    ] {
        fs::create_dir_all(&d).map_err(|e| format!("create {}: {e}", d.display()))?;
    }
    let list = apt.join("etc/sources.list");
    let line = format!(
        "deb-src [signed-by={KEYRING}] {} {SUITE} main\n",
        archive_uri()
    );
    fs::write(&list, line).map_err(|e| format!("write {}: {e}", list.display()))?;

    // An empty dpkg status: otherwise `apt-get source ppp` asks for the source of the installed
    // binary's version (bookworm's 2.4.9), which the trixie list does not carry.
    let status = apt.join("state/status");
    fs::write(&status, b"").map_err(|e| format!("write {}: {e}", status.display()))?;
    let apt_opts = |cmd: &mut Command| {
        cmd.arg("-o")
            .arg(format!("Dir::State={}", apt.join("state").display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", apt.join("cache").display()))
            .arg("-o")
            .arg(format!("Dir::Etc::SourceList={}", list.display()))
            .arg("-o")
            .arg("Dir::Etc::SourceParts=/dev/null")
            .arg("-o")
            .arg(format!("Dir::State::status={}", status.display()))
            .arg("-o")
            .arg("APT::Sandbox::User=root");
    };
    let mut update = Command::new("apt-get");
    apt_opts(&mut update);
    update.arg("update");
    run_cmd(&mut update, "apt-get update (private lists)")?;

    let mut source = Command::new("apt-get");
    apt_opts(&mut source);
    source
        .arg("source")
        .arg("--download-only")
        .arg("ppp")
        .current_dir(&dl);
    run_cmd(&mut source, "apt-get source")?;
    let dsc = fs::read_dir(&dl)
        .map_err(|e| format!("read {}: {e}", dl.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("ppp_{VERSION}")) && n.ends_with(".dsc"))
        })
        .ok_or_else(|| format!("no ppp_{VERSION}*.dsc in {}", dl.display()))?;
    let tmp = base.join("src.tmp");
    let _ = fs::remove_dir_all(&tmp);
    run_cmd(
        Command::new("dpkg-source").arg("-x").arg(&dsc).arg(&tmp),
        "dpkg-source -x",
    )?;
    fs::rename(&tmp, &src).map_err(|e| format!("rename to {}: {e}", src.display()))?;
    Ok(src)
}

fn build(src: &Path, prefix: &Path) -> Result<(), String> {
    if !src.join("configure").is_file() {
        run_cmd(
            Command::new("autoreconf").arg("-fi").current_dir(src),
            "autoreconf",
        )?;
    }
    if !src.join("Makefile").is_file() {
        run_cmd(
            Command::new("./configure")
                .arg(format!("--prefix={}", prefix.display()))
                // Debian's patches touch configure.ac/Makefile.am; without this the build would
                // try to re-run automake, which this machine does not need to have.
                .arg("--disable-maintainer-mode")
                .current_dir(src),
            "configure",
        )?;
    }
    run_cmd(Command::new("make").arg("-j2").current_dir(src), "make")?;
    run_cmd(
        Command::new("make").arg("install").current_dir(src),
        "make install",
    )
}
