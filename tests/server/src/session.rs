//! The SSTP server state machine ([MS-SSTP] §3.3), sans-IO like `sstp_proto::client::Client`:
//! bytes and the caller's clock in; bytes for TLS, PPP frames and events out. The SSTP-level
//! fault modes live here.
//!
//! The data path does not allocate per packet: received data packets are handed to a callback as
//! slices of the input (or of the deframer's buffer) and frames to send are encoded straight
//! into the transmit buffer.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use sstp_proto::client::is_ppp_control_frame;
use sstp_proto::crypto_binding::{self, HashProtocol, HashProtocols, Hlak, CALL_CONNECTED_LEN};
use sstp_proto::wire::{
    decode_control, encode_data_packet, Attribute, AttributeId, ControlMessage, CryptoBinding,
    Deframer, Header, MessageType, StatusCode, StatusInfo, WireError, ENCAPSULATED_PROTOCOL_PPP,
    HEADER_LEN, MAX_DATA_LEN, NONCE_LEN,
};

/// SSTP-level fault modes (the HTTP/TLS ones are handled by the connection driver).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionFault {
    /// Correct behaviour.
    None,
    /// Answer every CALL_CONNECT_REQUEST with CALL_CONNECT_NAK (Status Info with this status
    /// for attribute ENCAPSULATED_PROTOCOL_ID).
    Nak(StatusCode),
    /// Send CALL_ABORT (Status Info) as soon as CALL_CONNECTED arrives, whatever it holds.
    AbortAfterConnected,
    /// Send CALL_ABORT (Status Info) this long after CALL_CONNECTED.
    AbortMidSession(Duration),
    /// After CALL_CONNECTED, send nothing at all any more (no echoes, no answers, no frames).
    SilentAfterConnect,
    /// Never answer CALL_CONNECT_REQUEST (the client's negotiation timer expires).
    SilentAfterHttp,
}

/// Timers and checks of a [`Session`].
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Hash protocol bitmask offered in the Crypto Binding Request (1, 2 or 3).
    pub hash_protocols: HashProtocols,
    /// Wait for CALL_CONNECT_REQUEST, then for CALL_CONNECTED after the ACK (60 s).
    pub negotiation_timeout: Duration,
    /// Idle time after which an ECHO_REQUEST is sent; the same again without any packet closes
    /// the connection (60 s).
    pub hello_interval: Duration,
    /// Abort timer 1 (3 s).
    pub abort_timeout: Duration,
    /// Abort timer 2 (1 s).
    pub abort_linger: Duration,
    /// Disconnect timer 1 (5 s).
    pub disconnect_timeout: Duration,
    /// Disconnect timer 2 (1 s).
    pub disconnect_linger: Duration,
    /// DER of the certificate the client's certificate hash must match (normally the server's
    /// own certificate; another one in the cert-hash-mismatch fault).
    pub binding_cert_der: Vec<u8>,
    /// Also verify the Compound MAC with this HLAK (the zero HLAK for PAP tests).
    pub verify_mac: Option<Hlak>,
    /// Or with the server HLAK from the MPPE keys the server pppd wrote to this file when its
    /// authentication ended (`<recv hex> <send hex>`, tests/fixtures/mppe-keys-export.c).
    pub server_keys_file: Option<std::path::PathBuf>,
    /// Fault mode.
    pub fault: SessionFault,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hash_protocols: HashProtocols::BOTH,
            negotiation_timeout: Duration::from_secs(60),
            hello_interval: Duration::from_secs(60),
            abort_timeout: Duration::from_secs(3),
            abort_linger: Duration::from_secs(1),
            disconnect_timeout: Duration::from_secs(5),
            disconnect_linger: Duration::from_secs(1),
            binding_cert_der: Vec::new(),
            verify_mac: None,
            server_keys_file: None,
            fault: SessionFault::None,
        }
    }
}

/// Server states ([MS-SSTP] §3.3.1.1 plus the common teardown states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerState {
    /// HTTP done; waiting for CALL_CONNECT_REQUEST (Server_Connect_Request_Pending).
    ConnectRequestPending,
    /// ACK sent; PPP negotiates; waiting for CALL_CONNECTED (Server_Call_Connected_Pending).
    CallConnectedPending,
    /// CALL_CONNECTED verified (Server_Call_Connected).
    CallConnected,
    /// Fault mode: receiving but sending nothing.
    Silent,
    /// We sent CALL_ABORT and wait for the peer's.
    AbortInProgress,
    /// CALL_ABORT exchanged; lingering.
    AbortPending,
    /// We sent CALL_DISCONNECT and wait for the ACK.
    DisconnectInProgress,
    /// We acknowledged the peer's CALL_DISCONNECT; lingering.
    DisconnectAckPending,
    /// Done: flush the transmit buffer and close.
    Closed,
}

impl ServerState {
    /// Setting up or set up (not tearing down, not closed).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ServerState::ConnectRequestPending
                | ServerState::CallConnectedPending
                | ServerState::CallConnected
        )
    }
}

/// Result of checking the client's Crypto Binding attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingCheck {
    /// The hash protocol the client chose.
    pub hash_protocol: HashProtocol,
    /// It was offered in the Crypto Binding Request.
    pub hash_offered: bool,
    /// The nonce matches ours.
    pub nonce_ok: bool,
    /// The certificate hash matches the binding certificate.
    pub cert_hash_ok: bool,
    /// The Compound MAC matches (only checked with a configured HLAK).
    pub mac_ok: Option<bool>,
}

impl BindingCheck {
    /// Every check that was made passed.
    pub fn ok(&self) -> bool {
        self.hash_offered && self.nonce_ok && self.cert_hash_ok && self.mac_ok != Some(false)
    }
}

impl fmt::Display for BindingCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = |v: bool| if v { "ok" } else { "WRONG" };
        write!(
            f,
            "hash {} ({}), nonce {}, certificate hash {}, compound MAC {}",
            self.hash_protocol,
            if self.hash_offered {
                "offered"
            } else {
                "NOT offered"
            },
            b(self.nonce_ok),
            b(self.cert_hash_ok),
            match self.mac_ok {
                None => "not checked",
                Some(v) => b(v),
            }
        )
    }
}

/// Why the server aborted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AbortCause {
    /// The crypto binding failed a check.
    Binding(BindingCheck),
    /// A fault mode made it abort.
    Fault(&'static str),
    /// The client broke the protocol.
    ProtocolViolation(String),
    /// A negotiation step timed out (`true`: waiting for CALL_CONNECTED).
    NegotiationTimeout {
        /// Waiting for CALL_CONNECTED (else for CALL_CONNECT_REQUEST).
        call_connected: bool,
    },
}

/// How the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The client sent CALL_DISCONNECT; we acknowledged.
    ClientDisconnect(Option<StatusInfo>),
    /// The client sent CALL_ABORT.
    ClientAbort(Option<StatusInfo>),
    /// We sent CALL_ABORT.
    ServerAbort(AbortCause),
    /// We sent CALL_DISCONNECT (e.g. pppd ended).
    ServerDisconnect {
        /// The client acknowledged in time.
        acknowledged: bool,
    },
    /// No packet from the client after an unanswered ECHO_REQUEST.
    EchoTimeout,
    /// The byte stream is not SSTP.
    Framing(WireError),
    /// The transport closed without SSTP teardown (set by the driver).
    TransportClosed,
    /// An I/O error (set by the driver).
    Io(String),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::ClientDisconnect(s) => {
                write!(f, "client disconnected (CALL_DISCONNECT")?;
                if let Some(s) = s {
                    write!(f, ", {s}")?;
                }
                f.write_str(")")
            }
            EndReason::ClientAbort(s) => {
                write!(f, "client aborted (CALL_ABORT")?;
                if let Some(s) = s {
                    write!(f, ", {s}")?;
                }
                f.write_str(")")
            }
            EndReason::ServerAbort(c) => match c {
                AbortCause::Binding(b) => write!(f, "server aborted: crypto binding rejected: {b}"),
                AbortCause::Fault(n) => write!(f, "server aborted by fault mode {n}"),
                AbortCause::ProtocolViolation(s) => {
                    write!(f, "server aborted: protocol violation: {s}")
                }
                AbortCause::NegotiationTimeout { call_connected } => write!(
                    f,
                    "server aborted: negotiation timeout waiting for {}",
                    if *call_connected {
                        "CALL_CONNECTED"
                    } else {
                        "CALL_CONNECT_REQUEST"
                    }
                ),
            },
            EndReason::ServerDisconnect { acknowledged } => write!(
                f,
                "server disconnected ({})",
                if *acknowledged {
                    "acknowledged"
                } else {
                    "no acknowledgement"
                }
            ),
            EndReason::EchoTimeout => f.write_str("echo timeout: the client went silent"),
            EndReason::Framing(e) => write!(f, "not an SSTP stream: {e}"),
            EndReason::TransportClosed => f.write_str("connection closed without SSTP teardown"),
            EndReason::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

/// What happened (for logging and for the driver).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// CALL_CONNECT_REQUEST number `attempt` arrived.
    ConnectRequest {
        /// 1-based.
        attempt: u32,
    },
    /// CALL_CONNECT_NAK sent.
    Nak(StatusInfo),
    /// CALL_CONNECT_ACK sent: PPP may start.
    Acknowledged {
        /// Offered hash protocols.
        offered: HashProtocols,
    },
    /// CALL_CONNECTED arrived and was checked.
    CallConnected(BindingCheck),
    /// ECHO_REQUEST sent on idle.
    EchoSent,
    /// ECHO_REQUEST answered.
    EchoAnswered,
    /// A fault mode acted.
    Fault(&'static str),
    /// Teardown started.
    Closing(EndReason),
    /// Finished.
    Closed(EndReason),
}

impl fmt::Display for SessionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEvent::ConnectRequest { attempt } => {
                write!(f, "CALL_CONNECT_REQUEST #{attempt} received")
            }
            SessionEvent::Nak(s) => write!(f, "CALL_CONNECT_NAK sent ({s})"),
            SessionEvent::Acknowledged { offered } => write!(
                f,
                "CALL_CONNECT_ACK sent (crypto binding request, hash bitmask {offered} = {:#04x})",
                offered.bits()
            ),
            SessionEvent::CallConnected(b) => write!(f, "CALL_CONNECTED received: {b}"),
            SessionEvent::EchoSent => f.write_str("idle: ECHO_REQUEST sent"),
            SessionEvent::EchoAnswered => f.write_str("ECHO_REQUEST answered"),
            SessionEvent::Fault(n) => write!(f, "fault mode {n} acts"),
            SessionEvent::Closing(r) => write!(f, "closing: {r}"),
            SessionEvent::Closed(r) => write!(f, "closed: {r}"),
        }
    }
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// SSTP packets received.
    pub packets_received: u64,
    /// SSTP packets sent.
    pub packets_sent: u64,
    /// PPP frames delivered to PPP.
    pub frames_received: u64,
    /// PPP frames sent to the client.
    pub frames_sent: u64,
    /// Data frames dropped (not allowed in the state, or empty).
    pub frames_dropped: u64,
    /// CALL_CONNECT_REQUESTs received.
    pub connect_requests: u32,
    /// ECHO_REQUESTs received.
    pub echo_requests_received: u64,
    /// ECHO_REQUESTs sent.
    pub echo_requests_sent: u64,
}

/// The server side of one SSTP call.
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    state: ServerState,
    deframer: Deframer,
    tx: Vec<u8>,
    tx_pos: usize,
    events: VecDeque<SessionEvent>,
    deadline: Option<Instant>,
    nonce: [u8; NONCE_LEN],
    echo_outstanding: bool,
    mid_session_abort: Option<Instant>,
    end: Option<EndReason>,
    binding: Option<BindingCheck>,
    stats: SessionStats,
}

impl Session {
    /// A session started at `now` (HTTP 200 sent). `nonce` must be fresh random bytes.
    pub fn new(cfg: SessionConfig, nonce: [u8; NONCE_LEN], now: Instant) -> Session {
        let deadline = Some(now + cfg.negotiation_timeout);
        Session {
            cfg,
            state: ServerState::ConnectRequestPending,
            deframer: Deframer::new(),
            tx: Vec::with_capacity(64 * 1024),
            tx_pos: 0,
            events: VecDeque::new(),
            deadline,
            nonce,
            echo_outstanding: false,
            mid_session_abort: None,
            end: None,
            binding: None,
            stats: SessionStats::default(),
        }
    }

    /// Current state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// Finished (after flushing [`Session::pending_transmit`]).
    pub fn is_closed(&self) -> bool {
        self.state == ServerState::Closed
    }

    /// Why it ended (or is ending).
    pub fn end_reason(&self) -> Option<&EndReason> {
        self.end.as_ref()
    }

    /// The binding check, once CALL_CONNECTED arrived.
    pub fn binding(&self) -> Option<BindingCheck> {
        self.binding
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// Whether PPP frames may flow to/from PPP now (after the ACK, until teardown).
    pub fn ppp_open(&self) -> bool {
        matches!(
            self.state,
            ServerState::CallConnectedPending | ServerState::CallConnected
        )
    }

    /// Bytes to write to TLS.
    pub fn pending_transmit(&self) -> &[u8] {
        self.tx.get(self.tx_pos..).unwrap_or_default()
    }

    /// `n` bytes of [`Session::pending_transmit`] were written. Partial writes only move an
    /// offset; the buffer is compacted rarely (amortised, no quadratic copying).
    pub fn consume_transmit(&mut self, n: usize) {
        self.tx_pos = (self.tx_pos + n).min(self.tx.len());
        if self.tx_pos == self.tx.len() {
            self.tx.clear();
            self.tx_pos = 0;
        } else if self.tx_pos >= 256 * 1024 {
            self.tx.drain(..self.tx_pos);
            self.tx_pos = 0;
        }
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.deadline, self.mid_session_abort) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Feeds bytes read from TLS; `on_frame` gets each PPP frame for PPP.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8], on_frame: &mut dyn FnMut(&[u8])) {
        if self.state == ServerState::Closed || bytes.is_empty() {
            return;
        }
        let mut deframer = std::mem::take(&mut self.deframer);
        let r = deframer.feed(bytes, |p| {
            self.handle_packet(now, p, on_frame);
            self.state != ServerState::Closed
        });
        self.deframer = deframer;
        if let Err(e) = r {
            self.close_now(EndReason::Framing(e));
        }
    }

    /// A PPP frame from PPP (pppd) for the client. Dropped (and counted) when the call is not
    /// open, the fault mode is silent, or it is not a PPP control frame before CALL_CONNECTED.
    pub fn send_ppp_frame(&mut self, frame: &[u8]) {
        let allowed = match self.state {
            ServerState::CallConnected => true,
            ServerState::CallConnectedPending => is_ppp_control_frame(frame),
            _ => false,
        };
        if !allowed || frame.is_empty() || frame.len() > MAX_DATA_LEN {
            self.stats.frames_dropped += 1;
            return;
        }
        if encode_data_packet(frame, &mut self.tx).is_ok() {
            self.stats.packets_sent += 1;
            self.stats.frames_sent += 1;
        }
    }

    /// PPP ended on the server (pppd exited): CALL_DISCONNECT, wait for the ACK.
    pub fn disconnect(&mut self, now: Instant) {
        if !self.state.is_active() {
            if self.state == ServerState::Silent {
                self.close_now(EndReason::ServerDisconnect {
                    acknowledged: false,
                });
            }
            return;
        }
        self.send(&ControlMessage::call_disconnect(Some(StatusInfo::new(
            AttributeId::NoError,
            StatusCode::NoError,
        ))));
        self.teardown(
            now,
            ServerState::DisconnectInProgress,
            self.cfg.disconnect_timeout,
            EndReason::ServerDisconnect {
                acknowledged: false,
            },
        );
    }

    /// The transport ended or failed (driver).
    pub fn transport_closed(&mut self, reason: EndReason) {
        self.close_now(reason);
    }

    /// Timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = self.mid_session_abort {
            if now >= t {
                self.mid_session_abort = None;
                if self.state == ServerState::CallConnected {
                    self.events
                        .push_back(SessionEvent::Fault("abort-mid-session"));
                    // A server ending a running call (administrator, policy): no error code
                    // fits better than NO_ERROR.
                    self.abort(
                        now,
                        AbortCause::Fault("abort-mid-session"),
                        StatusInfo::new(AttributeId::NoError, StatusCode::NoError),
                    );
                    return;
                }
            }
        }
        let Some(d) = self.deadline else { return };
        if now < d {
            return;
        }
        match self.state {
            ServerState::ConnectRequestPending => self.abort(
                now,
                AbortCause::NegotiationTimeout {
                    call_connected: false,
                },
                StatusInfo::new(AttributeId::NoError, StatusCode::NegotiationTimeout),
            ),
            ServerState::CallConnectedPending => self.abort(
                now,
                AbortCause::NegotiationTimeout {
                    call_connected: true,
                },
                StatusInfo::new(AttributeId::NoError, StatusCode::NegotiationTimeout),
            ),
            ServerState::CallConnected => {
                if self.echo_outstanding {
                    // §3.1.2.3: close without CALL_ABORT.
                    self.close_now(EndReason::EchoTimeout);
                } else {
                    self.send(&ControlMessage::new(MessageType::EchoRequest));
                    self.stats.echo_requests_sent += 1;
                    self.echo_outstanding = true;
                    self.deadline = Some(now + self.cfg.hello_interval);
                    self.events.push_back(SessionEvent::EchoSent);
                }
            }
            ServerState::Silent => self.deadline = None,
            ServerState::AbortInProgress
            | ServerState::AbortPending
            | ServerState::DisconnectInProgress
            | ServerState::DisconnectAckPending => {
                let r = self.end.clone().unwrap_or(EndReason::TransportClosed);
                self.close_now(r);
            }
            ServerState::Closed => self.deadline = None,
        }
    }

    // ------------------------------------------------------------------------------------------

    fn send(&mut self, msg: &ControlMessage) {
        if msg.encode(&mut self.tx).is_ok() {
            self.stats.packets_sent += 1;
        }
    }

    fn teardown(&mut self, now: Instant, state: ServerState, t: Duration, reason: EndReason) {
        self.state = state;
        self.deadline = Some(now + t);
        self.mid_session_abort = None;
        self.events.push_back(SessionEvent::Closing(reason.clone()));
        self.end = Some(reason);
    }

    fn abort(&mut self, now: Instant, cause: AbortCause, status: StatusInfo) {
        self.send(&ControlMessage::call_abort(Some(status)));
        self.teardown(
            now,
            ServerState::AbortInProgress,
            self.cfg.abort_timeout,
            EndReason::ServerAbort(cause),
        );
    }

    fn violation(&mut self, now: Instant, what: String, status: StatusCode) {
        self.abort(
            now,
            AbortCause::ProtocolViolation(what),
            StatusInfo::new(AttributeId::NoError, status),
        );
    }

    fn close_now(&mut self, reason: EndReason) {
        if self.state == ServerState::Closed {
            return;
        }
        let reason = self.end.take().unwrap_or(reason);
        self.state = ServerState::Closed;
        self.deadline = None;
        self.mid_session_abort = None;
        self.end = Some(reason.clone());
        self.events.push_back(SessionEvent::Closed(reason));
    }

    fn handle_packet(&mut self, now: Instant, packet: &[u8], on_frame: &mut dyn FnMut(&[u8])) {
        self.stats.packets_received += 1;
        if self.state == ServerState::CallConnected {
            // Any packet proves the client is alive.
            self.echo_outstanding = false;
            self.deadline = Some(now + self.cfg.hello_interval);
        }
        let control = match Header::decode(packet) {
            Ok(h) => h.control,
            Err(e) => {
                self.close_now(EndReason::Framing(e));
                return;
            }
        };
        if !control {
            let frame = &packet[HEADER_LEN..];
            let allowed = match self.state {
                ServerState::CallConnected | ServerState::Silent => true,
                // §3.3.7.1: no data before CALL_CONNECTED; PPP control frames only.
                ServerState::CallConnectedPending => is_ppp_control_frame(frame),
                _ => false,
            };
            if allowed && !frame.is_empty() {
                self.stats.frames_received += 1;
                on_frame(frame);
            } else {
                self.stats.frames_dropped += 1;
            }
            return;
        }
        if self.state == ServerState::Silent {
            return;
        }
        let msg = match decode_control(packet) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                if self.state.is_active() {
                    self.violation(
                        now,
                        format!("malformed control message: {e}"),
                        StatusCode::InvalidFrameReceived,
                    );
                }
                return;
            }
        };
        self.handle_control(now, &msg, packet);
    }

    fn handle_control(&mut self, now: Instant, msg: &ControlMessage, raw: &[u8]) {
        let state = self.state;
        match msg.message_type {
            MessageType::CallConnectRequest if state == ServerState::ConnectRequestPending => {
                self.stats.connect_requests += 1;
                let attempt = self.stats.connect_requests;
                self.events
                    .push_back(SessionEvent::ConnectRequest { attempt });
                self.connect_request(now, msg);
            }
            MessageType::CallConnected if state == ServerState::CallConnectedPending => {
                self.call_connected(now, msg, raw)
            }
            MessageType::CallAbort => match state {
                ServerState::AbortInProgress => {
                    self.state = ServerState::AbortPending;
                    self.deadline = Some(now + self.cfg.abort_linger);
                }
                ServerState::AbortPending | ServerState::Closed => {}
                _ => {
                    let status = msg.status_infos().next().cloned();
                    self.send(&ControlMessage::call_abort(None));
                    let reason = self.end.clone().unwrap_or(EndReason::ClientAbort(status));
                    self.teardown(
                        now,
                        ServerState::AbortPending,
                        self.cfg.abort_linger,
                        reason,
                    );
                }
            },
            MessageType::CallDisconnect => match state {
                ServerState::AbortInProgress
                | ServerState::AbortPending
                | ServerState::DisconnectAckPending
                | ServerState::Closed
                | ServerState::Silent => {}
                _ => {
                    self.send(&ControlMessage::new(MessageType::CallDisconnectAck));
                    let reason = self.end.clone().unwrap_or(EndReason::ClientDisconnect(
                        msg.status_infos().next().cloned(),
                    ));
                    self.teardown(
                        now,
                        ServerState::DisconnectAckPending,
                        self.cfg.disconnect_linger,
                        reason,
                    );
                }
            },
            MessageType::CallDisconnectAck => match state {
                ServerState::DisconnectInProgress => {
                    self.end = Some(EndReason::ServerDisconnect { acknowledged: true });
                    self.close_now(EndReason::ServerDisconnect { acknowledged: true });
                }
                s if s.is_active() => self.violation(
                    now,
                    "unexpected CALL_DISCONNECT_ACK".into(),
                    StatusCode::UnacceptedFrameReceived,
                ),
                _ => {}
            },
            MessageType::EchoRequest if state.is_active() => {
                self.stats.echo_requests_received += 1;
                self.send(&ControlMessage::new(MessageType::EchoResponse));
                self.events.push_back(SessionEvent::EchoAnswered);
            }
            MessageType::EchoResponse if state.is_active() => {}
            other if state.is_active() => {
                let status = match other {
                    MessageType::Unknown(_) => StatusCode::InvalidFrameReceived,
                    _ => StatusCode::UnacceptedFrameReceived,
                };
                self.violation(
                    now,
                    format!("unexpected {other} in state {state:?}"),
                    status,
                );
            }
            _ => {}
        }
    }

    fn connect_request(&mut self, now: Instant, msg: &ControlMessage) {
        if self.cfg.fault == SessionFault::SilentAfterHttp {
            self.events
                .push_back(SessionEvent::Fault("silent-after-http"));
            self.state = ServerState::Silent;
            self.deadline = None;
            return;
        }
        let protocol = msg.attributes.iter().find_map(|a| match a {
            Attribute::EncapsulatedProtocolId(p) => Some(*p),
            _ => None,
        });
        let refusal = match (self.cfg.fault, protocol) {
            (SessionFault::Nak(status), p) => Some(StatusInfo {
                attrib_id: AttributeId::EncapsulatedProtocolId,
                status,
                value: p
                    .unwrap_or(ENCAPSULATED_PROTOCOL_PPP)
                    .to_be_bytes()
                    .to_vec(),
            }),
            (_, None) => Some(StatusInfo::new(
                AttributeId::EncapsulatedProtocolId,
                StatusCode::RequiredAttributeMissing,
            )),
            (_, Some(p)) if p != ENCAPSULATED_PROTOCOL_PPP => Some(StatusInfo {
                attrib_id: AttributeId::EncapsulatedProtocolId,
                status: StatusCode::ValueNotSupported,
                value: p.to_be_bytes().to_vec(),
            }),
            _ => None,
        };
        if let Some(status) = refusal {
            self.send(&ControlMessage::call_connect_nak(vec![status.clone()]));
            self.events.push_back(SessionEvent::Nak(status));
            // Stay in Connect_Request_Pending; the client retries.
            self.deadline = Some(now + self.cfg.negotiation_timeout);
            return;
        }
        self.send(&ControlMessage::call_connect_ack(
            self.cfg.hash_protocols,
            self.nonce,
        ));
        self.state = ServerState::CallConnectedPending;
        self.deadline = Some(now + self.cfg.negotiation_timeout);
        self.events.push_back(SessionEvent::Acknowledged {
            offered: self.cfg.hash_protocols,
        });
    }

    fn call_connected(&mut self, now: Instant, msg: &ControlMessage, raw: &[u8]) {
        let Some(cb) = msg.crypto_binding().copied() else {
            self.abort(
                now,
                AbortCause::ProtocolViolation("CALL_CONNECTED without Crypto Binding".into()),
                StatusInfo::new(
                    AttributeId::CryptoBinding,
                    StatusCode::RequiredAttributeMissing,
                ),
            );
            return;
        };
        let check = self.check_binding(&cb, raw);
        self.binding = Some(check);
        self.events.push_back(SessionEvent::CallConnected(check));
        let fault_status =
            StatusInfo::new(AttributeId::CryptoBinding, StatusCode::ValueNotSupported);
        if !check.ok() {
            self.abort(now, AbortCause::Binding(check), fault_status);
            return;
        }
        match self.cfg.fault {
            SessionFault::AbortAfterConnected => {
                self.events
                    .push_back(SessionEvent::Fault("abort-after-connected"));
                self.abort(
                    now,
                    AbortCause::Fault("abort-after-connected"),
                    fault_status,
                );
            }
            SessionFault::SilentAfterConnect => {
                self.events
                    .push_back(SessionEvent::Fault("silent-after-connect"));
                self.state = ServerState::Silent;
                self.deadline = None;
            }
            SessionFault::AbortMidSession(d) => {
                self.enter_connected(now);
                self.mid_session_abort = Some(now + d);
            }
            _ => self.enter_connected(now),
        }
    }

    fn enter_connected(&mut self, now: Instant) {
        self.state = ServerState::CallConnected;
        self.echo_outstanding = false;
        self.deadline = Some(now + self.cfg.hello_interval);
    }

    fn check_binding(&self, cb: &CryptoBinding, raw: &[u8]) -> BindingCheck {
        let proto = cb.hash_protocol;
        let expected = crypto_binding::cert_hash(proto, &self.cfg.binding_cert_der);
        let hlak = match (&self.cfg.verify_mac, &self.cfg.server_keys_file) {
            (Some(h), _) => Some(Some(h.clone())),
            (None, Some(file)) => Some(server_hlak_from_keys_file(file)),
            (None, None) => None,
        };
        let mac_ok = hlak.map(|hlak| {
            hlak.is_some_and(|hlak| {
                <&[u8; CALL_CONNECTED_LEN]>::try_from(raw)
                    .map(|p| crypto_binding::verify_call_connected(p, &hlak))
                    .unwrap_or(false)
            })
        });
        BindingCheck {
            hash_protocol: proto,
            hash_offered: self.cfg.hash_protocols.contains(proto),
            nonce_ok: cb.nonce == self.nonce,
            cert_hash_ok: !self.cfg.binding_cert_der.is_empty() && cb.cert_hash == expected,
            mac_ok,
        }
    }
}

/// The server's HLAK from its pppd's MPPE keys (`<recv hex> <send hex>`): the mirror of the
/// client rule ([MS-SSTP] §3.2.5.2: server HLAK = MasterReceiveKey ‖ MasterSendKey for
/// MS-CHAPv2, the first 32 bytes of the MSK = the 32-byte receive key for EAP-TLS).
/// `None` when the file is missing or malformed (the MAC check then fails).
pub fn server_hlak_from_keys_file(file: &std::path::Path) -> Option<Hlak> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut it = text.split_whitespace().map(hex_decode);
    let (recv, send) = (it.next()??, it.next()??);
    Some(Hlak::from_mppe_keys(&recv, &send))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    (s.len() % 2 == 0 && s.len() <= 128)
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack_nonce(tx: &[u8]) -> ([u8; 32], HashProtocols) {
        let m = decode_control(tx).unwrap().unwrap();
        let r = m.crypto_binding_request().unwrap();
        (r.nonce, r.hash_protocols)
    }

    fn session(fault: SessionFault, bits: u8) -> (Session, Instant) {
        let now = Instant::now();
        let cfg = SessionConfig {
            hash_protocols: HashProtocols::from_bits(bits),
            binding_cert_der: b"certificate".to_vec(),
            verify_mac: Some(Hlak::zero()),
            fault,
            hello_interval: Duration::from_secs(10),
            ..SessionConfig::default()
        };
        (Session::new(cfg, [7; 32], now), now)
    }

    fn take(s: &mut Session) -> Vec<u8> {
        let v = s.pending_transmit().to_vec();
        s.consume_transmit(v.len());
        v
    }

    fn feed(s: &mut Session, now: Instant, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        s.handle_input(now, bytes, &mut |f| frames.push(f.to_vec()));
        frames
    }

    fn req() -> Vec<u8> {
        ControlMessage::call_connect_request().to_bytes().unwrap()
    }

    #[test]
    fn correct_call_with_zero_hlak_binding() {
        for (bits, proto) in [(1, HashProtocol::Sha1), (2, HashProtocol::Sha256)] {
            let (mut s, now) = session(SessionFault::None, bits);
            feed(&mut s, now, &req());
            let (nonce, offered) = ack_nonce(&take(&mut s));
            assert_eq!((nonce, offered.bits()), ([7; 32], bits));
            assert_eq!(s.state(), ServerState::CallConnectedPending);
            // IP before CALL_CONNECTED is dropped, LCP passes.
            let mut d = Vec::new();
            encode_data_packet(&[0xFF, 3, 0x00, 0x21, 1], &mut d).unwrap();
            encode_data_packet(&[0xFF, 3, 0xC0, 0x21, 1], &mut d).unwrap();
            assert_eq!(feed(&mut s, now, &d), vec![vec![0xFF, 3, 0xC0, 0x21, 1]]);
            let cc = crypto_binding::call_connected(proto, &nonce, b"certificate", &Hlak::zero());
            feed(&mut s, now, &cc);
            let b = s.binding().unwrap();
            assert!(b.ok(), "{b}");
            assert_eq!(b.mac_ok, Some(true));
            assert_eq!(s.state(), ServerState::CallConnected);
            assert_eq!(feed(&mut s, now, &d).len(), 2);
            s.send_ppp_frame(&[0xFF, 3, 0, 0x21, 9]);
            assert_eq!(take(&mut s), [0x10, 0, 0, 9, 0xFF, 3, 0, 0x21, 9]);
        }
    }

    #[test]
    fn binding_failures_abort_with_status() {
        let cases: [(&[u8], [u8; 32], Hlak, u8); 4] = [
            (b"other cert", [7; 32], Hlak::zero(), 3),
            (b"certificate", [8; 32], Hlak::zero(), 3),
            (b"certificate", [7; 32], Hlak::from_bytes([1; 32]), 3),
            (b"certificate", [7; 32], Hlak::zero(), 1),
        ];
        for (i, (cert, nonce, hlak, bits)) in cases.into_iter().enumerate() {
            let (mut s, now) = session(SessionFault::None, bits);
            feed(&mut s, now, &req());
            take(&mut s);
            let cc = crypto_binding::call_connected(HashProtocol::Sha256, &nonce, cert, &hlak);
            feed(&mut s, now, &cc);
            let b = s.binding().unwrap();
            assert!(!b.ok());
            assert_eq!(b.cert_hash_ok, i != 0);
            assert_eq!(b.nonce_ok, i != 1);
            assert_eq!(b.mac_ok, Some(i != 2));
            assert_eq!(b.hash_offered, i != 3);
            let m = decode_control(&take(&mut s)).unwrap().unwrap();
            assert_eq!(m.message_type, MessageType::CallAbort);
            assert_eq!(
                m.status_infos().next().unwrap().attrib_id,
                AttributeId::CryptoBinding
            );
            assert_eq!(s.state(), ServerState::AbortInProgress);
            // The client's CALL_ABORT, then the linger timer closes.
            feed(
                &mut s,
                now,
                &ControlMessage::call_abort(None).to_bytes().unwrap(),
            );
            assert_eq!(s.state(), ServerState::AbortPending);
            s.handle_timeout(now + Duration::from_secs(2));
            assert!(s.is_closed());
            assert!(matches!(
                s.end_reason(),
                Some(EndReason::ServerAbort(AbortCause::Binding(_)))
            ));
        }
    }

    #[test]
    fn nak_repeats() {
        let (mut s, now) = session(SessionFault::Nak(StatusCode::ValueNotSupported), 3);
        for attempt in 1..=4 {
            feed(&mut s, now, &req());
            let m = decode_control(&take(&mut s)).unwrap().unwrap();
            assert_eq!(m.message_type, MessageType::CallConnectNak);
            let st = m.status_infos().next().unwrap();
            assert_eq!(st.attrib_id, AttributeId::EncapsulatedProtocolId);
            assert_eq!(st.status, StatusCode::ValueNotSupported);
            assert_eq!(s.stats().connect_requests, attempt);
        }
        assert_eq!(s.state(), ServerState::ConnectRequestPending);
    }

    #[test]
    fn echo_on_idle_then_timeout() {
        let (mut s, now) = session(SessionFault::None, 2);
        feed(&mut s, now, &req());
        let (nonce, _) = ack_nonce(&take(&mut s));
        let cc = crypto_binding::call_connected(
            HashProtocol::Sha256,
            &nonce,
            b"certificate",
            &Hlak::zero(),
        );
        feed(&mut s, now, &cc);
        let t1 = s.poll_timeout().unwrap();
        assert_eq!(t1, now + Duration::from_secs(10));
        s.handle_timeout(t1);
        let m = decode_control(&take(&mut s)).unwrap().unwrap();
        assert_eq!(m.message_type, MessageType::EchoRequest);
        // An answer resets it.
        let resp = ControlMessage::new(MessageType::EchoResponse)
            .to_bytes()
            .unwrap();
        feed(&mut s, t1, &resp);
        let t2 = s.poll_timeout().unwrap();
        s.handle_timeout(t2);
        take(&mut s);
        s.handle_timeout(s.poll_timeout().unwrap());
        assert!(s.is_closed());
        assert_eq!(s.end_reason(), Some(&EndReason::EchoTimeout));
        assert!(take(&mut s).is_empty(), "closed without CALL_ABORT");
    }

    /// xorshift64*: deterministic pseudo-random bytes for the robustness tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let valid: Vec<Vec<u8>> = vec![
            req(),
            crypto_binding::call_connected(
                HashProtocol::Sha1,
                &[7; 32],
                b"certificate",
                &Hlak::zero(),
            )
            .to_vec(),
            ControlMessage::new(MessageType::EchoRequest)
                .to_bytes()
                .unwrap(),
            ControlMessage::call_abort(Some(StatusInfo::new(
                AttributeId::NoError,
                StatusCode::NoError,
            )))
            .to_bytes()
            .unwrap(),
            ControlMessage::call_disconnect(None).to_bytes().unwrap(),
            vec![0x10, 0, 0, 8, 0xFF, 3, 0xC0, 0x21],
        ];
        let faults = [
            SessionFault::None,
            SessionFault::SilentAfterConnect,
            SessionFault::AbortAfterConnected,
            SessionFault::Nak(StatusCode::ValueNotSupported),
        ];
        for round in 0..3000 {
            let (mut s, mut now) = session(faults[round % faults.len()], (round % 3 + 1) as u8);
            let mut stream = Vec::new();
            for _ in 0..rng.below(8) + 1 {
                let mut p = valid[rng.below(valid.len())].clone();
                match rng.below(4) {
                    0 => {}
                    1 => {
                        // Flip a few bytes (header fields included).
                        for _ in 0..rng.below(4) + 1 {
                            let i = rng.below(p.len());
                            p[i] ^= 1 << rng.below(8);
                        }
                    }
                    2 => p.truncate(rng.below(p.len())),
                    _ => p = (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
                }
                stream.extend_from_slice(&p);
            }
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let k = rng.below(rest.len()) + 1;
                feed(&mut s, now, &rest[..k]);
                rest = &rest[k..];
                s.send_ppp_frame(&[0xFF, 3, 0, 0x21, 1]);
                now += Duration::from_millis(rng.below(5000) as u64);
                s.handle_timeout(now);
                take(&mut s);
            }
            while s.poll_event().is_some() {}
            if s.is_closed() {
                assert!(s.end_reason().is_some());
            }
        }
    }

    #[test]
    fn client_disconnect_and_garbage() {
        let (mut s, now) = session(SessionFault::None, 3);
        feed(&mut s, now, &req());
        take(&mut s);
        feed(
            &mut s,
            now,
            &ControlMessage::call_disconnect(None).to_bytes().unwrap(),
        );
        let m = decode_control(&take(&mut s)).unwrap().unwrap();
        assert_eq!(m.message_type, MessageType::CallDisconnectAck);
        assert_eq!(s.state(), ServerState::DisconnectAckPending);
        let (mut s, now) = session(SessionFault::None, 3);
        feed(&mut s, now, b"GET / HTTP/1.1\r\n\r\n");
        assert!(matches!(s.end_reason(), Some(EndReason::Framing(_))));
        assert!(s.is_closed());
    }
    #[test]
    fn server_hlak_from_exported_keys() {
        let dir = std::env::temp_dir().join(format!("sstp-ts-keys-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join("keys");
        // EAP-TLS (pppd 2.5 server): the 32-byte receive key is the HLAK.
        std::fs::write(&f, format!("{} {}\n", "ab".repeat(32), "cd".repeat(32))).unwrap();
        assert_eq!(
            server_hlak_from_keys_file(&f).unwrap().as_bytes(),
            &[0xab; 32]
        );
        // MS-CHAPv2 (20-byte keys): recv[..16] || send[..16].
        std::fs::write(&f, format!("{} {}", "01".repeat(20), "02".repeat(20))).unwrap();
        let h = server_hlak_from_keys_file(&f).unwrap();
        assert_eq!(&h.as_bytes()[..16], &[1; 16]);
        assert_eq!(&h.as_bytes()[16..], &[2; 16]);
        std::fs::write(&f, "zz").unwrap();
        assert!(server_hlak_from_keys_file(&f).is_none());
        assert!(server_hlak_from_keys_file(&dir.join("missing")).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
