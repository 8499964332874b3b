//! connect(): every success and failure shape against loopback TLS servers.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use openssl::ssl::SslVersion;
use sstp_proto::http::{HttpError, Malformed};
use sstp_tunnel::*;

fn cfg_for(server: &str, port: u16, ca: &Ca) -> TunnelConfig {
    let mut c = TunnelConfig::new(server);
    c.port = port;
    c.ca_file = Some(ca.file.clone());
    c.tls_timeout = Duration::from_secs(10);
    c.handshake_timeout = Duration::from_secs(10);
    c
}

fn trust_err(e: TunnelError) -> TrustError {
    match e {
        TunnelError::Trust(t) => *t,
        other => panic!("expected a trust error, got: {other}"),
    }
}

#[test]
fn success_reports_certificate_request_and_leftover() {
    let ca = Ca::new("Test CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let mut reply = RRAS_OK.to_vec();
    reply.extend_from_slice(&[0x10, 0x01, 0x00, 0x30]); // first bytes of an SSTP packet
    let srv = tls_server(ServerOpts::new(cert.clone(), key, Reply::Bytes(reply)));
    let cfg = cfg_for("localhost", srv.addr.port(), &ca);
    let est = connect(&cfg).expect("connects");

    assert_eq!(est.http.response.status, 200);
    assert_eq!(est.http.response.reason, "");
    assert!(est.http.warnings.is_empty());
    assert_eq!(est.peer_cert_der, cert.to_der().unwrap());
    assert_eq!(est.cert.subject, "O=sstp-rs test, CN=localhost");
    assert_eq!(est.cert.issuer, "O=sstp-rs test, CN=Test CA");
    assert_eq!(est.cert.dns_names, vec!["localhost".to_string()]);
    assert_eq!(
        est.cert.eku,
        Eku::Listed(vec!["Server Authentication".into()])
    );
    assert_eq!(est.cert.sha256_hex(), sha256_hex(&cert));
    assert_eq!(
        est.cert.pin_option_line(),
        format!("sstp-cert-pin sha256:{}", sha256_hex(&cert))
    );
    assert!(!est.cert.self_signed);
    assert_eq!(est.peer_addr, srv.addr);
    assert!(!est.via_proxy);
    assert!(est.tls_version.starts_with("TLSv1."));
    assert!(!est.cipher.is_empty());
    assert!(est.timings.tls > Duration::ZERO);
    assert_eq!(est.leftover, vec![0x10, 0x01, 0x00, 0x30]);
    let id = est.correlation_id.to_string();
    drop(est);

    let seen = srv.join().unwrap();
    assert_eq!(seen.sni.as_deref(), Some("localhost"));
    let req = String::from_utf8(seen.request).unwrap();
    let expected = format!(
        "SSTP_DUPLEX_POST /sra_{{BA195980-CD49-458b-9E23-C84EE0ADCD75}}/ HTTP/1.1\r\n\
         Host: localhost:{}\r\nContent-Length: 18446744073709551615\r\n\
         SSTPCORRELATIONID: {id}\r\n\r\n",
        srv_port(&cfg)
    );
    assert_eq!(req, expected);
}

fn srv_port(c: &TunnelConfig) -> u16 {
    c.port
}

#[test]
fn untrusted_chain_shows_certificate_and_pin_line() {
    let ca = Ca::new("Trusted CA");
    let rogue = Ca::new("Rogue CA");
    let (cert, key) = rogue.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(
        cert.clone(),
        key,
        Reply::Bytes(RRAS_OK.to_vec()),
    ));
    let err = connect(&cfg_for("localhost", srv.addr.port(), &ca)).unwrap_err();
    assert_eq!(err.category(), FailureCategory::Trust);
    let text = err.to_string();
    eprintln!("{text}");
    let t = trust_err(err);
    assert_eq!(t.kind, TrustFailureKind::UntrustedChain);
    let info = t.cert.expect("leaf captured");
    assert_eq!(info.sha256_hex(), sha256_hex(&cert));
    for needle in [
        "not trusted",
        "subject:  O=sstp-rs test, CN=localhost",
        "issuer:   O=sstp-rs test, CN=Rogue CA",
        "validity:",
        "SAN:      DNS:localhost",
        "EKU:      Server Authentication",
        "OpenSSL: unable to get local issuer certificate",
        &format!("sstp-cert-pin sha256:{}", sha256_hex(&cert)),
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let _ = srv.join();
}

#[test]
fn name_mismatch_and_sni_override() {
    let ca = Ca::new("CA");
    let (cert, key) = ca.issue(&LeafSpec::server("vpn.example.test"));
    let srv = tls_server(ServerOpts::new(
        cert.clone(),
        key.clone(),
        Reply::Bytes(RRAS_OK.to_vec()),
    ));
    let err = connect(&cfg_for("localhost", srv.addr.port(), &ca)).unwrap_err();
    let text = err.to_string();
    let t = trust_err(err);
    assert_eq!(
        t.kind,
        TrustFailureKind::NameMismatch {
            expected: "localhost".into()
        }
    );
    assert!(text.contains("not issued for \"localhost\""), "{text}");
    assert!(text.contains("hostname mismatch"), "{text}");
    let _ = srv.join();

    // Connecting by address with the SNI/Host override succeeds and sends the override.
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let mut cfg = cfg_for("127.0.0.1", srv.addr.port(), &ca);
    cfg.sni = Some("vpn.example.test".into());
    connect(&cfg).expect("override works");
    let seen = srv.join().unwrap();
    assert_eq!(seen.sni.as_deref(), Some("vpn.example.test"));
    let req = String::from_utf8(seen.request).unwrap();
    assert!(
        req.contains(&format!("\r\nHost: vpn.example.test:{}\r\n", cfg.port)),
        "{req}"
    );
}

#[test]
fn ip_san_v4_and_v6() {
    let ca = Ca::new("CA");
    let mut spec = LeafSpec::server("server-by-ip");
    spec.dns = vec![];
    spec.ips = vec!["127.0.0.1".into(), "::1".into()];
    let (cert, key) = ca.issue(&spec);
    let srv = tls_server(ServerOpts::new(
        cert.clone(),
        key.clone(),
        Reply::Bytes(RRAS_OK.to_vec()),
    ));
    let est = connect(&cfg_for("127.0.0.1", srv.addr.port(), &ca)).expect("IPv4 SAN");
    assert_eq!(est.cert.ip_addresses.len(), 2);
    assert_eq!(est.cert.san_text(), "IP:127.0.0.1, IP:::1");
    drop(est);
    let seen = srv.join().unwrap();
    assert_eq!(seen.sni, None, "no SNI for an IP address");

    let mut o = ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec()));
    o.bind = "[::1]:0";
    let srv = tls_server(o);
    let port = srv.addr.port();
    let est = connect(&cfg_for("::1", port, &ca)).expect("IPv6 SAN");
    assert!(est.peer_addr.is_ipv6());
    drop(est);
    let seen = srv.join().unwrap();
    let req = String::from_utf8(seen.request).unwrap();
    assert!(
        req.contains(&format!("\r\nHost: [::1]:{port}\r\n")),
        "{req}"
    );

    // The IP not in the certificate fails.
    let (cert2, key2) = ca.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(cert2, key2, Reply::Bytes(RRAS_OK.to_vec())));
    let t = trust_err(connect(&cfg_for("127.0.0.1", srv.addr.port(), &ca)).unwrap_err());
    assert_eq!(
        t.kind,
        TrustFailureKind::NameMismatch {
            expected: "127.0.0.1".into()
        }
    );
    let _ = srv.join();
}

#[test]
fn wildcard_matches_one_label_only() {
    let ca = Ca::new("CA");
    let mut spec = LeafSpec::server("*.example.test");
    spec.dns = vec!["*.example.test".into()];
    let (cert, key) = ca.issue(&spec);
    let srv = tls_server(ServerOpts::new(
        cert.clone(),
        key.clone(),
        Reply::Bytes(RRAS_OK.to_vec()),
    ));
    let mut cfg = cfg_for("127.0.0.1", srv.addr.port(), &ca);
    cfg.sni = Some("vpn.example.test".into());
    connect(&cfg).expect("wildcard matches");
    let _ = srv.join();

    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let mut cfg = cfg_for("127.0.0.1", srv.addr.port(), &ca);
    cfg.sni = Some("a.vpn.example.test".into());
    let t = trust_err(connect(&cfg).unwrap_err());
    assert!(matches!(t.kind, TrustFailureKind::NameMismatch { .. }));
    let _ = srv.join();
}

#[test]
fn eku_rules_like_windows() {
    let ca = Ca::new("CA");
    // clientAuth only: refused with the EKU reason
    let mut spec = LeafSpec::server("localhost");
    spec.eku = vec!["clientAuth"];
    let (cert, key) = ca.issue(&spec);
    let srv = tls_server(ServerOpts::new(
        cert.clone(),
        key.clone(),
        Reply::Bytes(RRAS_OK.to_vec()),
    ));
    let err = connect(&cfg_for("localhost", srv.addr.port(), &ca)).unwrap_err();
    let text = err.to_string();
    let t = trust_err(err);
    assert_eq!(t.kind, TrustFailureKind::Eku);
    assert!(
        text.contains("neither Server Authentication nor Any Purpose"),
        "{text}"
    );
    assert!(text.contains("EKU:      Client Authentication"), "{text}");
    let _ = srv.join();

    // ...accepted when the EKU check is switched off
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.check_eku = false;
    connect(&cfg).expect("EKU check off");
    let _ = srv.join();

    // Any Purpose: accepted (OpenSSL alone would refuse it)
    let mut spec = LeafSpec::server("localhost");
    spec.eku = vec!["anyExtendedKeyUsage"];
    let (cert, key) = ca.issue(&spec);
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let est = connect(&cfg_for("localhost", srv.addr.port(), &ca)).expect("Any Purpose");
    assert_eq!(est.cert.eku, Eku::Listed(vec!["Any Purpose".into()]));
    drop(est);
    let _ = srv.join();

    // No EKU extension: accepted
    let mut spec = LeafSpec::server("localhost");
    spec.eku = vec![];
    let (cert, key) = ca.issue(&spec);
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let est = connect(&cfg_for("localhost", srv.addr.port(), &ca)).expect("no EKU");
    assert_eq!(est.cert.eku, Eku::Absent);
    drop(est);
    let _ = srv.join();
}

#[test]
fn expired_certificate() {
    let ca = Ca::new("CA");
    let mut spec = LeafSpec::server("localhost");
    spec.expired = true;
    let (cert, key) = ca.issue(&spec);
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let err = connect(&cfg_for("localhost", srv.addr.port(), &ca)).unwrap_err();
    let text = err.to_string();
    let t = trust_err(err);
    assert_eq!(t.kind, TrustFailureKind::Validity);
    assert!(text.contains("certificate has expired"), "{text}");
    assert!(text.contains("2020"), "validity shown: {text}");
    let _ = srv.join();
}

#[test]
fn pin_accepts_self_signed_and_rejects_mismatch() {
    let ca = Ca::new("CA (not used for the pinned server)");
    let mut spec = LeafSpec::server("whatever.invalid");
    spec.eku = vec!["clientAuth"]; // pin replaces all checks
    let (cert, key) = self_signed(&spec);
    let pin: CertPin = format!("sha256:{}", sha256_hex(&cert)).parse().unwrap();

    let srv = tls_server(ServerOpts::new(
        cert.clone(),
        key.clone(),
        Reply::Bytes(RRAS_OK.to_vec()),
    ));
    let mut cfg = cfg_for("127.0.0.1", srv.addr.port(), &ca);
    cfg.pin = Some(pin);
    let est = connect(&cfg).expect("pinned self-signed");
    assert!(est.cert.self_signed);
    assert_eq!(est.cert.pin(), pin);
    drop(est);
    let _ = srv.join();

    // A valid, CA-signed certificate that is not the pinned one is refused.
    let (other, okey) = ca.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(
        other.clone(),
        okey,
        Reply::Bytes(RRAS_OK.to_vec()),
    ));
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.pin = Some(pin);
    let err = connect(&cfg).unwrap_err();
    let text = err.to_string();
    let t = trust_err(err);
    assert_eq!(
        t.kind,
        TrustFailureKind::PinMismatch {
            expected: pin.to_option_value()
        }
    );
    assert!(
        text.contains(&format!("SHA-256:  {}", sha256_hex(&other))),
        "{text}"
    );
    assert!(
        text.contains(&format!("sstp-cert-pin sha256:{}", sha256_hex(&other))),
        "{text}"
    );
    let _ = srv.join();
}

/// `accept_untrusted` (NetworkManager's ignore-cert-warn): a self-signed certificate for
/// another name and only clientAuth connects, with every failure kind reported; the default
/// still refuses; a pin is never overridden.
#[test]
fn accept_untrusted_connects_and_reports_what_failed() {
    let ca = Ca::new("Trusted CA");
    let mut spec = LeafSpec::server("other.invalid");
    spec.eku = vec!["clientAuth"];
    let (cert, key) = self_signed(&spec);
    let serve = || {
        tls_server(ServerOpts::new(
            cert.clone(),
            key.clone(),
            Reply::Bytes(RRAS_OK.to_vec()),
        ))
    };
    let srv = serve();
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.accept_untrusted = true;
    let est = connect(&cfg).expect("accepted although untrusted");
    let t = est
        .accepted_untrusted
        .as_deref()
        .expect("the failure is reported");
    assert_eq!(t.kind, TrustFailureKind::UntrustedChain);
    let text = t.to_string();
    assert!(
        text.contains(&format!("sstp-cert-pin sha256:{}", sha256_hex(&cert))),
        "{text}"
    );
    assert_eq!(est.cert.sha256_hex(), sha256_hex(&cert));
    drop(est);
    let _ = srv.join();

    let srv = serve();
    let strict = cfg_for("localhost", srv.addr.port(), &ca);
    assert_eq!(
        trust_err(connect(&strict).unwrap_err()).kind,
        TrustFailureKind::UntrustedChain
    );
    let _ = srv.join();

    let srv = serve();
    let mut pinned = cfg_for("localhost", srv.addr.port(), &ca);
    pinned.accept_untrusted = true;
    pinned.pin = Some(format!("sha256:{}", "00".repeat(32)).parse().unwrap());
    let t = trust_err(connect(&pinned).unwrap_err());
    assert!(
        matches!(t.kind, TrustFailureKind::PinMismatch { .. }),
        "{t}"
    );
    let _ = srv.join();
}

/// A trusted certificate under `accept_untrusted` reports nothing accepted.
#[test]
fn accept_untrusted_with_a_trusted_certificate_reports_nothing() {
    let ca = Ca::new("Trusted CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.accept_untrusted = true;
    let est = connect(&cfg).expect("trusted");
    assert!(est.accepted_untrusted.is_none());
    drop(est);
    let _ = srv.join();
}

fn http_err(e: TunnelError) -> HttpError {
    match e {
        TunnelError::Http { source, .. } => source,
        other => panic!("expected an HTTP error, got: {other}"),
    }
}

fn answer(
    reply: Reply,
    handshake_timeout: Duration,
) -> (Result<Established, TunnelError>, Duration) {
    let ca = Ca::new("CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(cert, key, reply));
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.handshake_timeout = handshake_timeout;
    let t0 = Instant::now();
    let r = connect(&cfg);
    let took = t0.elapsed();
    (r, took)
}

#[test]
fn http_version_errors() {
    let (r, _) = answer(
        Reply::Bytes(b"HTTP/1.0 200 OK\r\n\r\n".to_vec()),
        Duration::from_secs(10),
    );
    let e = r.unwrap_err();
    assert_eq!(e.category(), FailureCategory::Http);
    let text = e.to_string();
    assert_eq!(http_err(e), HttpError::VersionNot11("HTTP/1.0".into()));
    assert!(text.contains("HTTP/1.0 instead of HTTP/1.1"), "{text}");

    let (r, _) = answer(
        Reply::Bytes(b"200 OK\r\n\r\n".to_vec()),
        Duration::from_secs(10),
    );
    assert_eq!(
        http_err(r.unwrap_err()),
        HttpError::NoVersion {
            status_line: "200 OK".into()
        }
    );
}

#[test]
fn http_refusals() {
    for (status, reason) in [
        (403u16, "Forbidden"),
        (404, "Not Found"),
        (503, "Service Unavailable"),
    ] {
        let raw = format!("HTTP/1.1 {status} {reason}\r\nServer: Microsoft-HTTPAPI/2.0\r\nContent-Length: 0\r\n\r\n");
        let (r, _) = answer(Reply::Bytes(raw.into_bytes()), Duration::from_secs(10));
        let e = r.unwrap_err();
        let text = e.to_string();
        match http_err(e) {
            HttpError::Refused {
                status: s,
                reason: rr,
                server,
                ..
            } => {
                assert_eq!(s, status);
                assert_eq!(rr, reason);
                assert_eq!(server.as_deref(), Some("Microsoft-HTTPAPI/2.0"));
            }
            other => panic!("{other:?}"),
        }
        assert!(text.contains(&format!("HTTP {status} {reason}")), "{text}");
    }
}

#[test]
fn http_response_timeout() {
    let (r, took) = answer(
        Reply::Silent(Duration::from_secs(2)),
        Duration::from_millis(300),
    );
    match http_err(r.unwrap_err()) {
        HttpError::NoResponse { waited } => {
            assert!(waited >= Duration::from_millis(300), "{waited:?}");
            assert!(waited < Duration::from_secs(2), "{waited:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn server_closes_without_answer() {
    let (r, took) = answer(Reply::Close, Duration::from_secs(10));
    let e = r.unwrap_err();
    assert!(e.to_string().contains("closed without any answer"), "{e}");
    assert_eq!(
        http_err(e),
        HttpError::Malformed(Malformed::Truncated { received: 0 })
    );
    assert!(took < Duration::from_secs(5));
}

#[test]
fn unresolvable_name() {
    let cfg = TunnelConfig::new("no-such-host.invalid");
    let e = connect(&cfg).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Resolve);
    let text = e.to_string();
    assert!(
        matches!(&e, TunnelError::Resolve { host, proxy: false, .. } if host == "no-such-host.invalid")
    );
    assert!(
        text.contains("cannot resolve the server name \"no-such-host.invalid\""),
        "{text}"
    );
}

#[test]
fn connection_refused_lists_addresses() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = TunnelConfig::new("127.0.0.1");
    cfg.port = port;
    let e = connect(&cfg).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Connect);
    let text = e.to_string();
    eprintln!("{text}");
    match &e {
        TunnelError::Connect {
            attempts,
            proxy: false,
            ..
        } => {
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].addr.port(), port);
            assert_eq!(attempts[0].failure, ConnectFailure::Refused);
        }
        other => panic!("{other}"),
    }
    assert!(
        text.contains(&format!("127.0.0.1:{port}: connection refused")),
        "{text}"
    );
    assert!(text.contains("nothing listens on that port"), "{text}");
}

#[test]
fn tls_version_caps() {
    for (cap, want) in [
        (TlsVersion::Tls12, "TLSv1.2"),
        (TlsVersion::Tls13, "TLSv1.3"),
    ] {
        let ca = Ca::new("CA");
        let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
        let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
        let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
        cfg.max_tls = Some(cap);
        let est = connect(&cfg).expect("connects");
        assert_eq!(est.tls_version, want);
        drop(est);
        assert_eq!(srv.join().unwrap().version, want);
    }
}

#[test]
fn tls_version_mismatch_hint() {
    let ca = Ca::new("CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let mut o = ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec()));
    o.max_tls = Some(SslVersion::TLS1_2);
    let srv = tls_server(o);
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.min_tls = TlsVersion::Tls13;
    let e = connect(&cfg).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Tls);
    assert!(
        matches!(
            &e,
            TunnelError::Tls {
                hint: TlsHint::ProtocolVersion,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("share no TLS version"), "{e}");
    let _ = srv.join();
}

#[test]
fn not_tls_on_port() {
    // A plain-text HTTP server on the port.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0u8; 512];
        let _ = s.read(&mut b);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let mut cfg = TunnelConfig::new("127.0.0.1");
    cfg.port = port;
    let e = connect(&cfg).unwrap_err();
    assert!(
        matches!(
            &e,
            TunnelError::Tls {
                hint: TlsHint::NotTls,
                ..
            }
        ),
        "{e:?}"
    );
    let _ = h.join();
}

#[test]
fn through_proxy() {
    let ca = Ca::new("CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let proxy = fake_proxy(vec!["HTTP/1.0 200 Connection established\r\n\r\n"]);
    let mut cfg = cfg_for("127.0.0.1", srv.addr.port(), &ca);
    cfg.sni = Some("localhost".into());
    cfg.proxy = Some(ProxyConfig::parse(&format!("http://{}", proxy.addr)).unwrap());
    let est = connect(&cfg).expect("through proxy");
    assert!(est.via_proxy);
    assert_eq!(est.peer_addr, proxy.addr);
    // The host route (issue 8, events 14/15) is looked up for the socket's own connection: to
    // the proxy, not to the server behind it.
    let flow = sstp_tunnel::route::Flow::of(est.stream.get_ref()).unwrap();
    assert_eq!(flow.peer, proxy.addr);
    assert_ne!(flow.peer, srv.addr);
    assert!(est.timings.proxy.is_some());
    drop(est);
    let reqs = proxy.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].starts_with(&format!(
        "CONNECT 127.0.0.1:{0} HTTP/1.1\r\nHost: 127.0.0.1:{0}\r\n",
        srv.addr.port()
    )));
    assert!(reqs[0].contains("SSTPVERSION: 1.0\r\n"));
    let _ = srv.join();
}

#[test]
fn proxy_auth_and_refusal() {
    let proxy = fake_proxy(vec![
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nProxy-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n",
    ]);
    let mut cfg = TunnelConfig::new("127.0.0.1");
    cfg.port = 9; // never reached
    cfg.proxy = Some(ProxyConfig::parse(&format!("http://{}", proxy.addr)).unwrap());
    let e = connect(&cfg).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Proxy);
    match &e {
        TunnelError::ProxyAuthRequired {
            schemes,
            had_credentials: false,
            ..
        } => {
            assert_eq!(
                schemes,
                &vec!["Basic realm=\"x\"".to_string(), "NTLM".to_string()]
            );
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("configure proxy credentials"));

    // With credentials and an authenticator, the retry carries its header on the same connection.
    struct Fixed;
    impl ProxyAuthenticator for Fixed {
        fn respond(
            &mut self,
            ch: &[String],
            c: &ProxyCredentials,
            target: &str,
        ) -> Result<ProxyAuthStep, String> {
            assert!(ch[0].starts_with("Basic"));
            assert_eq!(c.user, "u");
            assert!(target.starts_with("127.0.0.1:"));
            Ok(ProxyAuthStep {
                header_value: "Basic dTpw".into(),
                needs_same_connection: false,
            })
        }
    }
    let ca = Ca::new("CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let proxy = fake_proxy(vec![
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 5\r\n\r\nerror",
        "HTTP/1.1 200 Connection established\r\n\r\n",
    ]);
    let mut cfg = cfg_for("127.0.0.1", srv.addr.port(), &ca);
    cfg.sni = Some("localhost".into());
    cfg.proxy = Some(ProxyConfig::parse(&format!("http://u:p@{}", proxy.addr)).unwrap());
    connect_with(&cfg, &mut Fixed).expect("authenticated proxy");
    let reqs = proxy.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    assert!(!reqs[0].contains("Proxy-Authorization"));
    assert!(reqs[1].contains("\r\nProxy-Authorization: Basic dTpw\r\n"));
    let _ = srv.join();

    let proxy = fake_proxy(vec!["HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\n\r\n"]);
    let mut cfg = TunnelConfig::new("127.0.0.1");
    cfg.proxy = Some(ProxyConfig::parse(&format!("http://{}", proxy.addr)).unwrap());
    let e = connect(&cfg).unwrap_err();
    assert!(
        matches!(&e, TunnelError::ProxyRefused { status: 403, .. }),
        "{e}"
    );
    assert_eq!(e.category(), FailureCategory::Proxy);
}

#[test]
fn legacy_tls_only_server_needs_min_tls_option() {
    let ca = Ca::new("CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let mk = || {
        let mut o = ServerOpts::new(cert.clone(), key.clone(), Reply::Bytes(RRAS_OK.to_vec()));
        o.legacy = true;
        o.max_tls = Some(SslVersion::TLS1_1);
        tls_server(o)
    };
    // Default minimum 1.2: refused with the version hint.
    let srv = mk();
    let e = connect(&cfg_for("localhost", srv.addr.port(), &ca)).unwrap_err();
    assert!(
        matches!(
            &e,
            TunnelError::Tls {
                hint: TlsHint::ProtocolVersion,
                ..
            }
        ),
        "{e}"
    );
    let _ = srv.join();
    // With min-TLS 1.0 the client lowers the security level and connects.
    let srv = mk();
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.min_tls = TlsVersion::Tls10;
    let est = connect(&cfg).expect("legacy TLS");
    assert_eq!(est.tls_version, "TLSv1.1");
    drop(est);
    let _ = srv.join();
}

#[test]
fn ca_dir_hashed_directory() {
    let ca = Ca::new("Dir CA");
    let dir = ca.file.parent().unwrap().join("hashed");
    std::fs::create_dir_all(&dir).unwrap();
    let hash = ca.cert.subject_name_hash();
    std::fs::write(dir.join(format!("{hash:08x}.0")), ca.cert.to_pem().unwrap()).unwrap();
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.ca_file = None;
    cfg.ca_dir = Some(dir);
    connect(&cfg).expect("CA from a hashed directory");
    let _ = srv.join();

    // A missing CA file is a configuration error naming the file.
    let mut cfg = TunnelConfig::new("localhost");
    cfg.ca_file = Some("/nonexistent/ca.pem".into());
    cfg.port = 1;
    // resolve + TCP fail first on a closed port, so point at a listening one
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    cfg.port = l.local_addr().unwrap().port();
    let e = connect(&cfg).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Config);
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}

#[test]
fn every_address_is_tried_in_turn() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let open = TcpListener::bind("[::1]:0").unwrap();
    let open_addr = open.local_addr().unwrap();
    let (_s, used, failed) = sstp_tunnel::connect::connect_any(
        "dual.example",
        443,
        &[closed, open_addr],
        Duration::from_secs(2),
        false,
    )
    .expect("second address works");
    assert_eq!(used, open_addr);
    assert_eq!(
        failed,
        vec![ConnectAttempt {
            addr: closed,
            failure: ConnectFailure::Refused
        }]
    );

    // Family preference orders (and filters) the resolved list.
    let v = sstp_tunnel::connect::resolve("::1", 443, IpFamily::V4Only, false).unwrap_err();
    assert!(
        v.to_string().contains("none of the requested family"),
        "{v}"
    );
    let v = sstp_tunnel::connect::resolve("127.0.0.1", 8443, IpFamily::PreferV6, false).unwrap();
    assert_eq!(v, vec!["127.0.0.1:8443".parse().unwrap()]);
}

#[test]
fn tls_handshake_timeout() {
    // Accepts TCP, never answers the ClientHello.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        drop(s);
    });
    let mut cfg = TunnelConfig::new("127.0.0.1");
    cfg.port = port;
    cfg.tls_timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let e = connect(&cfg).unwrap_err();
    let took = t0.elapsed();
    assert!(
        matches!(
            &e,
            TunnelError::Tls {
                hint: TlsHint::Timeout,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.category(), FailureCategory::Tls);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(1),
        "{took:?}"
    );
    assert!(e.to_string().contains("never completed TLS"), "{e}");
    let _ = h.join();
}

#[test]
fn key_usage_failure_is_refused_even_with_the_eku_check_off() {
    let ca = Ca::new("CA");
    let mut spec = LeafSpec::server("localhost");
    spec.ku_bad = true;
    let (cert, key) = ca.issue(&spec);
    for check_eku in [true, false] {
        let srv = tls_server(ServerOpts::new(
            cert.clone(),
            key.clone(),
            Reply::Bytes(RRAS_OK.to_vec()),
        ));
        let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
        cfg.check_eku = check_eku;
        let err = connect(&cfg).unwrap_err();
        let text = err.to_string();
        let t = trust_err(err);
        assert_eq!(t.kind, TrustFailureKind::Other, "{text}");
        assert!(text.contains("KeyUsage"), "{text}");
        let _ = srv.join();
    }
}

#[test]
fn legacy_tls_minimum_keeps_chain_security_level_one() {
    let ca = Ca::new("CA");
    let mut spec = LeafSpec::server("localhost");
    spec.sha1 = true;
    let (cert, key) = ca.issue(&spec);
    // A legacy server (any version up to 1.3) with a SHA-1-signed certificate.
    let mut o = ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec()));
    o.legacy = true;
    let srv = tls_server(o);
    let mut cfg = cfg_for("localhost", srv.addr.port(), &ca);
    cfg.min_tls = TlsVersion::Tls10;
    let err = connect(&cfg).unwrap_err();
    let text = err.to_string();
    let t = trust_err(err);
    assert!(t.reason.contains("too weak"), "{text}");
    let _ = srv.join();
}

#[test]
fn proxy_407_body_has_one_overall_deadline() {
    // Content-Length 1000, no body: the drain ends at the round's deadline.
    let proxy = fake_proxy(vec![
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 1000\r\n\r\n",
        // Never sent: keeps the proxy waiting for a next CONNECT on the same connection.
        "HTTP/1.1 200 Connection established\r\n\r\n",
    ]);
    let mut cfg = TunnelConfig::new("127.0.0.1");
    cfg.port = 9; // never reached
    cfg.tls_timeout = Duration::from_millis(700);
    cfg.proxy = Some(ProxyConfig::parse(&format!("http://u:p@{}", proxy.addr)).unwrap());
    let t0 = std::time::Instant::now();
    let e = connect(&cfg).unwrap_err();
    let took = t0.elapsed();
    let text = e.to_string();
    assert!(matches!(e, TunnelError::ProxyTimeout { .. }), "{text}");
    assert!(
        text.contains("while reading the proxy's 407 body"),
        "{text}"
    );
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn cancelled_before_connecting_names_the_phase() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = TunnelConfig::new("127.0.0.1");
    cfg.port = listener.local_addr().unwrap().port();
    let check = || Some("SIGTERM");
    let sigs = [libc::SIGTERM];
    let cancel = sstp_tunnel::Cancel::new(&check, &sigs);
    let e =
        sstp_tunnel::connect_cancellable(&cfg, &mut sstp_tunnel::NoProxyAuth, &cancel).unwrap_err();
    assert_eq!(
        e.to_string(),
        "connect cancelled (SIGTERM) during the TCP connect"
    );
    assert_eq!(e.category(), sstp_tunnel::FailureCategory::Cancelled);
}
