//! Safe wrappers over pppd (through the pppd-sys shim). Main thread only: callers are inside a
//! [`crate::guard`] entry, which has checked the thread.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use pppd_sys as sys;
use zeroize::Zeroizing;

/// pppd log levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `dbglog`
    Debug,
    /// `info`
    Info,
    /// `notice`
    Notice,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

/// pppd exit statuses the plugin uses (same numbers in 2.4.9 and 2.5.x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitStatus {
    /// EXIT_FATAL_ERROR
    FatalError = sys::SSTP_SHIM_EXIT_FATAL_ERROR as i32,
    /// EXIT_OPTION_ERROR
    OptionError = sys::SSTP_SHIM_EXIT_OPTION_ERROR as i32,
    /// EXIT_NO_KERNEL_SUPPORT
    NoKernelSupport = sys::SSTP_SHIM_EXIT_NO_KERNEL_SUPPORT as i32,
    /// EXIT_USER_REQUEST
    UserRequest = sys::SSTP_SHIM_EXIT_USER_REQUEST as i32,
    /// EXIT_OPEN_FAILED
    OpenFailed = sys::SSTP_SHIM_EXIT_OPEN_FAILED as i32,
    /// EXIT_CONNECT_FAILED
    ConnectFailed = sys::SSTP_SHIM_EXIT_CONNECT_FAILED as i32,
    /// EXIT_NEGOTIATION_FAILED
    NegotiationFailed = sys::SSTP_SHIM_EXIT_NEGOTIATION_FAILED as i32,
    /// EXIT_PEER_AUTH_FAILED
    PeerAuthFailed = sys::SSTP_SHIM_EXIT_PEER_AUTH_FAILED as i32,
    /// EXIT_PEER_DEAD
    PeerDead = sys::SSTP_SHIM_EXIT_PEER_DEAD as i32,
    /// EXIT_HANGUP
    Hangup = sys::SSTP_SHIM_EXIT_HANGUP as i32,
    /// EXIT_AUTH_TOPEER_FAILED
    AuthTopeerFailed = sys::SSTP_SHIM_EXIT_AUTH_TOPEER_FAILED as i32,
}

/// Turns `s` into a C string, replacing interior NULs (never fails).
pub fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

/// Logs a preformatted line (passed to pppd as `"%s"`, never as a format).
pub fn log(level: Level, msg: &str) {
    let c = cstring(msg);
    let l = match level {
        Level::Debug => sys::SSTP_SHIM_LOG_DEBUG,
        Level::Info => sys::SSTP_SHIM_LOG_INFO,
        Level::Notice => sys::SSTP_SHIM_LOG_NOTICE,
        Level::Warn => sys::SSTP_SHIM_LOG_WARN,
        Level::Error => sys::SSTP_SHIM_LOG_ERROR,
    };
    // SAFETY: main thread (guard); `c` is a valid NUL-terminated string for the call.
    unsafe { sys::sstp_shim_log(l as c_int, c.as_ptr()) }
    if level == Level::Error {
        crate::channel::forward_error(msg);
    }
}

/// Whether pppd's `debug` option is set.
pub fn debug_enabled() -> bool {
    // SAFETY: main thread; reads a pppd global.
    unsafe { sys::sstp_shim_debug_enabled() != 0 }
}

/// Reports an option error through pppd's option parser.
pub fn option_error(msg: &str) {
    let c = cstring(msg);
    // SAFETY: main thread; valid C string; the shim passes it as "%s".
    unsafe { sys::sstp_shim_option_error(c.as_ptr()) }
}

/// Sets pppd's exit status.
pub fn set_status(s: ExitStatus) {
    // SAFETY: main thread; writes a pppd global.
    unsafe { sys::sstp_shim_set_status(s as i32) }
}

/// pppd's exit status.
pub fn status() -> i32 {
    // SAFETY: main thread; reads a pppd global.
    unsafe { sys::sstp_shim_get_status() }
}

/// Cleans up and exits pppd. Does not return.
pub fn die(s: ExitStatus) -> ! {
    // SAFETY: main thread; die() runs pppd's cleanup and exits the process.
    unsafe { sys::sstp_shim_die(s as i32) };
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Starts an orderly LCP shutdown.
pub fn lcp_close(reason: &'static CStr) {
    // SAFETY: main thread; `reason` is static, pppd may keep the pointer.
    unsafe { sys::sstp_shim_lcp_close(reason.as_ptr()) }
}

/// pppd's interface name ("ppp0"), empty before the unit exists.
pub fn ifname() -> String {
    // SAFETY: main thread; the shim returns a pointer to a NUL-terminated pppd buffer.
    unsafe {
        let p = sys::sstp_shim_ifname();
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Sets pppd's device name (shown in "Connect: ppp0 <--> ...").
pub fn set_devnam(name: &str) {
    let c = cstring(name);
    // SAFETY: main thread; pppd copies the string.
    unsafe { sys::sstp_shim_set_devnam(c.as_ptr()) }
}

/// Notifier kinds.
#[derive(Clone, Copy, Debug)]
pub enum Notify {
    /// Authentication finished (or was not required): before the NCPs.
    AuthUp,
    /// Phase change; value = new phase.
    PhaseChange,
    /// pppd exits; value = exit status.
    Exit,
    /// IPCP up.
    IpUp,
    /// IPCP down.
    IpDown,
    /// IPV6CP up.
    Ipv6Up,
    /// IPV6CP down.
    Ipv6Down,
    /// Link down.
    LinkDown,
    /// SIGTERM/SIGINT/SIGHUP arrived; value = signal. Runs INSIDE the signal handler.
    Signaled,
}

/// A notifier callback.
pub type NotifyFn = unsafe extern "C" fn(arg: *mut c_void, value: c_int);

/// Registers a notifier.
pub fn add_notify(kind: Notify, f: NotifyFn) {
    let k = match kind {
        Notify::AuthUp => sys::SSTP_SHIM_NOTIFY_AUTH_UP,
        Notify::PhaseChange => sys::SSTP_SHIM_NOTIFY_PHASE_CHANGE,
        Notify::Exit => sys::SSTP_SHIM_NOTIFY_EXIT,
        Notify::IpUp => sys::SSTP_SHIM_NOTIFY_IP_UP,
        Notify::IpDown => sys::SSTP_SHIM_NOTIFY_IP_DOWN,
        Notify::Ipv6Up => sys::SSTP_SHIM_NOTIFY_IPV6_UP,
        Notify::Ipv6Down => sys::SSTP_SHIM_NOTIFY_IPV6_DOWN,
        Notify::LinkDown => sys::SSTP_SHIM_NOTIFY_LINK_DOWN,
        Notify::Signaled => sys::SSTP_SHIM_NOTIFY_SIGNALED,
    };
    // SAFETY: main thread; `f` is a 'static function.
    unsafe {
        sys::sstp_shim_add_notify(k as c_int, Some(f), std::ptr::null_mut());
    }
}

/// A timer callback.
pub type TimerFn = unsafe extern "C" fn(arg: *mut c_void);

/// Arms a one-shot pppd timer.
pub fn timeout(f: TimerFn, ms: u32) {
    // SAFETY: main thread; `f` is a 'static function, arg unused.
    unsafe { sys::sstp_shim_timeout(Some(f), std::ptr::null_mut(), ms) }
}

/// Cancels a pppd timer.
pub fn untimeout(f: TimerFn) {
    // SAFETY: main thread.
    unsafe { sys::sstp_shim_untimeout(Some(f), std::ptr::null_mut()) }
}

/// MPPE keys as pppd holds them after authentication (16 bytes each on 2.4.9, up to 32 on 2.5).
/// Wiped on drop.
pub struct MppeKeys {
    /// MasterSendKey (client side).
    pub send: Zeroizing<Vec<u8>>,
    /// MasterReceiveKey.
    pub recv: Zeroizing<Vec<u8>>,
}

/// Reads the MPPE keys; `None` when pppd has none (PAP, CHAP-MD5, no auth).
pub fn mppe_keys() -> Option<MppeKeys> {
    let mut send = Zeroizing::new([0u8; 32]);
    let mut recv = Zeroizing::new([0u8; 32]);
    let (mut sl, mut rl) = (0usize, 0usize);
    // SAFETY: main thread; buffers of 32 bytes with cap 32; out-pointers valid.
    let set = unsafe {
        sys::sstp_shim_get_mppe_keys(send.as_mut_ptr(), recv.as_mut_ptr(), 32, &mut sl, &mut rl)
    };
    (set != 0).then(|| MppeKeys {
        send: Zeroizing::new(send[..sl.min(32)].to_vec()),
        recv: Zeroizing::new(recv[..rl.min(32)].to_vec()),
    })
}

/// The authentication this side performed towards the server (pppd's LCP and EAP state).
/// EAP that is neither EAP-TLS nor PEAP is EAP-MSCHAPv2 when it set MPPE keys, else EAP-MD5.
/// Call from the auth-up notifier.
pub fn auth_method(keys_set: bool) -> sstp_proto::AuthMethod {
    use sstp_proto::AuthMethod as M;
    // SAFETY: main thread; reads pppd's LCP/EAP state.
    let raw = unsafe { sys::sstp_shim_auth_method() };
    match raw as u32 {
        sys::SSTP_SHIM_AUTH_PAP => M::Pap,
        sys::SSTP_SHIM_AUTH_CHAP_MD5 => M::ChapMd5,
        sys::SSTP_SHIM_AUTH_MSCHAP => M::MsChap,
        sys::SSTP_SHIM_AUTH_MSCHAP_V2 => M::MsChapV2,
        sys::SSTP_SHIM_AUTH_EAP_TLS => M::EapTls,
        sys::SSTP_SHIM_AUTH_PEAP => M::Peap,
        sys::SSTP_SHIM_AUTH_EAP_OTHER if keys_set => M::EapMsChapV2,
        sys::SSTP_SHIM_AUTH_EAP_OTHER => M::EapOther,
        _ => M::None,
    }
}

/// The pppd version the plugin was built for ("2.4.9", "2.5.2").
pub fn pppd_version() -> String {
    // SAFETY: returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(sys::sstp_shim_pppd_version()) }
        .to_string_lossy()
        .into_owned()
}

/// The channel methods implemented by the plugin.
pub struct ChannelOps {
    /// check_options
    pub check_options: unsafe extern "C" fn(),
    /// connect: returns the pty slave fd or -1.
    pub connect: unsafe extern "C" fn() -> c_int,
    /// disconnect
    pub disconnect: unsafe extern "C" fn(),
    /// cleanup
    pub cleanup: unsafe extern "C" fn(),
    /// close (runs in forked children: only closes fds)
    pub close: unsafe extern "C" fn(),
    /// o_wild matcher of the channel's option table: (name, doit) -> 1 if ignored here.
    pub ignored_option: unsafe extern "C" fn(*const c_char, c_int) -> c_int,
}

/// Installs the SSTP channel as `the_channel`.
pub fn set_channel(ops: &ChannelOps) {
    let c = sys::sstp_shim_channel_ops {
        check_options: Some(ops.check_options),
        connect: Some(ops.connect),
        disconnect: Some(ops.disconnect),
        cleanup: Some(ops.cleanup),
        close: Some(ops.close),
        ignored_option: Some(ops.ignored_option),
    };
    // SAFETY: main thread; the shim copies the function pointers.
    unsafe { sys::sstp_shim_set_channel(&c) }
}

/// How pppd attaches the fd `connect` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelMode {
    /// A pty slave: pppd's tty_* functions (ppp_async, HDLC).
    Pty,
    /// A PPP channel socket (PPPoL2TP): generic_establish_ppp, no async LCP options.
    Frames,
}

/// Selects the channel mode for the link being connected (from `connect`, before LCP).
/// `Frames` switches off ACFC, PFC and async-map negotiation; `Pty` restores them. False if
/// this pppd cannot attach a PPP channel socket.
pub fn set_channel_mode(mode: ChannelMode) -> bool {
    let m = match mode {
        ChannelMode::Pty => sys::SSTP_SHIM_CHANNEL_PTY,
        ChannelMode::Frames => sys::SSTP_SHIM_CHANNEL_FRAMES,
    };
    // SAFETY: main thread; writes the shim's mode and pppd's LCP option globals.
    unsafe { sys::sstp_shim_set_channel_mode(m as c_int) == 0 }
}

/// Opens a pty pair through pppd's get_pty. Returns (master, slave, slave name).
pub fn get_pty() -> Option<(c_int, c_int, String)> {
    let (mut m, mut s) = (-1, -1);
    let mut name = [0 as c_char; 64];
    // SAFETY: main thread; out-pointers valid; name buffer 64 bytes.
    let ok = unsafe { sys::sstp_shim_get_pty(&mut m, &mut s, name.as_mut_ptr(), name.len()) };
    if ok == 0 {
        return None;
    }
    // SAFETY: the shim NUL-terminates within the buffer.
    let n = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Some((m, s, n))
}

/// pppd's set_up_tty(fd, local): raw mode as for pppd's own `pty` option.
pub fn set_up_tty(fd: c_int) {
    // SAFETY: main thread; fd is an open tty.
    unsafe { sys::sstp_shim_set_up_tty(fd) }
}

/// IPv4 configuration negotiated by IPCP.
pub fn ip4_config() -> sys::sstp_shim_ip4_config {
    let mut c = sys::sstp_shim_ip4_config {
        local: 0,
        peer: 0,
        dns1: 0,
        dns2: 0,
    };
    // SAFETY: main thread; out-pointer valid.
    unsafe { sys::sstp_shim_ip4_config(&mut c) };
    c
}

/// Which default routes pppd will set through the interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefaultRoutes {
    /// `defaultroute`
    pub v4: bool,
    /// `replacedefaultroute`
    pub replace_v4: bool,
    /// `defaultroute6`
    pub v6: bool,
}

/// pppd's default-route options (ipcp/ipv6cp want-options).
pub fn default_routes() -> DefaultRoutes {
    // SAFETY: main thread; reads pppd's option globals.
    let bits = unsafe { sys::sstp_shim_default_route() } as u32;
    DefaultRoutes {
        v4: bits & sys::SSTP_SHIM_DEFAULT_ROUTE4 != 0,
        replace_v4: bits & sys::SSTP_SHIM_REPLACE_DEFAULT_ROUTE4 != 0,
        v6: bits & sys::SSTP_SHIM_DEFAULT_ROUTE6 != 0,
    }
}

/// IPv6 interface identifiers negotiated by IPV6CP (local, peer).
pub fn ip6_ids() -> ([u8; 8], [u8; 8]) {
    let (mut l, mut p) = ([0u8; 8], [0u8; 8]);
    // SAFETY: main thread; two 8-byte buffers.
    unsafe { sys::sstp_shim_ip6_ids(l.as_mut_ptr(), p.as_mut_ptr()) };
    (l, p)
}

/// Inside the option handler: whether the option being parsed comes from a privileged source
/// (root, or a root-owned options/peers file), as pppd's `privileged_option` says.
pub fn option_privileged() -> bool {
    // SAFETY: main thread, inside pppd's option parsing; reads one int.
    unsafe { sys::sstp_shim_option_privileged() != 0 }
}

/// Takes ownership of the inherited descriptor `fd` named by an option (e.g.
/// `sstp-proxy-auth-fd`), if it is open. pppd's invoker passed it for exactly this use.
pub fn take_fd(fd: c_int) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    nix::fcntl::fcntl(
        // SAFETY: only borrowed for the F_GETFD probe below.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        nix::fcntl::FcntlArg::F_GETFD,
    )
    .ok()?;
    // SAFETY: `fd` is open (probed above), was inherited for this option, and nothing else in
    // the process uses it: ownership (and closing it) is ours from here on.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Registers the plugin's options. `handler(index, value)` returns 1 to accept.
pub fn add_options(
    table: &'static [sys::sstp_shim_option],
    handler: unsafe extern "C" fn(u32, *const c_char) -> c_int,
) -> bool {
    // SAFETY: main thread; the table and its strings are 'static.
    unsafe { sys::sstp_shim_add_options(table.as_ptr(), table.len() as u32, Some(handler)) == 0 }
}

// ---------------------------------------------------------------------------------------------
// File descriptors and signals: the few raw libc calls the channel needs (fd numbers that pppd
// or the C API hands over), kept here so that the rest of the plugin has no `unsafe`.
// ---------------------------------------------------------------------------------------------

/// Sets close-on-exec on `fd` (pppd's scripts must not inherit it). Errors are ignored: an fd
/// that is not open has nothing to leak.
pub fn set_cloexec(fd: std::os::fd::RawFd) {
    // SAFETY: fcntl(2) on an fd number has no memory effects; a bad fd only returns EBADF.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFD);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFD, fl | libc::FD_CLOEXEC);
        }
    }
}

/// A pty pair from pppd's get_pty, both ends close-on-exec: (master, slave, slave name). The
/// master is owned (the I/O thread's); the slave becomes pppd's devfd (closed with
/// [`close_fd`] in `disconnect`).
pub fn open_pty() -> Option<(std::os::fd::OwnedFd, std::os::fd::RawFd, String)> {
    let (master, slave, name) = get_pty()?;
    set_cloexec(master);
    set_cloexec(slave);
    // SAFETY: get_pty just opened `master`; nothing else owns it.
    let master: std::os::fd::OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(master) };
    Some((master, slave, name))
}

/// close(2) on an fd number the plugin recorded (async-signal-safe: used in fork children).
pub fn close_fd(fd: std::os::fd::RawFd) {
    // SAFETY: closing a number we own (or, in a fork child, the child's copy of it).
    unsafe { libc::close(fd) };
}

/// poll(2) on one fd for `events`, up to `ms` milliseconds; returns `revents` (0 on timeout).
pub fn poll_one(fd: std::os::fd::RawFd, events: i16, ms: i32) -> std::io::Result<i16> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(if r == 0 { 0 } else { p.revents })
}

/// write(2) that cannot raise SIGPIPE (for fds that are not sockets, where MSG_NOSIGNAL does
/// not exist): SIGPIPE is blocked on this thread around the write, and one it raised is
/// consumed before the old mask comes back. pppd's `bad_signal` would otherwise `die(127)`.
pub fn write_without_sigpipe(fd: std::os::fd::RawFd, buf: &[u8]) -> std::io::Result<usize> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset/sigaddset/sigpending; the
    // masks are this thread's; `buf` is valid for reads of its length; sigtimedwait with a zero
    // timeout only dequeues a SIGPIPE that is pending for this thread.
    unsafe {
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let n = libc::write(fd, buf.as_ptr().cast(), buf.len());
        let result = if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as usize)
        };
        if !was_pending && matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        result
    }
}
