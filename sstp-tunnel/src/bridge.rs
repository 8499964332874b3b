//! The data pump between an SSTP session (TLS) and a byte stream carrying async HDLC (pppd's
//! pty master), plus [`negotiate`], the blocking CALL_CONNECT_REQUEST/ACK step.
//!
//! [`run`] owns the TLS stream and the pty fd and loops on poll(2) until the call ends:
//!
//! - pty bytes → [`hdlc::Decoder`] → [`Client::send_ppp_frame`];
//! - [`Client::next_ppp_frame`] → [`hdlc::Encoder`] → pty;
//! - TLS reads/writes are non-blocking (WANT_READ / WANT_WRITE, partial writes);
//! - back-pressure: the pty is not read while TLS output is backed up, and TLS is not read while
//!   pty output or TLS output is backed up; the client closes the call when the server stops
//!   acknowledging what we send (TCP_INFO progress, [`Client::transport_status`]);
//! - timers come from [`Client::poll_timeout`];
//! - commands ([`Command::Authenticated`], [`Command::Disconnect`]) arrive through a
//!   [`control_channel`], whose sender may live on another thread (pppd's main thread).
//!
//! Nothing here calls pppd: events are reported to an [`EventSink`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags};
use openssl::ssl::ErrorCode;
use sstp_proto::client::{Client, ClientConfig, CloseReason, Event, SendError, State, Stats};
use sstp_proto::crypto_binding::Hlak;
use sstp_proto::hdlc::{self, DecoderStats};

use crate::cancel::{self, Cancel, WaitError};
use crate::connect::{phase, wait_err, Established};
use crate::error::TunnelError;
use crate::sys::{self, PollFd};

/// Sends CALL_CONNECT_REQUEST on an established connection and waits (bounded by the
/// client's negotiation timer) for CALL_CONNECT_ACK. NAKs are retried by the client as configured.
/// On success the returned client is in Connect-Ack-Received: PPP may start.
pub fn negotiate(est: &mut Established, cfg: &ClientConfig) -> Result<Client, TunnelError> {
    negotiate_cancellable(est, cfg, &Cancel::never())
}

/// [`negotiate`] that stops as soon as `cancel` says so. The stream stays in blocking mode
/// afterwards, as [`crate::connect()`] returned it.
pub fn negotiate_cancellable(
    est: &mut Established,
    cfg: &ClientConfig,
    cancel: &Cancel<'_>,
) -> Result<Client, TunnelError> {
    let sock = est.stream.get_ref();
    sock.set_nonblocking(true)
        .map_err(|e| TunnelError::io("setting the socket to non-blocking mode", e))?;
    let result = negotiate_loop(est, cfg, cancel);
    let _ = est.stream.get_ref().set_nonblocking(false);
    result
}

/// Time allowed to send one batch of control packets.
const CONTROL_WRITE_LIMIT: Duration = Duration::from_secs(10);

fn negotiate_loop(
    est: &mut Established,
    cfg: &ClientConfig,
    cancel: &Cancel<'_>,
) -> Result<Client, TunnelError> {
    const SENDING: &str = "sending SSTP control packets";
    const WAITING: &str = "waiting for CALL_CONNECT_ACK";
    let cancelled = |e: WaitError, during| {
        wait_err(e, phase::NEGOTIATION, during, || {
            TunnelError::io(during, io::ErrorKind::TimedOut.into())
        })
    };
    let mut client = Client::new(cfg.clone(), Instant::now());
    let leftover = std::mem::take(&mut est.leftover);
    if !leftover.is_empty() {
        client.handle_input(Instant::now(), &leftover);
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        out.clear();
        client.poll_transmit(&mut out);
        let write_by = Instant::now() + CONTROL_WRITE_LIMIT;
        cancel::write_all(&mut est.stream, &out, write_by, cancel)
            .map_err(|e| cancelled(e, SENDING))?;
        let mut acknowledged = false;
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::ConnectAcknowledged { .. } => acknowledged = true,
                Event::Closing(r) | Event::Closed(r) => {
                    out.clear();
                    client.poll_transmit(&mut out);
                    let by = Instant::now() + Duration::from_secs(2);
                    let _ = cancel::write_all(&mut est.stream, &out, by, cancel);
                    return Err(TunnelError::Call(r));
                }
                _ => {}
            }
        }
        if acknowledged {
            return Ok(client);
        }
        if client.is_closed() {
            let r = client
                .close_reason()
                .cloned()
                .unwrap_or(CloseReason::LocalAbort);
            return Err(TunnelError::Call(r));
        }
        let now = Instant::now();
        let until = match client.poll_timeout() {
            Some(d) if d <= now => {
                client.handle_timeout(now);
                continue;
            }
            Some(d) => d,
            None => now + cfg.negotiation_timeout,
        };
        match cancel::read_some(&mut est.stream, &mut buf, until, cancel) {
            Ok(0) => {
                return Err(TunnelError::Negotiation(
                    "the server closed the connection before answering CALL_CONNECT_REQUEST".into(),
                ))
            }
            Ok(n) => client.handle_input(Instant::now(), &buf[..n]),
            // The client's timer is due: handled at the top of the loop.
            Err(WaitError::Timeout) => {}
            Err(e) => return Err(cancelled(e, WAITING)),
        }
    }
}

/// A command for the running bridge.
#[derive(Debug)]
pub enum Command {
    /// PPP authentication finished: send CALL_CONNECTED with this HLAK.
    Authenticated {
        /// The Higher-Layer Authentication Key (zero for PAP/CHAP/no auth).
        hlak: Hlak,
    },
    /// Tear the call down gracefully (CALL_DISCONNECT, wait for the ACK, close).
    Disconnect,
}

/// Sending half of the control channel (cheap to use from any thread).
#[derive(Debug)]
pub struct ControlSender {
    queue: Arc<Mutex<VecDeque<Command>>>,
    wake: UnixStream,
}

impl ControlSender {
    /// Queues a command and wakes the bridge.
    pub fn send(&self, cmd: Command) -> io::Result<()> {
        match self.queue.lock() {
            Ok(mut q) => q.push_back(cmd),
            Err(p) => p.into_inner().push_back(cmd),
        }
        // MSG_NOSIGNAL: the bridge may be gone (its end closed) when pppd's main thread sends
        // Disconnect; a SIGPIPE there would kill pppd (std adds the flag only since Rust 1.90).
        let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
        loop {
            return match socket::send(self.wake.as_raw_fd(), &[1], flags) {
                Ok(_) => Ok(()),
                // The socket buffer is full of wake-ups: the bridge will drain the queue anyway.
                Err(Errno::EAGAIN) => Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => Err(io::Error::from(e)),
            };
        }
    }

    /// Another sender for the same bridge.
    pub fn try_clone(&self) -> io::Result<ControlSender> {
        Ok(ControlSender {
            queue: Arc::clone(&self.queue),
            wake: self.wake.try_clone()?,
        })
    }
}

/// Receiving half of the control channel, given to [`run`].
#[derive(Debug)]
pub struct ControlReceiver {
    queue: Arc<Mutex<VecDeque<Command>>>,
    wake: UnixStream,
}

impl ControlReceiver {
    fn drain(&mut self) -> Vec<Command> {
        let mut sink = [0u8; 64];
        while let Ok(n) = (&self.wake).read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        match self.queue.lock() {
            Ok(mut q) => q.drain(..).collect(),
            Err(p) => p.into_inner().drain(..).collect(),
        }
    }
}

/// A connected pair of control channel ends.
pub fn control_channel() -> io::Result<(ControlSender, ControlReceiver)> {
    let (a, b) = UnixStream::pair()?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    let queue = Arc::new(Mutex::new(VecDeque::new()));
    Ok((
        ControlSender {
            queue: Arc::clone(&queue),
            wake: a,
        },
        ControlReceiver { queue, wake: b },
    ))
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Failure.
    Error,
    /// Something odd, the session goes on.
    Warn,
    /// Important normal event.
    Notice,
    /// Normal event.
    Info,
    /// Detail.
    Debug,
}

/// What the bridge reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// A log line.
    Log {
        /// Severity.
        level: Level,
        /// Text.
        message: String,
    },
    /// An SSTP client event (ACK, CALL_CONNECTED sent, closing, closed…).
    Session(Event),
    /// The client state changed.
    StateChanged(State),
    /// The pump has ended and the bridge is about to close the pty and the TLS socket (their
    /// numbers may be reused by the process from then on). Sent once, before the final log line.
    ClosingFds,
}

/// Receives the bridge's events (called on the bridge's thread; queue them for pppd).
pub trait EventSink {
    /// One event.
    fn event(&mut self, event: BridgeEvent);
}

impl<F: FnMut(BridgeEvent)> EventSink for F {
    fn event(&mut self, event: BridgeEvent) {
        self(event)
    }
}

/// Tuning of [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeOptions {
    /// Pending output (bytes) above which the opposite input is no longer read.
    pub high_water: usize,
    /// Largest HDLC frame accepted from the pty (FCS included).
    pub max_hdlc_frame: usize,
    /// Initial ACCM used when encoding towards pppd (0xFFFFFFFF: escape all control characters,
    /// the RFC 1662 default before LCP).
    pub accm: u32,
    /// Follow pppd's LCP ([`hdlc::AccmTracker`]) and escape only what pppd's negotiated receive
    /// ACCM requires (fewer bytes on the pty with `asyncmap 0`).
    pub track_accm: bool,
    /// Bytes read per read(2)/SSL_read call.
    pub read_chunk: usize,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            high_water: 256 * 1024,
            max_hdlc_frame: hdlc::DEFAULT_MAX_FRAME,
            accm: 0xFFFF_FFFF,
            track_accm: true,
            read_chunk: 64 * 1024,
        }
    }
}

/// Traffic counters of a bridge run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Plaintext bytes read from TLS.
    pub tls_bytes_in: u64,
    /// Plaintext bytes written to TLS.
    pub tls_bytes_out: u64,
    /// HDLC bytes read from the pty.
    pub pty_bytes_in: u64,
    /// HDLC bytes written to the pty.
    pub pty_bytes_out: u64,
    /// PPP frames taken from the pty and accepted by the client.
    pub frames_to_server: u64,
    /// PPP frames written to the pty.
    pub frames_from_server: u64,
    /// Frames from the pty the client refused (too long, before ACK, closing).
    pub frames_refused: u64,
    /// poll(2) calls.
    pub polls: u64,
    /// HDLC decoder counters.
    pub hdlc: DecoderStats,
    /// SSTP client counters.
    pub sstp: Stats,
}

/// How the bridge ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeEnd {
    /// The SSTP call ended (disconnect, abort, echo timeout…).
    Call(CloseReason),
    /// The server closed TLS/TCP without SSTP teardown.
    TransportClosed,
    /// An I/O or TLS error.
    Error(TunnelError),
}

/// Result of [`run`].
#[derive(Debug)]
pub struct BridgeReport {
    /// Why it ended.
    pub end: BridgeEnd,
    /// Counters.
    pub counters: Counters,
}

/// How long the final packets (CALL_ABORT, DISCONNECT_ACK…) may take to leave once the call is
/// closed, if the server does not read.
pub const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(2);

struct Pump<'a> {
    sink: &'a mut dyn EventSink,
    counters: Counters,
}

impl Pump<'_> {
    fn log(&mut self, level: Level, message: impl Into<String>) {
        self.sink.event(BridgeEvent::Log {
            level,
            message: message.into(),
        });
    }
}

enum TlsRead {
    Data(usize),
    WantRead,
    WantWrite,
    Eof,
}

fn tls_read(
    stream: &mut openssl::ssl::SslStream<std::net::TcpStream>,
    buf: &mut [u8],
) -> Result<TlsRead, TunnelError> {
    match stream.ssl_read(buf) {
        Ok(0) => Ok(TlsRead::Eof),
        Ok(n) => Ok(TlsRead::Data(n)),
        Err(e) => match e.code() {
            ErrorCode::WANT_READ => Ok(TlsRead::WantRead),
            ErrorCode::WANT_WRITE => Ok(TlsRead::WantWrite),
            ErrorCode::ZERO_RETURN => Ok(TlsRead::Eof),
            ErrorCode::SYSCALL if e.io_error().is_none() => Ok(TlsRead::Eof),
            _ => {
                if let Some(io) = e.io_error() {
                    if io.kind() == io::ErrorKind::WouldBlock {
                        return Ok(TlsRead::WantRead);
                    }
                    if matches!(
                        io.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                    ) {
                        return Ok(TlsRead::Eof);
                    }
                }
                let text = e.to_string();
                if text.contains("unexpected eof") {
                    return Ok(TlsRead::Eof);
                }
                Err(TunnelError::io(
                    "reading from the server",
                    io::Error::other(text),
                ))
            }
        },
    }
}

/// Runs the data pump until the call ends. `pty` is the pty master (or any stream socket) with
/// async-HDLC bytes; it is set non-blocking and closed on return. The TLS stream is set
/// non-blocking; on return close_notify is sent and the socket shut down.
pub fn run(
    mut est: Established,
    mut client: Client,
    pty: OwnedFd,
    mut control: ControlReceiver,
    sink: &mut dyn EventSink,
    opts: &BridgeOptions,
) -> BridgeReport {
    let mut p = Pump {
        sink,
        counters: Counters::default(),
    };
    let mut pty = File::from(pty);
    let end = pump(&mut est, &mut client, &mut pty, &mut control, &mut p, opts);
    p.sink.event(BridgeEvent::ClosingFds);
    // Close: close_notify (one non-blocking attempt) + TCP shutdown.
    let _ = est.stream.shutdown();
    let _ = est.stream.get_ref().shutdown(Shutdown::Both);
    drop(pty);
    drop(est);
    p.counters.sstp = client.stats();
    let level = match &end {
        BridgeEnd::Call(CloseReason::LocalDisconnect { .. } | CloseReason::PeerDisconnect(_)) => {
            Level::Notice
        }
        _ => Level::Error,
    };
    let text = match &end {
        BridgeEnd::Call(r) => format!("SSTP call ended: {r}"),
        BridgeEnd::TransportClosed => {
            "the server closed the connection without SSTP teardown".to_owned()
        }
        BridgeEnd::Error(e) => format!("SSTP session failed: {e}"),
    };
    p.log(level, text);
    BridgeReport {
        end,
        counters: p.counters,
    }
}

fn handle_commands(
    control: &mut ControlReceiver,
    client: &mut Client,
    cert_der: &[u8],
    p: &mut Pump<'_>,
    now: Instant,
) {
    for cmd in control.drain() {
        match cmd {
            Command::Authenticated { hlak } => match client.authenticated(now, &hlak, cert_der) {
                Ok(()) => p.log(
                    Level::Info,
                    format!(
                        "sending CALL_CONNECTED (crypto binding {}, {} HLAK)",
                        client
                            .hash_protocol()
                            .map(|h| h.to_string())
                            .unwrap_or_default(),
                        if hlak.is_zero() { "zero" } else { "keyed" }
                    ),
                ),
                Err(e) => p.log(Level::Warn, format!("cannot send CALL_CONNECTED: {e}")),
            },
            Command::Disconnect => {
                p.log(Level::Info, "disconnect requested");
                client.disconnect(now);
            }
        }
    }
}

/// Tells the client how far the server has acknowledged our bytes (TCP_INFO).
fn report_delivery(est: &Established, client: &mut Client, now: Instant) {
    if let Some((acked, in_flight)) = sys::tcp_delivery(est.stream.get_ref().as_fd()) {
        client.transport_status(now, acked, in_flight);
    }
}

fn pump(
    est: &mut Established,
    client: &mut Client,
    pty: &mut File,
    control: &mut ControlReceiver,
    p: &mut Pump<'_>,
    opts: &BridgeOptions,
) -> BridgeEnd {
    if let Err(e) = est.stream.get_ref().set_nonblocking(true) {
        return BridgeEnd::Error(TunnelError::io("making the TLS socket non-blocking", e));
    }
    if let Err(e) = sys::set_nonblocking(pty.as_fd(), true) {
        return BridgeEnd::Error(TunnelError::io("making the pty non-blocking", e));
    }

    let leftover = std::mem::take(&mut est.leftover);
    if !leftover.is_empty() {
        p.counters.tls_bytes_in += leftover.len() as u64;
        client.handle_input(Instant::now(), &leftover);
    }
    let mut decoder = hdlc::Decoder::new(opts.max_hdlc_frame);
    let mut encoder = hdlc::Encoder::new(opts.accm);
    let mut tracker = opts.track_accm.then(hdlc::AccmTracker::new);
    let mut pty_out: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut pty_off = 0usize;
    let mut rbuf = vec![0u8; opts.read_chunk.max(4096)];
    let mut last_state = client.state();
    let mut pty_eof = false;
    let mut tls_eof = false;
    let mut read_wants_write = false;
    let mut closed_at: Option<Instant> = None;

    loop {
        let now = Instant::now();
        handle_commands(control, client, &est.peer_cert_der, p, now);
        if client.poll_timeout().is_some_and(|t| now >= t) {
            report_delivery(est, client, now);
            client.handle_timeout(now);
        }
        while let Some(ev) = client.poll_event() {
            p.sink.event(BridgeEvent::Session(ev));
        }
        if client.state() != last_state {
            last_state = client.state();
            p.sink.event(BridgeEvent::StateChanged(last_state));
        }
        // TLS output.
        let mut write_wants_read = false;
        while !client.pending_transmit().is_empty() {
            match est.stream.ssl_write(client.pending_transmit()) {
                Ok(n) => {
                    p.counters.tls_bytes_out += n as u64;
                    client.consume_transmit(n);
                }
                Err(e) if e.code() == ErrorCode::WANT_WRITE => break,
                Err(e) if e.code() == ErrorCode::WANT_READ => {
                    write_wants_read = true;
                    break;
                }
                Err(e) => {
                    if client.is_closed() {
                        // The peer is gone after teardown; nothing more to deliver.
                        client.consume_transmit(usize::MAX);
                        break;
                    }
                    return BridgeEnd::Error(TunnelError::io(
                        "writing to the server",
                        io::Error::other(e.to_string()),
                    ));
                }
            }
        }
        // Frames for pppd, bounded by the pty back-pressure. Encode and write in rounds until
        // the pty would block or the client has nothing left: a round that drains the backlog
        // completely must not leave frames queued in the client with nothing to wake poll(2).
        loop {
            while pty_out.len() - pty_off < opts.high_water {
                let Some(frame) = client.next_ppp_frame() else {
                    break;
                };
                if let Some(accm) = tracker.as_mut().and_then(|t| t.to_pppd(frame)) {
                    encoder.set_accm(accm);
                }
                encoder.encode(frame, &mut pty_out);
                p.counters.frames_from_server += 1;
            }
            let mut pty_blocked = false;
            while pty_off < pty_out.len() {
                match pty.write(&pty_out[pty_off..]) {
                    Ok(0) => {
                        pty_blocked = true;
                        break;
                    }
                    Ok(n) => {
                        pty_off += n;
                        p.counters.pty_bytes_out += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        pty_blocked = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        if !pty_eof {
                            p.log(
                                Level::Info,
                                format!("pppd's side of the line is gone ({e})"),
                            );
                            pty_eof = true;
                            client.disconnect(now);
                        }
                        pty_out.clear();
                        pty_off = 0;
                        break;
                    }
                }
            }
            if pty_off == pty_out.len() {
                pty_out.clear();
                pty_off = 0;
            } else if pty_off > 64 * 1024 {
                pty_out.drain(..pty_off);
                pty_off = 0;
            }
            if pty_blocked || pty_eof || client.pending_ppp_bytes() == 0 {
                break;
            }
        }
        if client.is_closed() && closed_at.is_none() {
            closed_at = Some(now);
        }
        // After the call closed, the last packets get a bounded time to leave.
        let flush_expired = closed_at.is_some_and(|t| now.duration_since(t) >= CLOSE_FLUSH_LIMIT);
        if client.is_closed() && (client.pending_transmit().is_empty() || tls_eof || flush_expired)
        {
            return BridgeEnd::Call(
                client
                    .close_reason()
                    .cloned()
                    .unwrap_or(CloseReason::LocalAbort),
            );
        }
        if tls_eof {
            return match client.close_reason() {
                Some(r) => BridgeEnd::Call(r.clone()),
                None => BridgeEnd::TransportClosed,
            };
        }

        let pty_backlog = pty_out.len() - pty_off;
        // TLS is not read while output to the server is backed up either: every ECHO_REQUEST
        // read may queue an answer, so a server that floods without reading gets TCP
        // back-pressure instead of our memory.
        let want_tls_read = write_wants_read
            || (pty_backlog < opts.high_water
                && client.pending_ppp_bytes() < opts.high_water
                && client.pending_transmit().len() < opts.high_water);
        let want_tls_write = !client.pending_transmit().is_empty() || read_wants_write;
        let want_pty_read = !pty_eof && client.pending_transmit().len() < opts.high_water;
        let want_pty_write = pty_backlog > 0 && !pty_eof;
        let buffered_plaintext = want_tls_read && est.stream.ssl().pending() > 0;
        let timeout = if buffered_plaintext {
            Some(Duration::ZERO)
        } else {
            let deadline = match (
                client.poll_timeout(),
                closed_at.map(|t| t + CLOSE_FLUSH_LIMIT),
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            deadline.map(|t| t.saturating_duration_since(Instant::now()))
        };
        let poll_set = [
            PollFd::new(est.stream.get_ref().as_fd(), want_tls_read, want_tls_write),
            PollFd::new(pty.as_fd(), want_pty_read, want_pty_write),
            PollFd::new(control.wake.as_fd(), true, false),
        ];
        p.counters.polls += 1;
        let fds = match sys::poll(&poll_set, timeout) {
            Ok(ready) => ready,
            Err(e) => return BridgeEnd::Error(TunnelError::io("waiting in poll(2)", e)),
        };
        let now = Instant::now();
        if fds[2].readable {
            // Before reading the pty: a data frame right after `Authenticated` must find the
            // call connected.
            handle_commands(control, client, &est.peer_cert_der, p, now);
        }

        // TLS input (also when a pending write needs a read, or plaintext is buffered).
        if (fds[0].readable || buffered_plaintext || (read_wants_write && fds[0].writable))
            && want_tls_read
        {
            read_wants_write = false;
            // Bounded batch per wake-up so the pty side is served too.
            for _ in 0..16 {
                match tls_read(&mut est.stream, &mut rbuf) {
                    Ok(TlsRead::Data(n)) => {
                        p.counters.tls_bytes_in += n as u64;
                        client.handle_input(now, &rbuf[..n]);
                        if client.pending_ppp_bytes() >= opts.high_water
                            || client.pending_transmit().len() >= opts.high_water
                            || client.is_closed()
                        {
                            break;
                        }
                    }
                    Ok(TlsRead::WantRead) => break,
                    Ok(TlsRead::WantWrite) => {
                        read_wants_write = true;
                        break;
                    }
                    Ok(TlsRead::Eof) => {
                        tls_eof = true;
                        break;
                    }
                    Err(e) => return BridgeEnd::Error(e),
                }
            }
            // Once per read batch: a server that sends but has stopped reading shows up as
            // acknowledgements that no longer advance (our writes still land in the socket).
            report_delivery(est, client, now);
        }

        // pty input.
        if fds[1].readable && want_pty_read {
            for _ in 0..16 {
                match pty.read(&mut rbuf) {
                    Ok(0) => {
                        pty_eof = true;
                    }
                    Ok(n) => {
                        p.counters.pty_bytes_in += n as u64;
                        let mut refused: Option<SendError> = None;
                        let mut accepted = 0u64;
                        let mut refused_n = 0u64;
                        decoder.push(&rbuf[..n], |frame| {
                            if let Some(accm) = tracker.as_mut().and_then(|t| t.from_pppd(frame)) {
                                encoder.set_accm(accm);
                            }
                            match client.send_ppp_frame(frame) {
                                Ok(()) => accepted += 1,
                                Err(e) => {
                                    refused_n += 1;
                                    refused.get_or_insert(e);
                                }
                            }
                        });
                        p.counters.frames_to_server += accepted;
                        p.counters.frames_refused += refused_n;
                        if let Some(e) = refused {
                            let level = if matches!(e, SendError::TooLong(_)) {
                                Level::Warn
                            } else {
                                Level::Debug
                            };
                            p.log(
                                level,
                                format!("{refused_n} PPP frame(s) from pppd not sent: {e}"),
                            );
                        }
                        if client.pending_transmit().len() >= opts.high_water {
                            break;
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // EIO: the pty slave was closed (pppd exited or hung up).
                    Err(_) => pty_eof = true,
                }
                if pty_eof {
                    p.log(
                        Level::Info,
                        "pppd closed the line; disconnecting the SSTP call",
                    );
                    client.disconnect(now);
                    break;
                }
            }
        }
        p.counters.hdlc = decoder.stats();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pppd's main thread sends Disconnect after the bridge has ended and dropped its end: an
    /// error at most, never SIGPIPE (SIG_DFL here, as pppd's handler dies).
    #[test]
    fn control_send_to_a_finished_bridge_raises_no_sigpipe() {
        // SAFETY: setting a signal disposition; no handler code runs.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let (tx, rx) = control_channel().unwrap();
        drop(rx);
        let e = tx.send(Command::Disconnect).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        // SAFETY: restoring the test harness's disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    }
}
