//! The plugin's pppd options: names, validation, and the resulting [`Settings`]. Pure Rust (no
//! pppd calls), unit-tested; `options.rs` wires it into pppd's parser.

use std::path::PathBuf;
use std::time::Duration;

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
    /// `sstp-echo-interval` (seconds): SSTP hello timer; `None` = the 60 s of [MS-SSTP].
    pub echo_interval: Option<Duration>,
    /// `sstp-proxy-auth-file`: the file named and the credentials read from it (they win over
    /// credentials in the `sstp-proxy` URL).
    pub proxy_auth_file: Option<(PathBuf, ProxyCredentials)>,
    /// `sstp-http-timeout` (seconds): how long to wait for the server's HTTP response.
    pub http_timeout: Duration,
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
            echo_interval: None,
            proxy_auth_file: None,
            http_timeout: sstp_proto::http::RESPONSE_TIMEOUT,
        }
    }
}

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
    /// Whether only a privileged source may set it.
    pub privileged: bool,
    /// Whether the value may contain a secret (pppd's `dump` shows `??????`).
    pub secret: bool,
    apply: fn(&mut Settings, &str) -> Result<(), String>,
}

macro_rules! opt {
    ($name:literal, $desc:literal, $noarg:expr, $priv:expr, $f:expr) => {
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
            privileged: $priv,
            // Only the proxy URL can carry credentials (user:password@).
            secret: matches!($name.as_bytes(), b"sstp-proxy"),
            apply: $f,
        }
    };
}

/// All options, in the order registered with pppd (index = position).
pub static OPTIONS: &[OptionSpec] = &[
    opt!(
        "sstp-server",
        "SSTP server HOST[:PORT] or [IPv6]:PORT",
        false,
        false,
        set_server
    ),
    opt!(
        "sstp-ca-file",
        "PEM file of trusted CA certificates",
        false,
        false,
        |s, v| {
            s.ca_file = Some(existing_path(v, false)?);
            Ok(())
        }
    ),
    opt!(
        "sstp-ca-dir",
        "Hashed directory of trusted CA certificates",
        false,
        false,
        |s, v| {
            s.ca_dir = Some(existing_path(v, true)?);
            Ok(())
        }
    ),
    opt!(
        "sstp-cert-pin",
        "Pin the server certificate: sha256:HEX",
        false,
        false,
        |s, v| {
            s.pin = Some(v.parse::<CertPin>().map_err(|e| e.to_string())?);
            Ok(())
        }
    ),
    opt!(
        "sstp-sni",
        "TLS server name (SNI, Host, certificate name check)",
        false,
        false,
        |s, v| {
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
        false,
        |s, v| {
            s.proxy = Some(ProxyConfig::parse(v).map_err(|e| e.to_string())?);
            Ok(())
        }
    ),
    opt!(
        "sstp-log-level",
        "Plugin log verbosity 0 (errors) .. 4 (debug)",
        false,
        false,
        |s, v| {
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
        false,
        |s, v| {
            s.tls_min = v.parse::<TlsVersion>().map_err(|e| e.to_string())?;
            check_tls_range(s)
        }
    ),
    opt!(
        "sstp-tls-max",
        "Highest TLS version: 1.2 or 1.3",
        false,
        false,
        |s, v| {
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
        true,
        |s, v| {
            match v.trim().parse::<i32>() {
                Ok(fd) if fd > 2 => {
                    s.ipc_fd = Some(fd);
                    Ok(())
                }
                _ => Err(format!(
                    "cannot parse {v:?}: expected a file descriptor number > 2"
                )),
            }
        }
    ),
    opt!(
        "sstp-ip-family",
        "Address family: any, ipv4, ipv6, prefer-ipv4, prefer-ipv6",
        false,
        false,
        |s, v| {
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
        false,
        |s, v| {
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
        false,
        |s, _| {
            s.no_eku_check = true;
            Ok(())
        }
    ),
    opt!(
        "sstp-echo-interval",
        "Seconds of silence before an SSTP echo request (1..3600, default 60)",
        false,
        false,
        |s, v| {
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
        "File with the proxy's user and password (root-owned, not world-readable)",
        false,
        false,
        |s, v| {
            let creds = read_proxy_auth_file(std::path::Path::new(v))?;
            s.proxy_auth_file = Some((PathBuf::from(v), creds));
            Ok(())
        }
    ),
    opt!(
        "sstp-http-timeout",
        "Seconds to wait for the server's HTTP response (1..300, default 60)",
        false,
        false,
        |s, v| {
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
];

/// Reads `user\npassword\n` or `user:password` from `path`, which must be a regular file owned
/// by root and not accessible by other users (no bit for "others" in its mode). Ownership and
/// mode are checked on the opened file, so the file checked is the file read. Errors never
/// contain the file's contents.
pub fn read_proxy_auth_file(path: &std::path::Path) -> Result<ProxyCredentials, String> {
    read_proxy_auth_file_owned_by(path, 0)
}

fn read_proxy_auth_file_owned_by(
    path: &std::path::Path,
    owner: u32,
) -> Result<ProxyCredentials, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{shown}: cannot open: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if meta.uid() != owner {
        return Err(format!(
            "{shown}: refused: the file holds a password and must be owned by root \
             (it is owned by uid {}); run: chown root {shown}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o007 != 0 {
        return Err(format!(
            "{shown}: refused: the file holds a password and must not be accessible by other \
             users (mode {:04o}); run: chmod 600 {shown}",
            meta.mode() & 0o7777
        ));
    }
    let c = sstp_proxy_auth::Credentials::from_reader(file).map_err(|e| format!("{shown}: {e}"))?;
    Ok(ProxyCredentials {
        user: c.username().to_owned(),
        password: c.expose_password().to_owned(),
    })
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
    /// Applies option number `index` with `value` (empty for flags).
    pub fn apply(&mut self, index: usize, value: &str) -> Result<(), String> {
        let spec = OPTIONS
            .get(index)
            .ok_or_else(|| format!("unknown option index {index}"))?;
        (spec.apply)(self, value).map_err(|e| format!("{}: {e}", spec.name))
    }

    /// Applies the option called `name` (tests, documentation).
    pub fn apply_named(&mut self, name: &str, value: &str) -> Result<(), String> {
        let i = OPTIONS
            .iter()
            .position(|o| o.name == name)
            .ok_or_else(|| format!("unknown option {name}"))?;
        self.apply(i, value)
    }

    /// Checks the combination once all options are parsed (pppd's check_options).
    pub fn check(&self) -> Result<(), String> {
        if self.server.is_none() {
            return Err("sstp-server is required (sstp-server HOST[:PORT])".into());
        }
        if self.proxy_auth_file.is_some() && self.proxy.is_none() {
            return Err(
                "sstp-proxy-auth-file needs sstp-proxy (sstp-proxy http://HOST:PORT)".into(),
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
        c.proxy = self.proxy.clone();
        if let (Some(p), Some((_, creds))) = (c.proxy.as_mut(), &self.proxy_auth_file) {
            // The file wins over credentials in the URL.
            p.credentials = Some(creds.clone());
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
        assert_eq!(noarg, ["sstp-no-eku-check"]);
        let privileged: Vec<&str> = OPTIONS
            .iter()
            .filter(|o| o.privileged)
            .map(|o| o.name)
            .collect();
        assert_eq!(privileged, ["sstp-ipc-fd"]);
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
        assert_eq!(c.proxy.unwrap().port, 3128);
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
        let uid = owner_uid(&dir);
        let f = dir.join("proxy-cred");
        write_mode(&f, "carol\nPa55 w:rd\n", 0o600);
        let c = read_proxy_auth_file_owned_by(&f, uid).unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("carol", "Pa55 w:rd")
        );
        write_mode(&f, "dave:x:y\n", 0o640);
        let c = read_proxy_auth_file_owned_by(&f, uid).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("dave", "x:y"));

        let mut s = Settings::default();
        s.apply_named("sstp-server", "vpn.test").unwrap();
        s.apply_named("sstp-proxy", "http://url-user:url-pass@10.0.0.1:3128")
            .unwrap();
        s.proxy_auth_file = Some((f.clone(), c));
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
        s.proxy_auth_file = None;
        let creds = s
            .tunnel_config()
            .unwrap()
            .proxy
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!(creds.user, "url-user");
        // Debug output of the settings never shows a password.
        s.proxy_auth_file = Some((
            f,
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
    fn proxy_auth_file_is_refused_when_others_can_read_it_or_root_does_not_own_it() {
        let dir = scratch("refuse");
        let uid = owner_uid(&dir);
        let f = dir.join("proxy-cred");
        write_mode(&f, "carol:secret-in-file\n", 0o644);
        let e = read_proxy_auth_file_owned_by(&f, uid).unwrap_err();
        assert!(
            e.contains("must not be accessible by other users (mode 0644)"),
            "{e}"
        );
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains("secret-in-file"), "{e}");
        write_mode(&f, "carol:secret-in-file\n", 0o602);
        assert!(read_proxy_auth_file_owned_by(&f, uid).is_err());
        write_mode(&f, "carol:secret-in-file\n", 0o600);
        let e = read_proxy_auth_file_owned_by(&f, uid.wrapping_add(1)).unwrap_err();
        assert!(e.contains("must be owned by root"), "{e}");
        assert!(e.contains(&format!("owned by uid {uid}")), "{e}");
        // The option itself checks for root ownership.
        if uid != 0 {
            assert!(read_proxy_auth_file(&f)
                .unwrap_err()
                .contains("owned by root"));
        } else {
            assert_eq!(read_proxy_auth_file(&f).unwrap().password, "secret-in-file");
        }
        // Not a file, missing, symlink, bad format.
        let e = read_proxy_auth_file_owned_by(&dir, uid).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_proxy_auth_file_owned_by(&dir.join("missing"), uid).unwrap_err();
        assert!(e.contains("cannot open"), "{e}");
        let link = dir.join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(read_proxy_auth_file_owned_by(&link, uid).is_err());
        write_mode(&f, "no-separator-secret\n", 0o600);
        let e = read_proxy_auth_file_owned_by(&f, uid).unwrap_err();
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
        // The file needs a proxy.
        s.apply_named("sstp-server", "vpn.test").unwrap();
        s.proxy_auth_file = Some((
            f,
            ProxyCredentials {
                user: "u".into(),
                password: "p".into(),
            },
        ));
        assert!(s.check().unwrap_err().contains("needs sstp-proxy"));
        std::fs::remove_dir_all(&dir).unwrap();
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
}
