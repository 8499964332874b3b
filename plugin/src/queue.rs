//! What the I/O thread tells the main thread (log lines, the final failure) and what the main
//! thread tells the I/O thread (commands + a wake-up pipe). No pppd calls here.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use sstp_proto::Hlak;

use crate::host::{ExitStatus, Level};

/// Most log lines kept while the main thread has not drained them.
pub const MAX_LOG_LINES: usize = 512;

/// Main thread -> I/O thread.
pub enum Command {
    /// PPP authentication finished: send CALL_CONNECTED bound to this HLAK.
    Authenticated(Hlak),
    /// pppd hung up: CALL_DISCONNECT, wait for the ACK (bounded), close TLS.
    Disconnect,
    /// Stop now (cleanup after a failure): close everything without a goodbye.
    Stop,
}

/// State shared by the main thread and the I/O thread.
pub struct Shared {
    logs: Mutex<VecDeque<(Level, String)>>,
    dropped: AtomicU64,
    failure: Mutex<Option<(ExitStatus, String)>>,
    commands: Mutex<VecDeque<Command>>,
    /// Write end of the wake-up pipe (main -> I/O thread).
    wake_fd: RawFd,
    /// Set by the I/O thread when it is about to exit.
    pub finished: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock must not take the other thread down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// New shared state; `wake_fd` is the write end of the I/O thread's wake-up pipe.
    pub fn new(wake_fd: RawFd) -> Shared {
        Shared {
            logs: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
            failure: Mutex::new(None),
            commands: Mutex::new(VecDeque::new()),
            wake_fd,
            finished: AtomicBool::new(false),
        }
    }

    /// Queues a log line (I/O thread); drops the oldest beyond [`MAX_LOG_LINES`].
    pub fn log(&self, level: Level, msg: impl Into<String>) {
        let mut q = lock(&self.logs);
        if q.len() >= MAX_LOG_LINES {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back((level, msg.into()));
    }

    /// Takes all queued log lines and the number dropped since the last call (main thread).
    pub fn take_logs(&self) -> (Vec<(Level, String)>, u64) {
        let v = lock(&self.logs).drain(..).collect();
        (v, self.dropped.swap(0, Ordering::Relaxed))
    }

    /// Records why the call ended (first one wins).
    pub fn set_failure(&self, status: ExitStatus, msg: String) {
        let mut f = lock(&self.failure);
        if f.is_none() {
            *f = Some((status, msg));
        }
    }

    /// Takes the recorded failure.
    pub fn take_failure(&self) -> Option<(ExitStatus, String)> {
        lock(&self.failure).take()
    }

    /// Queues a command for the I/O thread and wakes it.
    pub fn send(&self, c: Command) {
        lock(&self.commands).push_back(c);
        let b = 1u8;
        // SAFETY: writing one byte from a valid buffer; a full pipe (EAGAIN) already means a
        // wake-up is pending, so the result can be ignored.
        unsafe {
            libc::write(self.wake_fd, (&b as *const u8).cast(), 1);
        }
    }

    /// Takes the queued commands (I/O thread).
    pub fn take_commands(&self) -> Vec<Command> {
        lock(&self.commands).drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_queue_is_bounded_and_counts_drops() {
        let s = Shared::new(-1);
        for i in 0..MAX_LOG_LINES + 10 {
            s.log(Level::Info, format!("line {i}"));
        }
        let (lines, dropped) = s.take_logs();
        assert_eq!(lines.len(), MAX_LOG_LINES);
        assert_eq!(dropped, 10);
        assert_eq!(lines[0].1, "line 10");
        assert!(s.take_logs().0.is_empty());
    }

    #[test]
    fn first_failure_wins() {
        let s = Shared::new(-1);
        s.set_failure(ExitStatus::PeerDead, "a".into());
        s.set_failure(ExitStatus::Hangup, "b".into());
        assert_eq!(s.take_failure(), Some((ExitStatus::PeerDead, "a".into())));
        assert_eq!(s.take_failure(), None);
    }

    #[test]
    fn commands_wake_the_pipe() {
        let mut p = [0; 2];
        // SAFETY: valid out array.
        let r = unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(r, 0);
        let s = Shared::new(p[1]);
        s.send(Command::Disconnect);
        let mut b = [0u8; 4];
        // SAFETY: valid buffer.
        assert_eq!(unsafe { libc::read(p[0], b.as_mut_ptr().cast(), 4) }, 1);
        assert!(matches!(
            s.take_commands().as_slice(),
            [Command::Disconnect]
        ));
        // SAFETY: own fds.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
    }
}
