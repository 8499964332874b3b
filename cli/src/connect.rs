//! `sstp connect`: runs pppd with the sstp-rs plugin, gives it the password through an inherited
//! pipe, shows its log, prints the link configuration once it is up, and turns Ctrl-C into a
//! clean disconnect (SIGTERM to pppd, then wait for it).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::exit::{self, Exit};
use crate::link::{self, Change, LinkInfo};
use crate::password::{self, Password, PasswordError};
use crate::pppd::{self, InheritedFds, PppdRequest};
use crate::proxyfile;

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

/// How long pppd gets to hang up after SIGTERM before it is killed.
pub const TERM_GRACE: Duration = Duration::from_secs(20);

static SIGNAL_COUNT: AtomicU32 = AtomicU32::new(0);

/// Blocks SIGINT/SIGTERM/SIGHUP in this thread (and so in every thread started after it) and
/// counts them in a `sigwait` thread: no signal handler, so no `unsafe`. Call it first, before
/// any other thread exists. pppd and the other children start with an empty signal mask
/// ([`crate::child::command`] clears it). A blocking read is therefore not interrupted: waits
/// poll [`signals_received`] instead (the prompt every 100 ms, the main loop every 100 ms).
pub fn install_signal_handlers() -> io::Result<()> {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    set.thread_block()?;
    thread::Builder::new()
        .name("sstp-signals".into())
        .spawn(move || {
            while set.wait().is_ok() {
                SIGNAL_COUNT.fetch_add(1, Ordering::SeqCst);
            }
        })?;
    Ok(())
}

/// Number of SIGINT/SIGTERM/SIGHUP received so far.
pub fn signals_received() -> u32 {
    SIGNAL_COUNT.load(Ordering::SeqCst)
}

/// The `sstp connect` inputs (parsed by main).
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// pppd's arguments except the plugin path and fds.
    pub request: PppdRequest,
    /// `--plugin` given explicitly.
    pub plugin_given: bool,
    /// `--pppd`.
    pub pppd: Option<PathBuf>,
    /// `--password-file`.
    pub password_file: Option<PathBuf>,
    /// `--proxy-password-file`: sent, with the proxy user, through a pipe to the plugin's
    /// `sstp-proxy-auth-fd`.
    pub proxy_password_file: Option<PathBuf>,
    /// Use `sstp-ipc-fd` (needs root: the option is privileged).
    pub ipc: bool,
    /// Print the pppd command and exit.
    pub dry_run: bool,
}

fn err(msg: impl std::fmt::Display) {
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "sstp: {msg}");
    let _ = e.flush();
}

fn say(msg: impl std::fmt::Display) {
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "{msg}");
    let _ = e.flush();
}

/// Resolves pppd and the plugin path. Returns (pppd, plugin).
fn locate(o: &ConnectOptions) -> Result<(PathBuf, PathBuf), (Exit, String)> {
    let pppd = match &o.pppd {
        Some(p) => p.clone(),
        None => pppd::find_pppd().ok_or((
            Exit::PppdEnvironment,
            format!(
                "pppd not found in {}: install ppp or pass --pppd PATH",
                pppd::SYSTEM_DIRS.join(", ")
            ),
        ))?,
    };
    if o.plugin_given {
        let p = &o.request.plugin;
        if !p.is_file() {
            return Err((
                Exit::Usage,
                format!("--plugin {}: no such file", p.display()),
            ));
        }
        return Ok((pppd, absolute(p)));
    }
    let version = pppd::pppd_version(&pppd, Duration::from_secs(10)).ok();
    let candidates = pppd::plugin_candidates(pppd::BUILD_PLUGIN_DIR, version.as_deref());
    if let Some(c) = candidates.iter().find(|c| c.is_file()) {
        return Ok((pppd, c.clone()));
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    if let Some(dev) = exe_dir.as_deref().and_then(pppd::dev_plugin) {
        return Ok((pppd, dev));
    }
    Err((
        Exit::PppdEnvironment,
        format!(
            "the sstp-rs pppd plugin was not found (looked at: {}{}); install it or pass \
             --plugin PATH",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            exe_dir
                .map(|d| format!(", {}", d.join(pppd::PLUGIN_BUILD_FILE).display()))
                .unwrap_or_default()
        ),
    ))
}

/// `p` made absolute against the current directory.
pub fn absolute(p: &Path) -> PathBuf {
    // pppd resolves plugin names without '/' in its own directory: make it a path.
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| Path::new(".").join(p))
    }
}

fn get_password(o: &ConnectOptions) -> Result<Password, (Exit, String)> {
    let r = match &o.password_file {
        Some(f) => password::from_file(f).map(|(p, warning)| {
            if let Some(w) = warning {
                err(w);
            }
            p
        }),
        None => {
            if signals_received() > 0 {
                return Err((Exit::Interrupted, "interrupted".into()));
            }
            let (host, _) = &o.request.server.server;
            password::prompt(
                &format!("Password for {}@{host}: ", o.request.user),
                &|| signals_received() > 0,
            )
        }
    };
    r.map_err(|e| match e {
        PasswordError::Interrupted => (Exit::Interrupted, e.to_string()),
        PasswordError::Io(_) | PasswordError::NoTerminal => (Exit::Usage, e.to_string()),
        _ => (Exit::Usage, format!("password: {e}")),
    })
}

/// Settles where pppd gets the proxy credentials: with `--proxy-password-file`, reads the
/// password and returns (user, password) for the `sstp-proxy-auth-fd` pipe; with it or
/// `--proxy-auth-file`, takes the credentials out of the `sstp-proxy` URL (the file's win in
/// the plugin anyway). Warns about a password in the URL.
fn proxy_credentials(o: &mut ConnectOptions) -> Result<Option<(String, Password)>, String> {
    let Some(proxy) = o.request.server.proxy.as_mut() else {
        return Ok(None);
    };
    let url_password = proxy
        .credentials
        .as_ref()
        .is_some_and(|c| !c.password.is_empty());
    let secret = match &o.proxy_password_file {
        Some(f) => {
            let (pw, warning) =
                password::from_file(f).map_err(|e| format!("--proxy-password-file: {e}"))?;
            if let Some(w) = warning {
                err(w);
            }
            let user = proxy
                .credentials
                .as_ref()
                .map(|c| c.user.clone())
                .unwrap_or_default();
            proxyfile::check_credentials(&user, pw.expose())
                .map_err(|e| format!("--proxy-password-file: {e}"))?;
            Some((user, pw))
        }
        None => None,
    };
    if secret.is_some() || o.request.proxy_auth_file.is_some() {
        proxy.credentials = None;
        if url_password {
            err(
                "warning: the password in the --proxy URL is not used (--proxy-password-file or \
                 --proxy-auth-file wins) and is visible to other local users in the process list",
            );
        }
    } else if url_password {
        err(
            "warning: the proxy password goes on pppd's command line, visible to other local \
             users in the process list; use --proxy-user with --proxy-password-file instead",
        );
    }
    Ok(secret)
}

enum Msg {
    Line(String),
    Ipc(Vec<(String, String)>),
    IpcError(String),
    OutputClosed,
}

fn spawn_output_reader(r: OwnedFd, tx: mpsc::Sender<Msg>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut rd = BufReader::new(std::fs::File::from(r));
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match rd.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_owned();
                    if tx.send(Msg::Line(line)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(Msg::OutputClosed);
    })
}

fn spawn_ipc_reader(mut s: UnixStream, tx: mpsc::Sender<Msg>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
            loop {
                match link::decode(&buf) {
                    Ok((recs, used)) => {
                        buf.drain(..used);
                        if tx.send(Msg::Ipc(recs)).is_err() {
                            return;
                        }
                    }
                    Err(link::DecodeError::Incomplete) => break,
                    Err(e) => {
                        let _ = tx.send(Msg::IpcError(format!("{e:?}")));
                        return;
                    }
                }
            }
            if buf.len() > 64 * 1024 {
                let _ = tx.send(Msg::IpcError("oversized message".into()));
                return;
            }
        }
    })
}

fn routes(ifname: &str, v6: bool) -> Vec<String> {
    if ifname.is_empty()
        || !ifname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Vec::new();
    }
    let fam = if v6 { "-6" } else { "-4" };
    let Some(ip) = pppd::find_ip() else {
        return Vec::new();
    };
    match crate::child::command(ip)
        .args([fam, "route", "show", "dev", ifname])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

/// Clears close-on-exec on `fds`, just before `spawn`, so that pppd inherits them. They are
/// created close-on-exec and closed right after `spawn`, and no other thread starts a program
/// in between (the reader threads start later), so no other child gets them. Done here rather
/// than in the child's `pre_exec` hook, to keep that `unsafe` hook down to one call.
fn make_inheritable(fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    for fd in fds {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
    }
    Ok(())
}

fn output_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

fn send_signal(pid: u32, sig: Signal) {
    if let Ok(p) = i32::try_from(pid) {
        // At worst ESRCH (pppd has just exited).
        let _ = kill(Pid::from_raw(p), sig);
    }
}

/// `--peer-dns` while the link runs: applied at the first IPv4 up, undone once pppd has exited
/// (after its ip-down scripts: Debian's `usepeerdns` hook restores its own copy of
/// resolv.conf there, which still carries ours).
struct PeerDns {
    wanted: bool,
    all_queries: bool,
    applied: Option<crate::dns::Applied>,
}

impl PeerDns {
    fn new(r: &pppd::PppdRequest) -> Self {
        PeerDns {
            wanted: r.peer_dns,
            all_queries: r.default_route,
            applied: None,
        }
    }

    fn up(&mut self, info: &LinkInfo) {
        if !self.wanted || self.applied.is_some() {
            return;
        }
        let backend = crate::dns::Backend::detect();
        let ifname = info.ifname.as_deref().unwrap_or("");
        match crate::dns::apply(
            &backend,
            ifname,
            &crate::dns::addresses(&info.dns),
            self.all_queries,
        ) {
            Ok(a) => {
                say(match &a {
                    crate::dns::Applied::Resolved { .. } => {
                        format!("sstp: DNS servers set on {ifname} (systemd-resolved)")
                    }
                    crate::dns::Applied::ResolvConf { path, .. } => {
                        format!("sstp: DNS servers written to {}", path.display())
                    }
                });
                self.applied = Some(a);
            }
            Err(e) => err(format!("warning: --peer-dns: {e}")),
        }
    }

    fn down(&mut self) {
        if let Some(a) = self.applied.take() {
            match a.restore() {
                Ok(()) => say("sstp: DNS settings restored"),
                Err(e) => err(format!("warning: --peer-dns: {e}")),
            }
        }
    }
}

/// Runs `sstp connect`; returns the exit code.
pub fn run(mut o: ConnectOptions) -> Exit {
    if let Err(e) = install_signal_handlers() {
        err(format!("cannot install signal handlers: {e}"));
        return Exit::Internal;
    }
    let (pppd_path, plugin) = match locate(&o) {
        Ok(x) => x,
        Err((code, msg)) if o.dry_run && code == Exit::PppdEnvironment => {
            // Dry runs show the command even where pppd or the plugin is missing.
            err(format!("warning: {msg}"));
            let p = o.pppd.clone().unwrap_or_else(|| "pppd".into());
            let plugin = if o.plugin_given {
                o.request.plugin.clone()
            } else {
                PathBuf::from(pppd::PLUGIN_FILE)
            };
            (p, plugin)
        }
        Err((code, msg)) => {
            err(msg);
            return code;
        }
    };
    o.request.plugin = plugin;
    o.request.replace_default_route = pppd::knows_option(&pppd_path, "replacedefaultroute");
    if o.request.allow_weak_auth {
        err(pppd::WEAK_AUTH_WARNING);
    }
    let proxy_secret = match proxy_credentials(&mut o) {
        Ok(x) => x,
        Err(msg) => {
            err(msg);
            return Exit::Usage;
        }
    };

    if o.dry_run {
        // Validate the password file if given, but never print it; do not prompt.
        if let Some(f) = &o.password_file {
            if let Err(e) = password::from_file(f) {
                err(format!("password: {e}"));
                return Exit::Usage;
            }
        }
        // Placeholder fd numbers: the real ones are chosen at spawn time.
        let args = pppd::build_args(
            &o.request,
            InheritedFds {
                password: Some(3),
                ipc: o.ipc.then_some(4),
                proxy_auth: proxy_secret.is_some().then_some(5),
            },
        );
        println!("{}", pppd::display_command(&pppd_path, &args));
        return Exit::Ok;
    }

    let password = match get_password(&o) {
        Ok(p) => p,
        Err((code, msg)) => {
            err(msg);
            return code;
        }
    };
    if signals_received() > 0 {
        return Exit::Interrupted;
    }
    let pw_read = match password::password_pipe(&password) {
        Ok(r) => r,
        Err(e) => {
            err(format!("cannot create the password pipe: {e}"));
            return Exit::Internal;
        }
    };
    drop(password);
    let proxy_read = match proxy_secret {
        Some((user, pw)) => match proxyfile::auth_pipe(&user, pw.expose()) {
            Ok(r) => Some(r),
            Err(e) => {
                err(format!("cannot create the proxy credentials pipe: {e}"));
                return Exit::Internal;
            }
        },
        None => None,
    };

    let root = nix::unistd::geteuid().is_root();
    if !root {
        err(
            "warning: not running as root: pppd accepts `plugin` (and `sstp-ipc-fd`, \
             `sstp-proxy-auth-fd`) only from root, so expect \"must be root\" errors; run sstp \
             connect with sudo",
        );
    }
    let ipc_pair = if o.ipc && root {
        match UnixStream::pair() {
            Ok(p) => Some(p),
            Err(e) => {
                err(format!(
                    "warning: no sstp-ipc-fd socket ({e}); reading pppd's log instead"
                ));
                None
            }
        }
    } else {
        None
    };
    let (out_r, out_w) = match output_pipe() {
        Ok(p) => p,
        Err(e) => {
            err(format!("cannot create a pipe: {e}"));
            return Exit::Internal;
        }
    };
    let fds = InheritedFds {
        password: Some(pw_read.as_raw_fd()),
        ipc: ipc_pair.as_ref().map(|(_, child)| child.as_raw_fd()),
        proxy_auth: proxy_read.as_ref().map(AsRawFd::as_raw_fd),
    };
    let args = pppd::build_args(&o.request, fds);
    say(format!(
        "sstp: starting {}",
        pppd::display_command(&pppd_path, &args)
    ));

    let mut cmd = crate::child::command(&pppd_path);
    cmd.args(&args).stdin(Stdio::null());
    match (out_w.try_clone(), out_w) {
        (Ok(w2), w) => {
            cmd.stdout(Stdio::from(w)).stderr(Stdio::from(w2));
        }
        (Err(e), _) => {
            err(format!("cannot duplicate a pipe: {e}"));
            return Exit::Internal;
        }
    }
    // Its own process group: a terminal's Ctrl-C reaches only this program, which then asks
    // pppd to hang up.
    cmd.process_group(0);
    let mut inherit = vec![pw_read.as_fd()];
    inherit.extend(ipc_pair.as_ref().map(|(_, child)| child.as_fd()));
    inherit.extend(proxy_read.as_ref().map(AsFd::as_fd));
    if let Err(e) = make_inheritable(&inherit) {
        err(format!("cannot pass a pipe to pppd: {e}"));
        return Exit::Internal;
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            err(format!("cannot run {}: {e}", pppd_path.display()));
            return Exit::PppdEnvironment;
        }
    };
    // The child has its copies now.
    drop(cmd);
    drop(pw_read);
    drop(proxy_read);
    let pid = child.id();

    let (tx, rx) = mpsc::channel();
    let out_thread = spawn_output_reader(out_r, tx.clone());
    let ipc_used = ipc_pair.is_some();
    let ipc_thread = ipc_pair.map(|(mine, theirs)| {
        drop(theirs);
        spawn_ipc_reader(mine, tx.clone())
    });
    drop(tx);

    let mut info = LinkInfo::default();
    let mut dns = PeerDns::new(&o.request);
    let mut auth = pppd::AuthWatch::default();
    let mut summary_printed = false;
    let mut log_up_at: Option<Instant> = None;
    let mut forwarded = 0u32;
    let mut term_deadline: Option<Instant> = None;
    let mut killed = false;
    let mut output_closed = false;
    let status = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::Line(l)) => {
                say(&l);
                auth.line(&l);
                let c = info.apply_log_line(&l);
                if !ipc_used && c == Change::Ip4Up {
                    log_up_at = Some(Instant::now());
                }
            }
            Ok(Msg::Ipc(recs)) => match info.apply_ipc(&recs) {
                Change::Ip4Up => {
                    let r = routes(info.ifname.as_deref().unwrap_or(""), false);
                    say(info.summary(&r).trim_end());
                    summary_printed = true;
                    dns.up(&info);
                }
                Change::Ip6Up => {
                    let r = routes(info.ifname.as_deref().unwrap_or(""), true);
                    if !r.is_empty() || summary_printed {
                        say(format!(
                            "sstp: IPv6 is up: local fe80::{}, peer fe80::{}",
                            info.ip6_local_id.as_deref().unwrap_or("?"),
                            info.ip6_peer_id.as_deref().unwrap_or("?")
                        ));
                        for l in r {
                            say(format!("    {l}"));
                        }
                    }
                }
                Change::Ip4Down => {
                    say("sstp: IPv4 is down");
                    summary_printed = false;
                }
                Change::Ip6Down => say("sstp: IPv6 is down"),
                _ => {}
            },
            Ok(Msg::IpcError(e)) => err(format!("warning: unreadable sstp-ipc-fd record: {e}")),
            Ok(Msg::OutputClosed) => output_closed = true,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                thread::sleep(Duration::from_millis(50));
            }
        }
        // Fallback summary: pppd prints the DNS lines right after the addresses.
        if let Some(t) = log_up_at {
            if t.elapsed() > Duration::from_millis(400) && !summary_printed {
                let r = routes(info.ifname.as_deref().unwrap_or(""), false);
                say(info.summary(&r).trim_end());
                summary_printed = true;
                log_up_at = None;
                dns.up(&info);
            }
        }
        let n = signals_received();
        if n > forwarded {
            forwarded = n;
            say("sstp: disconnecting (sending SIGTERM to pppd) ...");
            send_signal(pid, Signal::SIGTERM);
            term_deadline.get_or_insert(Instant::now() + TERM_GRACE);
        }
        if let Some(d) = term_deadline {
            if !killed && Instant::now() > d {
                err(format!(
                    "pppd did not exit within {} s of SIGTERM; killing it",
                    TERM_GRACE.as_secs()
                ));
                let _ = child.kill();
                killed = true;
            }
        }
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => {
                err(format!("waiting for pppd: {e}"));
                let _ = child.kill();
                let _ = child.wait();
                return Exit::Internal;
            }
        }
    };
    // Show what pppd wrote last. The reader ends at EOF unless a process started by pppd (an
    // ip-up script's daemon) still holds the pipe: wait for EOF only briefly, never join.
    let drain_until = Instant::now() + Duration::from_secs(1);
    while !output_closed {
        let left = drain_until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Msg::Line(l)) => {
                say(&l);
                auth.line(&l);
            }
            Ok(Msg::OutputClosed) => output_closed = true,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    drop(out_thread);
    drop(ipc_thread);
    dns.down();
    let interrupted = forwarded > 0;
    let code = match status.code() {
        Some(c) => exit::for_pppd_status(c, interrupted),
        None => Exit::Internal,
    };
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("pppd exited with status {c}"),
        (None, Some(s)) => format!("pppd was killed by signal {s}"),
        _ => "pppd ended".to_owned(),
    };
    if code == Exit::Ok {
        say(format!("sstp: {how}; disconnected"));
    } else {
        err(format!(
            "{how}: {} (exit code {})",
            code.meaning(),
            code.code()
        ));
        if !o.request.allow_weak_auth && !interrupted && auth.ended_before_auth() {
            err(pppd::WEAK_AUTH_REFUSED);
        } else if matches!(
            code,
            Exit::ConnectPhase | Exit::Trust | Exit::PppNegotiation
        ) {
            err(format!(
                "for a step-by-step diagnosis run: sstp probe {}",
                o.request.server.server_option_value()
            ));
        }
    }
    code
}
