//! Connect-phase fault modes: a silent peer, a TLS handshake dripped one byte per second, header
//! lines that never end, a proxy whose 407 body never ends, a slow but working server. Each
//! ends when the client gives up (a write fails or the client closes) or after `hold`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;

use crate::{Fault, Inner, Outcome};

/// Pause between two drops of a dripping fault.
const DRIP_PAUSE: Duration = Duration::from_millis(500);

/// Faults that act before (or instead of) the TLS handshake. `None`: go on normally.
pub(crate) fn before_tls(
    inner: &Inner,
    tcp: &TcpStream,
    log: &mut dyn FnMut(String),
) -> Option<Outcome> {
    let hold = inner.cfg.timers.hold;
    match inner.cfg.fault {
        Fault::TcpSilent => {
            log("fault tcp-silent: accepted, never answering".into());
            discard(tcp, hold);
        }
        Fault::Proxy407EndlessBody => proxy_407(tcp, hold, log),
        Fault::TlsDrip => {
            log("fault tls-drip: sending the TLS handshake one byte per second".into());
            let Ok(clone) = tcp.try_clone() else {
                return Some(Outcome::Tls("cannot clone the socket".into()));
            };
            let r = inner.acceptor.accept(Drip {
                tcp: clone,
                until: Instant::now() + hold,
            });
            let sent = match &r {
                Ok(_) => "completed".to_owned(),
                Err(e) => format!("ended: {e}"),
            };
            log(format!("fault tls-drip: handshake {sent}"));
        }
        Fault::SlowConnect(d) => {
            log(format!(
                "fault slow-connect: waiting {d:?} before the TLS handshake"
            ));
            std::thread::sleep(d);
            return None;
        }
        _ => return None,
    }
    Some(Outcome::Fault(inner.cfg.fault))
}

/// Faults that replace or delay the HTTP answer. `None`: answer normally.
pub(crate) fn http_answer(
    fault: Fault,
    tls: &mut SslStream<TcpStream>,
    hold: Duration,
    log: &mut dyn FnMut(String),
) -> Option<Outcome> {
    match fault {
        Fault::HttpEndlessHeaders => {
            log("fault http-endless-headers: status line, then header lines forever".into());
            let until = Instant::now() + hold;
            let mut n = 0u64;
            let mut chunk = b"HTTP/1.1 200 OK\r\n".to_vec();
            while Instant::now() < until && tls.write_all(&chunk).is_ok() && tls.flush().is_ok() {
                n += 1;
                chunk = format!("X-Endless-{n}: the head never ends\r\n").into_bytes();
                std::thread::sleep(DRIP_PAUSE);
            }
            log(format!(
                "fault http-endless-headers: stopped after {n} lines"
            ));
            Some(Outcome::Fault(fault))
        }
        Fault::SlowConnect(d) => {
            log(format!(
                "fault slow-connect: waiting {d:?} before the HTTP answer"
            ));
            std::thread::sleep(d);
            None
        }
        _ => None,
    }
}

/// Reads and discards until the peer closes or `hold` passes.
fn discard(tcp: &TcpStream, hold: Duration) {
    crate::conn::discard_until(tcp, tcp, hold);
}

/// A plaintext HTTP proxy that answers each CONNECT with a 407 whose body never ends.
fn proxy_407(mut tcp: &TcpStream, hold: Duration, log: &mut dyn FnMut(String)) {
    let until = Instant::now() + hold;
    let _ = tcp.set_read_timeout(Some(hold));
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match tcp.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    let first = String::from_utf8_lossy(&head);
    log(format!(
        "fault proxy-407-endless-body: {:?}: 407 with a body that never ends",
        first.lines().next().unwrap_or_default()
    ));
    let answer = "HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"sstp-endless\"\r\n\
                  Content-Length: 1048576\r\n\r\n";
    let mut sent = 0usize;
    let mut chunk = answer.as_bytes();
    while Instant::now() < until && tcp.write_all(chunk).is_ok() {
        sent += chunk.len();
        chunk = b"0123456789abcdef";
        std::thread::sleep(DRIP_PAUSE);
    }
    log(format!(
        "fault proxy-407-endless-body: stopped after {sent} bytes"
    ));
}

/// Writes one byte per second (reads pass through).
#[derive(Debug)]
struct Drip {
    tcp: TcpStream,
    until: Instant,
}

impl Read for Drip {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for Drip {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if Instant::now() >= self.until {
            return Err(io::ErrorKind::TimedOut.into());
        }
        std::thread::sleep(Duration::from_secs(1));
        self.tcp.write(&buf[..1])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}
