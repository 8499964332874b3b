//! The bridge's clock: [`run`](super::run) reads it once per loop iteration and hands `now`
//! down, so every timer decision below is a function of the caller's time (virtual in tests).

use std::time::Instant;

/// A source of `now`.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
