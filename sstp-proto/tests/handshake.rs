//! In-memory client <-> fake server pair with virtual time.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use sstp_proto::wire::{self, encode_data_packet, Attribute};
use sstp_proto::{
    AttributeId, AuthError, Client, ClientConfig, CloseReason, ControlMessage, Deframer, Event,
    HashProtocol, HashProtocols, Hlak, MessageType, NegotiationPhase, Packet, SendError, State,
    StatusCode, StatusInfo,
};

const LCP: &[u8] = &[0xFF, 0x03, 0xC0, 0x21, 0x01, 0x01, 0x00, 0x04];
const IP: &[u8] = &[0xFF, 0x03, 0x00, 0x21, 0x45, 0x00, 0x00, 0x14, 1, 2, 3, 4];
const CERT: &[u8] = b"0\x82\x01\x0a fake leaf certificate DER bytes";
const NONCE: [u8; 32] = [0x5A; 32];

/// What the fake server received.
#[derive(Debug, Clone, PartialEq)]
enum Rx {
    Control(ControlMessage, Vec<u8>),
    Data(Vec<u8>),
}

struct Pair {
    client: Client,
    deframer: Deframer,
    now: Instant,
    t0: Instant,
    wire: Vec<u8>,
}

impl Pair {
    fn new(config: ClientConfig) -> Pair {
        let t0 = Instant::now();
        Pair {
            client: Client::new(config, t0),
            deframer: Deframer::new(),
            now: t0,
            t0,
            wire: Vec::new(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Everything the client sent since the last call, decoded by the server.
    fn server_rx(&mut self) -> Vec<Rx> {
        self.wire.clear();
        self.client.poll_transmit(&mut self.wire);
        let mut got = Vec::new();
        self.deframer
            .feed(&self.wire, |p| {
                got.push(
                    match Packet::decode(p).expect("client sent a valid packet") {
                        Packet::Data(d) => Rx::Data(d.to_vec()),
                        Packet::Control(c) => Rx::Control(c, p.to_vec()),
                    },
                );
                true
            })
            .unwrap();
        got
    }

    fn server_controls(&mut self) -> Vec<ControlMessage> {
        self.server_rx()
            .into_iter()
            .filter_map(|r| match r {
                Rx::Control(c, _) => Some(c),
                Rx::Data(_) => None,
            })
            .collect()
    }

    fn send(&mut self, msg: &ControlMessage) {
        let b = msg.to_bytes().unwrap();
        self.client.handle_input(self.now, &b);
    }

    fn send_data(&mut self, frame: &[u8]) {
        let mut b = Vec::new();
        encode_data_packet(frame, &mut b).unwrap();
        self.client.handle_input(self.now, &b);
    }

    /// Advances virtual time, firing every expired client timer on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.client.poll_timeout() {
            if t > end {
                break;
            }
            self.now = t;
            self.client.handle_timeout(t);
        }
        self.now = end;
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    fn frames(&mut self) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        loop {
            let mut f = Vec::new();
            if !self.client.poll_ppp_frame(&mut f) {
                return v;
            }
            v.push(f);
        }
    }

    /// Request -> ACK with the given bitmask.
    fn acked(config: ClientConfig, offered: HashProtocols) -> Pair {
        let mut p = Pair::new(config);
        let rx = p.server_controls();
        assert_eq!(rx, vec![ControlMessage::call_connect_request()]);
        p.send(&ControlMessage::call_connect_ack(offered, NONCE));
        p
    }

    /// Request -> ACK(both) -> CALL_CONNECTED.
    fn connected(config: ClientConfig) -> Pair {
        let mut p = Pair::acked(config, HashProtocols::BOTH);
        p.client.authenticated(p.now, &Hlak::zero(), CERT).unwrap();
        assert_eq!(p.client.state(), State::CallConnected);
        p.server_rx();
        p.events();
        p
    }
}

fn mppe_hlak() -> (Vec<u8>, Vec<u8>, Hlak) {
    let send: Vec<u8> = (1..=16).collect();
    let recv: Vec<u8> = (101..=116).collect();
    let hlak = Hlak::from_mppe_keys(&send, &recv);
    (send, recv, hlak)
}

/// Independent computation of the CALL_CONNECTED bytes, straight from [MS-SSTP] §3.2.5.2.
fn expected_call_connected(proto: u8, send: &[u8], recv: &[u8]) -> Vec<u8> {
    let mut hlak = send[..16].to_vec();
    hlak.extend_from_slice(&recv[..16]);
    let mut p = vec![
        0x10, 0x01, 0x00, 0x70, 0x00, 0x04, 0x00, 0x01, 0x00, 0x03, 0x00, 0x68, 0, 0, 0, proto,
    ];
    p.extend_from_slice(&NONCE);
    let mut cert_hash = if proto == 1 {
        Sha1::digest(CERT).to_vec()
    } else {
        Sha256::digest(CERT).to_vec()
    };
    cert_hash.resize(32, 0);
    p.extend_from_slice(&cert_hash);
    p.extend_from_slice(&[0; 32]);
    let mut seed = b"SSTP inner method derived CMK".to_vec();
    let mac = if proto == 1 {
        seed.extend_from_slice(&[20, 0, 1]);
        let mut m = Hmac::<Sha1>::new_from_slice(&hlak).unwrap();
        m.update(&seed);
        let cmk = m.finalize().into_bytes();
        let mut m = Hmac::<Sha1>::new_from_slice(&cmk).unwrap();
        m.update(&p);
        m.finalize().into_bytes().to_vec()
    } else {
        seed.extend_from_slice(&[32, 0, 1]);
        let mut m = Hmac::<Sha256>::new_from_slice(&hlak).unwrap();
        m.update(&seed);
        let cmk = m.finalize().into_bytes();
        let mut m = Hmac::<Sha256>::new_from_slice(&cmk).unwrap();
        m.update(&p);
        m.finalize().into_bytes().to_vec()
    };
    p[80..80 + mac.len()].copy_from_slice(&mac);
    p
}

#[test]
fn ack_then_call_connected_sha256() {
    let mut p = Pair::acked(ClientConfig::default(), HashProtocols::BOTH);
    assert_eq!(
        p.events(),
        vec![Event::ConnectAcknowledged {
            offered: HashProtocols::BOTH,
            chosen: HashProtocol::Sha256
        }]
    );
    assert_eq!(p.client.state(), State::ConnectAckReceived);
    assert_eq!(
        p.client.poll_timeout(),
        Some(p.now + Duration::from_secs(60))
    );

    // Before CALL_CONNECTED: PPP control frames flow, IP frames are dropped both ways.
    p.client.send_ppp_frame(LCP).unwrap();
    p.client.send_ppp_frame(IP).unwrap();
    assert_eq!(p.server_rx(), vec![Rx::Data(LCP.to_vec())]);
    assert_eq!(p.client.stats().tx_frames_dropped, 1);
    p.send_data(LCP);
    p.send_data(IP);
    assert_eq!(p.frames(), vec![LCP.to_vec()]);
    assert_eq!(p.client.stats().rx_frames_dropped, 1);

    let (send, recv, hlak) = mppe_hlak();
    p.client.authenticated(p.now, &hlak, CERT).unwrap();
    assert_eq!(
        p.events(),
        vec![Event::CallConnected {
            protocol: HashProtocol::Sha256
        }]
    );
    let rx = p.server_rx();
    let [Rx::Control(msg, bytes)] = &rx[..] else {
        panic!("{rx:?}")
    };
    assert_eq!(msg.message_type, MessageType::CallConnected);
    assert_eq!(bytes, &expected_call_connected(2, &send, &recv));
    assert_eq!(
        p.client.authenticated(p.now, &hlak, CERT),
        Err(AuthError::AlreadyConnected)
    );

    // Now IP flows both ways.
    p.client.send_ppp_frame(IP).unwrap();
    assert_eq!(p.server_rx(), vec![Rx::Data(IP.to_vec())]);
    p.send_data(IP);
    assert_eq!(p.frames(), vec![IP.to_vec()]);
    let s = p.client.stats();
    assert_eq!(s.frames_sent, 2);
    assert_eq!(s.frames_received, 2);
    assert_eq!(s.packets_sent, 4); // request, LCP, CALL_CONNECTED, IP
    assert_eq!(s.bytes_sent, 14 + 12 + 112 + 16);
}

#[test]
fn ack_sha1_only_and_byte_by_byte_input() {
    let mut p = Pair::new(ClientConfig::default());
    p.server_rx();
    let ack = ControlMessage::call_connect_ack(HashProtocols::SHA1, NONCE)
        .to_bytes()
        .unwrap();
    for b in &ack {
        assert_eq!(p.client.state(), State::ConnectRequestSent);
        p.client.handle_input(p.now, std::slice::from_ref(b));
    }
    assert_eq!(
        p.events(),
        vec![Event::ConnectAcknowledged {
            offered: HashProtocols::SHA1,
            chosen: HashProtocol::Sha1
        }]
    );
    let (send, recv, hlak) = mppe_hlak();
    p.client.authenticated(p.now, &hlak, CERT).unwrap();
    let rx = p.server_rx();
    let [Rx::Control(_, bytes)] = &rx[..] else {
        panic!("{rx:?}")
    };
    assert_eq!(bytes, &expected_call_connected(1, &send, &recv));
    assert_eq!(&bytes[100..], &[0; 12]);
}

#[test]
fn authenticated_before_ack_is_refused() {
    let mut p = Pair::new(ClientConfig::default());
    assert_eq!(
        p.client.authenticated(p.now, &Hlak::zero(), CERT),
        Err(AuthError::NotAcknowledged)
    );
}

#[test]
fn nak_retries_then_abort() {
    let mut p = Pair::new(ClientConfig::default());
    let status = StatusInfo {
        attrib_id: AttributeId::EncapsulatedProtocolId,
        status: StatusCode::ValueNotSupported,
        value: vec![0, 1],
    };
    let nak = ControlMessage::call_connect_nak(vec![status.clone()]);
    let mut requests = p.server_controls().len();
    for _ in 0..3 {
        p.advance(Duration::from_secs(10));
        p.send(&nak);
        let rx = p.server_controls();
        assert_eq!(rx, vec![ControlMessage::call_connect_request()]);
        requests += 1;
        // The negotiation timer restarts with each retry.
        assert_eq!(
            p.client.poll_timeout(),
            Some(p.now + Duration::from_secs(60))
        );
    }
    assert_eq!(requests, 4);
    p.send(&nak);
    let rx = p.server_controls();
    assert_eq!(
        rx,
        vec![ControlMessage::call_abort(Some(StatusInfo::new(
            AttributeId::StatusInfo,
            StatusCode::RetryCountExceeded
        )))]
    );
    assert_eq!(p.client.state(), State::AbortInProgress);
    // Server answers the abort: linger 1 s, then closed.
    p.send(&ControlMessage::call_abort(None));
    assert_eq!(p.client.state(), State::AbortPending);
    p.advance(Duration::from_millis(999));
    assert!(!p.client.is_closed());
    p.advance(Duration::from_millis(1));
    assert!(p.client.is_closed());
    let expected = CloseReason::ConnectNak {
        statuses: vec![status],
        attempts: 4,
    };
    assert_eq!(
        p.events(),
        vec![
            Event::Closing(expected.clone()),
            Event::Closed(expected.clone())
        ]
    );
    let text = expected.to_string();
    assert!(
        text.starts_with(
            "server refused the call: CALL_CONNECT_NAK, status VALUE_NOT_SUPPORTED (4) for \
             attribute ENCAPSULATED_PROTOCOL_ID"
        ),
        "{text}"
    );
    assert!(p.server_rx().is_empty());
}

#[test]
fn nak_with_zero_retries_and_silent_server() {
    let cfg = ClientConfig {
        nak_retries: 0,
        ..Default::default()
    };
    let mut p = Pair::new(cfg);
    p.server_rx();
    p.send(&ControlMessage::call_connect_nak(vec![]));
    assert_eq!(p.server_controls()[0].message_type, MessageType::CallAbort);
    // No answer to our abort: abort timer 1 (3 s).
    p.advance(Duration::from_millis(2999));
    assert!(!p.client.is_closed());
    p.advance(Duration::from_millis(1));
    assert!(p.client.is_closed());
    assert!(matches!(
        p.client.close_reason(),
        Some(CloseReason::ConnectNak { attempts: 1, .. })
    ));
}

#[test]
fn peer_abort_right_after_call_connected() {
    let mut p = Pair::connected(ClientConfig::default());
    let st = StatusInfo::new(AttributeId::CryptoBinding, StatusCode::ValueNotSupported);
    p.send(&ControlMessage::call_abort(Some(st.clone())));
    assert_eq!(p.server_controls(), vec![ControlMessage::call_abort(None)]);
    assert_eq!(p.client.state(), State::AbortPending);
    assert_eq!(p.client.send_ppp_frame(IP), Err(SendError::Closed));
    p.advance(Duration::from_secs(1));
    let reason = CloseReason::PeerAbort {
        status: Some(st),
        after_call_connected: true,
    };
    assert_eq!(
        p.events(),
        vec![
            Event::Closing(reason.clone()),
            Event::Closed(reason.clone())
        ]
    );
    assert!(reason.to_string().contains("crypto binding"), "{reason}");
    assert_eq!(p.elapsed(), Duration::from_secs(1));
}

#[test]
fn abort_ignored_while_lingering_after_peer_disconnect() {
    let mut p = Pair::connected(ClientConfig::default());
    p.send(&ControlMessage::call_disconnect(None));
    p.server_rx();
    p.send(&ControlMessage::call_abort(None));
    assert!(p.server_rx().is_empty());
    assert_eq!(p.client.state(), State::DisconnectAckPending);
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.client.close_reason(),
        Some(&CloseReason::PeerDisconnect(None))
    );
}

#[test]
fn peer_abort_without_binding_status_after_connect() {
    let r = CloseReason::PeerAbort {
        status: None,
        after_call_connected: true,
    };
    assert!(
        r.to_string()
            .contains("if this happens right after authentication"),
        "{r}"
    );
    let r = CloseReason::PeerAbort {
        status: None,
        after_call_connected: false,
    };
    assert!(!r.to_string().contains("crypto binding"), "{r}");
}

#[test]
fn peer_abort_before_ack() {
    let mut p = Pair::new(ClientConfig::default());
    p.server_rx();
    p.send(&ControlMessage::call_abort(None));
    assert_eq!(p.server_controls(), vec![ControlMessage::call_abort(None)]);
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.client.close_reason(),
        Some(&CloseReason::PeerAbort {
            status: None,
            after_call_connected: false
        })
    );
    assert!(p.client.is_closed());
}

#[test]
fn echo_keepalive_answered() {
    let mut p = Pair::connected(ClientConfig::default());
    for round in 0..10 {
        p.advance(Duration::from_secs(60));
        assert_eq!(
            p.server_controls(),
            vec![ControlMessage::new(MessageType::EchoRequest)],
            "round {round}"
        );
        if round % 2 == 0 {
            p.send(&ControlMessage::new(MessageType::EchoResponse));
        } else {
            // Any packet counts as alive, not only ECHO_RESPONSE.
            p.send_data(IP);
        }
    }
    assert_eq!(p.client.state(), State::CallConnected);
    assert_eq!(p.client.stats().echo_requests_sent, 10);
    // Regular traffic postpones the echo.
    for _ in 0..5 {
        p.advance(Duration::from_secs(59));
        p.send_data(IP);
    }
    assert!(p.server_rx().is_empty());
}

#[test]
fn echo_keepalive_unanswered_closes_without_abort() {
    let mut p = Pair::connected(ClientConfig::default());
    for i in 1..=3 {
        p.advance(Duration::from_secs(60));
        assert_eq!(
            p.server_controls(),
            vec![ControlMessage::new(MessageType::EchoRequest)],
            "echo {i}"
        );
        assert!(!p.client.is_closed());
    }
    p.advance(Duration::from_secs(59));
    assert!(!p.client.is_closed());
    p.advance(Duration::from_secs(1));
    assert!(p.client.is_closed());
    assert_eq!(p.elapsed(), Duration::from_secs(240));
    assert!(p.server_rx().is_empty(), "no CALL_ABORT on echo timeout");
    assert_eq!(
        p.events(),
        vec![Event::Closed(CloseReason::EchoTimeout { unanswered: 3 })]
    );
}

#[test]
fn server_echo_request_is_answered_even_before_connected() {
    let mut p = Pair::acked(ClientConfig::default(), HashProtocols::SHA256);
    p.events();
    p.send(&ControlMessage::new(MessageType::EchoRequest));
    assert_eq!(
        p.server_controls(),
        vec![ControlMessage::new(MessageType::EchoResponse)]
    );
    assert_eq!(p.events(), vec![Event::EchoRequestReceived]);
    assert_eq!(p.client.state(), State::ConnectAckReceived);
}

#[test]
fn negotiation_timeout_waiting_for_ack() {
    let mut p = Pair::new(ClientConfig::default());
    p.server_rx();
    p.advance(Duration::from_secs(59));
    assert!(p.server_rx().is_empty());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.server_controls(),
        vec![ControlMessage::call_abort(Some(StatusInfo::new(
            AttributeId::NoError,
            StatusCode::NegotiationTimeout
        )))]
    );
    p.advance(Duration::from_secs(3));
    assert!(p.client.is_closed());
    assert_eq!(
        p.client.close_reason(),
        Some(&CloseReason::NegotiationTimeout {
            phase: NegotiationPhase::ConnectAck
        })
    );
}

#[test]
fn negotiation_timeout_waiting_for_authentication() {
    let mut p = Pair::acked(ClientConfig::default(), HashProtocols::BOTH);
    p.advance(Duration::from_secs(30));
    // PPP control traffic does not extend the negotiation timer.
    p.send_data(LCP);
    p.advance(Duration::from_secs(30));
    assert_eq!(p.client.state(), State::AbortInProgress);
    assert_eq!(p.server_controls()[0].message_type, MessageType::CallAbort);
    p.send(&ControlMessage::call_abort(None));
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.client.close_reason(),
        Some(&CloseReason::NegotiationTimeout {
            phase: NegotiationPhase::Authentication
        })
    );
    assert!(p.client.is_closed());
}

#[test]
fn disconnect_acknowledged() {
    let mut p = Pair::connected(ClientConfig::default());
    p.client.disconnect(p.now);
    assert_eq!(
        p.server_controls(),
        vec![ControlMessage::call_disconnect(Some(StatusInfo::new(
            AttributeId::NoError,
            StatusCode::NoError
        )))]
    );
    assert_eq!(p.client.state(), State::DisconnectInProgress);
    assert_eq!(p.client.send_ppp_frame(LCP), Err(SendError::Closed));
    p.client.disconnect(p.now); // idempotent
    assert!(p.server_rx().is_empty());
    p.advance(Duration::from_secs(2));
    p.send(&ControlMessage::new(MessageType::CallDisconnectAck));
    assert!(p.client.is_closed());
    let r = CloseReason::LocalDisconnect { acknowledged: true };
    assert_eq!(
        p.events(),
        vec![
            Event::Closing(CloseReason::LocalDisconnect {
                acknowledged: false
            }),
            Event::Closed(r)
        ]
    );
    assert_eq!(p.client.poll_timeout(), None);
}

#[test]
fn disconnect_timed_out() {
    let mut p = Pair::connected(ClientConfig::default());
    p.client.disconnect(p.now);
    p.server_rx();
    // Data and echoes are ignored while waiting.
    p.send_data(IP);
    assert!(p.frames().is_empty());
    p.advance(Duration::from_millis(4999));
    assert!(!p.client.is_closed());
    assert!(p.server_rx().is_empty(), "no echo while disconnecting");
    p.advance(Duration::from_millis(1));
    assert!(p.client.is_closed());
    assert_eq!(
        p.client.close_reason(),
        Some(&CloseReason::LocalDisconnect {
            acknowledged: false
        })
    );
}

#[test]
fn peer_disconnect() {
    let mut p = Pair::connected(ClientConfig::default());
    let st = StatusInfo::new(AttributeId::NoError, StatusCode::NoError);
    p.send(&ControlMessage::call_disconnect(Some(st.clone())));
    assert_eq!(
        p.server_controls(),
        vec![ControlMessage::new(MessageType::CallDisconnectAck)]
    );
    assert_eq!(p.client.state(), State::DisconnectAckPending);
    p.advance(Duration::from_secs(1));
    assert!(p.client.is_closed());
    assert_eq!(
        p.client.close_reason(),
        Some(&CloseReason::PeerDisconnect(Some(st)))
    );
}

#[test]
fn local_abort() {
    let mut p = Pair::connected(ClientConfig::default());
    let st = StatusInfo::new(AttributeId::NoError, StatusCode::NoError);
    p.client.abort(p.now, Some(st.clone()));
    assert_eq!(
        p.server_controls(),
        vec![ControlMessage::call_abort(Some(st))]
    );
    p.send(&ControlMessage::call_abort(None));
    assert_eq!(p.client.state(), State::AbortPending);
    assert!(p.server_rx().is_empty(), "no second abort");
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.events().last(),
        Some(&Event::Closed(CloseReason::LocalAbort))
    );
}

#[test]
fn framing_error_closes_silently() {
    let mut p = Pair::connected(ClientConfig::default());
    p.client.handle_input(p.now, b"HTTP/1.1 200 OK\r\n");
    assert!(p.client.is_closed());
    assert!(p.server_rx().is_empty());
    assert!(matches!(
        p.client.close_reason(),
        Some(CloseReason::Framing(wire::WireError::BadVersion(b'H')))
    ));
    // Further input is ignored.
    p.send_data(IP);
    assert!(p.frames().is_empty());
}

#[test]
fn bad_acks_abort() {
    // ACK without crypto binding request.
    let mut p = Pair::new(ClientConfig::default());
    p.server_rx();
    p.send(&ControlMessage::new(MessageType::CallConnectAck));
    let rx = p.server_controls();
    assert_eq!(rx[0].message_type, MessageType::CallAbort);
    assert!(matches!(
        p.client.close_reason(),
        Some(CloseReason::ProtocolViolation(_))
    ));

    // ACK with no supported hash.
    let mut p = Pair::new(ClientConfig::default());
    p.server_rx();
    p.send(&ControlMessage::call_connect_ack(
        HashProtocols::from_bits(0x0C),
        NONCE,
    ));
    let rx = p.server_controls();
    assert_eq!(rx[0].message_type, MessageType::CallAbort);
    assert_eq!(
        p.client.close_reason(),
        Some(&CloseReason::UnsupportedHashProtocols(
            HashProtocols::from_bits(0x0C)
        ))
    );

    // Second ACK while connected.
    let mut p = Pair::connected(ClientConfig::default());
    p.send(&ControlMessage::call_connect_ack(
        HashProtocols::BOTH,
        NONCE,
    ));
    assert_eq!(p.server_controls()[0].message_type, MessageType::CallAbort);
    assert_eq!(p.client.state(), State::AbortInProgress);

    // Unknown message type.
    let mut p = Pair::connected(ClientConfig::default());
    p.send(&ControlMessage::new(MessageType::Unknown(0x55)));
    let rx = p.server_controls();
    assert_eq!(rx[0].message_type, MessageType::CallAbort);
    assert_eq!(
        rx[0].status_infos().next().unwrap().status,
        StatusCode::InvalidFrameReceived
    );

    // Malformed control message (bad attribute length) inside valid framing.
    let mut p = Pair::connected(ClientConfig::default());
    p.client
        .handle_input(p.now, &[0x10, 1, 0, 12, 0, 5, 0, 1, 0, 2, 0, 2]);
    assert_eq!(p.server_controls()[0].message_type, MessageType::CallAbort);
    assert!(matches!(
        p.client.close_reason(),
        Some(CloseReason::ProtocolViolation(_))
    ));
}

#[test]
fn frame_limits() {
    let mut p = Pair::connected(ClientConfig::default());
    assert_eq!(
        p.client.send_ppp_frame(&[0; 4092]),
        Err(SendError::TooLong(4092))
    );
    p.client.send_ppp_frame(&[0xFF; 4091]).unwrap();
    let rx = p.server_rx();
    assert_eq!(rx, vec![Rx::Data(vec![0xFF; 4091])]);
}

#[test]
fn rx_queue_is_bounded_and_order_kept() {
    let cfg = ClientConfig {
        max_rx_queue: 100,
        ..Default::default()
    };
    let mut p = Pair::connected(cfg);
    for i in 0..10u8 {
        p.send_data(&[
            0xFF, 0x03, 0x00, 0x21, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
    }
    // 22 bytes per record: 4 fit.
    let frames = p.frames();
    assert_eq!(frames.len(), 4);
    assert_eq!(
        frames.iter().map(|f| f[4]).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert_eq!(p.client.stats().rx_frames_dropped, 6);
    // Interleaved polling keeps order.
    for i in 0..50u8 {
        p.send_data(&[0xFF, 0x03, 0x00, 0x21, i]);
        p.send_data(&[0xFF, 0x03, 0x00, 0x21, i, i]);
        let mut f = Vec::new();
        assert!(p.client.poll_ppp_frame(&mut f));
        assert_eq!(f, [0xFF, 0x03, 0x00, 0x21, i]);
        let f = p.client.next_ppp_frame().unwrap();
        assert_eq!(f, [0xFF, 0x03, 0x00, 0x21, i, i]);
    }
    assert_eq!(p.client.pending_ppp_bytes(), 0);
}

#[test]
fn zero_copy_transmit() {
    let mut p = Pair::connected(ClientConfig::default());
    p.client.send_ppp_frame(IP).unwrap();
    let pending = p.client.pending_transmit().to_vec();
    assert_eq!(pending.len(), 4 + IP.len());
    p.client.consume_transmit(3);
    assert_eq!(p.client.pending_transmit(), &pending[3..]);
    p.client.consume_transmit(100);
    assert!(p.client.pending_transmit().is_empty());

    // Partial writes interleaved with new frames keep the byte stream intact.
    let mut expected = Vec::new();
    let mut written = Vec::new();
    for i in 0..200u8 {
        let f = [0xFF, 0x03, 0x00, 0x21, i, i, i];
        p.client.send_ppp_frame(&f).unwrap();
        encode_data_packet(&f, &mut expected).unwrap();
        let pending = p.client.pending_transmit();
        let n = (pending.len() / 3).max(1).min(pending.len());
        written.extend_from_slice(&pending[..n]);
        p.client.consume_transmit(n);
        if i % 50 == 49 {
            p.client.poll_transmit(&mut written);
        }
    }
    p.client.poll_transmit(&mut written);
    assert_eq!(written, expected);
    assert!(p.client.pending_transmit().is_empty());
}

#[test]
fn unknown_attributes_in_ack_are_tolerated() {
    let mut p = Pair::new(ClientConfig::default());
    p.server_rx();
    let mut ack = ControlMessage::call_connect_ack(HashProtocols::SHA256, NONCE);
    ack.attributes.push(Attribute::Unknown {
        id: 0x42,
        value: vec![1, 2],
    });
    p.send(&ack);
    assert_eq!(p.client.state(), State::ConnectAckReceived);
}
