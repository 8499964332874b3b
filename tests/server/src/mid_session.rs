//! Mid-session fault modes acted out by the connection driver (the time counts from
//! CALL_CONNECTED): TCP reset, server CALL_DISCONNECT, an ECHO_REQUEST flood without reading, a
//! TLS record cut short, silence, and junk before CALL_CONNECT_ACK.

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use openssl::ssl::{ErrorCode, SslStream};
use sstp_proto::wire::{encode_data_packet, ControlMessage, MessageType};

use crate::conn::Log;
use crate::session::{EndReason, Session};
use crate::Fault;

/// How long the flood / the cut-short record keep the connection when the client stays.
const FAULT_HOLD: Duration = Duration::from_secs(120);

/// Acts out `fault` once the call has been up for its delay; `Some` ends the connection.
pub(crate) fn act(
    fault: Fault,
    connected_at: Option<Instant>,
    now: Instant,
    tls: &mut SslStream<TcpStream>,
    tcp: &TcpStream,
    session: &mut Session,
    log: &mut Log,
) -> Option<EndReason> {
    let (Some(delay), Some(t)) = (fault.mid_session_delay(), connected_at) else {
        return None;
    };
    if now.duration_since(t) < delay || session.is_closed() {
        return None;
    }
    log.line(format!("fault mode {fault} acts"));
    match fault {
        Fault::ResetMidSession(_) => {
            reset(tcp);
            Some(EndReason::Io(
                "fault reset-mid-session: TCP reset sent".into(),
            ))
        }
        Fault::DisconnectMidSession(_) => {
            session.disconnect(now);
            None
        }
        Fault::EchoFloodMidSession(_) => {
            let sent = flood(tls, session);
            log.line(format!("flood ended after {sent} ECHO_REQUESTs"));
            Some(EndReason::Io("fault echo-flood-mid-session".into()))
        }
        Fault::PartialRecordMidSession(_) => {
            partial_record(tcp);
            Some(EndReason::Io("fault partial-record-mid-session".into()))
        }
        Fault::SilentMidSession(_) => {
            discard_until_closed(tcp);
            Some(EndReason::Io("fault silent-mid-session".into()))
        }
        _ => None,
    }
}

/// Resets the connection now: SO_LINGER 0 (a later close(2) sends no FIN), then connect(2)
/// with AF_UNSPEC, which disconnects an established TCP socket with a RST.
fn reset(tcp: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: zero is a valid sockaddr; only its family is read for AF_UNSPEC.
    let mut unspec: libc::sockaddr = unsafe { std::mem::zeroed() };
    unspec.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: setsockopt with a valid linger struct and its size, connect with a valid sockaddr
    // and its size, both on our open socket.
    unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        libc::connect(
            tcp.as_raw_fd(),
            &unspec,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        );
    }
}

/// Writes ECHO_REQUESTs without ever reading until the client closes or [`FAULT_HOLD`] passes.
/// The session's own pending bytes go first so that the stream stays framed.
fn flood(tls: &mut SslStream<TcpStream>, session: &mut Session) -> u64 {
    let mut buf = session.pending_transmit().to_vec();
    let mut echo = Vec::new();
    let _ = ControlMessage::new(MessageType::EchoRequest).encode(&mut echo);
    let burst = echo.repeat(2048);
    let deadline = Instant::now() + FAULT_HOLD;
    let mut sent = 0u64;
    while Instant::now() < deadline {
        if buf.is_empty() {
            buf.extend_from_slice(&burst);
            sent += 2048;
        }
        match tls.ssl_write(&buf) {
            Ok(n) => {
                buf.drain(..n);
            }
            Err(e) if matches!(e.code(), ErrorCode::WANT_WRITE | ErrorCode::WANT_READ) => {
                if !wait_writable(tls.get_ref(), 500) {
                    return sent;
                }
            }
            Err(_) => return sent,
        }
    }
    sent
}

/// Waits for POLLOUT; false when the socket is gone (POLLHUP/POLLERR).
fn wait_writable(tcp: &TcpStream, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: tcp.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) };
    p.revents & (libc::POLLHUP | libc::POLLERR) == 0
}

/// Writes the head of a TLS application-data record announcing 16 KiB and 100 bytes of it,
/// then sends nothing more (no FIN) until the client closes or [`FAULT_HOLD`] passes.
fn partial_record(tcp: &TcpStream) {
    let mut head = vec![0x17, 0x03, 0x03, 0x40, 0x00];
    head.extend_from_slice(&[0x5a; 100]);
    let _ = (&*tcp).write_all(&head);
    discard_until_closed(tcp);
}

/// Reads and discards raw bytes (no answer, no FIN) until the client closes or [`FAULT_HOLD`]
/// passes.
fn discard_until_closed(tcp: &TcpStream) {
    crate::conn::discard_until(tcp, tcp, FAULT_HOLD);
}

/// 2 MB of SSTP data packets (IPv4 frames) interleaved with ECHO_REQUESTs: what a client must
/// drop (or answer once) while CALL_CONNECT_REQUEST is outstanding.
pub(crate) fn junk_before_connected() -> Vec<u8> {
    let mut frame = vec![0xFF, 0x03, 0x00, 0x21];
    frame.resize(1400, 0x45);
    let mut one = Vec::new();
    let _ = encode_data_packet(&frame, &mut one);
    let _ = ControlMessage::new(MessageType::EchoRequest).encode(&mut one);
    let mut out = Vec::with_capacity(2 << 20);
    while out.len() < 2 << 20 {
        out.extend_from_slice(&one);
    }
    out
}
