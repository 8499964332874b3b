//! The system calls std does not wrap, through `nix`: poll(2), fcntl(2) O_NONBLOCK, TCP_INFO and
//! the NETLINK_ROUTE exchange of `route.rs`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::PollFlags;

/// Sets or clears O_NONBLOCK on `fd`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    let mut new = flags;
    new.set(OFlag::O_NONBLOCK, on);
    if new != flags {
        fcntl(fd, FcntlArg::F_SETFL(new))?;
    }
    Ok(())
}

/// One entry of a poll set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PollFd<'fd> {
    pub fd: BorrowedFd<'fd>,
    pub read: bool,
    pub write: bool,
}

/// What poll reported for one entry (a copy: it does not borrow the descriptor).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ready {
    /// Readable (or hang-up/error, which a read reports).
    pub readable: bool,
    /// Writable (or error).
    pub writable: bool,
}

impl<'fd> PollFd<'fd> {
    pub(crate) fn new(fd: BorrowedFd<'fd>, read: bool, write: bool) -> PollFd<'fd> {
        PollFd { fd, read, write }
    }
}

/// poll(2) over `fds`; `None` waits forever. EINTR is reported as zero ready descriptors.
/// Entries that want neither direction are not polled. No allocation: the set lives on the
/// stack.
pub(crate) fn poll<const N: usize>(
    fds: &[PollFd<'_>; N],
    timeout: Option<Duration>,
) -> io::Result<[Ready; N]> {
    let mut raw = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; N];
    for (r, p) in raw.iter_mut().zip(fds) {
        let mut ev = PollFlags::empty();
        ev.set(PollFlags::POLLIN, p.read);
        ev.set(PollFlags::POLLOUT, p.write);
        if !ev.is_empty() {
            // A negative fd is skipped by the kernel (revents 0).
            r.fd = p.fd.as_raw_fd();
            r.events = ev.bits();
        }
    }
    let ms: libc::c_int = match timeout {
        None => -1,
        // Round up so a deadline is never polled too early (busy loop).
        Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int,
    };
    let mut ready = [Ready::default(); N];
    // SAFETY: `raw` is a valid array of N pollfd; every non-negative fd in it is borrowed from
    // `fds` and stays open for the call.
    let rc = unsafe { libc::poll(raw.as_mut_ptr(), N as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(ready);
        }
        return Err(e);
    }
    for ((out, r), p) in ready.iter_mut().zip(&raw).zip(fds) {
        let r = PollFlags::from_bits_truncate(r.revents);
        let hup = r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL);
        out.readable = r.contains(PollFlags::POLLIN) || (p.read && hup);
        out.writable = r.contains(PollFlags::POLLOUT) || (p.write && hup);
    }
    Ok(ready)
}

/// Delivery state of a TCP socket (TCP_INFO): bytes the peer acknowledged so far, and whether
/// written bytes still wait for an acknowledgement (in flight, or held back by a closed
/// window). `None` if the kernel does not report it (not TCP, or a kernel before 4.6).
pub(crate) fn tcp_delivery(fd: BorrowedFd<'_>) -> Option<(u64, bool)> {
    // SAFETY: tcp_info is plain old data (all integers); zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `fd` is open for the borrow; `info`/`len` are valid for writes of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    let needed = std::mem::offset_of!(libc::tcp_info, tcpi_notsent_bytes) + 4;
    if rc != 0 || (len as usize) < needed {
        return None;
    }
    Some((
        info.tcpi_bytes_acked,
        info.tcpi_unacked > 0 || info.tcpi_notsent_bytes > 0,
    ))
}

/// One request/answer exchange on a fresh NETLINK_ROUTE socket: sends `msg`, returns the
/// first datagram the kernel answers with (bounded by `timeout`).
pub(crate) fn netlink_route_exchange(msg: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    use nix::sys::socket::{
        bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr,
        SockFlag, SockProtocol, SockType,
    };
    use nix::sys::time::TimeVal;
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
    let tv = TimeVal::new(
        timeout.as_secs() as nix::sys::time::time_t,
        timeout.subsec_micros() as nix::sys::time::suseconds_t,
    );
    setsockopt(&fd, sockopt::ReceiveTimeout, &tv)?;
    send(fd.as_raw_fd(), msg, MsgFlags::empty())?;
    let mut buf = vec![0u8; 16 * 1024];
    let n = loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the kernel did not answer the netlink request",
                ))
            }
            r => break r?,
        }
    };
    buf.truncate(n);
    Ok(buf)
}

/// The name of interface `index` (the number itself if it has none now).
pub(crate) fn if_name(index: u32) -> String {
    match nix::net::if_::if_indextoname(index) {
        Ok(n) => n.to_string_lossy().into_owned(),
        Err(_) => format!("#{index}"),
    }
}

/// TCP_NOTSENT_LOWAT: the socket reports writable (and accepts writes) only while fewer than
/// `bytes` written bytes are not sent yet, so queueing happens where the bridge can pace it.
pub(crate) fn set_notsent_lowat(fd: BorrowedFd<'_>, bytes: u32) -> io::Result<()> {
    let v = bytes as libc::c_int;
    // SAFETY: `fd` is open for the borrow; `v` is a c_int valid for reads of its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NOTSENT_LOWAT,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
