//! Building pppd's command line for `sstp connect`, and finding pppd and the plugin.
//! Pure functions (no process is started here) so that they are unit-tested.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::options::{Family, ServerArgs};

/// File name of the plugin in pppd's plugin directory.
pub const PLUGIN_FILE: &str = "sstp-rs.so";

/// File name of the cdylib in a cargo target directory (development builds).
pub const PLUGIN_BUILD_FILE: &str = "libsstp_rs.so";

/// Plugin directory fixed at build time (`SSTP_RS_PLUGIN_DIR` in the build environment).
pub const BUILD_PLUGIN_DIR: Option<&str> = option_env!("SSTP_RS_PLUGIN_DIR");

/// Everything that decides pppd's arguments, apart from the file descriptors.
#[derive(Clone, Debug)]
pub struct PppdRequest {
    /// Server and trust options.
    pub server: ServerArgs,
    /// PPP user name.
    pub user: String,
    /// The plugin (absolute path).
    pub plugin: PathBuf,
    /// `sstp-connect-timeout` seconds.
    pub connect_timeout: Option<u64>,
    /// `sstp-log-level`.
    pub log_level: Option<u8>,
    /// `sstp-channel` (`auto`, `l2tp`, `pty`).
    pub channel: Option<String>,
    /// `--default-route`: all traffic through the tunnel: `defaultroute`, plus
    /// `replacedefaultroute` when [`Self::replace_default_route`] (the plugin then pins a host
    /// route to the server, so the TLS connection keeps its way).
    pub default_route: bool,
    /// This pppd knows `replacedefaultroute` (Debian's 2.4.9, 2.5.x): see [`knows_option`].
    pub replace_default_route: bool,
    /// `--split`: `nodefaultroute` (only the tunnel's own network goes through it).
    pub split: bool,
    /// Add `usepeerdns`.
    pub peer_dns: bool,
    /// `sstp-proxy-auth-file`: the proxy credentials file (absolute path).
    pub proxy_auth_file: Option<PathBuf>,
    /// `--allow-weak-auth`: leave out [`REFUSE_WEAK_AUTH`] (PAP, CHAP-MD5, MS-CHAPv1, EAP).
    pub allow_weak_auth: bool,
    /// `--allow-eap` / `--eap-tls`.
    pub eap: EapOptions,
    /// Extra options after `--`, passed verbatim at the end.
    pub extra: Vec<String>,
}

/// EAP for `sstp connect` (refused by default with the other weak methods).
#[derive(Clone, Debug, Default)]
pub struct EapOptions {
    /// `--allow-eap`: leave out `refuse-eap`.
    pub allow: bool,
    /// `--eap-tls CERT KEY CA` (absolute paths): pppd `cert`, `key`, `ca`; implies `allow`.
    pub tls: Option<EapTls>,
}

/// The EAP-TLS files.
#[derive(Clone, Debug)]
pub struct EapTls {
    /// Client certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// CA of the server's EAP-TLS certificate (PEM).
    pub ca: PathBuf,
}

/// File descriptors pppd inherits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InheritedFds {
    /// Read end of the password pipe (for `passwordfd.so`).
    pub password: Option<i32>,
    /// The plugin's `sstp-ipc-fd` socket.
    pub ipc: Option<i32>,
    /// Read end of the proxy credentials pipe (`sstp-proxy-auth-fd`).
    pub proxy_auth: Option<i32>,
}

/// Refused by default: PAP sends the password in clear text, CHAP-MD5 and MS-CHAPv1 are
/// crackable offline, and none of them (nor pppd's EAP-MD5) yields MPPE keys, so the crypto
/// binding would use the all-zero HLAK and could not detect a TLS-intercepting middlebox.
/// MS-CHAPv2 remains, as on Windows.
pub const REFUSE_WEAK_AUTH: [&str; 4] =
    ["refuse-pap", "refuse-chap", "refuse-mschap", "refuse-eap"];

/// The PPP options every SSTP client needs, also in the README's peers file (a unit test
/// checks that the two agree): the server does not authenticate to us inside PPP (`noauth`;
/// the TLS certificate does), SSTP runs inside TLS so no MPPE/CCP and no PPP compression
/// (`noccp nobsdcomp nodeflate`), and the server assigns our address (`noipdefault`).
pub const CLIENT_OPTIONS: [&str; 5] = ["noauth", "noipdefault", "nobsdcomp", "nodeflate", "noccp"];

/// Printed on standard error (the log of `sstp connect`) when `--allow-weak-auth` is given.
pub const WEAK_AUTH_WARNING: &str = "warning: --allow-weak-auth: the server may pick PAP, \
     CHAP-MD5, MS-CHAPv1 or EAP-MD5. PAP sends the password in clear text to whoever holds the \
     TLS session, and none of them yields MPPE keys, so the crypto binding uses an all-zero key \
     and cannot detect a TLS-intercepting device: use it only with a server you trust that \
     cannot do MS-CHAPv2";

/// Printed when pppd ended before PPP authentication while [`REFUSE_WEAK_AUTH`] was in force.
pub const WEAK_AUTH_REFUSED: &str = "the server ended PPP before authentication: it most \
     likely accepts only PAP, CHAP-MD5, MS-CHAPv1 or EAP, which sstp connect refuses by default \
     (PAP sends the password in clear text; none of them gives keys for the crypto binding). Ask \
     the server's administrator to allow MS-CHAPv2, or, only if you trust the server and the \
     path to it, pass --allow-weak-auth";

/// Follows pppd's log lines to tell whether the server ended PPP before authentication (the
/// sign of a server that wants a method [`REFUSE_WEAK_AUTH`] refuses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthWatch {
    authenticated: bool,
    auth_failed: bool,
    ended_before_auth: bool,
}

impl AuthWatch {
    /// Takes one line of pppd's log.
    pub fn line(&mut self, l: &str) {
        if l.contains("authentication succeeded") {
            self.authenticated = true;
        } else if l.contains("authentication failed") {
            self.auth_failed = true;
        } else if !self.authenticated
            && (l.contains("peer refused to authenticate") || l.contains("LCP terminated by peer"))
        {
            self.ended_before_auth = true;
        }
    }

    /// Whether the link ended before authentication, without an authentication failure.
    pub fn ended_before_auth(&self) -> bool {
        self.ended_before_auth && !self.authenticated && !self.auth_failed
    }
}

/// pppd options that the user may not override through `--` (they would break how this
/// command drives pppd or leak the password).
const RESERVED: &[&str] = &["detach", "updetach", "password", "passwordfd"];

/// Rejects extra options that conflict with how `sstp connect` runs pppd.
pub fn check_extra(extra: &[String]) -> Result<(), String> {
    for o in extra {
        if RESERVED.contains(&o.as_str()) {
            return Err(format!(
                "pppd option {o:?} cannot be used with `sstp connect` (it needs `nodetach` and \
                 passes the password itself)"
            ));
        }
    }
    Ok(())
}

/// pppd's arguments (without the program name), in order.
pub fn build_args(r: &PppdRequest, fds: InheritedFds) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |k: &str, v: Option<String>| {
        a.push(k.to_owned());
        if let Some(v) = v {
            a.push(v);
        }
    };
    push("plugin", Some(r.plugin.display().to_string()));
    push("sstp-server", Some(r.server.server_option_value()));
    if let Some(p) = &r.server.ca_file {
        push("sstp-ca-file", Some(p.display().to_string()));
    }
    if let Some(p) = &r.server.ca_dir {
        push("sstp-ca-dir", Some(p.display().to_string()));
    }
    if let Some(p) = &r.server.pin {
        push("sstp-cert-pin", Some(p.to_option_value()));
    }
    if let Some(s) = &r.server.sni {
        push("sstp-sni", Some(s.clone()));
    }
    if let Some(p) = &r.server.proxy {
        push("sstp-proxy", Some(proxy_url(p)));
    }
    if r.server.proxy_no_basic {
        push("sstp-proxy-no-basic", None);
    }
    if let Some(f) = &r.proxy_auth_file {
        push("sstp-proxy-auth-file", Some(f.display().to_string()));
    }
    if let Some(v) = r.server.tls_min {
        push("sstp-tls-min", Some(v.to_string()));
    }
    if let Some(v) = r.server.tls_max {
        push("sstp-tls-max", Some(v.to_string()));
    }
    if let Some(f) = r.server.ip_family {
        if f != Family::Any {
            push("sstp-ip-family", Some(f.option_value().to_owned()));
        }
    }
    if r.server.no_eku_check {
        push("sstp-no-eku-check", None);
    }
    if let Some(t) = r.connect_timeout {
        push("sstp-connect-timeout", Some(t.to_string()));
    }
    if let Some(l) = r.log_level {
        push("sstp-log-level", Some(l.to_string()));
    }
    if let Some(c) = &r.channel {
        push("sstp-channel", Some(c.clone()));
    }
    if let Some(fd) = fds.ipc {
        push("sstp-ipc-fd", Some(fd.to_string()));
    }
    if let Some(fd) = fds.proxy_auth {
        push("sstp-proxy-auth-fd", Some(fd.to_string()));
    }
    push("user", Some(r.user.clone()));
    if let Some(fd) = fds.password {
        push("plugin", Some("passwordfd.so".into()));
        push("passwordfd", Some(fd.to_string()));
    }
    for o in std::iter::once("nodetach").chain(CLIENT_OPTIONS) {
        push(o, None);
    }
    let eap = r.eap.allow || r.eap.tls.is_some();
    if !r.allow_weak_auth {
        for o in REFUSE_WEAK_AUTH {
            if !(eap && o == "refuse-eap") {
                push(o, None);
            }
        }
    }
    if let Some(t) = &r.eap.tls {
        push("ca", Some(t.ca.display().to_string()));
        push("cert", Some(t.cert.display().to_string()));
        push("key", Some(t.key.display().to_string()));
    }
    // pppd's log (not debug lines unless `debug`) on its stderr, which this command reads.
    push("logfd", Some("2".into()));
    push("ipparam", Some("sstp-cli".into()));
    if r.default_route {
        push("defaultroute", None);
        if r.replace_default_route {
            push("replacedefaultroute", None);
        }
    } else if r.split {
        push("nodefaultroute", None);
    }
    if r.peer_dns {
        push("usepeerdns", None);
    }
    a.extend(r.extra.iter().cloned());
    a
}

/// Largest pppd executable [`knows_option`] reads.
const PPPD_BINARY_MAX: u64 = 16 << 20;

/// Whether the pppd executable at `pppd` has an option called `name`: its option tables hold
/// each name as a NUL-terminated string (the linker may store it as the tail of a longer one,
/// as Debian's 2.4.9 keeps `replacedefaultroute` inside `noreplacedefaultroute`). Reads at most
/// 16 MiB; false if unreadable.
pub fn knows_option(pppd: &Path, name: &str) -> bool {
    use std::io::Read;
    let mut buf = Vec::new();
    let read =
        std::fs::File::open(pppd).and_then(|f| f.take(PPPD_BINARY_MAX).read_to_end(&mut buf));
    read.is_ok() && binary_has_option(&buf, name)
}

/// [`knows_option`] on the executable's bytes: `name` followed by a NUL.
pub fn binary_has_option(bin: &[u8], name: &str) -> bool {
    let mut needle = name.as_bytes().to_vec();
    needle.push(0);
    bin.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// `http://[user[:password]@]host:port` for `sstp-proxy` (percent-escaping the user info).
pub fn proxy_url(p: &sstp_tunnel::ProxyConfig) -> String {
    let host = if p.host.contains(':') {
        format!("[{}]", p.host)
    } else {
        p.host.clone()
    };
    let creds = match &p.credentials {
        None => String::new(),
        Some(c) if c.password.is_empty() => format!("{}@", pct(&c.user)),
        Some(c) => format!("{}:{}@", pct(&c.user), pct(&c.password)),
    };
    format!("http://{creds}{host}:{}", p.port)
}

fn pct(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// The arguments as a shell-like line for display, with any proxy password masked.
pub fn display_command(program: &Path, args: &[String]) -> String {
    let mut out = shell_quote(&program.display().to_string());
    let mut prev_proxy = false;
    for a in args {
        let shown = if prev_proxy {
            mask_url_password(a)
        } else {
            a.clone()
        };
        prev_proxy = a == "sstp-proxy";
        out.push(' ');
        out.push_str(&shell_quote(&shown));
    }
    out
}

fn mask_url_password(u: &str) -> String {
    if let Some(rest) = u.strip_prefix("http://") {
        if let Some(at) = rest.rfind('@') {
            let ui = &rest[..at];
            if let Some((user, _)) = ui.split_once(':') {
                return format!("http://{user}:***@{}", &rest[at + 1..]);
            }
        }
    }
    u.to_owned()
}

/// Quotes for a POSIX shell when needed.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Parses `pppd --version` output: `pppd version 2.4.9` → `2.4.9`.
pub fn parse_pppd_version(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let v = l.trim().strip_prefix("pppd version")?.trim();
        let ok = !v.is_empty()
            && v.len() < 32
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
        ok.then(|| v.to_owned())
    })
}

/// Runs `pppd --version` (bounded by `limit`) and parses it.
pub fn pppd_version(pppd: &Path, limit: Duration) -> Result<String, String> {
    use std::process::Stdio;
    let mut child = crate::child::command(pppd)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {} --version: {e}", pppd.display()))?;
    let t0 = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if t0.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} --version did not finish", pppd.display()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {} --version: {e}", pppd.display())),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("reading {} --version: {e}", pppd.display()))?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_pppd_version(&text).ok_or_else(|| {
        format!(
            "cannot read the version from `{} --version`: {:?}",
            pppd.display(),
            text.trim()
        )
    })
}

/// Where `sstp connect` (running as root) looks for the programs it starts: the system
/// directories only, never `PATH` (a user directory early in root's `PATH`, as with `sudo -E`,
/// must not choose the pppd that gets the password).
pub const SYSTEM_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The first executable `name` in `dirs`.
pub fn find_in<P: AsRef<Path>>(dirs: &[P], name: &str) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| d.as_ref().join(name))
        .find(|p| is_executable(p))
}

/// Finds pppd in [`SYSTEM_DIRS`] (`--pppd PATH` chooses another).
pub fn find_pppd() -> Option<PathBuf> {
    find_in(&SYSTEM_DIRS, "pppd")
}

/// Finds `ip` (iproute2) in [`SYSTEM_DIRS`].
pub fn find_ip() -> Option<PathBuf> {
    find_in(&SYSTEM_DIRS, "ip")
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Candidate plugin paths, best first: the build-time directory, then pppd's plugin directory
/// for `version`. Development builds are found with [`dev_plugin`].
pub fn plugin_candidates(build_dir: Option<&str>, version: Option<&str>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = build_dir.filter(|d| !d.is_empty()) {
        v.push(Path::new(d).join(PLUGIN_FILE));
    }
    if let Some(ver) = version {
        v.push(PathBuf::from(format!("/usr/lib/pppd/{ver}")).join(PLUGIN_FILE));
    }
    v
}

/// Development fallback: the newest `libsstp_rs.so` in the cargo target directory this
/// executable runs from (`exe_dir` and `exe_dir/deps`; cargo does not always refresh the
/// uplifted copy).
pub fn dev_plugin(exe_dir: &Path) -> Option<PathBuf> {
    let dirs = [exe_dir.to_path_buf(), exe_dir.join("deps")];
    dirs.iter()
        .map(|d| d.join(PLUGIN_BUILD_FILE))
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?;
            m.is_file().then(|| (m.modified().ok(), p))
        })
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sstp_tunnel::{CertPin, ProxyConfig, TlsVersion};

    fn request() -> PppdRequest {
        PppdRequest {
            server: ServerArgs {
                server: ("vpn.example.com".into(), 443),
                ..ServerArgs::default()
            },
            user: "DOMAIN\\alice".into(),
            plugin: "/usr/lib/pppd/2.4.9/sstp-rs.so".into(),
            connect_timeout: None,
            log_level: None,
            channel: None,
            default_route: false,
            replace_default_route: false,
            split: false,
            peer_dns: false,
            proxy_auth_file: None,
            allow_weak_auth: false,
            eap: EapOptions::default(),
            extra: Vec::new(),
        }
    }

    fn value_of<'a>(args: &'a [String], key: &str) -> Option<&'a str> {
        args.iter()
            .position(|a| a == key)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    }

    #[test]
    fn minimal_command_line() {
        let a = build_args(&request(), InheritedFds::default());
        assert_eq!(
            &a[..4],
            [
                "plugin",
                "/usr/lib/pppd/2.4.9/sstp-rs.so",
                "sstp-server",
                "vpn.example.com:443"
            ]
        );
        assert_eq!(value_of(&a, "user"), Some("DOMAIN\\alice"));
        for o in ["nodetach", "noauth", "noipdefault"] {
            assert!(a.iter().any(|x| x == o), "{o} missing: {a:?}");
        }
        assert_eq!(value_of(&a, "logfd"), Some("2"));
        assert!(!a.iter().any(|x| x.contains("passwordfd")));
        assert!(!a.iter().any(|x| x == "sstp-ipc-fd"));
        assert!(!a.iter().any(|x| x.starts_with("sstp-proxy")));
        assert!(!a.iter().any(|x| x == "defaultroute" || x == "usepeerdns"));
    }

    #[test]
    fn all_options_and_fds() {
        let mut r = request();
        r.server.server = ("2001:db8::1".into(), 8443);
        r.server.ca_file = Some("/etc/ca.pem".into());
        r.server.ca_dir = Some("/etc/ssl/certs".into());
        r.server.pin = Some(CertPin([0xab; 32]));
        r.server.sni = Some("vpn.example.com".into());
        r.server.proxy = Some(ProxyConfig::parse("http://proxy.lan:3128").unwrap());
        r.server.tls_min = Some(TlsVersion::Tls10);
        r.server.tls_max = Some(TlsVersion::Tls12);
        r.server.ip_family = Some(Family::Ipv6);
        r.server.no_eku_check = true;
        r.server.proxy_no_basic = true;
        r.connect_timeout = Some(20);
        r.log_level = Some(4);
        r.channel = Some("pty".into());
        r.default_route = true;
        r.peer_dns = true;
        r.proxy_auth_file = Some("/tmp/sstp-proxy-ab12CD/proxy-auth".into());
        r.extra = vec!["mtu".into(), "1400".into(), "debug".into()];
        let a = build_args(
            &r,
            InheritedFds {
                password: Some(7),
                ipc: Some(9),
                proxy_auth: Some(11),
            },
        );
        assert_eq!(value_of(&a, "sstp-server"), Some("[2001:db8::1]:8443"));
        assert_eq!(value_of(&a, "sstp-ca-file"), Some("/etc/ca.pem"));
        assert_eq!(value_of(&a, "sstp-ca-dir"), Some("/etc/ssl/certs"));
        let pin = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(value_of(&a, "sstp-cert-pin"), Some(pin.as_str()));
        assert_eq!(value_of(&a, "sstp-sni"), Some("vpn.example.com"));
        assert_eq!(value_of(&a, "sstp-proxy"), Some("http://proxy.lan:3128"));
        assert_eq!(
            value_of(&a, "sstp-proxy-auth-file"),
            Some("/tmp/sstp-proxy-ab12CD/proxy-auth")
        );
        assert_eq!(value_of(&a, "sstp-tls-min"), Some("1.0"));
        assert_eq!(value_of(&a, "sstp-tls-max"), Some("1.2"));
        assert_eq!(value_of(&a, "sstp-ip-family"), Some("ipv6"));
        assert!(a.iter().any(|x| x == "sstp-no-eku-check"));
        assert!(a.iter().any(|x| x == "sstp-proxy-no-basic"));
        assert_eq!(value_of(&a, "sstp-connect-timeout"), Some("20"));
        assert_eq!(value_of(&a, "sstp-log-level"), Some("4"));
        assert_eq!(value_of(&a, "sstp-channel"), Some("pty"));
        assert_eq!(value_of(&a, "sstp-ipc-fd"), Some("9"));
        assert_eq!(value_of(&a, "sstp-proxy-auth-fd"), Some("11"));
        // passwordfd.so is loaded before its option
        let p = a.iter().position(|x| x == "passwordfd.so").unwrap();
        assert_eq!(a[p - 1], "plugin");
        assert_eq!(a[p + 1], "passwordfd");
        assert_eq!(a[p + 2], "7");
        assert!(a.iter().any(|x| x == "defaultroute"));
        assert!(a.iter().any(|x| x == "usepeerdns"));
        // extras come last, verbatim
        assert_eq!(&a[a.len() - 3..], ["mtu", "1400", "debug"]);
    }

    #[test]
    fn eap_is_allowed_only_when_asked() {
        let mut r = request();
        r.eap.allow = true;
        let a = build_args(&r, InheritedFds::default());
        assert!(!a.iter().any(|x| x == "refuse-eap"), "{a:?}");
        for o in ["refuse-pap", "refuse-chap", "refuse-mschap"] {
            assert!(a.iter().any(|x| x == o), "{o}: {a:?}");
        }
        assert!(value_of(&a, "cert").is_none(), "{a:?}");
        let mut r = request();
        r.eap.tls = Some(EapTls {
            cert: "/c/me.pem".into(),
            key: "/c/me.key".into(),
            ca: "/c/ca.pem".into(),
        });
        let a = build_args(&r, InheritedFds::default());
        assert!(!a.iter().any(|x| x == "refuse-eap"), "{a:?}");
        assert!(a.iter().any(|x| x == "refuse-pap"), "{a:?}");
        assert_eq!(value_of(&a, "cert"), Some("/c/me.pem"));
        assert_eq!(value_of(&a, "key"), Some("/c/me.key"));
        assert_eq!(value_of(&a, "ca"), Some("/c/ca.pem"));
    }

    #[test]
    fn default_route_split_and_replace() {
        let mut r = request();
        let a = build_args(&r, InheritedFds::default());
        assert!(!a.iter().any(|x| x.contains("defaultroute")), "{a:?}");
        r.split = true;
        let a = build_args(&r, InheritedFds::default());
        assert!(a.iter().any(|x| x == "nodefaultroute"), "{a:?}");
        r.split = false;
        r.default_route = true;
        let a = build_args(&r, InheritedFds::default());
        assert!(a.iter().any(|x| x == "defaultroute"), "{a:?}");
        assert!(!a.iter().any(|x| x == "replacedefaultroute"), "{a:?}");
        r.replace_default_route = true;
        let a = build_args(&r, InheritedFds::default());
        assert!(a.iter().any(|x| x == "defaultroute"), "{a:?}");
        assert!(a.iter().any(|x| x == "replacedefaultroute"), "{a:?}");
        assert!(!a.iter().any(|x| x == "nodefaultroute"), "{a:?}");
    }

    #[test]
    fn option_names_in_a_binary() {
        // Debian's 2.4.9 stores `replacedefaultroute` as the tail of `noreplacedefaultroute`.
        let debian = b"\x7fELF..\0defaultroute\0noreplacedefaultroute\0usepeerdns\0";
        assert!(binary_has_option(debian, "replacedefaultroute"));
        assert!(binary_has_option(debian, "usepeerdns"));
        let upstream = b"\x7fELF..\0defaultroute\0nodefaultroute\0usepeerdns\0";
        assert!(!binary_has_option(upstream, "replacedefaultroute"));
        assert!(!binary_has_option(
            b"replacedefaultroutes\0",
            "replacedefaultroute"
        ));
        assert!(!knows_option(
            Path::new("/nonexistent/pppd"),
            "defaultroute"
        ));
        // The real ones, where installed.
        for pppd in ["/usr/sbin/pppd"] {
            if Path::new(pppd).is_file() {
                assert!(knows_option(Path::new(pppd), "defaultroute"), "{pppd}");
            }
        }
    }

    #[test]
    fn weak_authentication_is_refused_unless_allowed() {
        let a = build_args(&request(), InheritedFds::default());
        for o in REFUSE_WEAK_AUTH {
            assert_eq!(
                a.iter().filter(|x| *x == o).count(),
                1,
                "{o} missing: {a:?}"
            );
        }
        assert!(!a.iter().any(|x| x.contains("mschap-v2")), "{a:?}");
        assert!(!a.iter().any(|x| x.starts_with("require-")), "{a:?}");
        // Before the user's extras, so that `-- refuse-eap` or `-- debug` still come last.
        let mut r = request();
        r.extra = vec!["debug".into()];
        let a = build_args(&r, InheritedFds::default());
        let refuse = a.iter().position(|x| x == "refuse-eap").unwrap();
        assert!(refuse < a.len() - 1 && a[a.len() - 1] == "debug", "{a:?}");
        r.allow_weak_auth = true;
        let a = build_args(&r, InheritedFds::default());
        assert!(!a.iter().any(|x| x.starts_with("refuse-")), "{a:?}");
        assert!(a.iter().any(|x| x == "noauth"), "{a:?}");
    }

    #[test]
    fn a_server_that_ends_ppp_before_authentication_is_noticed() {
        let seen = |lines: &[&str]| {
            let mut w = AuthWatch::default();
            lines.iter().for_each(|l| w.line(l));
            w.ended_before_auth()
        };
        assert!(seen(&[
            "Connect: ppp0 <--> /dev/pts/1",
            "LCP terminated by peer (peer refused to authenticate)",
        ]));
        assert!(seen(&["LCP terminated by peer"]));
        assert!(!seen(&[
            "CHAP authentication succeeded",
            "LCP terminated by peer",
        ]));
        assert!(!seen(&[
            "MS-CHAP authentication failed: E=691 Authentication failure",
            "LCP terminated by peer (Authentication failed)",
        ]));
        assert!(!seen(&["Connection terminated.", "Modem hangup"]));
    }

    #[test]
    fn reserved_extras_rejected() {
        assert!(check_extra(&["mtu".into(), "1400".into()]).is_ok());
        for bad in ["password", "passwordfd", "updetach", "detach"] {
            assert!(check_extra(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn proxy_url_round_trips_and_is_masked() {
        let p = ProxyConfig::parse("http://DOM%5Cu:p%40ss@[::1]:3128").unwrap();
        let u = proxy_url(&p);
        assert_eq!(u, "http://DOM%5Cu:p%40ss@[::1]:3128");
        assert_eq!(ProxyConfig::parse(&u).unwrap(), p);
        let shown = display_command(Path::new("/usr/sbin/pppd"), &["sstp-proxy".into(), u]);
        assert!(!shown.contains("p%40ss"), "{shown}");
        assert!(shown.contains("DOM%5Cu:***@"), "{shown}");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("nodetach"), "nodetach");
        assert_eq!(shell_quote("DOMAIN\\alice"), "'DOMAIN\\alice'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn versions_and_paths() {
        assert_eq!(
            parse_pppd_version("pppd version 2.4.9\n").as_deref(),
            Some("2.4.9")
        );
        assert_eq!(
            parse_pppd_version("junk\npppd version 2.5.2\n").as_deref(),
            Some("2.5.2")
        );
        assert_eq!(parse_pppd_version("pppd version ../../etc"), None);
        assert_eq!(parse_pppd_version(""), None);
        let c = plugin_candidates(Some("/opt/sstp"), Some("2.4.9"));
        assert_eq!(
            c,
            [
                Path::new("/opt/sstp/sstp-rs.so"),
                Path::new("/usr/lib/pppd/2.4.9/sstp-rs.so")
            ]
        );
        assert!(plugin_candidates(Some(""), None).is_empty());
    }

    #[test]
    fn dev_plugin_prefers_the_newest_build() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(dev_plugin(dir.path()), None);
        let top = dir.path().join(PLUGIN_BUILD_FILE);
        std::fs::write(&top, b"old").unwrap();
        assert_eq!(dev_plugin(dir.path()), Some(top.clone()));
        std::fs::create_dir(dir.path().join("deps")).unwrap();
        let deps = dir.path().join("deps").join(PLUGIN_BUILD_FILE);
        std::fs::write(&deps, b"new").unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(600);
        std::fs::File::options()
            .write(true)
            .open(&top)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(dev_plugin(dir.path()), Some(deps));
    }

    #[test]
    fn finds_pppd_in_the_system_directories_only() {
        // The build machine and CI have ppp installed; elsewhere this part cannot run.
        match find_pppd() {
            Some(p) => assert!(
                SYSTEM_DIRS.iter().any(|d| p.parent() == Some(Path::new(d))),
                "{}",
                p.display()
            ),
            None => integration_tests::testbed::skip_unavailable(
                "pppd is not installed in /usr/sbin or /sbin",
            ),
        }
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("pppd");
        std::fs::write(&fake, "#!/bin/sh\necho 'pppd version 9.9.9'\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(find_in(&[&empty, dir.path()], "pppd"), Some(fake.clone()));
        assert_eq!(find_in(&[&empty], "pppd"), None);
        assert_eq!(
            pppd_version(&fake, Duration::from_secs(5)).unwrap(),
            "9.9.9"
        );
    }

    /// The README's peers file teaches the options `sstp connect` generates: its PPP policy
    /// flags (without the site's choices of routes and DNS) are exactly [`CLIENT_OPTIONS`] and
    /// [`REFUSE_WEAK_AUTH`], and `sstp connect` passes all of them; plugin/OPTIONS.md's example
    /// command line too.
    #[test]
    fn the_documented_option_set_is_the_generated_one() {
        const WITH_VALUE: [&str; 7] = [
            "plugin",
            "sstp-server",
            "user",
            "remotename",
            "mtu",
            "mru",
            "ipparam",
        ];
        const SITE: [&str; 6] = [
            "pppd",
            "\\",
            "defaultroute",
            "nodefaultroute",
            "usepeerdns",
            "nodetach",
        ];
        let policy = |text: &str| -> std::collections::BTreeSet<String> {
            let mut out = std::collections::BTreeSet::new();
            let mut words = text.split_whitespace();
            while let Some(w) = words.next() {
                if WITH_VALUE.contains(&w) {
                    words.next();
                } else if !SITE.contains(&w) {
                    out.insert(w.to_owned());
                }
            }
            out
        };
        let want: std::collections::BTreeSet<String> = CLIENT_OPTIONS
            .iter()
            .chain(REFUSE_WEAK_AUTH.iter())
            .map(|s| s.to_string())
            .collect();
        let readme = include_str!("../../README.md");
        let block = readme
            .split("A peers file, `/etc/ppp/peers/work`:")
            .nth(1)
            .and_then(|r| r.split("```").nth(1))
            .expect("README's peers file block");
        assert_eq!(policy(block), want, "README peers file");
        let doc = include_str!("../../plugin/OPTIONS.md");
        let example = doc.split("```").nth(1).expect("OPTIONS.md example");
        assert_eq!(policy(example), want, "plugin/OPTIONS.md example");
        let a = build_args(&request(), InheritedFds::default());
        for o in &want {
            assert!(a.contains(o), "sstp connect does not pass {o}: {a:?}");
        }
    }
}
