//! One connection: TLS accept, the HTTP exchange (with its fault modes), then the poll(2) loop
//! between TLS and the PPP peer around a [`Session`].
//!
//! Data path: TLS plaintext → `Session::handle_input` → each PPP frame HDLC-encoded straight
//! into the reusable pty output buffer; pty bytes → `hdlc::Decoder` (frames borrowed from its
//! buffer) → `Session::send_ppp_frame` encodes into the reusable TLS output buffer. No per-packet
//! allocation once the buffers have grown.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Child;
use std::time::{Duration, Instant};

use openssl::ssl::{ErrorCode, SslStream};
use sstp_proto::hdlc;
use sstp_tunnel::bridge::{BridgeOptions, Pacer};

use crate::request::{self, RequestError};
use crate::session::{EndReason, Session, SessionConfig, SessionEvent};
use crate::{connect_faults, mid_session, pty, Fault, Inner, Outcome, PppBackend, SessionReport};

/// Pending output above which the opposite input is not read.
const HIGH_WATER: usize = 256 * 1024;
/// Bytes per read.
const CHUNK: usize = 64 * 1024;
/// Most a pty master read returns (the kernel's N_TTY_BUF_SIZE).
const PTY_READ_MAX: usize = 4096;

pub(crate) struct Log {
    id: u64,
    start: Instant,
    verbose: bool,
    lines: Vec<String>,
}

impl Log {
    pub(crate) fn line(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        let t = self.start.elapsed().as_secs_f64();
        if self.verbose {
            eprintln!("sstp-test-server[{}] {t:8.3}s {msg}", self.id);
        }
        self.lines.push(format!("{t:.3}s {msg}"));
    }
}

struct Ppp {
    io: File,
    child: Option<Child>,
    decoder: hdlc::Decoder,
    encoder: hdlc::Encoder,
    /// Follows pppd's LCP so that frames to it escape only what its ACCM needs.
    accm: hdlc::AccmTracker,
    out: Vec<u8>,
    out_pos: usize,
    bytes_in: u64,
    bytes_out: u64,
    /// Frames from pppd dropped because the queue towards the client was full.
    dropped: u64,
}

enum Peer {
    None,
    Echo(Vec<u8>),
    Stream(Box<Ppp>),
}

pub(crate) fn run(inner: &Inner, id: u64, tcp: TcpStream) -> SessionReport {
    let start = Instant::now();
    let peer = tcp.peer_addr().ok();
    let mut log = Log {
        id,
        start,
        verbose: inner.cfg.verbose,
        lines: Vec::new(),
    };
    log.line(format!(
        "connection from {} (fault {})",
        peer.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
        inner.cfg.fault
    ));
    let mut report = SessionReport {
        id,
        peer,
        outcome: Outcome::Fault(Fault::None),
        request: None,
        binding: None,
        stats: Default::default(),
        ppp_bytes: (0, 0),
        ppp_exit: None,
        log: Vec::new(),
        duration: Duration::ZERO,
    };
    report.outcome = connection(inner, &tcp, &mut log, &mut report);
    log.line(format!("done: {}", report.outcome));
    let _ = tcp.shutdown(Shutdown::Both);
    report.log = log.lines;
    report.duration = start.elapsed();
    report
}

fn connection(
    inner: &Inner,
    tcp: &TcpStream,
    log: &mut Log,
    report: &mut SessionReport,
) -> Outcome {
    let cfg = &inner.cfg;
    let _ = tcp.set_nodelay(true);
    let Ok(tcp2) = tcp.try_clone() else {
        return Outcome::Tls("cannot clone the socket".into());
    };
    let _ = tcp.set_read_timeout(Some(cfg.timers.tls));
    let _ = tcp.set_write_timeout(Some(cfg.timers.tls));
    if let Some(done) = connect_faults::before_tls(inner, tcp, &mut |l| log.line(l)) {
        return done;
    }
    let mut tls = match inner.acceptor.accept(tcp2) {
        Ok(s) => s,
        Err(e) => {
            log.line(format!("TLS handshake failed: {e}"));
            return Outcome::Tls(e.to_string());
        }
    };
    log.line(format!(
        "TLS up: {} {}, SNI {:?}",
        tls.ssl().version_str(),
        tls.ssl().current_cipher().map(|c| c.name()).unwrap_or("?"),
        tls.ssl()
            .servername(openssl::ssl::NameType::HOST_NAME)
            .unwrap_or("-")
    ));
    if cfg.fault == Fault::CloseAfterTls {
        log.line("fault close-after-tls: closing the connection");
        let _ = tls.shutdown();
        return Outcome::Fault(Fault::CloseAfterTls);
    }

    // HTTP request.
    let (req, leftover) = match read_request(&mut tls, tcp, cfg.timers.http_request) {
        Ok(x) => x,
        Err(e) => {
            log.line(format!("HTTP request refused: {e}"));
            if let Some((status, reason)) = e.status() {
                let _ = tls.write_all(&request::status_response("HTTP/1.1", status, reason));
                let _ = tls.shutdown();
            }
            return Outcome::BadRequest(e);
        }
    };
    log.line(format!(
        "HTTP request: {} {} {} (Host {:?}, SSTPCORRELATIONID {:?})",
        req.method,
        req.uri,
        req.version,
        req.header("Host").unwrap_or("-"),
        req.header("SSTPCORRELATIONID").unwrap_or("-")
    ));
    for w in request::warnings(&req) {
        log.line(format!("request warning: {w}"));
    }
    report.request = Some(req);

    if let Some(done) =
        connect_faults::http_answer(cfg.fault, &mut tls, cfg.timers.hold, &mut |l| log.line(l))
    {
        return done;
    }
    let answer = match cfg.fault {
        Fault::NoHttpResponse => {
            log.line("fault no-http-response: never answering");
            hold(&mut tls, tcp, cfg.timers.hold);
            return Outcome::Fault(Fault::NoHttpResponse);
        }
        Fault::HttpNoVersion => Some(
            format!(
                "200 OK\r\nContent-Length: {}\r\n\r\n",
                sstp_proto::http::SSTP_CONTENT_LENGTH
            )
            .into_bytes(),
        ),
        Fault::Http10 => Some(
            format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                sstp_proto::http::SSTP_CONTENT_LENGTH
            )
            .into_bytes(),
        ),
        Fault::HttpStatus(s) => Some(request::status_response(
            "HTTP/1.1",
            s,
            request::reason_phrase(s),
        )),
        _ => None,
    };
    if let Some(bytes) = answer {
        log.line(format!(
            "fault {}: answering {:?}",
            cfg.fault,
            String::from_utf8_lossy(&bytes)
                .lines()
                .next()
                .unwrap_or_default()
        ));
        let _ = tls.write_all(&bytes);
        let _ = tls.flush();
        // Let the client read it before the close.
        hold(&mut tls, tcp, Duration::from_secs(5));
        return Outcome::Fault(cfg.fault);
    }
    if let Err(e) = tls.write_all(&request::ok_response()) {
        log.line(format!("cannot send the HTTP response: {e}"));
        return Outcome::Session(EndReason::Io(e.to_string()));
    }
    log.line("HTTP/1.1 200 sent");
    if cfg.fault == Fault::DataBeforeConnected {
        log.line("fault data-before-connected: 2 MB of data packets and echo requests");
        if let Err(e) = tls.write_all(&mid_session::junk_before_connected()) {
            log.line(format!("cannot send the junk: {e}"));
        }
    }

    // SSTP session.
    let mut nonce = [0u8; 32];
    if let Err(e) = openssl::rand::rand_bytes(&mut nonce) {
        log.line(format!("no random nonce: {e}"));
        return Outcome::Session(EndReason::Io(e.to_string()));
    }
    let t = &cfg.timers;
    let scfg = SessionConfig {
        hash_protocols: cfg.hash_protocols,
        negotiation_timeout: t.negotiation,
        hello_interval: t.hello,
        abort_timeout: t.abort,
        abort_linger: t.abort_linger,
        disconnect_timeout: t.disconnect,
        disconnect_linger: t.disconnect_linger,
        binding_cert_der: inner.binding_cert_der.clone(),
        verify_mac: cfg.verify_mac.clone(),
        server_keys_file: cfg.server_keys_file.clone(),
        fault: cfg.fault.session_fault(),
    };
    if cfg.fault == Fault::CertHashMismatch {
        log.line("fault cert-hash-mismatch: the binding is checked against another certificate");
    }
    let mut session = Session::new(scfg, nonce, Instant::now());
    let mut peer = Peer::None;
    let mut retired = None;
    let end = pump(
        inner,
        &mut tls,
        tcp,
        &mut session,
        &mut peer,
        &leftover,
        log,
        &mut retired,
    );
    report.binding = session.binding();
    report.stats = session.stats();
    retire(&mut peer, &mut retired);
    // Close the PPP side, reap pppd.
    if let Some(p) = retired {
        report.ppp_bytes = (p.bytes_in, p.bytes_out);
        if p.dropped > 0 {
            log.line(format!(
                "{} frame(s) from pppd dropped: the queue towards the client was full",
                p.dropped
            ));
        }
        let Ppp { io, child, .. } = *p;
        drop(io);
        if let Some(mut c) = child {
            let st = pty::reap(&mut c, Duration::from_secs(3));
            log.line(format!("PPP program ended: {st}"));
            report.ppp_exit = Some(st);
        }
    }
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_write_timeout(Some(Duration::from_millis(500)));
    let _ = tls.shutdown();
    Outcome::Session(end)
}

/// Reads the request head (bounded, byte-exact); returns it and any bytes after it.
fn read_request(
    tls: &mut SslStream<TcpStream>,
    tcp: &TcpStream,
    timeout: Duration,
) -> Result<(request::Request, Vec<u8>), RequestError> {
    let deadline = Instant::now() + timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = request::head_end(&buf) {
            let req = request::parse(&buf[..end])?;
            request::validate(&req)?;
            return Ok((req, buf[end..].to_vec()));
        }
        if buf.len() > request::MAX_REQUEST_HEAD {
            return Err(RequestError::TooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RequestError::Truncated {
                received: buf.len(),
            });
        }
        let _ = tcp.set_read_timeout(Some(left));
        match tls.read(&mut chunk) {
            Ok(0) => {
                return Err(RequestError::Truncated {
                    received: buf.len(),
                })
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                return Err(RequestError::Truncated {
                    received: buf.len(),
                })
            }
        }
    }
}

/// Keeps the connection open, discarding input, until the client closes or `max` passes.
fn hold(tls: &mut SslStream<TcpStream>, tcp: &TcpStream, max: Duration) {
    discard_until(tls, tcp, max);
}

/// Reads and discards from `from` (the TLS stream, or the raw TCP stream `tcp` itself) until
/// the client closes or `max` passes; `tcp` carries the read timeouts. Sends nothing, no FIN.
pub(crate) fn discard_until(mut from: impl Read, tcp: &TcpStream, max: Duration) {
    let _ = tcp.set_nonblocking(false);
    let deadline = Instant::now() + max;
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let _ = tcp.set_read_timeout(Some(left.min(Duration::from_millis(500))));
        match from.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

enum TlsIo {
    Data(usize),
    Want,
    Eof,
}

fn tls_read(tls: &mut SslStream<TcpStream>, buf: &mut [u8]) -> Result<TlsIo, String> {
    match tls.ssl_read(buf) {
        Ok(0) => Ok(TlsIo::Eof),
        Ok(n) => Ok(TlsIo::Data(n)),
        Err(e) => match e.code() {
            ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => Ok(TlsIo::Want),
            ErrorCode::ZERO_RETURN => Ok(TlsIo::Eof),
            ErrorCode::SYSCALL if e.io_error().is_none() => Ok(TlsIo::Eof),
            _ => match e.io_error().map(|i| i.kind()) {
                Some(io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Ok(TlsIo::Want),
                Some(io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof) => {
                    Ok(TlsIo::Eof)
                }
                _ if e.to_string().contains("unexpected eof") => Ok(TlsIo::Eof),
                _ => Err(e.to_string()),
            },
        },
    }
}

/// Bytes written, or `None` when the socket would block.
fn tls_write(tls: &mut SslStream<TcpStream>, buf: &[u8]) -> Result<Option<usize>, String> {
    match tls.ssl_write(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e) => match e.code() {
            ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => Ok(None),
            _ => match e.io_error().map(|i| i.kind()) {
                Some(io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Ok(None),
                _ => Err(e.to_string()),
            },
        },
    }
}

fn start_peer(inner: &Inner, id: u64, log: &mut Log) -> Peer {
    let stream = |io: File, child: Option<Child>| {
        Peer::Stream(Box::new(Ppp {
            io,
            child,
            decoder: hdlc::Decoder::default(),
            // Escape all control characters: safe before and after LCP sets the ACCM.
            encoder: hdlc::Encoder::default(),
            accm: hdlc::AccmTracker::new(),
            out: Vec::with_capacity(CHUNK),
            out_pos: 0,
            bytes_in: 0,
            bytes_out: 0,
            dropped: 0,
        }))
    };
    match &inner.cfg.ppp {
        PppBackend::None => {
            log.line("no PPP peer: frames from the client are dropped");
            Peer::None
        }
        PppBackend::Echo => {
            log.line("echo PPP peer: frames are sent back");
            Peer::Echo(Vec::with_capacity(CHUNK))
        }
        PppBackend::Command { program, args } => match pty::spawn_on_pty(program, args, id) {
            Ok((child, master, path)) => {
                log.line(format!(
                    "spawned {program} {} on {} (pid {})",
                    args.join(" "),
                    path.display(),
                    child.id()
                ));
                if let Err(e) = pty::set_nonblocking(&master) {
                    log.line(format!("cannot make the pty non-blocking: {e}"));
                }
                stream(master, Some(child))
            }
            Err(e) => {
                log.line(format!("cannot spawn {program}: {e}"));
                Peer::None
            }
        },
        PppBackend::Custom(f) => match f(id) {
            Ok(fd) => {
                let fd: OwnedFd = fd;
                let file = File::from(fd);
                if let Err(e) = pty::set_nonblocking(&file) {
                    log.line(format!("cannot make the PPP stream non-blocking: {e}"));
                }
                log.line("in-process PPP peer attached");
                stream(file, None)
            }
            Err(e) => {
                log.line(format!("in-process PPP peer failed: {e}"));
                Peer::None
            }
        },
    }
}

fn poll2(fds: &mut [libc::pollfd; 2], n: usize, timeout_ms: i32) -> io::Result<()> {
    // SAFETY: `fds` points to `n` (≤ 2) initialised pollfd structs.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn pump(
    inner: &Inner,
    tls: &mut SslStream<TcpStream>,
    tcp: &TcpStream,
    session: &mut Session,
    peer: &mut Peer,
    leftover: &[u8],
    log: &mut Log,
    retired: &mut Option<Box<Ppp>>,
) -> EndReason {
    if let Err(e) = tcp.set_nonblocking(true) {
        return EndReason::Io(e.to_string());
    }
    // `paced`: the client's pacing policy for what the server queues towards it, so that a
    // download's latency is the client's and the link's, not a 256 KiB server queue's.
    let paced = inner.cfg.paced;
    let o = BridgeOptions::default();
    if paced {
        let _ = sstp_tunnel::set_notsent_lowat(tcp.as_fd(), o.notsent_lowat);
    }
    let mut pacer = Pacer::new(o.pacing_target, o.pacing_floor, o.high_water);
    let limit = |p: &Pacer| if paced { p.limit() } else { HIGH_WATER };
    let mut rbuf = vec![0u8; CHUNK];
    if !leftover.is_empty() {
        deliver(session, peer, Instant::now(), leftover);
    }
    let mut tls_dead = false;
    // OpenSSL may hold input poll cannot see (read-ahead buffer, or a record left when the
    // loop below stopped at HIGH_WATER): read before polling while this is set.
    let mut tls_unread = true;
    let mut closed_at: Option<Instant> = None;
    let mut connected_at: Option<Instant> = None;
    // One clock read per iteration, after poll (each is a system call in the UML bed).
    let mut now = Instant::now();
    loop {
        // Events.
        while let Some(ev) = session.poll_event() {
            log.line(ev.to_string());
            if let SessionEvent::Acknowledged { .. } = ev {
                *peer = start_peer(inner, log.id, log);
            }
            if let SessionEvent::CallConnected(_) = ev {
                connected_at = Some(now);
            }
        }
        if let Some(end) =
            mid_session::act(inner.cfg.fault, connected_at, now, tls, tcp, session, log)
        {
            return end;
        }
        // Echo peer: frames collected during input go back out.
        if let Peer::Echo(q) = peer {
            let mut i = 0;
            while i + 2 <= q.len() {
                let len = u16::from_be_bytes([q[i], q[i + 1]]) as usize;
                let end = (i + 2 + len).min(q.len());
                session.send_ppp_frame(&q[i + 2..end]);
                i = end;
            }
            q.clear();
        }
        // Flush TLS.
        while !tls_dead && !session.pending_transmit().is_empty() {
            let pending = session.pending_transmit();
            let n = pending.len().min(16 * 1024);
            match tls_write(tls, &pending[..n]) {
                Ok(Some(w)) => {
                    session.consume_transmit(w);
                    if paced {
                        pacer.on_drained(now, w, !session.pending_transmit().is_empty());
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tls_dead = true;
                    session.transport_closed(EndReason::Io(format!("TLS write: {e}")));
                }
            }
        }
        // Flush PPP.
        let mut ppp_ended = false;
        if let Peer::Stream(p) = peer {
            while p.out_pos < p.out.len() {
                match p.io.write(&p.out[p.out_pos..]) {
                    Ok(0) => {
                        ppp_ended = true;
                        break;
                    }
                    Ok(n) => {
                        let short = n < p.out.len() - p.out_pos;
                        p.out_pos += n;
                        p.bytes_out += n as u64;
                        // The pty took what it had room for: wait for POLLOUT (the kernel
                        // signals it once the line discipline has consumed most of it) instead
                        // of a train of small writes.
                        if short {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        ppp_ended = true;
                        break;
                    }
                }
            }
            if p.out_pos == p.out.len() {
                p.out.clear();
                p.out_pos = 0;
            }
        }
        if ppp_ended {
            log.line("PPP peer closed");
            retire(peer, retired);
            session.disconnect(now);
            continue;
        }
        if session.is_closed() {
            let t = *closed_at.get_or_insert(now);
            if tls_dead
                || session.pending_transmit().is_empty()
                || now.duration_since(t) > Duration::from_secs(2)
            {
                while let Some(ev) = session.poll_event() {
                    log.line(ev.to_string());
                }
                return session
                    .end_reason()
                    .cloned()
                    .unwrap_or(EndReason::TransportClosed);
            }
        }

        // Poll.
        let tls_backlog = session.pending_transmit().len();
        let ppp_backlog = match peer {
            Peer::Stream(p) => p.out.len() - p.out_pos,
            _ => 0,
        };
        let mut fds = [
            libc::pollfd {
                fd: tcp.as_raw_fd(),
                events: 0,
                revents: 0,
            },
            libc::pollfd {
                fd: -1,
                events: 0,
                revents: 0,
            },
        ];
        let read_tls = ppp_backlog < HIGH_WATER && !session.is_closed();
        if read_tls {
            fds[0].events |= libc::POLLIN;
        }
        if tls_backlog > 0 {
            fds[0].events |= libc::POLLOUT;
        }
        let mut nfds = 1;
        if let Peer::Stream(p) = peer {
            fds[1].fd = p.io.as_raw_fd();
            // Paced: read pppd eagerly, a full queue towards the client drops frames (below),
            // as a router's queue does, instead of leaving them in the pty, where a bulk
            // download would stand up to the tty buffer's 64 KiB in front of every interactive
            // packet. Else back-pressure: pppd waits.
            if (paced || tls_backlog < HIGH_WATER) && session.ppp_open() {
                fds[1].events |= libc::POLLIN;
            }
            if ppp_backlog > 0 {
                fds[1].events |= libc::POLLOUT;
            }
            nfds = 2;
        }
        // Buffered TLS input does not show up in poll.
        let ssl_pending = read_tls && (tls_unread || tls.ssl().pending() > 0);
        let timeout_ms = if ssl_pending {
            0
        } else {
            let mut until = session.poll_timeout();
            if let Some(t) = closed_at {
                let lim = t + Duration::from_secs(2);
                until = Some(until.map_or(lim, |u| u.min(lim)));
            }
            match until {
                None => 1000,
                Some(u) => {
                    let d = u.saturating_duration_since(now);
                    (d.as_millis().min(1000) as i32).max(if d.is_zero() { 0 } else { 1 })
                }
            }
        };
        if let Err(e) = poll2(&mut fds, nfds, timeout_ms) {
            session.transport_closed(EndReason::Io(format!("poll: {e}")));
            continue;
        }
        now = Instant::now();

        // TLS input.
        if read_tls && (ssl_pending || fds[0].revents != 0) {
            loop {
                match tls_read(tls, &mut rbuf) {
                    Ok(TlsIo::Data(n)) => {
                        deliver(session, peer, now, &rbuf[..n]);
                        let backlog = match peer {
                            Peer::Stream(p) => p.out.len() - p.out_pos,
                            _ => 0,
                        };
                        if backlog >= HIGH_WATER || session.is_closed() {
                            tls_unread = true;
                            break;
                        }
                    }
                    Ok(TlsIo::Want) => {
                        tls_unread = false;
                        break;
                    }
                    Ok(TlsIo::Eof) => {
                        tls_dead = true;
                        session.transport_closed(EndReason::TransportClosed);
                        break;
                    }
                    Err(e) => {
                        tls_dead = true;
                        session.transport_closed(EndReason::Io(format!("TLS read: {e}")));
                        break;
                    }
                }
            }
        }
        // PPP input.
        let mut ppp_closed = false;
        if let Peer::Stream(p) = peer {
            // Drain the pty (at most 4 KiB per read) into one TLS flush of up to CHUNK bytes:
            // one read as before, more while the output stays below CHUNK.
            let mut first = true;
            while fds[1].revents != 0
                && session.ppp_open()
                && (first || session.pending_transmit().len() < CHUNK.min(limit(&pacer)))
            {
                first = false;
                match p.io.read(&mut rbuf) {
                    Ok(0) => {
                        ppp_closed = true;
                        break;
                    }
                    Ok(n) => {
                        p.bytes_in += n as u64;
                        let mut input = &rbuf[..n];
                        let Ppp {
                            decoder,
                            encoder,
                            accm,
                            dropped,
                            ..
                        } = &mut **p;
                        while let Some(frame) = decoder.next_frame(&mut input) {
                            if let Some(a) = accm.from_pppd(frame) {
                                encoder.set_accm(a);
                            }
                            if paced && session.pending_transmit().len() >= pacer.limit() {
                                *dropped += 1;
                                continue;
                            }
                            session.send_ppp_frame(frame);
                        }
                        // A short read emptied the pty's 4 KiB line buffer: no EAGAIN read.
                        if n < PTY_READ_MAX {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // EIO: the pty slave was closed (pppd exited).
                    Err(_) => {
                        ppp_closed = true;
                        break;
                    }
                }
            }
            if fds[1].revents & (libc::POLLHUP | libc::POLLERR) != 0
                && fds[1].events & libc::POLLIN == 0
            {
                ppp_closed = true;
            }
        }
        if ppp_closed {
            log.line("PPP peer closed (pppd exited?): disconnecting");
            retire(peer, retired);
            session.disconnect(now);
        }
        // Timers.
        if session.poll_timeout().is_some_and(|t| t <= now) {
            session.handle_timeout(now);
        }
    }
}

/// Detaches a closed PPP stream (its child is reaped at the end).
fn retire(peer: &mut Peer, retired: &mut Option<Box<Ppp>>) {
    if let Peer::Stream(p) = std::mem::replace(peer, Peer::None) {
        *retired = Some(p);
    }
}

/// Feeds TLS plaintext to the session; frames go to the PPP peer.
fn deliver(session: &mut Session, peer: &mut Peer, now: Instant, bytes: &[u8]) {
    match peer {
        Peer::None => session.handle_input(now, bytes, &mut |_| {}),
        Peer::Echo(q) => session.handle_input(now, bytes, &mut |f| {
            q.extend_from_slice(&(f.len() as u16).to_be_bytes());
            q.extend_from_slice(f);
        }),
        Peer::Stream(p) => {
            let Ppp {
                encoder, out, accm, ..
            } = &mut **p;
            session.handle_input(now, bytes, &mut |f| {
                if let Some(a) = accm.to_pppd(f) {
                    encoder.set_accm(a);
                }
                encoder.encode(f, out)
            });
        }
    }
}
