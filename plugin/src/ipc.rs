//! `sstp-ipc-fd N`: hands the IP/DNS configuration to another process (the NetworkManager
//! service in a later issue).
//!
//! The wire format is defined once, in [`sstp_tunnel::ipc`]; this module builds the messages.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags};

use crate::host;

pub use sstp_tunnel::ipc::{decode, encode, DecodeError, MAX_RECORD};

/// The IPv4 message written at ip-up.
pub fn ip4_records(
    ifname: &str,
    server: &str,
    local: u32,
    peer: u32,
    dns: [u32; 2],
) -> Vec<(&'static str, String)> {
    let ip = |n: u32| Ipv4Addr::from(u32::from_be(n)).to_string();
    let mut r = vec![
        ("event", "ip-up".to_owned()),
        ("ifname", ifname.to_owned()),
        ("server", server.to_owned()),
        ("ip4.local", ip(local)),
        ("ip4.peer", ip(peer)),
    ];
    // pppd repeats the primary when the peer offered one server only: report each once.
    let mut seen = Vec::with_capacity(2);
    for d in dns.into_iter().filter(|d| *d != 0) {
        if !seen.contains(&d) {
            seen.push(d);
            r.push(("ip4.dns", ip(d)));
        }
    }
    r
}

/// What the client connected to (sent with ip-up for `sstp connect`'s summary): the TCP peer,
/// its address family, whether it is a proxy, and the server certificate's SHA-256 and SHA-1 as
/// the server's administrator sees them (uppercase hex).
/// With `cert.untrusted` (the first line of the accepted trust failure) when the certificate
/// was accepted under `sstp-cert-accept-untrusted`.
pub fn seen_records(
    cert: &sstp_tunnel::CertificateInfo,
    peer: std::net::SocketAddr,
    via_proxy: bool,
    untrusted: Option<&sstp_tunnel::TrustError>,
) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("peer.address", peer.to_string()),
        (
            "peer.family",
            sstp_tunnel::cert::family_name(peer.ip()).to_owned(),
        ),
        ("peer.proxy", u8::from(via_proxy).to_string()),
        ("cert.sha256", cert.sha256_admin()),
        ("cert.sha1", cert.sha1_admin()),
    ];
    if let Some(t) = untrusted {
        let first = t.to_string().lines().next().unwrap_or_default().to_owned();
        v.push(("cert.untrusted", first));
    }
    v
}

/// Formats an 8-byte interface identifier as `xxxx:xxxx:xxxx:xxxx`.
pub fn iid(b: [u8; 8]) -> String {
    format!(
        "{:02x}{:02x}:{:02x}{:02x}:{:02x}{:02x}:{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

/// Writes `msg` to `fd`, waiting at most `limit` in total (pppd's loop must not stall). Never
/// raises SIGPIPE (pppd would die with "Fatal signal 13"): sockets are written with
/// `send(MSG_NOSIGNAL)`, other fds with SIGPIPE blocked; a reader that is gone is an error.
pub fn write_bounded(fd: RawFd, msg: &[u8], limit: Duration) -> io::Result<()> {
    let deadline = Instant::now() + limit;
    let mut off = 0;
    let mut is_socket = true;
    while off < msg.len() {
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "ipc fd not writable",
            ));
        }
        let ms = (deadline - now).as_millis().min(i32::MAX as u128) as i32;
        let revents = match host::poll_one(fd, libc::POLLOUT, ms.max(1)) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "ipc fd error"));
        }
        if revents & libc::POLLHUP != 0 {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reader closed its end",
            ));
        }
        if revents == 0 {
            continue;
        }
        let r = if is_socket {
            let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
            match socket::send(fd, &msg[off..], flags) {
                Err(Errno::ENOTSOCK) => {
                    is_socket = false;
                    continue;
                }
                r => r.map_err(io::Error::from),
            }
        } else {
            host::write_without_sigpipe(fd, &msg[off..])
        };
        match r {
            Ok(n) => off += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_layout() {
        let recs = ip4_records(
            "ppp0",
            "127.0.0.1:443",
            u32::from_ne_bytes([10, 0, 0, 2]),
            u32::from_ne_bytes([10, 0, 0, 1]),
            [u32::from_ne_bytes([192, 0, 2, 53]), 0],
        );
        let bytes = encode(&recs);
        assert_eq!(&bytes[..4], &[0, 0, 0, 11]); // "event=ip-up"
        assert_eq!(&bytes[4..15], b"event=ip-up");
        assert_eq!(&bytes[bytes.len() - 4..], &[0, 0, 0, 0]);
        let (dec, used) = decode(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        let get = |k: &str| {
            dec.iter()
                .filter(|(a, _)| a == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("ip4.local"), ["10.0.0.2"]);
        assert_eq!(get("ip4.peer"), ["10.0.0.1"]);
        assert_eq!(get("ip4.dns"), ["192.0.2.53"]);
        assert_eq!(get("ifname"), ["ppp0"]);
        let dup = u32::from_ne_bytes([192, 0, 2, 53]);
        let recs = ip4_records("ppp0", "s:443", 1, 2, [dup, dup]);
        assert_eq!(recs.iter().filter(|(k, _)| *k == "ip4.dns").count(), 1);
        let two = ip4_records(
            "ppp0",
            "s:443",
            1,
            2,
            [dup, u32::from_ne_bytes([192, 0, 2, 54])],
        );
        assert_eq!(two.iter().filter(|(k, _)| *k == "ip4.dns").count(), 2);
    }

    #[test]
    fn hostile_input_gives_errors() {
        assert_eq!(decode(&[0, 0]), Err(DecodeError::Incomplete));
        assert_eq!(decode(&[0, 0, 0, 5, b'a']), Err(DecodeError::Incomplete));
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::TooLong(u32::MAX as usize))
        );
        assert_eq!(
            decode(&[0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0]),
            Err(DecodeError::Malformed)
        );
        assert_eq!(
            decode(&[0, 0, 0, 2, 0xff, b'=', 0, 0, 0, 0]),
            Err(DecodeError::Malformed)
        );
    }

    #[test]
    fn writes_through_a_socketpair() {
        let mut fds = [0; 2];
        // SAFETY: valid out array.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        let msg = encode(&[("event", "ip-up".into())]);
        write_bounded(fds[0], &msg, Duration::from_secs(1)).unwrap();
        let mut buf = [0u8; 64];
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(fds[1], buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(n as usize, msg.len());
        assert_eq!(
            decode(&buf[..n as usize]).unwrap().0,
            vec![("event".into(), "ip-up".into())]
        );
        // SAFETY: closing our own fds.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        assert_eq!(iid([0, 1, 2, 3, 0xa, 0xb, 0xc, 0xd]), "0001:0203:0a0b:0c0d");
    }

    /// The reader is gone: an error, and no SIGPIPE (SIG_DFL here, as in pppd's world where the
    /// handler dies: a SIGPIPE would kill this test process).
    #[test]
    fn a_closed_reader_is_an_error_not_a_sigpipe() {
        // SAFETY: setting a signal disposition; no handler code runs.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let msg = encode(&[("event", "ip-down".into())]);
        let mut fds = [0; 2];
        // SAFETY: valid out array.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        host::close_fd(fds[1]);
        let e = write_bounded(fds[0], &msg, Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
        host::close_fd(fds[0]);
        // A pipe is not a socket: the SIGPIPE-blocking fallback.
        // SAFETY: valid out array.
        let r = unsafe { libc::pipe(fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        host::close_fd(fds[0]);
        let e = host::write_without_sigpipe(fds[1], &msg).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE));
        let e = write_bounded(fds[1], &msg, Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
        host::close_fd(fds[1]);
        // SAFETY: restoring the test harness's disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    }
}
