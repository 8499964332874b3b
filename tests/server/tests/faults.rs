//! Each fault mode against the real client pieces: the client must see the specific error.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sstp_proto::client::{ClientConfig, CloseReason, NegotiationPhase};
use sstp_proto::crypto_binding::Hlak;
use sstp_proto::http::{HttpError, Malformed};
use sstp_proto::wire::{AttributeId, StatusCode, StatusInfo};
use sstp_test_server::certs::{self, CertSpec, Eku};
use sstp_test_server::request::RequestError;
use sstp_test_server::{AbortCause, EndReason, Fault, Outcome};
use sstp_tunnel::{connect, BridgeEnd, Command, FailureCategory, TrustFailureKind, TunnelError};

type KindCheck = fn(&TrustFailureKind) -> bool;
type RequestCheck = fn(&RequestError) -> bool;

fn http_error(e: TunnelError) -> HttpError {
    match e {
        TunnelError::Http { source, .. } => source,
        other => panic!("expected an HTTP error, got {other:?}: {other}"),
    }
}

#[test]
fn no_http_response_is_a_response_timeout() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::NoHttpResponse);
    let mut cfg = client_cfg(&p, s.addr());
    cfg.handshake_timeout = Duration::from_millis(800);
    let t0 = Instant::now();
    let e = connect(&cfg).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Http);
    match http_error(e) {
        HttpError::NoResponse { waited } => assert!(waited >= Duration::from_millis(700)),
        other => panic!("{other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    let r = report(&s);
    assert_eq!(r.outcome, Outcome::Fault(Fault::NoHttpResponse));
    // The server did read and accept the request.
    let req = r.request.expect("request read");
    assert_eq!(req.method, "SSTP_DUPLEX_POST");
    assert_eq!(req.header("Content-Length"), Some("18446744073709551615"));
}

#[test]
fn http_without_version() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::HttpNoVersion);
    let e = connect(&client_cfg(&p, s.addr())).unwrap_err();
    match http_error(e) {
        HttpError::NoVersion { status_line } => assert!(status_line.starts_with("200 OK")),
        other => panic!("{other:?}"),
    }
    assert_eq!(report(&s).outcome, Outcome::Fault(Fault::HttpNoVersion));
}

#[test]
fn http_1_0() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::Http10);
    let e = connect(&client_cfg(&p, s.addr())).unwrap_err();
    assert_eq!(http_error(e), HttpError::VersionNot11("HTTP/1.0".into()));
}

#[test]
fn http_status_refusals() {
    let p = pki();
    for (status, reason) in [
        (403, "Forbidden"),
        (404, "Not Found"),
        (503, "Service Unavailable"),
    ] {
        let s = server_with(&p.leaf, |c| c.fault = Fault::HttpStatus(status));
        let e = connect(&client_cfg(&p, s.addr())).unwrap_err();
        match http_error(e) {
            HttpError::Refused {
                status: got,
                reason: r,
                server,
                ..
            } => {
                assert_eq!((got, r.as_str()), (status, reason));
                assert_eq!(server.as_deref(), Some("sstp-test-server"));
            }
            other => panic!("{status}: {other:?}"),
        }
        assert_eq!(
            report(&s).outcome,
            Outcome::Fault(Fault::HttpStatus(status))
        );
    }
}

#[test]
fn close_after_tls() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::CloseAfterTls);
    let e = connect(&client_cfg(&p, s.addr())).unwrap_err();
    // TLS completed (no TLS/trust error); the HTTP answer never came: the connection closed
    // with zero bytes of response.
    assert_eq!(
        http_error(e),
        HttpError::Malformed(Malformed::Truncated { received: 0 })
    );
    assert_eq!(report(&s).outcome, Outcome::Fault(Fault::CloseAfterTls));
}

#[test]
fn nak_is_repeated_on_each_retry() {
    let p = pki();
    let s = server_with(&p.leaf, |c| {
        c.fault = Fault::Nak(StatusCode::ValueNotSupported)
    });
    let e = connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Negotiation);
    let TunnelError::Call(CloseReason::ConnectNak { statuses, attempts }) = e else {
        panic!("expected ConnectNak, got {e:?}")
    };
    assert_eq!(attempts, 4, "1 request + 3 retries, each NAKed");
    assert_eq!(
        statuses,
        vec![StatusInfo {
            attrib_id: AttributeId::EncapsulatedProtocolId,
            status: StatusCode::ValueNotSupported,
            value: vec![0, 1],
        }]
    );
    let r = report(&s);
    assert_eq!(r.stats.connect_requests, 4);
    // The client gave up with CALL_ABORT (RETRY_COUNT_EXCEEDED).
    match r.outcome {
        Outcome::Session(EndReason::ClientAbort(Some(st))) => {
            assert_eq!(st.status, StatusCode::RetryCountExceeded)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn silent_after_http_is_a_negotiation_timeout() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::SilentAfterHttp);
    let cc = ClientConfig {
        negotiation_timeout: Duration::from_millis(500),
        abort_timeout: Duration::from_millis(200),
        ..ClientConfig::default()
    };
    let e = connect_negotiate(&client_cfg(&p, s.addr()), &cc).unwrap_err();
    match e {
        TunnelError::Call(CloseReason::NegotiationTimeout {
            phase: NegotiationPhase::ConnectAck,
        }) => {}
        other => panic!("{other:?}"),
    }
}

/// Client through ACK, then CALL_CONNECTED with the zero HLAK; returns how the bridge ended
/// and the time from CALL_CONNECTED to the end.
fn call_connected_then_end(
    p: &Pki,
    s: &sstp_test_server::ServerHandle,
    cc: &ClientConfig,
) -> (BridgeEnd, Duration) {
    let (est, client) = connect_negotiate(&client_cfg(p, s.addr()), cc).unwrap();
    let rc = run_bridge(est, client);
    let t0 = Instant::now();
    rc.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    let rep = rc.handle.join().unwrap();
    (rep.end, t0.elapsed())
}

fn peer_abort(end: BridgeEnd) -> Option<StatusInfo> {
    match end {
        BridgeEnd::Call(r @ CloseReason::PeerAbort { .. }) => {
            let e = TunnelError::Call(r.clone());
            assert_eq!(e.category(), FailureCategory::CryptoBinding);
            let CloseReason::PeerAbort {
                status,
                after_call_connected,
            } = r
            else {
                unreachable!()
            };
            assert!(after_call_connected);
            status
        }
        other => panic!("expected PeerAbort after CALL_CONNECTED, got {other:?}"),
    }
}

#[test]
fn abort_after_connected() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::AbortAfterConnected);
    let (end, _) = call_connected_then_end(&p, &s, &ClientConfig::default());
    assert_eq!(
        peer_abort(end),
        Some(StatusInfo::new(
            AttributeId::CryptoBinding,
            StatusCode::ValueNotSupported
        ))
    );
    let r = report(&s);
    assert!(r.binding.unwrap().ok(), "the binding itself was fine");
    assert_eq!(
        r.outcome,
        Outcome::Session(EndReason::ServerAbort(AbortCause::Fault(
            "abort-after-connected"
        )))
    );
}

#[test]
fn cert_hash_mismatch_as_behind_a_tls_offloading_proxy() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::CertHashMismatch);
    let (end, _) = call_connected_then_end(&p, &s, &ClientConfig::default());
    assert_eq!(
        peer_abort(end).map(|s| s.attrib_id),
        Some(AttributeId::CryptoBinding)
    );
    let r = report(&s);
    let b = r.binding.unwrap();
    assert!(!b.cert_hash_ok);
    assert!(b.nonce_ok && b.hash_offered);
    assert_eq!(
        r.outcome,
        Outcome::Session(EndReason::ServerAbort(AbortCause::Binding(b)))
    );
}

#[test]
fn correct_binding_passes_without_fault() {
    // Control for the two tests above: same client, no fault, zero-HLAK MAC checked.
    let p = pki();
    let s = server_with(&p.leaf, |c| c.verify_mac = Some(Hlak::zero()));
    let (est, client) =
        connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
    let rc = run_bridge(est, client);
    rc.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    rc.ctl.send(Command::Disconnect).unwrap();
    let rep = rc.handle.join().unwrap();
    assert!(
        matches!(
            rep.end,
            BridgeEnd::Call(CloseReason::LocalDisconnect { acknowledged: true })
        ),
        "{:?}",
        rep.end
    );
    let r = report(&s);
    let b = r.binding.unwrap();
    assert!(b.ok() && b.mac_ok == Some(true), "{b}");
    assert_eq!(
        r.outcome,
        Outcome::Session(EndReason::ClientDisconnect(Some(StatusInfo::new(
            AttributeId::NoError,
            StatusCode::NoError
        ))))
    );
}

#[test]
fn wrong_hlak_fails_the_mac_check() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.verify_mac = Some(Hlak::zero()));
    let (est, client) =
        connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
    let rc = run_bridge(est, client);
    rc.ctl
        .send(Command::Authenticated {
            hlak: Hlak::from_bytes([9; 32]),
        })
        .unwrap();
    let rep = rc.handle.join().unwrap();
    peer_abort(rep.end);
    let b = report(&s).binding.unwrap();
    assert_eq!(b.mac_ok, Some(false));
    assert!(b.cert_hash_ok && b.nonce_ok);
}

#[test]
fn abort_mid_session() {
    let p = pki();
    let s = server_with(&p.leaf, |c| {
        c.fault = Fault::AbortMidSession(Duration::from_millis(1200))
    });
    let (end, took) = call_connected_then_end(&p, &s, &ClientConfig::default());
    assert_eq!(
        peer_abort(end),
        Some(StatusInfo::new(AttributeId::NoError, StatusCode::NoError))
    );
    assert!(took >= Duration::from_millis(1100), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!(
        report(&s).outcome,
        Outcome::Session(EndReason::ServerAbort(AbortCause::Fault(
            "abort-mid-session"
        )))
    );
}

#[test]
fn silent_after_connect_is_an_echo_timeout() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::SilentAfterConnect);
    let cc = ClientConfig {
        hello_interval: Duration::from_millis(300),
        echo_failures: 2,
        ..ClientConfig::default()
    };
    let (end, took) = call_connected_then_end(&p, &s, &cc);
    match end {
        BridgeEnd::Call(CloseReason::EchoTimeout { unanswered }) => assert_eq!(unanswered, 2),
        other => panic!("{other:?}"),
    }
    // 300 ms idle, echo, 300 ms, echo, 300 ms, close.
    assert!(took >= Duration::from_millis(850), "{took:?}");
    let r = report(&s);
    assert!(r.stats.packets_received >= 3, "CALL_CONNECTED + 2 echoes");
    assert_eq!(r.stats.echo_requests_received, 0, "ignored while silent");
}

#[test]
fn certificates_from_the_helper_give_each_trust_error() {
    let p = pki();
    let cases: Vec<(certs::CertKey, KindCheck)> = vec![
        (
            p.ca.issue(&CertSpec::localhost().with_eku(Eku::ClientAuthOnly))
                .unwrap(),
            |k| matches!(k, TrustFailureKind::Eku),
        ),
        (
            p.ca.issue(&CertSpec::server("wrong.invalid")).unwrap(),
            |k| matches!(k, TrustFailureKind::NameMismatch { .. }),
        ),
        (p.ca.issue(&CertSpec::localhost().expired()).unwrap(), |k| {
            matches!(k, TrustFailureKind::Validity)
        }),
        (certs::self_signed(&CertSpec::localhost()).unwrap(), |k| {
            matches!(k, TrustFailureKind::UntrustedChain)
        }),
    ];
    for (leaf, want) in cases {
        let s = server_with(&leaf, |_| {});
        let e = connect(&client_cfg(&p, s.addr())).unwrap_err();
        match &e {
            TunnelError::Trust(t) => assert!(want(&t.kind), "{:?}", t.kind),
            other => panic!("expected a trust error, got {other}"),
        }
        // The server saw the TLS handshake fail (the client aborts it).
        assert!(matches!(report(&s).outcome, Outcome::Tls(_)));
    }
    // Any-purpose and no-EKU certificates are accepted.
    for eku in [Eku::Any, Eku::None, Eku::ServerAndClientAuth] {
        let leaf = p.ca.issue(&CertSpec::localhost().with_eku(eku)).unwrap();
        let s = server_with(&leaf, |_| {});
        connect(&client_cfg(&p, s.addr())).unwrap_or_else(|e| panic!("{eku:?}: {e}"));
    }
}

#[test]
fn bad_requests_are_refused_with_the_right_status() {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    use std::io::{Read, Write};
    let p = pki();
    let s = server_with(&p.leaf, |_| {});
    let cases: [(&str, &str, RequestCheck); 3] = [
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 501 ", |e| {
            matches!(e, RequestError::Method(_))
        }),
        (
            "SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.0\r\n\r\n",
            "HTTP/1.1 505 ",
            |e| matches!(e, RequestError::Version(_)),
        ),
        (
            "SSTP_DUPLEX_POST /nope/ HTTP/1.1\r\n\r\n",
            "HTTP/1.1 404 ",
            |e| matches!(e, RequestError::Uri(_)),
        ),
    ];
    for (req, want, check) in cases {
        let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
        b.set_verify(SslVerifyMode::NONE);
        let tcp = std::net::TcpStream::connect(s.addr()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut tls = b.build().connect("localhost", tcp).unwrap();
        tls.write_all(req.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = tls.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with(want), "{req:?} -> {text:?}");
        match report(&s).outcome {
            Outcome::BadRequest(e) => assert!(check(&e), "{e:?}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn no_supported_hash_protocol_is_refused_by_the_client() {
    use sstp_proto::crypto_binding::HashProtocols;
    let p = pki();
    for bits in [0u8, 0x04] {
        let s = server_with(&p.leaf, |c| {
            c.hash_protocols = HashProtocols::from_bits(bits)
        });
        let e = connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap_err();
        match e {
            TunnelError::Call(CloseReason::UnsupportedHashProtocols(h)) => {
                assert_eq!(h.bits(), bits)
            }
            other => panic!("{bits:#x}: {other:?}"),
        }
        // The client aborted with Status Info naming the Crypto Binding Request.
        match report(&s).outcome {
            Outcome::Session(EndReason::ClientAbort(Some(st))) => {
                assert_eq!(st.attrib_id, AttributeId::CryptoBindingRequest);
                assert_eq!(st.status, StatusCode::ValueNotSupported);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn cert_hash_mismatch_uses_the_given_binding_certificate() {
    // With the server's own certificate as the "other" one the binding passes: proof that the
    // configured certificate is what the hash is checked against.
    let p = pki();
    let own = p.leaf.cert.clone();
    let s = server_with(&p.leaf, |c| {
        c.fault = Fault::CertHashMismatch;
        c.binding_cert = Some(own);
    });
    let (est, client) =
        connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
    let rc = run_bridge(est, client);
    rc.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    rc.ctl.send(Command::Disconnect).unwrap();
    let rep = rc.handle.join().unwrap();
    assert!(matches!(
        rep.end,
        BridgeEnd::Call(CloseReason::LocalDisconnect { acknowledged: true })
    ));
    assert!(report(&s).binding.unwrap().cert_hash_ok);
}

// connect-phase faults: each wait ends at its phase's one deadline, however the peer drips.

#[test]
fn tls_drip_ends_at_the_handshake_deadline() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::TlsDrip);
    let mut cfg = client_cfg(&p, s.addr());
    cfg.tls_timeout = Duration::from_millis(1500);
    let t0 = Instant::now();
    let e = connect(&cfg).unwrap_err();
    let took = t0.elapsed();
    assert!(
        matches!(&e, TunnelError::Tls { reason, .. } if reason == "no TLS handshake within 1.5 s"),
        "{e}"
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(report(&s).outcome, Outcome::Fault(Fault::TlsDrip));
}

#[test]
fn endless_header_lines_end_at_the_http_deadline() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::HttpEndlessHeaders);
    let mut cfg = client_cfg(&p, s.addr());
    cfg.handshake_timeout = Duration::from_millis(1500);
    let t0 = Instant::now();
    let e = connect(&cfg).unwrap_err();
    let took = t0.elapsed();
    match http_error(e) {
        HttpError::NoResponse { waited } => assert!(waited >= Duration::from_millis(1500)),
        other => panic!("{other:?}"),
    }
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(
        report(&s).outcome,
        Outcome::Fault(Fault::HttpEndlessHeaders)
    );
}

#[test]
fn endless_407_body_ends_at_the_round_deadline() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.fault = Fault::Proxy407EndlessBody);
    let mut cfg = client_cfg(&p, s.addr());
    cfg.tls_timeout = Duration::from_millis(1500);
    cfg.proxy = Some(sstp_tunnel::ProxyConfig::parse(&format!("http://u:p@{}", s.addr())).unwrap());
    let t0 = Instant::now();
    let e = connect(&cfg).unwrap_err();
    let took = t0.elapsed();
    assert!(
        matches!(
            &e,
            TunnelError::ProxyTimeout { during, .. } if *during == "reading the proxy's 407 body"
        ),
        "{e}"
    );
    assert_eq!(e.category(), FailureCategory::Proxy);
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(
        report(&s).outcome,
        Outcome::Fault(Fault::Proxy407EndlessBody)
    );
}
