//! The blocking connect phase: resolve, TCP (every address), proxy CONNECT, TLS, HTTP.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;
use sstp_proto::http::{
    self, ConnectRequest, CorrelationId, DuplexPostRequest, HttpError, Progress, ResponseParser,
    ResponseTimer, SstpResponse,
};

use crate::cert::CertificateInfo;
use crate::config::{IpFamily, ProxyConfig, ProxyCredentials, TunnelConfig};
use crate::error::{ConnectAttempt, ConnectFailure, TunnelError};
use crate::proxy_auth::StandardProxyAuth;
use crate::tls;

/// Duration of each phase of [`connect()`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTimings {
    /// Name resolution (of the server, or of the proxy).
    pub resolve: Duration,
    /// TCP connect, including failed addresses.
    pub tcp: Duration,
    /// Proxy CONNECT exchange, if a proxy is used.
    pub proxy: Option<Duration>,
    /// TLS handshake.
    pub tls: Duration,
    /// SSTP HTTP request until the response head.
    pub http: Duration,
}

/// An established SSTP HTTPS connection, ready for SSTP packets.
pub struct Established {
    /// The TLS stream (blocking, with read/write timeouts still set).
    pub stream: SslStream<TcpStream>,
    /// Bytes received after the HTTP response head (normally empty); they are the start of the
    /// SSTP byte stream and must be processed before reading `stream`.
    pub leftover: Vec<u8>,
    /// DER of the server's leaf certificate (input of the crypto binding).
    pub peer_cert_der: Vec<u8>,
    /// Facts about that certificate.
    pub cert: CertificateInfo,
    /// Negotiated TLS version, e.g. `TLSv1.3`.
    pub tls_version: String,
    /// Negotiated cipher suite.
    pub cipher: String,
    /// TCP peer: the server, or the proxy when one is used.
    pub peer_addr: SocketAddr,
    /// A proxy carries the connection.
    pub via_proxy: bool,
    /// The server's accepted response (status, headers, warnings).
    pub http: SstpResponse,
    /// The correlation id sent.
    pub correlation_id: CorrelationId,
    /// Addresses that failed before `peer_addr` worked.
    pub failed_attempts: Vec<ConnectAttempt>,
    /// Per-phase durations.
    pub timings: PhaseTimings,
}

impl std::fmt::Debug for Established {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Established")
            .field("peer_addr", &self.peer_addr)
            .field("via_proxy", &self.via_proxy)
            .field("tls_version", &self.tls_version)
            .field("cipher", &self.cipher)
            .field("cert_sha256", &self.cert.sha256_hex())
            .field("http", &self.http.response.status_line())
            .field("timings", &self.timings)
            .finish()
    }
}

/// The answer of a [`ProxyAuthenticator`] to a 407.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyAuthStep {
    /// Value of the `Proxy-Authorization` header for the next CONNECT.
    pub header_value: String,
    /// The next CONNECT must use the same TCP connection (NTLM): fail if the proxy closed it.
    pub needs_same_connection: bool,
}

impl std::fmt::Debug for ProxyAuthStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyAuthStep")
            .field("header_value", &"<redacted>")
            .field("needs_same_connection", &self.needs_same_connection)
            .finish()
    }
}

/// Supplies `Proxy-Authorization` values for CONNECT. [`StandardProxyAuth`] implements the
/// schemes of the `sstp-proxy-auth` crate; tests and embedders may provide their own.
pub trait ProxyAuthenticator {
    /// Header value for the first CONNECT of a TCP connection (preemptive auth), if any.
    fn initial(&mut self, _credentials: &ProxyCredentials, _target: &str) -> Option<String> {
        None
    }

    /// After a 407: the header for the next CONNECT, or why authentication cannot go on.
    /// `challenges` are the `Proxy-Authenticate` values; `target` is the CONNECT
    /// request-target (`host:port`, `[v6]:port`).
    fn respond(
        &mut self,
        challenges: &[String],
        credentials: &ProxyCredentials,
        target: &str,
    ) -> Result<ProxyAuthStep, String>;

    /// The proxy accepted the CONNECT.
    fn on_success(&mut self) {}
}

/// Supports no scheme: a 407 becomes [`TunnelError::ProxyAuthRequired`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProxyAuth;

impl ProxyAuthenticator for NoProxyAuth {
    fn respond(
        &mut self,
        _: &[String],
        _: &ProxyCredentials,
        _: &str,
    ) -> Result<ProxyAuthStep, String> {
        Err("proxy authentication is disabled".into())
    }
}

/// Connects with the standard proxy authentication ([`StandardProxyAuth`]: NTLMv2, Digest,
/// Basic) when the proxy configuration has credentials. See [`connect_with`].
pub fn connect(cfg: &TunnelConfig) -> Result<Established, TunnelError> {
    connect_with(cfg, &mut StandardProxyAuth::default())
}

/// Resolves, connects (every address in turn), runs the proxy CONNECT (authenticating with
/// `auth` when challenged), the TLS handshake with the trust policy and the SSTP HTTP exchange.
pub fn connect_with(
    cfg: &TunnelConfig,
    auth: &mut dyn ProxyAuthenticator,
) -> Result<Established, TunnelError> {
    if cfg.server.is_empty() {
        return Err(TunnelError::Config("no server given".into()));
    }
    let mut timings = PhaseTimings::default();
    let (tcp, peer_addr, failed_attempts) = match &cfg.proxy {
        None => {
            let t0 = Instant::now();
            let addrs = resolve(&cfg.server, cfg.port, cfg.ip_family, false)?;
            timings.resolve = t0.elapsed();
            let t1 = Instant::now();
            let (tcp, peer, failed) =
                connect_any(&cfg.server, cfg.port, &addrs, cfg.connect_timeout, false)?;
            timings.tcp = t1.elapsed();
            (tcp, peer, failed)
        }
        Some(proxy) => {
            let t0 = Instant::now();
            let addrs = resolve(&proxy.host, proxy.port, cfg.ip_family, true)?;
            timings.resolve = t0.elapsed();
            let t1 = Instant::now();
            let (mut tcp, mut peer, failed) =
                connect_any(&proxy.host, proxy.port, &addrs, cfg.connect_timeout, true)?;
            timings.tcp = t1.elapsed();
            let t2 = Instant::now();
            let reconnect =
                || connect_any(&proxy.host, proxy.port, &addrs, cfg.connect_timeout, true);
            proxy_connect(cfg, proxy, &mut tcp, &mut peer, auth, reconnect)?;
            timings.proxy = Some(t2.elapsed());
            (tcp, peer, failed)
        }
    };

    let t3 = Instant::now();
    let session = tls::handshake(cfg, tcp, peer_addr, t3 + cfg.tls_timeout)?;
    timings.tls = t3.elapsed();

    let mut stream = session.stream;
    let t4 = Instant::now();
    let correlation_id = CorrelationId::from_random(random16());
    let (http, leftover) = sstp_http(cfg, &mut stream, correlation_id, peer_addr)?;
    timings.http = t4.elapsed();

    Ok(Established {
        stream,
        leftover,
        peer_cert_der: session.leaf_der,
        cert: session.cert,
        tls_version: session.version,
        cipher: session.cipher,
        peer_addr,
        via_proxy: cfg.proxy.is_some(),
        http,
        correlation_id,
        failed_attempts,
        timings,
    })
}

fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        // The correlation id is only used for server-side logging; a clock-derived value is
        // an acceptable fallback if the RNG is unavailable.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = n.to_le_bytes();
    }
    b
}

/// Resolves `host` (IP literals are used as they are) and orders by the family preference.
pub fn resolve(
    host: &str,
    port: u16,
    family: IpFamily,
    proxy: bool,
) -> Result<Vec<SocketAddr>, TunnelError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let mut addrs: Vec<SocketAddr> = if let Ok(ip) = bare.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        match (bare, port).to_socket_addrs() {
            Ok(it) => {
                let mut v = Vec::new();
                for a in it {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                }
                v
            }
            Err(e) => {
                return Err(TunnelError::Resolve {
                    host: host.to_owned(),
                    detail: e.to_string(),
                    proxy,
                })
            }
        }
    };
    let before = addrs.len();
    match family {
        IpFamily::Any => {}
        IpFamily::V4Only => addrs.retain(SocketAddr::is_ipv4),
        IpFamily::V6Only => addrs.retain(SocketAddr::is_ipv6),
        IpFamily::PreferV4 => addrs.sort_by_key(|a| a.is_ipv6()),
        IpFamily::PreferV6 => addrs.sort_by_key(|a| a.is_ipv4()),
    }
    if addrs.is_empty() {
        let detail = if before == 0 {
            "no addresses".to_owned()
        } else {
            format!("{before} address(es), none of the requested family {family:?}")
        };
        return Err(TunnelError::Resolve {
            host: host.to_owned(),
            detail,
            proxy,
        });
    }
    Ok(addrs)
}

/// Tries each address in turn; returns the first connected stream and the failures before it.
pub fn connect_any(
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
    timeout: Duration,
    proxy: bool,
) -> Result<(TcpStream, SocketAddr, Vec<ConnectAttempt>), TunnelError> {
    let mut attempts = Vec::new();
    for &addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok((s, addr, attempts));
            }
            Err(e) => attempts.push(ConnectAttempt {
                addr,
                failure: ConnectFailure::from_io(&e, timeout),
            }),
        }
    }
    Err(TunnelError::Connect {
        host: host.to_owned(),
        port,
        attempts,
        proxy,
    })
}

/// Reads one response head byte-exactly; returns the head and any bytes received after it.
fn read_head<S: Read>(
    s: &mut S,
    timer: ResponseTimer,
    set_timeout: &mut dyn FnMut(&mut S, Duration) -> io::Result<()>,
    during: &'static str,
) -> Result<Result<(http::Response, Vec<u8>), HttpError>, io::Error> {
    let mut parser = ResponseParser::new();
    let mut buf = [0u8; 2048];
    loop {
        let Some(left) = timer.remaining(Instant::now()) else {
            return Ok(Err(timer.expired(Instant::now())));
        };
        set_timeout(s, left)?;
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if e.kind() == io::ErrorKind::UnexpectedEof
                    || e.kind() == io::ErrorKind::ConnectionReset =>
            {
                0
            }
            Err(e) if e.to_string().contains("unexpected eof") => 0,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{during}: {e}"))),
        };
        if n == 0 {
            return Ok(Err(parser.eof().unwrap_or(HttpError::Malformed(
                http::Malformed::Truncated {
                    received: parser.received(),
                },
            ))));
        }
        match parser.push(&buf[..n]) {
            Ok(Progress::Partial) => {}
            Ok(Progress::Complete { response, consumed }) => {
                return Ok(Ok((response, buf[consumed..n].to_vec())))
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

fn sstp_http(
    cfg: &TunnelConfig,
    stream: &mut SslStream<TcpStream>,
    correlation_id: CorrelationId,
    peer: SocketAddr,
) -> Result<(SstpResponse, Vec<u8>), TunnelError> {
    let request = DuplexPostRequest::new(cfg.tls_name(), cfg.port, correlation_id)
        .to_bytes()
        .map_err(|e| TunnelError::Config(e.to_string()))?;
    stream
        .get_ref()
        .set_write_timeout(Some(cfg.handshake_timeout.max(Duration::from_millis(1))))
        .map_err(|e| TunnelError::io("setting socket timeouts", e))?;
    stream
        .write_all(&request)
        .map_err(|e| TunnelError::io("sending the SSTP HTTP request", e))?;
    stream
        .flush()
        .map_err(|e| TunnelError::io("sending the SSTP HTTP request", e))?;
    let timer = ResponseTimer::with_timeout(Instant::now(), cfg.handshake_timeout);
    let mut set = |s: &mut SslStream<TcpStream>, d: Duration| s.get_ref().set_read_timeout(Some(d));
    let (head, leftover) = read_head(
        stream,
        timer,
        &mut set,
        "waiting for the SSTP HTTP response",
    )
    .map_err(|e| TunnelError::io("waiting for the SSTP HTTP response", e))?
    .map_err(|source| TunnelError::Http { peer, source })?;
    let resp =
        http::validate_sstp_response(head).map_err(|source| TunnelError::Http { peer, source })?;
    Ok((resp, leftover))
}

fn proxy_connect(
    cfg: &TunnelConfig,
    proxy: &ProxyConfig,
    tcp: &mut TcpStream,
    peer: &mut SocketAddr,
    auth: &mut dyn ProxyAuthenticator,
    reconnect: impl Fn() -> Result<(TcpStream, SocketAddr, Vec<ConnectAttempt>), TunnelError>,
) -> Result<(), TunnelError> {
    const MAX_ROUNDS: usize = 4;
    let proxy_name = if proxy.host.contains(':') {
        format!("[{}]:{}", proxy.host, proxy.port)
    } else {
        format!("{}:{}", proxy.host, proxy.port)
    };
    let mut req = ConnectRequest::new(cfg.server.clone(), cfg.port);
    let target = req
        .to_bytes()
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.split(' ').nth(1).map(str::to_owned))
        .unwrap_or_default();
    if let Some(c) = &proxy.credentials {
        req.proxy_authorization = auth.initial(c, &target);
    }
    for _round in 0..MAX_ROUNDS {
        let bytes = req
            .to_bytes()
            .map_err(|e| TunnelError::Config(e.to_string()))?;
        tcp.set_write_timeout(Some(cfg.tls_timeout.max(Duration::from_millis(1))))
            .map_err(|e| TunnelError::io("setting socket timeouts", e))?;
        tcp.write_all(&bytes)
            .map_err(|e| TunnelError::io("sending CONNECT to the proxy", e))?;
        let timer = ResponseTimer::with_timeout(Instant::now(), cfg.tls_timeout);
        let mut set = |s: &mut TcpStream, d: Duration| s.set_read_timeout(Some(d));
        let (head, leftover) = read_head(tcp, timer, &mut set, "waiting for the proxy's answer")
            .map_err(|e| TunnelError::io("waiting for the proxy's answer", e))?
            .map_err(|source| TunnelError::Proxy {
                proxy: proxy_name.clone(),
                source,
            })?;
        let close = head
            .header("Proxy-Connection")
            .or_else(|| head.header("Connection"))
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let body_len: Option<u64> = head
            .header("Content-Length")
            .and_then(|v| v.trim().parse().ok());
        match http::validate_proxy_response(head) {
            Ok(_) => {
                if !leftover.is_empty() {
                    return Err(TunnelError::Proxy {
                        proxy: proxy_name,
                        source: HttpError::Malformed(http::Malformed::BadHeaderLine {
                            line: format!(
                                "{} unexpected bytes after the CONNECT answer",
                                leftover.len()
                            ),
                        }),
                    });
                }
                auth.on_success();
                return Ok(());
            }
            Err(HttpError::ProxyAuthRequired { schemes }) => {
                let Some(creds) = &proxy.credentials else {
                    return Err(TunnelError::ProxyAuthRequired {
                        proxy: proxy_name,
                        schemes,
                        had_credentials: false,
                        detail: None,
                    });
                };
                let step = match auth.respond(&schemes, creds, &target) {
                    Ok(step) => step,
                    Err(detail) => {
                        return Err(TunnelError::ProxyAuthRequired {
                            proxy: proxy_name,
                            schemes,
                            had_credentials: true,
                            detail: Some(detail),
                        })
                    }
                };
                req.proxy_authorization = Some(step.header_value.clone());
                // Keep the connection (NTLM needs it) when the body can be drained.
                let reusable = !close && matches!(body_len, Some(n) if n <= 1 << 20);
                if reusable {
                    let mut remaining = body_len.unwrap_or(0).saturating_sub(leftover.len() as u64);
                    let mut sink = [0u8; 4096];
                    while remaining > 0 {
                        let want = remaining.min(sink.len() as u64) as usize;
                        match tcp.read(&mut sink[..want]) {
                            Ok(0) => break,
                            Ok(n) => remaining -= n as u64,
                            Err(e) => {
                                return Err(TunnelError::io("reading the proxy's 407 body", e))
                            }
                        }
                    }
                    if remaining == 0 {
                        continue;
                    }
                }
                if step.needs_same_connection {
                    return Err(TunnelError::ProxyAuthRequired {
                        proxy: proxy_name,
                        schemes,
                        had_credentials: true,
                        detail: Some(
                            "the proxy closed the connection in the middle of a connection-bound \
                             (NTLM) authentication"
                                .into(),
                        ),
                    });
                }
                let (t, p, _) = reconnect()?;
                *tcp = t;
                *peer = p;
                req.proxy_authorization = Some(step.header_value.clone());
            }
            Err(HttpError::ProxyRefused { status, reason, .. }) => {
                return Err(TunnelError::ProxyRefused {
                    proxy: proxy_name,
                    status,
                    reason,
                })
            }
            Err(source) => {
                return Err(TunnelError::Proxy {
                    proxy: proxy_name,
                    source,
                })
            }
        }
    }
    Err(TunnelError::ProxyAuthRequired {
        proxy: proxy_name,
        schemes: Vec::new(),
        had_credentials: true,
        detail: Some(format!("no success after {MAX_ROUNDS} CONNECT attempts")),
    })
}
