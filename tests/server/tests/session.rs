//! The correct default behaviour against the real client pieces: PPP relay both ways, crypto
//! binding per hash bitmask, echoes, teardown, IPv6, the pty/program backend.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sstp_proto::client::{ClientConfig, CloseReason, State};
use sstp_proto::crypto_binding::{HashProtocol, HashProtocols, Hlak};
use sstp_proto::wire::{AttributeId, StatusCode, StatusInfo};
use sstp_test_server::{EndReason, Outcome, PppBackend};
use sstp_tunnel::{BridgeEnd, Command};

fn client_disconnect() -> Outcome {
    Outcome::Session(EndReason::ClientDisconnect(Some(StatusInfo::new(
        AttributeId::NoError,
        StatusCode::NoError,
    ))))
}

#[test]
fn relays_ppp_both_ways_per_hash_bitmask() {
    let p = pki();
    for (bits, chosen) in [
        (1u8, HashProtocol::Sha1),
        (2, HashProtocol::Sha256),
        (3, HashProtocol::Sha256),
    ] {
        let (backend, peers) = custom_peer();
        let s = server_with(&p.leaf, |c| {
            c.hash_protocols = HashProtocols::from_bits(bits);
            c.verify_mac = Some(Hlak::zero());
            c.ppp = backend;
        });
        let (est, client) =
            connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
        assert_eq!(client.state(), State::ConnectAckReceived);
        assert_eq!(client.offered_hash_protocols().bits(), bits);
        assert_eq!(client.hash_protocol(), Some(chosen));
        let mut rc = run_bridge(est, client);
        let mut server_ppp = HdlcPort::new(peers.recv_timeout(Duration::from_secs(5)).unwrap());

        // LCP before authentication flows both ways.
        rc.pty.send(&lcp(1));
        assert_eq!(server_ppp.recv(), lcp(1));
        server_ppp.send(&lcp(2));
        assert_eq!(rc.pty.recv(), lcp(2));
        // IP from the server's pppd before CALL_CONNECTED is held back (§3.3.7.1): only the
        // LCP frame sent after it arrives.
        server_ppp.send(&ip_frame(50, 9));
        server_ppp.send(&lcp(3));
        assert_eq!(rc.pty.recv(), lcp(3));

        rc.ctl
            .send(Command::Authenticated { hlak: Hlak::zero() })
            .unwrap();
        // After CALL_CONNECTED: IP both ways, large frames too.
        for (i, len) in [1usize, 100, 1400, 4000].into_iter().enumerate() {
            let f = ip_frame(len, i as u8);
            rc.pty.send(&f);
            assert_eq!(server_ppp.recv(), f);
            let g = ip_frame(len, 100 + i as u8);
            server_ppp.send(&g);
            assert_eq!(rc.pty.recv(), g);
        }
        rc.ctl.send(Command::Disconnect).unwrap();
        let rep = rc.handle.join().unwrap();
        assert!(matches!(
            rep.end,
            BridgeEnd::Call(CloseReason::LocalDisconnect { acknowledged: true })
        ));
        let r = report(&s);
        assert_eq!(r.outcome, client_disconnect());
        let b = r.binding.expect("CALL_CONNECTED checked");
        assert_eq!(b.hash_protocol, chosen);
        assert!(b.ok() && b.mac_ok == Some(true), "{b}");
        assert_eq!(r.stats.frames_received, 5);
        assert_eq!(r.stats.frames_sent, 6);
        assert_eq!(r.stats.frames_dropped, 1, "the early IP frame");
        assert_eq!(r.stats.connect_requests, 1);
        assert!(r.log.iter().any(|l| l.contains("CALL_CONNECTED received")));
    }
}

#[test]
fn probe_mode_without_pppd_over_ipv6() {
    let p = pki();
    let bind = if std::net::TcpListener::bind("[::1]:0").is_ok() {
        "[::1]:0"
    } else {
        eprintln!("no IPv6 loopback here: using 127.0.0.1");
        "127.0.0.1:0"
    };
    let s = server_on(bind, &p.leaf, |c| c.ppp = PppBackend::None);
    let (mut est, client) =
        connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
    assert_eq!(client.state(), State::ConnectAckReceived);
    assert_eq!(est.http.response.status, 200);
    assert_eq!(est.http.response.version, "HTTP/1.1");
    assert!(est.http.warnings.is_empty(), "{:?}", est.http.warnings);
    // The probe hangs up: TLS close without SSTP teardown.
    let _ = est.stream.shutdown();
    drop(est);
    let r = report(&s);
    assert_eq!(r.outcome, Outcome::Session(EndReason::TransportClosed));
    assert_eq!(r.peer.map(|a| a.is_ipv6()), Some(bind.starts_with('[')));
    let req = r.request.unwrap();
    assert!(req.header("SSTPCORRELATIONID").is_some());
}

#[test]
fn server_echoes_on_idle_and_the_client_answers() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.timers.hello = Duration::from_millis(200));
    let (est, client) =
        connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
    let rc = run_bridge(est, client);
    rc.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    rc.ctl.send(Command::Disconnect).unwrap();
    let rep = rc.handle.join().unwrap();
    assert!(
        rep.counters.sstp.echo_requests_received >= 3,
        "{:?}",
        rep.counters.sstp
    );
    let r = report(&s);
    assert_eq!(r.outcome, client_disconnect());
    assert!(r.stats.echo_requests_sent >= 3);
}

#[test]
fn server_answers_client_echoes_and_times_out_a_silent_client() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.timers.hello = Duration::from_millis(300));
    let cc = ClientConfig {
        hello_interval: Duration::from_millis(100),
        ..ClientConfig::default()
    };
    let (est, client) = connect_negotiate(&client_cfg(&p, s.addr()), &cc).unwrap();
    let rc = run_bridge(est, client);
    rc.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    rc.ctl.send(Command::Disconnect).unwrap();
    let rep = rc.handle.join().unwrap();
    assert!(rep.counters.sstp.echo_requests_sent >= 3);
    let r = report(&s);
    assert!(r.stats.echo_requests_received >= 3);
    assert_eq!(r.outcome, client_disconnect());

    // A client that goes silent after CALL_CONNECTED: the server echoes once, then closes
    // without CALL_ABORT.
    use sstp_proto::wire::{decode_control, MessageType};
    use std::io::{Read, Write};
    let (mut est, mut client) =
        connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
    client
        .authenticated(Instant::now(), &Hlak::zero(), &est.peer_cert_der)
        .unwrap();
    let mut out = Vec::new();
    client.poll_transmit(&mut out);
    est.stream.write_all(&out).unwrap();
    est.stream
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match est.stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let took = t0.elapsed();
    assert_eq!(
        decode_control(&got).unwrap().unwrap().message_type,
        MessageType::EchoRequest,
        "exactly one ECHO_REQUEST, then close"
    );
    assert!(took >= Duration::from_millis(550), "{took:?}");
    assert_eq!(report(&s).outcome, Outcome::Session(EndReason::EchoTimeout));
}

#[test]
fn pty_backend_relays_through_a_spawned_program() {
    // `cat` on the pty slave sends every byte back: frames go client → server → pty → cat →
    // pty → server → client, through the real pty path used for pppd.
    let p = pki();
    let s = server_with(&p.leaf, |c| {
        c.ppp = PppBackend::Command {
            program: "cat".into(),
            args: vec![],
        }
    });
    let (est, client) =
        connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
    let mut rc = run_bridge(est, client);
    rc.pty.send(&lcp(7));
    assert_eq!(rc.pty.recv(), lcp(7));
    rc.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    for i in 0..20u8 {
        // Bytes that need escaping, flags included.
        let mut f = ip_frame(300, i);
        f.extend_from_slice(&[0x7E, 0x7D, 0x00, 0x11, 0x13]);
        rc.pty.send(&f);
        assert_eq!(rc.pty.recv(), f);
    }
    rc.ctl.send(Command::Disconnect).unwrap();
    rc.handle.join().unwrap();
    let r = report(&s);
    assert_eq!(r.outcome, client_disconnect());
    assert_eq!(r.stats.frames_received, 21);
    assert_eq!(r.stats.frames_sent, 21);
    assert!(
        r.ppp_bytes.0 > 6000 && r.ppp_bytes.1 > 6000,
        "{:?}",
        r.ppp_bytes
    );
    // cat got EOF/hangup when the server closed the pty and was reaped.
    assert!(r.ppp_exit.is_some());
}

#[test]
fn program_exit_disconnects_the_call() {
    // The server-side "pppd" ends: the server sends CALL_DISCONNECT, the client acknowledges.
    let p = pki();
    let s = server_with(&p.leaf, |c| {
        c.ppp = PppBackend::Command {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "test -t 0 && test -t 1 && test -c {tty} && sleep 0.3 && exit $(({conn} + 41))"
                    .into(),
            ],
        }
    });
    let (est, client) =
        connect_negotiate(&client_cfg(&p, s.addr()), &ClientConfig::default()).unwrap();
    let rc = run_bridge(est, client);
    let rep = rc.handle.join().unwrap();
    match rep.end {
        BridgeEnd::Call(CloseReason::PeerDisconnect(Some(st))) => {
            assert_eq!(st.status, StatusCode::NoError)
        }
        other => panic!("{other:?}"),
    }
    let r = report(&s);
    assert_eq!(
        r.outcome,
        Outcome::Session(EndReason::ServerDisconnect { acknowledged: true })
    );
    // The program saw a tty on stdin and stdout, got the slave's path and the connection
    // number (1) substituted, and exited 42.
    assert_eq!(r.ppp_exit.as_deref(), Some("exit status: 42"));
}

#[test]
fn several_clients_at_once() {
    let p = pki();
    let s = server_with(&p.leaf, |c| c.ppp = PppBackend::Echo);
    let handles: Vec<_> = (0..4u8)
        .map(|i| {
            let cfg = client_cfg(&p, s.addr());
            std::thread::spawn(move || {
                let (est, client) = connect_negotiate(&cfg, &ClientConfig::default()).unwrap();
                let mut rc = run_bridge(est, client);
                rc.ctl
                    .send(Command::Authenticated { hlak: Hlak::zero() })
                    .unwrap();
                for j in 0..50u8 {
                    let f = ip_frame(500, i.wrapping_mul(50).wrapping_add(j));
                    rc.pty.send(&f);
                    assert_eq!(rc.pty.recv(), f);
                }
                rc.ctl.send(Command::Disconnect).unwrap();
                rc.handle.join().unwrap()
            })
        })
        .collect();
    for h in handles {
        let rep = h.join().unwrap();
        assert_eq!(rep.counters.frames_from_server, 50);
    }
    for _ in 0..4 {
        let r = report(&s);
        assert_eq!(r.outcome, client_disconnect());
        assert_eq!(r.stats.frames_sent, 50);
    }
}

#[test]
fn garbage_after_http_closes_silently() {
    use sstp_proto::wire::WireError;
    use std::io::{Read, Write};
    let p = pki();
    let s = server_with(&p.leaf, |_| {});
    let mut est = sstp_tunnel::connect(&client_cfg(&p, s.addr())).unwrap();
    // Not SSTP: version byte 0x11.
    est.stream
        .write_all(&[0x11, 0x01, 0x00, 0x08, 0, 1, 0, 0])
        .unwrap();
    est.stream
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    // §3.1.5.1: the server closes without sending anything.
    let n = est.stream.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert_eq!(
        report(&s).outcome,
        Outcome::Session(EndReason::Framing(WireError::BadVersion(0x11)))
    );
}
