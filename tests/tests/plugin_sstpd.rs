//! The project's pppd plugin (sstp-rs.so) against the Python `sstp-server` in the UML test bed,
//! with the server verifying crypto binding: pppd 2.4.9 (Debian 12's) and pppd 2.5.2 (Debian
//! 13's, built by `cargo xtask pppd25`). Same server and checks as the sstpc reference.
//!
//! Each test builds the plugin for its pppd in its own target directory
//! (`target/pppd-<version>/cargo`, headers selected with `PPPD_INCLUDE_DIR` for 2.5.2) and copies
//! it to `target/pppd-<version>/sstp-rs.so`.
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::scenario::{self, Client, Report, Scenario, Transport};
use integration_tests::testbed::{shell_quote, workspace_root};

fn skip() -> bool {
    if std::env::var_os("SSTP_RS_SKIP_TESTBED").is_some() {
        eprintln!("SSTP_RS_SKIP_TESTBED set: test bed test skipped");
        return true;
    }
    false
}

/// Which pppd the client runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pppd {
    /// Debian 12's /usr/sbin/pppd.
    V249,
    /// target/pppd-2.5.2/install/sbin/pppd.
    V252,
}

impl Pppd {
    fn version(self) -> &'static str {
        match self {
            Pppd::V249 => "2.4.9",
            Pppd::V252 => "2.5.2",
        }
    }

    fn binary(self, root: &Path) -> PathBuf {
        match self {
            Pppd::V249 => PathBuf::from("/usr/sbin/pppd"),
            Pppd::V252 => root.join("target/pppd-2.5.2/install/sbin/pppd"),
        }
    }
}

/// Builds the plugin (release) for `pppd` and returns the path of `sstp-rs.so`.
fn build_plugin(pppd: Pppd) -> PathBuf {
    let root = workspace_root();
    let dir = root.join("target").join(format!("pppd-{}", pppd.version()));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "-p", "sstp-pppd-plugin"])
        .env("CARGO_TARGET_DIR", dir.join("cargo"))
        .env_remove("PPPD_VERSION");
    match pppd {
        Pppd::V249 => {
            cmd.env("PPPD_INCLUDE_DIR", "/usr/include");
        }
        Pppd::V252 => {
            let prefix = root.join("target/pppd-2.5.2/install");
            if !prefix.join("sbin/pppd").is_file() {
                let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .current_dir(&root)
                    .args(["xtask", "pppd25"])
                    .status()
                    .expect("run cargo xtask pppd25");
                assert!(st.success(), "cargo xtask pppd25 failed");
            }
            cmd.env("PPPD_INCLUDE_DIR", prefix.join("include"));
        }
    }
    let st = cmd.status().expect("run cargo build");
    assert!(
        st.success(),
        "building the plugin for pppd {} failed",
        pppd.version()
    );
    let built = dir.join("cargo/release/libsstp_rs.so");
    let so = dir.join("sstp-rs.so");
    std::fs::copy(&built, &so).expect("copy sstp-rs.so");
    so
}

/// The client command: pppd with the plugin, options as a user would write them.
fn plugin_client(pppd: Pppd, so: &Path, extra: &str) -> Client {
    let bin = pppd.binary(&workspace_root());
    Client::Command(format!(
        "exec {} plugin {} sstp-server \"$SSTP_HOST:$SSTP_PORT\" sstp-ca-file \"$SSTP_CA\" \
         sstp-log-level 3 password \"$SSTP_PASSWORD\" {extra} $SSTP_PPPD_OPTS nodetach",
        shell_quote(&bin.to_string_lossy()),
        shell_quote(&so.to_string_lossy()),
    ))
}

/// The checks every successful connection must pass (as for the sstpc reference).
fn assert_connected_and_clean(r: &Report, pings: u32) {
    let diag = r.diagnostics();
    assert!(r.flag("server_started"), "sstpd did not start\n{diag}");
    assert!(r.run.success(), "scenario failed\n{diag}");
    let (local, peer) = r.ppp_addresses().expect("no PPP address");
    assert!(local.starts_with("198.51.100."), "local {local}\n{diag}");
    assert_eq!(peer, scenario::PPP_SERVER_ADDR, "{diag}");
    let ifname = r.fact("ppp_if").unwrap_or("");
    let route = r.fact("route_to_peer").unwrap_or("");
    assert!(
        route.contains(&format!("dev {ifname}")),
        "route {route}\n{diag}"
    );
    if pings > 0 {
        let ping = r.ping().expect("no ping statistics");
        assert_eq!(ping.transmitted, pings, "{diag}");
        assert_eq!(ping.received, pings, "packet loss\n{diag}");
        let tx = r.number("ppp_tx_packets").unwrap_or(0.0);
        let rx = r.number("ppp_rx_packets").unwrap_or(0.0);
        assert!(
            tx >= f64::from(pings) && rx >= f64::from(pings),
            "tx {tx} rx {rx}\n{diag}"
        );
    }
    // The server verified our crypto binding (MS-CHAPv2 keys from pppd -> HLAK -> CMK -> MAC).
    assert!(
        r.crypto_binding_valid(),
        "crypto binding not verified\n{diag}"
    );
    // The plugin logged through pppd's log.
    let log = &r.client_pppd_log;
    assert!(log.contains("sstp-rs: connecting to"), "{diag}");
    assert!(log.contains("SSTP call acknowledged"), "{diag}");
    assert!(
        log.contains("sstp-rs: SSTP call connected (crypto binding SHA256)"),
        "{diag}"
    );
    assert!(
        log.contains("HLAK from send[0..16] || recv[0..16] (MS-CHAP)"),
        "{diag}"
    );
    // Clean disconnect: LCP terminate through the tunnel, then CALL_DISCONNECT.
    assert!(r.flag("client_stopped"), "client did not stop\n{diag}");
    assert!(
        r.flag("server_pppd_exited"),
        "server pppd still running\n{diag}"
    );
    assert!(
        log.contains("sent [LCP TermReq"),
        "no LCP terminate from the client\n{diag}"
    );
    assert!(r.server_pppd_log.contains("rcvd [LCP TermReq"), "{diag}");
    assert!(
        log.contains("call disconnected locally; the server acknowledged"),
        "{diag}"
    );
    assert!(
        r.leftovers().is_empty(),
        "leftover processes {:?}\n{diag}",
        r.leftovers()
    );
    assert!(
        r.run.no_leftover_processes,
        "UML processes left on the host"
    );
    // Secrets never reach the log.
    assert!(
        !log.contains(scenario::PASSWORD),
        "password in the client log\n{diag}"
    );
}

fn run_basic(pppd: Pppd, transport: Transport, pings: u32) -> Report {
    let so = build_plugin(pppd);
    let sc = Scenario {
        transport,
        pings,
        stream_output: std::env::var_os("SSTP_RS_STREAM").is_some(),
        ..Scenario::reference().with_client(plugin_client(pppd, &so, ""))
    };
    let r = sc.run().expect("test bed run");
    if std::env::var_os("SSTP_RS_DIAG").is_some() {
        eprintln!("{}\n--- sstpd.log (all) ---\n{}", r.diagnostics(), r.sstpd_log);
    }
    // The plugin's load message (on stderr before `logfile` takes over) names the pppd it was
    // built for, and that pppd accepted it (pppd_version matched).
    assert!(
        r.client_log.contains(&format!("(pppd {})", pppd.version())),
        "not pppd {}\n{}",
        pppd.version(),
        r.diagnostics()
    );
    r
}

#[test]
fn plugin_pppd249_against_sstpd_ipv4() {
    if skip() {
        return;
    }
    let r = run_basic(Pppd::V249, Transport::Ipv4, 20);
    assert_connected_and_clean(&r, 20);
    eprintln!(
        "sstp-rs/pppd 2.4.9/IPv4: boot {:?}, scenario {:?}, connect {:?}, ping {:?}",
        r.run.boot_time,
        r.scenario_time(),
        r.connect_time(),
        r.ping()
    );
    assert!(r.connect_time().unwrap_or(Duration::MAX) < Duration::from_secs(15));
}

#[test]
fn plugin_pppd252_against_sstpd_ipv4() {
    if skip() {
        return;
    }
    let r = run_basic(Pppd::V252, Transport::Ipv4, 20);
    assert_connected_and_clean(&r, 20);
    eprintln!(
        "sstp-rs/pppd 2.5.2/IPv4: boot {:?}, scenario {:?}, connect {:?}, ping {:?}",
        r.run.boot_time,
        r.scenario_time(),
        r.connect_time(),
        r.ping()
    );
}
