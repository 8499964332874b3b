//! The reference-client proof: sstp-client's `sstpc` + pppd 2.4.9 against the Python
//! `sstp-server` in the UML test bed. This is the anchor the project's own plugin is measured
//! against: same server, same checks, another client command.
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed.

use std::time::Duration;

use integration_tests::scenario::{self, Client, Report, Scenario, TlsVersion, Transport};

fn skip() -> bool {
    integration_tests::testbed::skip_testbed(&["/usr/sbin/sstpc"])
}

/// The checks every successful connection must pass.
fn assert_connected_and_clean(r: &Report, pings: u32) {
    let diag = r.diagnostics();
    assert!(r.flag("server_started"), "sstpd did not start\n{diag}");
    assert!(r.run.success(), "scenario failed\n{diag}");

    // sstpc's known start-up race may cost extra attempts; the scenario allows five.
    assert!((1..=5).contains(&r.client_attempts()), "{diag}");

    // ppp0 got an address from the server's pool, the peer is the server's end.
    let (local, peer) = r.ppp_addresses().expect("no PPP address");
    assert!(local.starts_with("198.51.100."), "local {local}\n{diag}");
    assert_ne!(local, scenario::PPP_SERVER_ADDR);
    assert_eq!(peer, scenario::PPP_SERVER_ADDR, "{diag}");
    let ifname = r.fact("ppp_if").unwrap_or("");
    assert!(ifname.starts_with("ppp"), "{diag}");

    // The pings went through the tunnel: the route to the peer uses the ppp interface, and the
    // interface's own counters saw every echo request and reply (the peer address lives in
    // another network namespace, so loopback cannot answer).
    let route = r.fact("route_to_peer").unwrap_or("");
    assert!(
        route.contains(&format!("dev {ifname}")),
        "route {route}\n{diag}"
    );
    if pings > 0 {
        let ping = r.ping().expect("no ping statistics");
        assert_eq!(ping.transmitted, pings, "{diag}");
        assert_eq!(ping.received, pings, "packet loss\n{diag}");
        assert_eq!(ping.loss_percent(), 0.0);
        assert!(ping.rtt_ms.is_some());
        let tx = r.number("ppp_tx_packets").unwrap_or(0.0);
        let rx = r.number("ppp_rx_packets").unwrap_or(0.0);
        assert!(tx >= f64::from(pings), "ppp tx {tx}\n{diag}");
        assert!(rx >= f64::from(pings), "ppp rx {rx}\n{diag}");
    }

    // The server verified the crypto binding (needs sstp-pppd-plugin.so on the server side).
    assert!(
        r.crypto_binding_valid(),
        "crypto binding not verified\n{diag}"
    );
    assert!(r.sstpd_log.contains("CALL_CONNECTED"), "{diag}");

    // Clean disconnect, logged by both sides.
    assert!(r.flag("client_stopped"), "client did not stop\n{diag}");
    assert!(
        r.flag("server_pppd_exited"),
        "server pppd still running\n{diag}"
    );
    assert!(
        r.client_pppd_log.contains("Connection terminated"),
        "client pppd did not log the end\n{diag}"
    );
    assert!(
        r.server_pppd_log.contains("Connection terminated")
            || r.server_pppd_log.contains("Terminating"),
        "server pppd did not log the end\n{diag}"
    );
    assert!(
        r.sstpd_log.contains("Connection finished") || r.sstpd_log.contains("pppd exited"),
        "sstpd did not log the end\n{diag}"
    );
    // The client ended the link itself (LCP Terminate-Request "User request" through the tunnel).
    assert!(
        r.client_pppd_log.contains("sent [LCP TermReq"),
        "no LCP terminate from the client\n{diag}"
    );
    assert!(
        r.server_pppd_log.contains("rcvd [LCP TermReq"),
        "the server never saw the client's LCP terminate\n{diag}"
    );

    // Nothing left behind, inside the guest or on the host.
    assert!(
        r.leftovers().is_empty(),
        "leftover processes {:?}\n{diag}",
        r.leftovers()
    );
    assert!(
        r.run.no_leftover_processes,
        "UML processes left on the host"
    );
}

#[test]
fn sstpc_against_sstpd_ipv4() {
    if skip() {
        return;
    }
    let host_options = std::fs::read("/etc/ppp/options.sstpd").ok();
    let host_secrets = std::fs::read("/etc/ppp/chap-secrets").ok();
    let r = Scenario::reference().run().unwrap();
    assert_connected_and_clean(&r, 20);
    // The server's pppd options and secrets lived in the guest's tmpfs only.
    assert_eq!(std::fs::read("/etc/ppp/options.sstpd").ok(), host_options);
    assert_eq!(std::fs::read("/etc/ppp/chap-secrets").ok(), host_secrets);
    // sstpc logs its side of the session.
    assert!(
        r.client_log.contains("Connection Established"),
        "{}",
        r.diagnostics()
    );
    eprintln!(
        "reference sstpc/IPv4: boot {:?}, scenario {:?}, connect {:?}, ping {:?}, attempts {}",
        r.run.boot_time,
        r.scenario_time(),
        r.connect_time(),
        r.ping(),
        r.client_attempts()
    );
    assert!(r.connect_time().unwrap_or(Duration::MAX) < Duration::from_secs(15));
}

#[test]
fn sstpc_against_sstpd_ipv6_transport() {
    if skip() {
        return;
    }
    let sc = Scenario {
        transport: Transport::Ipv6,
        pings: 5,
        ..Scenario::reference()
    };
    let r = sc.run().unwrap();
    assert_connected_and_clean(&r, 5);
    assert!(
        r.client_log.contains("fd00:5::2"),
        "sstpc did not connect over IPv6\n{}",
        r.diagnostics()
    );
}

#[test]
fn sstpc_against_sstpd_capped_to_tls12() {
    if skip() {
        return;
    }
    let sc = Scenario {
        tls_max: Some(TlsVersion::Tls12),
        pings: 5,
        ..Scenario::reference()
    };
    let r = sc.run().unwrap();
    assert_eq!(r.server_tls_probe(), Some("TLSv1.2"), "{}", r.diagnostics());
    assert_connected_and_clean(&r, 5);
}

#[test]
fn sstpc_against_sstpd_tls13_only() {
    if skip() {
        return;
    }
    let sc = Scenario {
        tls_min: Some(TlsVersion::Tls13),
        pings: 5,
        ..Scenario::reference()
    };
    let r = sc.run().unwrap();
    assert_eq!(r.server_tls_probe(), Some("TLSv1.3"), "{}", r.diagnostics());
    assert_connected_and_clean(&r, 5);
}

/// A client command that cannot connect: the scenario reports it instead of hanging, and still
/// tears everything down.
#[test]
fn failing_client_is_reported_and_cleaned_up() {
    if skip() {
        return;
    }
    let sc = Scenario {
        pings: 3,
        timeout: Duration::from_secs(120),
        // sstpc again: give it the latency it needs so that it reaches authentication.
        link_delay_ms: scenario::SSTPC_LINK_DELAY_MS,
        ..Scenario::reference().with_client(Client::Command(
            r#"exec sstpc --log-level 2 --log-stderr --ca-cert "$SSTP_CA" --user "$SSTP_USER" \
                 --password wrong-password "$SSTP_HOST:$SSTP_PORT" $SSTP_PPPD_OPTS"#
                .into(),
        ))
    };
    let r = sc.run().unwrap();
    let diag = r.diagnostics();
    assert!(r.flag("server_started"), "{diag}");
    assert_eq!(r.run.status, Some(1), "{diag}");
    assert!(!r.flag("ppp_up"), "{diag}");
    assert!(r.ping().is_none());
    assert!(!r.crypto_binding_valid());
    // The server refused the password (MS-CHAPv2 E=691), the client saw it.
    assert!(
        r.server_pppd_log.contains("failed CHAP authentication"),
        "{diag}"
    );
    assert!(
        r.client_pppd_log.contains("MS-CHAP authentication failed"),
        "{diag}"
    );
    assert!(r.leftovers().is_empty(), "{:?}\n{diag}", r.leftovers());
}

/// The throughput helper for later benchmarks: iperf3 through the tunnel (figure printed, not
/// asserted beyond "something went through").
#[test]
fn throughput_helper_measures_through_the_tunnel() {
    if skip() {
        return;
    }
    let (mbps, r) = scenario::measure_throughput(Client::Sstpc, 3).unwrap();
    assert!(r.run.success(), "{}", r.diagnostics());
    assert!(mbps > 0.1, "{mbps} Mbit/s\n{}", r.diagnostics());
    // The bytes crossed the PPP link: the server's iperf3 listened on its PPP address only.
    assert_eq!(r.fact("ppp_peer"), Some(scenario::PPP_SERVER_ADDR));
    assert!(r.leftovers().is_empty(), "{:?}", r.leftovers());
    eprintln!("reference sstpc/IPv4 iperf3 through the tunnel: {mbps:.2} Mbit/s");
}
