//! [`TunnelError`]: every way the connection can fail, with what happened and what to check.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use sstp_proto::client::{CloseReason, NegotiationPhase};
use sstp_proto::http::{sanitize, sanitized_list, HttpError};

use crate::cert::CertificateInfo;

/// Coarse failure class: the plugin maps it to pppd exit codes and NetworkManager reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureCategory {
    /// Invalid configuration.
    Config,
    /// Name resolution.
    Resolve,
    /// TCP connect.
    Connect,
    /// TLS handshake (not trust).
    Tls,
    /// Certificate trust (chain, name, pin, EKU).
    Trust,
    /// SSTP HTTP handshake.
    Http,
    /// HTTP proxy.
    Proxy,
    /// SSTP call negotiation (Connect-Request/Ack/Nak, aborts).
    Negotiation,
    /// PPP authentication.
    Auth,
    /// Crypto binding rejected by the server.
    CryptoBinding,
    /// I/O on an established connection.
    Io,
    /// The caller cancelled the connect (pppd got SIGTERM/SIGINT/SIGHUP).
    Cancelled,
    /// The host route to the server could not be set (Windows events 14/15).
    Route,
}

/// Why one TCP connect attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectFailure {
    /// No answer within the connect timeout.
    Timeout(Duration),
    /// The host answered with a reset: nothing listens on the port.
    Refused,
    /// No route to the network or host.
    Unreachable(String),
    /// Anything else.
    Other(String),
}

impl ConnectFailure {
    pub(crate) fn from_io(e: &io::Error, timeout: Duration) -> Self {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => return ConnectFailure::Refused,
            Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::EADDRNOTAVAIL) => {
                return ConnectFailure::Unreachable(e.to_string())
            }
            Some(libc::ETIMEDOUT) => return ConnectFailure::Timeout(timeout),
            _ => {}
        }
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ConnectFailure::Timeout(timeout),
            io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
            _ => ConnectFailure::Other(e.to_string()),
        }
    }
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectFailure::Timeout(d) => write!(f, "timed out after {:.1} s", d.as_secs_f64()),
            ConnectFailure::Refused => f.write_str("connection refused"),
            ConnectFailure::Unreachable(s) => write!(f, "unreachable ({s})"),
            ConnectFailure::Other(s) => f.write_str(s),
        }
    }
}

/// One failed TCP connect attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectAttempt {
    /// The address tried.
    pub addr: SocketAddr,
    /// What went wrong.
    pub failure: ConnectFailure,
}

/// Which trust check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustFailureKind {
    /// The chain does not end in a trusted CA (self-signed, unknown issuer, bad signature…).
    UntrustedChain,
    /// The certificate (or one in its chain) has expired or is not yet valid.
    Validity,
    /// The certificate's names do not match the name connected to.
    NameMismatch {
        /// The name (or address) that was checked.
        expected: String,
    },
    /// The certificate is not for Server Authentication (EKU), which Windows also refuses.
    Eku,
    /// A pin was configured and the certificate's SHA-256 differs.
    PinMismatch {
        /// The configured pin (`sha256:<hex>`).
        expected: String,
    },
    /// The server sent no certificate.
    NoCertificate,
    /// Another verification error.
    Other,
}

/// A certificate trust failure, with everything the user needs to decide.
#[derive(Clone, Debug)]
pub struct TrustError {
    /// Which check failed.
    pub kind: TrustFailureKind,
    /// OpenSSL's reason (verify error string) or ours.
    pub reason: String,
    /// Depth in the chain where it failed (0 = the server's own certificate).
    pub depth: u32,
    /// The server's leaf certificate, when it was received.
    pub cert: Option<CertificateInfo>,
    /// The address connected to.
    pub peer: SocketAddr,
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            TrustFailureKind::UntrustedChain => {
                "its chain does not lead to a trusted certificate authority".to_owned()
            }
            TrustFailureKind::Validity => "it is outside its validity period".to_owned(),
            TrustFailureKind::NameMismatch { expected } => {
                format!("it is not issued for {expected:?}")
            }
            TrustFailureKind::Eku => {
                "its Extended Key Usage has neither Server Authentication nor \
                                      Any Purpose (Windows refuses it too)"
                    .to_owned()
            }
            TrustFailureKind::PinMismatch { expected } => {
                format!("its SHA-256 does not match the configured pin {expected}")
            }
            TrustFailureKind::NoCertificate => "the server sent no certificate".to_owned(),
            TrustFailureKind::Other => "verification failed".to_owned(),
        };
        write!(
            f,
            "the server certificate from {} is not trusted: {what}",
            self.peer
        )?;
        if self.depth > 0 {
            write!(f, " (at chain depth {})", self.depth)?;
        }
        write!(f, " (OpenSSL: {})", self.reason)?;
        if let Some(c) = &self.cert {
            write!(f, "\n{c}")?;
        }
        let hint = match &self.kind {
            TrustFailureKind::UntrustedChain => {
                "install the issuing CA (ca-file/ca-dir) or, if you trust this exact certificate, pin it"
            }
            TrustFailureKind::Validity => "check this machine's clock and ask the server's admin to renew the certificate",
            TrustFailureKind::NameMismatch { .. } => {
                "connect by the name in the certificate (or set the SNI/host-name override); \
                 or pin this exact certificate"
            }
            TrustFailureKind::Eku => "the server's admin must bind a Server Authentication certificate",
            TrustFailureKind::PinMismatch { .. } => {
                "the server presents a different certificate: it was renewed, or someone \
                 intercepts the connection; verify the new fingerprint out of band before re-pinning"
            }
            _ => "check the server certificate",
        };
        write!(f, "\n  hint: {hint}")?;
        if let Some(c) = &self.cert {
            write!(
                f,
                "\n  to trust exactly this certificate add the option: {}",
                c.pin_option_line()
            )?;
        }
        Ok(())
    }
}

/// Hint attached to a TLS handshake failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsHint {
    /// The two sides share no protocol version.
    ProtocolVersion,
    /// No common cipher suite / too weak parameters.
    Cipher,
    /// The peer does not speak TLS on that port.
    NotTls,
    /// The handshake ran out of time.
    Timeout,
    /// The connection was closed during the handshake.
    Closed,
    /// Nothing specific.
    None,
}

/// Every way [`crate::connect()`] and the data path can fail.
#[derive(Debug)]
#[non_exhaustive]
pub enum TunnelError {
    /// The configuration is invalid.
    Config(String),
    /// The name could not be resolved.
    Resolve {
        /// The name.
        host: String,
        /// The resolver's message.
        detail: String,
        /// The name was the proxy's.
        proxy: bool,
    },
    /// Every address failed to connect.
    Connect {
        /// Host name connected to.
        host: String,
        /// Port.
        port: u16,
        /// Each address and why it failed.
        attempts: Vec<ConnectAttempt>,
        /// The target was the proxy.
        proxy: bool,
    },
    /// The TLS handshake failed (not a trust problem).
    Tls {
        /// Peer address.
        peer: SocketAddr,
        /// OpenSSL's reason.
        reason: String,
        /// What it most likely means.
        hint: TlsHint,
    },
    /// The server certificate is not trusted.
    Trust(Box<TrustError>),
    /// The SSTP HTTP handshake failed.
    Http {
        /// Peer address.
        peer: SocketAddr,
        /// The protocol error.
        source: HttpError,
    },
    /// The proxy demands authentication that could not be provided.
    ProxyAuthRequired {
        /// `host:port` of the proxy.
        proxy: String,
        /// Offered schemes (`Proxy-Authenticate` values).
        schemes: Vec<String>,
        /// Credentials were configured (and rejected).
        had_credentials: bool,
        /// Why authentication could not go on (from the authenticator).
        detail: Option<String>,
    },
    /// The proxy offers only Basic, which `refuse_basic` (`sstp-proxy-no-basic`) refuses.
    ProxyBasicRefused {
        /// `host:port` of the proxy.
        proxy: String,
    },
    /// The proxy refused the CONNECT.
    ProxyRefused {
        /// `host:port` of the proxy.
        proxy: String,
        /// HTTP status.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The proxy's answer was not usable HTTP, or it timed out.
    Proxy {
        /// `host:port` of the proxy.
        proxy: String,
        /// The protocol error.
        source: HttpError,
    },
    /// The SSTP call failed or ended (NAK, abort, timeout, protocol violation, disconnect).
    Call(CloseReason),
    /// SSTP call negotiation failed for another reason (e.g. the connection closed).
    Negotiation(String),
    /// I/O error.
    Io {
        /// What was being done.
        during: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The proxy did not complete its answer in time.
    ProxyTimeout {
        /// `host:port` of the proxy.
        proxy: String,
        /// Time waited.
        waited: Duration,
        /// What was being done, e.g. `reading the proxy's 407 body`.
        during: &'static str,
    },
    /// The caller's [`crate::Cancel`] stopped the connect.
    Cancelled {
        /// Why (e.g. `SIGTERM`).
        reason: &'static str,
        /// The phase that was running, e.g. `the TLS handshake`.
        phase: &'static str,
    },
    /// The host route to the TCP peer (server or proxy) could not be pinned before the tunnel
    /// takes the default route (Windows events 14 and 15).
    Route {
        /// The TCP peer's address.
        peer: std::net::IpAddr,
        /// The peer is the proxy.
        proxy: bool,
        /// The route that was refused; `None`: the lookup failed (no usable route known).
        route: Option<String>,
        /// The kernel's error text.
        detail: String,
    },
}

impl TunnelError {
    /// The coarse category.
    pub fn category(&self) -> FailureCategory {
        match self {
            TunnelError::Config(_) => FailureCategory::Config,
            TunnelError::Resolve { proxy: false, .. } => FailureCategory::Resolve,
            TunnelError::Connect { proxy: false, .. } => FailureCategory::Connect,
            TunnelError::Resolve { proxy: true, .. }
            | TunnelError::Connect { proxy: true, .. }
            | TunnelError::ProxyAuthRequired { .. }
            | TunnelError::ProxyBasicRefused { .. }
            | TunnelError::ProxyRefused { .. }
            | TunnelError::Proxy { .. }
            | TunnelError::ProxyTimeout { .. } => FailureCategory::Proxy,
            TunnelError::Tls { .. } => FailureCategory::Tls,
            TunnelError::Trust(_) => FailureCategory::Trust,
            TunnelError::Http { .. } => FailureCategory::Http,
            TunnelError::Call(CloseReason::PeerAbort {
                after_call_connected: true,
                ..
            }) => FailureCategory::CryptoBinding,
            TunnelError::Call(CloseReason::NegotiationTimeout {
                phase: NegotiationPhase::Authentication,
            }) => FailureCategory::Auth,
            TunnelError::Call(_) | TunnelError::Negotiation(_) => FailureCategory::Negotiation,
            TunnelError::Io { .. } => FailureCategory::Io,
            TunnelError::Cancelled { .. } => FailureCategory::Cancelled,
            TunnelError::Route { .. } => FailureCategory::Route,
        }
    }

    /// The certificate the failure is about, if any.
    pub fn certificate(&self) -> Option<&CertificateInfo> {
        match self {
            TunnelError::Trust(t) => t.cert.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn io(during: &'static str, source: io::Error) -> Self {
        TunnelError::Io { during, source }
    }
}

/// The log message for a CALL_ABORT right after CALL_CONNECTED (the server rejected the crypto
/// binding, Windows event 6): the likely causes, then the certificate the client bound to (both
/// hashes in the administrator's form, uppercase hex) and the address it came from, for the user
/// to relay to the server's administrator.
pub fn binding_rejected_message(
    cert: &CertificateInfo,
    peer: SocketAddr,
    via_proxy: bool,
) -> String {
    format!(
        "the server aborted right after CALL_CONNECTED: it rejected the crypto binding (MPPE \
         keys/HLAK mismatch, or a TLS-intercepting device replaced the certificate)\n  {}\n  \
         relay these hashes and the address to the server's administrator: they must equal the \
         hash of the certificate the server's SSTP listener is configured with for that address \
         family (RRAS: the SSTP certificate's SHA-256/SHA-1); if they differ, a device between \
         you and the server replaced the certificate",
        cert.admin_lines(peer, via_proxy)
    )
}

impl fmt::Display for TunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelError::Config(s) => write!(f, "invalid configuration: {s}"),
            TunnelError::Resolve {
                host,
                detail,
                proxy,
            } => write!(
                f,
                "cannot resolve the {} name {host:?} ({detail}); check the spelling, this \
                 machine's DNS settings and network connection",
                if *proxy { "proxy" } else { "server" }
            ),
            TunnelError::Connect {
                host,
                port,
                attempts,
                proxy,
            } => {
                let who = if *proxy { "proxy" } else { "server" };
                write!(f, "cannot connect to the {who} {host} port {port}")?;
                if attempts.is_empty() {
                    write!(f, ": no usable address (check the address family setting)")?;
                }
                for a in attempts {
                    write!(f, "\n  {}: {}", a.addr, a.failure)?;
                }
                let all = |p: fn(&ConnectFailure) -> bool| attempts.iter().all(|a| p(&a.failure));
                let hint = if !attempts.is_empty() && all(|f| matches!(f, ConnectFailure::Refused))
                {
                    if *proxy {
                        "the host is up but nothing listens on that port: check the proxy's address \
                         and port"
                    } else {
                        "the host is up but nothing listens on that port: check the port and that \
                         the SSTP service is running"
                    }
                } else if !attempts.is_empty() && all(|f| matches!(f, ConnectFailure::Timeout(_))) {
                    "no answer at all: a firewall drops the traffic, or the host is down"
                } else {
                    "check the address, the port, firewalls and this machine's routes"
                };
                write!(f, "\n  hint: {hint}")
            }
            TunnelError::Tls { peer, reason, hint } => {
                write!(f, "TLS handshake with {peer} failed: {reason}")?;
                let h = match hint {
                    TlsHint::ProtocolVersion => {
                        "\n  hint: the server and this client share no TLS version; old Windows \
                         servers may speak only TLS 1.0/1.1 (allow them with the minimum-TLS \
                         option if you accept the risk), or the server requires a newer one"
                    }
                    TlsHint::Cipher => {
                        "\n  hint: no common cipher suite or too weak server keys/parameters for \
                         OpenSSL's security level"
                    }
                    TlsHint::NotTls => {
                        "\n  hint: the port does not speak TLS; check the port (SSTP uses HTTPS, \
                         normally 443)"
                    }
                    TlsHint::Timeout => "\n  hint: the server accepted TCP but never completed TLS",
                    TlsHint::Closed => {
                        "\n  hint: the server closed the connection during the handshake (it may \
                         require SNI for another name, or refuse this client's TLS settings)"
                    }
                    TlsHint::None => "",
                };
                f.write_str(h)
            }
            TunnelError::Trust(t) => t.fmt(f),
            TunnelError::Http { peer, source } => write!(f, "SSTP handshake with {peer}: {source}"),
            TunnelError::ProxyAuthRequired {
                proxy,
                schemes,
                had_credentials,
                detail,
            } => {
                write!(f, "the HTTP proxy {proxy} demands authentication (407)")?;
                if schemes.is_empty() {
                    write!(f, " without naming a scheme")?;
                } else {
                    write!(f, "; offered: {}", sanitized_list(schemes, " | "))?;
                }
                if let Some(d) = detail {
                    write!(f, ": {}", sanitize(d))?;
                }
                if *had_credentials {
                    write!(f, "; check the proxy user name and password")
                } else {
                    write!(f, "; configure proxy credentials")
                }
            }
            TunnelError::ProxyBasicRefused { proxy } => write!(
                f,
                "the HTTP proxy {proxy} offers only Basic authentication, which would send the \
                 proxy password in clear text to whoever answers on the way to the proxy; it \
                 was refused (sstp-proxy-no-basic / --proxy-no-basic): ask the proxy's \
                 administrator for NTLM or Digest, or drop that option where the path to the \
                 proxy is trusted"
            ),
            TunnelError::ProxyRefused {
                proxy,
                status,
                reason,
            } => write!(
                f,
                "the HTTP proxy {proxy} refused the CONNECT with HTTP {status} {reason}: it may \
                 forbid CONNECT to this host or port, or cannot reach the server; check the \
                 proxy's policy and the server address"
            ),
            TunnelError::Proxy { proxy, source } => write!(f, "HTTP proxy {proxy}: {source}"),
            TunnelError::Call(r) => {
                write!(f, "SSTP call ended: {r}")?;
                match r {
                    CloseReason::PeerAbort {
                        after_call_connected: true,
                        ..
                    } => f.write_str(
                        "\n  hint: the server aborted right after CALL_CONNECTED: it rejected the \
                         crypto binding (a TLS-intercepting device changes the certificate, or \
                         the server and client derived different keys from the PPP \
                         authentication)",
                    ),
                    CloseReason::NegotiationTimeout {
                        phase: NegotiationPhase::Authentication,
                    } => f.write_str(
                        "\n  hint: PPP authentication did not finish in time; check the user \
                             name, password and the allowed authentication methods",
                    ),
                    _ => Ok(()),
                }
            }
            TunnelError::Negotiation(s) => write!(f, "SSTP negotiation failed: {s}"),
            TunnelError::Io { during, source } => write!(f, "I/O error while {during}: {source}"),
            TunnelError::ProxyTimeout {
                proxy,
                waited,
                during,
            } => write!(
                f,
                "HTTP proxy {proxy}: no complete answer within {:.1} s while {during}; the proxy \
                 is overloaded or is not an HTTP proxy: check the proxy address and port",
                waited.as_secs_f64()
            ),
            TunnelError::Cancelled { reason, phase } => {
                write!(f, "connect cancelled ({reason}) during {phase}")
            }
            TunnelError::Route {
                peer,
                proxy,
                route: None,
                detail,
            } => write!(
                f,
                "the route to the {what} {peer} could not be set: the kernel's route for it is \
                 unknown or unusable ({detail}); the tunnel takes the default route, and without \
                 a host route the connection would be routed into its own tunnel: check `ip \
                 route get {peer}` (a unicast route via an IPv{v} gateway or a connected network \
                 is needed), or leave out defaultroute/replacedefaultroute",
                what = if *proxy { "proxy" } else { "VPN server" },
                v = if peer.is_ipv4() { 4 } else { 6 },
            ),
            TunnelError::Route {
                peer,
                proxy,
                route: Some(route),
                detail,
            } => write!(
                f,
                "the route to the {what} {peer} could not be added ({route}): {detail}; the \
                 tunnel takes the default route, and without a host route the connection would \
                 be routed into its own tunnel: check that pppd may change routes \
                 (CAP_NET_ADMIN) and `ip route get {peer}`, or leave out \
                 defaultroute/replacedefaultroute",
                what = if *proxy { "proxy" } else { "VPN server" },
            ),
        }
    }
}

impl std::error::Error for TunnelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TunnelError::Http { source, .. } | TunnelError::Proxy { source, .. } => Some(source),
            TunnelError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_failure_classification() {
        let t = Duration::from_secs(3);
        let e = |code| io::Error::from_raw_os_error(code);
        assert_eq!(
            ConnectFailure::from_io(&e(libc::ECONNREFUSED), t),
            ConnectFailure::Refused
        );
        assert_eq!(
            ConnectFailure::from_io(&e(libc::ETIMEDOUT), t),
            ConnectFailure::Timeout(t)
        );
        assert!(matches!(
            ConnectFailure::from_io(&e(libc::ENETUNREACH), t),
            ConnectFailure::Unreachable(_)
        ));
        assert!(matches!(
            ConnectFailure::from_io(&e(libc::EHOSTUNREACH), t),
            ConnectFailure::Unreachable(_)
        ));
        let timed_out = io::Error::new(io::ErrorKind::TimedOut, "x");
        assert_eq!(
            ConnectFailure::from_io(&timed_out, t),
            ConnectFailure::Timeout(t)
        );
        assert!(matches!(
            ConnectFailure::from_io(&e(libc::EACCES), t),
            ConnectFailure::Other(_)
        ));
    }

    #[test]
    fn timeout_hint_and_categories() {
        let addr: SocketAddr = "192.0.2.1:443".parse().unwrap();
        let e = TunnelError::Connect {
            host: "vpn".into(),
            port: 443,
            attempts: vec![ConnectAttempt {
                addr,
                failure: ConnectFailure::Timeout(Duration::from_secs(15)),
            }],
            proxy: false,
        };
        let text = e.to_string();
        assert!(
            text.contains("192.0.2.1:443: timed out after 15.0 s"),
            "{text}"
        );
        assert!(text.contains("firewall"), "{text}");
        assert_eq!(e.category(), FailureCategory::Connect);

        let abort = TunnelError::Call(CloseReason::PeerAbort {
            status: None,
            after_call_connected: true,
        });
        assert_eq!(abort.category(), FailureCategory::CryptoBinding);
        assert!(abort.to_string().contains("crypto binding"), "{abort}");
        let cert = crate::cert::tests::info([0x3f; 32], [0x9c; 20]);
        let m = binding_rejected_message(&cert, "[2001:db8::2]:443".parse().unwrap(), false);
        let hashes = format!(
            "\n  certificate seen from IPv6 [2001:db8::2]:443\n  SHA-256: {}\n  SHA-1:   {}\n  \
             relay these hashes and the address to the server's administrator",
            "3F".repeat(32),
            "9C".repeat(20)
        );
        assert!(m.contains(&hashes), "{m}");
        let auth = TunnelError::Call(CloseReason::NegotiationTimeout {
            phase: NegotiationPhase::Authentication,
        });
        assert_eq!(auth.category(), FailureCategory::Auth);
        let nak = TunnelError::Call(CloseReason::ConnectNak {
            statuses: vec![],
            attempts: 4,
        });
        assert_eq!(nak.category(), FailureCategory::Negotiation);
        let proxy_dns = TunnelError::Resolve {
            host: "proxy".into(),
            detail: "x".into(),
            proxy: true,
        };
        assert_eq!(proxy_dns.category(), FailureCategory::Proxy);
        assert!(proxy_dns.to_string().contains("proxy name"));
    }
}
