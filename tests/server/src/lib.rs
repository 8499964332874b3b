//! SSTP test server with fault modes (test support; never shipped).
//!
//! Built on the project's own core (`sstp_proto::wire`, `hdlc`, `crypto_binding`, `http`
//! constants) with server-side TLS from OpenSSL. By default it speaks MS-SSTP correctly: it
//! validates the SSTP_DUPLEX_POST request, answers `HTTP/1.1 200`, runs the server state machine
//! ([`session::Session`]), relays PPP frames to a server-side pppd on a pty (or another
//! [`PppBackend`]) and checks the client's crypto binding. [`Fault`] modes reproduce the
//! failures users meet.
//!
//! In-process use (tests):
//!
//! ```no_run
//! use sstp_test_server::{certs, spawn, ServerConfig, Fault};
//! let ca = certs::Ca::new("CA").unwrap();
//! let leaf = ca.issue(&certs::CertSpec::localhost()).unwrap();
//! let mut cfg = ServerConfig::new(leaf.cert, leaf.key);
//! cfg.fault = Fault::HttpStatus(403);
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let server = spawn(listener, cfg).unwrap();
//! // ... connect a client to server.addr() ...
//! let report = server.next_report(std::time::Duration::from_secs(10));
//! ```

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
use openssl::x509::X509;
use sstp_proto::crypto_binding::{HashProtocols, Hlak};
use sstp_proto::wire::StatusCode;

pub mod certs;
mod conn;
mod connect_faults;
mod mid_session;
pub mod pty;
pub mod request;
pub mod session;

pub use session::{AbortCause, BindingCheck, EndReason, SessionFault, SessionStats};

/// A fault mode: the failure the server produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fault {
    /// Correct behaviour.
    #[default]
    None,
    /// Read the HTTP request, never answer (keep the connection open).
    NoHttpResponse,
    /// Status line without HTTP version (`200 OK`).
    HttpNoVersion,
    /// `HTTP/1.0 200 OK`.
    Http10,
    /// `HTTP/1.1 <status> <reason>` (e.g. 403, 404, 503).
    HttpStatus(u16),
    /// CALL_CONNECT_NAK with this status for ENCAPSULATED_PROTOCOL_ID, on every request.
    Nak(StatusCode),
    /// CALL_ABORT with Status Info right after CALL_CONNECTED (a server rejecting the binding).
    AbortAfterConnected,
    /// Check the client's certificate hash against a different certificate (as behind a
    /// TLS-offloading proxy) and abort with Status Info.
    CertHashMismatch,
    /// CALL_ABORT with Status Info once the call has been up this long.
    AbortMidSession(Duration),
    /// Stop sending anything after CALL_CONNECTED (the client's echo timeout fires).
    SilentAfterConnect,
    /// Answer HTTP 200, then never answer CALL_CONNECT_REQUEST (negotiation timeout).
    SilentAfterHttp,
    /// TLS handshake, then close the connection.
    CloseAfterTls,
    // connect-phase faults
    /// Sends its TLS handshake bytes one byte per second.
    TlsDrip,
    /// Answers `HTTP/1.1 200 OK`, then header lines (one every 0.5 s) that never end.
    HttpEndlessHeaders,
    /// Accepts TCP, reads and discards, never sends anything (a silent TLS server or proxy).
    TcpSilent,
    /// Acts as an HTTP proxy answering every CONNECT with a 407 whose body (Content-Length
    /// 1 MiB) drips 16 bytes every 0.5 s.
    Proxy407EndlessBody,
    /// Waits this long before the TLS handshake and again before the HTTP answer, then
    /// behaves correctly (a slow but working server).
    SlowConnect(Duration),
    // mid-session faults (the time counts from CALL_CONNECTED)
    /// TCP reset (SO_LINGER 0 + close) once the call has been up this long.
    ResetMidSession(Duration),
    /// CALL_DISCONNECT once the call has been up this long.
    DisconnectMidSession(Duration),
    /// Once the call has been up this long: stop reading and send ECHO_REQUESTs as fast as TCP
    /// takes them (a server that floods without reading), until the client goes away.
    EchoFloodMidSession(Duration),
    /// Once the call has been up this long: the first bytes of a TLS record, then nothing (no
    /// FIN) until the client goes away.
    PartialRecordMidSession(Duration),
    /// 2 MB of SSTP data packets and ECHO_REQUESTs right after the HTTP 200, before
    /// CALL_CONNECT_ACK; then a correct session.
    DataBeforeConnected,
    /// Once the call has been up this long: send nothing more and answer nothing (keep reading
    /// and discarding) until the client goes away.
    SilentMidSession(Duration),
}

impl Fault {
    /// The SSTP-level part handled by the state machine.
    pub fn session_fault(self) -> SessionFault {
        match self {
            Fault::Nak(s) => SessionFault::Nak(s),
            Fault::AbortAfterConnected => SessionFault::AbortAfterConnected,
            Fault::AbortMidSession(d) => SessionFault::AbortMidSession(d),
            Fault::SilentAfterConnect => SessionFault::SilentAfterConnect,
            Fault::SilentAfterHttp => SessionFault::SilentAfterHttp,
            _ => SessionFault::None,
        }
    }

    /// Names accepted by [`Fault::from_str`] (`name` or `name=ARG`).
    pub const NAMES: &'static [&'static str] = &[
        "none",
        "no-http-response",
        "http-no-version",
        "http-1.0",
        "http-status=N",
        "nak[=N]",
        "abort-after-connected",
        "cert-hash-mismatch",
        "abort-mid-session=SECONDS",
        "silent-after-connect",
        "silent-after-http",
        "close-after-tls",
        // connect-phase faults
        "tls-drip",
        "http-endless-headers",
        "tcp-silent",
        "proxy-407-endless-body",
        "slow-connect=SECONDS",
        // mid-session faults
        "reset-mid-session=SECONDS",
        "disconnect-mid-session=SECONDS",
        "echo-flood-mid-session=SECONDS",
        "partial-record-mid-session=SECONDS",
        "data-before-connected",
        "silent-mid-session=SECONDS",
    ];

    /// Whether the named fault takes an argument (`http-status`, `nak`, `abort-mid-session`).
    pub fn takes_argument(name: &str) -> bool {
        matches!(
            name,
            "http-status"
                | "nak"
                | "abort-mid-session"
                // connect-phase faults
                | "slow-connect"
                // mid-session faults
                | "reset-mid-session"
                | "disconnect-mid-session"
                | "echo-flood-mid-session"
                | "partial-record-mid-session"
                | "silent-mid-session"
        )
    }

    /// The mid-session fault's delay after CALL_CONNECTED, if this is one handled by the
    /// connection driver.
    pub fn mid_session_delay(self) -> Option<Duration> {
        match self {
            Fault::ResetMidSession(d)
            | Fault::DisconnectMidSession(d)
            | Fault::EchoFloodMidSession(d)
            | Fault::PartialRecordMidSession(d)
            | Fault::SilentMidSession(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::None => f.write_str("none"),
            Fault::NoHttpResponse => f.write_str("no-http-response"),
            Fault::HttpNoVersion => f.write_str("http-no-version"),
            Fault::Http10 => f.write_str("http-1.0"),
            Fault::HttpStatus(s) => write!(f, "http-status={s}"),
            Fault::Nak(s) => write!(f, "nak={}", s.to_raw()),
            Fault::AbortAfterConnected => f.write_str("abort-after-connected"),
            Fault::CertHashMismatch => f.write_str("cert-hash-mismatch"),
            Fault::AbortMidSession(d) => write!(f, "abort-mid-session={}", d.as_secs_f64()),
            Fault::SilentAfterConnect => f.write_str("silent-after-connect"),
            Fault::SilentAfterHttp => f.write_str("silent-after-http"),
            Fault::CloseAfterTls => f.write_str("close-after-tls"),
            // connect-phase faults
            Fault::TlsDrip => f.write_str("tls-drip"),
            Fault::HttpEndlessHeaders => f.write_str("http-endless-headers"),
            Fault::TcpSilent => f.write_str("tcp-silent"),
            Fault::Proxy407EndlessBody => f.write_str("proxy-407-endless-body"),
            Fault::SlowConnect(d) => write!(f, "slow-connect={}", d.as_secs_f64()),
            // mid-session faults
            Fault::ResetMidSession(d) => write!(f, "reset-mid-session={}", d.as_secs_f64()),
            Fault::DisconnectMidSession(d) => {
                write!(f, "disconnect-mid-session={}", d.as_secs_f64())
            }
            Fault::EchoFloodMidSession(d) => {
                write!(f, "echo-flood-mid-session={}", d.as_secs_f64())
            }
            Fault::PartialRecordMidSession(d) => {
                write!(f, "partial-record-mid-session={}", d.as_secs_f64())
            }
            Fault::DataBeforeConnected => f.write_str("data-before-connected"),
            Fault::SilentMidSession(d) => write!(f, "silent-mid-session={}", d.as_secs_f64()),
        }
    }
}

impl FromStr for Fault {
    type Err = String;
    /// `name`, `name=ARG` or `name ARG`.
    fn from_str(s: &str) -> Result<Fault, String> {
        let s = s.trim();
        let (name, arg) = match s.split_once(['=', ' ', ':']) {
            Some((n, a)) => (n, Some(a.trim())),
            None => (s, None),
        };
        let need = |what: &str| -> Result<&str, String> {
            arg.filter(|a| !a.is_empty())
                .ok_or_else(|| format!("fault {name} needs {what}"))
        };
        let no_arg = |f: Fault| -> Result<Fault, String> {
            match arg {
                Some(a) => Err(format!("fault {name} takes no argument (got {a:?})")),
                None => Ok(f),
            }
        };
        match name {
            "none" => no_arg(Fault::None),
            "no-http-response" => no_arg(Fault::NoHttpResponse),
            "http-no-version" => no_arg(Fault::HttpNoVersion),
            "http-1.0" | "http10" => no_arg(Fault::Http10),
            "http-status" => {
                let a = need("a status code, e.g. 403")?;
                match a.parse::<u16>() {
                    Ok(n) if (100..=999).contains(&n) => Ok(Fault::HttpStatus(n)),
                    _ => Err(format!("bad HTTP status {a:?}")),
                }
            }
            "nak" => match arg {
                None => Ok(Fault::Nak(StatusCode::ValueNotSupported)),
                Some(a) => a
                    .parse::<u32>()
                    .map(|n| Fault::Nak(StatusCode::from_raw(n)))
                    .map_err(|_| {
                        format!("bad status value {a:?} (a number, 4 = VALUE_NOT_SUPPORTED)")
                    }),
            },
            "abort-after-connected" => no_arg(Fault::AbortAfterConnected),
            "cert-hash-mismatch" => no_arg(Fault::CertHashMismatch),
            "abort-mid-session" => {
                let a = need("a number of seconds")?;
                match a.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => {
                        Ok(Fault::AbortMidSession(Duration::from_secs_f64(v)))
                    }
                    _ => Err(format!("bad number of seconds {a:?}")),
                }
            }
            "silent-after-connect" => no_arg(Fault::SilentAfterConnect),
            "silent-after-http" => no_arg(Fault::SilentAfterHttp),
            "close-after-tls" => no_arg(Fault::CloseAfterTls),
            // connect-phase faults
            "tls-drip" => no_arg(Fault::TlsDrip),
            "http-endless-headers" => no_arg(Fault::HttpEndlessHeaders),
            "tcp-silent" => no_arg(Fault::TcpSilent),
            "proxy-407-endless-body" => no_arg(Fault::Proxy407EndlessBody),
            "slow-connect" => {
                let a = need("a number of seconds")?;
                match a.parse::<f64>() {
                    Ok(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => {
                        Ok(Fault::SlowConnect(Duration::from_secs_f64(v)))
                    }
                    _ => Err(format!("bad number of seconds {a:?}")),
                }
            }
            // mid-session faults
            "reset-mid-session"
            | "disconnect-mid-session"
            | "echo-flood-mid-session"
            | "partial-record-mid-session"
            | "silent-mid-session" => {
                let a = need("a number of seconds")?;
                let d = match a.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Duration::from_secs_f64(v),
                    _ => return Err(format!("bad number of seconds {a:?}")),
                };
                Ok(match name {
                    "reset-mid-session" => Fault::ResetMidSession(d),
                    "disconnect-mid-session" => Fault::DisconnectMidSession(d),
                    "echo-flood-mid-session" => Fault::EchoFloodMidSession(d),
                    "silent-mid-session" => Fault::SilentMidSession(d),
                    _ => Fault::PartialRecordMidSession(d),
                })
            }
            "data-before-connected" => no_arg(Fault::DataBeforeConnected),
            other => Err(format!(
                "unknown fault {other:?}; known: {}",
                Fault::NAMES.join(", ")
            )),
        }
    }
}

/// Opens the byte stream (async HDLC) of an in-process PPP peer for connection number `id`.
pub type PppFactory = Arc<dyn Fn(u64) -> io::Result<OwnedFd> + Send + Sync>;

/// Where PPP frames from the client go.
#[derive(Clone, Default)]
pub enum PppBackend {
    /// Nowhere: frames are counted and dropped, nothing answers LCP (probe mode: the call
    /// stops after CALL_CONNECT_ACK).
    #[default]
    None,
    /// Every frame is sent back to the client (data-path benchmarks; not for a real pppd).
    Echo,
    /// A program (pppd, or a wrapper that runs pppd in a network namespace) spawned per call
    /// on a pty slave (its stdin/stdout); `{tty}` in an argument becomes the slave's path,
    /// `{conn}` the connection number (1, 2, …).
    Command {
        /// Program.
        program: String,
        /// Arguments.
        args: Vec<String>,
    },
    /// An in-process peer: the factory returns a stream (e.g. one end of a socketpair)
    /// carrying async-HDLC bytes.
    Custom(PppFactory),
}

impl fmt::Debug for PppBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PppBackend::None => f.write_str("None"),
            PppBackend::Echo => f.write_str("Echo"),
            PppBackend::Command { program, args } => {
                write!(f, "Command({program} {})", args.join(" "))
            }
            PppBackend::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// Timers of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// TLS handshake bound (10 s).
    pub tls: Duration,
    /// Wait for the complete HTTP request (60 s).
    pub http_request: Duration,
    /// How long `no-http-response` keeps the connection open at most (300 s).
    pub hold: Duration,
    /// Negotiation timer (60 s).
    pub negotiation: Duration,
    /// Hello (echo) interval (60 s).
    pub hello: Duration,
    /// Abort timer 1 (3 s).
    pub abort: Duration,
    /// Abort timer 2 (1 s).
    pub abort_linger: Duration,
    /// Disconnect timer 1 (5 s).
    pub disconnect: Duration,
    /// Disconnect timer 2 (1 s).
    pub disconnect_linger: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            tls: Duration::from_secs(10),
            http_request: Duration::from_secs(60),
            hold: Duration::from_secs(300),
            negotiation: Duration::from_secs(60),
            hello: Duration::from_secs(60),
            abort: Duration::from_secs(3),
            abort_linger: Duration::from_secs(1),
            disconnect: Duration::from_secs(5),
            disconnect_linger: Duration::from_secs(1),
        }
    }
}

/// Everything the server needs.
#[derive(Clone)]
pub struct ServerConfig {
    /// Leaf certificate followed by intermediates.
    pub cert_chain: Vec<X509>,
    /// The leaf's private key.
    pub key: PKey<Private>,
    /// Lowest TLS version accepted (`None`: OpenSSL's default).
    pub min_tls: Option<SslVersion>,
    /// Highest TLS version accepted (`None`: OpenSSL's maximum).
    pub max_tls: Option<SslVersion>,
    /// Fault mode.
    pub fault: Fault,
    /// Hash bitmask of the Crypto Binding Request: 1 (SHA1), 2 (SHA256) or 3 (both).
    pub hash_protocols: HashProtocols,
    /// Verify the Compound MAC with this HLAK (`--hlak-zero`: the zero HLAK, for PAP).
    pub verify_mac: Option<Hlak>,
    /// Or verify it with the server HLAK from this MPPE-keys file (`--hlak-keys-file`).
    pub server_keys_file: Option<std::path::PathBuf>,
    /// Certificate whose hash the client's binding is checked against in the
    /// cert-hash-mismatch fault (`None`: a throw-away self-signed one).
    pub binding_cert: Option<X509>,
    /// PPP peer.
    pub ppp: PppBackend,
    /// Timers.
    pub timers: Timers,
    /// Log every step to stderr.
    pub verbose: bool,
    /// Queue towards the client like a router (`--paced`, the bench's WAN runs): the client's
    /// pacing policy (`Pacer`, TCP_NOTSENT_LOWAT) and pppd read eagerly, its frames dropped
    /// when that queue is full. Default: lossless back-pressure with a 256 KiB queue.
    pub paced: bool,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("fault", &self.fault)
            .field("hash_protocols", &self.hash_protocols)
            .field("verify_mac", &self.verify_mac)
            .field("ppp", &self.ppp)
            .field("timers", &self.timers)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Correct behaviour with this certificate and key, both hashes offered, no pppd.
    pub fn new(cert: X509, key: PKey<Private>) -> ServerConfig {
        ServerConfig {
            cert_chain: vec![cert],
            key,
            min_tls: None,
            max_tls: None,
            fault: Fault::None,
            hash_protocols: HashProtocols::BOTH,
            verify_mac: None,
            server_keys_file: None,
            binding_cert: None,
            ppp: PppBackend::None,
            timers: Timers::default(),
            verbose: true,
            paced: false,
        }
    }

    /// From PEM files: the certificate file may hold the chain (leaf first).
    pub fn from_pem_files(cert: &Path, key: &Path) -> io::Result<ServerConfig> {
        let pem = std::fs::read(cert)?;
        let chain = X509::stack_from_pem(&pem)
            .map_err(|e| io::Error::other(format!("{}: {e}", cert.display())))?;
        let Some(leaf) = chain.first().cloned() else {
            return Err(io::Error::other(format!(
                "{}: no certificate in the file",
                cert.display()
            )));
        };
        let k = PKey::private_key_from_pem(&std::fs::read(key)?)
            .map_err(|e| io::Error::other(format!("{}: {e}", key.display())))?;
        let mut c = ServerConfig::new(leaf, k);
        c.cert_chain = chain;
        Ok(c)
    }
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The TLS handshake failed (or timed out).
    Tls(String),
    /// The HTTP request was refused (answered with the error status, or truncated).
    BadRequest(request::RequestError),
    /// An HTTP/TLS-level fault mode ended the connection as designed.
    Fault(Fault),
    /// The SSTP session ran and ended.
    Session(EndReason),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            Outcome::BadRequest(e) => write!(f, "HTTP request refused: {e}"),
            Outcome::Fault(x) => write!(f, "fault {x} done"),
            Outcome::Session(r) => write!(f, "session ended: {r}"),
        }
    }
}

/// What happened on one connection.
#[derive(Clone, Debug)]
pub struct SessionReport {
    /// Connection number (1-based per server).
    pub id: u64,
    /// Client address.
    pub peer: Option<SocketAddr>,
    /// How it ended.
    pub outcome: Outcome,
    /// The HTTP request, if one was read.
    pub request: Option<request::Request>,
    /// The crypto binding check, if CALL_CONNECTED arrived.
    pub binding: Option<BindingCheck>,
    /// SSTP counters.
    pub stats: SessionStats,
    /// Bytes read from / written to the PPP peer.
    pub ppp_bytes: (u64, u64),
    /// The PPP program's exit status, when one was spawned.
    pub ppp_exit: Option<String>,
    /// Every log line of the connection.
    pub log: Vec<String>,
    /// Connection lifetime.
    pub duration: Duration,
}

struct Inner {
    cfg: ServerConfig,
    acceptor: SslAcceptor,
    own_cert_der: Vec<u8>,
    binding_cert_der: Vec<u8>,
    next_id: AtomicU64,
}

/// A configured server (cheap to clone; connections are independent).
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl Server {
    /// Builds the TLS acceptor and the binding certificate.
    pub fn new(cfg: ServerConfig) -> Result<Server, ErrorStack> {
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
        let leaf = cfg
            .cert_chain
            .first()
            .cloned()
            .ok_or_else(ErrorStack::get)?;
        b.set_certificate(&leaf)?;
        for extra in cfg.cert_chain.iter().skip(1) {
            b.add_extra_chain_cert(extra.clone())?;
        }
        b.set_private_key(&cfg.key)?;
        b.check_private_key()?;
        // One read(2) for many TLS records instead of two per record (the pump tracks what
        // OpenSSL holds, see `conn::pump`).
        b.set_read_ahead(true);
        if cfg.min_tls.is_some() {
            b.set_min_proto_version(cfg.min_tls)?;
        }
        if cfg.max_tls.is_some() {
            b.set_max_proto_version(cfg.max_tls)?;
        }
        let acceptor = b.build();
        let own_cert_der = leaf.to_der()?;
        let binding_cert_der = if cfg.fault == Fault::CertHashMismatch {
            match &cfg.binding_cert {
                Some(c) => c.to_der()?,
                None => {
                    certs::self_signed(&certs::CertSpec::server("tls-offloading-proxy"))?.der()?
                }
            }
        } else {
            own_cert_der.clone()
        };
        Ok(Server {
            inner: Arc::new(Inner {
                cfg,
                acceptor,
                own_cert_der,
                binding_cert_der,
                next_id: AtomicU64::new(1),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.cfg
    }

    /// DER of the server's own (leaf) certificate.
    pub fn cert_der(&self) -> &[u8] {
        &self.inner.own_cert_der
    }

    /// Serves one accepted TCP connection on the calling thread until it ends.
    pub fn handle_connection(&self, tcp: TcpStream) -> SessionReport {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        conn::run(&self.inner, id, tcp)
    }

    /// Accepts one connection and serves it (the binary's `--once`).
    pub fn serve_once(&self, listener: &TcpListener) -> io::Result<SessionReport> {
        let (tcp, _) = listener.accept()?;
        Ok(self.handle_connection(tcp))
    }

    /// Accepts connections forever (one thread each); reports go to `reports` if given.
    /// Returns when `stop` is set (checked after each accept).
    pub fn serve(
        &self,
        listener: &TcpListener,
        reports: Option<Sender<SessionReport>>,
        stop: Option<Arc<AtomicBool>>,
    ) -> io::Result<()> {
        let reports = reports.map(Mutex::new).map(Arc::new);
        loop {
            let accepted = listener.accept();
            if stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                return Ok(());
            }
            let tcp = match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                    thread::sleep(Duration::from_millis(100));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let me = self.clone();
            let reports = reports.clone();
            thread::Builder::new()
                .name("sstp-test-conn".into())
                .spawn(move || {
                    let r = me.handle_connection(tcp);
                    if let Some(tx) = reports {
                        if let Ok(tx) = tx.lock() {
                            let _ = tx.send(r);
                        }
                    }
                })?;
        }
    }
}

/// Serves `listener` forever with `config` (one thread per connection).
pub fn serve(listener: TcpListener, config: ServerConfig) -> io::Result<()> {
    let server = Server::new(config).map_err(io::Error::other)?;
    server.serve(&listener, None, None)
}

/// A server running on a background thread (for in-process tests).
pub struct ServerHandle {
    addr: SocketAddr,
    server: Server,
    reports: Receiver<SessionReport>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ServerHandle {
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The next finished connection's report.
    pub fn next_report(&self, timeout: Duration) -> Option<SessionReport> {
        self.reports.recv_timeout(timeout).ok()
    }

    /// Stops accepting (running connections finish on their own).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts serving `listener` on a background thread.
pub fn spawn(listener: TcpListener, config: ServerConfig) -> io::Result<ServerHandle> {
    let server = Server::new(config).map_err(io::Error::other)?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = server.clone();
    let stop2 = Arc::clone(&stop);
    let thread = thread::Builder::new()
        .name("sstp-test-server".into())
        .spawn(move || s2.serve(&listener, Some(tx), Some(stop2)))?;
    Ok(ServerHandle {
        addr,
        server,
        reports: rx,
        stop,
        thread: Some(thread),
    })
}

/// Loads a PEM certificate (first in the file).
pub fn load_cert(path: &Path) -> io::Result<X509> {
    X509::from_pem(&std::fs::read(path)?)
        .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))
}

/// Default directory for generated certificates of the helper binary.
pub fn default_cert_dir() -> PathBuf {
    std::env::temp_dir().join("sstp-test-certs")
}
