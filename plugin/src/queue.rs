//! What the I/O thread tells the main thread: log lines and why the call ended. No pppd calls
//! here. (Commands go the other way through sstp-tunnel's bridge control channel.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::host::{ExitStatus, Level};

/// Most log lines kept while the main thread has not drained them.
pub const MAX_LOG_LINES: usize = 512;

/// State shared by the main thread and the I/O thread.
pub struct Shared {
    logs: Mutex<VecDeque<(Level, String)>>,
    dropped: AtomicU64,
    failure: Mutex<Option<(ExitStatus, String)>>,
    /// Set by the I/O thread when it is about to exit.
    pub finished: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock must not take the other thread down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// New, empty shared state.
    pub fn new() -> Shared {
        Shared {
            logs: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
            failure: Mutex::new(None),
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
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_queue_is_bounded_and_counts_drops() {
        let s = Shared::new();
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
        let s = Shared::new();
        s.set_failure(ExitStatus::PeerDead, "a".into());
        s.set_failure(ExitStatus::Hangup, "b".into());
        assert_eq!(s.take_failure(), Some((ExitStatus::PeerDead, "a".into())));
        assert_eq!(s.take_failure(), None);
    }
}
