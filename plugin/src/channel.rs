//! The SSTP channel: connect (main thread, bounded), the I/O thread's lifecycle, disconnect,
//! cleanup and the fork-safe close hook.

use std::ffi::c_int;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::socket::{self, Shutdown};
use sstp_proto::{AuthMethod, Hlak};
use sstp_tunnel::bridge::{self, Command, ControlSender};

use crate::diag;
use crate::host::{self, ChannelMode, ExitStatus, Level};
use crate::io_thread::{IoLine, IoThread};
use crate::queue::Shared;
use crate::settings::{ChannelChoice, LogLevel, Settings};

/// Added to the I/O thread's own worst case when `disconnect`/`cleanup` wait for it.
const JOIN_MARGIN: Duration = Duration::from_secs(2);
/// How often the main-thread timer drains the I/O thread's queue.
pub const DRAIN_MS: u32 = 100;

/// How long `disconnect`/`cleanup` wait for the I/O thread: the client's disconnect timer
/// (CALL_DISCONNECT waits that long for the ACK), then the bridge's bounded close flush, plus a
/// margin, so a thread facing a server that does not read is joined, not left behind.
fn join_limit() -> Duration {
    with_settings(|s| s.client_config().disconnect_timeout)
        + bridge::CLOSE_FLUSH_LIMIT
        + JOIN_MARGIN
}

/// Process-wide plugin state (touched on pppd's main thread only; the mutex is uncontended).
pub struct Session {
    shared: Arc<Shared>,
    control: ControlSender,
    thread: Option<JoinHandle<()>>,
    /// "host:port" of the server as configured.
    pub server: String,
    /// The address connected to and the certificate's hashes (`sstp-ipc-fd` records).
    pub seen: Vec<(&'static str, String)>,
    authenticated: bool,
    /// pppd's device is the L2TP session socket: see [`drain`].
    l2tp: bool,
}

static SETTINGS: Mutex<Option<Settings>> = Mutex::new(None);
static SESSION: Mutex<Option<Session>> = Mutex::new(None);

/// fds the fork-safe `close` hook closes in children: pppd's device (pty slave or PPPoL2TP
/// session socket), the I/O thread's end (pty master or UDP socket), the TLS socket, the L2TP
/// tunnel's management socket and UDP socket. Plain atomics: the hook must not take locks.
/// (The control channel's sockets are close-on-exec.)
static FDS: [AtomicI32; 5] = [
    AtomicI32::new(-1),
    AtomicI32::new(-1),
    AtomicI32::new(-1),
    AtomicI32::new(-1),
    AtomicI32::new(-1),
];
const FD_DEVICE: usize = 0;
const FD_SOCKET: usize = 2;

/// pppd failed to authenticate us to the peer in the current session (set at the phase change
/// to TERMINATE that `auth_withpeer_fail` causes right after setting EXIT_AUTH_TOPEER_FAILED; a
/// later "Modem hangup" overwrites pppd's status with EXIT_HANGUP, this flag remembers).
static AUTH_FAILED: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on the settings (created with defaults on first use).
pub fn with_settings<R>(f: impl FnOnce(&mut Settings) -> R) -> R {
    let mut g = lock(&SETTINGS);
    f(g.get_or_insert_with(Settings::default))
}

fn settings() -> Settings {
    with_settings(|s| s.clone())
}

fn log_level() -> LogLevel {
    with_settings(|s| s.log_level)
}

/// Logs through pppd if the plugin's verbosity allows it.
pub fn log_at(min: LogLevel, level: Level, msg: &str) {
    if log_level() >= min {
        host::log(level, msg);
    }
}

/// channel.check_options: after all options are parsed.
pub fn check_options() {
    let s = settings();
    if let Err(e) = s.check() {
        host::option_error(&format!("sstp-rs: {e}"));
        host::set_status(ExitStatus::OptionError);
        host::die(ExitStatus::OptionError);
    }
    host::set_devnam(&s.devnam());
    // pppd's scripts (ip-up, ip-down and what they start) must not inherit the channel to the
    // CLI/NetworkManager: they could forge records or keep the reader from seeing EOF.
    if let Some(fd) = s.ipc_fd {
        host::set_cloexec(fd);
    }
}

/// channel.connect: returns pppd's device (the PPPoL2TP session socket or the pty slave) or -1
/// with pppd's status set.
pub fn connect() -> c_int {
    // A previous session (persist) must be gone.
    stop_session(false);
    AUTH_FAILED.store(false, Ordering::SeqCst);
    let s = settings();
    let cfg = match s.tunnel_config() {
        Ok(c) => c,
        Err(e) => {
            host::log(Level::Error, &format!("sstp-rs: {e}"));
            host::set_status(ExitStatus::OptionError);
            return -1;
        }
    };
    // The kernel L2TP line first: `sstp-channel l2tp` without kernel support fails before any
    // call to the server.
    let Ok(mut kernel_line) = open_kernel_line(s.channel) else {
        return -1;
    };
    let server = match &s.server {
        Some((h, p)) if h.contains(':') => format!("[{h}]:{p}"),
        Some((h, p)) => format!("{h}:{p}"),
        None => String::new(),
    };
    log_at(
        LogLevel::NOTICE,
        Level::Notice,
        &match &cfg.proxy {
            Some(p) => format!(
                "sstp-rs: connecting to {server} via proxy {}:{}",
                p.host, p.port
            ),
            None => format!("sstp-rs: connecting to {server}"),
        },
    );
    if cfg.min_tls < sstp_tunnel::TlsVersion::Tls12 {
        host::log(
            Level::Warn,
            &format!(
                "sstp-rs: sstp-tls-min {} allows TLS versions below 1.2 (weak handshake \
                 signatures); certificate chains are still checked at security level 1",
                cfg.min_tls
            ),
        );
    }
    let t0 = Instant::now();
    crate::exports::forget_hangup();
    let check = crate::exports::cancel_reason;
    let cancel = sstp_tunnel::Cancel::new(&check, &crate::exports::CANCEL_SIGNALS);
    let mut auth = sstp_tunnel::StandardProxyAuth::for_config(&cfg);
    let mut est = match sstp_tunnel::connect_cancellable(&cfg, &mut auth, &cancel) {
        Ok(e) => e,
        Err(e) => {
            host::log(Level::Error, &format!("sstp-rs: {e}"));
            host::set_status(diag::exit_for_category(e.category()));
            return -1;
        }
    };
    log_at(
        LogLevel::INFO,
        Level::Info,
        &format!(
            "sstp-rs: {} {} with {} ({}); server certificate: {} sha256:{}",
            est.tls_version,
            est.cipher,
            est.peer_addr,
            if est.via_proxy { "via proxy" } else { "direct" },
            est.cert.subject,
            est.cert.sha256_hex()
        ),
    );
    if let Some(t) = &est.accepted_untrusted {
        host::log(
            Level::Warn,
            &format!("sstp-rs: WARNING: accepted only because of sstp-cert-accept-untrusted: {t}"),
        );
    }
    // Before the tunnel can take the default route: pin the way to the TCP peer (events 14/15).
    if let Err(e) = crate::route::pin(est.stream.get_ref(), est.via_proxy) {
        host::log(Level::Error, &format!("sstp-rs: {e}"));
        host::set_status(diag::exit_for_category(e.category()));
        return -1;
    }
    let client = match bridge::negotiate_cancellable(&mut est, &s.client_config(), &cancel) {
        Ok(c) => c,
        Err(e) => {
            host::log(
                Level::Error,
                &format!("sstp-rs: SSTP negotiation failed: {e}"),
            );
            host::set_status(diag::exit_for_category(e.category()));
            return -1;
        }
    };
    let chosen = client
        .hash_protocol()
        .map(|h| h.to_string())
        .unwrap_or_else(|| "?".into());
    log_at(
        LogLevel::NOTICE,
        Level::Notice,
        &format!(
            "sstp-rs: SSTP call acknowledged by {} in {} ms (crypto binding {chosen})",
            est.peer_addr,
            t0.elapsed().as_millis()
        ),
    );

    // pppd's device and the I/O thread's end: the kernel L2TP line, else a pty pair.
    let (device, io_line, extra_fds) = match kernel_line.take() {
        Some(k) => {
            let raw = k.raw_fds();
            let (tunnel, session) = (k.line.tunnel_id, k.line.session_id);
            let (pppd_fd, kernel, line) = k.into_parts();
            log_at(
                LogLevel::INFO,
                Level::Info,
                &format!(
                    "sstp-rs: channel to pppd: kernel L2TP (tunnel {tunnel}, session {session}): \
                     whole PPP frames, no HDLC"
                ),
            );
            (
                pppd_fd.into_raw_fd(),
                IoLine::L2tp(line, kernel),
                [raw[1], raw[2]],
            )
        }
        None => {
            host::set_channel_mode(ChannelMode::Pty);
            let Some((master, slave, name)) = host::open_pty() else {
                host::log(Level::Error, "sstp-rs: cannot open a pty pair");
                host::set_status(ExitStatus::OpenFailed);
                return -1;
            };
            host::set_up_tty(slave);
            log_at(
                LogLevel::INFO,
                Level::Info,
                &format!("sstp-rs: channel to pppd: pty {name} (async HDLC)"),
            );
            (slave, IoLine::Pty(master), [-1, -1])
        }
    };
    let io_end = match &io_line {
        IoLine::Pty(m) => m.as_raw_fd(),
        IoLine::L2tp(l, _) => l.sock.as_raw_fd(),
    };

    let (control_tx, control_rx) = match bridge::control_channel() {
        Ok(c) => c,
        Err(e) => {
            host::log(
                Level::Error,
                &format!("sstp-rs: cannot create the control channel: {e}"),
            );
            drop(io_line);
            host::close_fd(device);
            host::set_status(ExitStatus::OpenFailed);
            return -1;
        }
    };
    let sock = est.stream.get_ref().as_raw_fd();
    host::set_cloexec(sock);
    let fds = [device, io_end, sock, extra_fds[0], extra_fds[1]];
    for (i, fd) in fds.into_iter().enumerate() {
        FDS[i].store(fd, Ordering::SeqCst);
    }

    let seen = crate::ipc::seen_records(
        &est.cert,
        est.peer_addr,
        est.via_proxy,
        est.accepted_untrusted.as_deref(),
    );
    let shared = Arc::new(Shared::new());
    let io = IoThread {
        est,
        client,
        line: io_line,
        control: control_rx,
        shared: shared.clone(),
        log_level: s.log_level,
    };
    let thread = match spawn_with_signals_blocked(io) {
        Ok(t) => t,
        Err(e) => {
            // The IoThread (and with it the master and the TLS socket) was dropped.
            host::log(
                Level::Error,
                &format!("sstp-rs: cannot start the I/O thread: {e}"),
            );
            forget_io_fds();
            close_fds_all();
            host::set_status(ExitStatus::FatalError);
            return -1;
        }
    };
    *lock(&SESSION) = Some(Session {
        shared,
        control: control_tx,
        thread: Some(thread),
        server,
        seen,
        authenticated: false,
        l2tp: extra_fds[0] >= 0,
    });
    host::timeout(crate::exports::drain_timer, DRAIN_MS);
    device
}

/// The kernel L2TP line for `sstp-channel` (`None`: use the pty), with pppd's channel mode set
/// for it. `Err` (status and log done) when `l2tp` was asked for and cannot be had.
fn open_kernel_line(choice: ChannelChoice) -> Result<Option<sstp_tunnel::l2tp::KernelLine>, ()> {
    if choice == ChannelChoice::Pty {
        return Ok(None);
    }
    let r = sstp_tunnel::l2tp::open().and_then(|k| {
        if host::set_channel_mode(ChannelMode::Frames) {
            Ok(k)
        } else {
            Err(sstp_tunnel::l2tp::L2tpError::Unavailable(format!(
                "pppd {} has no generic_establish_ppp",
                host::pppd_version()
            )))
        }
    });
    match r {
        Ok(k) => Ok(Some(k)),
        Err(e) if e.is_unavailable() && choice == ChannelChoice::Auto => {
            log_at(
                LogLevel::NOTICE,
                Level::Notice,
                &format!(
                    "sstp-rs: kernel L2TP (l2tp_ppp) unavailable ({e}); using the pty channel"
                ),
            );
            Ok(None)
        }
        Err(e) if e.is_unavailable() => {
            host::log(
                Level::Error,
                &format!(
                    "sstp-rs: kernel L2TP (l2tp_ppp) unavailable ({e}); sstp-channel l2tp needs \
                     it (modprobe l2tp_ppp), or use sstp-channel auto or pty"
                ),
            );
            host::set_status(ExitStatus::NoKernelSupport);
            Err(())
        }
        Err(e) => {
            host::log(
                Level::Error,
                &format!("sstp-rs: cannot set up the kernel L2TP channel: {e}"),
            );
            host::set_status(ExitStatus::OpenFailed);
            Err(())
        }
    }
}

/// Spawns the I/O thread with every signal blocked (pppd's handlers must run on the main
/// thread), restoring the main thread's mask afterwards.
fn spawn_with_signals_blocked(io: IoThread) -> std::io::Result<JoinHandle<()>> {
    let old = SigSet::all().thread_swap_mask(SigmaskHow::SIG_SETMASK)?;
    let r = std::thread::Builder::new()
        .name("sstp-io".into())
        .spawn(move || io.run());
    if let Err(e) = old.thread_set_mask() {
        host::log(
            Level::Error,
            &format!("sstp-rs: cannot restore the signal mask: {e}"),
        );
    }
    r
}

/// Called by the I/O thread right before it closes its line (pty master or L2TP sockets) and
/// the TLS socket: from
/// then on a fork child must not close those numbers (pppd may reuse them, e.g. while it runs
/// ip-down before `disconnect`).
pub fn forget_io_fds() {
    for fd in FDS.iter().skip(1) {
        fd.store(-1, Ordering::SeqCst);
    }
}

/// Main-thread drain of the I/O thread's log queue. Returns false when no session is active.
pub fn drain() -> bool {
    let g = lock(&SESSION);
    let Some(sess) = g.as_ref() else {
        return false;
    };
    let (lines, dropped) = sess.shared.take_logs();
    let hang_up = sess.l2tp && sess.shared.finished.load(Ordering::SeqCst);
    drop(g);
    for (level, line) in lines {
        host::log(level, &line);
    }
    if hang_up {
        hang_up_l2tp();
    }
    if dropped > 0 {
        host::log(
            Level::Warn,
            &format!("sstp-rs: {dropped} log lines dropped"),
        );
    }
    true
}

/// The I/O thread has ended on an L2TP line: close pppd's device, the PPPoL2TP session socket.
/// The kernel keeps the session's PPP channel registered as long as that socket is open, even
/// with the tunnel deleted, so without this pppd would never see the hang-up that a pty's
/// closed master gives it. Closing it unregisters the channel: pppd's read of its channel fd
/// returns 0 ("Modem hangup"). Main thread only (pppd's timer), so pppd cannot be using the
/// number meanwhile; in frames mode pppd never touches its `devfd` after establishing the link
/// (`generic_disestablish_ppp` ignores it) and `disconnect` finds the slot empty.
fn hang_up_l2tp() {
    let device = FDS[FD_DEVICE].swap(-1, Ordering::SeqCst);
    if device >= 0 {
        log_at(
            LogLevel::DEBUG,
            Level::Debug,
            "sstp-rs: SSTP session over; closing the L2TP session socket (hang-up for pppd)",
        );
        host::close_fd(device);
    }
}

/// auth-up notifier: read pppd's MPPE keys, derive the HLAK, hand it to the I/O thread, which
/// sends CALL_CONNECTED once.
pub fn auth_up() {
    let mut g = lock(&SESSION);
    let Some(sess) = g.as_mut() else {
        return;
    };
    if sess.authenticated {
        return;
    }
    sess.authenticated = true;
    let keys = host::mppe_keys();
    let (send, recv): (&[u8], &[u8]) = match &keys {
        Some(k) => (&k.send, &k.recv),
        None => (&[], &[]),
    };
    let method = host::auth_method(!send.is_empty());
    let (hlak, rule) = match Hlak::for_auth(method, send, recv, &host::pppd_version()) {
        Ok(h) => h,
        Err(e) => {
            // No correct binding is possible: say so now and end pppd, instead of sending a
            // binding the server would reject (or time out on) later.
            drop(g);
            host::log(Level::Error, &format!("sstp-rs: {e}"));
            host::die(diag::exit_for_hlak_error(&e));
        }
    };
    let what = format!(
        "{method}, MPPE keys {}+{} bytes -> HLAK: {rule}",
        send.len(),
        recv.len()
    );
    if hlak.is_zero() && method != AuthMethod::EapMsChapV2 {
        host::log(
            Level::Warn,
            "sstp-rs: WARNING: authentication gave no MPPE keys (PAP, CHAP-MD5, EAP-MD5 or no \
             authentication), so the crypto binding uses an all-zero key and cannot protect \
             this session against a TLS-intercepting device; use MS-CHAPv2 or EAP-TLS (pppd \
             options refuse-pap refuse-chap)",
        );
    }
    if let Err(e) = sess.control.send(Command::Authenticated { hlak }) {
        host::log(
            Level::Error,
            &format!("sstp-rs: cannot reach the I/O thread: {e}"),
        );
    }
    drop(g);
    log_at(
        LogLevel::INFO,
        Level::Info,
        &format!("sstp-rs: authentication done: {what}"),
    );
}

/// Stops the I/O thread: `graceful` sends CALL_DISCONNECT and waits for the ACK (bounded).
/// Then logs what the thread queued and applies its failure to pppd's status.
fn stop_session(graceful: bool) {
    let Some(mut sess) = lock(&SESSION).take() else {
        return;
    };
    host::untimeout(crate::exports::drain_timer);
    let _ = sess.control.send(Command::Disconnect);
    if !graceful {
        // No goodbye: end the TLS connection under the bridge's feet.
        // shutdown(2) only ends the connection; the fd stays the I/O thread's. The number is
        // -1 once the thread has closed it ([`forget_io_fds`]).
        let sock = FDS[FD_SOCKET].load(Ordering::SeqCst);
        if sock >= 0 {
            let _ = socket::shutdown(sock, Shutdown::Both);
        }
    }
    let deadline = Instant::now()
        + if graceful {
            join_limit()
        } else {
            Duration::from_secs(1)
        };
    while !sess.shared.finished.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if sess.shared.finished.load(Ordering::SeqCst) {
        if let Some(t) = sess.thread.take() {
            let _ = t.join();
        }
    } else {
        host::log(
            Level::Warn,
            "sstp-rs: the I/O thread did not stop in time; leaving it behind",
        );
    }
    let (lines, _) = sess.shared.take_logs();
    for (level, line) in lines {
        host::log(level, &line);
    }
    // pppd failed to authenticate us (e.g. MS-CHAP Failure E=691): auth-up never fired, so no
    // CALL_CONNECTED was sent and the crypto binding never came into play. pppd's own status
    // (EXIT_AUTH_TOPEER_FAILED) stands; a server hangup that follows must not replace it.
    let auth_failed = !sess.authenticated
        && (AUTH_FAILED.swap(false, Ordering::SeqCst)
            || host::status() == ExitStatus::AuthTopeerFailed as i32);
    if auth_failed {
        host::set_status(ExitStatus::AuthTopeerFailed);
        host::log(
            Level::Error,
            "sstp-rs: PPP authentication failed - check user name and password (the server \
             refused the credentials; no SSTP call was connected, so this is not a crypto \
             binding problem)",
        );
    }
    // A user's SIGTERM/SIGINT (pppd's EXIT_USER_REQUEST) explains the hang-up: a server that
    // disconnects or resets while the link is going down must not replace that status.
    let user_request = host::status() == ExitStatus::UserRequest as i32;
    if let Some((status, _msg)) = sess.shared.take_failure() {
        if !auth_failed && !user_request {
            host::set_status(status);
        }
    }
    // The master and the socket were closed by the thread (the slave is pppd's devfd, closed
    // in disconnect()).
    forget_io_fds();
}

/// phase-change notifier: notes an authentication failure (see [`AUTH_FAILED`]).
pub fn phase_changed(phase: c_int) {
    if phase != pppd_sys::SSTP_SHIM_PHASE_TERMINATE as c_int
        || host::status() != ExitStatus::AuthTopeerFailed as i32
    {
        return;
    }
    if lock(&SESSION).as_ref().is_some_and(|s| !s.authenticated) {
        AUTH_FAILED.store(true, Ordering::SeqCst);
    }
}

/// channel.disconnect: pppd is done with the link.
pub fn disconnect() {
    stop_session(true);
    crate::route::remove();
    let device = FDS[FD_DEVICE].swap(-1, Ordering::SeqCst);
    if device >= 0 {
        // The pty slave or L2TP session socket is ours (pppd's devfd); pppd stops using it
        // after disconnect.
        host::close_fd(device);
    }
}

/// channel.cleanup: pppd exits or gives up on this connection attempt.
pub fn cleanup() {
    stop_session(true);
    crate::route::remove();
}

/// exit notifier.
pub fn on_exit() {
    stop_session(false);
    crate::route::remove();
}

/// channel.close: runs in forked children before exec. Only closes fds (no locks, no
/// allocation): only the forking thread survives fork().
pub fn close_in_child() {
    close_fds_all();
}

fn close_fds_all() {
    for fd in FDS.iter() {
        let f = fd.swap(-1, Ordering::SeqCst);
        if f >= 0 {
            // An fd number we recorded; in a child this only affects the child.
            host::close_fd(f);
        }
    }
}

/// ip-up: hand the IPv4 configuration to `sstp-ipc-fd`, if given.
pub fn ip_up() {
    let Some(fd) = with_settings(|s| s.ipc_fd) else {
        return;
    };
    let (server, seen) = lock(&SESSION)
        .as_ref()
        .map(|s| (s.server.clone(), s.seen.clone()))
        .unwrap_or_default();
    let c = host::ip4_config();
    let ifname = host::ifname();
    let mut recs = crate::ipc::ip4_records(&ifname, &server, c.local, c.peer, [c.dns1, c.dns2]);
    recs.extend(seen);
    if let Some(mtu) = link_mtu(&ifname) {
        recs.push(("mtu", mtu.to_string()));
    }
    write_ipc(fd, &recs);
}

/// The interface's MTU as the kernel has it after LCP (`/sys/class/net/IF/mtu`).
fn link_mtu(ifname: &str) -> Option<u32> {
    let plain = !ifname.is_empty()
        && ifname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return None;
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{ifname}/mtu")).ok()?;
    text.trim().parse().ok()
}

/// ipv6-up: interface identifiers to `sstp-ipc-fd`.
pub fn ipv6_up() {
    let Some(fd) = with_settings(|s| s.ipc_fd) else {
        return;
    };
    let (l, p) = host::ip6_ids();
    let recs = vec![
        ("event", "ipv6-up".to_string()),
        ("ifname", host::ifname()),
        ("ip6.local-id", crate::ipc::iid(l)),
        ("ip6.peer-id", crate::ipc::iid(p)),
    ];
    write_ipc(fd, &recs);
}

/// ip-down / ipv6-down.
pub fn ip_down(event: &'static str) {
    let Some(fd) = with_settings(|s| s.ipc_fd) else {
        return;
    };
    write_ipc(
        fd,
        &[("event", event.to_string()), ("ifname", host::ifname())],
    );
}

/// An error-level log line also goes to `sstp-ipc-fd` (`event=error`, `message=`), so the
/// NetworkManager service can put the plugin's own sentence where the user sees it. Skipped
/// when the settings are locked (a line logged while they are in use).
pub fn forward_error(msg: &str) {
    let fd = match SETTINGS.try_lock() {
        Ok(g) => g.as_ref().and_then(|s| s.ipc_fd),
        Err(std::sync::TryLockError::Poisoned(g)) => g.into_inner().as_ref().and_then(|s| s.ipc_fd),
        Err(std::sync::TryLockError::WouldBlock) => None,
    };
    if let Some(fd) = fd {
        write_ipc(
            fd,
            &[("event", "error".into()), ("message", msg.to_owned())],
        );
    }
}

fn write_ipc(fd: RawFd, recs: &[(&str, String)]) {
    let msg = crate::ipc::encode(recs);
    if let Err(e) = crate::ipc::write_bounded(fd, &msg, Duration::from_millis(500)) {
        host::log(Level::Warn, &format!("sstp-rs: sstp-ipc-fd {fd}: {e}"));
    }
}
