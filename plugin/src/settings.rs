//! The plugin's pppd options: names, validation, and the resulting [`Settings`]. Pure Rust (no
//! pppd calls), unit-tested; `options.rs` wires it into pppd's parser.

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use sstp_tunnel::{CertPin, IpFamily, ProxyConfig, ProxyCredentials, TlsVersion, TunnelConfig};

/// Plugin log verbosity (`sstp-log-level`): which lines the plugin sends to pppd's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogLevel(pub u8);

impl LogLevel {
    /// Errors only.
    pub const ERROR: LogLevel = LogLevel(0);
    /// + warnings.
    pub const WARN: LogLevel = LogLevel(1);
    /// + connection milestones (default).
    pub const NOTICE: LogLevel = LogLevel(2);
    /// + details (addresses, TLS parameters, chosen hash).
    pub const INFO: LogLevel = LogLevel(3);
    /// + protocol traces (packet types, timers). Never secrets.
    pub const DEBUG: LogLevel = LogLevel(4);
}

/// Everything the options set.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `sstp-server`: host (no brackets) and port.
    pub server: Option<(String, u16)>,
    /// `sstp-ca-file`
    pub ca_file: Option<PathBuf>,
    /// `sstp-ca-dir`
    pub ca_dir: Option<PathBuf>,
    /// `sstp-cert-pin`
    pub pin: Option<CertPin>,
    /// `sstp-sni`
    pub sni: Option<String>,
    /// `sstp-proxy`
    pub proxy: Option<ProxyConfig>,
    /// `sstp-log-level`
    pub log_level: LogLevel,
    /// `sstp-tls-min`
    pub tls_min: TlsVersion,
    /// `sstp-tls-max`
    pub tls_max: Option<TlsVersion>,
    /// `sstp-ipc-fd`
    pub ipc_fd: Option<i32>,
    /// `sstp-ip-family`
    pub ip_family: IpFamily,
    /// `sstp-connect-timeout` (seconds): TCP connect per address and TLS handshake.
    pub connect_timeout: Duration,
    /// `sstp-no-eku-check`
    pub no_eku_check: bool,
    /// `sstp-cert-accept-untrusted`
    pub accept_untrusted: bool,
    /// `sstp-echo-interval` (seconds): SSTP hello timer; `None` = the 60 s of [MS-SSTP].
    pub echo_interval: Option<Duration>,
    /// `sstp-proxy-auth-file` / `sstp-proxy-auth-fd`: where the proxy credentials came from and
    /// the credentials (they win over credentials in the `sstp-proxy` URL).
    pub proxy_auth: Option<(ProxyAuthFrom, ProxyCredentials)>,
    /// `sstp-http-timeout` (seconds): how long to wait for the server's HTTP response.
    pub http_timeout: Duration,
    /// `sstp-proxy-no-basic`: never send the proxy password with Basic (in clear text).
    pub proxy_no_basic: bool,
    /// `sstp-channel`: how pppd gets the PPP frames.
    pub channel: ChannelChoice,
}

/// `sstp-channel auto|l2tp|pty`: the channel between the plugin and pppd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChannelChoice {
    /// The kernel's PPP over L2TP if it has it, else the pty (with a notice).
    #[default]
    Auto,
    /// The kernel's PPP over L2TP (whole frames, no HDLC); fail if the kernel lacks it.
    L2tp,
    /// A pty with async HDLC (pppd's ppp_async).
    Pty,
}

impl ChannelChoice {
    /// The option's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelChoice::Auto => "auto",
            ChannelChoice::L2tp => "l2tp",
            ChannelChoice::Pty => "pty",
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: None,
            ca_file: None,
            ca_dir: None,
            pin: None,
            sni: None,
            proxy: None,
            log_level: LogLevel::NOTICE,
            tls_min: TlsVersion::Tls12,
            tls_max: None,
            ipc_fd: None,
            ip_family: IpFamily::Any,
            connect_timeout: Duration::from_secs(15),
            no_eku_check: false,
            accept_untrusted: false,
            echo_interval: None,
            proxy_auth: None,
            http_timeout: sstp_proto::http::RESPONSE_TIMEOUT,
            proxy_no_basic: false,
            channel: ChannelChoice::Auto,
        }
    }
}

/// Who may set an option: pppd's privilege model for a setuid-root pppd (see plugin/OPTIONS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only a privileged source: root running pppd, or a root-owned file (`/etc/ppp/options`, a
    /// peers file read by `call`). pppd's `OPT_PRIV`: anyone else gets "using the ... option
    /// requires root privilege". Everything that decides where the plugin connects, what it
    /// trusts, or which root-chosen file or fd it reads.
    Root,
    /// Anyone, but a value set by a privileged source cannot be overridden by an unprivileged
    /// one (pppd's `OPT_PRIO|OPT_PRIVFIX`: "... cannot be overridden"). Tuning that only
    /// affects the caller's own session (timers, verbosity, address family), and the caller's
    /// own proxy credentials file, which is opened with the caller's rights.
    FixedByRoot,
}

/// Where an option's value comes from, as pppd tells the option handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A privileged source (root, or a root-owned options/peers file).
    Privileged,
    /// An unprivileged caller of a setuid-root pppd (command line, `~/.ppprc`, `file`), whose
    /// real uid is given: files it names are opened with that uid's rights.
    Caller(u32),
}

/// Where the proxy credentials were read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyAuthFrom {
    /// `sstp-proxy-auth-file PATH`
    File(PathBuf),
    /// `sstp-proxy-auth-fd N`
    Fd(i32),
}

type Apply = fn(&mut Settings, &str, Source) -> Result<(), String>;

/// One option: name, whether it takes an argument, description (shown by pppd), setter.
pub struct OptionSpec {
    /// Option name as typed on pppd's command line.
    pub name: &'static str,
    /// NUL-terminated copy of the name (pppd keeps the pointer).
    pub c_name: &'static std::ffi::CStr,
    /// Description (NUL-terminated).
    pub c_desc: &'static std::ffi::CStr,
    /// Whether the option is a flag without argument.
    pub noarg: bool,
    /// Who may set it.
    pub access: Access,
    /// Whether the value may contain a secret (pppd's `dump` shows `??????`).
    pub secret: bool,
    apply: Apply,
}

macro_rules! opt {
    ($name:literal, $desc:literal, $noarg:expr, $access:expr, $f:expr) => {
        OptionSpec {
            name: $name,
            c_name: match std::ffi::CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()) {
                Ok(c) => c,
                Err(_) => panic!("option name"),
            },
            c_desc: match std::ffi::CStr::from_bytes_with_nul(concat!($desc, "\0").as_bytes()) {
                Ok(c) => c,
                Err(_) => panic!("option description"),
            },
            noarg: $noarg,
            access: $access,
            // Only the proxy URL can carry credentials (user:password@).
            secret: matches!($name.as_bytes(), b"sstp-proxy"),
            apply: $f,
        }
    };
}

use Access::{FixedByRoot, Root};

/// All options, in the order registered with pppd (index = position).
pub static OPTIONS: &[OptionSpec] = &[
    opt!(
        "sstp-server",
        "SSTP server HOST[:PORT] or [IPv6]:PORT",
        false,
        Root,
        |s, v, _| set_server(s, v)
    ),
    opt!(
        "sstp-ca-file",
        "PEM file of trusted CA certificates",
        false,
        Root,
        |s, v, _| {
            s.ca_file = Some(existing_path(v, false)?);
            Ok(())
        }
    ),
    opt!(
        "sstp-ca-dir",
        "Hashed directory of trusted CA certificates",
        false,
        Root,
        |s, v, _| {
            s.ca_dir = Some(existing_path(v, true)?);
            Ok(())
        }
    ),
    opt!(
        "sstp-cert-pin",
        "Pin the server certificate: sha256:HEX",
        false,
        Root,
        |s, v, _| {
            s.pin = Some(v.parse::<CertPin>().map_err(|e| e.to_string())?);
            Ok(())
        }
    ),
    opt!(
        "sstp-sni",
        "TLS server name (SNI, Host, certificate name check)",
        false,
        Root,
        |s, v, _| {
            let name = v.trim();
            let ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !ok {
                return Err(format!("cannot parse {v:?}: expected a DNS name"));
            }
            s.sni = Some(name.to_owned());
            Ok(())
        }
    ),
    opt!(
        "sstp-proxy",
        "HTTP proxy http://HOST:PORT for CONNECT",
        false,
        Root,
        |s, v, _| {
            s.proxy = Some(ProxyConfig::parse(v).map_err(|e| e.to_string())?);
            Ok(())
        }
    ),
    opt!(
        "sstp-log-level",
        "Plugin log verbosity 0 (errors) .. 4 (debug)",
        false,
        FixedByRoot,
        |s, v, _| {
            match v.trim().parse::<u8>() {
                Ok(n) if n <= 4 => {
                    s.log_level = LogLevel(n);
                    Ok(())
                }
                _ => Err(format!("cannot parse {v:?}: expected a log level 0..4")),
            }
        }
    ),
    opt!(
        "sstp-tls-min",
        "Lowest TLS version: 1.0, 1.1, 1.2 or 1.3",
        false,
        Root,
        |s, v, _| {
            s.tls_min = v.parse::<TlsVersion>().map_err(|e| e.to_string())?;
            check_tls_range(s)
        }
    ),
    opt!(
        "sstp-tls-max",
        "Highest TLS version: 1.2 or 1.3",
        false,
        Root,
        |s, v, _| {
            let t = v.parse::<TlsVersion>().map_err(|e| e.to_string())?;
            if t < TlsVersion::Tls12 {
                return Err(format!(
                    "cannot parse {v:?}: expected a TLS version 1.2 or 1.3"
                ));
            }
            s.tls_max = Some(t);
            check_tls_range(s)
        }
    ),
    opt!(
        "sstp-ipc-fd",
        "File descriptor for IP/DNS config records",
        false,
        Root,
        |s, v, _| {
            s.ipc_fd = Some(fd_number(v)?);
            Ok(())
        }
    ),
    opt!(
        "sstp-ip-family",
        "Address family: any, ipv4, ipv6, prefer-ipv4, prefer-ipv6",
        false,
        FixedByRoot,
        |s, v, _| {
            s.ip_family = match v.trim() {
                "any" => IpFamily::Any,
                "ipv4" | "4" => IpFamily::V4Only,
                "ipv6" | "6" => IpFamily::V6Only,
                "prefer-ipv4" => IpFamily::PreferV4,
                "prefer-ipv6" => IpFamily::PreferV6,
                _ => {
                    return Err(format!(
                        "cannot parse {v:?}: expected any, ipv4, ipv6, prefer-ipv4 or prefer-ipv6"
                    ))
                }
            };
            Ok(())
        }
    ),
    opt!(
        "sstp-connect-timeout",
        "Seconds for TCP connect and TLS handshake (1..300)",
        false,
        FixedByRoot,
        |s, v, _| {
            match v.trim().parse::<u64>() {
                Ok(n) if (1..=300).contains(&n) => {
                    s.connect_timeout = Duration::from_secs(n);
                    Ok(())
                }
                _ => Err(format!(
                    "cannot parse {v:?}: expected seconds between 1 and 300"
                )),
            }
        }
    ),
    opt!(
        "sstp-no-eku-check",
        "Accept server certificates without Server Authentication EKU",
        true,
        Root,
        |s, _, _| {
            s.no_eku_check = true;
            Ok(())
        }
    ),
    opt!(
        "sstp-cert-accept-untrusted",
        "Accept a server certificate that fails verification, with a warning (never a pin)",
        true,
        Root,
        |s, _, _| {
            s.accept_untrusted = true;
            Ok(())
        }
    ),
    opt!(
        "sstp-echo-interval",
        "Seconds of silence before an SSTP echo request (1..3600, default 60)",
        false,
        FixedByRoot,
        |s, v, _| {
            match v.trim().parse::<u64>() {
                Ok(n) if (1..=3600).contains(&n) => {
                    s.echo_interval = Some(Duration::from_secs(n));
                    Ok(())
                }
                _ => Err(format!(
                    "cannot parse {v:?}: expected seconds between 1 and 3600"
                )),
            }
        }
    ),
    opt!(
        "sstp-proxy-auth-file",
        "File with the proxy's user and password (not readable by others)",
        false,
        FixedByRoot,
        |s, v, src| {
            let path = PathBuf::from(v);
            let creds = read_proxy_auth_file(&path, src)?;
            s.proxy_auth = Some((ProxyAuthFrom::File(path), creds));
            Ok(())
        }
    ),
    opt!(
        "sstp-http-timeout",
        "Seconds to wait for the server's HTTP response (1..300, default 60)",
        false,
        FixedByRoot,
        |s, v, _| {
            match v.trim().parse::<u64>() {
                Ok(n) if (1..=300).contains(&n) => {
                    s.http_timeout = Duration::from_secs(n);
                    Ok(())
                }
                _ => Err(format!(
                    "cannot parse {v:?}: expected seconds between 1 and 300"
                )),
            }
        }
    ),
    opt!(
        "sstp-proxy-auth-fd",
        "Inherited file descriptor to read the proxy's user and password from",
        false,
        Root,
        |s, v, _| {
            let fd = fd_number(v)?;
            let creds = read_proxy_auth_fd(fd)?;
            s.proxy_auth = Some((ProxyAuthFrom::Fd(fd), creds));
            Ok(())
        }
    ),
    opt!(
        "sstp-proxy-no-basic",
        "Refuse proxy Basic authentication (the password would cross to the proxy in clear)",
        true,
        FixedByRoot,
        |s, _, _| {
            s.proxy_no_basic = true;
            Ok(())
        }
    ),
    opt!(
        "sstp-channel",
        "Channel to pppd: auto (kernel L2TP if available, else pty), l2tp or pty",
        false,
        FixedByRoot,
        |s, v, _| {
            s.channel = match v.trim() {
                "auto" => ChannelChoice::Auto,
                "l2tp" => ChannelChoice::L2tp,
                "pty" => ChannelChoice::Pty,
                _ => return Err(format!("cannot parse {v:?}: expected auto, l2tp or pty")),
            };
            Ok(())
        }
    ),
];

/// Reads `user\npassword\n` or `user:password` from `path`, with the rights of whoever named
/// it (`src`): root for a privileged source, the caller's real uid otherwise (as pppd opens its
/// own `logfile`). The file must be a regular file owned by root or by that caller, without any
/// access for other users; the checks run on the opened file, so the file checked is the file
/// read. Errors never contain the file's contents, and for a caller they say no more than the
/// caller's own `open` would.
pub fn read_proxy_auth_file(
    path: &std::path::Path,
    src: Source,
) -> Result<ProxyCredentials, String> {
    let owners: &[u32] = match src {
        Source::Privileged => &[0],
        Source::Caller(uid) => &[0, uid],
    };
    let file = open_as(path, src).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    check_private_file(path, &file, owners)?;
    let c = sstp_proxy_auth::Credentials::from_reader(file)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ProxyCredentials {
        user: c.username().to_owned(),
        password: c.expose_password().to_owned(),
    })
}

/// Opens `path` read-only without following a final symlink, with `src`'s rights: for a
/// caller, the effective uid is the caller's real uid during the `open` (pppd's own model for
/// files named by unprivileged options).
fn open_as(path: &std::path::Path, src: Source) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
    };
    match src {
        Source::Privileged => open(),
        Source::Caller(uid) => with_euid(uid, open),
    }
}

/// Runs `f` with the effective uid `uid`, then restores it. Fails closed: if the old uid
/// cannot be restored the result is an error (and pppd stops at the option error).
fn with_euid<T>(uid: u32, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    use nix::unistd::{geteuid, seteuid, Uid};
    let saved = geteuid();
    if saved.as_raw() == uid {
        return f();
    }
    seteuid(Uid::from_raw(uid)).map_err(std::io::Error::from)?;
    let r = f();
    seteuid(saved).map_err(|e| {
        std::io::Error::other(format!("cannot regain privileges after the open: {e}"))
    })?;
    r
}

/// The checks on an opened credentials file: regular, owned by one of `owners`, no access for
/// "others".
fn check_private_file(
    path: &std::path::Path,
    file: &std::fs::File,
    owners: &[u32],
) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display();
    let meta = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if !owners.contains(&meta.uid()) {
        let who = if owners.len() == 1 {
            "root".to_string()
        } else {
            format!("root or uid {}", owners[1])
        };
        return Err(format!(
            "{shown}: refused: the file holds a password and must be owned by {who} \
             (it is owned by uid {}); run: chown {} {shown}",
            meta.uid(),
            owners[owners.len() - 1]
        ));
    }
    if meta.mode() & 0o007 != 0 {
        return Err(format!(
            "{shown}: refused: the file holds a password and must not be accessible by other \
             users (mode {:04o}); run: chmod 600 {shown}",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Most bytes `sstp-proxy-auth-fd` reads (a user name and a password, with room to spare).
const PROXY_AUTH_FD_MAX: usize = 4096;

/// Reads the proxy credentials from the inherited descriptor `fd` (a pipe whose writer has
/// already written them and closed its end, as `sstp connect` does), then closes it. Never
/// waits: a writer still open is an error, so option parsing stays bounded in time.
fn read_proxy_auth_fd(fd: i32) -> Result<ProxyCredentials, String> {
    use std::io::Read;
    let owned =
        crate::host::take_fd(fd).ok_or_else(|| format!("{fd} is not an open file descriptor"))?;
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(|e| format!("descriptor {fd}: {e}"))?;
    // Fixed capacity: the buffer never reallocates, so no unwiped copy is left behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(PROXY_AUTH_FD_MAX + 1));
    let mut f = std::fs::File::from(owned);
    loop {
        let mut chunk = Zeroizing::new([0u8; 512]);
        match f.read(&mut chunk[..]) {
            Ok(0) => break,
            Ok(n) if buf.len() + n <= PROXY_AUTH_FD_MAX => buf.extend_from_slice(&chunk[..n]),
            Ok(_) => {
                return Err(format!(
                    "descriptor {fd}: more than {PROXY_AUTH_FD_MAX} bytes"
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(format!(
                    "descriptor {fd}: no end of input: write the credentials and close the \
                     writing end before starting pppd"
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("descriptor {fd}: {e}")),
        }
    }
    let c = sstp_proxy_auth::Credentials::from_reader(&buf[..])
        .map_err(|e| format!("descriptor {fd}: {e}"))?;
    Ok(ProxyCredentials {
        user: c.username().to_owned(),
        password: c.expose_password().to_owned(),
    })
}

/// An inherited file descriptor number given to an option (above stdin/out/err).
fn fd_number(v: &str) -> Result<i32, String> {
    match v.trim().parse::<i32>() {
        Ok(fd) if fd > 2 => Ok(fd),
        _ => Err(format!(
            "cannot parse {v:?}: expected a file descriptor number > 2"
        )),
    }
}

fn set_server(s: &mut Settings, v: &str) -> Result<(), String> {
    let (host, port) = sstp_tunnel::parse_host_port(v, sstp_proto::http::DEFAULT_PORT)
        .map_err(|e| e.to_string())?;
    s.server = Some((host, port));
    Ok(())
}

fn existing_path(v: &str, dir: bool) -> Result<PathBuf, String> {
    let p = PathBuf::from(v);
    match std::fs::metadata(&p) {
        Ok(m) if dir && m.is_dir() => Ok(p),
        Ok(m) if !dir && m.is_file() => Ok(p),
        Ok(_) => Err(format!(
            "{v}: not a {}",
            if dir { "directory" } else { "file" }
        )),
        Err(e) => Err(format!("{v}: {e}")),
    }
}

fn check_tls_range(s: &Settings) -> Result<(), String> {
    match s.tls_max {
        Some(max) if max < s.tls_min => Err(format!(
            "sstp-tls-max {max} is below sstp-tls-min {}",
            s.tls_min
        )),
        _ => Ok(()),
    }
}

impl Settings {
    /// Applies option number `index` with `value` (empty for flags), coming from `src`.
    pub fn apply(&mut self, index: usize, value: &str, src: Source) -> Result<(), String> {
        let spec = OPTIONS
            .get(index)
            .ok_or_else(|| format!("unknown option index {index}"))?;
        (spec.apply)(self, value, src).map_err(|e| format!("{}: {e}", spec.name))
    }

    /// Applies the option called `name` as a privileged source would (tests, fuzzing).
    pub fn apply_named(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.apply_named_from(name, value, Source::Privileged)
    }

    /// Applies the option called `name` coming from `src`.
    pub fn apply_named_from(&mut self, name: &str, value: &str, src: Source) -> Result<(), String> {
        let i = OPTIONS
            .iter()
            .position(|o| o.name == name)
            .ok_or_else(|| format!("unknown option {name}"))?;
        self.apply(i, value, src)
    }

    /// Checks the combination once all options are parsed (pppd's check_options).
    pub fn check(&self) -> Result<(), String> {
        if self.server.is_none() {
            return Err("sstp-server is required (sstp-server HOST[:PORT])".into());
        }
        if self.proxy_auth.is_some() && self.proxy.is_none() {
            return Err(
                "sstp-proxy-auth-file and sstp-proxy-auth-fd need sstp-proxy \
                 (sstp-proxy http://HOST:PORT)"
                    .into(),
            );
        }
        check_tls_range(self)
    }

    /// The sstp-tunnel configuration these settings describe.
    pub fn tunnel_config(&self) -> Result<TunnelConfig, String> {
        let (host, port) = self
            .server
            .clone()
            .ok_or_else(|| "sstp-server is required".to_string())?;
        let mut c = TunnelConfig::new(host);
        c.port = port;
        c.sni = self.sni.clone();
        c.ca_file = self.ca_file.clone();
        c.ca_dir = self.ca_dir.clone();
        c.pin = self.pin;
        c.min_tls = self.tls_min;
        c.max_tls = self.tls_max;
        c.check_eku = !self.no_eku_check;
        c.accept_untrusted = self.accept_untrusted;
        c.proxy = self.proxy.clone();
        if let (Some(p), Some((_, creds))) = (c.proxy.as_mut(), &self.proxy_auth) {
            // The file wins over credentials in the URL.
            p.credentials = Some(creds.clone());
        }
        if let Some(p) = c.proxy.as_mut() {
            p.refuse_basic = self.proxy_no_basic;
        }
        c.handshake_timeout = self.http_timeout;
        c.ip_family = self.ip_family;
        c.connect_timeout = self.connect_timeout;
        c.tls_timeout = self.connect_timeout.max(Duration::from_secs(5));
        Ok(c)
    }

    /// The SSTP client's timers these settings describe.
    pub fn client_config(&self) -> sstp_proto::client::ClientConfig {
        let mut c = sstp_proto::client::ClientConfig::default();
        if let Some(d) = self.echo_interval {
            c.hello_interval = d;
        }
        c
    }

    /// Device name shown by pppd ("sstp:host:port").
    pub fn devnam(&self) -> String {
        match &self.server {
            Some((h, p)) if h.contains(':') => format!("sstp:[{h}]:{p}"),
            Some((h, p)) => format!("sstp:{h}:{p}"),
            None => "sstp".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Serial-line options that are accepted and ignored. Once `plugin sstp-rs.so` has made the SSTP
// channel pppd's channel, pppd (2.4.9 and 2.5.x options.c find_option) no longer sees tty.c's
// table, so these would be "unrecognized option" (exit 2) and break peers files written for
// `pty "sstpc ..."`. They do nothing here (no device, no lock file, no line settings), so
// accepting them from anyone changes nothing: no privilege is needed to ignore them. Options of
// tty.c that run programs or name a device (`pty`, `connect`, `init`, `socket`, device names,
// `record`, `notty`, `sync`, `stop-bits`, `escape`, `datarate`) stay unrecognized.
// ---------------------------------------------------------------------------------------------

/// tty.c's flag options that only set up a serial line (pppd 2.4.9 and 2.5.2 tty_options).
pub const IGNORED_TTY_OPTIONS: &[&str] = &[
    "lock",
    "nolock",
    "crtscts",
    "cdtrcts",
    "nocrtscts",
    "-crtscts",
    "nocdtrcts",
    "xonxoff",
    "modem",
    "local",
];

/// Whether `name` is a serial-line option the plugin accepts and ignores: one of
/// [`IGNORED_TTY_OPTIONS`] or a line speed (tty.c's `tty speed`: a positive decimal number).
pub fn ignored_tty_option(name: &str) -> bool {
    IGNORED_TTY_OPTIONS.contains(&name) || is_line_speed(name)
}

/// A line speed as pppd's tty.c takes it (`115200`): digits only, not zero, at most 10 digits.
fn is_line_speed(name: &str) -> bool {
    (1..=10).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_digit())
        && name.bytes().any(|b| b != b'0')
}

/// The log line for an ignored option (`name` is one [`ignored_tty_option`] accepted).
pub fn ignored_tty_option_message(name: &str) -> String {
    format!("option {name} ignored: SSTP has no serial line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_fit_the_shim() {
        assert!(OPTIONS.len() <= pppd_sys::SSTP_SHIM_MAX_OPTIONS as usize);
        for (i, a) in OPTIONS.iter().enumerate() {
            assert!(a.name.starts_with("sstp-"));
            assert_eq!(a.c_name.to_str().unwrap(), a.name);
            for b in &OPTIONS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn only_the_proxy_url_is_secret() {
        let secret: Vec<&str> = OPTIONS
            .iter()
            .filter(|o| o.secret)
            .map(|o| o.name)
            .collect();
        assert_eq!(secret, ["sstp-proxy"]);
        let noarg: Vec<&str> = OPTIONS.iter().filter(|o| o.noarg).map(|o| o.name).collect();
        assert_eq!(
            noarg,
            [
                "sstp-no-eku-check",
                "sstp-cert-accept-untrusted",
                "sstp-proxy-no-basic"
            ]
        );
    }

    /// The privilege model documented in plugin/OPTIONS.md: everything that decides where the
    /// plugin connects, what it trusts or which root-chosen file/fd it reads is root-only.
    #[test]
    fn destination_trust_and_root_inputs_are_root_only() {
        let with = |a: Access| -> Vec<&str> {
            OPTIONS
                .iter()
                .filter(|o| o.access == a)
                .map(|o| o.name)
                .collect()
        };
        assert_eq!(
            with(Access::Root),
            [
                "sstp-server",
                "sstp-ca-file",
                "sstp-ca-dir",
                "sstp-cert-pin",
                "sstp-sni",
                "sstp-proxy",
                "sstp-tls-min",
                "sstp-tls-max",
                "sstp-ipc-fd",
                "sstp-no-eku-check",
                "sstp-cert-accept-untrusted",
                "sstp-proxy-auth-fd",
            ]
        );
        assert_eq!(
            with(Access::FixedByRoot),
            [
                "sstp-log-level",
                "sstp-ip-family",
                "sstp-connect-timeout",
                "sstp-echo-interval",
                "sstp-proxy-auth-file",
                "sstp-http-timeout",
                "sstp-proxy-no-basic",
                "sstp-channel",
            ]
        );
        let doc = include_str!("../OPTIONS.md");
        for o in OPTIONS {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}", o.name)))
                .unwrap_or_else(|| panic!("OPTIONS.md has no row for {}", o.name));
            let want = match o.access {
                Access::Root => "| root only |",
                Access::FixedByRoot => "| fixed by root |",
            };
            assert!(row.contains(want), "{}: {row}", o.name);
        }
    }

    #[test]
    fn channel_choice() {
        let mut s = Settings::default();
        assert_eq!(s.channel, ChannelChoice::Auto);
        for (v, c) in [
            ("l2tp", ChannelChoice::L2tp),
            ("pty", ChannelChoice::Pty),
            ("auto", ChannelChoice::Auto),
        ] {
            s.apply_named("sstp-channel", v).unwrap();
            assert_eq!(s.channel, c);
            assert_eq!(c.as_str(), v);
        }
        let e = s.apply_named("sstp-channel", "hdlc").unwrap_err();
        assert!(e.contains("auto, l2tp or pty"), "{e}");
        assert_eq!(s.channel, ChannelChoice::Auto);
    }

    #[test]
    fn server_forms() {
        let mut s = Settings::default();
        s.apply_named("sstp-server", "vpn.example.com").unwrap();
        assert_eq!(s.server, Some(("vpn.example.com".into(), 443)));
        s.apply_named("sstp-server", "[::1]:4433").unwrap();
        assert_eq!(s.server, Some(("::1".into(), 4433)));
        assert_eq!(s.devnam(), "sstp:[::1]:4433");
        s.apply_named("sstp-server", "127.0.0.1:8443").unwrap();
        assert_eq!(s.devnam(), "sstp:127.0.0.1:8443");
        for bad in ["", "host:0", "host:99999", "[::1", "a b"] {
            let e = s.apply_named("sstp-server", bad).unwrap_err();
            assert!(e.starts_with("sstp-server: "), "{e}");
        }
    }

    #[test]
    fn invalid_values_are_refused_with_the_option_name() {
        let mut s = Settings::default();
        let cases = [
            ("sstp-log-level", "5"),
            ("sstp-log-level", "x"),
            ("sstp-tls-min", "1.4"),
            ("sstp-tls-max", "1.1"),
            ("sstp-cert-pin", "sha256:zz"),
            ("sstp-ipc-fd", "1"),
            ("sstp-ipc-fd", "-4"),
            ("sstp-ca-file", "/nonexistent/ca.pem"),
            ("sstp-ca-dir", "/etc/hostname"),
            ("sstp-proxy", "https://p:1"),
            ("sstp-sni", "bad name"),
            ("sstp-ip-family", "ipx"),
            ("sstp-connect-timeout", "0"),
            ("sstp-echo-interval", "0"),
            ("sstp-echo-interval", "3601"),
        ];
        for (name, v) in cases {
            let e = s.apply_named(name, v).unwrap_err();
            assert!(e.starts_with(&format!("{name}: ")), "{name} {v}: {e}");
        }
    }

    #[test]
    fn valid_values_reach_the_tunnel_config() {
        let mut s = Settings::default();
        assert!(s.check().unwrap_err().contains("sstp-server is required"));
        s.apply_named("sstp-server", "10.1.2.3:4443").unwrap();
        s.apply_named("sstp-sni", "vpn.test").unwrap();
        s.apply_named("sstp-tls-min", "1.3").unwrap();
        assert!(s
            .apply_named("sstp-tls-max", "1.2")
            .unwrap_err()
            .contains("below"));
        s.apply_named("sstp-tls-max", "1.3").unwrap();
        s.apply_named("sstp-cert-pin", &format!("sha256:{}", "0f".repeat(32)))
            .unwrap();
        s.apply_named("sstp-proxy", "http://127.0.0.1:3128")
            .unwrap();
        s.apply_named("sstp-log-level", "4").unwrap();
        s.apply_named("sstp-ipc-fd", "7").unwrap();
        s.apply_named("sstp-ip-family", "ipv6").unwrap();
        s.apply_named("sstp-connect-timeout", "3").unwrap();
        s.apply_named("sstp-ca-dir", "/etc").unwrap();
        s.apply_named("sstp-no-eku-check", "").unwrap();
        assert!(!s.tunnel_config().unwrap().proxy.unwrap().refuse_basic);
        s.apply_named("sstp-proxy-no-basic", "").unwrap();
        assert_eq!(s.client_config().hello_interval, Duration::from_secs(60));
        s.apply_named("sstp-echo-interval", "2").unwrap();
        assert_eq!(s.client_config().hello_interval, Duration::from_secs(2));
        s.check().unwrap();
        let c = s.tunnel_config().unwrap();
        assert_eq!((c.server.as_str(), c.port), ("10.1.2.3", 4443));
        assert_eq!(c.tls_name(), "vpn.test");
        assert_eq!(c.min_tls, TlsVersion::Tls13);
        assert_eq!(c.max_tls, Some(TlsVersion::Tls13));
        assert_eq!(c.pin.unwrap().0, [0x0f; 32]);
        assert_eq!(c.proxy.as_ref().unwrap().port, 3128);
        assert!(c.proxy.unwrap().refuse_basic);
        assert_eq!(c.ip_family, IpFamily::V6Only);
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert!(!c.check_eku);
        assert_eq!(s.log_level, LogLevel::DEBUG);
        assert_eq!(s.ipc_fd, Some(7));
    }

    fn scratch(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("sstp-plugin-settings-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write_mode(path: &std::path::Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn proxy_auth_file_wins_over_the_url() {
        let dir = scratch("auth");
        let f = dir.join("proxy-cred");
        let me = Source::Caller(owner_uid(&dir));
        write_mode(&f, "carol\nPa55 w:rd\n", 0o600);
        let c = read_proxy_auth_file(&f, me).unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("carol", "Pa55 w:rd")
        );
        write_mode(&f, "dave:x:y\n", 0o640);
        let c = read_proxy_auth_file(&f, me).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("dave", "x:y"));

        let mut s = Settings::default();
        s.apply_named("sstp-server", "vpn.test").unwrap();
        s.apply_named("sstp-proxy", "http://url-user:url-pass@10.0.0.1:3128")
            .unwrap();
        s.proxy_auth = Some((ProxyAuthFrom::File(f.clone()), c));
        s.check().unwrap();
        let cfg = s.tunnel_config().unwrap();
        let p = cfg.proxy.unwrap();
        let creds = p.credentials.unwrap();
        assert_eq!(
            (creds.user.as_str(), creds.password.as_str()),
            ("dave", "x:y")
        );
        assert_eq!(p.port, 3128);
        // Without the file, the URL's credentials stand.
        s.proxy_auth = None;
        let creds = s
            .tunnel_config()
            .unwrap()
            .proxy
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!(creds.user, "url-user");
        // Debug output of the settings never shows a password.
        s.proxy_auth = Some((
            ProxyAuthFrom::File(f),
            ProxyCredentials {
                user: "u".into(),
                password: "file-secret".into(),
            },
        ));
        let d = format!("{s:?}");
        assert!(!d.contains("file-secret") && !d.contains("url-pass"), "{d}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The uid owning files this test creates (root when the tests run as root).
    fn owner_uid(dir: &std::path::Path) -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir).unwrap().uid()
    }

    #[test]
    fn proxy_auth_file_is_refused_when_others_can_read_it_or_a_stranger_owns_it() {
        let dir = scratch("refuse");
        let uid = owner_uid(&dir);
        let me = Source::Caller(uid);
        let f = dir.join("proxy-cred");
        write_mode(&f, "carol:secret-in-file\n", 0o644);
        let e = read_proxy_auth_file(&f, me).unwrap_err();
        assert!(
            e.contains("must not be accessible by other users (mode 0644)"),
            "{e}"
        );
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains("secret-in-file"), "{e}");
        write_mode(&f, "carol:secret-in-file\n", 0o602);
        assert!(read_proxy_auth_file(&f, me).is_err());
        write_mode(&f, "carol:secret-in-file\n", 0o600);
        // A privileged source's file must be root's.
        if uid != 0 {
            let e = read_proxy_auth_file(&f, Source::Privileged).unwrap_err();
            assert!(
                e.contains("must be owned by root (it is owned by uid"),
                "{e}"
            );
        } else {
            let c = read_proxy_auth_file(&f, Source::Privileged).unwrap();
            assert_eq!(c.password, "secret-in-file");
        }
        // Not a file, missing, symlink, bad format.
        let e = read_proxy_auth_file(&dir, me).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_proxy_auth_file(&dir.join("missing"), me).unwrap_err();
        assert!(e.contains("cannot open"), "{e}");
        let link = dir.join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(read_proxy_auth_file(&link, me).is_err());
        write_mode(&f, "no-separator-secret\n", 0o600);
        let e = read_proxy_auth_file(&f, me).unwrap_err();
        assert!(e.contains("user:password"), "{e}");
        assert!(!e.contains("no-separator-secret"), "{e}");
        // Through the option: the error names the option.
        let mut s = Settings::default();
        let e = s
            .apply_named(
                "sstp-proxy-auth-file",
                &dir.join("missing").to_string_lossy(),
            )
            .unwrap_err();
        assert!(e.starts_with("sstp-proxy-auth-file: "), "{e}");
        // The credentials need a proxy.
        s.apply_named("sstp-server", "vpn.test").unwrap();
        s.proxy_auth = Some((
            ProxyAuthFrom::File(f),
            ProxyCredentials {
                user: "u".into(),
                password: "p".into(),
            },
        ));
        assert!(s.check().unwrap_err().contains("need sstp-proxy"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A pipe holding `text` whose writing end is closed (or still open when `keep_writer`).
    fn pipe_with(text: &[u8], keep_writer: bool) -> (i32, Option<std::os::fd::OwnedFd>) {
        use std::os::fd::IntoRawFd;
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, text).unwrap();
        (r.into_raw_fd(), keep_writer.then_some(w))
    }

    #[test]
    fn proxy_auth_fd_reads_a_closed_pipe_and_closes_it() {
        let (fd, _) = pipe_with(b"erin\nfd-Secret 1\n", false);
        let mut s = Settings::default();
        s.apply_named("sstp-server", "vpn.test").unwrap();
        s.apply_named("sstp-proxy", "http://10.0.0.1:3128").unwrap();
        s.apply_named("sstp-proxy-auth-fd", &fd.to_string())
            .unwrap();
        let creds = s
            .tunnel_config()
            .unwrap()
            .proxy
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!(
            (creds.user.as_str(), creds.password.as_str()),
            ("erin", "fd-Secret 1")
        );
        assert_eq!(s.proxy_auth.as_ref().unwrap().0, ProxyAuthFrom::Fd(fd));
    }

    #[test]
    fn proxy_auth_fd_is_closed_after_reading() {
        use nix::sys::socket::{send, shutdown, socketpair, MsgFlags, Shutdown};
        use nix::sys::socket::{AddressFamily, SockFlag, SockType};
        use std::os::fd::{AsRawFd, IntoRawFd};
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        send(ours.as_raw_fd(), b"fay:pw\n", MsgFlags::empty()).unwrap();
        shutdown(ours.as_raw_fd(), Shutdown::Write).unwrap();
        let fd = theirs.into_raw_fd();
        let mut s = Settings::default();
        s.apply_named("sstp-proxy-auth-fd", &fd.to_string())
            .unwrap();
        // Our end now sees the other end gone (closed by the option), whatever reuses the number.
        let e = send(ours.as_raw_fd(), b"x", MsgFlags::MSG_NOSIGNAL).unwrap_err();
        assert_eq!(e, nix::errno::Errno::EPIPE);
    }

    #[test]
    fn proxy_auth_fd_never_waits_and_never_echoes_the_input() {
        let mut s = Settings::default();
        let (fd, writer) = pipe_with(b"erin\nfd-Secret 2\n", true);
        let t = std::time::Instant::now();
        let e = s
            .apply_named("sstp-proxy-auth-fd", &fd.to_string())
            .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert!(e.contains("no end of input"), "{e}");
        assert!(!e.contains("fd-Secret"), "{e}");
        drop(writer);
        let (fd, _) = pipe_with(&[b'x'; 5000][..4097], false);
        let e = s
            .apply_named("sstp-proxy-auth-fd", &fd.to_string())
            .unwrap_err();
        assert!(e.contains("more than 4096 bytes"), "{e}");
        let (fd, _) = pipe_with(b"only-one-line-Secret\n", false);
        let e = s
            .apply_named("sstp-proxy-auth-fd", &fd.to_string())
            .unwrap_err();
        assert!(e.starts_with("sstp-proxy-auth-fd: "), "{e}");
        assert!(!e.contains("only-one-line-Secret"), "{e}");
        for bad in ["1", "-3", "x"] {
            assert!(s.apply_named("sstp-proxy-auth-fd", bad).is_err());
        }
    }

    #[test]
    fn http_timeout() {
        let mut s = Settings::default();
        s.apply_named("sstp-server", "vpn.test").unwrap();
        assert_eq!(
            s.tunnel_config().unwrap().handshake_timeout,
            Duration::from_secs(60)
        );
        s.apply_named("sstp-http-timeout", "3").unwrap();
        assert_eq!(
            s.tunnel_config().unwrap().handshake_timeout,
            Duration::from_secs(3)
        );
        for bad in ["0", "301", "x", "-1"] {
            let e = s.apply_named("sstp-http-timeout", bad).unwrap_err();
            assert!(e.starts_with("sstp-http-timeout: "), "{e}");
        }
    }

    #[test]
    fn serial_line_options_are_ignored_and_nothing_else() {
        for o in [
            "lock",
            "nolock",
            "crtscts",
            "-crtscts",
            "nocrtscts",
            "modem",
            "local",
        ] {
            assert!(ignored_tty_option(o), "{o}");
        }
        for o in ["115200", "9600", "38400"] {
            assert!(ignored_tty_option(o), "{o}");
        }
        for o in [
            "0",
            "00",
            "",
            "pty",
            "connect",
            "init",
            "socket",
            "notty",
            "record",
            "sync",
            "/dev/ttyS0",
            "10.0.0.1:10.0.0.2",
            "+115200",
            "0x10",
            "12345678901",
            "lock ",
            "asyncmap",
            "sstp-server",
            "noauth",
        ] {
            assert!(!ignored_tty_option(o), "{o:?}");
        }
        assert_eq!(
            ignored_tty_option_message("crtscts"),
            "option crtscts ignored: SSTP has no serial line"
        );
    }

    /// The plugin's own options and the ignored tty options never share a name (pppd would
    /// take the first and the other would be dead).
    #[test]
    fn ignored_options_are_not_plugin_options() {
        for o in OPTIONS {
            assert!(!ignored_tty_option(o.name), "{}", o.name);
        }
    }
}
