//! The pump: one loop iteration split into `input` (after poll: commands, TLS reads, line
//! reads), `service` (timers, events, TLS writes, line writes, the end check) and `interest`
//! (what to poll for, until when). Every step takes the caller's `now`.

use std::time::Instant;

use sstp_proto::client::{Client, CloseReason, State};

use std::os::fd::{AsFd, OwnedFd};

use super::line::{Hangup, L2tpIo, PppLine, PtyLine, Refusals};
use super::pacing::Pacer;
use super::transport::{TlsRead, TlsWrite, Transport};
use super::{
    BridgeEnd, BridgeEvent, BridgeOptions, Command, ControlReceiver, Counters, EventSink, Level,
    Line, CLOSE_FLUSH_LIMIT,
};
use crate::error::TunnelError;
use crate::sys;
use sstp_proto::client::SendError;

/// TLS reads per wake-up, so the line is served too.
const TLS_READ_BATCH: usize = 16;

/// What poll(2) reported, for [`Pump::input`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// The TLS socket is readable.
    pub tls_read: bool,
    /// The TLS socket is writable.
    pub tls_write: bool,
    /// The line is readable.
    pub line_read: bool,
    /// The control channel has a wake-up byte.
    pub control: bool,
}

impl Ready {
    /// Everything ready: each read or write then finds out for itself (non-blocking).
    pub const ALL: Ready = Ready {
        tls_read: true,
        tls_write: true,
        line_read: true,
        control: true,
    };
}

/// What the pump waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interest {
    /// Read TLS when readable.
    pub tls_read: bool,
    /// Wake when TLS is writable.
    pub tls_write: bool,
    /// Read the line when readable.
    pub line_read: bool,
    /// Wake when the line is writable.
    pub line_write: bool,
    /// TLS input may already be buffered in user space: do not sleep.
    pub immediate: bool,
    /// The next timer.
    pub deadline: Option<Instant>,
}

/// The bridge's state between two polls.
pub struct Pump<'a, T: Transport> {
    tls: T,
    client: Client,
    line: Box<dyn PppLine + 'a>,
    control: ControlReceiver,
    cert_der: Vec<u8>,
    sink: &'a mut dyn EventSink,
    opts: BridgeOptions,
    pacer: Pacer,
    rbuf: Vec<u8>,
    counters: Counters,
    last_state: State,
    line_gone: bool,
    tls_eof: bool,
    read_wants_write: bool,
    write_wants_read: bool,
    /// The last TLS read batch stopped before WANT_READ: OpenSSL may hold more (read-ahead
    /// bytes are not in SSL_pending).
    tls_unread: bool,
    closed_at: Option<Instant>,
}

impl<'a, T: Transport> Pump<'a, T> {
    /// A pump over `tls` and `line` (set non-blocking here). `cert_der`: the server
    /// certificate the crypto binding hashes. [`super::run`] uses it over TLS; a test driver
    /// may use it over memory with [`Pump::step`].
    pub fn new(
        tls: T,
        client: Client,
        line: Line,
        control: ControlReceiver,
        cert_der: Vec<u8>,
        sink: &'a mut dyn EventSink,
        opts: &BridgeOptions,
    ) -> Result<Self, BridgeEnd> {
        let line = open_line(line, opts)?;
        Ok(Self::with_line(
            tls, client, line, control, cert_der, sink, opts,
        ))
    }

    pub(super) fn with_line(
        tls: T,
        client: Client,
        line: Box<dyn PppLine + 'a>,
        control: ControlReceiver,
        cert_der: Vec<u8>,
        sink: &'a mut dyn EventSink,
        opts: &BridgeOptions,
    ) -> Self {
        let last_state = client.state();
        Pump {
            tls,
            client,
            line,
            control,
            cert_der,
            sink,
            opts: *opts,
            pacer: Pacer::new(opts.pacing_target, opts.pacing_floor, opts.high_water),
            rbuf: vec![0u8; opts.read_chunk.max(4096)],
            counters: Counters::default(),
            last_state,
            line_gone: false,
            tls_eof: false,
            read_wants_write: false,
            write_wants_read: false,
            tls_unread: false,
            closed_at: None,
        }
    }

    pub(super) fn tls(&self) -> &T {
        &self.tls
    }

    pub(super) fn line_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.line.fd()
    }

    pub(super) fn control_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.control.fd()
    }

    /// Feeds bytes read from TLS before the pump started (after the HTTP response).
    pub(super) fn start(&mut self, now: Instant, leftover: &[u8]) {
        if !leftover.is_empty() {
            self.counters.tls_bytes_in += leftover.len() as u64;
            self.client.handle_input(now, leftover);
        }
    }

    /// The client and the counters, once the pump is done.
    pub(super) fn finish(self) -> (Client, Counters) {
        (self.client, self.counters)
    }

    /// One iteration without poll(2), as if everything were ready: for a caller that drives
    /// the pump on virtual time. `Some` once the bridge has ended.
    pub fn step(&mut self, now: Instant) -> Option<BridgeEnd> {
        let interest = self.interest();
        if let Some(end) = self.input(now, &interest, Ready::ALL) {
            return Some(end);
        }
        self.service(now)
    }

    /// The earliest timer (client timers, the close flush limit).
    pub fn deadline(&self) -> Option<Instant> {
        let flush = self.closed_at.map(|t| t + CLOSE_FLUSH_LIMIT);
        match (self.client.poll_timeout(), flush) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The traffic counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub(super) fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
    }

    /// The transport (for a test driver).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.tls
    }

    fn log(&mut self, level: Level, message: impl Into<String>) {
        self.sink.event(BridgeEvent::Log {
            level,
            message: message.into(),
        });
    }

    /// What to poll for after [`Pump::service`].
    pub(super) fn interest(&self) -> Interest {
        let hw = self.opts.high_water;
        let backlog = self.line.backlog();
        let queued = self.client.pending_transmit().len();
        // TLS is not read while output to the server is backed up either: every ECHO_REQUEST
        // read may queue an answer, so a server that floods without reading gets TCP
        // back-pressure instead of our memory.
        let tls_read = self.write_wants_read
            || (backlog < hw && self.client.pending_ppp_bytes() < hw && queued < hw);
        Interest {
            tls_read,
            tls_write: queued > 0 || self.read_wants_write,
            line_read: !self.line_gone && queued < self.pacer.limit(),
            line_write: backlog > 0 && !self.line_gone,
            immediate: tls_read && (self.tls_unread || self.tls.buffered()),
            deadline: self.deadline(),
        }
    }

    /// Handles what poll reported (`interest`: what was asked for).
    pub(super) fn input(
        &mut self,
        now: Instant,
        interest: &Interest,
        ready: Ready,
    ) -> Option<BridgeEnd> {
        if ready.control {
            // Before reading the line: a data frame right after `Authenticated` must find the
            // call connected.
            self.commands(now);
        }
        let tls_ready =
            ready.tls_read || interest.immediate || (self.read_wants_write && ready.tls_write);
        if interest.tls_read && tls_ready {
            if let Err(e) = self.read_tls(now) {
                return Some(BridgeEnd::Error(e));
            }
        }
        if ready.line_read && interest.line_read {
            self.read_line(now);
        }
        None
    }

    /// Timers, events, output; `Some` once the bridge has ended.
    pub(super) fn service(&mut self, now: Instant) -> Option<BridgeEnd> {
        if self.client.poll_timeout().is_some_and(|t| now >= t) {
            self.report_delivery(now);
            self.client.handle_timeout(now);
        }
        self.emit_events();
        if let Err(e) = self.write_tls(now) {
            return Some(BridgeEnd::Error(e));
        }
        self.write_line(now);
        self.check_end(now)
    }

    fn commands(&mut self, now: Instant) {
        for cmd in self.control.drain() {
            match cmd {
                Command::Authenticated { hlak } => {
                    match self.client.authenticated(now, &hlak, &self.cert_der) {
                        Ok(()) => {
                            let hash = self.client.hash_protocol();
                            let hash = hash.map(|h| h.to_string()).unwrap_or_default();
                            let key = if hlak.is_zero() { "zero" } else { "keyed" };
                            self.log(
                                Level::Info,
                                format!(
                                    "sending CALL_CONNECTED (crypto binding {hash}, {key} HLAK)"
                                ),
                            );
                        }
                        Err(e) => self.log(Level::Warn, format!("cannot send CALL_CONNECTED: {e}")),
                    }
                }
                Command::Disconnect => {
                    self.log(Level::Info, "disconnect requested");
                    self.client.disconnect(now);
                }
            }
        }
    }

    fn emit_events(&mut self) {
        while let Some(ev) = self.client.poll_event() {
            self.sink.event(BridgeEvent::Session(ev));
        }
        if self.client.state() != self.last_state {
            self.last_state = self.client.state();
            self.sink.event(BridgeEvent::StateChanged(self.last_state));
        }
    }

    /// Tells the client how far the server has acknowledged our bytes (TCP_INFO).
    fn report_delivery(&mut self, now: Instant) {
        if let Some((acked, in_flight)) = self.tls.delivery() {
            self.client.transport_status(now, acked, in_flight);
        }
    }

    fn write_tls(&mut self, now: Instant) -> Result<(), TunnelError> {
        self.write_wants_read = false;
        while !self.client.pending_transmit().is_empty() {
            match self.tls.write(self.client.pending_transmit()) {
                Ok(TlsWrite::Wrote(n)) => {
                    self.counters.tls_bytes_out += n as u64;
                    self.client.consume_transmit(n);
                    let backlogged = !self.client.pending_transmit().is_empty();
                    self.pacer.on_drained(now, n, backlogged);
                }
                Ok(TlsWrite::WantWrite) => break,
                Ok(TlsWrite::WantRead) => {
                    self.write_wants_read = true;
                    break;
                }
                // The peer is gone after teardown; nothing more to deliver.
                Err(_) if self.client.is_closed() => self.client.consume_transmit(usize::MAX),
                Err(e) => return Err(TunnelError::io("writing to the server", e)),
            }
        }
        Ok(())
    }

    /// Frames for pppd, bounded by the line's back-pressure. Encodes and writes in rounds until
    /// the line would block or the client has nothing left: a round that drains the backlog
    /// completely must not leave frames queued in the client with nothing to wake poll(2).
    fn write_line(&mut self, now: Instant) {
        loop {
            if self.line_gone {
                // Nobody reads them; TLS must stay readable for the teardown.
                while self.client.next_ppp_frame().is_some() {}
                return;
            }
            let hw = self.opts.high_water;
            self.line.fill(&mut self.client, hw, &mut self.counters);
            match self.line.flush(&mut self.counters) {
                Ok(blocked) if blocked || self.client.pending_ppp_bytes() == 0 => return,
                Ok(_) => {}
                Err(h) => self.hang_up(now, h),
            }
        }
    }

    fn hang_up(&mut self, now: Instant, how: Hangup) {
        if self.line_gone {
            return;
        }
        self.line_gone = true;
        self.line.discard();
        match how {
            Hangup::Read => self.log(
                Level::Info,
                "pppd closed the line; disconnecting the SSTP call",
            ),
            Hangup::Write(e) => self.log(
                Level::Info,
                format!("pppd's side of the line is gone ({e})"),
            ),
        }
        self.client.disconnect(now);
    }

    fn check_end(&mut self, now: Instant) -> Option<BridgeEnd> {
        let closed = self.client.is_closed();
        if closed && self.closed_at.is_none() {
            self.closed_at = Some(now);
        }
        // After the call closed, the last packets get a bounded time to leave.
        let flush_expired = self
            .closed_at
            .is_some_and(|t| now.duration_since(t) >= CLOSE_FLUSH_LIMIT);
        let reason = self.client.close_reason().cloned();
        if closed && (self.client.pending_transmit().is_empty() || self.tls_eof || flush_expired) {
            return Some(BridgeEnd::Call(reason.unwrap_or(CloseReason::LocalAbort)));
        }
        if self.tls_eof {
            return Some(reason.map_or(BridgeEnd::TransportClosed, BridgeEnd::Call));
        }
        None
    }

    fn read_tls(&mut self, now: Instant) -> Result<(), TunnelError> {
        let hw = self.opts.high_water;
        self.read_wants_write = false;
        self.tls_unread = true;
        for _ in 0..TLS_READ_BATCH {
            match self.tls.read(&mut self.rbuf)? {
                TlsRead::Data(n) => {
                    self.counters.tls_bytes_in += n as u64;
                    self.client.handle_input(now, &self.rbuf[..n]);
                    if self.client.pending_ppp_bytes() >= hw
                        || self.client.pending_transmit().len() >= hw
                        || self.client.is_closed()
                    {
                        break;
                    }
                }
                TlsRead::WantRead => {
                    self.tls_unread = false;
                    break;
                }
                TlsRead::WantWrite => {
                    self.read_wants_write = true;
                    self.tls_unread = false;
                    break;
                }
                TlsRead::Eof => {
                    self.tls_eof = true;
                    self.tls_unread = false;
                    break;
                }
            }
        }
        // Once per read batch: a server that sends but has stopped reading shows up as
        // acknowledgements that no longer advance (our writes still land in the socket).
        self.report_delivery(now);
        Ok(())
    }

    fn read_line(&mut self, now: Instant) {
        let mut refused = Refusals::default();
        let limit = self.pacer.limit();
        self.line.bound_input(limit);
        let result = self.line.read(
            &mut self.client,
            limit,
            &mut self.rbuf,
            &mut self.counters,
            &mut refused,
        );
        if let Some(e) = refused.first {
            let level = if matches!(e, SendError::TooLong(_)) {
                Level::Warn
            } else {
                Level::Debug
            };
            let n = refused.count;
            self.log(level, format!("{n} PPP frame(s) from pppd not sent: {e}"));
        }
        if let Err(h) = result {
            self.hang_up(now, h);
        }
    }
}

/// The line's implementation, set non-blocking.
pub(super) fn open_line<'a>(
    line: Line,
    opts: &BridgeOptions,
) -> Result<Box<dyn PppLine + 'a>, BridgeEnd> {
    let nonblocking = |fd: &OwnedFd, what| {
        sys::set_nonblocking(fd.as_fd(), true)
            .map_err(|e| BridgeEnd::Error(TunnelError::io(what, e)))
    };
    Ok(match line {
        Line::Pty(fd) => {
            nonblocking(&fd, "making the pty non-blocking")?;
            Box::new(PtyLine::new(fd, opts))
        }
        Line::L2tp(l) => {
            nonblocking(&l.sock, "making the L2TP socket non-blocking")?;
            Box::new(L2tpIo::new(l))
        }
    })
}
