//! Pacing: how much the bridge queues in front of the TLS socket, bounded by time, not bytes.
//!
//! The socket accepts our writes about as fast as the network drains them (TCP_NOTSENT_LOWAT
//! keeps the kernel's unsent part small), so bytes written per unit of time while output stays
//! backed up estimate the drain rate. The queue limit is that rate × a target delay, clamped to
//! `[floor, ceiling]`: an interactive packet read from pppd waits at most about the target
//! delay behind bulk data, and a fast link still gets a full flight of TLS records.

use std::time::{Duration, Instant};

/// Shortest measuring window of a rate sample.
const SAMPLE: Duration = Duration::from_millis(10);

/// The queue limit policy (see the module documentation).
#[derive(Debug, Clone)]
pub struct Pacer {
    target: Duration,
    floor: usize,
    ceiling: usize,
    /// Smoothed drain rate, bytes per second.
    rate: Option<f64>,
    window: Option<(Instant, u64)>,
}

impl Pacer {
    /// A pacer aiming at `target` queueing delay, with the limit kept within `[floor, ceiling]`.
    pub fn new(target: Duration, floor: usize, ceiling: usize) -> Pacer {
        Pacer {
            target,
            floor: floor.min(ceiling),
            ceiling,
            rate: None,
            window: None,
        }
    }

    /// `n` bytes left the queue for the socket at `now`; `backlogged`: bytes still wait (the
    /// socket, not the application, limited the write). Windows where the queue ran dry are
    /// not samples: they measure the application, not the link.
    pub fn on_drained(&mut self, now: Instant, n: usize, backlogged: bool) {
        if !backlogged {
            self.window = None;
            return;
        }
        let (start, bytes) = self.window.get_or_insert((now, 0));
        *bytes += n as u64;
        let elapsed = now.saturating_duration_since(*start);
        if elapsed >= SAMPLE {
            let sample = *bytes as f64 / elapsed.as_secs_f64();
            self.rate = Some(match self.rate {
                Some(r) => r + (sample - r) / 4.0,
                None => sample,
            });
            self.window = Some((now, 0));
        }
    }

    /// Queue limit in bytes: above it, pppd's side is not read.
    pub fn limit(&self) -> usize {
        match self.rate {
            None => self.ceiling,
            Some(r) => {
                let bytes = r * self.target.as_secs_f64();
                (bytes.min(self.ceiling as f64) as usize).clamp(self.floor, self.ceiling)
            }
        }
    }

    /// The smoothed drain rate (bytes/s), once measured.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn pacer() -> Pacer {
        Pacer::new(5 * MS, 32 * 1024, 256 * 1024)
    }

    /// Drains `per_ms` bytes each virtual millisecond for `ms` milliseconds, backlogged.
    fn drain(p: &mut Pacer, t0: Instant, per_ms: usize, ms: u32) -> Instant {
        for i in 1..=ms {
            p.on_drained(t0 + MS * i, per_ms, true);
        }
        t0 + MS * ms
    }

    #[test]
    fn unmeasured_link_gets_the_ceiling() {
        assert_eq!(pacer().limit(), 256 * 1024);
    }

    #[test]
    fn slow_link_is_clamped_to_the_floor() {
        let mut p = pacer();
        // 1 MB/s: 5 ms are 5 KB, below the floor.
        drain(&mut p, Instant::now(), 1000, 100);
        let r = p.rate().unwrap();
        assert!((900_000.0..1_100_000.0).contains(&r), "{r}");
        assert_eq!(p.limit(), 32 * 1024);
    }

    #[test]
    fn medium_link_gets_rate_times_target() {
        let mut p = pacer();
        // 20 MB/s × 5 ms = 100 KB.
        drain(&mut p, Instant::now(), 20_000, 200);
        let l = p.limit();
        assert!((90_000..110_000).contains(&l), "{l}");
    }

    #[test]
    fn fast_link_is_capped_at_the_ceiling() {
        let mut p = pacer();
        drain(&mut p, Instant::now(), 1_000_000, 50);
        assert_eq!(p.limit(), 256 * 1024);
    }

    #[test]
    fn idle_gaps_are_not_samples() {
        let mut p = pacer();
        let t0 = Instant::now();
        let t = drain(&mut p, t0, 20_000, 100);
        let before = p.limit();
        // The queue ran dry; a second later a write starts a new window, it does not make a
        // one-second sample.
        p.on_drained(t + 2 * MS, 10, false);
        p.on_drained(t + 1000 * MS, 10, true);
        assert_eq!(p.limit(), before);
    }

    #[test]
    fn rate_follows_a_slower_link() {
        let mut p = pacer();
        let t = drain(&mut p, Instant::now(), 40_000, 100);
        assert!(p.limit() >= 190_000);
        drain(&mut p, t, 10_000, 300);
        let l = p.limit();
        assert!((45_000..60_000).contains(&l), "{l}");
    }
}
