//! The data-path bridge (`sstp_tunnel::bridge::run`, public API only) fed arbitrary bytes on both
//! sides: decrypted TLS plaintext from the server and async-HDLC bytes from "pppd" (the pty).
//!
//! Each run: a real loopback TCP + TLS connection to a server thread in this process
//! (certificate from the test server's factory, pinned by the client; TLS context made once),
//! `connect()` (TLS + SSTP HTTP exchange), `negotiate()` up to CALL_CONNECT_ACK, then the
//! bridge with a socketpair as the pty. The server then sends the first part of the input as
//! SSTP bytes and closes TLS; the second part was already written on the pty. No panic, and the
//! bridge ends (the server closes, so it must see the end; libFuzzer's timeout catches a hang).
//!
//! Input: `[n_lo][n_hi][server bytes: n][pty bytes: rest]`.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use openssl::ssl::{SslAcceptor, SslMethod};
use sstp_proto::client::ClientConfig;
use sstp_proto::crypto_binding::HashProtocols;
use sstp_proto::wire::ControlMessage;
use sstp_test_server::certs::{Ca, CertSpec};
use sstp_tunnel::{bridge, control_channel, BridgeEvent, BridgeOptions, CertPin, TunnelConfig};

struct Server {
    listener: TcpListener,
    acceptor: SslAcceptor,
    pin: CertPin,
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let ca = Ca::new("sstp-rs fuzz CA").expect("CA");
        let leaf = ca.issue(&CertSpec::localhost()).expect("leaf");
        let der = leaf.der().expect("DER");
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).expect("acceptor");
        b.set_private_key(&leaf.key).expect("key");
        b.set_certificate(&leaf.cert).expect("cert");
        Server {
            listener: TcpListener::bind("127.0.0.1:0").expect("bind loopback"),
            acceptor: b.build(),
            pin: CertPin(openssl::sha::sha256(&der)),
        }
    })
}

const HTTP_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: fuzz\r\n\r\n";

/// The server side of one run: TLS, HTTP 200, CALL_CONNECT_ACK, then (once the bridge runs)
/// `bytes`, close_notify and a drain until the client is gone.
fn serve(s: &Server, bytes: &[u8], go: mpsc::Receiver<()>) {
    let Ok((tcp, _)) = s.listener.accept() else {
        return;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    // No Nagle: the server's small writes must not wait for delayed ACKs (40 ms each).
    let _ = tcp.set_nodelay(true);
    let Ok(mut tls) = s.acceptor.accept(tcp) else {
        return;
    };
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // HTTP request head, then the 14-byte CALL_CONNECT_REQUEST.
    let mut want_head = true;
    loop {
        if want_head {
            if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                got.drain(..i + 4);
                want_head = false;
                if tls.write_all(HTTP_OK).is_err() {
                    return;
                }
                continue;
            }
        } else if got.len() >= 14 {
            break;
        }
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let mut ack = Vec::new();
    ControlMessage::call_connect_ack(HashProtocols::BOTH, [0x5a; 32])
        .encode(&mut ack)
        .expect("encode CALL_CONNECT_ACK");
    if tls.write_all(&ack).is_err() || go.recv().is_err() {
        return;
    }
    let _ = tls.write_all(bytes);
    let _ = tls.shutdown();
    let _ = tls.get_ref().shutdown(Shutdown::Write);
    while matches!(tls.read(&mut buf), Ok(n) if n > 0) {}
}

fn client_config() -> ClientConfig {
    ClientConfig {
        negotiation_timeout: Duration::from_secs(2),
        hello_interval: Duration::from_secs(2),
        abort_timeout: Duration::from_millis(50),
        abort_linger: Duration::from_millis(10),
        disconnect_timeout: Duration::from_millis(50),
        disconnect_linger: Duration::from_millis(10),
        max_rx_queue: 64 * 1024,
        ..ClientConfig::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let [lo, hi, rest @ ..] = data else { return };
    let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
    let (server_bytes, pty_bytes) = rest.split_at(n);
    let s = server();
    let port = s.listener.local_addr().expect("addr").port();
    let (go_tx, go_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| serve(s, server_bytes, go_rx));
        let mut cfg = TunnelConfig::new("127.0.0.1");
        cfg.port = port;
        cfg.pin = Some(s.pin);
        cfg.connect_timeout = Duration::from_secs(2);
        cfg.tls_timeout = Duration::from_secs(2);
        cfg.handshake_timeout = Duration::from_secs(2);
        let mut est = sstp_tunnel::connect(&cfg).expect("loopback TLS + HTTP");
        let client = bridge::negotiate(&mut est, &client_config()).expect("CALL_CONNECT_ACK");
        let (mut ours, theirs) = UnixStream::pair().expect("socketpair");
        ours.write_all(pty_bytes)
            .expect("pty bytes fit in the socket buffer");
        let (_control_tx, control_rx) = control_channel().expect("control channel");
        let _ = go_tx.send(());
        let mut events = 0u32;
        let mut sink = |_: BridgeEvent| events += 1;
        let report = bridge::run(
            est,
            client,
            bridge::Line::Pty(OwnedFd::from(theirs)),
            control_rx,
            &mut sink,
            &BridgeOptions::default(),
        );
        assert!(report.counters.tls_bytes_in <= (server_bytes.len() + 4096) as u64);
        drop(ours);
    });
});
