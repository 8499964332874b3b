//! `sstp probe` end to end against a loopback TLS + SSTP server, and its failure diagnoses and
//! exit codes.

mod common;

use common::{sstp, texts, Mode, Server};
use sstp_proto::wire::MessageType;
use sstp_proto::HashProtocols;

#[test]
fn probe_reports_every_phase_and_disconnects_politely() {
    let server = Server::start(Mode::Sstp(HashProtocols::BOTH));
    let dir = tempfile::tempdir().unwrap();
    let ca = server.write_ca(dir.path());
    let t0 = std::time::Instant::now();
    let out = sstp(&[
        "probe",
        &server.addr(),
        "--ca-file",
        ca.to_str().unwrap(),
        "--timeout",
        "10",
    ]);
    let wall = t0.elapsed();
    let (stdout, stderr) = texts(&out);
    println!("--- stderr\n{stderr}--- stdout\n{stdout}--- wall time {wall:?}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // progress on stderr
    assert!(
        stderr.contains(&format!("connecting to {} ", server.addr())),
        "{stderr}"
    );
    assert!(stderr.contains("sending CALL_CONNECT_REQUEST"), "{stderr}");
    // phases with timings
    for phase in ["resolve", "tcp", "tls", "http", "sstp"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(phase))
            .unwrap_or_else(|| panic!("no {phase} line in\n{stdout}"));
        assert!(line.contains(" ms"), "{line}");
    }
    assert!(
        stdout.contains(&format!("connected to {}", server.addr())),
        "{stdout}"
    );
    assert!(stdout.contains("HTTP/1.1 200 OK"), "{stdout}");
    assert!(
        stdout.contains("Content-Length: 18446744073709551615"),
        "{stdout}"
    );
    assert!(stdout.contains("Server: Microsoft-HTTPAPI/2.0"), "{stdout}");
    // certificate
    assert!(stdout.contains("CN=sstp-test"), "{stdout}");
    assert!(
        stdout.contains("DNS:localhost, IP:127.0.0.1, IP:::1"),
        "{stdout}"
    );
    assert!(stdout.contains("Server Authentication"), "{stdout}");
    assert!(
        stdout.contains(&format!("SHA-256:  {}", server.sha256_hex)),
        "{stdout}"
    );
    assert!(stdout.contains("SHA-1:    "), "{stdout}");
    assert!(
        stdout.contains(&format!("sstp-cert-pin sha256:{}", server.sha256_hex)),
        "{stdout}"
    );
    // TLS and SSTP
    assert!(stdout.contains("TLSv1.3"), "{stdout}");
    assert!(
        stdout.contains("crypto binding offered:  SHA1|SHA256 (bitmask 0x03)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would use:               SHA256"),
        "{stdout}"
    );
    assert!(stdout.contains("CALL_DISCONNECT, acknowledged"), "{stdout}");

    let seen = server.finish().unwrap();
    assert!(
        seen.request_head.starts_with(
            "SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n"
        ),
        "{}",
        seen.request_head
    );
    assert_eq!(
        seen.messages,
        [MessageType::CallConnectRequest, MessageType::CallDisconnect]
    );
    assert!(seen.close_notify, "TLS was not closed with close_notify");
}

#[test]
fn probe_json_with_pin_and_sha1_only_server() {
    let server = Server::start(Mode::Sstp(HashProtocols::SHA1));
    let pin = format!("sha256:{}", server.sha256_hex);
    let out = sstp(&["probe", &server.addr(), "--pin", &pin, "--json", "--quiet"]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.is_empty(), "--quiet printed: {stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(j["ok"], true);
    assert_eq!(j["certificate"]["sha256"], server.sha256_hex.as_str());
    assert_eq!(j["certificate"]["pin"], pin.as_str());
    assert_eq!(j["certificate"]["sha1"].as_str().unwrap().len(), 40);
    assert_eq!(
        j["sstp"]["hash_protocols_offered"],
        serde_json::json!(["SHA1"])
    );
    assert_eq!(j["sstp"]["hash_protocol_chosen"], "SHA1");
    assert_eq!(j["peer_address"], server.addr().as_str());
    assert_eq!(j["http"]["status_line"], "HTTP/1.1 200 OK");
    assert_eq!(j["teardown"]["acknowledged"], true);
    for t in ["resolve", "tcp", "tls", "http", "sstp"] {
        assert!(j["timings_ms"][t].as_f64().unwrap() >= 0.0, "{t}");
    }
    server.finish().unwrap();
}

#[test]
fn untrusted_certificate_shows_the_pin_line_and_exits_6() {
    let server = Server::start(Mode::Sstp(HashProtocols::BOTH));
    let out = sstp(&["probe", &server.addr(), "--timeout", "10"]);
    let (_, stderr) = texts(&out);
    println!("--- stderr\n{stderr}");
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("is not trusted"), "{stderr}");
    assert!(
        stderr.contains(&format!("sstp-cert-pin sha256:{}", server.sha256_hex)),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("--pin sha256:{}", server.sha256_hex)),
        "{stderr}"
    );
    assert!(stderr.contains("exit code 6"), "{stderr}");
    // the server saw a failed handshake, not a request
    assert!(server.finish().is_err());
}

#[test]
fn wrong_pin_is_a_trust_failure_in_json_too() {
    let server = Server::start(Mode::Sstp(HashProtocols::BOTH));
    let wrong = format!("sha256:{}", "00".repeat(32));
    let out = sstp(&["probe", &server.addr(), "--pin", &wrong, "--json", "-q"]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(j["ok"], false);
    assert_eq!(j["exit_code"], 6);
    assert_eq!(j["category"], "trust");
    assert_eq!(j["certificate"]["sha256"], server.sha256_hex.as_str());
    assert!(
        stderr.contains("does not match the configured pin"),
        "{stderr}"
    );
    let _ = server.finish();
}

#[test]
fn http_1_0_answer_exits_7() {
    let server = Server::start(Mode::Http10);
    let dir = tempfile::tempdir().unwrap();
    let ca = server.write_ca(dir.path());
    let out = sstp(&["probe", &server.addr(), "--ca-file", ca.to_str().unwrap()]);
    let (_, stderr) = texts(&out);
    println!("--- stderr\n{stderr}");
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("HTTP/1.0"), "{stderr}");
    assert!(stderr.contains("exit code 7"), "{stderr}");
    server.finish().unwrap();
}

#[test]
fn nak_exits_9() {
    let server = Server::start(Mode::Nak);
    let pin = format!("sha256:{}", server.sha256_hex);
    let out = sstp(&["probe", &server.addr(), "--pin", &pin, "--timeout", "10"]);
    let (_, stderr) = texts(&out);
    println!("--- stderr\n{stderr}");
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert!(stderr.contains("CALL_CONNECT_NAK"), "{stderr}");
    let seen = server.finish().unwrap();
    assert!(
        seen.messages
            .iter()
            .filter(|m| **m == MessageType::CallConnectRequest)
            .count()
            >= 2,
        "NAKs are retried: {:?}",
        seen.messages
    );
}

#[test]
fn not_tls_exits_5() {
    let server = Server::start(Mode::NotTls);
    let out = sstp(&["probe", &server.addr(), "--timeout", "5"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("TLS handshake with"), "{stderr}");
    let _ = server.finish();
}

#[test]
fn unresolvable_name_exits_3() {
    let out = sstp(&["probe", "no-such-host.invalid"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot resolve the server name"),
        "{stderr}"
    );
    assert!(stderr.contains("no-such-host.invalid"), "{stderr}");
}

#[test]
fn refused_port_exits_4_naming_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = sstp(&["probe", &format!("127.0.0.1:{port}"), "--json", "-q"]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}: connection refused")),
        "{stderr}"
    );
    assert!(stderr.contains("nothing listens on that port"), "{stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["category"], "connect");
    assert_eq!(j["resolved"], serde_json::json!(["127.0.0.1"]));
}

#[test]
fn probe_by_name_keeps_the_name_for_sni_host_and_certificate_check() {
    // The probe connects address by address; the name must still be used for SNI, the Host
    // header and the certificate check (the SAN has DNS:localhost).
    let server = Server::start(Mode::Sstp(HashProtocols::SHA256));
    let dir = tempfile::tempdir().unwrap();
    let ca = server.write_ca(dir.path());
    let out = sstp(&[
        "probe",
        &format!("localhost:{}", server.port),
        "--ca-file",
        ca.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["peer_address"], server.addr().as_str());
    let resolved: Vec<String> = j["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(resolved.contains(&"127.0.0.1".to_owned()), "{resolved:?}");
    let ipv6_first = resolved.first().is_some_and(|a| a == "::1");
    if ipv6_first {
        // the server listens on IPv4 only: ::1 was tried and refused first
        assert_eq!(
            j["failed_attempts"][0]["address"],
            format!("[::1]:{}", server.port)
        );
    }
    let port = server.port;
    let seen = server.finish().unwrap();
    assert!(
        seen.request_head
            .contains(&format!("\r\nHost: localhost:{port}\r\n")),
        "{}",
        seen.request_head
    );
}

#[test]
fn probe_through_a_proxy_reports_the_proxy_phase() {
    let server = Server::start(Mode::Sstp(HashProtocols::BOTH));
    let proxy = common::Proxy::start(common::ProxyMode::Allow);
    let pin = format!("sha256:{}", server.sha256_hex);
    let out = sstp(&[
        "probe",
        &server.addr(),
        "--pin",
        &pin,
        "--proxy",
        &proxy.url(),
    ]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("through the HTTP proxy 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stdout.contains("CONNECT accepted"), "{stdout}");
    assert!(
        stdout.contains(&format!("connected to 127.0.0.1:{} (proxy)", proxy.port)),
        "{stdout}"
    );
    assert!(stdout.contains("CALL_DISCONNECT, acknowledged"), "{stdout}");
    let head = proxy.finish();
    assert!(
        head.starts_with(&format!("CONNECT {} HTTP/1.1\r\n", server.addr())),
        "{head}"
    );
    server.finish().unwrap();
}

#[test]
fn proxy_refusals_exit_8() {
    for (status, want) in [
        (403, "refused the CONNECT with HTTP 403"),
        (407, "demands authentication"),
    ] {
        let proxy = common::Proxy::start(common::ProxyMode::Refuse(status));
        let out = sstp(&[
            "probe",
            "127.0.0.1:9",
            "--proxy",
            &proxy.url(),
            "--timeout",
            "5",
        ]);
        let (_, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(8), "{status}: {stderr}");
        assert!(stderr.contains(want), "{status}: {stderr}");
        proxy.finish();
    }
}

#[test]
fn probe_over_ipv6_loopback() {
    let Ok(server) = Server::start_on("[::1]:0", Mode::Sstp(HashProtocols::BOTH)) else {
        eprintln!("skipped: no IPv6 loopback");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = server.write_ca(dir.path());
    let addr = server.addr();
    assert!(addr.starts_with("[::1]:"), "{addr}");
    let out = sstp(&[
        "probe",
        &addr,
        "--ca-file",
        ca.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["peer_address"], addr.as_str());
    assert_eq!(j["resolved"], serde_json::json!(["::1"]));
    let seen = server.finish().unwrap();
    assert!(
        seen.request_head.contains("\r\nHost: [::1]:"),
        "{}",
        seen.request_head
    );
}

#[test]
fn proxy_password_from_a_file_answers_a_basic_challenge() {
    let server = Server::start(Mode::Sstp(HashProtocols::BOTH));
    // base64("alice:pr0xy pw")
    let proxy = common::Proxy::start(common::ProxyMode::Basic("Basic YWxpY2U6cHIweHkgcHc="));
    let dir = tempfile::tempdir().unwrap();
    let pwf = dir.path().join("proxy-pw");
    std::fs::write(&pwf, "pr0xy pw\n").unwrap();
    let pin = format!("sha256:{}", server.sha256_hex);
    let out = sstp(&[
        "probe",
        &server.addr(),
        "--pin",
        &pin,
        "--proxy",
        &proxy.url(),
        "--proxy-user",
        "alice",
        "--proxy-password-file",
        pwf.to_str().unwrap(),
        "-q",
    ]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("CONNECT accepted"), "{stdout}");
    let heads = proxy.finish();
    assert!(
        heads.contains("Proxy-Authorization: Basic YWxpY2U6cHIweHkgcHc="),
        "{heads}"
    );
    server.finish().unwrap();

    // without the password the proxy's 407 is exit 8
    let proxy = common::Proxy::start(common::ProxyMode::Basic("Basic YWxpY2U6cHIweHkgcHc="));
    let out = sstp(&["probe", "127.0.0.1:9", "--proxy", &proxy.url(), "-q"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("configure proxy credentials"), "{stderr}");
    proxy.finish();

    // a password file needs --proxy
    let out = sstp(&["probe", "h", "--proxy-password-file", pwf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
