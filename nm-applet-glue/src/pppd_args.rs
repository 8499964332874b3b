//! The one place where a parsed profile ([`NmSettings`]) becomes pppd's argument list: the
//! sstp-rs plugin and its `sstp-*` options, then pppd's own options in the order
//! network-manager-sstp's `construct_pppd_args` gives them.
//!
//! Secrets never appear here. The PPP password (or the EAP-TLS key passphrase, which pppd's
//! EAP-TLS reads from the same `passwd`) goes through `plugin passwordfd.so passwordfd N`, and
//! the proxy credentials through `sstp-proxy-auth-fd N`, both pipes written and closed before
//! pppd starts ([`SecretPayloads`]; the pipes are `sstp_cli::password::password_pipe` and
//! `sstp_cli::proxyfile::auth_pipe`, exactly as `sstp connect` does).

use std::path::PathBuf;

use sstp_proto::http::sanitize;
use sstp_tunnel::ProxyConfig;
use zeroize::Zeroizing;

use crate::keys::{data, ours, secret};
use crate::settings::{ConnectionType, Dict, NmSettings};

/// pppd's `ipparam` prefix. network-manager-sstp passes `nm-pptp-service-<pid>` on purpose:
/// Debian's `/etc/ppp/ip-up.d/0000usepeerdns` skips that prefix and so leaves
/// `/etc/resolv.conf` to NetworkManager. Kept for the same reason.
pub const IPPARAM_PREFIX: &str = "nm-pptp-service-";

/// network-manager-sstp's default for EAP-TLS `capath` when `tls-ca-cert` is not set.
pub const SYSTEM_CA_PATH: &str = "/etc/ssl/certs";

/// The plugin option that keeps an `ignore-cert-warn=yes` profile connecting: a certificate
/// that fails verification is accepted for the session, never silently (the plugin logs what
/// failed, the certificate and its pin; the service repeats it as the login banner).
pub const ACCEPT_UNTRUSTED_OPTION: &str = "sstp-cert-accept-untrusted";

/// `ipv4.method` and friends that shape pppd's IPv4 options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Ip4Method {
    /// `auto` (default).
    #[default]
    Auto,
    /// `manual` with the first address, its prefix length and `ipv4.gateway` (the peer).
    Manual {
        /// Local address.
        address: std::net::Ipv4Addr,
        /// Prefix length.
        prefix: u8,
        /// Peer address (`ipv4.gateway`).
        peer: std::net::Ipv4Addr,
    },
    /// `disabled`: `noip`.
    Disabled,
}

/// `ipv6.method`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Ip6Method {
    /// `ignore` or absent: no IPv6 option.
    #[default]
    Ignore,
    /// `auto` (or `manual` without an address): `+ipv6`.
    Auto,
    /// `manual` with local and peer interface identifiers: `ipv6 A,B`.
    Manual(String, String),
    /// `disabled`: `noipv6`.
    Disabled,
}

/// What the service knows besides `vpn.data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// The sstp-rs plugin (absolute path).
    pub plugin: PathBuf,
    /// The service's pid, for `ipparam` ([`IPPARAM_PREFIX`]).
    pub pid: u32,
    /// `vpn.user-name`, used when `user` is not set.
    pub user_name_fallback: Option<String>,
    /// IPv4 method.
    pub ip4: Ip4Method,
    /// `ipv4.ignore-auto-dns`.
    pub ignore_auto_dns: bool,
    /// IPv6 method.
    pub ip6: Ip6Method,
    /// The service runs with `--debug`: pppd `debug`, plugin log level 3.
    pub debug: bool,
    /// `tls-user-cert` is a PKCS#12 file (the caller looks at the file).
    pub user_cert_is_pkcs12: bool,
    /// pppd ≥ 2.5: it has `pkcs12`, `tls-verify-method` and `tls-verify-key-usage` (2.4.9 has
    /// not; network-manager-sstp's `USE_PPP_EXT_TLS_SETTINGS`).
    pub pppd_ext_tls: bool,
}

/// Descriptors pppd inherits (numbers as pppd sees them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fds {
    /// Read end of the password pipe (`passwordfd`).
    pub password: Option<i32>,
    /// Read end of the proxy credentials pipe (`sstp-proxy-auth-fd`).
    pub proxy_auth: Option<i32>,
    /// The plugin's configuration channel (`sstp-ipc-fd`).
    pub ipc: Option<i32>,
}

/// pppd's arguments and what the user should know about the translation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PppdArgs {
    /// Arguments without the program name.
    pub args: Vec<String>,
    /// One sentence each, sanitized, for the service's log and NetworkManager's message.
    pub warnings: Vec<String>,
}

/// What goes into the pipes (never onto the command line).
#[derive(Default)]
pub struct SecretPayloads {
    /// For `passwordfd`: the PPP password, or in TLS mode the key passphrase.
    pub password: Option<Zeroizing<String>>,
    /// For `sstp-proxy-auth-fd`: proxy user and password.
    pub proxy: Option<(String, Zeroizing<String>)>,
}

/// Which secret reaches pppd through which pipe.
pub fn secret_payloads(s: &NmSettings, secrets: &Dict) -> SecretPayloads {
    let get = |k: &str| {
        secrets
            .get(k)
            .filter(|v| !v.is_empty())
            .map(|v| Zeroizing::new(v.clone()))
    };
    let password = match s.connection_type {
        ConnectionType::Password => get(secret::PASSWORD),
        ConnectionType::Tls => get(secret::TLS_USER_KEY_SECRET),
    };
    let proxy = s.proxy.as_ref().and_then(|p| {
        let user = p.user.clone()?;
        Some((user, get(secret::PROXY_PASSWORD)?))
    });
    SecretPayloads { password, proxy }
}

fn push(a: &mut Vec<String>, k: &str, v: Option<String>) {
    a.push(k.to_owned());
    if let Some(v) = v {
        a.push(v);
    }
}

fn path_arg(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `sstp-server` value: `host:port`, `[v6]:port`.
fn server_value(s: &NmSettings) -> String {
    let (h, p) = &s.server;
    if h.contains(':') {
        format!("[{h}]:{p}")
    } else {
        format!("{h}:{p}")
    }
}

fn proxy_args(a: &mut Vec<String>, s: &NmSettings, fds: Fds) -> Result<(), String> {
    let Some(p) = &s.proxy else { return Ok(()) };
    let host = if p.host.contains(':') {
        format!("[{}]", p.host)
    } else {
        p.host.clone()
    };
    let cfg = ProxyConfig::parse(&format!("http://{host}:{}", p.port)).map_err(|e| {
        format!(
            "vpn.data {}: {:?} is not a proxy host ({e})",
            data::PROXY_SERVER,
            sanitize(&p.host)
        )
    })?;
    push(a, "sstp-proxy", Some(sstp_cli::pppd::proxy_url(&cfg)));
    if let Some(fd) = fds.proxy_auth {
        push(a, "sstp-proxy-auth-fd", Some(fd.to_string()));
    }
    if s.sstp.proxy_no_basic {
        push(a, "sstp-proxy-no-basic", None);
    }
    Ok(())
}

fn trust_args(a: &mut Vec<String>, s: &NmSettings) {
    if let Some(p) = &s.ca_cert {
        push(a, "sstp-ca-file", Some(path_arg(p)));
    }
    if let Some(pin) = &s.sstp.cert_pin {
        push(a, "sstp-cert-pin", Some(pin.to_option_value()));
    }
    if let Some(n) = &s.sstp.sni {
        push(a, "sstp-sni", Some(n.clone()));
    }
    if let Some(v) = s.sstp.tls_min {
        push(a, "sstp-tls-min", Some(v.to_string()));
    }
    if let Some(v) = s.sstp.tls_max {
        push(a, "sstp-tls-max", Some(v.to_string()));
    }
    if s.sstp.no_eku_check {
        push(a, "sstp-no-eku-check", None);
    }
    // A pin is exact: with one, ignore-cert-warn has nothing left to loosen.
    if s.ignore_cert_warn && s.sstp.cert_pin.is_none() {
        push(a, ACCEPT_UNTRUSTED_OPTION, None);
    }
}

fn tuning_args(a: &mut Vec<String>, s: &NmSettings, l: &Launch, fds: Fds) {
    if let Some(f) = s.sstp.ip_family {
        push(a, "sstp-ip-family", Some(f.to_owned()));
    }
    if let Some(t) = s.sstp.connect_timeout {
        push(a, "sstp-connect-timeout", Some(t.to_string()));
    }
    let level = s.sstp.log_level.or(l.debug.then_some(3));
    if let Some(v) = level {
        push(a, "sstp-log-level", Some(v.to_string()));
    }
    if let Some(fd) = fds.ipc {
        push(a, "sstp-ipc-fd", Some(fd.to_string()));
    }
}

fn ip4_args(a: &mut Vec<String>, l: &Launch) {
    match &l.ip4 {
        Ip4Method::Manual {
            address,
            prefix,
            peer,
        } => {
            let bits = u32::MAX
                .checked_shl(32 - u32::from((*prefix).min(32)))
                .unwrap_or(0);
            push(a, &format!("{address}:{peer}"), None);
            push(
                a,
                "netmask",
                Some(std::net::Ipv4Addr::from(bits).to_string()),
            );
            push(a, "ipcp-accept-local", None);
            push(a, "ipcp-accept-remote", None);
        }
        Ip4Method::Disabled => push(a, "noip", None),
        Ip4Method::Auto => {}
    }
    if !matches!(l.ip4, Ip4Method::Disabled) && !l.ignore_auto_dns {
        push(a, "usepeerdns", None);
    }
    if !matches!(l.ip4, Ip4Method::Manual { .. }) {
        push(a, "noipdefault", None);
    }
    match &l.ip6 {
        Ip6Method::Manual(local, peer) => push(a, "ipv6", Some(format!("{local},{peer}"))),
        Ip6Method::Auto => push(a, "+ipv6", None),
        Ip6Method::Disabled => push(a, "noipv6", None),
        Ip6Method::Ignore => {}
    }
}

fn eap_tls_args(a: &mut Vec<String>, s: &NmSettings, l: &Launch) {
    let t = &s.eap_tls;
    let pkcs12 = l.user_cert_is_pkcs12 && l.pppd_ext_tls;
    if let Some(n) = &t.identity {
        push(a, "name", Some(n.clone()));
    }
    if let Some(c) = &t.user_cert {
        push(a, if pkcs12 { "pkcs12" } else { "cert" }, Some(path_arg(c)));
    }
    if let (Some(k), false) = (&t.user_key, pkcs12) {
        push(a, "key", Some(path_arg(k)));
    }
    match &t.ca_cert {
        Some(ca) => push(a, "ca", Some(path_arg(ca))),
        None => push(a, "capath", Some(SYSTEM_CA_PATH.into())),
    }
    if let Some(c) = &t.crl_file {
        push(a, "crl", Some(path_arg(c)));
    }
    if let Some(v) = &t.max_version {
        push(a, "max-tls-version", Some(v.clone()));
    }
    if t.verify_key_usage && l.pppd_ext_tls {
        push(a, "tls-verify-key-usage", None);
    }
    if let (Some(m), Some(r), true) = (&t.verify_method, &t.remotename, l.pppd_ext_tls) {
        push(a, "tls-verify-method", Some(m.clone()));
        push(a, "remotename", Some(r.clone()));
    }
    push(a, "need-peer-eap", None);
}

/// EAP-TLS settings this pppd cannot apply (2.4.9 lacks the options).
fn ext_tls_warnings(s: &NmSettings, l: &Launch) -> Vec<String> {
    let t = &s.eap_tls;
    if l.pppd_ext_tls || s.connection_type != ConnectionType::Tls {
        return Vec::new();
    }
    let unused = [
        (data::TLS_VERIFY_KEY_USAGE, t.verify_key_usage),
        (
            data::TLS_VERIFY_METHOD,
            t.verify_method.is_some() && t.remotename.is_some(),
        ),
        (data::TLS_USER_CERT, l.user_cert_is_pkcs12),
    ];
    unused
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| {
            format!(
                "vpn.data {k}: this pppd (before 2.5) has no option for it (tls-verify-method, \
                 tls-verify-key-usage, pkcs12), so it is not applied"
            )
        })
        .collect()
}

fn auth_args(a: &mut Vec<String>, s: &NmSettings, l: &Launch, fds: Fds) {
    match s.connection_type {
        ConnectionType::Password => {
            if let Some(u) = s.ppp_user(l.user_name_fallback.as_deref()) {
                push(a, "user", Some(u));
                push(a, "remotename", Some(s.gateway.clone()));
            }
        }
        ConnectionType::Tls => eap_tls_args(a, s, l),
    }
    if let Some(fd) = fds.password {
        push(a, "plugin", Some("passwordfd.so".into()));
        push(a, "passwordfd", Some(fd.to_string()));
    }
}

fn ppp_tail(a: &mut Vec<String>, s: &NmSettings) {
    push(a, "mtu", Some(s.mtu.to_string()));
    for o in &s.ppp_switches {
        push(a, o, None);
    }
    push(a, "lcp-echo-failure", Some(s.lcp_echo_failure.to_string()));
    push(
        a,
        "lcp-echo-interval",
        Some(s.lcp_echo_interval.to_string()),
    );
    if let Some(u) = s.unit {
        push(a, "unit", Some(u.to_string()));
    }
}

/// Sentences for settings sstp-rs treats differently from network-manager-sstp.
pub fn translation_warnings(s: &NmSettings, fds: Fds) -> Vec<String> {
    let mut w = Vec::new();
    if s.ignore_cert_warn && s.sstp.cert_pin.is_none() {
        w.push(format!(
            "vpn.data {}=yes: a server certificate that fails verification is accepted, with a \
             warning naming it and its pin; after checking the pin with the server's \
             administrator, trust exactly that certificate instead: nmcli connection modify \
             NAME +vpn.data {}=sha256:... (and remove {})",
            data::IGNORE_CERT_WARN,
            ours::CERT_PIN,
            data::IGNORE_CERT_WARN
        ));
    }
    if s.tls_ext == Some(false) {
        w.push(format!(
            "vpn.data {}=no: sstp-rs always sends the server name (SNI) for a host name",
            data::TLS_EXT
        ));
    }
    let proxy_user = s.proxy.as_ref().is_some_and(|p| p.user.is_some());
    if proxy_user && fds.proxy_auth.is_none() {
        w.push(format!(
            "vpn.data {}: no proxy password was given (vpn.secrets {}), so the proxy is \
             used without credentials",
            data::PROXY_USER,
            secret::PROXY_PASSWORD
        ));
    }
    w
}

/// Builds pppd's arguments. Errors are sentences for NetworkManager (a proxy host that is not
/// one).
pub fn build(s: &NmSettings, l: &Launch, fds: Fds) -> Result<PppdArgs, String> {
    let mut a = Vec::new();
    push(&mut a, "plugin", Some(path_arg(&l.plugin)));
    push(&mut a, "sstp-server", Some(server_value(s)));
    trust_args(&mut a, s);
    proxy_args(&mut a, s, fds)?;
    tuning_args(&mut a, s, l, fds);
    if l.debug {
        push(&mut a, "debug", None);
    }
    push(
        &mut a,
        "ipparam",
        Some(format!("{IPPARAM_PREFIX}{}", l.pid)),
    );
    push(&mut a, "nodetach", None);
    ip4_args(&mut a, l);
    for o in ["nodefaultroute", "nodefaultroute6", "noauth"] {
        push(&mut a, o, None);
    }
    auth_args(&mut a, s, l, fds);
    ppp_tail(&mut a, s);
    let mut warnings = s.warnings.clone();
    warnings.extend(translation_warnings(s, fds));
    warnings.extend(ext_tls_warnings(s, l));
    Ok(PppdArgs { args: a, warnings })
}
