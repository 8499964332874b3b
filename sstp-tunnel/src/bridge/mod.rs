//! The data pump between an SSTP session (TLS) and pppd's PPP channel, plus [`negotiate`], the
//! blocking CALL_CONNECT_REQUEST/ACK step.
//!
//! [`run`] owns the TLS stream and the [`Line`] and loops on poll(2) until the call ends. The
//! parts, each readable on its own:
//!
//! - `transport`: the TLS side, non-blocking SSL reads/writes (WANT_READ / WANT_WRITE);
//! - `line`: the PPP channel, one interface with two implementations — pppd's pty carrying
//!   async HDLC (with the ACCM tracker) and the kernel's PPPoL2TP socket carrying one frame per
//!   L2TPv2 data datagram ([`sstp_proto::l2tp`]);
//! - `pacing`: how much is queued in front of TLS, bounded by time (drain rate × target delay);
//! - `pump`: one loop iteration as `input` / `service` / `interest`, all on the caller's `now`;
//! - `clock`: [`Clock`], read once per loop by [`run_with_clock`];
//! - `control`: commands ([`Command::Authenticated`], [`Command::Disconnect`]) through a
//!   [`control_channel`], whose sender may live on another thread (pppd's main thread).
//!
//! Back-pressure: the line is not read while TLS output is over the pacing limit, and TLS is not
//! read while line output or TLS output is backed up; the client closes the call when the
//! server stops acknowledging what we send (TCP_INFO progress, [`Client::transport_status`]).
//! Nothing here calls pppd: events are reported to an [`EventSink`].

mod clock;
mod control;
mod line;
mod negotiate;
mod pacing;
mod pump;
mod transport;

use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use sstp_proto::client::{Client, CloseReason, Event, State, Stats};
use sstp_proto::hdlc::{self, DecoderStats};

use crate::connect::Established;
use crate::error::TunnelError;
use crate::sys::{self, PollFd};

pub use clock::{Clock, SystemClock};
pub use control::{control_channel, Command, ControlReceiver, ControlSender};
pub use negotiate::{negotiate, negotiate_cancellable};
pub use pacing::Pacer;
#[doc(hidden)]
pub use pump::{Pump, Ready};
#[doc(hidden)]
pub use transport::{TlsRead, TlsWrite, Transport};

/// The PPP channel between the bridge and pppd.
#[derive(Debug)]
pub enum Line {
    /// pppd's pty master carrying async HDLC (the fallback channel).
    Pty(OwnedFd),
    /// A connected UDP socket whose peer is the kernel's PPPoL2TP tunnel socket: one PPP frame
    /// per datagram behind an L2TPv2 data header.
    L2tp(L2tpLine),
}

/// The kernel L2TP line of [`Line::L2tp`].
#[derive(Debug)]
pub struct L2tpLine {
    /// The connected UDP socket.
    pub sock: OwnedFd,
    /// The kernel's LOCAL tunnel and session ids: written into the header of every datagram we
    /// send to it.
    pub tunnel_id: u16,
    /// See `tunnel_id`.
    pub session_id: u16,
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
    /// Pending output (bytes) above which the opposite input is no longer read (for output to
    /// the server: the most the pacing allows).
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
    /// Queueing delay in front of TLS the pacing aims at ([`Pacer`]).
    pub pacing_target: Duration,
    /// Smallest pacing limit (bytes): a full flight of TLS records even on a slow link.
    pub pacing_floor: usize,
    /// TCP_NOTSENT_LOWAT set on the TLS socket (0: leave the system default).
    pub notsent_lowat: u32,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            high_water: 256 * 1024,
            max_hdlc_frame: hdlc::DEFAULT_MAX_FRAME,
            accm: 0xFFFF_FFFF,
            track_accm: true,
            read_chunk: 64 * 1024,
            pacing_target: Duration::from_millis(5),
            pacing_floor: 32 * 1024,
            notsent_lowat: 32 * 1024,
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
    /// Bytes read from the line (HDLC bytes from the pty, PPP bytes from L2TP datagrams).
    pub pty_bytes_in: u64,
    /// Bytes written to the line (HDLC bytes to the pty, PPP bytes in L2TP datagrams).
    pub pty_bytes_out: u64,
    /// PPP frames taken from the pty and accepted by the client.
    pub frames_to_server: u64,
    /// PPP frames written to the pty.
    pub frames_from_server: u64,
    /// Frames from the pty the client refused (too long, before ACK, closing).
    pub frames_refused: u64,
    /// poll(2) calls.
    pub polls: u64,
    /// Datagrams from the kernel that were not L2TPv2 data messages (dropped).
    pub l2tp_malformed: u64,
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

/// Runs the data pump until the call ends. The line is set non-blocking and closed on return.
/// The TLS stream is set non-blocking; on return close_notify is sent and the socket shut down.
pub fn run(
    est: Established,
    client: Client,
    line: Line,
    control: ControlReceiver,
    sink: &mut dyn EventSink,
    opts: &BridgeOptions,
) -> BridgeReport {
    run_with_clock(est, client, line, control, sink, opts, &SystemClock)
}

/// [`run`] on the caller's clock.
pub fn run_with_clock(
    mut est: Established,
    client: Client,
    line: Line,
    control: ControlReceiver,
    sink: &mut dyn EventSink,
    opts: &BridgeOptions,
    clock: &dyn Clock,
) -> BridgeReport {
    let leftover = std::mem::take(&mut est.leftover);
    let cert_der = est.peer_cert_der.clone();
    let (end, client, counters) = match pump::open_line(line, opts) {
        Ok(line) => {
            let mut pump =
                Pump::with_line(&mut est.stream, client, line, control, cert_der, sink, opts);
            pump.start(clock.now(), &leftover);
            let end = drive(&mut pump, opts, clock);
            let (client, counters) = pump.finish();
            (end, client, counters)
        }
        Err(end) => (end, client, Counters::default()),
    };
    sink.event(BridgeEvent::ClosingFds);
    // Close: close_notify (one non-blocking attempt) + TCP shutdown.
    let _ = est.stream.shutdown();
    let _ = est.stream.get_ref().shutdown(Shutdown::Both);
    drop(est);
    finish(end, &client, counters, sink)
}

/// The poll loop: one clock reading per iteration.
fn drive(
    pump: &mut Pump<'_, &mut openssl::ssl::SslStream<std::net::TcpStream>>,
    opts: &BridgeOptions,
    clock: &dyn Clock,
) -> BridgeEnd {
    let sock = pump.tls().get_ref();
    if let Err(e) = sock.set_nonblocking(true) {
        return BridgeEnd::Error(TunnelError::io("making the TLS socket non-blocking", e));
    }
    if opts.notsent_lowat > 0 {
        // Best effort: without it the pacing still bounds our own queue.
        let _ = sys::set_notsent_lowat(sock.as_fd(), opts.notsent_lowat);
    }
    let mut ready = Ready::default();
    let mut interest = pump.interest(clock.now());
    loop {
        let now = clock.now();
        if let Some(end) = pump.input(now, &interest, ready) {
            return end;
        }
        if let Some(end) = pump.service(now) {
            return end;
        }
        interest = pump.interest(now);
        let timeout = if interest.immediate {
            Some(Duration::ZERO)
        } else {
            interest.deadline.map(|t| t.saturating_duration_since(now))
        };
        pump.counters_mut().polls += 1;
        let set = [
            PollFd::new(
                pump.tls().get_ref().as_fd(),
                interest.tls_read,
                interest.tls_write,
            ),
            PollFd::new(pump.line_fd(), interest.line_read, interest.line_write),
            PollFd::new(pump.control_fd(), true, false),
        ];
        let fds = match sys::poll(&set, timeout) {
            Ok(r) => r,
            Err(e) => return BridgeEnd::Error(TunnelError::io("waiting in poll(2)", e)),
        };
        ready = Ready {
            tls_read: fds[0].readable,
            tls_write: fds[0].writable,
            line_read: fds[1].readable,
            control: fds[2].readable,
        };
    }
}

/// The final log line and the report.
fn finish(
    end: BridgeEnd,
    client: &Client,
    mut counters: Counters,
    sink: &mut dyn EventSink,
) -> BridgeReport {
    counters.sstp = client.stats();
    let level = match &end {
        BridgeEnd::Call(CloseReason::LocalDisconnect { .. } | CloseReason::PeerDisconnect(_)) => {
            Level::Notice
        }
        _ => Level::Error,
    };
    let message = match &end {
        BridgeEnd::Call(r) => format!("SSTP call ended: {r}"),
        BridgeEnd::TransportClosed => {
            "the server closed the connection without SSTP teardown".to_owned()
        }
        BridgeEnd::Error(e) => format!("SSTP session failed: {e}"),
    };
    sink.event(BridgeEvent::Log { level, message });
    BridgeReport { end, counters }
}
