//! negotiate() + bridge::run against a fake SSTP server (built on sstp_proto::wire) over loopback
//! TLS, with a socketpair standing in for pppd's pty.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use openssl::hash::MessageDigest;
use openssl::ssl::{SslAcceptor, SslMethod};
use sstp_proto::client::{ClientConfig, CloseReason, Event, State};
use sstp_proto::crypto_binding::{verify_call_connected, HashProtocol, HashProtocols, Hlak};
use sstp_proto::hdlc;
use sstp_proto::wire::{
    encode_data_packet, Attribute, AttributeId, ControlMessage, Deframer, MessageType, Packet,
    StatusCode, StatusInfo,
};
use sstp_tunnel::*;

/// What the fake server does once the call is set up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ServerMode {
    /// Echo every data packet; answer CALL_DISCONNECT with an ACK.
    Echo,
    /// Echo the first data packet, then send CALL_DISCONNECT.
    DisconnectAfterFirst,
    /// Answer every CALL_CONNECT_REQUEST with a NAK.
    Nak,
    /// Never answer CALL_CONNECT_REQUEST.
    Silent,
    /// Echo data but never answer ECHO_REQUEST.
    NoEchoReply,
    /// Echo the first data packet, then drop TCP without SSTP teardown.
    DropAfterFirst,
    /// After CALL_CONNECTED, send FLOOD_FRAMES data packets as fast as TCP allows.
    Flood,
}

const FLOOD_FRAMES: usize = 12_000;

#[derive(Debug, Default)]
struct ServerLog {
    frames: Vec<Vec<u8>>,
    binding_ok: Option<bool>,
    cert_hash_ok: Option<bool>,
    got_disconnect: bool,
    got_disconnect_ack: bool,
    got_abort: bool,
    connect_requests: u32,
    echo_requests: u32,
    flood_time: Option<Duration>,
}

const NONCE: [u8; 32] = [0x42; 32];

fn fake_sstp_server(
    hlak: Hlak,
    mode: ServerMode,
) -> (std::net::SocketAddr, Ca, thread::JoinHandle<ServerLog>) {
    let ca = Ca::new("CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let cert_sha256 = cert.digest(MessageDigest::sha256()).unwrap().to_vec();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acc.set_private_key(&key).unwrap();
    acc.set_certificate(&cert).unwrap();
    let acc = acc.build();
    let h = thread::spawn(move || {
        let mut log = ServerLog::default();
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut s = acc.accept(tcp).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        s.write_all(RRAS_OK).unwrap();
        let mut deframer = Deframer::new();
        let mut buf = vec![0u8; 32 * 1024];
        let mut done = false;
        let mut sent_disconnect = false;
        let mut flood = false;
        while !done {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut out = Vec::new();
            deframer
                .feed(&buf[..n], |pkt| {
                    match Packet::decode(pkt).unwrap() {
                        Packet::Data(frame) => {
                            log.frames.push(frame.to_vec());
                            if !sent_disconnect {
                                encode_data_packet(frame, &mut out).unwrap();
                            }
                            if mode == ServerMode::DropAfterFirst {
                                done = true;
                            }
                            if mode == ServerMode::DisconnectAfterFirst && !sent_disconnect {
                                ControlMessage::call_disconnect(None)
                                    .encode(&mut out)
                                    .unwrap();
                                sent_disconnect = true;
                            }
                        }
                        Packet::Control(msg) => match msg.message_type {
                            MessageType::CallConnectRequest => {
                                log.connect_requests += 1;
                                match mode {
                                    ServerMode::Nak => {
                                        ControlMessage::call_connect_nak(vec![StatusInfo::new(
                                            AttributeId::EncapsulatedProtocolId,
                                            StatusCode::ValueNotSupported,
                                        )])
                                        .encode(&mut out)
                                        .unwrap()
                                    }
                                    ServerMode::Silent => {}
                                    _ => ControlMessage::call_connect_ack(
                                        HashProtocols::SHA256,
                                        NONCE,
                                    )
                                    .encode(&mut out)
                                    .unwrap(),
                                }
                            }
                            MessageType::CallAbort => {
                                log.got_abort = true;
                                done = true;
                            }
                            MessageType::CallConnected => {
                                let arr: [u8; 112] = pkt.try_into().unwrap();
                                log.binding_ok = Some(verify_call_connected(&arr, &hlak));
                                if mode == ServerMode::Flood {
                                    flood = true;
                                }
                                if let Some(Attribute::CryptoBinding(cb)) = msg.attributes.first() {
                                    log.cert_hash_ok = Some(
                                        cb.cert_hash[..] == cert_sha256[..]
                                            && cb.nonce == NONCE
                                            && cb.hash_protocol == HashProtocol::Sha256,
                                    );
                                }
                            }
                            MessageType::CallDisconnect => {
                                log.got_disconnect = true;
                                ControlMessage::new(MessageType::CallDisconnectAck)
                                    .encode(&mut out)
                                    .unwrap();
                                done = true;
                            }
                            MessageType::CallDisconnectAck => {
                                log.got_disconnect_ack = true;
                                done = true;
                            }
                            MessageType::EchoRequest => {
                                log.echo_requests += 1;
                                if mode != ServerMode::NoEchoReply {
                                    ControlMessage::new(MessageType::EchoResponse)
                                        .encode(&mut out)
                                        .unwrap();
                                }
                            }
                            _ => {}
                        },
                    }
                    true
                })
                .unwrap();
            if !out.is_empty() && s.write_all(&out).is_err() {
                break;
            }
            if flood {
                flood = false;
                let frame = ip_frame(1400, 77);
                let mut pkt = Vec::new();
                encode_data_packet(&frame, &mut pkt).unwrap();
                let t0 = Instant::now();
                for _ in 0..FLOOD_FRAMES {
                    if s.write_all(&pkt).is_err() {
                        break;
                    }
                }
                log.flood_time = Some(t0.elapsed());
            }
        }
        if mode == ServerMode::DropAfterFirst {
            // Abrupt: no close_notify, no SSTP teardown.
            let _ = s.get_ref().shutdown(std::net::Shutdown::Both);
        } else {
            let _ = s.shutdown();
        }
        log
    });
    (addr, ca, h)
}

struct Running {
    pty: UnixStream,
    ctl: ControlSender,
    events: Arc<Mutex<Vec<BridgeEvent>>>,
    handle: thread::JoinHandle<BridgeReport>,
    decoder: hdlc::Decoder,
    encoder: hdlc::Encoder,
}

fn start(addr: std::net::SocketAddr, ca: &Ca) -> Running {
    start_with(addr, ca, &ClientConfig::default())
}

fn start_with(addr: std::net::SocketAddr, ca: &Ca, client_cfg: &ClientConfig) -> Running {
    let mut cfg = TunnelConfig::new("localhost");
    cfg.port = addr.port();
    cfg.ca_file = Some(ca.file.clone());
    let mut est = connect(&cfg).expect("connect");
    let client = negotiate(&mut est, client_cfg).expect("negotiate");
    assert_eq!(client.state(), State::ConnectAckReceived);
    assert_eq!(client.hash_protocol(), Some(HashProtocol::Sha256));
    let (ours, theirs) = UnixStream::pair().unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (ctl, rx) = control_channel().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev2 = Arc::clone(&events);
    let handle = thread::spawn(move || {
        let mut sink = |e: BridgeEvent| ev2.lock().unwrap().push(e);
        bridge::run(
            est,
            client,
            bridge::Line::Pty(OwnedFd::from(theirs)),
            rx,
            &mut sink,
            &BridgeOptions::default(),
        )
    });
    Running {
        pty: ours,
        ctl,
        events,
        handle,
        decoder: hdlc::Decoder::default(),
        encoder: hdlc::Encoder::default(),
    }
}

impl Running {
    fn send(&mut self, frame: &[u8]) {
        let mut out = Vec::new();
        self.encoder.encode(frame, &mut out);
        self.pty.write_all(&out).unwrap();
    }

    fn recv(&mut self) -> Vec<u8> {
        let mut buf = [0u8; 8192];
        loop {
            // Frames already buffered?
            let mut empty: &[u8] = &[];
            if let Some(f) = self.decoder.next_frame(&mut empty) {
                return f.to_vec();
            }
            let n = self.pty.read(&mut buf).expect("frame from the bridge");
            assert!(n > 0, "bridge closed the pty");
            let mut input = &buf[..n];
            let mut frames = Vec::new();
            while let Some(f) = self.decoder.next_frame(&mut input) {
                frames.push(f.to_vec());
            }
            if !frames.is_empty() {
                assert_eq!(frames.len(), 1, "test sends one frame at a time");
                return frames.remove(0);
            }
        }
    }
}

impl Running {
    /// The next frame and the raw HDLC bytes it came in.
    fn recv_raw(&mut self) -> (Vec<u8>, Vec<u8>) {
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = self.pty.read(&mut buf).expect("bytes from the bridge");
            assert!(n > 0);
            raw.extend_from_slice(&buf[..n]);
            let mut input = &buf[..n];
            if let Some(f) = self.decoder.next_frame(&mut input) {
                return (f.to_vec(), raw);
            }
        }
    }
}

fn lcp(id: u8) -> Vec<u8> {
    vec![0xFF, 0x03, 0xC0, 0x21, 0x01, id, 0x00, 0x04]
}

fn ip_frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0xFF, 0x03, 0x00, 0x21];
    // Include every byte value, notably 0x7E, 0x7D and control characters.
    f.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    f
}

#[test]
fn frames_both_ways_binding_and_local_disconnect() {
    let hlak = Hlak::from_bytes([0x5A; 32]);
    let (addr, ca, server) = fake_sstp_server(hlak.clone(), ServerMode::Echo);
    let mut r = start(addr, &ca);

    // Control frames flow before CALL_CONNECTED.
    r.send(&lcp(1));
    assert_eq!(r.recv(), lcp(1));
    // Data frames before CALL_CONNECTED are dropped by the client (counted, not sent).
    r.send(&ip_frame(40, 1));
    r.send(&lcp(2));
    assert_eq!(r.recv(), lcp(2));

    r.ctl.send(Command::Authenticated { hlak }).unwrap();
    // Data now flows both ways, any size up to the MTU, any byte values.
    let mut sent = Vec::new();
    for i in 0..200usize {
        let f = ip_frame(1 + (i * 37) % 1500, i as u8);
        r.send(&f);
        assert_eq!(r.recv(), f, "frame {i}");
        sent.push(f);
    }
    r.ctl.send(Command::Disconnect).unwrap();
    let report = r.handle.join().unwrap();
    match &report.end {
        BridgeEnd::Call(CloseReason::LocalDisconnect { acknowledged }) => assert!(acknowledged),
        other => panic!("unexpected end: {other:?}"),
    }
    let c = report.counters;
    assert_eq!(c.sstp.tx_frames_dropped, 1);
    assert_eq!(c.frames_to_server, 203);
    assert_eq!(c.frames_from_server, 202);
    assert_eq!(c.hdlc.dropped(), 0);
    assert!(c.tls_bytes_out > 0 && c.pty_bytes_in > c.tls_bytes_out / 2);

    let log = server.join().unwrap();
    assert_eq!(
        log.binding_ok,
        Some(true),
        "Compound MAC verifies with the HLAK"
    );
    assert_eq!(
        log.cert_hash_ok,
        Some(true),
        "cert hash is SHA-256 of the leaf DER"
    );
    assert!(log.got_disconnect);
    assert_eq!(log.frames.len(), 202);
    assert_eq!(&log.frames[2..], &sent[..]);

    let events = r.events.lock().unwrap();
    assert!(events
        .iter()
        .any(|e| matches!(e, BridgeEvent::Session(Event::CallConnected { .. }))));
    assert!(events
        .iter()
        .any(|e| matches!(e, BridgeEvent::StateChanged(State::CallConnected))));
    assert!(events
        .iter()
        .any(|e| matches!(e, BridgeEvent::Session(Event::Closed(_)))));
    assert!(events
        .iter()
        .any(|e| matches!(e, BridgeEvent::Log { level: Level::Notice, message } if message.contains("ended"))));
}

#[test]
fn server_disconnect_ends_bridge() {
    let hlak = Hlak::zero();
    let (addr, ca, server) = fake_sstp_server(hlak.clone(), ServerMode::DisconnectAfterFirst);
    let mut r = start(addr, &ca);
    r.ctl.send(Command::Authenticated { hlak }).unwrap();
    let f = ip_frame(100, 9);
    r.send(&f);
    assert_eq!(r.recv(), f);
    let t0 = Instant::now();
    let report = r.handle.join().unwrap();
    assert!(
        matches!(report.end, BridgeEnd::Call(CloseReason::PeerDisconnect(_))),
        "{:?}",
        report.end
    );
    // disconnect timer 2 is 1 s
    assert!(t0.elapsed() < Duration::from_secs(4));
    let log = server.join().unwrap();
    assert_eq!(log.binding_ok, Some(true));
}

#[test]
fn pty_close_disconnects() {
    let hlak = Hlak::zero();
    let (addr, ca, server) = fake_sstp_server(hlak.clone(), ServerMode::Echo);
    let mut r = start(addr, &ca);
    r.ctl.send(Command::Authenticated { hlak }).unwrap();
    r.send(&lcp(7));
    assert_eq!(r.recv(), lcp(7));
    drop(r.pty);
    let report = r.handle.join().unwrap();
    assert!(
        matches!(
            report.end,
            BridgeEnd::Call(CloseReason::LocalDisconnect { acknowledged: true })
        ),
        "{:?}",
        report.end
    );
    assert!(server.join().unwrap().got_disconnect);
}

/// Throughput figure: bulk frames pushed through pty → TLS → echo server → TLS → pty.
#[test]
fn bulk_echo_throughput() {
    let hlak = Hlak::zero();
    let (addr, ca, server) = fake_sstp_server(hlak.clone(), ServerMode::Echo);
    let r = start(addr, &ca);
    r.ctl.send(Command::Authenticated { hlak }).unwrap();
    let frames: usize = if cfg!(debug_assertions) {
        2_000
    } else {
        20_000
    };
    let frame = ip_frame(1400, 3);
    let mut enc = Vec::new();
    hdlc::Encoder::default().encode(&frame, &mut enc);
    let mut writer = r.pty.try_clone().unwrap();
    let t0 = Instant::now();
    let w = thread::spawn(move || {
        for _ in 0..frames {
            writer.write_all(&enc).unwrap();
        }
    });
    let mut reader = r.pty;
    let mut dec = hdlc::Decoder::default();
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while got < frames {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0);
        let mut input = &buf[..n];
        while let Some(f) = dec.next_frame(&mut input) {
            assert_eq!(f, &frame[..]);
            got += 1;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    w.join().unwrap();
    let mbit = (frames * frame.len() * 8) as f64 / secs / 1e6;
    eprintln!(
        "bulk echo: {frames} x {} B frames each way in {secs:.3} s = {mbit:.0} Mbit/s per direction",
        frame.len()
    );
    let sent = r.ctl.send(Command::Disconnect);
    let report = r.handle.join().unwrap();
    assert!(
        sent.is_ok(),
        "bridge ended early: {:?} after {:?}",
        report.end,
        t0.elapsed()
    );
    assert!(
        matches!(
            report.end,
            BridgeEnd::Call(CloseReason::LocalDisconnect { acknowledged: true })
        ),
        "{:?}",
        report.end
    );
    assert_eq!(report.counters.frames_from_server, frames as u64);
    eprintln!("bridge polls: {}", report.counters.polls);
    let _ = server.join();
}

fn connect_to(addr: std::net::SocketAddr, ca: &Ca) -> Established {
    let mut cfg = TunnelConfig::new("localhost");
    cfg.port = addr.port();
    cfg.ca_file = Some(ca.file.clone());
    connect(&cfg).expect("connect")
}

#[test]
fn negotiate_nak_is_retried_then_fails() {
    let (addr, ca, server) = fake_sstp_server(Hlak::zero(), ServerMode::Nak);
    let mut est = connect_to(addr, &ca);
    let e = negotiate(&mut est, &ClientConfig::default()).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Negotiation);
    match &e {
        TunnelError::Call(CloseReason::ConnectNak { attempts, statuses }) => {
            assert_eq!(*attempts, 4, "1 request + 3 retries");
            assert_eq!(statuses.len(), 1);
        }
        other => panic!("{other}"),
    }
    drop(est);
    let log = server.join().unwrap();
    assert_eq!(log.connect_requests, 4);
    assert!(log.got_abort, "the client aborts after the last NAK");
}

#[test]
fn negotiate_times_out() {
    let (addr, ca, server) = fake_sstp_server(Hlak::zero(), ServerMode::Silent);
    let mut est = connect_to(addr, &ca);
    let cfg = ClientConfig {
        negotiation_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let t0 = Instant::now();
    let e = negotiate(&mut est, &cfg).unwrap_err();
    let took = t0.elapsed();
    assert!(
        matches!(
            &e,
            TunnelError::Call(CloseReason::NegotiationTimeout {
                phase: sstp_proto::client::NegotiationPhase::ConnectAck
            })
        ),
        "{e}"
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(est);
    assert!(
        server.join().unwrap().got_abort,
        "CALL_ABORT sent on timeout"
    );
}

/// A real pty pair in raw mode, as the plugin will hand pppd the slave.
fn raw_pty() -> (OwnedFd, std::fs::File) {
    use std::os::fd::FromRawFd;
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: openpty writes two descriptors into the provided ints; the name, termios and
    // winsize pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: `t` is fully initialised by tcgetattr before use; `slave` is a valid tty fd.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(slave, &mut t), 0);
        libc::cfmakeraw(&mut t);
        assert_eq!(libc::tcsetattr(slave, libc::TCSANOW, &t), 0);
    }
    // SAFETY: both descriptors were just returned by openpty and are owned by nobody else.
    unsafe {
        (
            OwnedFd::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}

#[test]
fn real_pty_frames_and_hangup() {
    let hlak = Hlak::zero();
    let (addr, ca, server) = fake_sstp_server(hlak.clone(), ServerMode::Echo);
    let mut est = connect_to(addr, &ca);
    let client = negotiate(&mut est, &ClientConfig::default()).expect("negotiate");
    let (master, mut slave) = raw_pty();
    let (ctl, rx) = control_channel().unwrap();
    let bridge = thread::spawn(move || {
        let mut sink = |_e: BridgeEvent| {};
        bridge::run(
            est,
            client,
            bridge::Line::Pty(master),
            rx,
            &mut sink,
            &BridgeOptions::default(),
        )
    });
    ctl.send(Command::Authenticated { hlak }).unwrap();
    // Let the command land before data frames (pppd only sends IP after IPCP in reality).
    thread::sleep(Duration::from_millis(50));
    let enc = hdlc::Encoder::default();
    let mut dec = hdlc::Decoder::default();
    let mut buf = vec![0u8; 16384];
    for i in 0..50usize {
        let f = ip_frame(1 + (i * 97) % 1500, i as u8);
        let mut out = Vec::new();
        enc.encode(&f, &mut out);
        slave.write_all(&out).unwrap();
        let got = loop {
            let n = slave.read(&mut buf).unwrap();
            assert!(n > 0);
            let mut input = &buf[..n];
            if let Some(g) = dec.next_frame(&mut input) {
                assert!(input.is_empty() || input.iter().all(|&b| b == hdlc::FLAG));
                break g.to_vec();
            }
        };
        assert_eq!(got, f, "frame {i}");
    }
    // pppd hangs up: closing the slave makes the master read fail with EIO.
    drop(slave);
    let report = bridge.join().unwrap();
    assert!(
        matches!(
            report.end,
            BridgeEnd::Call(CloseReason::LocalDisconnect { acknowledged: true })
        ),
        "{:?}",
        report.end
    );
    assert_eq!(report.counters.frames_to_server, 50);
    assert!(server.join().unwrap().got_disconnect);
}

#[test]
fn hello_echo_keeps_alive_and_silence_times_out() {
    let fast = ClientConfig {
        hello_interval: Duration::from_millis(150),
        echo_failures: 1,
        ..Default::default()
    };
    // Answered echoes: the call survives several hello intervals.
    let (addr, ca, server) = fake_sstp_server(Hlak::zero(), ServerMode::Echo);
    let mut r = start_with(addr, &ca, &fast);
    r.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    thread::sleep(Duration::from_millis(800));
    r.send(&lcp(3));
    assert_eq!(
        r.recv(),
        lcp(3),
        "still connected after several hello intervals"
    );
    r.ctl.send(Command::Disconnect).unwrap();
    let report = r.handle.join().unwrap();
    assert!(matches!(
        report.end,
        BridgeEnd::Call(CloseReason::LocalDisconnect { acknowledged: true })
    ));
    assert!(report.counters.sstp.echo_requests_sent >= 2);
    assert!(server.join().unwrap().echo_requests >= 2);

    // Unanswered echoes: the client gives up without CALL_ABORT.
    let (addr, ca, server) = fake_sstp_server(Hlak::zero(), ServerMode::NoEchoReply);
    let r = start_with(addr, &ca, &fast);
    r.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    let t0 = Instant::now();
    let report = r.handle.join().unwrap();
    assert!(
        matches!(report.end, BridgeEnd::Call(CloseReason::EchoTimeout { .. })),
        "{:?}",
        report.end
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
    drop(r.pty);
    let _ = server.join();
}

#[test]
fn abrupt_server_close_is_reported() {
    let (addr, ca, server) = fake_sstp_server(Hlak::zero(), ServerMode::DropAfterFirst);
    let mut r = start(addr, &ca);
    r.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    let f = ip_frame(64, 1);
    r.send(&f);
    let report = r.handle.join().unwrap();
    assert!(
        matches!(report.end, BridgeEnd::TransportClosed),
        "{:?}",
        report.end
    );
    let events = r.events.lock().unwrap();
    assert!(events.iter().any(|e| matches!(
        e,
        BridgeEvent::Log { level: Level::Error, message } if message.contains("without SSTP teardown")
    )));
    let _ = server.join();
}

/// Latency figure: one small frame at a time, pty → server echo → pty.
#[test]
fn ping_pong_latency() {
    let hlak = Hlak::zero();
    let (addr, ca, server) = fake_sstp_server(hlak.clone(), ServerMode::Echo);
    let mut r = start(addr, &ca);
    r.ctl.send(Command::Authenticated { hlak }).unwrap();
    thread::sleep(Duration::from_millis(20));
    let rounds = 500;
    let f = ip_frame(60, 5);
    let t0 = Instant::now();
    for _ in 0..rounds {
        r.send(&f);
        assert_eq!(r.recv(), f);
    }
    let per = t0.elapsed() / rounds;
    eprintln!("ping-pong: {rounds} rounds of a 64-byte frame, {per:?} per round trip");
    r.ctl.send(Command::Disconnect).unwrap();
    let report = r.handle.join().unwrap();
    assert_eq!(report.counters.frames_from_server, u64::from(rounds));
    let _ = server.join();
}

/// Back-pressure: while pppd (the pty reader) stalls, the bridge stops reading TLS, so the
/// server's sends block instead of the bridge buffering without bound.
#[test]
fn backpressure_from_a_stalled_pty() {
    let (addr, ca, server) = fake_sstp_server(Hlak::zero(), ServerMode::Flood);
    let r = start(addr, &ca);
    r.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    // Do not read the pty for a while.
    thread::sleep(Duration::from_millis(700));
    assert!(
        !server.is_finished(),
        "17 MB cannot all be buffered: the server must be blocked"
    );
    // Now drain everything and check it all arrives intact.
    let mut reader = r.pty;
    let mut dec = hdlc::Decoder::default();
    let frame = ip_frame(1400, 77);
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < FLOOD_FRAMES {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0);
        let mut input = &buf[..n];
        while let Some(f) = dec.next_frame(&mut input) {
            assert_eq!(f, &frame[..]);
            got += 1;
        }
    }
    r.ctl.send(Command::Disconnect).unwrap();
    let report = r.handle.join().unwrap();
    assert_eq!(report.counters.frames_from_server, FLOOD_FRAMES as u64);
    assert_eq!(
        report.counters.sstp.rx_frames_dropped, 0,
        "nothing dropped under back-pressure"
    );
    let log = server.join().unwrap();
    let t = log.flood_time.expect("flood done");
    assert!(
        t >= Duration::from_millis(600),
        "server was held back: {t:?}"
    );
}

/// The encoder towards pppd follows pppd's LCP: after pppd's Configure-Request for ACCM 0 is
/// acknowledged and pppd sends a non-LCP frame, control characters are no longer escaped.
#[test]
fn accm_follows_pppd_lcp() {
    let (addr, ca, server) = fake_sstp_server(Hlak::zero(), ServerMode::Echo);
    let mut r = start(addr, &ca);
    r.ctl
        .send(Command::Authenticated { hlak: Hlak::zero() })
        .unwrap();
    thread::sleep(Duration::from_millis(30));
    let data = {
        let mut f = vec![0xFF, 0x03, 0x00, 0x21];
        f.extend_from_slice(&[0x01, 0x02, 0x11, 0x13, 0x41, 0x42]);
        f
    };
    let has_raw_control = |raw: &[u8]| raw.iter().any(|&b| b < 0x20);
    r.send(&data);
    let (f, raw) = r.recv_raw();
    assert_eq!(f, data);
    assert!(
        !has_raw_control(&raw),
        "before LCP: every control character escaped"
    );

    // pppd: Configure-Request {ACCM 0}; the echo server returns it (a request from the "server").
    let conf_req = vec![
        0xFF, 0x03, 0xC0, 0x21, 0x01, 0x07, 0x00, 0x0A, 0x02, 0x06, 0, 0, 0, 0,
    ];
    r.send(&conf_req);
    assert_eq!(r.recv(), conf_req);
    // pppd acks it; the echo is the server's Configure-Ack of pppd's request (same id/options).
    let mut conf_ack = conf_req.clone();
    conf_ack[4] = 0x02;
    r.send(&conf_ack);
    assert_eq!(r.recv(), conf_ack);
    // pppd's first non-LCP frame: its LCP is up with receive ACCM 0.
    r.send(&data);
    let (f, raw) = r.recv_raw();
    assert_eq!(f, data);
    assert!(
        has_raw_control(&raw),
        "after LCP with asyncmap 0: control bytes sent raw"
    );
    r.ctl.send(Command::Disconnect).unwrap();
    let report = r.handle.join().unwrap();
    assert_eq!(report.counters.hdlc.dropped(), 0);
    let _ = server.join();
}
