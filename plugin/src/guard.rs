//! Panic guards for every `extern "C"` entry (pgrx model): main-thread check, `catch_unwind`,
//! fail closed.
//!
//! A panic that leaves an `extern "C"` function aborts pppd (no ip-down, no report). Every
//! entry from pppd therefore runs through [`enter`] (or [`enter_cleanup`] for the hooks that must
//! still release resources after a failure). After a panic the plugin is *poisoned*: the panic
//! is logged through pppd, pppd's exit status is set to a fatal error and pppd is asked to die;
//! further entries return their fallback value at once.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use crate::host;

static POISONED: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();
/// Last panic message (location + payload), written by the hook, read by the guard.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

thread_local! {
    /// Set while this thread runs inside a guard, so nested guards do not double-report.
    static DEPTH: RefCell<u32> = const { RefCell::new(0) };
}

/// Whether an earlier panic poisoned the plugin.
pub fn poisoned() -> bool {
    POISONED.load(Ordering::SeqCst)
}

/// Whether the caller is pppd's main thread (the only thread that may call pppd).
pub fn on_main_thread() -> bool {
    nix::unistd::gettid() == nix::unistd::getpid()
}

/// Installs the process-wide panic hook once. The hook records the message for the guard and
/// prints nothing (pppd's stderr may be a terminal, /dev/null or a pipe to NetworkManager).
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        // Preallocate so that recording a panic normally needs no allocation.
        if let Ok(mut s) = LAST_PANIC.lock() {
            s.reserve(512);
        }
        panic::set_hook(Box::new(|info| {
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string panic payload)");
            if let Ok(mut s) = LAST_PANIC.try_lock() {
                s.clear();
                use std::fmt::Write;
                let _ = match info.location() {
                    Some(l) => write!(s, "{payload} at {}:{}", l.file(), l.line()),
                    None => write!(s, "{payload}"),
                };
                s.truncate(480);
            }
        }));
    });
}

/// The message recorded by the last panic.
pub fn last_panic_message() -> String {
    LAST_PANIC
        .lock()
        .map(|s| s.clone())
        .unwrap_or_else(|_| "unknown panic".into())
}

/// Runs `f` for the pppd entry `name`. Returns `fallback` when poisoned, when called off the
/// main thread, or when `f` panics (then fails closed: log, exit status, `die`).
#[inline(never)]
pub fn enter<R>(name: &'static str, fallback: R, f: impl FnOnce() -> R) -> R {
    if poisoned() {
        return fallback;
    }
    if !on_main_thread() {
        // Calling pppd from here would be unsound; refuse and poison.
        POISONED.store(true, Ordering::SeqCst);
        return fallback;
    }
    match run(f) {
        Ok(r) => r,
        Err(()) => {
            fail_closed(name);
            fallback
        }
    }
}

/// Like [`enter`] but runs even when poisoned and never calls `die` (for `cleanup`, `close`,
/// `disconnect`, the exit notifier: they run while pppd is already going down).
#[inline(never)]
pub fn enter_cleanup<R>(name: &'static str, fallback: R, f: impl FnOnce() -> R) -> R {
    match run(f) {
        Ok(r) => r,
        Err(()) => {
            POISONED.store(true, Ordering::SeqCst);
            if on_main_thread() {
                host::log(
                    host::Level::Error,
                    &format!(
                        "sstp-rs: internal error in {name}: {}",
                        last_panic_message()
                    ),
                );
            }
            fallback
        }
    }
}

#[inline(never)]
fn run<R>(f: impl FnOnce() -> R) -> Result<R, ()> {
    DEPTH.with(|d| *d.borrow_mut() += 1);
    let r = panic::catch_unwind(AssertUnwindSafe(f)).map_err(|_| ());
    DEPTH.with(|d| *d.borrow_mut() -= 1);
    r
}

fn fail_closed(name: &'static str) {
    let first = !POISONED.swap(true, Ordering::SeqCst);
    let nested = DEPTH.with(|d| *d.borrow() > 0);
    if !first || nested {
        return;
    }
    host::log(
        host::Level::Error,
        &format!(
            "sstp-rs: internal error in {name}: {}; closing the connection",
            last_panic_message()
        ),
    );
    host::set_status(host::ExitStatus::FatalError);
    host::die(host::ExitStatus::FatalError);
}

/// Fault injection for the guard tests (debug builds only): panics when the environment
/// variable `SSTP_RS_FAULT` equals `point`. Release builds compile this to nothing.
#[cfg(debug_assertions)]
pub fn fault_point(point: &str) {
    if std::env::var("SSTP_RS_FAULT").as_deref() == Ok(point) {
        panic!("fault injected at {point}");
    }
}

/// Release builds: no fault injection.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn fault_point(_point: &str) {}

#[cfg(test)]
pub(crate) fn reset_for_tests() {
    POISONED.store(false, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The poisoned flag is process-wide: serialize the tests that touch it.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn main_thread_check_distinguishes_threads() {
        // The harness runs a test on a worker thread named after the test, or (one test thread)
        // on the process's main thread, which std names "main": an independent oracle.
        let here = on_main_thread();
        assert_eq!(here, std::thread::current().name() == Some("main"));
        let other = std::thread::spawn(on_main_thread).join().unwrap();
        assert!(!other);
    }

    #[test]
    fn cleanup_guard_catches_panics_and_poisons() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        install_panic_hook();
        reset_for_tests();
        // Off the main thread host::log is skipped, so this needs no pppd.
        let r =
            std::thread::spawn(|| enter_cleanup("test", 7, || -> i32 { panic!("boom {}", 42) }))
                .join()
                .unwrap();
        assert_eq!(r, 7);
        assert!(poisoned());
        assert!(last_panic_message().contains("boom 42"));
        assert!(last_panic_message().contains("guard.rs"));
        // Poisoned: enter() returns the fallback without running f.
        let ran = std::thread::spawn(|| enter("x", false, || true))
            .join()
            .unwrap();
        assert!(!ran);
        reset_for_tests();
        let ok = enter_cleanup("y", 0, || 5);
        assert_eq!(ok, 5);
    }

    #[test]
    fn enter_refuses_off_main_thread() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        reset_for_tests();
        let r = std::thread::spawn(|| enter("t", -1, || 1)).join().unwrap();
        assert_eq!(r, -1);
        reset_for_tests();
    }
}
