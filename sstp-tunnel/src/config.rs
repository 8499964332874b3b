//! What to connect to and how: [`TunnelConfig`] and the parsers of the user-facing strings.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sstp_proto::http::DEFAULT_PORT;
use zeroize::{Zeroize, Zeroizing};

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.0 (legacy servers only; lowers OpenSSL's security level).
    Tls10,
    /// TLS 1.1 (legacy servers only; lowers OpenSSL's security level).
    Tls11,
    /// TLS 1.2 (default minimum).
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    pub(crate) fn to_openssl(self) -> openssl::ssl::SslVersion {
        use openssl::ssl::SslVersion;
        match self {
            TlsVersion::Tls10 => SslVersion::TLS1,
            TlsVersion::Tls11 => SslVersion::TLS1_1,
            TlsVersion::Tls12 => SslVersion::TLS1_2,
            TlsVersion::Tls13 => SslVersion::TLS1_3,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls10 => "1.0",
            TlsVersion::Tls11 => "1.1",
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        })
    }
}

impl FromStr for TlsVersion {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let t = t
            .strip_prefix("TLSv")
            .or_else(|| t.strip_prefix("tlsv"))
            .or_else(|| t.strip_prefix("TLS"))
            .or_else(|| t.strip_prefix("tls"))
            .unwrap_or(t);
        match t {
            "1" | "1.0" => Ok(TlsVersion::Tls10),
            "1.1" => Ok(TlsVersion::Tls11),
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            _ => Err(ParseError::new(s, "a TLS version: 1.0, 1.1, 1.2 or 1.3")),
        }
    }
}

/// SHA-256 fingerprint of the server's leaf certificate that replaces chain validation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertPin(pub [u8; 32]);

impl CertPin {
    /// Whether `der_sha256` (the SHA-256 of a certificate's DER) equals the pin.
    /// Constant-time comparison is not needed (the pin is public), but it costs nothing.
    pub fn matches(&self, der_sha256: &[u8]) -> bool {
        der_sha256.len() == 32
            && self
                .0
                .iter()
                .zip(der_sha256)
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0
    }

    /// `sha256:<lowercase hex>`.
    pub fn to_option_value(&self) -> String {
        format!("sha256:{}", hex(&self.0))
    }
}

impl fmt::Debug for CertPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertPin({})", self.to_option_value())
    }
}

impl fmt::Display for CertPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_option_value())
    }
}

impl FromStr for CertPin {
    type Err = ParseError;
    /// Accepts `sha256:HEX` (64 hex digits, `:` separators allowed, any case), bare hex, or
    /// base64 (`sha256:` prefix optional, as in HPKP-style `sha256//...` too).
    fn from_str(s: &str) -> Result<Self, ParseError> {
        const WANT: &str =
            "a certificate pin: sha256:<64 hex digits> or sha256:<base64 of 32 bytes>";
        let t = s.trim();
        let body = t
            .strip_prefix("sha256:")
            .or_else(|| t.strip_prefix("SHA256:"))
            .or_else(|| t.strip_prefix("sha256//"))
            .unwrap_or(t);
        let hexdigits: String = body.chars().filter(|c| *c != ':').collect();
        if hexdigits.len() == 64 && hexdigits.chars().all(|c| c.is_ascii_hexdigit()) {
            let mut out = [0u8; 32];
            for (i, o) in out.iter_mut().enumerate() {
                let pair = hexdigits
                    .get(2 * i..2 * i + 2)
                    .ok_or_else(|| ParseError::new(s, WANT))?;
                *o = u8::from_str_radix(pair, 16).map_err(|_| ParseError::new(s, WANT))?;
            }
            return Ok(CertPin(out));
        }
        if body.is_empty()
            || !body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=-_".contains(c))
        {
            return Err(ParseError::new(s, WANT));
        }
        let std_b64: String = body
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        let mut padded = std_b64.trim_end_matches('=').to_owned();
        let pad = (4 - padded.len() % 4) % 4;
        for _ in 0..pad {
            padded.push('=');
        }
        match openssl::base64::decode_block(&padded) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut out = [0u8; 32];
                out.copy_from_slice(&bytes);
                Ok(CertPin(out))
            }
            Ok(bytes) => Err(ParseError::new(
                s,
                &format!(
                    "a SHA-256 pin of 32 bytes, but it decodes to {} bytes",
                    bytes.len()
                ),
            )),
            Err(_) => Err(ParseError::new(s, WANT)),
        }
    }
}

/// Which address families to try, in which order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpFamily {
    /// The resolver's order (RFC 6724).
    #[default]
    Any,
    /// IPv4 addresses first, then IPv6.
    PreferV4,
    /// IPv6 addresses first, then IPv4.
    PreferV6,
    /// Only IPv4.
    V4Only,
    /// Only IPv6.
    V6Only,
}

/// Credentials for an HTTP proxy (the schemes are implemented by a [`crate::ProxyAuthenticator`]).
///
/// `Debug` hides the password; drop wipes both strings.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyCredentials {
    /// User name (may include a `DOMAIN\` prefix for NTLM).
    pub user: String,
    /// Password.
    pub password: String,
}

impl Drop for ProxyCredentials {
    fn drop(&mut self) {
        self.user.zeroize();
        self.password.zeroize();
    }
}

impl fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyCredentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// An HTTP proxy reached with CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Proxy host name or address.
    pub host: String,
    /// Proxy port.
    pub port: u16,
    /// Credentials, if the proxy needs them.
    pub credentials: Option<ProxyCredentials>,
    /// Never answer with Basic (the password would cross the proxy hop in clear text).
    pub refuse_basic: bool,
}

impl ProxyConfig {
    /// Parses `http://[user[:password]@]HOST[:PORT]` (also without the scheme); the port
    /// defaults to 8080. Percent-escapes in the user info are decoded.
    ///
    /// Errors show the URL with the password masked (`http://user:****@host:port`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let shown = mask_userinfo(s);
        let err = |expected: &str| ParseError::new(&shown, expected);
        let t = s.trim();
        let rest = if let Some(r) = t.strip_prefix("http://") {
            r
        } else if t.contains("://") {
            return Err(err(
                "an HTTP proxy URL: http://HOST:PORT (only http:// proxies are supported)",
            ));
        } else {
            t
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (userinfo, hostport) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let credentials = match userinfo {
            None => None,
            Some(ui) => {
                let (u, p) = ui.split_once(':').unwrap_or((ui, ""));
                let user = percent_decode(u).ok_or_else(|| err("valid percent-escapes"))?;
                let password = percent_decode(p).ok_or_else(|| err("valid percent-escapes"))?;
                Some(ProxyCredentials { user, password })
            }
        };
        let (host, port) = parse_host_port(hostport, 8080)
            .map_err(|_| err("an HTTP proxy URL: http://HOST:PORT"))?;
        Ok(ProxyConfig {
            host,
            port,
            credentials,
            refuse_basic: false,
        })
    }
}

/// `s` with the password of its user info replaced by `****` (`http://user:****@host:port`);
/// a string without `@` is returned as is.
fn mask_userinfo(s: &str) -> Zeroizing<String> {
    let Some(at) = s.rfind('@') else {
        return Zeroizing::new(s.to_owned());
    };
    let start = s.find("://").map_or(0, |i| i + 3).min(at);
    let user = s[start..at].split(':').next().unwrap_or("");
    Zeroizing::new(format!("{}{user}:****{}", &s[..start], &s[at..]))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    // Never grows (decoding only shrinks), so no copy is left behind; wiped if not UTF-8.
    let mut out = Zeroizing::new(Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(std::mem::take(&mut *out)).ok()
}

/// A user-facing string that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The input.
    pub input: String,
    /// What was expected.
    pub expected: String,
}

impl ParseError {
    fn new(input: &str, expected: &str) -> Self {
        ParseError {
            input: input.chars().take(200).collect(),
            expected: expected.to_owned(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot parse {:?}: expected {}",
            self.input, self.expected
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses `HOST`, `HOST:PORT`, `IPv4:PORT`, `[IPv6]:PORT`, `[IPv6]` or a bare IPv6 literal.
/// Returns the host without brackets and the port (`default_port` when absent).
pub fn parse_host_port(s: &str, default_port: u16) -> Result<(String, u16), ParseError> {
    const WANT: &str = "HOST, HOST:PORT or [IPv6]:PORT";
    let t = s.trim();
    if t.is_empty() {
        return Err(ParseError::new(s, WANT));
    }
    let (host, port) = if let Some(r) = t.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(|| ParseError::new(s, WANT))?;
        if h.parse::<Ipv6Addr>().is_err() {
            return Err(ParseError::new(s, "a valid IPv6 address inside [ ]"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| ParseError::new(s, WANT))?,
            ),
        };
        (h.to_owned(), port)
    } else if t.matches(':').count() > 1 {
        // bare IPv6 literal, no port possible
        if t.parse::<Ipv6Addr>().is_err() {
            return Err(ParseError::new(
                s,
                "an IPv6 address (write [IPv6]:PORT to add a port)",
            ));
        }
        (t.to_owned(), None)
    } else {
        match t.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (t.to_owned(), None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => n,
            _ => return Err(ParseError::new(s, "a port number between 1 and 65535")),
        },
    };
    let valid = !host.is_empty()
        && host.len() <= 253
        && (host.parse::<IpAddr>().is_ok()
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')));
    if !valid {
        return Err(ParseError::new(
            s,
            "a host name (letters, digits, '-', '.') or an IP address",
        ));
    }
    Ok((host, port))
}

/// Everything [`crate::connect()`] needs.
#[derive(Clone, Debug)]
pub struct TunnelConfig {
    /// SSTP server host name or IP address (no brackets, no port).
    pub server: String,
    /// TCP port (443).
    pub port: u16,
    /// Name to send as SNI and in `Host`, and to check the certificate against, when it
    /// differs from `server` (e.g. connecting by IP address).
    pub sni: Option<String>,
    /// PEM file of trusted CA certificates (replaces the system store).
    pub ca_file: Option<PathBuf>,
    /// Hashed directory of trusted CA certificates (replaces the system store).
    pub ca_dir: Option<PathBuf>,
    /// SHA-256 pin of the leaf certificate: replaces chain and name checks.
    pub pin: Option<CertPin>,
    /// Lowest TLS version offered (1.2).
    pub min_tls: TlsVersion,
    /// Highest TLS version offered (`None`: the library's maximum).
    pub max_tls: Option<TlsVersion>,
    /// Refuse server certificates whose EKU has neither Server Authentication nor Any Purpose
    /// (as Windows does). On by default; ignored for pinned certificates.
    pub check_eku: bool,
    /// Accept a server certificate whose chain, validity, name or purpose check fails, for this
    /// session only, instead of failing with [`crate::TunnelError::Trust`]: what failed is
    /// reported in [`crate::Established::accepted_untrusted`] for the caller to log with the
    /// certificate and its pin (NetworkManager's `ignore-cert-warn=yes`). Off by default; a
    /// pin ([`Self::pin`]) is never overridden.
    pub accept_untrusted: bool,
    /// Optional HTTP proxy.
    pub proxy: Option<ProxyConfig>,
    /// Address family preference.
    pub ip_family: IpFamily,
    /// Timeout of each TCP connect attempt.
    pub connect_timeout: Duration,
    /// Timeout of the TLS handshake (and of the proxy's answer).
    pub tls_timeout: Duration,
    /// How long to wait for the HTTP response ([MS-SSTP] §4.1: 60 s).
    pub handshake_timeout: Duration,
}

impl TunnelConfig {
    /// Defaults for `server` on port 443.
    pub fn new(server: impl Into<String>) -> Self {
        TunnelConfig {
            server: server.into(),
            port: DEFAULT_PORT,
            sni: None,
            ca_file: None,
            ca_dir: None,
            pin: None,
            min_tls: TlsVersion::Tls12,
            max_tls: None,
            check_eku: true,
            accept_untrusted: false,
            proxy: None,
            ip_family: IpFamily::Any,
            connect_timeout: Duration::from_secs(15),
            tls_timeout: Duration::from_secs(30),
            handshake_timeout: sstp_proto::http::RESPONSE_TIMEOUT,
        }
    }

    /// Config from a user-facing `HOST[:PORT]` / `[v6]:port` string.
    pub fn from_server_string(s: &str) -> Result<Self, ParseError> {
        let (host, port) = parse_host_port(s, DEFAULT_PORT)?;
        let mut c = TunnelConfig::new(host);
        c.port = port;
        Ok(c)
    }

    /// The name used for SNI, `Host` and the certificate name check.
    pub fn tls_name(&self) -> &str {
        self.sni.as_deref().unwrap_or(&self.server)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            parse_host_port("vpn.example.com", 443).unwrap(),
            ("vpn.example.com".into(), 443)
        );
        assert_eq!(
            parse_host_port("vpn.example.com:8443", 443).unwrap(),
            ("vpn.example.com".into(), 8443)
        );
        assert_eq!(
            parse_host_port("10.0.0.1:444", 443).unwrap(),
            ("10.0.0.1".into(), 444)
        );
        assert_eq!(
            parse_host_port("[2001:db8::1]:4443", 443).unwrap(),
            ("2001:db8::1".into(), 4443)
        );
        assert_eq!(parse_host_port("[::1]", 443).unwrap(), ("::1".into(), 443));
        assert_eq!(
            parse_host_port("2001:db8::1", 443).unwrap(),
            ("2001:db8::1".into(), 443)
        );
        for bad in [
            "",
            "host:",
            "host:0",
            "host:70000",
            "host:abc",
            "[::1",
            "[nope]:1",
            "a b",
            "h/x",
            "1:2:zz",
        ] {
            let e = parse_host_port(bad, 443).unwrap_err();
            assert!(e.to_string().contains("cannot parse"), "{bad}: {e}");
        }
    }

    #[test]
    fn pins() {
        let hex64 = "AB".repeat(32);
        let p: CertPin = format!("sha256:{hex64}").parse().unwrap();
        assert_eq!(p.0, [0xab; 32]);
        assert_eq!(p.to_string(), format!("sha256:{}", "ab".repeat(32)));
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(colons.parse::<CertPin>().unwrap(), p);
        let b64 = openssl::base64::encode_block(&[0xab; 32]);
        assert_eq!(format!("sha256:{b64}").parse::<CertPin>().unwrap(), p);
        assert_eq!(b64.trim_end_matches('=').parse::<CertPin>().unwrap(), p);
        assert!(p.matches(&[0xab; 32]));
        assert!(!p.matches(&[0xab; 31]));
        assert!(!p.matches(&[0xac; 32]));
        let short = openssl::base64::encode_block(&[1; 20]);
        assert!(short
            .parse::<CertPin>()
            .unwrap_err()
            .to_string()
            .contains("20 bytes"));
        assert!("sha256:xyz!".parse::<CertPin>().is_err());
        assert!("".parse::<CertPin>().is_err());
        assert!(format!("sha256:{}", "a".repeat(63))
            .parse::<CertPin>()
            .is_err());
    }

    #[test]
    fn tls_versions() {
        assert_eq!("1.2".parse::<TlsVersion>().unwrap(), TlsVersion::Tls12);
        assert_eq!("TLSv1.3".parse::<TlsVersion>().unwrap(), TlsVersion::Tls13);
        assert_eq!("tls1.0".parse::<TlsVersion>().unwrap(), TlsVersion::Tls10);
        assert!("1.4".parse::<TlsVersion>().is_err());
        assert!(TlsVersion::Tls10 < TlsVersion::Tls12);
    }

    #[test]
    fn proxies() {
        let p = ProxyConfig::parse("http://proxy.lan:3128").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.credentials),
            ("proxy.lan", 3128, None)
        );
        let p = ProxyConfig::parse("proxy.lan").unwrap();
        assert_eq!(p.port, 8080);
        let p = ProxyConfig::parse("http://DOM%5Cuser:p%40ss@[::1]:3128/").unwrap();
        assert_eq!(p.host, "::1");
        let c = p.credentials.unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("DOM\\user", "p@ss")
        );
        assert!(!format!("{c:?}").contains("p@ss"));
        assert!(ProxyConfig::parse("https://proxy:3128")
            .unwrap_err()
            .to_string()
            .contains("only http://"));
        assert!(ProxyConfig::parse("http://:3128").is_err());
        assert!(ProxyConfig::parse("http://u%zz@p:1").is_err());
    }

    #[test]
    fn proxy_errors_mask_the_password() {
        for bad in [
            "https://alice:S3cret@proxy:3128",
            "http://alice:S3cret%zz@proxy:3128",
            "http://alice%zz:S3cret@proxy:3128",
            "http://alice:S3cret@proxy:99999",
            "http://alice:S3cret@pro xy:3128",
            "alice:S3cret@proxy:0",
            "http://alice:S3c@ret@proxy:0",
        ] {
            let e = ProxyConfig::parse(bad).unwrap_err();
            let text = format!("{e} {e:?}");
            assert!(!text.contains("S3c"), "{bad}: {text}");
            assert!(
                text.contains("alice") && text.contains(":****@"),
                "{bad}: {text}"
            );
        }
        let e = ProxyConfig::parse("https://alice:S3cret@proxy:3128").unwrap_err();
        assert_eq!(e.input, "https://alice:****@proxy:3128");
    }

    #[test]
    fn server_string() {
        let c = TunnelConfig::from_server_string("[::1]:4433").unwrap();
        assert_eq!((c.server.as_str(), c.port), ("::1", 4433));
        assert_eq!(c.handshake_timeout, Duration::from_secs(60));
        assert_eq!(c.min_tls, TlsVersion::Tls12);
        assert!(c.check_eku);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsers_never_panic(s in "\\PC{0,80}") {
                let _ = parse_host_port(&s, 443).map_err(|e| e.to_string());
                let _ = s.parse::<CertPin>().map_err(|e| e.to_string());
                let _ = ProxyConfig::parse(&s).map_err(|e| e.to_string());
                let _ = s.parse::<TlsVersion>();
            }

            #[test]
            fn host_port_round_trip(
                host in "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
                port in 1u16..,
            ) {
                let (h, p) = parse_host_port(&format!("{host}:{port}"), 443).unwrap();
                prop_assert_eq!((h.as_str(), p), (host.as_str(), port));
                let v6 = std::net::Ipv6Addr::from(u128::from(port) << 64 | 1);
                let (h, p) = parse_host_port(&format!("[{v6}]:{port}"), 443).unwrap();
                prop_assert_eq!((h, p), (v6.to_string(), port));
            }

            #[test]
            fn pin_round_trip(bytes in any::<[u8; 32]>()) {
                let pin = CertPin(bytes);
                prop_assert_eq!(pin.to_option_value().parse::<CertPin>().unwrap(), pin);
                let b64 = openssl::base64::encode_block(&bytes);
                prop_assert_eq!(format!("sha256:{b64}").parse::<CertPin>().unwrap(), pin);
            }
        }
    }
}
