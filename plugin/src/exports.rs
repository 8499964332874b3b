//! Every `extern "C"` function pppd calls after `plugin_init`: each is a one-liner into
//! [`crate::guard`]. None of these symbols is exported from the shared object (pppd reaches
//! them through the pointers registered in `init`).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicI32, Ordering};

use pppd_sys as sys;

use crate::channel;
use crate::guard;
use crate::host::{self, Notify};
use crate::settings::{Access, Source, OPTIONS};

/// The option table handed to pppd (names/descriptions point at 'static C strings).
struct OptionTable([sys::sstp_shim_option; OPTIONS_LEN]);
// SAFETY: the table is immutable and its pointers are to 'static, immutable C strings.
unsafe impl Sync for OptionTable {}
// SAFETY: as above; nothing in the table is tied to a thread.
unsafe impl Send for OptionTable {}

const OPTIONS_LEN: usize = OPTIONS.len();

static TABLE: std::sync::OnceLock<OptionTable> = std::sync::OnceLock::new();

fn table() -> &'static [sys::sstp_shim_option] {
    &TABLE
        .get_or_init(|| {
            OptionTable(std::array::from_fn(|i| {
                let o = &OPTIONS[i];
                sys::sstp_shim_option {
                    name: o.c_name.as_ptr(),
                    description: o.c_desc.as_ptr(),
                    flags: if o.noarg { sys::SSTP_SHIM_OPT_NOARG } else { 0 }
                        | match o.access {
                            Access::Root => sys::SSTP_SHIM_OPT_PRIV,
                            Access::FixedByRoot => sys::SSTP_SHIM_OPT_PRIVFIX,
                        }
                        | if o.secret {
                            sys::SSTP_SHIM_OPT_SECRET
                        } else {
                            0
                        },
                }
            }))
        })
        .0
}

/// plugin_init's body (inside the guard).
pub fn init() {
    assert_eq!(OPTIONS.len(), OPTIONS_LEN, "option table length");
    if !host::add_options(table(), option_handler) {
        host::log(host::Level::Error, "sstp-rs: cannot register options");
        return;
    }
    host::add_notify(Notify::AuthUp, notify_auth_up);
    host::add_notify(Notify::PhaseChange, notify_phase);
    host::add_notify(Notify::Exit, notify_exit);
    host::add_notify(Notify::IpUp, notify_ip_up);
    host::add_notify(Notify::IpDown, notify_ip_down);
    host::add_notify(Notify::Ipv6Up, notify_ipv6_up);
    host::add_notify(Notify::Ipv6Down, notify_ipv6_down);
    host::add_notify(Notify::LinkDown, notify_link_down);
    host::add_notify(Notify::Signaled, notify_signaled);
    host::set_channel(&host::ChannelOps {
        check_options: ch_check_options,
        connect: ch_connect,
        disconnect: ch_disconnect,
        cleanup: ch_cleanup,
        close: ch_close,
        ignored_option: ch_ignored_option,
    });
    host::log(
        host::Level::Info,
        &format!(
            "sstp-rs {} loaded (pppd {})",
            env!("CARGO_PKG_VERSION"),
            crate::PPPD_VERSION
        ),
    );
}

unsafe extern "C" fn option_handler(index: u32, value: *const c_char) -> c_int {
    guard::enter("option handler", 0, || {
        guard::fault_point("option");
        let v = if value.is_null() {
            String::new()
        } else {
            // SAFETY: pppd passes a NUL-terminated argument string.
            unsafe { CStr::from_ptr(value) }
                .to_string_lossy()
                .into_owned()
        };
        let src = if host::option_privileged() {
            Source::Privileged
        } else {
            Source::Caller(nix::unistd::getuid().as_raw())
        };
        match channel::with_settings(|s| s.apply(index as usize, &v, src)) {
            Ok(()) => 1,
            Err(e) => {
                host::option_error(&format!("sstp-rs: {e}"));
                0
            }
        }
    })
}

/// The channel's o_wild option: serial-line options are accepted (doit=0 asks, doit=1 applies)
/// and ignored with one log line. Changes nothing, so it needs no privilege.
unsafe extern "C" fn ch_ignored_option(name: *const c_char, doit: c_int) -> c_int {
    guard::enter("option handler", 0, || {
        if name.is_null() {
            return 0;
        }
        // SAFETY: pppd passes the NUL-terminated word it is looking up.
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        if !crate::settings::ignored_tty_option(&name) {
            return 0;
        }
        if doit != 0 {
            let msg = crate::settings::ignored_tty_option_message(&name);
            host::log(host::Level::Warn, &format!("sstp-rs: {msg}"));
        }
        1
    })
}

unsafe extern "C" fn ch_check_options() {
    guard::enter("check_options", (), channel::check_options)
}

unsafe extern "C" fn ch_connect() -> c_int {
    guard::enter("connect", -1, || {
        guard::fault_point("connect");
        channel::connect()
    })
}

unsafe extern "C" fn ch_disconnect() {
    guard::enter_cleanup("disconnect", (), channel::disconnect)
}

unsafe extern "C" fn ch_cleanup() {
    guard::enter_cleanup("cleanup", (), channel::cleanup)
}

unsafe extern "C" fn ch_close() {
    // Forked child: only closes fds (atomics, no locks, no allocation on the normal path).
    guard::enter_cleanup("close", (), channel::close_in_child)
}

/// Main-thread timer: drains the I/O thread's log queue and re-arms itself while a session
/// is active.
pub unsafe extern "C" fn drain_timer(_arg: *mut c_void) {
    guard::enter("drain timer", (), || {
        guard::fault_point("timer");
        if channel::drain() {
            host::timeout(drain_timer, channel::DRAIN_MS);
        }
    })
}

unsafe extern "C" fn notify_auth_up(_arg: *mut c_void, _v: c_int) {
    guard::enter("auth-up notifier", (), || {
        guard::fault_point("auth-up");
        channel::auth_up()
    })
}

unsafe extern "C" fn notify_phase(_arg: *mut c_void, phase: c_int) {
    guard::enter("phase-change notifier", (), || {
        channel::phase_changed(phase);
        channel::log_at(
            crate::settings::LogLevel::DEBUG,
            host::Level::Debug,
            &format!("sstp-rs: pppd phase {phase}"),
        );
    })
}

unsafe extern "C" fn notify_exit(_arg: *mut c_void, _v: c_int) {
    guard::enter_cleanup("exit notifier", (), channel::on_exit)
}

unsafe extern "C" fn notify_ip_up(_arg: *mut c_void, _v: c_int) {
    guard::enter("ip-up notifier", (), channel::ip_up)
}

unsafe extern "C" fn notify_ip_down(_arg: *mut c_void, _v: c_int) {
    guard::enter("ip-down notifier", (), || channel::ip_down("ip-down"))
}

unsafe extern "C" fn notify_ipv6_up(_arg: *mut c_void, _v: c_int) {
    guard::enter("ipv6-up notifier", (), channel::ipv6_up)
}

unsafe extern "C" fn notify_ipv6_down(_arg: *mut c_void, _v: c_int) {
    guard::enter("ipv6-down notifier", (), || channel::ip_down("ipv6-down"))
}

unsafe extern "C" fn notify_link_down(_arg: *mut c_void, _v: c_int) {
    guard::enter("link-down notifier", (), || {
        channel::log_at(
            crate::settings::LogLevel::DEBUG,
            host::Level::Debug,
            "sstp-rs: link down",
        );
    })
}

/// The last SIGTERM/SIGINT/SIGHUP pppd received (0: none). Written by [`notify_signaled`].
static SIGNALED: AtomicI32 = AtomicI32::new(0);

/// The signals that cancel a running connect (pppd calls `sigreceived` for exactly these).
pub const CANCEL_SIGNALS: [c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Called by pppd from INSIDE its SIGTERM/SIGINT/SIGHUP handler: only an atomic store is
/// async-signal-safe here (no guard, no lock, no allocation, no logging). A store cannot panic.
unsafe extern "C" fn notify_signaled(_arg: *mut c_void, sig: c_int) {
    SIGNALED.store(sig, Ordering::SeqCst);
}

/// Why the connect must stop, if a cancelling signal arrived (the connect's cancel input).
pub fn cancel_reason() -> Option<&'static str> {
    match SIGNALED.load(Ordering::SeqCst) {
        libc::SIGTERM => Some("SIGTERM"),
        libc::SIGINT => Some("SIGINT"),
        libc::SIGHUP => Some("SIGHUP"),
        _ => None,
    }
}

/// Forgets a SIGHUP before a new connect: pppd re-dials after a hang-up (`persist`), while
/// SIGTERM/SIGINT end pppd and stay in force.
pub fn forget_hangup() {
    let _ = SIGNALED.compare_exchange(libc::SIGHUP, 0, Ordering::SeqCst, Ordering::SeqCst);
}
