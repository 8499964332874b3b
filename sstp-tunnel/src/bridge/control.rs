//! The control channel: commands from any thread (pppd's main thread) to the running bridge,
//! a queue plus a wake-up byte on a socket pair the bridge polls.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags};
use sstp_proto::crypto_binding::Hlak;

/// A command for the running bridge.
#[derive(Debug)]
pub enum Command {
    /// PPP authentication finished: send CALL_CONNECTED with this HLAK.
    Authenticated {
        /// The Higher-Layer Authentication Key (zero for PAP/CHAP/no auth).
        hlak: Hlak,
    },
    /// Tear the call down gracefully (CALL_DISCONNECT, wait for the ACK, close).
    Disconnect,
}

/// Sending half of the control channel (cheap to use from any thread).
#[derive(Debug)]
pub struct ControlSender {
    queue: Arc<Mutex<VecDeque<Command>>>,
    wake: UnixStream,
}

impl ControlSender {
    /// Queues a command and wakes the bridge.
    pub fn send(&self, cmd: Command) -> io::Result<()> {
        match self.queue.lock() {
            Ok(mut q) => q.push_back(cmd),
            Err(p) => p.into_inner().push_back(cmd),
        }
        // MSG_NOSIGNAL: the bridge may be gone (its end closed) when pppd's main thread sends
        // Disconnect; a SIGPIPE there would kill pppd (std adds the flag only since Rust 1.90).
        let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
        loop {
            return match socket::send(self.wake.as_raw_fd(), &[1], flags) {
                Ok(_) => Ok(()),
                // The socket buffer is full of wake-ups: the bridge will drain the queue anyway.
                Err(Errno::EAGAIN) => Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => Err(io::Error::from(e)),
            };
        }
    }

    /// Another sender for the same bridge.
    pub fn try_clone(&self) -> io::Result<ControlSender> {
        Ok(ControlSender {
            queue: Arc::clone(&self.queue),
            wake: self.wake.try_clone()?,
        })
    }
}

/// Receiving half of the control channel, given to [`run`].
#[derive(Debug)]
pub struct ControlReceiver {
    queue: Arc<Mutex<VecDeque<Command>>>,
    wake: UnixStream,
}

impl ControlReceiver {
    /// Empties the wake socket (call it only when poll(2) says it is readable), then takes the
    /// queued commands. A command queued after the wake bytes were read sends its own byte.
    pub(super) fn drain(&mut self) -> VecDeque<Command> {
        let mut sink = [0u8; 64];
        while let Ok(n) = (&self.wake).read(&mut sink) {
            if n == 0 || n < sink.len() {
                break;
            }
        }
        match self.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }
}

/// A connected pair of control channel ends.
pub fn control_channel() -> io::Result<(ControlSender, ControlReceiver)> {
    let (a, b) = UnixStream::pair()?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    let queue = Arc::new(Mutex::new(VecDeque::new()));
    Ok((
        ControlSender {
            queue: Arc::clone(&queue),
            wake: a,
        },
        ControlReceiver { queue, wake: b },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pppd's main thread sends Disconnect after the bridge has ended and dropped its end: an
    /// error at most, never SIGPIPE (SIG_DFL here, as pppd's handler dies).
    #[test]
    fn control_send_to_a_finished_bridge_raises_no_sigpipe() {
        // SAFETY: setting a signal disposition; no handler code runs.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let (tx, rx) = control_channel().unwrap();
        drop(rx);
        let e = tx.send(Command::Disconnect).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        // SAFETY: restoring the test harness's disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    }
}
