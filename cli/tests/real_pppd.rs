//! The command line `sstp connect` builds, given to the REAL pppd with the REAL plugin (when
//! both are present and we are root): pppd must accept every option, load passwordfd.so and read
//! the password from the pipe. This host has no kernel PPP, so pppd stops with
//! EXIT_NO_KERNEL_SUPPORT (sstp exit 14); with kernel PPP the connect to a closed loopback port
//! fails instead (pppd 8, sstp exit 15). An option error would be pppd 2 (sstp exit 2).

mod common;

use std::path::{Path, PathBuf};

use integration_tests::testbed::skip_unavailable;

/// The plugin built next to `sstp`, when root and /usr/sbin/pppd can run it. Otherwise skipped,
/// or, under CI (`CI` set), failed: a missing precondition must not pass as a test.
fn preconditions() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/sbin/pppd").is_file() {
        skip_unavailable("needs root and /usr/sbin/pppd");
        return None;
    }
    let exe_dir = Path::new(env!("CARGO_BIN_EXE_sstp")).parent().unwrap();
    let plugin = sstp_cli::pppd::dev_plugin(exe_dir);
    if plugin.is_none() {
        skip_unavailable("the plugin is not built (cargo build -p sstp-pppd-plugin)");
    }
    plugin
}

/// Skips (fails under CI) when the plugin was built for another pppd version than the host's.
fn other_pppd_version(stderr: &str) -> bool {
    let other = stderr.contains("is for pppd version");
    if other {
        skip_unavailable(&format!(
            "the plugin was built for another pppd version: {stderr}"
        ));
    }
    other
}

#[test]
fn real_pppd_accepts_the_command_line() {
    let Some(plugin) = preconditions() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw\n").unwrap();
    let refused_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = format!("127.0.0.1:{refused_port}");
    let out = common::sstp(&[
        "connect",
        &server,
        "-u",
        "alice",
        "--password-file",
        pw.to_str().unwrap(),
        "--plugin",
        plugin.to_str().unwrap(),
        "--pppd",
        "/usr/sbin/pppd",
        "--pin",
        &format!("sha256:{}", "ab".repeat(32)),
        "--sni",
        "vpn.example.test",
        "--tls-min",
        "1.2",
        "--ip-family",
        "ipv4",
        "--timeout",
        "5",
        "--log-level",
        "3",
        "--peer-dns",
        "--",
        "mtu",
        "1400",
    ]);
    let (_, stderr) = common::texts(&out);
    if other_pppd_version(&stderr) {
        return;
    }
    assert!(stderr.contains("Plugin passwordfd.so loaded"), "{stderr}");
    assert!(!stderr.contains("unrecognized option"), "{stderr}");
    let code = out.status.code();
    assert!(
        code == Some(14) || code == Some(15),
        "expected exit 14 (no kernel PPP) or 15 (connect failed): {code:?}\n{stderr}"
    );
}

#[test]
fn real_plugin_reads_the_proxy_credentials_pipe() {
    // The plugin reads sstp-proxy-auth-fd while pppd parses its options (root only, the
    // format, at most 4 KiB): a refusal would be pppd 2 (sstp exit 2). Nothing is written to
    // TMPDIR.
    let Some(plugin) = preconditions() else {
        return;
    };
    let so = std::fs::read(&plugin).unwrap();
    if !so.windows(18).any(|w| w == b"sstp-proxy-auth-fd") {
        skip_unavailable("the built plugin predates sstp-proxy-auth-fd (rebuild it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw\n").unwrap();
    let ppw = dir.path().join("ppw");
    std::fs::write(&ppw, "pr0xy\n").unwrap();
    let refused_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sstp"))
        .args([
            "connect",
            "vpn.example.test",
            "-u",
            "alice",
            "--password-file",
            pw.to_str().unwrap(),
            "--plugin",
            plugin.to_str().unwrap(),
            "--pppd",
            "/usr/sbin/pppd",
            "--proxy",
            &format!("http://127.0.0.1:{refused_port}"),
            "--proxy-user",
            "bob",
            "--proxy-password-file",
            ppw.to_str().unwrap(),
            "--timeout",
            "5",
        ])
        .env("TMPDIR", &tmp)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let (_, stderr) = common::texts(&out);
    if other_pppd_version(&stderr) {
        return;
    }
    assert!(!stderr.contains("refused"), "{stderr}");
    assert!(!stderr.contains("unrecognized option"), "{stderr}");
    assert!(!stderr.contains("pr0xy"), "{stderr}");
    let code = out.status.code();
    assert!(
        code == Some(14) || code == Some(15),
        "expected exit 14 (no kernel PPP) or 15 (proxy connect failed): {code:?}\n{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "a file in TMPDIR"
    );
}
