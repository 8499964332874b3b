//! Command-line options shared by `sstp probe` and `sstp connect`, and the [`TunnelConfig`]
//! they produce.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use sstp_tunnel::{parse_host_port, CertPin, IpFamily, ProxyConfig, TlsVersion, TunnelConfig};

/// Address family choice (`--ip-family`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    /// The resolver's order.
    Any,
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
    /// IPv4 first.
    PreferIpv4,
    /// IPv6 first.
    PreferIpv6,
}

impl Family {
    /// The tunnel crate's value.
    pub fn to_tunnel(self) -> IpFamily {
        match self {
            Family::Any => IpFamily::Any,
            Family::Ipv4 => IpFamily::V4Only,
            Family::Ipv6 => IpFamily::V6Only,
            Family::PreferIpv4 => IpFamily::PreferV4,
            Family::PreferIpv6 => IpFamily::PreferV6,
        }
    }

    /// The plugin's `sstp-ip-family` value.
    pub fn option_value(self) -> &'static str {
        match self {
            Family::Any => "any",
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
            Family::PreferIpv4 => "prefer-ipv4",
            Family::PreferIpv6 => "prefer-ipv6",
        }
    }
}

/// Where to connect and whom to trust.
#[derive(Args, Clone, Debug, Default)]
pub struct ServerArgs {
    /// SSTP server: HOST, HOST:PORT or [IPv6]:PORT (port 443 by default).
    #[arg(value_name = "HOST[:PORT]", value_parser = parse_server)]
    pub server: (String, u16),

    /// PEM file of trusted CA certificates (replaces the system store).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Hashed directory of trusted CA certificates (replaces the system store).
    #[arg(long, value_name = "DIR")]
    pub ca_dir: Option<PathBuf>,

    /// Trust exactly the server certificate with this SHA-256 (replaces chain and name checks).
    #[arg(long, value_name = "sha256:HEX")]
    pub pin: Option<CertPin>,

    /// Name for SNI, Host and the certificate check (when connecting by address).
    #[arg(long, value_name = "NAME", value_parser = parse_dns_name)]
    pub sni: Option<String>,

    /// HTTP proxy for CONNECT: http://HOST[:PORT].
    #[arg(long, value_name = "URL", value_parser = parse_proxy)]
    pub proxy: Option<ProxyConfig>,

    /// Never send the proxy password with Basic authentication (it would cross the hop to the
    /// proxy in clear text); NTLM and Digest still work.
    #[arg(long, requires = "proxy")]
    pub proxy_no_basic: bool,

    /// Lowest TLS version: 1.0, 1.1, 1.2 (default) or 1.3.
    #[arg(long, value_name = "V")]
    pub tls_min: Option<TlsVersion>,

    /// Highest TLS version: 1.2 or 1.3.
    #[arg(long, value_name = "V")]
    pub tls_max: Option<TlsVersion>,

    /// Address family.
    #[arg(long, value_name = "FAMILY", value_enum)]
    pub ip_family: Option<Family>,

    /// Accept server certificates without the Server Authentication EKU.
    #[arg(long)]
    pub no_eku_check: bool,
}

fn parse_server(s: &str) -> Result<(String, u16), String> {
    parse_host_port(s, sstp_proto::http::DEFAULT_PORT).map_err(|e| e.to_string())
}

fn parse_proxy(s: &str) -> Result<ProxyConfig, String> {
    ProxyConfig::parse(s).map_err(|e| e.to_string())
}

/// A DNS name for `--sni`.
pub fn parse_dns_name(s: &str) -> Result<String, String> {
    let t = s.trim();
    let ok = !t.is_empty()
        && t.len() <= 253
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(t.to_owned())
    } else {
        Err(format!("cannot parse {s:?}: expected a DNS name"))
    }
}

impl ServerArgs {
    /// Checks combinations clap cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(max) = self.tls_max {
            if max < TlsVersion::Tls12 {
                return Err(format!(
                    "--tls-max {max}: expected a TLS version 1.2 or 1.3"
                ));
            }
            let min = self.tls_min.unwrap_or(TlsVersion::Tls12);
            if max < min {
                return Err(format!("--tls-max {max} is below --tls-min {min}"));
            }
        }
        for (what, p, dir) in [
            ("--ca-file", &self.ca_file, false),
            ("--ca-dir", &self.ca_dir, true),
        ] {
            if let Some(p) = p {
                match std::fs::metadata(p) {
                    Ok(m) if m.is_dir() == dir => {}
                    Ok(_) => {
                        return Err(format!(
                            "{what} {}: not a {}",
                            p.display(),
                            if dir { "directory" } else { "file" }
                        ))
                    }
                    Err(e) => return Err(format!("{what} {}: {e}", p.display())),
                }
            }
        }
        Ok(())
    }

    /// The tunnel configuration; `timeout` (when given) bounds every phase.
    pub fn tunnel_config(&self, timeout: Option<Duration>) -> TunnelConfig {
        let (host, port) = &self.server;
        let mut c = TunnelConfig::new(host.clone());
        c.port = *port;
        c.sni = self.sni.clone();
        c.ca_file = self.ca_file.clone();
        c.ca_dir = self.ca_dir.clone();
        c.pin = self.pin;
        if let Some(v) = self.tls_min {
            c.min_tls = v;
        }
        c.max_tls = self.tls_max;
        c.check_eku = !self.no_eku_check;
        c.proxy = self.proxy.clone();
        if let Some(p) = c.proxy.as_mut() {
            p.refuse_basic = self.proxy_no_basic;
        }
        c.ip_family = self.ip_family.map(Family::to_tunnel).unwrap_or_default();
        if let Some(t) = timeout {
            c.connect_timeout = t;
            c.tls_timeout = t;
            c.handshake_timeout = t;
        }
        c
    }

    /// `HOST:PORT` / `[v6]:PORT` as typed for the plugin's `sstp-server` option.
    pub fn server_option_value(&self) -> String {
        let (host, port) = &self.server;
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }
}

/// Parses `--timeout` seconds (fractions allowed, 0.1 .. 3600).
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.1..=3600.0).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "cannot parse {s:?}: expected seconds between 0.1 and 3600"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(server: &str) -> ServerArgs {
        ServerArgs {
            server: parse_server(server).unwrap(),
            ..ServerArgs::default()
        }
    }

    #[test]
    fn config_from_args() {
        let mut a = args("vpn.example.com:8443");
        a.sni = Some("other.example.com".into());
        a.tls_min = Some(TlsVersion::Tls13);
        a.ip_family = Some(Family::PreferIpv6);
        a.no_eku_check = true;
        let c = a.tunnel_config(Some(Duration::from_secs(3)));
        assert_eq!((c.server.as_str(), c.port), ("vpn.example.com", 8443));
        assert_eq!(c.tls_name(), "other.example.com");
        assert_eq!(c.min_tls, TlsVersion::Tls13);
        assert_eq!(c.ip_family, IpFamily::PreferV6);
        assert!(!c.check_eku);
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.handshake_timeout, Duration::from_secs(3));
        let d = args("h").tunnel_config(None);
        assert_eq!(d.port, 443);
        assert_eq!(d.handshake_timeout, Duration::from_secs(60));
    }

    #[test]
    fn server_option_value_brackets_v6() {
        assert_eq!(args("[::1]:4433").server_option_value(), "[::1]:4433");
        assert_eq!(args("h.example").server_option_value(), "h.example:443");
    }

    #[test]
    fn validation() {
        let mut a = args("h");
        a.tls_max = Some(TlsVersion::Tls11);
        assert!(a.validate().unwrap_err().contains("1.2 or 1.3"));
        a.tls_max = Some(TlsVersion::Tls12);
        a.tls_min = Some(TlsVersion::Tls13);
        assert!(a.validate().unwrap_err().contains("below"));
        let mut b = args("h");
        b.ca_file = Some("/nonexistent/ca.pem".into());
        assert!(b.validate().unwrap_err().contains("--ca-file"));
        let mut c = args("h");
        c.ca_dir = Some(std::env::temp_dir());
        assert!(c.validate().is_ok());
        c.ca_file = Some(std::env::temp_dir());
        assert!(c.validate().unwrap_err().contains("not a file"));
    }

    #[test]
    fn timeouts_and_names() {
        assert_eq!(parse_timeout("2.5").unwrap(), Duration::from_millis(2500));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("abc").is_err());
        assert!(parse_timeout("NaN").is_err());
        assert!(parse_dns_name("a b").is_err());
        assert_eq!(
            parse_dns_name("vpn.example.com").unwrap(),
            "vpn.example.com"
        );
    }
}
