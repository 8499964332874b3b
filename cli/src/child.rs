//! Starting programs (pppd, `pppd --version`, `ip`) with the default signal mask.
//!
//! `sstp connect` blocks SIGINT/SIGTERM/SIGHUP in all its threads and takes them in a `sigwait`
//! thread (see `connect::install_signal_handlers`), which needs no signal handler and so no
//! `unsafe`. A blocked mask survives `exec`, though, and `std::process::Command` keeps it: pppd
//! would then never see the SIGTERM that asks it to hang up. [`command`] clears the mask in the
//! child, between fork and exec.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};

/// `Command::new(program)` whose child starts with no blocked signal.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    // SAFETY: the hook runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: it makes one, sigprocmask(2), on a set built before the fork (an empty
    // `SigSet` is plain data; nothing is allocated or locked in the child). std offers
    // `pre_exec` only as `unsafe`, and nix has no safe way to reset a child's signal mask; it
    // is the one `unsafe` block of this crate.
    unsafe {
        let empty = SigSet::empty();
        cmd.pre_exec(move || {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&empty), None)?;
            Ok(())
        });
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    /// `SigBlk` of a child that reads its own status.
    fn child_sigblk(mut cmd: Command) -> String {
        let out = cmd.arg("/proc/self/status").output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("SigBlk:"))
            .unwrap()
            .trim()
            .to_owned()
    }

    #[test]
    fn children_start_with_no_blocked_signal() {
        // A thread of its own: the mask is per thread, and the test harness's stay untouched.
        std::thread::spawn(|| {
            let mut set = SigSet::empty();
            set.add(Signal::SIGTERM);
            set.thread_block().unwrap();
            // Plain std keeps the mask across exec (this is why `command` exists) ...
            assert_eq!(child_sigblk(Command::new("/bin/cat")), "0000000000004000");
            // ... `command` clears it.
            assert_eq!(child_sigblk(command("/bin/cat")), "0000000000000000");
        })
        .join()
        .unwrap();
    }
}
