//! The project's pppd plugin (sstp-rs.so) against the Python `sstp-server` in the UML test bed,
//! with the server verifying crypto binding: pppd 2.4.9 (Debian 12's) and pppd 2.5.2 (Debian
//! 13's, built by `cargo xtask pppd25`). Same server and checks as the sstpc reference. The
//! basic connect / 100 pings / clean disconnect run with both pppd versions, TLS 1.2/1.3, IPv4/6
//! and the failure statuses are in `plugin_matrix.rs` (one boot per pppd version).
//!
//! Each test builds the plugin for its pppd in its own target directory
//! (`target/pppd-<version>/cargo`, headers selected with `PPPD_INCLUDE_DIR` for 2.5.2) and copies
//! it to `target/pppd-<version>/sstp-rs.so`.
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed.

use std::path::PathBuf;
use std::time::Duration;

use integration_tests::plugin::{self, plugin_client, Pppd};
use integration_tests::scenario::{self, Client, Report, Scenario};
use integration_tests::testbed::shell_quote;

fn skip() -> bool {
    integration_tests::testbed::skip_testbed(&[])
}

/// Builds the plugin (release) for `pppd` and returns the path of `sstp-rs.so`.
fn build_plugin(pppd: Pppd) -> PathBuf {
    build_plugin_profile(pppd, true)
}

/// Builds the plugin for `pppd`, release or debug (debug builds have the guard tests' fault
/// injection: `SSTP_RS_FAULT=<point>`), and returns the path of its copy.
fn build_plugin_profile(pppd: Pppd, release: bool) -> PathBuf {
    let name = if release {
        "sstp-rs.so"
    } else {
        "sstp-rs-debug.so"
    };
    plugin::build_plugin(pppd, release, name).expect("build the plugin")
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
        log.contains(
            "authentication done: MS-CHAPv2, MPPE keys 16+16 bytes -> HLAK: \
             MasterSendKey[0..16] || MasterReceiveKey[0..16]"
        ),
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

/// A scenario whose client cannot connect: returns the report; checks that it was cleaned up.
fn run_failing(pppd: Pppd, extra: &str, server_arg: Option<&str>) -> Report {
    let so = build_plugin(pppd);
    let mut client = plugin_client(pppd, &so, extra);
    if let (Some(arg), Client::Command(cmd)) = (server_arg, &mut client) {
        *cmd = cmd.replace("\"$SSTP_HOST:$SSTP_PORT\"", arg);
    }
    let sc = Scenario {
        pings: 3,
        timeout: Duration::from_secs(120),
        stream_output: std::env::var_os("SSTP_RS_STREAM").is_some(),
        ..Scenario::reference().with_client(client)
    };
    let r = sc.run().expect("test bed run");
    if std::env::var_os("SSTP_RS_DIAG").is_some() {
        eprintln!("{}", r.diagnostics());
    }
    let diag = r.diagnostics();
    assert!(r.flag("server_started"), "{diag}");
    assert!(!r.flag("ppp_up"), "{diag}");
    assert!(r.leftovers().is_empty(), "{:?}\n{diag}", r.leftovers());
    r
}

fn pppd_log(r: &Report) -> String {
    format!("{}\n{}", r.client_log, r.client_pppd_log)
}

#[test]
fn plugin_untrusted_certificate_names_subject_and_sha256() {
    if skip() {
        return;
    }
    // The system CA store does not contain the test CA.
    let r = run_failing(
        Pppd::V249,
        "sstp-ca-file /etc/ssl/certs/ca-certificates.crt",
        None,
    );
    let diag = r.diagnostics();
    let log = pppd_log(&r);
    let sha = r.fact("server_cert_sha256").expect("cert sha256 fact");
    assert!(log.contains("sstp-server.test"), "{diag}");
    assert!(
        log.to_lowercase().contains(sha),
        "certificate SHA-256 not named\n{diag}"
    );
    // EXIT_PEER_AUTH_FAILED: the server failed to prove its identity.
    assert_eq!(r.fact("client_exit"), Some("11"), "{diag}");
    // No SSTP call was attempted.
    assert!(!r.sstpd_log.contains("CALL_CONNECT_REQUEST"), "{diag}");
}

#[test]
fn plugin_connection_refused_is_exit_8() {
    if skip() {
        return;
    }
    let r = run_failing(Pppd::V249, "", Some("\"$SSTP_HOST:4444\""));
    let diag = r.diagnostics();
    let log = pppd_log(&r);
    assert!(log.contains("192.0.2.2:4444"), "address not named\n{diag}");
    assert!(log.to_lowercase().contains("refused"), "{diag}");
    assert_eq!(r.fact("client_exit"), Some("8"), "{diag}");
}

#[test]
fn plugin_cert_pin_replaces_the_ca() {
    if skip() {
        return;
    }
    let so = build_plugin(Pppd::V249);
    // The pin of the server certificate the scenario just created; no CA file at all.
    let pin = "sstp-cert-pin \"sha256:$(openssl x509 -in /tmp/sstp-scenario/pki/server.pem \
               -outform der | sha256sum | cut -d' ' -f1)\"";
    let Client::Command(cmd) = plugin_client(Pppd::V249, &so, pin) else {
        unreachable!()
    };
    let cmd = cmd.replace("sstp-ca-file \"$SSTP_CA\" ", "");
    let sc = Scenario {
        pings: 3,
        ..Scenario::reference().with_client(Client::Command(cmd))
    };
    let r = sc.run().expect("test bed run");
    assert_connected_and_clean(&r, 3);
}

/// The server goes away mid-session (sstpd killed): pppd ends with EXIT_HANGUP and the log
/// says the server closed TLS without CALL_DISCONNECT; nothing is left behind.
fn server_killed(pppd: Pppd) {
    let so = build_plugin(pppd);
    let Client::Command(cmd) = plugin_client(pppd, &so, "") else {
        unreachable!()
    };
    let sc = Scenario::reference();
    let script = format!(
        ". /run/bed/sstp-scenario.sh\n\
         SC_CLIENT_CMD={}\n\
         sc_net_up && sc_pki && sc_server_start || exit 1\n\
         sc_client_start\n\
         sc_client_wait_up 30 || exit 1\n\
         sc_step 'kill -KILL sstpd'\n\
         kill -KILL \"$SC_SERVER_PID\"\n\
         if sc_wait 20 sc_not_running \"$SC_CLIENT_PID\"; then sc_fact client_ended 1; else sc_fact client_ended 0; fi\n\
         wait \"$SC_CLIENT_PID\"; sc_fact client_exit $?\n\
         sc_client_stop >/dev/null\n\
         for p in $(pgrep -x pppd); do kill -TERM $p; done; sleep 1\n\
         sc_leftovers\n\
         exit 0\n",
        shell_quote(&cmd)
    );
    let run = integration_tests::testbed::run(&script, &sc.boot_options()).expect("test bed run");
    let facts = scenario::parse_facts(&run.output);
    let log = run.read("client-pppd.log").unwrap_or_default();
    let diag = format!("{}\n--- client-pppd.log ---\n{log}", run.diagnostics());
    assert!(run.success(), "{diag}");
    assert_eq!(
        facts.get("client_ended").map(String::as_str),
        Some("1"),
        "{diag}"
    );
    assert_eq!(
        facts.get("client_exit").map(String::as_str),
        Some("16"),
        "{diag}"
    );
    assert!(
        log.contains("sstp-rs: the server closed the connection without SSTP teardown"),
        "{diag}"
    );
    assert!(log.contains("Modem hangup"), "{diag}");
    assert_eq!(
        facts.get("leftovers").map(String::as_str),
        Some(""),
        "{diag}"
    );
}

#[test]
fn plugin_pppd249_server_killed_is_exit_16() {
    if skip() {
        return;
    }
    server_killed(Pppd::V249);
}

#[test]
fn plugin_pppd252_server_killed_is_exit_16() {
    if skip() {
        return;
    }
    server_killed(Pppd::V252);
}

/// A panic injected into a pppd callback or the I/O thread (debug build) is caught: pppd logs
/// the internal error, exits with status 1 (EXIT_FATAL_ERROR), and nothing is left behind.
fn injected_fault(point: &str, where_: &str) {
    let so = build_plugin_profile(Pppd::V249, false);
    let mut sc = Scenario {
        pings: 2,
        timeout: Duration::from_secs(120),
        ..Scenario::reference().with_client(plugin_client(Pppd::V249, &so, ""))
    };
    sc.env.push(("SSTP_RS_FAULT".into(), point.into()));
    let r = sc.run().expect("test bed run");
    let diag = r.diagnostics();
    let log = pppd_log(&r);
    assert!(
        log.contains(&format!(
            "sstp-rs: internal error in {where_}: fault injected at {point}"
        )),
        "{diag}"
    );
    assert_eq!(r.fact("client_exit"), Some("1"), "{diag}");
    assert!(!r.flag("ppp_up"), "{diag}");
    assert!(r.leftovers().is_empty(), "{:?}\n{diag}", r.leftovers());
}

#[test]
fn plugin_panic_in_auth_up_notifier_fails_closed() {
    if skip() {
        return;
    }
    injected_fault("auth-up", "auth-up notifier");
}

#[test]
fn plugin_panic_in_io_thread_fails_closed() {
    if skip() {
        return;
    }
    injected_fault("io-thread", "the I/O thread");
}

/// Throughput through the tunnel, sstp-rs.so (pppd 2.4.9) vs the sstpc reference against the
/// same (Python, server-bound) sstpd in the one-CPU guest: figures to compare with each other.
#[test]
fn plugin_throughput_vs_sstpc() {
    if skip() {
        return;
    }
    let so = build_plugin(Pppd::V249);
    let (ours, r) = scenario::measure_throughput(plugin_client(Pppd::V249, &so, ""), 10)
        .expect("plugin throughput");
    assert!(r.crypto_binding_valid(), "{}", r.diagnostics());
    let (reference, _) = scenario::measure_throughput(Client::Sstpc, 10).expect("sstpc throughput");
    eprintln!(
        "iperf3 10 s through sstpd: sstp-rs.so {ours:.2} Mbit/s, sstpc {reference:.2} Mbit/s"
    );
    assert!(ours > 1.0, "sstp-rs.so {ours:.2} Mbit/s");
    assert!(
        ours > reference * 0.5,
        "sstp-rs.so {ours:.2} Mbit/s is far below sstpc's {reference:.2} Mbit/s"
    );
}

/// Decodes `sstp-ipc-fd` messages: records of u32 BE length + `key=value`, a 0 length ends a
/// message.
fn decode_ipc(mut b: &[u8]) -> Vec<Vec<(String, String)>> {
    let mut msgs = Vec::new();
    let mut cur = Vec::new();
    while b.len() >= 4 {
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        b = &b[4..];
        if n == 0 {
            msgs.push(std::mem::take(&mut cur));
            continue;
        }
        assert!(n <= b.len(), "truncated record");
        let rec = String::from_utf8(b[..n].to_vec()).expect("utf-8 record");
        let (k, v) = rec.split_once('=').expect("key=value");
        cur.push((k.to_string(), v.to_string()));
        b = &b[n..];
    }
    assert!(b.is_empty() && cur.is_empty(), "trailing bytes");
    msgs
}

/// `sstp-ipc-fd`: the IP/DNS configuration reaches the fd at ip-up (and ipv6-up, ip-down).
#[test]
fn plugin_ipc_fd_carries_ip_and_dns_config() {
    if skip() {
        return;
    }
    let so = build_plugin(Pppd::V249);
    let Client::Command(cmd) = plugin_client(Pppd::V249, &so, "usepeerdns sstp-ipc-fd 9") else {
        unreachable!()
    };
    let sc = Scenario {
        pings: 2,
        ..Scenario::reference().with_client(Client::Command(format!("{cmd} 9>\"$SC_OUT/ipc.bin\"")))
    };
    let r = sc.run().expect("test bed run");
    let diag = r.diagnostics();
    assert!(r.run.success(), "{diag}");
    let bytes = std::fs::read(r.run.scratch.join("ipc.bin")).expect("ipc.bin");
    let msgs = decode_ipc(&bytes);
    let get = |m: &Vec<(String, String)>, k: &str| -> Vec<String> {
        m.iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let up = msgs
        .iter()
        .find(|m| get(m, "event") == ["ip-up"])
        .unwrap_or_else(|| panic!("no ip-up message in {msgs:?}\n{diag}"));
    let (local, peer) = r.ppp_addresses().expect("addresses");
    assert_eq!(get(up, "ip4.local"), [local], "{msgs:?}");
    assert_eq!(get(up, "ip4.peer"), [peer], "{msgs:?}");
    assert_eq!(get(up, "ip4.dns"), ["192.0.2.53"], "{msgs:?}");
    assert_eq!(
        get(up, "ifname"),
        [r.fact("ppp_if").unwrap_or("").to_string()],
        "{msgs:?}"
    );
    assert_eq!(get(up, "server"), ["sstp-server.test:443"], "{msgs:?}");
    let v6 = msgs
        .iter()
        .find(|m| get(m, "event") == ["ipv6-up"])
        .expect("ipv6-up");
    assert_eq!(get(v6, "ip6.local-id").len(), 1, "{msgs:?}");
    assert!(
        msgs.iter().any(|m| get(m, "event") == ["ip-down"]),
        "{msgs:?}"
    );
}
