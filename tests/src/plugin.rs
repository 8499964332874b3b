//! Building the project's binaries for the test bed and running pppd with the plugin there:
//! one home for what the test-bed tests and `cargo xtask demo` share.
//!
//! pppd loads only a plugin built for its exact version, so each pppd gets its own build of
//! `sstp-rs.so`, in its own target directory `target/pppd-<version>/cargo` (headers chosen with
//! `PPPD_INCLUDE_DIR`), copied to `target/pppd-<version>/<name>.so`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::scenario::Client;
use crate::testbed::{shell_quote, workspace_root};

/// Which pppd the client runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pppd {
    /// Debian 12's /usr/sbin/pppd.
    V249,
    /// Debian 13's, built by `cargo xtask pppd25` into target/pppd-2.5.2/install.
    V252,
}

impl Pppd {
    /// pppd's version string.
    pub fn version(self) -> &'static str {
        match self {
            Pppd::V249 => "2.4.9",
            Pppd::V252 => "2.5.2",
        }
    }

    /// The pppd executable.
    pub fn binary(self) -> PathBuf {
        match self {
            Pppd::V249 => PathBuf::from("/usr/sbin/pppd"),
            Pppd::V252 => workspace_root().join("target/pppd-2.5.2/install/sbin/pppd"),
        }
    }

    /// `target/pppd-<version>`.
    pub fn dir(self) -> PathBuf {
        workspace_root()
            .join("target")
            .join(format!("pppd-{}", self.version()))
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds (if needed) pppd 2.5.2 with `cargo xtask pppd25`.
pub fn ensure_pppd25() -> Result<(), String> {
    if Pppd::V252.binary().is_file() {
        return Ok(());
    }
    let st = Command::new(cargo())
        .current_dir(workspace_root())
        .args(["xtask", "pppd25"])
        .status()
        .map_err(|e| format!("running cargo xtask pppd25: {e}"))?;
    st.success()
        .then_some(())
        .ok_or_else(|| "cargo xtask pppd25 failed".to_string())
}

/// Builds the plugin for `pppd` (release, or debug with the guard tests' fault injection
/// `SSTP_RS_FAULT=<point>`) and returns the path of its copy `target/pppd-<v>/<name>`.
/// The copy is replaced atomically (new inode): a guest may still have the previous one mapped.
pub fn build_plugin(pppd: Pppd, release: bool, name: &str) -> Result<PathBuf, String> {
    let dir = pppd.dir();
    let mut cmd = Command::new(cargo());
    cmd.current_dir(workspace_root())
        .args(["build", "-p", "sstp-pppd-plugin"])
        .args(release.then_some("--release"))
        .env("CARGO_TARGET_DIR", dir.join("cargo"))
        .env_remove("PPPD_VERSION");
    match pppd {
        Pppd::V249 => {
            cmd.env("PPPD_INCLUDE_DIR", "/usr/include");
        }
        Pppd::V252 => {
            ensure_pppd25()?;
            cmd.env(
                "PPPD_INCLUDE_DIR",
                workspace_root().join("target/pppd-2.5.2/install/include"),
            );
        }
    }
    let st = cmd
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !st.success() {
        return Err(format!(
            "building the plugin for pppd {} failed",
            pppd.version()
        ));
    }
    let profile = if release { "release" } else { "debug" };
    let built = dir.join("cargo").join(profile).join("libsstp_rs.so");
    let so = dir.join(name);
    if std::fs::read(&built).ok() != std::fs::read(&so).ok() {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tmp = so.with_extension(format!("tmp{}-{n}", std::process::id()));
        std::fs::copy(&built, &tmp).map_err(|e| format!("copying the plugin: {e}"))?;
        std::fs::rename(&tmp, &so).map_err(|e| format!("moving the plugin into place: {e}"))?;
    }
    Ok(so)
}

/// Builds the release `sstp-test-server` binary (in pppd 2.4.9's target directory, where the
/// plugin's dependencies are already built) and returns its path.
pub fn build_test_server() -> Result<PathBuf, String> {
    let dir = cargo_release(&["-p", "sstp-test-server", "--bin", "sstp-test-server"])?;
    Ok(dir.join("sstp-test-server"))
}

/// NetworkManager's side of sstp-rs, built like [`build_test_server`].
pub struct NmParts {
    /// `nm-sstp-service` and `nm-sstp-auth-dialog` are in here.
    pub libexec: PathBuf,
    /// The libnm editor plugin (as cargo names it, `libnm_vpn_plugin_sstp.so`).
    pub editor: PathBuf,
}

/// Builds `nm-sstp-service`, `nm-sstp-auth-dialog` and the libnm editor plugin.
pub fn build_nm_parts() -> Result<NmParts, String> {
    let dir = cargo_release(&["-p", "sstp-nm", "--bins", "-p", "sstp-nm-editor", "--lib"])?;
    Ok(NmParts {
        editor: dir.join("libnm_vpn_plugin_sstp.so"),
        libexec: dir,
    })
}

/// `cargo build --release ARGS` in pppd 2.4.9's target directory; its release directory.
fn cargo_release(args: &[&str]) -> Result<PathBuf, String> {
    let dir = Pppd::V249.dir().join("cargo");
    let st = Command::new(cargo())
        .current_dir(workspace_root())
        .args(["build", "--release"])
        .args(args)
        .env("CARGO_TARGET_DIR", &dir)
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !st.success() {
        return Err(format!("cargo build --release {} failed", args.join(" ")));
    }
    Ok(dir.join("release"))
}

/// The scenario client: pppd with the plugin, options as a user would write them, plus `extra`.
pub fn plugin_client(pppd: Pppd, so: &Path, extra: &str) -> Client {
    Client::Command(format!(
        "exec {} plugin {} sstp-server \"$SSTP_HOST:$SSTP_PORT\" sstp-ca-file \"$SSTP_CA\" \
         sstp-log-level 3 password \"$SSTP_PASSWORD\" {extra} $SSTP_PPPD_OPTS nodetach",
        shell_quote(&pppd.binary().to_string_lossy()),
        shell_quote(&so.to_string_lossy()),
    ))
}
