//! The SSTP client state machine ([MS-SSTP] §3.1, §3.2), sans-IO in the style of quinn-proto.
//!
//! The caller owns the socket and the clock. After the HTTP 200 of the handshake it creates a
//! [`Client`] (which queues CALL_CONNECT_REQUEST) and then, in a loop:
//!
//! 1. feeds every plaintext byte read from TLS to [`Client::handle_input`] (any split);
//! 2. feeds PPP frames from pppd to [`Client::send_ppp_frame`];
//! 3. calls [`Client::handle_timeout`] when [`Client::poll_timeout`] has passed;
//! 4. drains [`Client::poll_transmit`] (bytes for TLS), [`Client::poll_ppp_frame`] (frames for
//!    pppd) and [`Client::poll_event`] (state changes), in any order;
//! 5. stops when [`Client::is_closed`] (after the final transmit is flushed).
//!
//! When PPP authentication has finished, [`Client::authenticated`] sends CALL_CONNECTED with the
//! crypto binding. No method reads the clock, allocates per data packet in steady state, or panics
//! on any input.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sstp_proto::{Client, ClientConfig, ControlMessage, Event, HashProtocols, Hlak, State};
//!
//! let t0 = Instant::now();
//! let mut client = Client::new(ClientConfig::default(), t0);
//! let mut to_server = Vec::new();
//! client.poll_transmit(&mut to_server); // CALL_CONNECT_REQUEST, 14 bytes
//! assert_eq!(to_server.len(), 14);
//!
//! // The server's CALL_CONNECT_ACK arrives (in any split).
//! let ack = ControlMessage::call_connect_ack(HashProtocols::BOTH, [9; 32]).to_bytes().unwrap();
//! client.handle_input(t0, &ack[..10]);
//! client.handle_input(t0, &ack[10..]);
//! assert!(matches!(client.poll_event(), Some(Event::ConnectAcknowledged { .. })));
//!
//! // PPP runs (LCP, authentication) through send_ppp_frame / poll_ppp_frame, then:
//! client.authenticated(t0, &Hlak::from_mppe_keys(&[1; 16], &[2; 16]), b"server cert DER").unwrap();
//! assert_eq!(client.state(), State::CallConnected);
//! client.send_ppp_frame(&[0xFF, 0x03, 0x00, 0x21, 0x45]).unwrap();
//! to_server.clear();
//! client.poll_transmit(&mut to_server); // CALL_CONNECTED (112 bytes) + the data packet
//! assert_eq!(to_server.len(), 112 + 9);
//!
//! // The hello timer: 60 s of silence -> ECHO_REQUEST.
//! let t = client.poll_timeout().unwrap();
//! assert_eq!(t, t0 + Duration::from_secs(60));
//! client.handle_timeout(t);
//! to_server.clear();
//! client.poll_transmit(&mut to_server);
//! assert_eq!(to_server, [0x10, 0x01, 0x00, 0x08, 0x00, 0x08, 0x00, 0x00]);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::crypto_binding::{self, HashProtocol, HashProtocols, Hlak};
use crate::wire::{
    encode_data_packet, AttributeId, ControlMessage, Deframer, Header, MessageType, StatusCode,
    StatusInfo, WireError, HEADER_LEN, MAX_DATA_LEN, NONCE_LEN,
};

/// Timers and limits of a [`Client`]. Defaults follow [MS-SSTP] §3.1.2 / §3.2.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// CALL_CONNECT_REQUEST retries after a NAK before aborting (Windows: 3).
    pub nak_retries: u32,
    /// Negotiation timer: wait for CALL_CONNECT_ACK, then for PPP authentication (60 s).
    pub negotiation_timeout: Duration,
    /// Hello timer: silence after which an ECHO_REQUEST is sent (60 s). Must not be zero.
    pub hello_interval: Duration,
    /// Unanswered ECHO_REQUESTs (each followed by one more silent interval) before closing;
    /// 0 closes after the first silent interval without sending an echo.
    pub echo_failures: u32,
    /// Abort timer 1: wait for the peer's CALL_ABORT after sending ours (3 s).
    pub abort_timeout: Duration,
    /// Abort timer 2: linger after receiving CALL_ABORT (1 s).
    pub abort_linger: Duration,
    /// Disconnect timer 1: wait for CALL_DISCONNECT_ACK (5 s).
    pub disconnect_timeout: Duration,
    /// Disconnect timer 2: linger after acknowledging the peer's CALL_DISCONNECT (1 s).
    pub disconnect_linger: Duration,
    /// Bound on received PPP frames not yet taken with [`Client::poll_ppp_frame`] (bytes);
    /// frames beyond it are dropped and counted.
    pub max_rx_queue: usize,
    /// Hard bound on bytes queued for the server and not yet consumed with
    /// [`Client::consume_transmit`]: queuing beyond it closes the call
    /// ([`CloseReason::ServerNotReading`]). The caller keeps the queue far below it by not
    /// reading pppd while [`Client::pending_transmit`] is long; this is the last line.
    pub max_tx_queue: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            nak_retries: 3,
            negotiation_timeout: Duration::from_secs(60),
            hello_interval: Duration::from_secs(60),
            echo_failures: 3,
            abort_timeout: Duration::from_secs(3),
            abort_linger: Duration::from_secs(1),
            disconnect_timeout: Duration::from_secs(5),
            disconnect_linger: Duration::from_secs(1),
            max_rx_queue: 1 << 20,
            max_tx_queue: 4 << 20,
        }
    }
}

impl ClientConfig {
    /// How long queued output may make no progress at all before the call is closed
    /// ([`CloseReason::ServerNotReading`]): as long as a silent server gets before the echo
    /// timeout closes the call, `hello_interval × (echo_failures + 1)`.
    pub fn transmit_stall_limit(&self) -> Duration {
        self.hello_interval
            .saturating_mul(self.echo_failures.saturating_add(1))
    }
}

/// Client states ([MS-SSTP] §3.2.1.1.1 and the common teardown states of §3.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// CALL_CONNECT_REQUEST sent, waiting for ACK/NAK.
    ConnectRequestSent,
    /// ACK received: PPP negotiates (control frames only) until [`Client::authenticated`].
    ConnectAckReceived,
    /// CALL_CONNECTED sent: all PPP frames flow, hello timer runs.
    CallConnected,
    /// We sent CALL_ABORT and wait (abort timer 1) for the peer's.
    AbortInProgress,
    /// CALL_ABORT exchanged; lingering (abort timer 2) before closing.
    AbortPending,
    /// We sent CALL_DISCONNECT and wait (disconnect timer 1) for the ACK.
    DisconnectInProgress,
    /// The peer disconnected and we acknowledged; lingering (disconnect timer 2).
    DisconnectAckPending,
    /// Finished: flush [`Client::poll_transmit`] and close the transport.
    Closed,
}

impl State {
    /// Whether the call is set up or being set up (not tearing down, not closed).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            State::ConnectRequestSent | State::ConnectAckReceived | State::CallConnected
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::ConnectRequestSent => "Client_Connect_Request_Sent",
            State::ConnectAckReceived => "Client_Connect_Ack_Received",
            State::CallConnected => "Client_Call_Connected",
            State::AbortInProgress => "Call_Abort_In_Progress",
            State::AbortPending => "Call_Abort_Pending",
            State::DisconnectInProgress => "Call_Disconnect_In_Progress",
            State::DisconnectAckPending => "Call_Disconnect_Ack_Pending",
            State::Closed => "Closed",
        })
    }
}

/// Which negotiation step timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NegotiationPhase {
    /// No CALL_CONNECT_ACK/NAK after CALL_CONNECT_REQUEST.
    ConnectAck,
    /// PPP authentication did not finish (no CALL_CONNECTED sent) after the ACK.
    Authentication,
}

/// Why the call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The server kept refusing CALL_CONNECT_REQUEST until the retries were used up.
    ConnectNak {
        /// Status Info attributes of the last NAK.
        statuses: Vec<StatusInfo>,
        /// CALL_CONNECT_REQUESTs sent.
        attempts: u32,
    },
    /// The server sent CALL_ABORT.
    PeerAbort {
        /// Its Status Info, if any.
        status: Option<StatusInfo>,
        /// Whether CALL_CONNECTED had been sent: an abort right after it usually means the
        /// server rejected the crypto binding.
        after_call_connected: bool,
    },
    /// The server sent CALL_DISCONNECT.
    PeerDisconnect(Option<StatusInfo>),
    /// [`Client::disconnect`] was called.
    LocalDisconnect {
        /// Whether the server acknowledged before the timeout.
        acknowledged: bool,
    },
    /// [`Client::abort`] was called.
    LocalAbort,
    /// No packet from the server for the hello interval after each of the unanswered echoes.
    EchoTimeout {
        /// ECHO_REQUESTs sent without any answer.
        unanswered: u32,
    },
    /// A negotiation step timed out.
    NegotiationTimeout {
        /// Which one.
        phase: NegotiationPhase,
    },
    /// The server sent a message not allowed in the current state, or a malformed control
    /// message.
    ProtocolViolation(String),
    /// The byte stream is not SSTP (bad version or length): closed without a message.
    Framing(WireError),
    /// The CALL_CONNECT_ACK offered no hash protocol this client supports.
    UnsupportedHashProtocols(HashProtocols),
    /// The server stopped reading: output made no progress for the stall limit (see
    /// [`Client::transport_status`]), or outgrew [`ClientConfig::max_tx_queue`]. Closed without
    /// a message (it could not leave).
    ServerNotReading {
        /// Bytes queued here, not yet written.
        pending: usize,
        /// How long nothing was sent (`None`: the hard size limit was hit).
        stalled_for: Option<Duration>,
    },
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ConnectNak { statuses, attempts } => {
                write!(f, "server refused the call: CALL_CONNECT_NAK")?;
                for (i, s) in statuses.iter().enumerate() {
                    f.write_str(if i == 0 { ", " } else { "; " })?;
                    write!(f, "{s}")?;
                }
                write!(
                    f,
                    " (after {attempts} attempts); the server does not accept PPP over SSTP from \
                     this client: check the server's SSTP/RAS configuration"
                )
            }
            CloseReason::PeerAbort {
                status,
                after_call_connected,
            } => {
                write!(f, "server aborted the call (CALL_ABORT")?;
                if let Some(s) = status {
                    write!(f, ", {s}")?;
                }
                f.write_str(")")?;
                let binding_rejected = status.as_ref().is_some_and(|s| {
                    s.attrib_id == AttributeId::CryptoBinding
                        && s.status == StatusCode::ValueNotSupported
                });
                if binding_rejected {
                    f.write_str(
                        ": the server rejected the crypto binding (nonce, certificate hash or \
                         Compound MAC mismatch); check that the server derives the same MPPE keys \
                         (e.g. RADIUS must return MS-MPPE keys, or use PAP on both ends), and that \
                         no TLS-intercepting proxy replaced the server certificate",
                    )
                } else if *after_call_connected {
                    f.write_str(
                        " after CALL_CONNECTED: if this happens right after authentication, the \
                         server rejected the crypto binding; check that the server derives the \
                         same MPPE keys (e.g. RADIUS must return MS-MPPE keys, or use PAP on both \
                         ends), and that no TLS-intercepting proxy replaced the certificate",
                    )
                } else {
                    f.write_str("; check the server's logs")
                }
            }
            CloseReason::PeerDisconnect(status) => {
                write!(f, "server disconnected the call (CALL_DISCONNECT")?;
                if let Some(s) = status {
                    write!(f, ", {s}")?;
                }
                f.write_str(")")
            }
            CloseReason::LocalDisconnect { acknowledged: true } => {
                f.write_str("call disconnected locally; the server acknowledged")
            }
            CloseReason::LocalDisconnect {
                acknowledged: false,
            } => f.write_str(
                "call disconnected locally; the server did not acknowledge CALL_DISCONNECT in time",
            ),
            CloseReason::LocalAbort => f.write_str("call aborted locally"),
            CloseReason::EchoTimeout { unanswered } => write!(
                f,
                "server stopped answering: {unanswered} ECHO_REQUESTs without any reply; the \
                 network path or the server is down"
            ),
            CloseReason::NegotiationTimeout {
                phase: NegotiationPhase::ConnectAck,
            } => f.write_str(
                "timed out waiting for CALL_CONNECT_ACK: the server accepted HTTPS but does not \
                 answer SSTP; check that the SSTP service is running",
            ),
            CloseReason::NegotiationTimeout {
                phase: NegotiationPhase::Authentication,
            } => f.write_str(
                "timed out waiting for PPP authentication to finish after CALL_CONNECT_ACK; \
                     check the credentials and the PPP authentication options",
            ),
            CloseReason::ProtocolViolation(what) => {
                write!(f, "protocol violation by the server: {what}")
            }
            CloseReason::Framing(e) => {
                write!(
                    f,
                    "the server sent bytes that are not SSTP ({e}); closed the connection"
                )
            }
            CloseReason::UnsupportedHashProtocols(p) => write!(
                f,
                "the server offers crypto binding hash protocols {p} (bitmask {:#04x}); this \
                 client supports SHA1 and SHA256",
                p.bits()
            ),
            CloseReason::ServerNotReading {
                pending,
                stalled_for,
            } => {
                f.write_str("the server stopped reading: ")?;
                match stalled_for {
                    Some(d) => write!(
                        f,
                        "nothing sent to it was acknowledged for {} s ({pending} more bytes \
                         queued)",
                        d.as_secs()
                    )?,
                    None => write!(
                        f,
                        "{pending} bytes queued for it exceeded the transmit queue limit"
                    )?,
                }
                f.write_str(
                    "; the server is stuck or overloaded, or the network path drops traffic \
                     towards it",
                )
            }
        }
    }
}

/// Something the caller should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CALL_CONNECT_ACK received: start PPP (lower layer up).
    ConnectAcknowledged {
        /// Hash protocols the server offered.
        offered: HashProtocols,
        /// The one this client will use.
        chosen: HashProtocol,
    },
    /// CALL_CONNECTED sent.
    CallConnected {
        /// Hash protocol of the crypto binding.
        protocol: HashProtocol,
    },
    /// The server sent ECHO_REQUEST (answered automatically).
    EchoRequestReceived,
    /// Teardown started (the call is going down; [`Event::Closed`] follows).
    Closing(CloseReason),
    /// The call is over.
    Closed(CloseReason),
}

/// Why a PPP frame could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The frame exceeds the 4091 bytes a data packet can carry.
    #[error(
        "PPP frame of {0} bytes exceeds the SSTP maximum of 4091 bytes; lower the PPP MTU/MRU"
    )]
    TooLong(usize),
    /// No CALL_CONNECT_ACK yet: PPP must not start.
    #[error("PPP frame before CALL_CONNECT_ACK: the SSTP call is not set up yet")]
    NotReady,
    /// The call is being torn down or is closed.
    #[error("the SSTP call is closed or closing")]
    Closed,
}

/// Why [`Client::authenticated`] did not send CALL_CONNECTED.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No CALL_CONNECT_ACK received yet (no nonce to bind).
    #[error("PPP authentication reported before CALL_CONNECT_ACK")]
    NotAcknowledged,
    /// CALL_CONNECTED was already sent.
    #[error("CALL_CONNECTED was already sent")]
    AlreadyConnected,
    /// The call is being torn down or is closed.
    #[error("the SSTP call is closed or closing")]
    Closed,
}

/// Traffic counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// SSTP packets received (control and data).
    pub packets_received: u64,
    /// Bytes of SSTP packets received.
    pub bytes_received: u64,
    /// SSTP packets queued for sending.
    pub packets_sent: u64,
    /// Bytes of SSTP packets queued for sending.
    pub bytes_sent: u64,
    /// PPP frames received and queued for the caller.
    pub frames_received: u64,
    /// PPP frames queued for sending.
    pub frames_sent: u64,
    /// Received PPP frames dropped (not allowed in the state, or the receive queue was full).
    pub rx_frames_dropped: u64,
    /// PPP data frames from the caller dropped because CALL_CONNECTED was not sent yet.
    pub tx_frames_dropped: u64,
    /// ECHO_REQUESTs sent.
    pub echo_requests_sent: u64,
    /// ECHO_REQUESTs received (and answered).
    pub echo_requests_received: u64,
}

/// The PPP protocol number of a frame (`FF 03` optional, 1- or 2-byte protocol field).
pub fn ppp_protocol(frame: &[u8]) -> Option<u16> {
    let rest = match frame {
        [0xFF, 0x03, rest @ ..] => rest,
        _ => frame,
    };
    match rest {
        [p, ..] if p & 1 == 1 => Some(u16::from(*p)),
        [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// Whether a frame is a PPP control frame (LCP, authentication, NCP: protocol >= 0x8000), which
/// may flow before CALL_CONNECTED.
pub fn is_ppp_control_frame(frame: &[u8]) -> bool {
    ppp_protocol(frame).is_some_and(|p| p >= 0x8000)
}

/// The SSTP client state machine. See the module documentation for the driving loop.
pub struct Client {
    config: ClientConfig,
    state: State,
    deframer: Deframer,
    /// Bytes to send.
    tx: Vec<u8>,
    /// Bytes of `tx` already handed out with [`Client::consume_transmit`].
    tx_off: usize,
    /// Received PPP frames: `[len u16 BE][frame]…`, read from `rx_read`.
    rx: Vec<u8>,
    rx_read: usize,
    events: VecDeque<Event>,
    stats: Stats,
    /// Deadline of the timer of the current state.
    deadline: Option<Instant>,
    /// CALL_CONNECT_REQUESTs sent.
    attempts: u32,
    /// From the ACK.
    nonce: [u8; NONCE_LEN],
    offered: HashProtocols,
    chosen: Option<HashProtocol>,
    call_connected_sent: bool,
    /// ECHO_REQUESTs sent since the last received packet.
    unanswered_echoes: u32,
    /// Why the call is going down (set when teardown starts).
    close_reason: Option<CloseReason>,
    /// Bytes ever consumed from `tx` (handed to the transport).
    tx_sent_total: u64,
    /// Transmit-stall watch: (deadline, [`Client::delivered`] when armed).
    stall_check: Option<(Instant, u64)>,
    /// From [`Client::transport_status`]: bytes the server acknowledged, and whether written
    /// bytes still wait for its acknowledgement.
    transport: Option<(u64, bool)>,
}

impl Client {
    /// Starts a call: queues CALL_CONNECT_REQUEST and starts the negotiation timer.
    pub fn new(config: ClientConfig, now: Instant) -> Client {
        let deadline = Some(now + config.negotiation_timeout);
        let mut c = Client {
            config,
            state: State::ConnectRequestSent,
            deframer: Deframer::new(),
            tx: Vec::with_capacity(8192),
            tx_off: 0,
            rx: Vec::with_capacity(8192),
            rx_read: 0,
            events: VecDeque::new(),
            stats: Stats::default(),
            deadline,
            attempts: 0,
            nonce: [0; NONCE_LEN],
            offered: HashProtocols::NONE,
            chosen: None,
            call_connected_sent: false,
            unanswered_echoes: 0,
            close_reason: None,
            tx_sent_total: 0,
            stall_check: None,
            transport: None,
        };
        c.send_connect_request();
        c
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the call is over (flush [`Client::poll_transmit`], then close the transport).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Why the call is going down or went down, once teardown has started.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.close_reason.as_ref()
    }

    /// Reports what the transport below knows about delivery (e.g. TCP_INFO): the total bytes
    /// the server acknowledged, and whether written bytes still wait for that. Optional; once
    /// reported, the transmit-stall watch counts only acknowledged bytes as progress, so a
    /// server that stopped reading is noticed even while the socket still takes our writes.
    pub fn transport_status(&mut self, now: Instant, acknowledged: u64, in_flight: bool) {
        self.transport = Some((acknowledged, in_flight));
        self.watch_transmit(now);
    }

    /// Traffic counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Hash protocols offered in the CALL_CONNECT_ACK (empty before it).
    pub fn offered_hash_protocols(&self) -> HashProtocols {
        self.offered
    }

    /// The hash protocol chosen from the ACK, once received.
    pub fn hash_protocol(&self) -> Option<HashProtocol> {
        self.chosen
    }

    // ------------------------------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------------------------------

    /// Processes bytes received from the server (TLS plaintext after the HTTP response head).
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        if self.state == State::Closed || bytes.is_empty() {
            return;
        }
        let mut deframer = std::mem::take(&mut self.deframer);
        let result = deframer.feed(bytes, |packet| {
            self.handle_packet(now, packet);
            self.state != State::Closed
        });
        self.deframer = deframer;
        if let Err(e) = result {
            // §3.1.5.1: unparseable framing closes the connection without a message.
            self.close_now(CloseReason::Framing(e));
        }
        self.watch_transmit(now);
    }

    /// Runs the timers; call when `now >= poll_timeout()` (earlier calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_transmit_stall(now);
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        match self.state {
            State::ConnectRequestSent => self.start_abort(
                now,
                CloseReason::NegotiationTimeout {
                    phase: NegotiationPhase::ConnectAck,
                },
                Some(StatusInfo::new(
                    AttributeId::NoError,
                    StatusCode::NegotiationTimeout,
                )),
            ),
            State::ConnectAckReceived => self.start_abort(
                now,
                CloseReason::NegotiationTimeout {
                    phase: NegotiationPhase::Authentication,
                },
                Some(StatusInfo::new(
                    AttributeId::NoError,
                    StatusCode::NegotiationTimeout,
                )),
            ),
            State::CallConnected => {
                if self.unanswered_echoes >= self.config.echo_failures {
                    // §3.1.2.3: close without CALL_ABORT.
                    self.close_now(CloseReason::EchoTimeout {
                        unanswered: self.unanswered_echoes,
                    });
                } else {
                    self.send_control(&ControlMessage::new(MessageType::EchoRequest));
                    self.stats.echo_requests_sent += 1;
                    self.unanswered_echoes += 1;
                    self.deadline = Some(now + self.config.hello_interval);
                }
            }
            State::AbortInProgress
            | State::AbortPending
            | State::DisconnectInProgress
            | State::DisconnectAckPending => {
                let reason = self.close_reason.clone().unwrap_or(CloseReason::LocalAbort);
                self.close_now(reason);
            }
            State::Closed => self.deadline = None,
        }
    }

    /// The next instant at which [`Client::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.deadline, self.stall_check) {
            (Some(a), Some((b, _))) => Some(a.min(b)),
            (a, b) => a.or(b.map(|(t, _)| t)),
        }
    }

    /// Queues one PPP frame (as pppd produced it, normally starting with `FF 03`).
    ///
    /// Control frames (protocol >= 0x8000: LCP, authentication, NCPs) are sent once the
    /// CALL_CONNECT_ACK is in; data frames (IP, …) only after CALL_CONNECTED — before that they
    /// are dropped, counted in [`Stats::tx_frames_dropped`], and `Ok(())` is returned.
    pub fn send_ppp_frame(&mut self, frame: &[u8]) -> Result<(), SendError> {
        if frame.len() > MAX_DATA_LEN {
            return Err(SendError::TooLong(frame.len()));
        }
        match self.state {
            State::CallConnected => {}
            State::ConnectAckReceived => {
                if !is_ppp_control_frame(frame) {
                    self.stats.tx_frames_dropped += 1;
                    return Ok(());
                }
            }
            State::ConnectRequestSent => return Err(SendError::NotReady),
            _ => return Err(SendError::Closed),
        }
        if !self.tx_room(frame.len() + HEADER_LEN) {
            return Err(SendError::Closed);
        }
        self.compact_tx();
        let before = self.tx.len();
        // Length checked above: encoding cannot fail.
        if encode_data_packet(frame, &mut self.tx).is_ok() {
            self.stats.packets_sent += 1;
            self.stats.frames_sent += 1;
            self.count_queued(self.tx.len() - before);
        }
        Ok(())
    }

    /// PPP authentication finished: builds and queues CALL_CONNECTED with the crypto binding over
    /// `server_cert_der` (the TLS leaf certificate) and `hlak`, enters Call Connected and starts the
    /// hello timer. Works exactly once.
    pub fn authenticated(
        &mut self,
        now: Instant,
        hlak: &Hlak,
        server_cert_der: &[u8],
    ) -> Result<(), AuthError> {
        match self.state {
            State::ConnectAckReceived => {}
            State::ConnectRequestSent => return Err(AuthError::NotAcknowledged),
            State::CallConnected => return Err(AuthError::AlreadyConnected),
            _ => return Err(AuthError::Closed),
        }
        let Some(protocol) = self.chosen else {
            return Err(AuthError::NotAcknowledged);
        };
        let packet = crypto_binding::call_connected(protocol, &self.nonce, server_cert_der, hlak);
        self.push_tx(&packet);
        self.call_connected_sent = true;
        self.state = State::CallConnected;
        self.unanswered_echoes = 0;
        self.deadline = Some(now + self.config.hello_interval);
        self.events.push_back(Event::CallConnected { protocol });
        Ok(())
    }

    /// Graceful shutdown ([MS-SSTP] §3.2.4.2): sends CALL_DISCONNECT and waits up to
    /// `disconnect_timeout` for the ACK. No effect once teardown has started.
    pub fn disconnect(&mut self, now: Instant) {
        if !self.state.is_active() {
            return;
        }
        self.send_control(&ControlMessage::call_disconnect(Some(StatusInfo::new(
            AttributeId::NoError,
            StatusCode::NoError,
        ))));
        self.begin_teardown(
            now,
            State::DisconnectInProgress,
            self.config.disconnect_timeout,
            CloseReason::LocalDisconnect {
                acknowledged: false,
            },
        );
    }

    /// Aborts the call: sends CALL_ABORT (with `status`, if any) and waits up to
    /// `abort_timeout` for the peer's CALL_ABORT. No effect once teardown has started.
    pub fn abort(&mut self, now: Instant, status: Option<StatusInfo>) {
        if !self.state.is_active() {
            return;
        }
        self.start_abort(now, CloseReason::LocalAbort, status);
    }

    // ------------------------------------------------------------------------------------------
    // Outputs
    // ------------------------------------------------------------------------------------------

    /// Appends all pending bytes for the server to `out`; returns how many. When `out` is empty
    /// the buffers are swapped instead of copied (keep reusing the same `out`).
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.tx.len() - self.tx_off;
        self.tx_sent_total += n as u64;
        if self.tx_off == 0 && out.is_empty() && out.capacity() <= self.tx.capacity() {
            std::mem::swap(out, &mut self.tx);
        } else {
            out.extend_from_slice(&self.tx[self.tx_off..]);
            self.tx.clear();
            self.tx_off = 0;
        }
        n
    }

    /// The pending bytes for the server, for writing without a copy; follow with
    /// [`Client::consume_transmit`].
    pub fn pending_transmit(&self) -> &[u8] {
        &self.tx[self.tx_off..]
    }

    /// Marks the first `n` bytes of [`Client::pending_transmit`] as sent.
    pub fn consume_transmit(&mut self, n: usize) {
        let n = n.min(self.tx.len() - self.tx_off);
        self.tx_off += n;
        self.tx_sent_total += n as u64;
        if self.tx_off == self.tx.len() {
            self.tx.clear();
            self.tx_off = 0;
        }
    }

    /// Appends the next received PPP frame (`FF 03` as received) to `out`; `false` if none.
    pub fn poll_ppp_frame(&mut self, out: &mut Vec<u8>) -> bool {
        match self.next_ppp_frame() {
            Some(frame) => {
                out.extend_from_slice(frame);
                true
            }
            None => false,
        }
    }

    /// The next received PPP frame, borrowed (e.g. to HDLC-encode it without a copy).
    pub fn next_ppp_frame(&mut self) -> Option<&[u8]> {
        let start = self.rx_read;
        let len_bytes = self.rx.get(start..start + 2)?;
        let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
        let end = start + 2 + len;
        if end > self.rx.len() {
            // Cannot happen (the queue holds whole records); reset rather than panic.
            self.rx.clear();
            self.rx_read = 0;
            return None;
        }
        // When the queue is drained, the next push resets it (the frame stays valid until then).
        self.rx_read = end;
        self.rx.get(start + 2..end)
    }

    /// Received PPP frames waiting in the queue (bytes, including 2-byte length prefixes).
    pub fn pending_ppp_bytes(&self) -> usize {
        self.rx.len().saturating_sub(self.rx_read)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// Drops bytes already consumed once they make up half the buffer (amortised O(1)).
    fn compact_tx(&mut self) {
        if self.tx_off > 0 && self.tx_off >= self.tx.len() / 2 {
            self.tx.drain(..self.tx_off);
            self.tx_off = 0;
        }
    }

    fn push_tx(&mut self, bytes: &[u8]) {
        if !self.tx_room(bytes.len()) {
            return;
        }
        self.compact_tx();
        self.tx.extend_from_slice(bytes);
        self.stats.packets_sent += 1;
        self.count_queued(bytes.len());
    }

    fn send_control(&mut self, msg: &ControlMessage) {
        if !self.tx_room(msg.encoded_len()) {
            return;
        }
        self.compact_tx();
        let before = self.tx.len();
        // Messages built here are small: encoding cannot fail.
        if msg.encode(&mut self.tx).is_ok() {
            self.stats.packets_sent += 1;
            self.count_queued(self.tx.len() - before);
        }
    }

    fn count_queued(&mut self, n: usize) {
        self.stats.bytes_sent += n as u64;
    }

    /// Whether `n` more bytes fit under [`ClientConfig::max_tx_queue`]; if not, the server has
    /// stopped reading: the call is closed (nothing more can leave anyway).
    fn tx_room(&mut self, n: usize) -> bool {
        let pending = self.tx.len() - self.tx_off;
        if pending.saturating_add(n) <= self.config.max_tx_queue {
            return true;
        }
        self.close_now(CloseReason::ServerNotReading {
            pending,
            stalled_for: None,
        });
        false
    }

    /// Answers an ECHO_REQUEST. Every request gets its answer (no coalescing): a server that
    /// floods without reading then fills the socket quickly, the caller stops reading while
    /// [`Client::pending_transmit`] is long, and the stall watch or the echo timeout ends the
    /// call; [`ClientConfig::max_tx_queue`] bounds the queue whatever the caller does.
    fn answer_echo(&mut self) {
        self.stats.echo_requests_received += 1;
        self.events.push_back(Event::EchoRequestReceived);
        self.send_control(&ControlMessage::new(MessageType::EchoResponse));
    }

    /// Progress of the output: bytes the server acknowledged if the transport reports it,
    /// else bytes handed to the transport.
    fn delivered(&self) -> u64 {
        self.transport
            .map_or(self.tx_sent_total, |(acked, _)| acked)
    }

    /// Whether output waits: queued here, or written and not yet acknowledged.
    fn output_waiting(&self) -> bool {
        self.tx_off < self.tx.len() || self.transport.is_some_and(|(_, in_flight)| in_flight)
    }

    /// Arms the transmit-stall watch while output waits, and restarts it whenever output moved
    /// since it was armed (called with the caller's clock).
    fn watch_transmit(&mut self, now: Instant) {
        if self.state == State::Closed || !self.output_waiting() {
            self.stall_check = None;
        } else if self
            .stall_check
            .is_none_or(|(_, delivered)| delivered != self.delivered())
        {
            let limit = self.config.transmit_stall_limit();
            self.stall_check = Some((now + limit, self.delivered()));
        }
    }

    /// Closes the call when queued output made no progress for the stall limit.
    fn check_transmit_stall(&mut self, now: Instant) {
        if let Some((deadline, sent_then)) = self.stall_check {
            if now < deadline {
                return;
            }
            self.stall_check = None;
            let pending = self.tx.len() - self.tx_off;
            if self.output_waiting() && self.delivered() == sent_then && self.state != State::Closed
            {
                self.close_now(CloseReason::ServerNotReading {
                    pending,
                    stalled_for: Some(self.config.transmit_stall_limit()),
                });
                return;
            }
        }
        self.watch_transmit(now);
    }

    fn send_connect_request(&mut self) {
        self.attempts += 1;
        self.send_control(&ControlMessage::call_connect_request());
    }

    fn begin_teardown(
        &mut self,
        now: Instant,
        state: State,
        timeout: Duration,
        reason: CloseReason,
    ) {
        self.state = state;
        self.deadline = Some(now + timeout);
        self.events.push_back(Event::Closing(reason.clone()));
        self.close_reason = Some(reason);
    }

    fn start_abort(&mut self, now: Instant, reason: CloseReason, status: Option<StatusInfo>) {
        self.send_control(&ControlMessage::call_abort(status));
        self.begin_teardown(
            now,
            State::AbortInProgress,
            self.config.abort_timeout,
            reason,
        );
    }

    /// Aborts because the server misbehaved.
    fn violation(&mut self, now: Instant, what: String, status: StatusInfo) {
        self.start_abort(now, CloseReason::ProtocolViolation(what), Some(status));
    }

    fn close_now(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        let reason = self.close_reason.take().unwrap_or(reason);
        self.state = State::Closed;
        self.deadline = None;
        self.stall_check = None;
        self.close_reason = Some(reason.clone());
        self.events.push_back(Event::Closed(reason));
    }

    /// One complete packet (header validated by the deframer).
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.stats.packets_received += 1;
        self.stats.bytes_received += packet.len() as u64;
        if self.state == State::CallConnected {
            // Any packet proves the server is alive (§3.1.2.3).
            self.unanswered_echoes = 0;
            self.deadline = Some(now + self.config.hello_interval);
        }
        let control = match Header::decode(packet) {
            Ok(h) => h.control,
            Err(e) => {
                self.close_now(CloseReason::Framing(e));
                return;
            }
        };
        if !control {
            self.handle_data(&packet[HEADER_LEN..]);
            return;
        }
        let msg = match crate::wire::decode_control(packet) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                if self.state.is_active() {
                    let what = format!("malformed control message: {e}");
                    self.violation(
                        now,
                        what,
                        StatusInfo::new(AttributeId::NoError, StatusCode::InvalidFrameReceived),
                    );
                }
                return;
            }
        };
        self.handle_control(now, msg);
    }

    fn handle_data(&mut self, frame: &[u8]) {
        let allowed = match self.state {
            State::CallConnected => true,
            State::ConnectAckReceived => is_ppp_control_frame(frame),
            _ => false,
        };
        if !allowed || frame.is_empty() {
            self.stats.rx_frames_dropped += 1;
            return;
        }
        if self.rx_read >= self.rx.len() {
            // Drained: start over without moving anything.
            self.rx.clear();
            self.rx_read = 0;
        } else if self.rx_read > 0 && self.rx_read >= self.rx.len() / 2 {
            self.rx.drain(..self.rx_read);
            self.rx_read = 0;
        }
        if self.rx.len() - self.rx_read + frame.len() + 2 > self.config.max_rx_queue {
            self.stats.rx_frames_dropped += 1;
            return;
        }
        self.rx
            .extend_from_slice(&(frame.len() as u16).to_be_bytes());
        self.rx.extend_from_slice(frame);
        self.stats.frames_received += 1;
    }

    fn handle_control(&mut self, now: Instant, msg: ControlMessage) {
        let state = self.state;
        match msg.message_type {
            MessageType::CallAbort => match state {
                State::AbortInProgress => {
                    self.state = State::AbortPending;
                    self.deadline = Some(now + self.config.abort_linger);
                }
                // Spec: ignored once the abort/disconnect linger timer runs.
                State::AbortPending | State::DisconnectAckPending | State::Closed => {}
                _ => {
                    let status = msg.status_infos().next().cloned();
                    // Reply CALL_ABORT, then linger (abort timer 2).
                    self.send_control(&ControlMessage::call_abort(None));
                    let reason = match self.close_reason.clone() {
                        Some(r) => r,
                        None => CloseReason::PeerAbort {
                            status,
                            after_call_connected: self.call_connected_sent,
                        },
                    };
                    self.begin_teardown(now, State::AbortPending, self.config.abort_linger, reason);
                }
            },
            MessageType::CallDisconnect => match state {
                State::ConnectRequestSent
                | State::ConnectAckReceived
                | State::CallConnected
                | State::DisconnectInProgress => {
                    self.send_control(&ControlMessage::new(MessageType::CallDisconnectAck));
                    let reason = match self.close_reason.clone() {
                        Some(r) => r,
                        None => CloseReason::PeerDisconnect(msg.status_infos().next().cloned()),
                    };
                    self.begin_teardown(
                        now,
                        State::DisconnectAckPending,
                        self.config.disconnect_linger,
                        reason,
                    );
                }
                _ => {}
            },
            MessageType::CallDisconnectAck => match state {
                State::DisconnectInProgress => {
                    self.close_reason = Some(CloseReason::LocalDisconnect { acknowledged: true });
                    self.close_now(CloseReason::LocalDisconnect { acknowledged: true });
                }
                s if s.is_active() => self.violation(
                    now,
                    format!("unexpected CALL_DISCONNECT_ACK in state {s}"),
                    StatusInfo::new(AttributeId::NoError, StatusCode::UnacceptedFrameReceived),
                ),
                _ => {}
            },
            MessageType::EchoRequest if state.is_active() => {
                // Lenient: answered in every active state, not only Call Connected.
                self.answer_echo();
            }
            MessageType::EchoResponse if state.is_active() => {
                // Liveness already recorded; tolerated before Call Connected.
            }
            MessageType::CallConnectAck if state == State::ConnectRequestSent => {
                self.handle_ack(now, &msg)
            }
            MessageType::CallConnectNak if state == State::ConnectRequestSent => {
                self.handle_nak(now, &msg)
            }
            other if state.is_active() => {
                let status = match other {
                    MessageType::Unknown(_) => StatusCode::InvalidFrameReceived,
                    _ => StatusCode::UnacceptedFrameReceived,
                };
                self.violation(
                    now,
                    format!("unexpected {other} in state {state}"),
                    StatusInfo::new(AttributeId::NoError, status),
                );
            }
            // Teardown states ignore everything else.
            _ => {}
        }
    }

    fn handle_ack(&mut self, now: Instant, msg: &ControlMessage) {
        let Some(req) = msg.crypto_binding_request().copied() else {
            self.violation(
                now,
                "CALL_CONNECT_ACK without a Crypto Binding Request attribute".into(),
                StatusInfo::new(
                    AttributeId::CryptoBindingRequest,
                    StatusCode::RequiredAttributeMissing,
                ),
            );
            return;
        };
        let Some(chosen) = req.hash_protocols.preferred() else {
            self.start_abort(
                now,
                CloseReason::UnsupportedHashProtocols(req.hash_protocols),
                Some(StatusInfo {
                    attrib_id: AttributeId::CryptoBindingRequest,
                    status: StatusCode::ValueNotSupported,
                    value: vec![0, 0, 0, req.hash_protocols.bits()],
                }),
            );
            return;
        };
        self.nonce = req.nonce;
        self.offered = req.hash_protocols;
        self.chosen = Some(chosen);
        self.state = State::ConnectAckReceived;
        self.deadline = Some(now + self.config.negotiation_timeout);
        self.events.push_back(Event::ConnectAcknowledged {
            offered: req.hash_protocols,
            chosen,
        });
    }

    fn handle_nak(&mut self, now: Instant, msg: &ControlMessage) {
        if self.attempts > self.config.nak_retries {
            let statuses: Vec<StatusInfo> = msg.status_infos().cloned().collect();
            self.start_abort(
                now,
                CloseReason::ConnectNak {
                    statuses,
                    attempts: self.attempts,
                },
                Some(StatusInfo::new(
                    AttributeId::StatusInfo,
                    StatusCode::RetryCountExceeded,
                )),
            );
            return;
        }
        self.send_connect_request();
        self.deadline = Some(now + self.config.negotiation_timeout);
    }
}

/// Only state and sizes: the buffers hold PPP frames (a PAP password among them).
impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state)
            .field("pending_transmit", &self.pending_transmit().len())
            .field("pending_ppp_bytes", &self.pending_ppp_bytes())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_shows_no_buffer_contents() {
        let t0 = Instant::now();
        let mut c = Client::new(ClientConfig::default(), t0);
        let ack = ControlMessage::call_connect_ack(HashProtocols::BOTH, [9; 32]);
        c.handle_input(t0, &ack.to_bytes().unwrap());
        // A PAP Authenticate-Request: user "alice", password "Zq9x!".
        let mut frame = vec![0xff, 0x03, 0xc0, 0x23, 1, 1, 0, 16, 5];
        frame.extend_from_slice(b"alice\x05Zq9x!");
        c.send_ppp_frame(&frame).unwrap();
        let held = c.pending_transmit();
        assert!(
            held.windows(5).any(|w| w == b"Zq9x!"),
            "the frame is queued"
        );
        let text = format!("{c:?}");
        assert!(text.contains("ConnectAckReceived"), "{text}");
        assert!(
            !text.contains("90, 113") && !text.contains("Zq9x"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppp_protocol_parsing() {
        assert_eq!(ppp_protocol(&[0xFF, 0x03, 0xC0, 0x21, 1]), Some(0xC021));
        assert_eq!(ppp_protocol(&[0xC0, 0x21]), Some(0xC021));
        assert_eq!(ppp_protocol(&[0xFF, 0x03, 0x21, 0x45]), Some(0x21));
        assert_eq!(ppp_protocol(&[0x00, 0x21, 0x45]), Some(0x21));
        assert_eq!(ppp_protocol(&[0xFF, 0x03]), None);
        assert_eq!(ppp_protocol(&[]), None);
        assert!(is_ppp_control_frame(&[0xFF, 0x03, 0x80, 0x21]));
        assert!(!is_ppp_control_frame(&[0xFF, 0x03, 0x00, 0x21]));
    }

    #[test]
    fn close_reason_texts() {
        let st = StatusInfo::new(
            AttributeId::EncapsulatedProtocolId,
            StatusCode::ValueNotSupported,
        );
        let cases = [
            (
                CloseReason::ConnectNak {
                    statuses: vec![st.clone()],
                    attempts: 4,
                },
                "VALUE_NOT_SUPPORTED (4) for attribute ENCAPSULATED_PROTOCOL_ID (after 4 attempts)",
            ),
            (
                CloseReason::PeerAbort {
                    status: Some(StatusInfo::new(
                        AttributeId::CryptoBinding,
                        StatusCode::ValueNotSupported,
                    )),
                    after_call_connected: true,
                },
                "rejected the crypto binding",
            ),
            (
                CloseReason::PeerDisconnect(None),
                "server disconnected the call (CALL_DISCONNECT)",
            ),
            (
                CloseReason::LocalDisconnect {
                    acknowledged: false,
                },
                "did not acknowledge",
            ),
            (CloseReason::LocalAbort, "aborted locally"),
            (
                CloseReason::EchoTimeout { unanswered: 3 },
                "3 ECHO_REQUESTs without any reply",
            ),
            (
                CloseReason::NegotiationTimeout {
                    phase: NegotiationPhase::ConnectAck,
                },
                "waiting for CALL_CONNECT_ACK",
            ),
            (
                CloseReason::NegotiationTimeout {
                    phase: NegotiationPhase::Authentication,
                },
                "check the credentials",
            ),
            (
                CloseReason::ProtocolViolation("x".into()),
                "protocol violation by the server: x",
            ),
            (
                CloseReason::Framing(WireError::BadVersion(0x48)),
                "bad SSTP version byte 0x48",
            ),
            (
                CloseReason::UnsupportedHashProtocols(HashProtocols::from_bits(0x10)),
                "hash protocols 0x10 (bitmask 0x10)",
            ),
        ];
        for (reason, needle) in cases {
            let text = reason.to_string();
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    }

    #[test]
    fn new_queues_connect_request() {
        let now = Instant::now();
        let mut c = Client::new(ClientConfig::default(), now);
        let mut out = Vec::new();
        assert_eq!(c.poll_transmit(&mut out), 14);
        assert_eq!(out, [0x10, 1, 0, 14, 0, 1, 0, 1, 0, 1, 0, 6, 0, 1]);
        assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(60)));
        assert_eq!(c.state(), State::ConnectRequestSent);
        assert_eq!(
            c.send_ppp_frame(&[0xFF, 3, 0xC0, 0x21]),
            Err(SendError::NotReady)
        );
    }

    const ECHO_REQUEST: [u8; 8] = [0x10, 0x01, 0x00, 0x08, 0x00, 0x08, 0x00, 0x00];
    const ECHO_RESPONSE: [u8; 8] = [0x10, 0x01, 0x00, 0x08, 0x00, 0x09, 0x00, 0x00];

    /// A client past CALL_CONNECT_ACK (and CALL_CONNECTED when `connect`), output drained.
    fn acked_client(cfg: ClientConfig, t0: Instant, connect: bool) -> Client {
        let mut c = Client::new(cfg, t0);
        let ack = ControlMessage::call_connect_ack(HashProtocols::BOTH, [9; 32])
            .to_bytes()
            .unwrap();
        c.handle_input(t0, &ack);
        if connect {
            c.authenticated(t0, &Hlak::zero(), b"cert").unwrap();
        }
        c.poll_transmit(&mut Vec::new());
        while c.poll_event().is_some() {}
        c
    }

    fn flood(n: usize) -> Vec<u8> {
        ECHO_REQUEST.repeat(n)
    }

    /// A server that floods ECHO_REQUESTs and reads nothing: the queue of answers stops at
    /// the hard limit and the call closes (the caller's read gate normally stops it far earlier).
    #[test]
    fn echo_flood_against_a_server_that_does_not_read_is_bounded_by_the_queue_limit() {
        let t0 = Instant::now();
        let cfg = ClientConfig {
            max_tx_queue: 256 * 1024,
            ..ClientConfig::default()
        };
        let mut c = acked_client(cfg, t0, true);
        let mut t = t0;
        for _ in 0..100 {
            t += Duration::from_millis(10);
            c.handle_input(t, &flood(10_000));
            assert!(c.pending_transmit().len() <= 256 * 1024);
            if c.is_closed() {
                break;
            }
        }
        assert!(c.is_closed());
        assert_eq!(c.pending_transmit().len(), 256 * 1024);
        let r = c.close_reason().unwrap();
        assert!(matches!(
            r,
            CloseReason::ServerNotReading {
                pending: 262_144,
                stalled_for: None
            }
        ));
        assert_eq!(
            r.to_string(),
            "the server stopped reading: 262144 bytes queued for it exceeded the transmit \
             queue limit; the server is stuck or overloaded, or the network path drops traffic \
             towards it"
        );
        // Nothing more is queued once closed.
        c.handle_input(t, &flood(10));
        assert_eq!(c.pending_transmit().len(), 256 * 1024);
    }

    /// Output queued here that never leaves (nothing written at all): closed after the stall
    /// limit, with virtual time.
    #[test]
    fn queued_output_that_never_leaves_closes_after_the_stall_limit() {
        let t0 = Instant::now();
        let cfg = ClientConfig {
            hello_interval: Duration::from_secs(2),
            echo_failures: 2,
            ..ClientConfig::default()
        };
        let limit = cfg.transmit_stall_limit();
        assert_eq!(limit, Duration::from_secs(6));
        let mut c = acked_client(cfg, t0, true);
        let mut t = t0;
        while !c.is_closed() && t - t0 < Duration::from_secs(20) {
            t += Duration::from_millis(100);
            c.handle_input(t, &ECHO_REQUEST);
            if c.poll_timeout().is_some_and(|d| d <= t) {
                c.handle_timeout(t);
            }
        }
        // Armed by the first answer at 0.1 s.
        assert_eq!(t - t0, Duration::from_millis(6_100));
        let r = c.close_reason().unwrap();
        assert!(matches!(
            r,
            CloseReason::ServerNotReading {
                stalled_for: Some(d),
                ..
            } if *d == limit
        ));
        assert!(r.to_string().starts_with(
            "the server stopped reading: nothing sent to it was acknowledged for 6 s"
        ));
    }

    #[test]
    fn every_echo_request_is_answered_while_the_server_reads() {
        let t0 = Instant::now();
        let mut c = acked_client(ClientConfig::default(), t0, true);
        let mut out = Vec::new();
        for i in 1..=5u32 {
            let t = t0 + Duration::from_secs(u64::from(i) * 100);
            c.handle_input(t, &flood(3));
            c.handle_timeout(t);
            out.clear();
            c.poll_transmit(&mut out);
            assert_eq!(out, ECHO_RESPONSE.repeat(3), "round {i}");
        }
        assert!(!c.is_closed());
        assert_eq!(c.stats().echo_requests_received, 15);
    }

    /// The socket still takes every answer (the kernel buffers them), but the server
    /// acknowledges nothing: the transport's report makes that a stall.
    #[test]
    fn flood_absorbed_by_the_socket_is_a_stall_once_nothing_is_acknowledged() {
        let t0 = Instant::now();
        let cfg = ClientConfig {
            hello_interval: Duration::from_secs(2),
            echo_failures: 3,
            ..ClientConfig::default()
        };
        let mut c = acked_client(cfg, t0, true);
        let mut out = Vec::new();
        let mut t = t0;
        let mut acked = 1000u64;
        while !c.is_closed() && t - t0 < Duration::from_secs(60) {
            t += Duration::from_millis(50);
            c.handle_input(t, &flood(100));
            out.clear();
            c.poll_transmit(&mut out); // written: the socket takes it
            assert_eq!(out.len(), 800);
            // Acknowledgements stop 3 s in (the server's window closed).
            if t - t0 < Duration::from_secs(3) {
                acked += 800;
            }
            c.transport_status(t, acked, true);
            if c.poll_timeout().is_some_and(|d| d <= t) {
                c.handle_timeout(t);
            }
        }
        let took = t - t0;
        // Last acknowledgement at 2.95 s + the 8 s limit.
        assert_eq!(took, Duration::from_millis(10_950));
        assert!(matches!(
            c.close_reason(),
            Some(CloseReason::ServerNotReading {
                stalled_for: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn slow_but_moving_output_is_not_a_stall() {
        let t0 = Instant::now();
        let cfg = ClientConfig {
            hello_interval: Duration::from_secs(1),
            echo_failures: 1,
            ..ClientConfig::default()
        };
        let mut c = acked_client(cfg, t0, true);
        for _ in 0..100 {
            c.send_ppp_frame(&[0xFF, 0x03, 0x00, 0x21, 0x45]).unwrap();
        }
        let mut t = t0;
        for _ in 0..60 {
            t += Duration::from_millis(500);
            c.handle_input(t, &ECHO_REQUEST);
            c.handle_timeout(t);
            c.consume_transmit(1);
        }
        assert!(!c.is_closed(), "{:?}", c.close_reason());
    }

    #[test]
    fn transmit_queue_hard_limit_closes_the_call() {
        let t0 = Instant::now();
        let cfg = ClientConfig {
            max_tx_queue: 64 * 1024,
            ..ClientConfig::default()
        };
        let mut c = acked_client(cfg, t0, true);
        let frame = [0x21u8; 1500];
        let mut refused = None;
        for i in 0..100 {
            if let Err(e) = c.send_ppp_frame(&frame) {
                refused = Some((i, e));
                break;
            }
        }
        assert_eq!(refused, Some((43, SendError::Closed)));
        assert!(c.pending_transmit().len() <= 64 * 1024);
        assert!(matches!(
            c.close_reason(),
            Some(CloseReason::ServerNotReading {
                stalled_for: None,
                ..
            })
        ));
        assert!(c
            .close_reason()
            .unwrap()
            .to_string()
            .contains("exceeded the transmit queue limit"));
    }

    #[test]
    fn data_before_call_connected_stays_bounded() {
        let t0 = Instant::now();
        let mut data = Vec::new();
        encode_data_packet(&[0xFF, 0x03, 0x00, 0x21, 0x45, 0, 0, 0], &mut data).unwrap();
        let mut lcp = Vec::new();
        encode_data_packet(&[0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4], &mut lcp).unwrap();
        let mut burst = Vec::new();
        for _ in 0..1000 {
            burst.extend_from_slice(&data);
            burst.extend_from_slice(&lcp);
            burst.extend_from_slice(&ECHO_REQUEST);
        }
        // Before the ACK: frames are dropped, echoes answered; a caller that never writes hits
        // the queue limit.
        let cfg = ClientConfig {
            max_tx_queue: 64 * 1024,
            ..ClientConfig::default()
        };
        let mut c = Client::new(cfg, t0);
        c.handle_input(t0, &burst);
        assert_eq!(c.pending_transmit().len(), 14 + 8 * 1000);
        assert_eq!(c.pending_ppp_bytes(), 0);
        assert_eq!(c.state(), State::ConnectRequestSent);
        for _ in 0..100 {
            c.handle_input(t0, &burst);
        }
        assert!(c.pending_transmit().len() <= 64 * 1024);
        assert_eq!(c.pending_ppp_bytes(), 0);
        assert!(matches!(
            c.close_reason(),
            Some(CloseReason::ServerNotReading { .. })
        ));
        // After the ACK, before CALL_CONNECTED: only PPP control frames, up to max_rx_queue.
        let cfg = ClientConfig {
            max_rx_queue: 4096,
            ..ClientConfig::default()
        };
        let mut c = acked_client(cfg, t0, false);
        let mut out = Vec::new();
        for _ in 0..100 {
            c.handle_input(t0, &burst);
            out.clear();
            c.poll_transmit(&mut out);
            assert_eq!(out, ECHO_RESPONSE.repeat(1000));
        }
        assert!(c.pending_ppp_bytes() <= 4096);
        assert_eq!(c.state(), State::ConnectAckReceived);
        assert!(c.stats().rx_frames_dropped >= 199_000);
    }
}
