//! `nm-sstp-service`: the `org.freedesktop.NetworkManager.VPN.Plugin` object NetworkManager
//! drives (zbus). Connect parses the connection ([`crate::nm_connection`]), translates it
//! ([`crate::pppd_args`]), starts pppd with the secrets in pipes and the plugin's
//! `sstp-ipc-fd`, turns the plugin's records into `Config`/`Ip4Config`/`Ip6Config`
//! ([`crate::nm_config`]) and pppd's exit status into `Failure` ([`crate::failure`]).

use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sstp_cli::link::{Change, LinkInfo};
use zbus::zvariant::Value;

use crate::failure::{self, outcome, NmFailure, Outcome};
use crate::nm_config::{self, Report};
use crate::nm_connection::{Connection, ConnectionDict};
use crate::pppd_args::{self, Fds, Launch};
use crate::settings::{needed_secrets, ConnectionType, NmSettings};

/// Object path of the plugin.
pub const PATH: &str = "/org/freedesktop/NetworkManager/VPN/Plugin";
/// Interface name.
pub const IFACE: &str = "org.freedesktop.NetworkManager.VPN.Plugin";
/// The message with SecretsRequired after a wrong password (or a rejected crypto binding).
pub const REAUTH_MESSAGE: &str = "sstp-rs: PPP authentication failed - check user name and \
     password (or the server rejected the crypto binding)";

/// Seconds of idleness before the service quits (libnm's `NM_VPN_SERVICE_PLUGIN_QUIT_TIMER`).
pub const QUIT_AFTER_SECS: u64 = 180;

/// `NMVpnServiceState`.
#[allow(missing_docs)]
pub mod state {
    pub const INIT: u32 = 1;
    pub const STARTING: u32 = 3;
    pub const STARTED: u32 = 4;
    pub const STOPPING: u32 = 5;
    pub const STOPPED: u32 = 6;
}

/// Command line of the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceArgs {
    /// `--bus-name` (default [`crate::keys::SERVICE`]).
    pub bus_name: String,
    /// `--persist`: never quit when idle.
    pub persist: bool,
    /// `--debug`.
    pub debug: bool,
    /// `--pppd PATH` (default: the first of `/usr/sbin/pppd`, `/sbin/pppd`).
    pub pppd: Option<PathBuf>,
    /// `--plugin PATH`: the sstp-rs plugin (default: found as `sstp connect` finds it).
    pub plugin: Option<PathBuf>,
}

/// Parses the service's arguments (without the program name).
pub fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<ServiceArgs, String> {
    let mut a = ServiceArgs {
        bus_name: crate::keys::SERVICE.into(),
        persist: false,
        debug: false,
        pppd: None,
        plugin: None,
    };
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| it.next().ok_or_else(|| format!("{what} needs a value"));
        match arg.as_str() {
            "--bus-name" => a.bus_name = value("--bus-name")?,
            "--persist" => a.persist = true,
            "--debug" => a.debug = true,
            "--pppd" => a.pppd = Some(value("--pppd")?.into()),
            "--plugin" => a.plugin = Some(value("--plugin")?.into()),
            other => {
                return Err(format!(
                    "unknown option {:?}",
                    sstp_proto::http::sanitize(other)
                ))
            }
        }
    }
    let prefix = format!("{}.", crate::keys::SERVICE);
    if a.bus_name != crate::keys::SERVICE && !a.bus_name.starts_with(&prefix) {
        return Err(format!(
            "--bus-name must be {} or a name below it",
            crate::keys::SERVICE
        ));
    }
    Ok(a)
}

/// Errors NetworkManager understands (`NM_VPN_PLUGIN_ERROR_*`).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.freedesktop.NetworkManager.VPN.Error")]
pub enum VpnError {
    /// A D-Bus error.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The connection's settings cannot be used.
    BadArguments(String),
    /// pppd could not be started.
    LaunchFailed(String),
    /// Connect while a connection is running.
    WrongState(String),
}

/// What the running connection shares between the D-Bus methods and its threads.
pub struct Shared {
    state: u32,
    pppd: Option<nix::unistd::Pid>,
    disconnecting: bool,
    /// Started with ConnectInteractive: a wrong password asks for new secrets.
    interactive: bool,
    /// Waiting for NewSecrets after SecretsRequired.
    awaiting_secrets: bool,
    /// What the plugin reported for the running connection (its records, error sentences
    /// included).
    link: LinkInfo,
    /// pppd's arguments for the running connection (no secret is ever among them).
    args: Vec<String>,
    /// `connection.id` of the running connection (for hints in the log).
    id: String,
    /// Last change to STOPPED or INIT (the idle timer).
    pub idle_since: Option<Instant>,
}

/// The plugin object.
pub struct Plugin {
    args: ServiceArgs,
    shared: Arc<Mutex<Shared>>,
}

impl Plugin {
    /// A plugin in state INIT.
    pub fn new(args: ServiceArgs) -> Plugin {
        Plugin {
            args,
            shared: Arc::new(Mutex::new(Shared {
                state: state::INIT,
                pppd: None,
                disconnecting: false,
                interactive: false,
                awaiting_secrets: false,
                link: LinkInfo::default(),
                args: Vec::new(),
                id: String::new(),
                idle_since: Some(Instant::now()),
            })),
        }
    }

    /// The state shared with the threads (for the idle timer and SIGTERM).
    pub fn shared(&self) -> Arc<Mutex<Shared>> {
        self.shared.clone()
    }
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Emits one of the interface's signals.
fn emit<B>(conn: &zbus::blocking::Connection, name: &str, body: &B)
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    if let Err(e) = conn.emit_signal(None::<()>, PATH, IFACE, name, body) {
        eprintln!("nm-sstp-service: cannot emit {name}: {e}");
    }
}

fn set_state(conn: &zbus::blocking::Connection, shared: &Mutex<Shared>, st: u32) {
    {
        let mut s = lock(shared);
        s.state = st;
        s.idle_since = matches!(st, state::STOPPED | state::INIT).then(Instant::now);
    }
    emit(conn, "StateChanged", &(st,));
}

/// Seconds pppd gets to end after SIGTERM before SIGKILL (network-manager-sstp's
/// `ensure_killed`).
pub const KILL_AFTER_SECS: u64 = 10;

/// SIGTERM to pppd if it runs (Disconnect, or the service ending); SIGKILL after
/// [`KILL_AFTER_SECS`] if that same pppd still runs then.
pub fn stop_pppd(shared: &Arc<Mutex<Shared>>) {
    use nix::sys::signal::{kill, Signal};
    let pid = {
        let mut s = lock(shared);
        s.disconnecting = true;
        s.pppd
    };
    let Some(pid) = pid else { return };
    let _ = kill(pid, Signal::SIGTERM);
    let shared = shared.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(KILL_AFTER_SECS));
        // Still ours and not reaped: the watcher clears `pppd` when it reaps it.
        if lock(&shared).pppd == Some(pid) {
            let _ = kill(pid, Signal::SIGKILL);
        }
    });
}

fn to_variant(d: nm_config::Dict) -> std::collections::HashMap<&'static str, Value<'static>> {
    d.into_iter()
        .map(|(k, v)| {
            let v = match v {
                nm_config::Value::Str(s) => Value::from(s),
                nm_config::Value::U32(u) => Value::from(u),
                nm_config::Value::Bool(b) => Value::from(b),
                nm_config::Value::U32s(v) => Value::from(v),
                nm_config::Value::Bytes(b) => Value::from(b),
            };
            (k, v)
        })
        .collect()
}

/// Reads the plugin's records and reports the configuration, in the order
/// [`nm_config::Reporter`] decides.
fn watch_ipc(
    mut sock: UnixStream,
    conn: zbus::blocking::Connection,
    shared: Arc<Mutex<Shared>>,
    mut reporter: nm_config::Reporter,
    _done: std::sync::mpsc::Sender<()>,
) {
    let mut link = LinkInfo::default();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let wait = reporter
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()).max(MIN_WAIT));
        if sock.set_read_timeout(wait).is_err() {
            return;
        }
        let n = match sock.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                report(
                    &conn,
                    &shared,
                    reporter.poll(&link, Change::None, Instant::now()),
                );
                continue;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Ok((records, used)) = sstp_cli::link::decode(&buf) {
            buf.drain(..used);
            let change = link.apply_ipc(&records);
            lock(&shared).link.clone_from(&link);
            report(&conn, &shared, reporter.poll(&link, change, Instant::now()));
        }
    }
}

/// The shortest read timeout (a zero timeout means none to the socket).
const MIN_WAIT: std::time::Duration = std::time::Duration::from_millis(1);

/// Emits the reports; STARTED follows the first configuration (as libnm's service plugin does
/// once the announced configurations are in).
fn report(conn: &zbus::blocking::Connection, shared: &Mutex<Shared>, reports: Vec<Report>) {
    let any = !reports.is_empty();
    for r in reports {
        match r {
            Report::Config(d) => emit(conn, "Config", &(to_variant(d),)),
            Report::Ip4(d) => emit(conn, "Ip4Config", &(to_variant(d),)),
            Report::Ip6(d) => emit(conn, "Ip6Config", &(to_variant(d),)),
        }
    }
    if any && lock(shared).state != state::STARTED {
        set_state(conn, shared, state::STARTED);
    }
}

/// Waits for pppd and reports how it ended: the plugin's sentence goes to the service's log
/// (NetworkManager's) with the reason, and for a wrong password into `SecretsRequired`, which
/// the secret agent shows when it asks again.
fn watch_pppd(
    mut child: std::process::Child,
    conn: zbus::blocking::Connection,
    shared: Arc<Mutex<Shared>>,
    ipc_done: std::sync::mpsc::Receiver<()>,
) {
    let status = child.wait().ok().and_then(|s| s.code());
    // The plugin's last records (its error sentences) are read before pppd's end is judged.
    let _ = ipc_done.recv_timeout(std::time::Duration::from_secs(1));
    let (asked, interactive, errors, id) = {
        let mut s = lock(&shared);
        s.pppd = None;
        (
            s.disconnecting,
            s.interactive,
            s.link.errors.clone(),
            s.id.clone(),
        )
    };
    eprintln!("nm-sstp-service: pppd exited with status {status:?}");
    let fail = |f: NmFailure| {
        eprintln!("nm-sstp-service: {}", failure::log_line(f, &errors));
        if let Some(hint) = failure::pin_hint(&errors, &id) {
            eprintln!("nm-sstp-service: {hint}");
        }
        emit(&conn, "Failure", &(f as u32,));
    };
    match outcome(status, asked) {
        Outcome::Fail(f) => fail(f),
        Outcome::Reauth if interactive => {
            // NetworkManager records the reason and asks its agents again; with none, it
            // ends the attempt ("no valid secrets") after logging login-failed.
            fail(NmFailure::LoginFailed);
            lock(&shared).awaiting_secrets = true;
            let msg = failure::sentence(&errors, REAUTH_MESSAGE);
            emit(&conn, "SecretsRequired", &(msg, vec!["password"]));
            return;
        }
        Outcome::Reauth => fail(NmFailure::LoginFailed),
        Outcome::Stopped => {}
    }
    set_state(&conn, &shared, state::STOPPED);
}

fn inheritable(fd: &impl AsFd) -> Result<(), VpnError> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map(drop)
        .map_err(|e| VpnError::LaunchFailed(format!("cannot pass a descriptor to pppd: {e}")))
}

/// Pipes for the secrets (child ends), never argv.
fn secret_pipes(
    s: &NmSettings,
    c: &Connection,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>), VpnError> {
    let secrets = c.secrets.to_dict();
    let pay = pppd_args::secret_payloads(s, &secrets);
    let launch_err = |e: std::io::Error| VpnError::LaunchFailed(format!("secret pipe: {e}"));
    let pw = match pay.password {
        Some(p) => {
            let p = sstp_cli::password::Password::new(p.as_bytes().to_vec())
                .map_err(|e| VpnError::BadArguments(format!("vpn.secrets password: {e}")))?;
            Some(sstp_cli::password::password_pipe(&p).map_err(launch_err)?)
        }
        None => None,
    };
    let proxy = match pay.proxy {
        Some((u, p)) => Some(sstp_cli::proxyfile::auth_pipe(&u, p.as_bytes()).map_err(launch_err)?),
        None => None,
    };
    Ok((pw, proxy))
}

fn find_pppd(a: &ServiceArgs) -> Result<PathBuf, VpnError> {
    a.pppd
        .clone()
        .or_else(sstp_cli::pppd::find_pppd)
        .ok_or_else(|| VpnError::LaunchFailed("pppd not found in /usr/sbin or /sbin".into()))
}

fn find_plugin(a: &ServiceArgs, pppd: &std::path::Path) -> Result<PathBuf, VpnError> {
    if let Some(p) = &a.plugin {
        return Ok(p.clone());
    }
    let version = sstp_cli::pppd::pppd_version(pppd, std::time::Duration::from_secs(5)).ok();
    sstp_cli::pppd::plugin_candidates(sstp_cli::pppd::BUILD_PLUGIN_DIR, version.as_deref())
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| VpnError::LaunchFailed("the sstp-rs pppd plugin is not installed".into()))
}

/// Everything pppd needs, made before anything is started.
struct Prepared {
    pppd: PathBuf,
    args: Vec<String>,
    /// The child's ends (pipes, socket), closed here once pppd has them.
    child_fds: Vec<OwnedFd>,
    /// Our end of the `sstp-ipc-fd` socket.
    ours: UnixStream,
    /// Which address families NetworkManager is to be told about.
    reporter: nm_config::Reporter,
    /// `connection.id`.
    id: String,
}

fn first_bytes(p: &std::path::Path) -> Vec<u8> {
    let mut buf = Vec::new();
    let limit = crate::keyfile_kind::SNIFF_MAX as u64;
    let _ = std::fs::File::open(p).and_then(|f| f.take(limit).read_to_end(&mut buf));
    buf
}

fn launch_inputs(
    a: &ServiceArgs,
    c: &Connection,
    s: &NmSettings,
) -> Result<(PathBuf, Launch), VpnError> {
    let pppd = find_pppd(a)?;
    let version = sstp_cli::pppd::pppd_version(&pppd, std::time::Duration::from_secs(5)).ok();
    let pkcs12 = s
        .eap_tls
        .user_cert
        .as_deref()
        .is_some_and(|p| crate::keyfile_kind::is_pkcs12(&first_bytes(p)));
    let plugin = find_plugin(a, &pppd)?;
    Ok((
        pppd,
        Launch {
            plugin,
            pid: std::process::id(),
            user_name_fallback: c.user_name.clone(),
            ip4: c.ip4.clone(),
            ignore_auto_dns: c.ignore_auto_dns,
            ip6: c.ip6.clone(),
            debug: a.debug,
            user_cert_is_pkcs12: pkcs12,
            pppd_ext_tls: !version.is_some_and(|v| v.starts_with("2.4.")),
        },
    ))
}

fn prepare(a: &ServiceArgs, dict: &ConnectionDict) -> Result<Prepared, VpnError> {
    let c = Connection::from_dict(dict);
    let s = NmSettings::parse(&c.data, &c.secrets.to_dict())
        .map_err(|e| VpnError::BadArguments(e.to_string()))?;
    let (pppd, launch) = launch_inputs(a, &c, &s)?;
    let (pw, proxy) = secret_pipes(&s, &c)?;
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| VpnError::LaunchFailed(format!("socketpair: {e}")))?;
    let fds = Fds {
        password: pw.as_ref().map(AsRawFd::as_raw_fd),
        proxy_auth: proxy.as_ref().map(AsRawFd::as_raw_fd),
        ipc: Some(theirs.as_raw_fd()),
    };
    let mut child_fds: Vec<OwnedFd> = pw.into_iter().chain(proxy).collect();
    child_fds.push(OwnedFd::from(theirs));
    for fd in &child_fds {
        inheritable(fd)?;
    }
    let out = pppd_args::build(&s, &launch, fds).map_err(VpnError::BadArguments)?;
    for w in &out.warnings {
        eprintln!("nm-sstp-service: {w}");
    }
    let expect4 = !matches!(c.ip4, pppd_args::Ip4Method::Disabled);
    let expect6 = matches!(
        c.ip6,
        pppd_args::Ip6Method::Auto | pppd_args::Ip6Method::Manual(..)
    );
    Ok(Prepared {
        pppd,
        args: out.args,
        child_fds,
        ours,
        reporter: nm_config::Reporter::new(&c.id, expect4, expect6),
        id: c.id.clone(),
    })
}

impl Plugin {
    /// Marks the plugin busy (STARTING) unless a connection runs (a connection waiting for
    /// new secrets does not count); the previous state.
    fn claim(&self, interactive: bool) -> Result<u32, VpnError> {
        let mut sh = lock(&self.shared);
        let busy = matches!(sh.state, state::STARTING | state::STARTED) && !sh.awaiting_secrets;
        if sh.pppd.is_some() || busy {
            return Err(VpnError::WrongState(
                "a connection is already running".into(),
            ));
        }
        sh.interactive = interactive;
        sh.awaiting_secrets = false;
        sh.link = LinkInfo::default();
        sh.args.clear();
        sh.disconnecting = false;
        Ok(std::mem::replace(&mut sh.state, state::STARTING))
    }

    fn launch(
        &self,
        dict: &ConnectionDict,
        conn: zbus::blocking::Connection,
        interactive: bool,
    ) -> Result<(), VpnError> {
        let before = self.claim(interactive)?;
        let p = prepare(&self.args, dict).inspect_err(|_| lock(&self.shared).state = before)?;
        set_state(&conn, &self.shared, state::STARTING);
        {
            let mut sh = lock(&self.shared);
            sh.id = p.id;
            sh.args.clone_from(&p.args);
        }
        let child = sstp_cli::child::command(&p.pppd)
            .args(&p.args)
            .env("NM_DBUS_SERVICE_SSTP", &self.args.bus_name)
            .stdin(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                set_state(&conn, &self.shared, state::STOPPED);
                VpnError::LaunchFailed(format!("cannot start {}: {e}", p.pppd.display()))
            })?;
        drop(p.child_fds);
        lock(&self.shared).pppd = Some(nix::unistd::Pid::from_raw(child.id() as i32));
        let (c1, s1, ours, rep) = (conn.clone(), self.shared.clone(), p.ours, p.reporter);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || watch_ipc(ours, c1, s1, rep, done_tx));
        let s2 = self.shared.clone();
        std::thread::spawn(move || watch_pppd(child, conn, s2, done_rx));
        Ok(())
    }
}

/// Interface name of [`Status`].
pub const STATUS_IFACE: &str = "org.freedesktop.NetworkManager.sstp.Status";

/// sstp-rs's own interface beside `VPN.Plugin` at the same path: what the running connection
/// is doing, for `busctl call … GetStatus` while it runs (root only, as the D-Bus policy
/// allows). Read on demand; no change signals.
pub struct Status {
    shared: Arc<Mutex<Shared>>,
}

impl Status {
    /// The view of the state `plugin` shares with its threads.
    pub fn new(plugin: &Plugin) -> Status {
        Status {
            shared: plugin.shared(),
        }
    }
}

/// The name of an `NMVpnServiceState`.
pub fn state_name(st: u32) -> &'static str {
    match st {
        state::INIT => "init",
        state::STARTING => "starting",
        state::STARTED => "started",
        state::STOPPING => "stopping",
        state::STOPPED => "stopped",
        _ => "unknown",
    }
}

#[allow(missing_docs)]
#[zbus::interface(name = "org.freedesktop.NetworkManager.sstp.Status")]
impl Status {
    /// One dictionary (a method, not properties: the D-Bus policy can then allow exactly this
    /// interface, as NetworkManager's allows `VPN.Plugin`, on every dbus version):
    /// `State` (`init`, `starting`, `started`, `stopping`, `stopped`), `Server` (as configured,
    /// `host:port`), `Peer` (the TCP peer with its family; a proxy's through one), `Interface`,
    /// `CertificateSha256` (uppercase hex, as the server's administrator sees it),
    /// `CertificateUntrusted` (why, when `ignore-cert-warn=yes` accepted it), `Errors` (the
    /// plugin's sentences: the diagnosis of a failure), `PppdArguments` (the settings in force;
    /// never a secret).
    fn get_status(&self) -> std::collections::HashMap<&'static str, Value<'static>> {
        let sh = lock(&self.shared);
        let l = &sh.link;
        let text = |v: &Option<String>| Value::from(v.clone().unwrap_or_default());
        let sha = l.cert_hashes.as_ref().map(|h| h.0.clone());
        [
            ("State", Value::from(state_name(sh.state).to_owned())),
            ("Server", text(&l.server)),
            ("Peer", text(&l.peer)),
            ("Interface", text(&l.ifname)),
            ("CertificateSha256", text(&sha)),
            ("CertificateUntrusted", text(&l.cert_untrusted)),
            ("Errors", Value::from(l.errors.clone())),
            ("PppdArguments", Value::from(sh.args.clone())),
        ]
        .into_iter()
        .collect()
    }
}

/// Whether the EAP-TLS key of a connection needs a passphrase.
fn key_encrypted(s: &NmSettings) -> bool {
    s.eap_tls
        .user_key
        .as_deref()
        .is_some_and(|p| crate::keyfile_kind::key_needs_passphrase(&first_bytes(p)))
}

/// NetworkManager's VPN.Plugin interface (zbus generates the signal emitters).
#[allow(missing_docs)]
#[zbus::interface(name = "org.freedesktop.NetworkManager.VPN.Plugin")]
impl Plugin {
    fn connect(
        &self,
        connection: ConnectionDict,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), VpnError> {
        self.launch(
            &connection,
            zbus::blocking::Connection::from(conn.clone()),
            false,
        )
    }

    fn connect_interactive(
        &self,
        connection: ConnectionDict,
        _details: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), VpnError> {
        self.launch(
            &connection,
            zbus::blocking::Connection::from(conn.clone()),
            true,
        )
    }

    fn need_secrets(&self, settings: ConnectionDict) -> Result<String, VpnError> {
        let c = Connection::from_dict(&settings);
        let s = NmSettings::parse(&c.data, &c.secrets.to_dict())
            .map_err(|e| VpnError::BadArguments(e.to_string()))?;
        let tls = s.connection_type == ConnectionType::Tls && key_encrypted(&s);
        let need = needed_secrets(&s, &c.secrets.to_dict(), tls);
        Ok(if need.is_empty() {
            String::new()
        } else {
            "vpn".into()
        })
    }

    /// The connection again, with the secrets the user gave after SecretsRequired.
    fn new_secrets(
        &self,
        connection: ConnectionDict,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), VpnError> {
        if !lock(&self.shared).awaiting_secrets {
            return Err(VpnError::WrongState(
                "no connection is waiting for secrets".into(),
            ));
        }
        self.launch(
            &connection,
            zbus::blocking::Connection::from(conn.clone()),
            true,
        )
    }

    fn disconnect(&self, #[zbus(connection)] conn: &zbus::Connection) -> Result<(), VpnError> {
        let conn = zbus::blocking::Connection::from(conn.clone());
        let (running, waiting) = {
            let mut sh = lock(&self.shared);
            (sh.pppd.is_some(), std::mem::take(&mut sh.awaiting_secrets))
        };
        if running {
            set_state(&conn, &self.shared, state::STOPPING);
            stop_pppd(&self.shared);
        } else if waiting {
            // pppd already ended; only the request for new secrets was pending.
            set_state(&conn, &self.shared, state::STOPPED);
        }
        Ok(())
    }

    fn set_config(&self, _config: std::collections::HashMap<String, zbus::zvariant::OwnedValue>) {}

    fn set_ip4_config(
        &self,
        _config: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
    ) {
    }

    fn set_ip6_config(
        &self,
        _config: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
    ) {
    }

    fn set_failure(&self, _reason: String) {}

    #[zbus(property)]
    fn state(&self) -> u32 {
        lock(&self.shared).state
    }

    #[zbus(signal, name = "StateChanged")]
    async fn state_changed_signal(
        e: &zbus::object_server::SignalEmitter<'_>,
        state: u32,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn secrets_required(
        e: &zbus::object_server::SignalEmitter<'_>,
        message: &str,
        secrets: Vec<&str>,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn config(
        e: &zbus::object_server::SignalEmitter<'_>,
        config: std::collections::HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn ip4_config(
        e: &zbus::object_server::SignalEmitter<'_>,
        ip4config: std::collections::HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn ip6_config(
        e: &zbus::object_server::SignalEmitter<'_>,
        ip6config: std::collections::HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn login_banner(
        e: &zbus::object_server::SignalEmitter<'_>,
        banner: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn failure(e: &zbus::object_server::SignalEmitter<'_>, reason: u32) -> zbus::Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<ServiceArgs, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn service_arguments() {
        let a = args(&[]).unwrap();
        assert_eq!(a.bus_name, crate::keys::SERVICE);
        assert!(!a.persist && !a.debug);
        let a = args(&[
            "--bus-name",
            "org.freedesktop.NetworkManager.sstp.Connection_3",
            "--persist",
            "--debug",
        ])
        .unwrap();
        assert!(a.persist && a.debug);
        assert!(a.bus_name.ends_with("Connection_3"));
        assert!(args(&["--bus-name", "org.example.evil"]).is_err());
        assert!(args(&["--bus-name"]).unwrap_err().contains("needs a value"));
        assert!(args(&["--frob"]).unwrap_err().contains("unknown option"));
    }
}
