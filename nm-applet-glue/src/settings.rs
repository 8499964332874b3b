//! `vpn.data` / `vpn.secrets` → [`NmSettings`]: every key network-manager-sstp understands,
//! with its value format and default, plus the keys sstp-rs adds ([`crate::keys::ours`]).
//!
//! Every key is optional except `gateway` (KDE's editor writes the pre-1.3 subset). Unknown
//! keys become [`NmSettings::warnings`], never errors. A known key with a value
//! network-manager-sstp would also refuse (a boolean other than `yes`/`no`, a number that is
//! not one) is an error naming the key, and so is any invalid value of a trust key of ours:
//! a typo in a pin must never fall back to weaker checking.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use sstp_proto::http::sanitize;
use sstp_tunnel::{parse_host_port, CertPin, TlsVersion};

use crate::flags::SecretFlags;
use crate::keys::{self, data, ours, secret};
use crate::utf8safe::unescape_path;

/// network-manager-sstp's default MTU (`NM_SSTP_MTU_DEFAULT`).
pub const DEFAULT_MTU: u32 = 1400;

/// `vpn.data` or `vpn.secrets` as NetworkManager hands them over: string to string.
pub type Dict = BTreeMap<String, String>;

/// A setting that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    /// The key.
    pub key: String,
    /// What is wrong and what is expected (values sanitized).
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vpn.data {}: {}", self.key, self.message)
    }
}

impl std::error::Error for SettingsError {}

fn err(key: &str, value: &str, expected: &str) -> SettingsError {
    SettingsError {
        key: key.to_owned(),
        message: format!("cannot use {:?}: expected {expected}", sanitize(value)),
    }
}

/// `connection-type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectionType {
    /// `password` (also when absent or empty): PPP user name and password.
    #[default]
    Password,
    /// `tls`: EAP-TLS inside PPP with a user certificate.
    Tls,
}

/// `proxy-server`, `proxy-port`, `proxy-user` (the password is a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NmProxy {
    /// Host name or address.
    pub host: String,
    /// Port (network-manager-sstp uses the proxy only when `proxy-port` is set too).
    pub port: u16,
    /// User name, if any.
    pub user: Option<String>,
}

/// EAP-TLS keys (`connection-type=tls`), paths already unescaped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EapTls {
    /// `tls-identity` (else `tls-subject-name`) → pppd `name`.
    pub identity: Option<String>,
    /// `tls-user-cert` → pppd `cert` (or `pkcs12`).
    pub user_cert: Option<PathBuf>,
    /// `tls-user-key` → pppd `key`.
    pub user_key: Option<PathBuf>,
    /// `tls-ca-cert` → pppd `ca` (else `capath` of the system store).
    pub ca_cert: Option<PathBuf>,
    /// `crl-file` → pppd `crl`.
    pub crl_file: Option<PathBuf>,
    /// `tls-max-version` → pppd `max-tls-version`.
    pub max_version: Option<String>,
    /// `tls-verify-key-usage=yes`.
    pub verify_key_usage: bool,
    /// `tls-verify-method` (with `tls-remotename` only).
    pub verify_method: Option<String>,
    /// `tls-remotename`.
    pub remotename: Option<String>,
}

/// The keys sstp-rs adds, each becoming the plugin option of the same name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SstpExtras {
    /// `sstp-cert-pin`.
    pub cert_pin: Option<CertPin>,
    /// `sstp-sni`.
    pub sni: Option<String>,
    /// `sstp-proxy-no-basic=yes`.
    pub proxy_no_basic: bool,
    /// `sstp-tls-min`.
    pub tls_min: Option<TlsVersion>,
    /// `sstp-tls-max`.
    pub tls_max: Option<TlsVersion>,
    /// `sstp-ip-family`.
    pub ip_family: Option<&'static str>,
    /// `sstp-no-eku-check=yes`.
    pub no_eku_check: bool,
    /// `sstp-connect-timeout` seconds.
    pub connect_timeout: Option<u32>,
    /// `sstp-log-level`.
    pub log_level: Option<u8>,
}

/// Secret flags of the three secrets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllSecretFlags {
    /// `password-flags`.
    pub password: SecretFlags,
    /// `proxy-password-flags`.
    pub proxy_password: SecretFlags,
    /// `tls-user-key-secret-flags`.
    pub tls_user_key_secret: SecretFlags,
}

/// A parsed profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NmSettings {
    /// `gateway` as written (network-manager-sstp also passes it as pppd `remotename`).
    pub gateway: String,
    /// `gateway` parsed: host and port (443 by default).
    pub server: (String, u16),
    /// `user` (the caller falls back to `vpn.user-name`).
    pub user: Option<String>,
    /// `domain`: the PPP name becomes `DOMAIN\user`.
    pub domain: Option<String>,
    /// `connection-type`.
    pub connection_type: ConnectionType,
    /// `ca-cert` (unescaped) → `sstp-ca-file`.
    pub ca_cert: Option<PathBuf>,
    /// `ignore-cert-warn=yes`.
    pub ignore_cert_warn: bool,
    /// `tls-ext` (SNI): `None` when absent.
    pub tls_ext: Option<bool>,
    /// `mtu` (default [`DEFAULT_MTU`]).
    pub mtu: u32,
    /// pppd switches turned on by the boolean keys of [`keys::PPP_SWITCHES`], in that order.
    pub ppp_switches: Vec<&'static str>,
    /// `lcp-echo-failure` (0, off, when absent).
    pub lcp_echo_failure: u32,
    /// `lcp-echo-interval` (0, off, when absent).
    pub lcp_echo_interval: u32,
    /// `unit`.
    pub unit: Option<u32>,
    /// HTTP proxy.
    pub proxy: Option<NmProxy>,
    /// `uuid` (set by the service from the connection).
    pub uuid: Option<String>,
    /// EAP-TLS keys.
    pub eap_tls: EapTls,
    /// Secret flags.
    pub flags: AllSecretFlags,
    /// sstp-rs keys.
    pub sstp: SstpExtras,
    /// Unknown keys and other things the user should know, one sentence each (sanitized).
    pub warnings: Vec<String>,
}

/// Non-empty value of `key`.
fn get<'a>(d: &'a Dict, key: &str) -> Option<&'a str> {
    d.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// `yes`/`no` (absent or empty: `None`).
fn boolean(d: &Dict, key: &str) -> Result<Option<bool>, SettingsError> {
    match get(d, key) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(v) => Err(err(key, v, "yes or no")),
    }
}

fn yes(d: &Dict, key: &str) -> Result<bool, SettingsError> {
    Ok(boolean(d, key)?.unwrap_or(false))
}

/// A decimal unsigned number (surrounding blanks allowed).
fn uint(d: &Dict, key: &str) -> Result<Option<u32>, SettingsError> {
    get(d, key)
        .map(|v| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| err(key, v, "a whole number"))
        })
        .transpose()
}

fn string(d: &Dict, key: &str) -> Option<String> {
    get(d, key).map(str::to_owned)
}

fn path(d: &Dict, key: &str) -> Option<PathBuf> {
    get(d, key).map(unescape_path)
}

/// network-manager-sstp's `validate_gateway` (letters, digits, `-`, `.`, `:`; brackets for
/// `[v6]:port` too), then host and port.
fn gateway(d: &Dict) -> Result<(String, (String, u16)), SettingsError> {
    let Some(g) = get(d, keys::GATEWAY) else {
        return Err(SettingsError {
            key: keys::GATEWAY.into(),
            message: "missing: the SSTP server is required (nmcli connection modify NAME \
                      +vpn.data gateway=vpn.example.com)"
                .into(),
        });
    };
    let ok = g
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']'));
    let parsed = parse_host_port(g, sstp_proto::http::DEFAULT_PORT).ok();
    match parsed.filter(|_| ok) {
        Some(hp) => Ok((g.to_owned(), hp)),
        None => Err(err(
            keys::GATEWAY,
            g,
            "a host name or address, optionally with :port",
        )),
    }
}

fn connection_type(d: &Dict) -> Result<ConnectionType, SettingsError> {
    match get(d, data::CONNECTION_TYPE) {
        None | Some("password") => Ok(ConnectionType::Password),
        Some("tls") => Ok(ConnectionType::Tls),
        Some(v) => Err(err(data::CONNECTION_TYPE, v, "password or tls")),
    }
}

fn proxy(d: &Dict) -> Result<Option<NmProxy>, SettingsError> {
    let host = string(d, data::PROXY_SERVER);
    let port = uint(d, data::PROXY_PORT)?;
    let (Some(host), Some(port)) = (host, port) else {
        return Ok(None);
    };
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| err(data::PROXY_PORT, &port.to_string(), "a port 1..65535"))?;
    Ok(Some(NmProxy {
        host,
        port,
        user: string(d, data::PROXY_USER),
    }))
}

fn one_of(d: &Dict, key: &str, allowed: &[&'static str]) -> Result<Option<String>, SettingsError> {
    match get(d, key) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
        Some(v) => Err(err(key, v, &allowed.join(", "))),
    }
}

fn eap_tls(d: &Dict) -> Result<EapTls, SettingsError> {
    Ok(EapTls {
        identity: string(d, data::TLS_IDENTITY).or_else(|| string(d, data::TLS_SUBJECT_NAME)),
        user_cert: path(d, data::TLS_USER_CERT),
        user_key: path(d, data::TLS_USER_KEY),
        ca_cert: path(d, data::TLS_CA_CERT),
        crl_file: path(d, data::CRL_FILE),
        max_version: one_of(d, data::TLS_MAX_VERSION, &["1.0", "1.1", "1.2", "1.3"])?,
        verify_key_usage: yes(d, data::TLS_VERIFY_KEY_USAGE)?,
        verify_method: one_of(
            d,
            data::TLS_VERIFY_METHOD,
            &["none", "subject", "name", "suffix"],
        )?,
        remotename: string(d, data::TLS_REMOTENAME),
    })
}

fn parsed<T: std::str::FromStr>(
    d: &Dict,
    key: &str,
    expected: &str,
) -> Result<Option<T>, SettingsError> {
    get(d, key)
        .map(|v| v.parse::<T>().map_err(|_| err(key, v, expected)))
        .transpose()
}

fn ranged(d: &Dict, key: &str, lo: u32, hi: u32) -> Result<Option<u32>, SettingsError> {
    match uint(d, key)? {
        Some(v) if !(lo..=hi).contains(&v) => {
            Err(err(key, &v.to_string(), &format!("a number {lo}..{hi}")))
        }
        v => Ok(v),
    }
}

fn sstp_extras(d: &Dict) -> Result<SstpExtras, SettingsError> {
    const FAMILIES: [&str; 5] = ["any", "ipv4", "ipv6", "prefer-ipv4", "prefer-ipv6"];
    let pin_want = "sha256:<64 hex digits> or sha256:<base64>, the pin sstp-rs logs";
    let sni = match get(d, ours::SNI) {
        None => None,
        Some(v) => Some(
            sstp_cli::options::parse_dns_name(v).map_err(|_| err(ours::SNI, v, "a DNS name"))?,
        ),
    };
    let ip_family = one_of(d, ours::IP_FAMILY, &FAMILIES)?
        .map(|v| *FAMILIES.iter().find(|f| **f == v).unwrap_or(&"any"));
    Ok(SstpExtras {
        cert_pin: parsed(d, ours::CERT_PIN, pin_want)?,
        sni,
        proxy_no_basic: yes(d, ours::PROXY_NO_BASIC)?,
        tls_min: parsed(d, ours::TLS_MIN, "1.0, 1.1, 1.2 or 1.3")?,
        tls_max: parsed(d, ours::TLS_MAX, "1.2 or 1.3")?,
        ip_family,
        no_eku_check: yes(d, ours::NO_EKU_CHECK)?,
        connect_timeout: ranged(d, ours::CONNECT_TIMEOUT, 1, 300)?,
        log_level: ranged(d, ours::LOG_LEVEL, 0, 4)?.map(|v| v as u8),
    })
}

fn check_tls_range(x: &SstpExtras) -> Result<(), SettingsError> {
    let Some(max) = x.tls_max else { return Ok(()) };
    let min = x.tls_min.unwrap_or(TlsVersion::Tls12);
    if max < TlsVersion::Tls12 || max < min {
        return Err(err(
            ours::TLS_MAX,
            &max.to_string(),
            "1.2 or 1.3, not below sstp-tls-min",
        ));
    }
    Ok(())
}

fn flags(d: &Dict) -> AllSecretFlags {
    let f = |k: &str| SecretFlags::from_data(get(d, k));
    AllSecretFlags {
        password: f(data::PASSWORD_FLAGS),
        proxy_password: f(data::PROXY_PASSWORD_FLAGS),
        tls_user_key_secret: f(data::TLS_USER_KEY_SECRET_FLAGS),
    }
}

fn ppp_switches(d: &Dict) -> Result<Vec<&'static str>, SettingsError> {
    let mut v = Vec::new();
    for (key, opt) in keys::PPP_SWITCHES {
        if yes(d, key)? {
            v.push(opt);
        }
    }
    Ok(v)
}

/// Warnings for unknown `vpn.data` and `vpn.secrets` keys (names sanitized).
pub fn unknown_keys(d: &Dict, secrets: &Dict) -> Vec<String> {
    let data = d
        .keys()
        .filter(|k| !keys::is_known_data_key(k))
        .map(|k| format!("vpn.data {}: unknown key, ignored", sanitize(k)));
    let sec = secrets
        .keys()
        .filter(|k| !keys::SECRET_KEYS.contains(&k.as_str()))
        .map(|k| format!("vpn.secrets {}: unknown key, ignored", sanitize(k)));
    data.chain(sec).collect()
}

impl NmSettings {
    /// Parses `vpn.data` (`d`); `secrets` only for the unknown-key warnings (secret values
    /// are never read here).
    pub fn parse(d: &Dict, secrets: &Dict) -> Result<NmSettings, SettingsError> {
        let (gateway, server) = gateway(d)?;
        let sstp = sstp_extras(d)?;
        check_tls_range(&sstp)?;
        Ok(NmSettings {
            gateway,
            server,
            user: string(d, data::USER),
            domain: string(d, data::DOMAIN),
            connection_type: connection_type(d)?,
            ca_cert: path(d, data::CA_CERT),
            ignore_cert_warn: yes(d, data::IGNORE_CERT_WARN)?,
            tls_ext: boolean(d, data::TLS_EXT)?,
            mtu: uint(d, data::MTU)?.unwrap_or(DEFAULT_MTU),
            ppp_switches: ppp_switches(d)?,
            lcp_echo_failure: uint(d, data::LCP_ECHO_FAILURE)?.unwrap_or(0),
            lcp_echo_interval: uint(d, data::LCP_ECHO_INTERVAL)?.unwrap_or(0),
            unit: uint(d, data::UNIT)?,
            proxy: proxy(d)?,
            uuid: string(d, data::UUID),
            eap_tls: eap_tls(d)?,
            flags: flags(d),
            sstp,
            warnings: unknown_keys(d, secrets),
        })
    }

    /// The PPP user name: `DOMAIN\user` when `domain` is set; `fallback` is `vpn.user-name`.
    pub fn ppp_user(&self, fallback: Option<&str>) -> Option<String> {
        let user = self
            .user
            .as_deref()
            .or(fallback.filter(|u| !u.is_empty()))?;
        Some(match &self.domain {
            Some(dom) => format!("{dom}\\{user}"),
            None => user.to_owned(),
        })
    }
}

/// Which secrets NetworkManager must obtain before connecting (network-manager-sstp's
/// `real_need_secrets`): the password unless present or flagged not-required; in TLS mode the
/// key passphrase when `key_encrypted` says the key file needs one; the proxy password when a
/// proxy user is set, unless present or not-required.
pub fn needed_secrets(s: &NmSettings, secrets: &Dict, key_encrypted: bool) -> Vec<&'static str> {
    let have = |k: &str| get(secrets, k).is_some();
    let mut v = Vec::new();
    match s.connection_type {
        ConnectionType::Password => {
            if !have(secret::PASSWORD) && !s.flags.password.not_required() {
                v.push(secret::PASSWORD);
            }
        }
        ConnectionType::Tls => {
            if key_encrypted && !have(secret::TLS_USER_KEY_SECRET) {
                v.push(secret::TLS_USER_KEY_SECRET);
            }
        }
    }
    let proxy_user = s.proxy.as_ref().is_some_and(|p| p.user.is_some());
    if proxy_user && !have(secret::PROXY_PASSWORD) && !s.flags.proxy_password.not_required() {
        v.push(secret::PROXY_PASSWORD);
    }
    v
}
