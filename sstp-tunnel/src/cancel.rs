//! Cancellation and deadline-bounded waiting for the connect phase.
//!
//! Every wait of [`crate::connect()`] and [`crate::negotiate`] is a `ppoll(2)` on one descriptor
//! against the phase's overall deadline. The caller's [`Cancel`] is checked before each wait
//! with its wake-up signals blocked, and `ppoll` unblocks them atomically: a cancelling signal
//! can never slip in between the check and the wait. Other signals (EINTR) only restart the
//! wait; they never fail it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::time::TimeSpec;
use openssl::ssl::{ErrorCode, SslStream};

/// A cancellation input: a check (`Some(reason)` once the connect must stop, e.g. `"SIGTERM"`)
/// and the signals whose handlers may change its answer.
#[derive(Clone, Copy)]
pub struct Cancel<'a> {
    check: Option<&'a (dyn Fn() -> Option<&'static str> + Sync)>,
    signals: &'a [i32],
}

impl fmt::Debug for Cancel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("active", &self.check.is_some())
            .field("signals", &self.signals)
            .finish()
    }
}

impl Default for Cancel<'_> {
    fn default() -> Self {
        Cancel::never()
    }
}

impl<'a> Cancel<'a> {
    /// Never cancels.
    pub const fn never() -> Cancel<'static> {
        Cancel {
            check: None,
            signals: &[],
        }
    }

    /// Cancels once `check` returns `Some(reason)`. `signals` (numbers) are the signals whose
    /// handlers set what `check` reads; they are blocked around the check so that a wait
    /// started after a negative check is always interrupted by them.
    pub fn new(check: &'a (dyn Fn() -> Option<&'static str> + Sync), signals: &'a [i32]) -> Self {
        Cancel {
            check: Some(check),
            signals,
        }
    }

    /// The reason, if cancelled.
    pub fn reason(&self) -> Option<&'static str> {
        self.check.and_then(|c| c())
    }

    fn sigset(&self) -> Option<SigSet> {
        if self.check.is_none() || self.signals.is_empty() {
            return None;
        }
        let mut set = SigSet::empty();
        for s in self
            .signals
            .iter()
            .filter_map(|&n| Signal::try_from(n).ok())
        {
            set.add(s);
        }
        Some(set)
    }
}

/// Why a wait ended without the descriptor becoming ready.
#[derive(Debug)]
pub(crate) enum WaitError {
    /// The deadline passed.
    Timeout,
    /// [`Cancel`] said stop (the reason, e.g. `"SIGTERM"`).
    Cancelled(&'static str),
    /// A system call failed.
    Io(io::Error),
}

impl From<io::Error> for WaitError {
    fn from(e: io::Error) -> Self {
        WaitError::Io(e)
    }
}

/// Which readiness to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
}

/// Waits until `fd` is ready for `interest`, the deadline passes or `cancel` fires.
pub(crate) fn wait_fd(
    fd: BorrowedFd<'_>,
    interest: Interest,
    deadline: Instant,
    cancel: &Cancel<'_>,
) -> Result<(), WaitError> {
    let flags = match interest {
        Interest::Read => PollFlags::POLLIN,
        Interest::Write => PollFlags::POLLOUT,
    };
    let block = cancel.sigset();
    loop {
        // Block the cancelling signals, check, then let ppoll unblock them atomically.
        let mut old = SigSet::empty();
        if let Some(set) = &block {
            pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(set), Some(&mut old))
                .map_err(io::Error::from)?;
        }
        let step = wait_once(fd, flags, deadline, cancel, block.map(|_| old));
        if block.is_some() {
            pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None).map_err(io::Error::from)?;
        }
        match step {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => return Err(e),
        }
    }
}

/// One check + ppoll. `Ok(false)`: interrupted or timed out, check again.
fn wait_once(
    fd: BorrowedFd<'_>,
    flags: PollFlags,
    deadline: Instant,
    cancel: &Cancel<'_>,
    mask: Option<SigSet>,
) -> Result<bool, WaitError> {
    if let Some(reason) = cancel.reason() {
        return Err(WaitError::Cancelled(reason));
    }
    let now = Instant::now();
    if now >= deadline {
        return Err(WaitError::Timeout);
    }
    let timeout = TimeSpec::from_duration(deadline - now);
    let mut fds = [PollFd::new(fd, flags)];
    match ppoll(&mut fds, Some(timeout), mask) {
        Ok(0) | Err(Errno::EINTR) => Ok(false),
        // Ready, or hang-up/error, which the next read or write reports.
        Ok(_) => Ok(true),
        Err(e) => Err(WaitError::Io(e.into())),
    }
}

/// The result of one non-blocking attempt.
pub(crate) enum Step<T> {
    Done(T),
    Wait(Interest),
}

/// A non-blocking byte stream (TCP or TLS over TCP).
pub(crate) trait NbStream {
    fn fd(&self) -> BorrowedFd<'_>;
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<Step<usize>>;
    fn try_write(&mut self, buf: &[u8]) -> io::Result<Step<usize>>;
}

fn io_step(r: io::Result<usize>, interest: Interest) -> io::Result<Step<usize>> {
    match r {
        Ok(n) => Ok(Step::Done(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Step::Wait(interest)),
        // A signal during a non-blocking call: try again after the cancel check.
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Step::Wait(interest)),
        Err(e) => Err(e),
    }
}

impl NbStream for TcpStream {
    fn fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<Step<usize>> {
        io_step(self.read(buf), Interest::Read)
    }
    fn try_write(&mut self, buf: &[u8]) -> io::Result<Step<usize>> {
        io_step(self.write(buf), Interest::Write)
    }
}

fn ssl_step(r: Result<usize, openssl::ssl::Error>) -> io::Result<Step<usize>> {
    let e = match r {
        Ok(n) => return Ok(Step::Done(n)),
        Err(e) => e,
    };
    match e.code() {
        ErrorCode::WANT_READ => Ok(Step::Wait(Interest::Read)),
        ErrorCode::WANT_WRITE => Ok(Step::Wait(Interest::Write)),
        ErrorCode::ZERO_RETURN => Ok(Step::Done(0)),
        ErrorCode::SYSCALL => match e.io_error() {
            None => Ok(Step::Done(0)),
            Some(io) if io.kind() == io::ErrorKind::WouldBlock => Ok(Step::Wait(Interest::Read)),
            Some(io) => Err(io::Error::new(io.kind(), io.to_string())),
        },
        _ => Err(io::Error::other(e.to_string())),
    }
}

impl NbStream for SslStream<TcpStream> {
    fn fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<Step<usize>> {
        ssl_step(self.ssl_read(buf))
    }
    fn try_write(&mut self, buf: &[u8]) -> io::Result<Step<usize>> {
        ssl_step(self.ssl_write(buf))
    }
}

/// Reads at least one byte (0: end of stream) before `deadline`.
pub(crate) fn read_some<S: NbStream>(
    s: &mut S,
    buf: &mut [u8],
    deadline: Instant,
    cancel: &Cancel<'_>,
) -> Result<usize, WaitError> {
    loop {
        match s.try_read(buf)? {
            Step::Done(n) => return Ok(n),
            Step::Wait(i) => wait_fd(s.fd(), i, deadline, cancel)?,
        }
    }
}

/// Writes all of `data` before `deadline`.
pub(crate) fn write_all<S: NbStream>(
    s: &mut S,
    mut data: &[u8],
    deadline: Instant,
    cancel: &Cancel<'_>,
) -> Result<(), WaitError> {
    while !data.is_empty() {
        match s.try_write(data)? {
            Step::Done(0) => return Err(WaitError::Io(io::ErrorKind::WriteZero.into())),
            Step::Done(n) => data = &data[n..],
            Step::Wait(i) => wait_fd(s.fd(), i, deadline, cancel)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn times_out_at_the_deadline() {
        let (a, _b) = UnixStream::pair().unwrap();
        let t0 = Instant::now();
        let r = wait_fd(
            a.as_fd(),
            Interest::Read,
            t0 + Duration::from_millis(50),
            &Cancel::never(),
        );
        assert!(matches!(r, Err(WaitError::Timeout)), "{r:?}");
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(50) && took < Duration::from_secs(2));
    }

    #[test]
    fn a_cancelled_input_stops_before_waiting() {
        static FLAG: AtomicBool = AtomicBool::new(true);
        let check = || FLAG.load(Ordering::SeqCst).then_some("SIGTERM");
        let (a, _b) = UnixStream::pair().unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let sigs = [libc::SIGTERM];
        let r = wait_fd(a.as_fd(), Interest::Read, far, &Cancel::new(&check, &sigs));
        assert!(matches!(r, Err(WaitError::Cancelled("SIGTERM"))), "{r:?}");
    }

    #[test]
    fn ready_descriptor_returns_at_once() {
        let (a, b) = UnixStream::pair().unwrap();
        (&b).write_all(b"x").unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        wait_fd(a.as_fd(), Interest::Read, far, &Cancel::never()).unwrap();
    }
}
