//! The blocking connect phase: resolve, TCP (every address), proxy CONNECT, TLS, HTTP.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;
use sstp_proto::http::{
    self, ConnectRequest, CorrelationId, DuplexPostRequest, HttpError, Progress, ResponseParser,
    ResponseTimer, SstpResponse,
};
use zeroize::{Zeroize, Zeroizing};

use crate::cancel::{self, Cancel, Interest, NbStream, WaitError};
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
    /// The trust failure accepted under [`crate::TunnelConfig::accept_untrusted`], if any.
    pub accepted_untrusted: Option<Box<crate::TrustError>>,
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

impl Drop for ProxyAuthStep {
    fn drop(&mut self) {
        self.header_value.zeroize();
    }
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
    connect_with(cfg, &mut StandardProxyAuth::for_config(cfg))
}

/// [`connect_cancellable`] that cannot be cancelled.
pub fn connect_with(
    cfg: &TunnelConfig,
    auth: &mut dyn ProxyAuthenticator,
) -> Result<Established, TunnelError> {
    connect_cancellable(cfg, auth, &Cancel::never())
}

/// Phase names in messages ("connect cancelled (SIGTERM) during PHASE").
pub(crate) mod phase {
    pub const RESOLVE: &str = "name resolution";
    pub const TCP: &str = "the TCP connect";
    pub const PROXY: &str = "the proxy CONNECT";
    pub const TLS: &str = "the TLS handshake";
    pub const HTTP: &str = "the SSTP HTTP exchange";
    pub const NEGOTIATION: &str = "SSTP call negotiation";
}

/// Maps a [`WaitError`] of `phase`: cancellation, or `timeout()`, or an I/O error `during`.
pub(crate) fn wait_err(
    e: WaitError,
    phase: &'static str,
    during: &'static str,
    timeout: impl FnOnce() -> TunnelError,
) -> TunnelError {
    match e {
        WaitError::Cancelled(reason) => TunnelError::Cancelled { reason, phase },
        WaitError::Timeout => timeout(),
        WaitError::Io(e) => TunnelError::io(during, e),
    }
}

/// Resolves, connects (every address in turn), runs the proxy CONNECT (authenticating with
/// `auth` when challenged), the TLS handshake with the trust policy and the SSTP HTTP exchange.
/// Every wait is bounded by its phase's deadline and stops as soon as `cancel` says so.
/// The returned stream is in blocking mode.
pub fn connect_cancellable(
    cfg: &TunnelConfig,
    auth: &mut dyn ProxyAuthenticator,
    cancel: &Cancel<'_>,
) -> Result<Established, TunnelError> {
    if cfg.server.is_empty() {
        return Err(TunnelError::Config("no server given".into()));
    }
    let mut timings = PhaseTimings::default();
    let (host, port, proxied) = match &cfg.proxy {
        None => (cfg.server.as_str(), cfg.port, false),
        Some(p) => (p.host.as_str(), p.port, true),
    };
    let t0 = Instant::now();
    let deadline = t0 + cfg.connect_timeout;
    let addrs = resolve_within(host, port, cfg.ip_family, proxied, deadline, cancel)?;
    timings.resolve = t0.elapsed();
    let t1 = Instant::now();
    let tcp_connect =
        || connect_any_within(host, port, &addrs, cfg.connect_timeout, proxied, cancel);
    let (mut tcp, mut peer_addr, failed_attempts) = tcp_connect()?;
    timings.tcp = t1.elapsed();
    if let Some(proxy) = &cfg.proxy {
        let t2 = Instant::now();
        proxy_connect(
            cfg,
            proxy,
            (&mut tcp, &mut peer_addr),
            auth,
            tcp_connect,
            cancel,
        )?;
        timings.proxy = Some(t2.elapsed());
    }

    let t3 = Instant::now();
    let session = tls::handshake(cfg, tcp, peer_addr, t3 + cfg.tls_timeout, cancel)?;
    timings.tls = t3.elapsed();

    let mut stream = session.stream;
    let t4 = Instant::now();
    let correlation_id = CorrelationId::from_random(random16());
    let (http, leftover) = sstp_http(cfg, &mut stream, correlation_id, peer_addr, cancel)?;
    timings.http = t4.elapsed();
    stream
        .get_ref()
        .set_nonblocking(false)
        .map_err(|e| TunnelError::io("setting the socket to blocking mode", e))?;

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
        accepted_untrusted: session.accepted,
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

/// How long [`resolve`] waits for the system resolver.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(15);

/// Resolves `host` (IP literals are used as they are) and orders by the family preference,
/// waiting at most [`RESOLVE_TIMEOUT`].
pub fn resolve(
    host: &str,
    port: u16,
    family: IpFamily,
    proxy: bool,
) -> Result<Vec<SocketAddr>, TunnelError> {
    let deadline = Instant::now() + RESOLVE_TIMEOUT;
    resolve_within(host, port, family, proxy, deadline, &Cancel::never())
}

/// [`resolve`] bounded by `deadline` and `cancel`. The system resolver runs on a helper
/// thread (getaddrinfo cannot be interrupted); a late thread is abandoned.
pub fn resolve_within(
    host: &str,
    port: u16,
    family: IpFamily,
    proxy: bool,
    deadline: Instant,
    cancel: &Cancel<'_>,
) -> Result<Vec<SocketAddr>, TunnelError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let mut addrs: Vec<SocketAddr> = if let Ok(ip) = bare.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        let started = Instant::now();
        let lookup = resolver::lookup(bare, port, deadline, cancel).map_err(|e| {
            let waited = started.elapsed();
            wait_err(e, phase::RESOLVE, "waiting for the resolver", || {
                TunnelError::Resolve {
                    host: host.to_owned(),
                    detail: format!(
                        "no answer from the resolver within {:.1} s; check the DNS servers \
                         in /etc/resolv.conf and that they are reachable",
                        waited.as_secs_f64()
                    ),
                    proxy,
                }
            })
        })?;
        match lookup {
            Ok(v) => v,
            Err(detail) => {
                return Err(TunnelError::Resolve {
                    host: host.to_owned(),
                    detail,
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
    connect_any_within(host, port, addrs, timeout, proxy, &Cancel::never())
}

/// [`connect_any`] with cancellation: each address gets `timeout`. The stream returned is
/// non-blocking.
pub fn connect_any_within(
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
    timeout: Duration,
    proxy: bool,
    cancel: &Cancel<'_>,
) -> Result<(TcpStream, SocketAddr, Vec<ConnectAttempt>), TunnelError> {
    let mut attempts = Vec::new();
    for &addr in addrs {
        match tcp_connect(addr, Instant::now() + timeout, cancel) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok((s, addr, attempts));
            }
            Err(WaitError::Cancelled(reason)) => {
                return Err(TunnelError::Cancelled {
                    reason,
                    phase: if proxy { phase::PROXY } else { phase::TCP },
                })
            }
            Err(WaitError::Timeout) => attempts.push(ConnectAttempt {
                addr,
                failure: ConnectFailure::Timeout(timeout),
            }),
            Err(WaitError::Io(e)) => attempts.push(ConnectAttempt {
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

/// One non-blocking TCP connect, waited for with `cancel` until `deadline`.
fn tcp_connect(
    addr: SocketAddr,
    deadline: Instant,
    cancel: &Cancel<'_>,
) -> Result<TcpStream, WaitError> {
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage};
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd = socket::socket(family, SockType::Stream, flags, None).map_err(io::Error::from)?;
    let sa = SockaddrStorage::from(addr);
    match socket::connect(fd.as_raw_fd(), &sa) {
        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(WaitError::Io(e.into())),
    }
    cancel::wait_fd(fd.as_fd(), Interest::Write, deadline, cancel)?;
    match socket::getsockopt(&fd, socket::sockopt::SocketError).map_err(io::Error::from)? {
        0 => Ok(TcpStream::from(fd)),
        errno => Err(WaitError::Io(io::Error::from_raw_os_error(errno))),
    }
}

/// Reads one response head byte-exactly before the timer expires; returns the head and any
/// bytes received after it.
fn read_head<S: NbStream>(
    s: &mut S,
    timer: ResponseTimer,
    cancel: &Cancel<'_>,
) -> Result<Result<(http::Response, Vec<u8>), HttpError>, WaitError> {
    let mut parser = ResponseParser::new();
    let mut buf = [0u8; 2048];
    let Some(left) = timer.remaining(Instant::now()) else {
        return Ok(Err(timer.expired(Instant::now())));
    };
    let deadline = Instant::now() + left;
    loop {
        let n = match cancel::read_some(s, &mut buf, deadline, cancel) {
            Ok(n) => n,
            Err(WaitError::Timeout) => return Ok(Err(timer.expired(Instant::now()))),
            Err(WaitError::Io(e)) if is_eof(&e) => 0,
            Err(e) => return Err(e),
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

fn is_eof(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
    ) || e.to_string().contains("unexpected eof")
}

fn sstp_http(
    cfg: &TunnelConfig,
    stream: &mut SslStream<TcpStream>,
    correlation_id: CorrelationId,
    peer: SocketAddr,
    cancel: &Cancel<'_>,
) -> Result<(SstpResponse, Vec<u8>), TunnelError> {
    let request = DuplexPostRequest::new(cfg.tls_name(), cfg.port, correlation_id)
        .to_bytes()
        .map_err(|e| TunnelError::Config(e.to_string()))?;
    let timer = ResponseTimer::with_timeout(Instant::now(), cfg.handshake_timeout);
    let deadline = Instant::now() + cfg.handshake_timeout;
    const SENDING: &str = "sending the SSTP HTTP request";
    const WAITING: &str = "waiting for the SSTP HTTP response";
    cancel::write_all(stream, &request, deadline, cancel).map_err(|e| {
        wait_err(e, phase::HTTP, SENDING, || {
            TunnelError::io(SENDING, io::ErrorKind::TimedOut.into())
        })
    })?;
    let (head, leftover) = read_head(stream, timer, cancel)
        .map_err(|e| {
            wait_err(e, phase::HTTP, WAITING, || {
                TunnelError::io(WAITING, io::ErrorKind::TimedOut.into())
            })
        })?
        .map_err(|source| TunnelError::Http { peer, source })?;
    let resp =
        http::validate_sstp_response(head).map_err(|source| TunnelError::Http { peer, source })?;
    Ok((resp, leftover))
}

type TcpLink<'a> = (&'a mut TcpStream, &'a mut SocketAddr);

/// Puts `step`'s header into the next CONNECT, wiping the value it replaces.
fn set_authorization(req: &mut ConnectRequest, step: &ProxyAuthStep) {
    req.proxy_authorization.zeroize();
    req.proxy_authorization = Some(step.header_value.clone());
}

fn proxy_connect(
    cfg: &TunnelConfig,
    proxy: &ProxyConfig,
    (tcp, peer): TcpLink<'_>,
    auth: &mut dyn ProxyAuthenticator,
    reconnect: impl Fn() -> Result<(TcpStream, SocketAddr, Vec<ConnectAttempt>), TunnelError>,
    cancel: &Cancel<'_>,
) -> Result<(), TunnelError> {
    const SENDING: &str = "sending CONNECT to the proxy";
    const WAITING: &str = "waiting for the proxy's answer";
    const DRAINING: &str = "reading the proxy's 407 body";
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
        // The request carries the Proxy-Authorization value: wiped when dropped.
        let bytes = Zeroizing::new(
            req.to_bytes()
                .map_err(|e| TunnelError::Config(e.to_string()))?,
        );
        // One deadline per round: CONNECT, the answer and the 407 body together.
        let timer = ResponseTimer::with_timeout(Instant::now(), cfg.tls_timeout);
        let deadline = Instant::now() + cfg.tls_timeout;
        let round_start = Instant::now();
        let name = &proxy_name;
        let proxy_timeout = |during| {
            move || TunnelError::ProxyTimeout {
                proxy: name.clone(),
                waited: round_start.elapsed(),
                during,
            }
        };
        cancel::write_all(tcp, &bytes[..], deadline, cancel)
            .map_err(|e| wait_err(e, phase::PROXY, SENDING, proxy_timeout(SENDING)))?;
        let (head, leftover) = read_head(tcp, timer, cancel)
            .map_err(|e| wait_err(e, phase::PROXY, WAITING, proxy_timeout(WAITING)))?
            .map_err(|source| match source {
                HttpError::NoResponse { .. } => proxy_timeout(WAITING)(),
                source => TunnelError::Proxy {
                    proxy: proxy_name.clone(),
                    source,
                },
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
                if proxy.refuse_basic && only_basic(&schemes) {
                    return Err(TunnelError::ProxyBasicRefused { proxy: proxy_name });
                }
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
                set_authorization(&mut req, &step);
                // Keep the connection (NTLM needs it) when the body can be drained.
                let reusable = !close && matches!(body_len, Some(n) if n <= 1 << 20);
                if reusable {
                    let left = body_len.unwrap_or(0).saturating_sub(leftover.len() as u64);
                    if drain_body(tcp, left, deadline, cancel)
                        .map_err(|e| wait_err(e, phase::PROXY, DRAINING, proxy_timeout(DRAINING)))?
                    {
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
                set_authorization(&mut req, &step);
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

/// getaddrinfo on a helper thread, waited for through a socket pair.
mod resolver {
    use std::io::{self, Write};
    use std::net::{SocketAddr, ToSocketAddrs};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};

    use crate::cancel::{self, Cancel, Interest, WaitError};

    type Answer = Result<Vec<SocketAddr>, String>;

    /// Both ends live as long as either side holds the Arc: the late thread never writes
    /// into a closed socket (no EPIPE/SIGPIPE).
    struct Shared {
        answer: Mutex<Option<Answer>>,
        rx: UnixStream,
        tx: UnixStream,
    }

    /// Resolves `host`; `Ok(Err(detail))` is the resolver's own failure.
    pub(super) fn lookup(
        host: &str,
        port: u16,
        deadline: Instant,
        cancel: &Cancel<'_>,
    ) -> Result<Answer, WaitError> {
        let (rx, tx) = UnixStream::pair()?;
        let shared = Arc::new(Shared {
            answer: Mutex::new(None),
            rx,
            tx,
        });
        let theirs = Arc::clone(&shared);
        let name = host.to_owned();
        spawn_without_signals(move || {
            let answer = (name.as_str(), port)
                .to_socket_addrs()
                .map(|it| {
                    let mut v: Vec<SocketAddr> = Vec::new();
                    for a in it {
                        if !v.contains(&a) {
                            v.push(a);
                        }
                    }
                    v
                })
                .map_err(|e| e.to_string());
            *theirs.answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(answer);
            let _ = (&theirs.tx).write(&[1]);
        })?;
        loop {
            cancel::wait_fd(shared.rx.as_fd(), Interest::Read, deadline, cancel)?;
            let mut guard = shared.answer.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(a) = guard.take() {
                return Ok(a);
            }
        }
    }

    /// Spawns a detached thread with every signal blocked: pppd's handlers must run on the
    /// main thread, whose waits they interrupt.
    fn spawn_without_signals(f: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let mut old = SigSet::empty();
        pthread_sigmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut old),
        )?;
        let r = std::thread::Builder::new()
            .name("sstp-resolve".into())
            .spawn(f);
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
        r.map(drop)
    }
}

/// Reads and discards `remaining` body bytes before `deadline`; `false` if the proxy closed
/// the connection first.
fn drain_body(
    tcp: &mut TcpStream,
    mut remaining: u64,
    deadline: Instant,
    cancel: &Cancel<'_>,
) -> Result<bool, WaitError> {
    let mut sink = [0u8; 4096];
    while remaining > 0 {
        let want = remaining.min(sink.len() as u64) as usize;
        match cancel::read_some(tcp, &mut sink[..want], deadline, cancel)? {
            0 => return Ok(false),
            n => remaining -= n as u64,
        }
    }
    Ok(true)
}

/// Whether every offered `Proxy-Authenticate` scheme is Basic (and there is one).
fn only_basic(schemes: &[String]) -> bool {
    let basic = |s: &String| {
        let name = s.split_whitespace().next().unwrap_or("");
        name.eq_ignore_ascii_case("basic")
    };
    !schemes.is_empty() && schemes.iter().all(basic)
}

#[cfg(test)]
mod basic_tests {
    use super::only_basic;

    #[test]
    fn only_basic_needs_every_offer_to_be_basic() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(only_basic(&v(&["Basic realm=\"x\""])));
        assert!(only_basic(&v(&["basic", "BASIC realm=y"])));
        assert!(!only_basic(&v(&[])));
        assert!(!only_basic(&v(&["NTLM", "Basic realm=x"])));
        assert!(!only_basic(&v(&["Digest realm=x, nonce=1", "Basic"])));
        assert!(!only_basic(&v(&["Basicx"])));
    }
}
