//! `sstp probe` against the project's SSTP test server (`sstp-test-server`) and its fault
//! modes: a CA-issued chain, certificate problems, HTTP and SSTP faults, TLS version mismatch.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use common::{sstp, texts};
use sstp_proto::wire::StatusCode;
use sstp_test_server::certs::{Ca, CertSpec, Eku};
use sstp_test_server::{spawn, EndReason, Fault, Outcome, ServerConfig, ServerHandle};

struct Setup {
    server: ServerHandle,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn addr(&self) -> String {
        self.server.addr().to_string()
    }
}

fn start(spec: CertSpec, tweak: impl FnOnce(&mut ServerConfig)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("sstp-rs test CA").unwrap();
    let leaf = ca.issue(&spec).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert().to_pem().unwrap()).unwrap();
    let mut cfg = ServerConfig::new(leaf.cert, leaf.key);
    cfg.verbose = false;
    tweak(&mut cfg);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    Setup {
        server: spawn(listener, cfg).unwrap(),
        ca_file,
        _dir: dir,
    }
}

fn probe(s: &Setup, extra: &[&str]) -> (Option<i32>, String, String) {
    let addr = s.addr();
    let mut args = vec![
        "probe",
        addr.as_str(),
        "--ca-file",
        s.ca_file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = sstp(&args);
    let (o, e) = texts(&out);
    (out.status.code(), o, e)
}

#[test]
fn ca_issued_chain_is_trusted_and_the_server_sees_a_clean_disconnect() {
    let s = start(CertSpec::localhost(), |_| {});
    let (code, stdout, stderr) = probe(&s, &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("CN=localhost"), "{stdout}");
    let issuer = stdout.lines().find(|l| l.contains("issuer:")).unwrap();
    assert!(issuer.contains("CN=sstp-rs test CA"), "{issuer}");
    assert!(!issuer.contains("self-signed"), "{issuer}");
    assert!(stdout.contains("SHA1|SHA256"), "{stdout}");
    let r = s
        .server
        .next_report(Duration::from_secs(10))
        .expect("a session report");
    assert!(
        matches!(r.outcome, Outcome::Session(EndReason::ClientDisconnect(_))),
        "{:?}",
        r.outcome
    );
}

#[test]
fn certificate_problems_exit_6_with_the_reason() {
    let cases: [(CertSpec, &str); 3] = [
        (
            CertSpec::localhost().expired(),
            "outside its validity period",
        ),
        (
            CertSpec::server("vpn.example.com"),
            "is not issued for \"127.0.0.1\"",
        ),
        (
            CertSpec::localhost().with_eku(Eku::ClientAuthOnly),
            "Extended Key Usage",
        ),
    ];
    for (spec, want) in cases {
        let s = start(spec, |_| {});
        let (code, _, stderr) = probe(&s, &[]);
        assert_eq!(code, Some(6), "{want}: {stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert!(stderr.contains("sstp-cert-pin sha256:"), "{stderr}");
    }
}

#[test]
fn no_eku_check_accepts_a_client_auth_certificate() {
    let s = start(CertSpec::localhost().with_eku(Eku::ClientAuthOnly), |_| {});
    let (code, stdout, stderr) = probe(&s, &["--no-eku-check"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("Client Authentication"), "{stdout}");
}

#[test]
fn sni_override_checks_the_certificate_against_that_name() {
    let s = start(CertSpec::server("vpn.example.com"), |_| {});
    let (code, stdout, stderr) = probe(&s, &["--sni", "vpn.example.com"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("DNS:vpn.example.com"), "{stdout}");
}

#[test]
fn http_faults_exit_7() {
    for (fault, want) in [
        (Fault::HttpStatus(403), "403"),
        (Fault::Http10, "HTTP/1.0"),
        (Fault::CloseAfterTls, "SSTP handshake with"),
    ] {
        let s = start(CertSpec::localhost(), |c| c.fault = fault);
        let (code, _, stderr) = probe(&s, &["--timeout", "5"]);
        assert_eq!(code, Some(7), "{fault}: {stderr}");
        assert!(stderr.contains(want), "{fault}: {stderr}");
    }
}

#[test]
fn no_http_response_times_out_with_exit_7() {
    let s = start(CertSpec::localhost(), |c| c.fault = Fault::NoHttpResponse);
    let t0 = std::time::Instant::now();
    let (code, _, stderr) = probe(&s, &["--timeout", "1"]);
    assert_eq!(code, Some(7), "{stderr}");
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn sstp_faults_exit_9() {
    let s = start(CertSpec::localhost(), |c| {
        c.fault = Fault::Nak(StatusCode::ValueNotSupported)
    });
    let (code, _, stderr) = probe(&s, &[]);
    assert_eq!(code, Some(9), "{stderr}");
    assert!(stderr.contains("CALL_CONNECT_NAK"), "{stderr}");
    assert!(stderr.contains("VALUE_NOT_SUPPORTED"), "{stderr}");

    let s = start(CertSpec::localhost(), |c| c.fault = Fault::SilentAfterHttp);
    let (code, _, stderr) = probe(&s, &["--timeout", "1"]);
    assert_eq!(code, Some(9), "{stderr}");
    assert!(
        stderr.contains("timed out waiting for CALL_CONNECT_ACK"),
        "{stderr}"
    );
}

#[test]
fn tls_version_mismatch_exits_5() {
    let s = start(CertSpec::localhost(), |c| {
        c.min_tls = Some(openssl::ssl::SslVersion::TLS1_3)
    });
    let (code, _, stderr) = probe(&s, &["--tls-max", "1.2"]);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("TLS handshake with"), "{stderr}");
}

#[test]
fn sha256_only_server_is_reported() {
    let s = start(CertSpec::localhost(), |c| {
        c.hash_protocols = sstp_proto::HashProtocols::SHA256
    });
    let (code, stdout, stderr) = probe(&s, &["--json", "-q"]);
    assert_eq!(code, Some(0), "{stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        j["sstp"]["hash_protocols_offered"],
        serde_json::json!(["SHA256"])
    );
    assert_eq!(j["sstp"]["hash_protocols_bitmask"], 2);
    assert!(j["certificate"]["issuer"]
        .as_str()
        .unwrap()
        .contains("CN=sstp-rs test CA"));
    assert_eq!(j["certificate"]["self_signed"], false);
}

#[test]
fn progress_lines_keep_coming_while_the_server_is_silent() {
    let loud = start(CertSpec::localhost(), |c| c.fault = Fault::SilentAfterHttp);
    let quiet = start(CertSpec::localhost(), |c| c.fault = Fault::SilentAfterHttp);
    // both 6-second waits at once
    let (la, lc) = (loud.addr(), loud.ca_file.clone());
    let bg = std::thread::spawn(move || {
        let out = sstp(&[
            "probe",
            &la,
            "--ca-file",
            lc.to_str().unwrap(),
            "--timeout",
            "6",
        ]);
        let (o, e) = texts(&out);
        (out.status.code(), o, e)
    });
    let q = probe(&quiet, &["--timeout", "6", "-q"]);
    let l = bg.join().unwrap();
    let (code, _, stderr) = l;
    assert_eq!(code, Some(9), "{stderr}");
    assert!(
        stderr.contains("... still waiting for CALL_CONNECT_ACK (5 s)"),
        "{stderr}"
    );
    // -q silences them
    let (code, _, stderr) = q;
    assert_eq!(code, Some(9), "{stderr}");
    assert!(!stderr.contains("still"), "{stderr}");
    assert!(!stderr.contains("resolving"), "{stderr}");
}
