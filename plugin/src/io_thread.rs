//! The SSTP data path: the Call Connect Request/Ack exchange (blocking, on pppd's main thread,
//! bounded) and the I/O thread that pumps SSTP data packets <-> async HDLC on the pty master.
//!
//! The I/O thread never calls pppd. It reports through [`Shared`] (log lines, the final
//! failure) and takes [`Command`]s (HLAK after auth-up, disconnect) woken by a pipe.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;
use sstp_proto::client::{Client, CloseReason, Event, SendError};
use sstp_proto::HashProtocol;

use crate::diag;
use crate::hdlc;
use crate::host::{ExitStatus, Level};
use crate::queue::{Command, Shared};
use crate::settings::LogLevel;

/// TLS stream type from sstp-tunnel.
pub type Tls = SslStream<TcpStream>;

/// Upper bound on bytes waiting for the pty before TLS reads pause (back-pressure).
const PTY_OUT_LIMIT: usize = 256 * 1024;
/// Upper bound on SSTP bytes waiting for TLS before pty reads pause.
const TLS_OUT_LIMIT: usize = 256 * 1024;
/// Largest PPP frame accepted from pppd (an SSTP data packet carries at most 4091 bytes).
const MAX_FRAME: usize = 4096;

/// Outcome of the Connect Request/Ack exchange.
pub struct Negotiated {
    /// Hash protocol chosen for the crypto binding.
    pub chosen: HashProtocol,
}

/// Runs CALL_CONNECT_REQUEST -> CALL_CONNECT_ACK on the blocking stream, bounded by the
/// client's negotiation timer and `limit`. Returns the error text and exit status on failure.
pub fn negotiate(
    tls: &mut Tls,
    client: &mut Client,
    leftover: &[u8],
    limit: Duration,
) -> Result<Negotiated, (ExitStatus, String)> {
    let start = Instant::now();
    let deadline = start + limit;
    if !leftover.is_empty() {
        client.handle_input(start, leftover);
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let now = Instant::now();
        // Flush what the client wants to send (the request, retries after a NAK, an abort).
        while !client.pending_transmit().is_empty() {
            let n = tls.write(client.pending_transmit()).map_err(|e| {
                (
                    ExitStatus::ConnectFailed,
                    format!("SSTP negotiation: TLS write failed: {e}"),
                )
            })?;
            if n == 0 {
                return Err((
                    ExitStatus::ConnectFailed,
                    "SSTP negotiation: TLS connection closed".into(),
                ));
            }
            client.consume_transmit(n);
        }
        let _ = tls.flush();
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::ConnectAcknowledged { chosen, .. } => return Ok(Negotiated { chosen }),
                Event::Closed(reason) => {
                    return Err((
                        diag::exit_for_close(&reason, None)
                            .unwrap_or(ExitStatus::NegotiationFailed),
                        format!("SSTP negotiation failed: {reason}"),
                    ))
                }
                _ => {}
            }
        }
        if now >= deadline {
            return Err((
                ExitStatus::NegotiationFailed,
                format!(
                    "SSTP negotiation failed: no CALL_CONNECT_ACK within {} s; the server accepted \
                     HTTPS but does not answer SSTP",
                    limit.as_secs()
                ),
            ));
        }
        if let Some(t) = client.poll_timeout() {
            if now >= t {
                client.handle_timeout(now);
                continue;
            }
        }
        let wait = client
            .poll_timeout()
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or(Duration::from_secs(1))
            .min(deadline.saturating_duration_since(now))
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        tls.get_ref()
            .set_read_timeout(Some(wait))
            .map_err(|e| (ExitStatus::ConnectFailed, format!("socket: {e}")))?;
        match tls.read(&mut buf) {
            Ok(0) => {
                return Err((
                    ExitStatus::NegotiationFailed,
                    "SSTP negotiation failed: the server closed the connection before \
                     CALL_CONNECT_ACK"
                        .into(),
                ))
            }
            Ok(n) => client.handle_input(Instant::now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                return Err((
                    ExitStatus::NegotiationFailed,
                    format!("SSTP negotiation failed: TLS read: {e}"),
                ))
            }
        }
    }
}

/// Everything the I/O thread owns.
pub struct IoThread {
    /// The TLS connection (switched to non-blocking by the thread).
    pub tls: Tls,
    /// The SSTP client, past CALL_CONNECT_ACK.
    pub client: Client,
    /// DER of the server's leaf certificate (crypto binding).
    pub cert_der: Vec<u8>,
    /// pty master (owned; closed when the thread ends).
    pub master: RawFd,
    /// Read end of the wake-up pipe (owned).
    pub wake_rd: RawFd,
    /// Shared with the main thread.
    pub shared: Arc<Shared>,
    /// Plugin verbosity.
    pub log_level: LogLevel,
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl IoThread {
    fn log(&self, level: LogLevel, lvl: Level, msg: impl Into<String>) {
        if self.log_level >= level {
            self.shared.log(lvl, msg);
        }
    }

    /// The thread body. Never panics on hostile input (errors end the call with a message).
    pub fn run(mut self) {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.pump()));
        if r.is_err() {
            self.shared.log(
                Level::Error,
                format!(
                    "sstp-rs: internal error in the I/O thread: {}",
                    crate::guard::last_panic_message()
                ),
            );
            self.shared.set_failure(
                ExitStatus::FatalError,
                "internal error in the I/O thread".into(),
            );
        }
        // Closing the master hangs up pppd's side of the pty ("Modem hangup").
        // SAFETY: closing fds this thread owns; the TLS socket closes when `self` drops.
        unsafe {
            libc::close(self.master);
            libc::close(self.wake_rd);
        }
        self.shared.finished.store(true, Ordering::SeqCst);
    }

    fn pump(&mut self) {
        crate::guard::fault_point("io-thread");
        let sock = self.tls.get_ref().as_raw_fd();
        if let Err(e) = set_nonblocking(sock)
            .and_then(|_| set_nonblocking(self.master))
            .and_then(|_| set_nonblocking(self.wake_rd))
        {
            self.shared
                .set_failure(ExitStatus::FatalError, format!("I/O setup: {e}"));
            return;
        }
        let mut decoder = hdlc::Decoder::new(MAX_FRAME);
        let mut pty_out: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut pty_off = 0usize;
        let mut rbuf = vec![0u8; 32 * 1024];
        let mut frame = Vec::with_capacity(MAX_FRAME);
        let mut connected_at: Option<Instant> = None;
        let mut tls_eof = false;
        let mut pty_gone = false;
        let mut too_long_logged = false;

        loop {
            let now = Instant::now();
            // 1. Commands from the main thread.
            for c in self.shared.take_commands() {
                match c {
                    Command::Authenticated(hlak) => {
                        match self.client.authenticated(now, &hlak, &self.cert_der) {
                            Ok(()) => {}
                            Err(e) => self.log(
                                LogLevel::WARN,
                                Level::Warn,
                                format!("sstp-rs: CALL_CONNECTED not sent: {e}"),
                            ),
                        }
                    }
                    Command::Disconnect => self.client.disconnect(now),
                    Command::Stop => return,
                }
            }
            // 2. Timers.
            if let Some(t) = self.client.poll_timeout() {
                if now >= t {
                    self.client.handle_timeout(now);
                }
            }
            // 3. Frames for pppd.
            while let Some(f) = self.client.next_ppp_frame() {
                if !pty_gone {
                    hdlc::encode(f, &mut pty_out);
                }
            }
            // 4. Events.
            while let Some(ev) = self.client.poll_event() {
                match ev {
                    Event::CallConnected { protocol } => {
                        connected_at = Some(now);
                        self.log(
                            LogLevel::NOTICE,
                            Level::Notice,
                            format!("sstp-rs: SSTP call connected (crypto binding {protocol})"),
                        );
                    }
                    Event::EchoRequestReceived => self.log(
                        LogLevel::DEBUG,
                        Level::Debug,
                        "sstp-rs: echo request answered",
                    ),
                    Event::Closing(r) => self.log(
                        LogLevel::INFO,
                        Level::Info,
                        format!("sstp-rs: closing: {r}"),
                    ),
                    Event::Closed(r) => self.record_close(&r, connected_at.map(|t| now - t)),
                    _ => {}
                }
            }
            // 5. Write to TLS.
            let mut tls_want_write = false;
            while !self.client.pending_transmit().is_empty() && !tls_eof {
                match self.tls.write(self.client.pending_transmit()) {
                    Ok(0) => {
                        tls_eof = true;
                    }
                    Ok(n) => self.client.consume_transmit(n),
                    Err(e) if would_block(&e) => {
                        tls_want_write = true;
                        break;
                    }
                    Err(e) => {
                        self.fail_io(format!("TLS write failed: {e}"));
                        tls_eof = true;
                    }
                }
            }
            // 6. Write to the pty.
            while pty_off < pty_out.len() && !pty_gone {
                // SAFETY: writing from a valid slice to our fd.
                let n = unsafe {
                    libc::write(
                        self.master,
                        pty_out[pty_off..].as_ptr().cast(),
                        pty_out.len() - pty_off,
                    )
                };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if !would_block(&e) {
                        pty_gone = true;
                    }
                    break;
                }
                pty_off += n as usize;
            }
            if pty_off == pty_out.len() {
                pty_out.clear();
                pty_off = 0;
            } else if pty_off > 64 * 1024 {
                pty_out.drain(..pty_off);
                pty_off = 0;
            }
            if pty_gone {
                pty_out.clear();
                pty_off = 0;
            }
            // 7. Done?
            if self.client.is_closed() && self.client.pending_transmit().is_empty() {
                self.finish_tls();
                return;
            }
            if tls_eof {
                if !self.client.is_closed() {
                    self.fail_io(
                        "the server closed the TLS connection without CALL_DISCONNECT".to_string(),
                    );
                }
                return;
            }
            if pty_gone && self.client.state().is_active() {
                // pppd closed its side without telling us (e.g. it exited): say goodbye.
                self.client.disconnect(now);
                continue;
            }

            // 8. Wait.
            let pty_backlog = pty_out.len() - pty_off;
            let tls_backlog = self.client.pending_transmit().len();
            let mut fds = [
                libc::pollfd {
                    fd: sock,
                    events: 0,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.master,
                    events: 0,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.wake_rd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            if pty_backlog < PTY_OUT_LIMIT {
                fds[0].events |= libc::POLLIN;
            }
            if tls_want_write {
                fds[0].events |= libc::POLLOUT;
            }
            if !pty_gone {
                if tls_backlog < TLS_OUT_LIMIT && self.client.state().is_active() {
                    fds[1].events |= libc::POLLIN;
                }
                if pty_backlog > 0 {
                    fds[1].events |= libc::POLLOUT;
                }
            } else {
                fds[1].fd = -1;
            }
            // OpenSSL may hold decrypted bytes already: do not sleep on the socket then.
            let buffered = self.tls.ssl().pending() > 0;
            let timeout_ms = if buffered {
                0
            } else {
                self.client
                    .poll_timeout()
                    .map(|t| {
                        t.saturating_duration_since(Instant::now())
                            .as_millis()
                            .min(1000) as i32
                    })
                    .unwrap_or(1000)
            };
            // SAFETY: three valid pollfds.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    self.fail_io(format!("poll: {e}"));
                    return;
                }
                continue;
            }
            let now = Instant::now();
            // Wake-up pipe: drain it.
            if fds[2].revents & libc::POLLIN != 0 {
                let mut b = [0u8; 64];
                loop {
                    // SAFETY: valid buffer, our fd.
                    let n = unsafe { libc::read(self.wake_rd, b.as_mut_ptr().cast(), b.len()) };
                    if n == 0 {
                        return; // main thread gone (write end closed): stop
                    }
                    if n < 0 {
                        break;
                    }
                }
            }
            // TLS readable (or buffered).
            if buffered || fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                for _ in 0..64 {
                    match self.tls.read(&mut rbuf) {
                        Ok(0) => {
                            tls_eof = true;
                            break;
                        }
                        Ok(n) => self.client.handle_input(now, &rbuf[..n]),
                        Err(e) if would_block(&e) => break,
                        Err(e) => {
                            if !self.client.is_closed() {
                                self.fail_io(format!("TLS read failed: {e}"));
                            }
                            tls_eof = true;
                            break;
                        }
                    }
                }
            }
            // pty readable: frames from pppd.
            if !pty_gone && fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                // SAFETY: valid buffer, our fd.
                let n = unsafe { libc::read(self.master, rbuf.as_mut_ptr().cast(), rbuf.len()) };
                if n > 0 {
                    let client = &mut self.client;
                    let shared = &self.shared;
                    let level = self.log_level;
                    decoder.feed(&rbuf[..n as usize], |f| {
                        frame.clear();
                        frame.extend_from_slice(f);
                        match client.send_ppp_frame(&frame) {
                            Ok(()) | Err(SendError::Closed) => {}
                            Err(e) => {
                                if !too_long_logged && level >= LogLevel::WARN {
                                    shared.log(
                                        Level::Warn,
                                        format!("sstp-rs: dropped a PPP frame: {e}"),
                                    );
                                    too_long_logged = true;
                                }
                            }
                        }
                    });
                } else if n == 0 {
                    pty_gone = true;
                } else {
                    let e = io::Error::last_os_error();
                    if !would_block(&e) {
                        // EIO: pppd closed the slave.
                        pty_gone = true;
                    }
                }
            }
        }
    }

    fn record_close(&self, r: &CloseReason, since: Option<Duration>) {
        match diag::exit_for_close(r, since) {
            Some(status) => {
                let mut msg = format!("sstp-rs: {r}");
                if diag::looks_like_binding_reject(r, since) {
                    msg.push_str(" [crypto binding rejected by the server]");
                }
                self.shared.log(Level::Error, msg.clone());
                self.shared.set_failure(status, msg);
            }
            None => self.log(LogLevel::NOTICE, Level::Notice, format!("sstp-rs: {r}")),
        }
    }

    fn fail_io(&self, what: String) {
        let msg = format!("sstp-rs: connection to the server lost: {what}");
        self.shared.log(Level::Error, msg.clone());
        self.shared.set_failure(ExitStatus::Hangup, msg);
    }

    /// TLS close_notify, best effort and bounded.
    fn finish_tls(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(500);
        let sock = self.tls.get_ref().as_raw_fd();
        while Instant::now() < deadline {
            match self.tls.shutdown() {
                Ok(_) => break,
                Err(e)
                    if e.code() == openssl::ssl::ErrorCode::WANT_READ
                        || e.code() == openssl::ssl::ErrorCode::WANT_WRITE =>
                {
                    let mut p = libc::pollfd {
                        fd: sock,
                        events: libc::POLLIN | libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut p, 1, 50) };
                }
                Err(_) => break,
            }
        }
    }
}
