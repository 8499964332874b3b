//! The two system calls std does not wrap: poll(2) and fcntl(2) O_NONBLOCK.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// Sets or clears O_NONBLOCK on `fd`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: `raw` is a valid open descriptor for the lifetime of the borrow; F_GETFL takes no
    // pointer argument.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: as above; F_SETFL takes an integer argument.
        if unsafe { libc::fcntl(raw, libc::F_SETFL, new) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One entry of a poll set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PollFd {
    pub fd: RawFd,
    pub read: bool,
    pub write: bool,
    /// After poll: readable (or hang-up/error, which a read reports).
    pub readable: bool,
    /// After poll: writable (or error).
    pub writable: bool,
}

impl PollFd {
    pub(crate) fn new(fd: RawFd, read: bool, write: bool) -> PollFd {
        PollFd {
            fd,
            read,
            write,
            readable: false,
            writable: false,
        }
    }
}

/// poll(2) over `fds`; `None` waits forever. EINTR is reported as zero ready descriptors.
pub(crate) fn poll(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let mut raw: Vec<libc::pollfd> = fds
        .iter()
        .map(|p| libc::pollfd {
            // A negative fd makes poll ignore the entry.
            fd: if p.read || p.write { p.fd } else { -1 },
            events: (if p.read { libc::POLLIN } else { 0 })
                | (if p.write { libc::POLLOUT } else { 0 }),
            revents: 0,
        })
        .collect();
    let ms: libc::c_int = match timeout {
        None => -1,
        // Round up so a deadline is never polled too early (busy loop).
        Some(d) => d.as_micros().div_ceil(1000).min(libc::c_int::MAX as u128) as libc::c_int,
    };
    // SAFETY: `raw` is a valid, exclusively borrowed array of `raw.len()` pollfd structs.
    let n = unsafe { libc::poll(raw.as_mut_ptr(), raw.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    for (p, r) in fds.iter_mut().zip(&raw) {
        let hup = r.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
        p.readable = r.revents & libc::POLLIN != 0 || (p.read && hup);
        p.writable = r.revents & libc::POLLOUT != 0 || (p.write && hup);
    }
    Ok(n as usize)
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
