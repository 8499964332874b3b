//! `sstp probe`: TCP → TLS → HTTP → SSTP CALL_CONNECT_REQUEST/ACK without PPP, then a polite
//! CALL_DISCONNECT and TLS close. Collects a [`ProbeReport`] of every phase.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sstp_proto::client::{Client, ClientConfig, CloseReason};
use sstp_proto::crypto_binding::{HashProtocol, HashProtocols};
use sstp_tunnel::cert::family_name;
use sstp_tunnel::{
    connect, negotiate, CertificateInfo, ConnectAttempt, Eku, Established, TunnelConfig,
    TunnelError,
};

use crate::exit::{self, Exit};

/// How the call was taken down after the ACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Teardown {
    /// The server answered CALL_DISCONNECT with CALL_DISCONNECT_ACK.
    pub acknowledged: bool,
    /// Why the client considers the call closed (Display of the close reason).
    pub reason: String,
    /// From CALL_DISCONNECT to the end of the exchange.
    pub duration: Duration,
    /// TLS close_notify was sent.
    pub tls_closed: bool,
}

/// What one address of the server presented (the IPv4/IPv6 listener check, event 24).
#[derive(Clone, Debug)]
pub struct Listener {
    /// The address connected to.
    pub addr: SocketAddr,
    /// Its certificate, when the TLS handshake got that far.
    pub cert: Option<CertificateInfo>,
    /// Why the connection failed (also set when the certificate was not trusted).
    pub error: Option<String>,
}

impl Listener {
    fn reached(addr: SocketAddr, cert: &CertificateInfo) -> Self {
        Listener {
            addr,
            cert: Some(cert.clone()),
            error: None,
        }
    }

    fn failed(addr: SocketAddr, e: &TunnelError) -> Self {
        Listener {
            addr,
            cert: e.certificate().cloned(),
            error: Some(e.to_string()),
        }
    }

    /// `IPv4 192.0.2.2:443`.
    pub fn label(&self) -> String {
        format!("{} {}", family_name(self.addr.ip()), self.addr)
    }
}

/// Whether the addresses that presented a certificate presented different ones (SHA-256).
pub fn listeners_differ(l: &[Listener]) -> bool {
    let mut hashes = l.iter().filter_map(|l| l.cert.as_ref().map(|c| c.sha256));
    match hashes.next() {
        Some(first) => hashes.any(|h| h != first),
        None => false,
    }
}

/// Everything `sstp probe` learned about a server.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    /// Server host as given.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Addresses the server name resolved to (empty when a proxy resolves it).
    pub resolved: Vec<SocketAddr>,
    /// Name resolution time (of the proxy's name when a proxy is used).
    pub resolve_time: Duration,
    /// Addresses that failed before one worked.
    pub failed_attempts: Vec<ConnectAttempt>,
    /// The TCP peer: the server's address used, or the proxy's.
    pub peer_addr: SocketAddr,
    /// A proxy carried the connection.
    pub via_proxy: bool,
    /// TCP connect time (all attempts).
    pub tcp_time: Duration,
    /// Proxy CONNECT exchange time.
    pub proxy_time: Option<Duration>,
    /// TLS handshake time.
    pub tls_time: Duration,
    /// SSTP_DUPLEX_POST until the response head.
    pub http_time: Duration,
    /// CALL_CONNECT_REQUEST until CALL_CONNECT_ACK.
    pub sstp_time: Duration,
    /// Negotiated TLS version.
    pub tls_version: String,
    /// Negotiated cipher suite.
    pub cipher: String,
    /// The server's leaf certificate.
    pub cert: CertificateInfo,
    /// HTTP status line.
    pub http_status_line: String,
    /// HTTP response headers, in order.
    pub http_headers: Vec<(String, String)>,
    /// Oddities in the HTTP response that did not prevent the connection.
    pub http_warnings: Vec<String>,
    /// Correlation id sent in the request.
    pub correlation_id: String,
    /// Crypto binding hash protocols offered in CALL_CONNECT_ACK.
    pub offered: HashProtocols,
    /// The one a full connection would use.
    pub chosen: Option<HashProtocol>,
    /// How the call was taken down.
    pub teardown: Teardown,
    /// Every resolved address and the certificate it presented (empty through a proxy).
    pub listeners: Vec<Listener>,
}

/// Receives progress lines (the command prints them on stderr).
pub type Progress<'a> = &'a mut dyn FnMut(&str);

/// A failed probe: the error and what was learned before it.
#[derive(Debug)]
pub struct ProbeFailure {
    /// The failure.
    pub error: TunnelError,
    /// Addresses resolved before the failure.
    pub resolved: Vec<SocketAddr>,
}

impl From<TunnelError> for Box<ProbeFailure> {
    fn from(error: TunnelError) -> Self {
        Box::new(ProbeFailure {
            error,
            resolved: Vec::new(),
        })
    }
}

/// Prints "still waiting" lines through `progress` every `every` until dropped.
struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(what: String, every: Duration, quiet: bool) -> Ticker {
        if quiet {
            return Ticker {
                stop: None,
                handle: None,
            };
        }
        let (tx, rx) = mpsc::channel::<()>();
        let t0 = Instant::now();
        let handle = thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                let mut e = io::stderr().lock();
                let _ = writeln!(
                    e,
                    "  ... still {what} ({:.0} s)",
                    t0.elapsed().as_secs_f64()
                );
                let _ = e.flush();
            }
        });
        Ticker {
            stop: Some(tx),
            handle: Some(handle),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Runs the probe. `client_cfg` bounds the SSTP negotiation and the teardown; `quiet`
/// suppresses the "still waiting" ticker (progress lines still go to `progress`).
pub fn run(
    cfg: &TunnelConfig,
    client_cfg: &ClientConfig,
    quiet: bool,
    progress: Progress<'_>,
) -> Result<ProbeReport, Box<ProbeFailure>> {
    const TICK: Duration = Duration::from_secs(5);
    let host = cfg.server.clone();
    let mut resolved = Vec::new();
    let mut failed_attempts = Vec::new();
    let mut failed_time = Duration::ZERO;
    let mut untrusted: Vec<(SocketAddr, TunnelError)> = Vec::new();
    let resolve_time;

    let mut est: Established = match &cfg.proxy {
        None => {
            progress(&format!("resolving {host} ..."));
            let t0 = Instant::now();
            let addrs = sstp_tunnel::connect::resolve(&host, cfg.port, cfg.ip_family, false)?;
            resolve_time = t0.elapsed();
            let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            progress(&format!(
                "  {host} is {} ({})",
                list.join(", "),
                ms(resolve_time)
            ));
            resolved = addrs.clone();
            let mut found = None;
            for addr in &addrs {
                progress(&format!(
                    "connecting to {addr} (TCP, TLS, SSTP HTTP request) ..."
                ));
                let _tick = Ticker::start(format!("connecting to {addr}"), TICK, quiet);
                let t = Instant::now();
                match connect(&one_address(cfg, *addr)) {
                    Ok(e) => {
                        found = Some(e);
                        break;
                    }
                    Err(TunnelError::Connect { attempts, .. }) => {
                        failed_time += t.elapsed();
                        for a in &attempts {
                            progress(&format!("  {}: {}", a.addr, a.failure));
                        }
                        failed_attempts.extend(attempts);
                    }
                    // Another address may present another certificate (event 24).
                    Err(error @ TunnelError::Trust(_)) => {
                        failed_time += t.elapsed();
                        progress(&format!("  {addr}: its certificate is not trusted"));
                        untrusted.push((*addr, error));
                    }
                    Err(error) => return Err(Box::new(ProbeFailure { error, resolved })),
                }
            }
            match found {
                Some(e) => e,
                None if !untrusted.is_empty() => {
                    let error = untrusted.swap_remove(0).1;
                    return Err(Box::new(ProbeFailure { error, resolved }));
                }
                None => {
                    return Err(Box::new(ProbeFailure {
                        error: TunnelError::Connect {
                            host: host.clone(),
                            port: cfg.port,
                            attempts: failed_attempts,
                            proxy: false,
                        },
                        resolved,
                    }))
                }
            }
        }
        Some(p) => {
            progress(&format!(
                "connecting to {host} port {} through the HTTP proxy {}:{} ...",
                cfg.port, p.host, p.port
            ));
            let _tick = Ticker::start("connecting through the proxy".into(), TICK, quiet);
            let e = connect(cfg)?;
            resolve_time = e.timings.resolve;
            e
        }
    };
    failed_attempts.extend(est.failed_attempts.iter().cloned());
    progress(&format!(
        "  connected to {}: {} {}, HTTP {}",
        est.peer_addr, est.tls_version, est.cipher, est.http.response.status
    ));

    progress("sending CALL_CONNECT_REQUEST ...");
    let t_sstp = Instant::now();
    let client = {
        let _tick = Ticker::start("waiting for CALL_CONNECT_ACK".into(), TICK, quiet);
        negotiate(&mut est, client_cfg)
    };
    let mut client = match client {
        Ok(c) => c,
        Err(error) => {
            let _ = est.stream.shutdown();
            return Err(Box::new(ProbeFailure { error, resolved }));
        }
    };
    let sstp_time = t_sstp.elapsed();
    progress(&format!(
        "  CALL_CONNECT_ACK ({}): hash protocols {}",
        ms(sstp_time),
        client.offered_hash_protocols()
    ));

    progress("sending CALL_DISCONNECT ...");
    let teardown = disconnect(&mut est, &mut client, client_cfg);
    progress(&format!(
        "  {} ({})",
        if teardown.acknowledged {
            "CALL_DISCONNECT_ACK received"
        } else {
            "no CALL_DISCONNECT_ACK"
        },
        ms(teardown.duration)
    ));

    let listeners = if est.via_proxy {
        Vec::new()
    } else {
        let known = Known {
            est: &est,
            failed: &failed_attempts,
            untrusted: &untrusted,
        };
        check_listeners(cfg, &resolved, &known, quiet, progress)
    };
    let resp = &est.http.response;
    Ok(ProbeReport {
        host,
        port: cfg.port,
        resolved,
        resolve_time,
        failed_attempts,
        peer_addr: est.peer_addr,
        via_proxy: est.via_proxy,
        tcp_time: failed_time + est.timings.tcp,
        proxy_time: est.timings.proxy,
        tls_time: est.timings.tls,
        http_time: est.timings.http,
        sstp_time,
        tls_version: est.tls_version.clone(),
        cipher: est.cipher.clone(),
        cert: est.cert.clone(),
        http_status_line: sanitize(&resp.status_line()),
        http_headers: resp.headers.clone(),
        http_warnings: est.http.warnings.iter().map(|w| w.to_string()).collect(),
        correlation_id: est.correlation_id.to_string(),
        offered: client.offered_hash_protocols(),
        chosen: client.hash_protocol(),
        teardown,
        listeners,
    })
}

/// `cfg` for one resolved address of the server (its name stays the SNI and the name checked).
fn one_address(cfg: &TunnelConfig, addr: SocketAddr) -> TunnelConfig {
    let mut one = cfg.clone();
    one.server = addr.ip().to_string();
    if one.sni.is_none() && cfg.server.parse::<IpAddr>().is_err() {
        one.sni = Some(cfg.server.clone());
    }
    one
}

/// What the connect loop already learned about the addresses.
struct Known<'a> {
    /// The connection the probe ran on.
    est: &'a Established,
    /// Addresses whose TCP connect failed.
    failed: &'a [ConnectAttempt],
    /// Addresses whose certificate was not trusted.
    untrusted: &'a [(SocketAddr, TunnelError)],
}

/// The listener check (event 24): the certificate every resolved address presents. The address
/// probed in full is already known, and so are the ones that failed before it; every other one
/// gets a TLS connection and the SSTP HTTP request, and is then dropped.
fn check_listeners(
    cfg: &TunnelConfig,
    resolved: &[SocketAddr],
    known: &Known<'_>,
    quiet: bool,
    progress: Progress<'_>,
) -> Vec<Listener> {
    let mut out = Vec::with_capacity(resolved.len());
    for addr in resolved {
        if *addr == known.est.peer_addr {
            out.push(Listener::reached(*addr, &known.est.cert));
        } else if let Some((_, e)) = known.untrusted.iter().find(|(a, _)| a == addr) {
            out.push(Listener::failed(*addr, e));
        } else if let Some(a) = known.failed.iter().find(|a| a.addr == *addr) {
            out.push(Listener {
                addr: *addr,
                cert: None,
                error: Some(a.failure.to_string()),
            });
        } else {
            progress(&format!(
                "connecting to {addr} to compare its certificate ..."
            ));
            let _tick = Ticker::start(
                format!("connecting to {addr}"),
                Duration::from_secs(5),
                quiet,
            );
            let l = match connect(&one_address(cfg, *addr)) {
                Ok(mut e) => {
                    let _ = e.stream.shutdown();
                    Listener::reached(*addr, &e.cert)
                }
                Err(TunnelError::Connect { attempts, .. }) if !attempts.is_empty() => Listener {
                    addr: *addr,
                    cert: None,
                    error: Some(attempts[0].failure.to_string()),
                },
                Err(e) => Listener::failed(*addr, &e),
            };
            match (&l.cert, &l.error) {
                (Some(c), _) => progress(&format!("  {addr}: SHA-256 {}", c.sha256_admin())),
                (None, Some(e)) => progress(&format!("  {addr}: {e}")),
                (None, None) => {}
            }
            out.push(l);
        }
    }
    out
}

/// CALL_DISCONNECT, wait (bounded by the client's disconnect timer) for the ACK, close TLS.
fn disconnect(est: &mut Established, client: &mut Client, cfg: &ClientConfig) -> Teardown {
    let t0 = Instant::now();
    client.disconnect(t0);
    let hard_deadline = t0 + cfg.disconnect_timeout + Duration::from_secs(1);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut broken = None;
    while !client.is_closed() {
        out.clear();
        client.poll_transmit(&mut out);
        if !out.is_empty() {
            let _ = est
                .stream
                .get_ref()
                .set_write_timeout(Some(Duration::from_secs(2)));
            if let Err(e) = est.stream.write_all(&out) {
                broken = Some(format!("sending CALL_DISCONNECT failed: {e}"));
                break;
            }
        }
        while client.poll_event().is_some() {}
        let now = Instant::now();
        if now >= hard_deadline {
            break;
        }
        if let Some(d) = client.poll_timeout() {
            if d <= now {
                client.handle_timeout(now);
                continue;
            }
        }
        let until = client
            .poll_timeout()
            .unwrap_or(hard_deadline)
            .min(hard_deadline);
        let wait = until
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        let _ = est.stream.get_ref().set_read_timeout(Some(wait));
        match est.stream.read(&mut buf) {
            Ok(0) => {
                broken = Some("the server closed the connection".into());
                break;
            }
            Ok(n) => client.handle_input(Instant::now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                broken = Some(format!("reading failed: {e}"));
                break;
            }
        }
    }
    // Anything the client still wants to say (e.g. the final ACK of a crossing disconnect).
    out.clear();
    client.poll_transmit(&mut out);
    if !out.is_empty() {
        let _ = est.stream.write_all(&out);
    }
    let acknowledged = matches!(
        client.close_reason(),
        Some(CloseReason::LocalDisconnect { acknowledged: true })
    );
    let reason = match (client.close_reason(), broken) {
        (Some(r), _) => r.to_string(),
        (None, Some(b)) => b,
        (None, None) => "no answer before the deadline".into(),
    };
    let _ = est
        .stream
        .get_ref()
        .set_write_timeout(Some(Duration::from_secs(1)));
    let tls_closed = est.stream.shutdown().is_ok();
    Teardown {
        acknowledged,
        reason,
        duration: t0.elapsed(),
        tls_closed,
    }
}

/// `12.3 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn eku_list(e: &Eku) -> Vec<String> {
    match e {
        Eku::Absent => Vec::new(),
        Eku::Listed(l) => l.clone(),
    }
}

/// JSON of a certificate.
pub fn cert_json(c: &CertificateInfo) -> Value {
    json!({
        "subject": c.subject,
        "issuer": c.issuer,
        "self_signed": c.self_signed,
        "serial": c.serial,
        "not_before": c.not_before,
        "not_after": c.not_after,
        "dns_names": c.dns_names,
        "ip_addresses": c.ip_addresses.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "eku": eku_list(&c.eku),
        "eku_extension_present": !matches!(c.eku, Eku::Absent),
        "sha256": c.sha256_hex(),
        "sha1": c.sha1_hex(),
        "pin": c.pin().to_option_value(),
        "pin_option_line": c.pin_option_line(),
    })
}

fn protocols_list(p: HashProtocols) -> Vec<&'static str> {
    let mut v = Vec::new();
    if p.contains(HashProtocol::Sha1) {
        v.push("SHA1");
    }
    if p.contains(HashProtocol::Sha256) {
        v.push("SHA256");
    }
    v
}

impl ProbeReport {
    /// The machine-readable report (`--json`).
    pub fn to_json(&self) -> Value {
        let t = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let differ = self.listeners_differ();
        json!({
            "ok": !differ,
            "exit_code": if differ { Exit::ListenerMismatch.code() } else { Exit::Ok.code() },
            "server": { "host": self.host, "port": self.port },
            "resolved": self.resolved.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>(),
            "failed_attempts": self.failed_attempts.iter().map(|a| json!({
                "address": a.addr.to_string(), "error": a.failure.to_string() })).collect::<Vec<_>>(),
            "peer_address": self.peer_addr.to_string(),
            "via_proxy": self.via_proxy,
            "timings_ms": {
                "resolve": t(self.resolve_time),
                "tcp": t(self.tcp_time),
                "proxy": self.proxy_time.map(t),
                "tls": t(self.tls_time),
                "http": t(self.http_time),
                "sstp": t(self.sstp_time),
            },
            "tls": { "version": self.tls_version, "cipher": self.cipher },
            "certificate": cert_json(&self.cert),
            "certificate_seen_from": {
                "address": self.peer_addr.to_string(),
                "family": family_name(self.peer_addr.ip()),
                "via_proxy": self.via_proxy,
                "sha256_admin": self.cert.sha256_admin(),
                "sha1_admin": self.cert.sha1_admin(),
            },
            "listeners": self.listeners.iter().map(|l| json!({
                "address": l.addr.to_string(),
                "family": family_name(l.addr.ip()),
                "subject": l.cert.as_ref().map(|c| c.subject.clone()),
                "sha256": l.cert.as_ref().map(|c| c.sha256_admin()),
                "sha1": l.cert.as_ref().map(|c| c.sha1_admin()),
                "error": l.error,
            })).collect::<Vec<_>>(),
            "listener_certificates_differ": differ,
            "http": {
                "status_line": self.http_status_line,
                "headers": self.http_headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                "warnings": self.http_warnings,
            },
            "sstp": {
                "correlation_id": self.correlation_id,
                "hash_protocols_offered": protocols_list(self.offered),
                "hash_protocols_bitmask": self.offered.bits(),
                "hash_protocol_chosen": self.chosen.map(|c| c.to_string()),
            },
            "teardown": {
                "message": "CALL_DISCONNECT",
                "acknowledged": self.teardown.acknowledged,
                "reason": self.teardown.reason,
                "ms": t(self.teardown.duration),
                "tls_close_notify_sent": self.teardown.tls_closed,
            },
        })
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "SSTP server {} port {}: {}",
            self.host,
            self.port,
            if self.listeners_differ() {
                "speaks SSTP, but its addresses present DIFFERENT certificates"
            } else {
                "OK"
            }
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "phases");
        if self.via_proxy {
            let _ = writeln!(s, "  resolve  {:>10}  (proxy name)", ms(self.resolve_time));
        } else {
            let list: Vec<String> = self.resolved.iter().map(|a| a.ip().to_string()).collect();
            let _ = writeln!(
                s,
                "  resolve  {:>10}  {}",
                ms(self.resolve_time),
                list.join(", ")
            );
        }
        let _ = writeln!(
            s,
            "  tcp      {:>10}  connected to {}{}",
            ms(self.tcp_time),
            self.peer_addr,
            if self.via_proxy { " (proxy)" } else { "" }
        );
        for a in &self.failed_attempts {
            let _ = writeln!(s, "                       {} failed: {}", a.addr, a.failure);
        }
        if let Some(p) = self.proxy_time {
            let _ = writeln!(s, "  proxy    {:>10}  CONNECT accepted", ms(p));
        }
        let _ = writeln!(
            s,
            "  tls      {:>10}  {} {}",
            ms(self.tls_time),
            self.tls_version,
            self.cipher
        );
        let _ = writeln!(
            s,
            "  http     {:>10}  {}",
            ms(self.http_time),
            self.http_status_line
        );
        let _ = writeln!(s, "  sstp     {:>10}  CALL_CONNECT_ACK", ms(self.sstp_time));
        let _ = writeln!(s);
        let _ = writeln!(s, "certificate");
        let _ = writeln!(s, "{}", self.cert);
        let _ = writeln!(s, "  serial:   {}", self.cert.serial);
        let _ = writeln!(s, "  pin:      {}", self.cert.pin().to_option_value());
        let _ = writeln!(s, "  pppd option line:  {}", self.cert.pin_option_line());
        let _ = writeln!(
            s,
            "  sstp option:       --pin {}",
            self.cert.pin().to_option_value()
        );
        let _ = writeln!(
            s,
            "  for the server's administrator (uppercase hex, as Windows shows it):"
        );
        let admin = self.cert.admin_lines(self.peer_addr, self.via_proxy);
        let _ = writeln!(s, "    {}", admin.replace('\n', "\n    "));
        if !self.listeners.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "addresses (IPv4/IPv6 listener check)");
            s.push_str(&self.listeners_text());
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "TLS");
        let _ = writeln!(s, "  version:  {}", self.tls_version);
        let _ = writeln!(s, "  cipher:   {}", self.cipher);
        let _ = writeln!(s);
        let _ = writeln!(s, "HTTP response");
        let _ = writeln!(s, "  {}", self.http_status_line);
        for (k, v) in &self.http_headers {
            let _ = writeln!(s, "  {}: {}", sanitize(k), sanitize(v));
        }
        for w in &self.http_warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "SSTP");
        let _ = writeln!(s, "  correlation id:          {}", self.correlation_id);
        let _ = writeln!(
            s,
            "  crypto binding offered:  {} (bitmask {:#04x})",
            self.offered,
            self.offered.bits()
        );
        let _ = writeln!(
            s,
            "  would use:               {}",
            self.chosen
                .map(|c| c.to_string())
                .unwrap_or_else(|| "(none)".into())
        );
        let _ = writeln!(
            s,
            "  teardown:                CALL_DISCONNECT, {} ({}); TLS {}",
            if self.teardown.acknowledged {
                "acknowledged"
            } else {
                "not acknowledged"
            },
            ms(self.teardown.duration),
            if self.teardown.tls_closed {
                "closed (close_notify sent)"
            } else {
                "dropped"
            }
        );
        s
    }
}

impl ProbeReport {
    /// Whether the server's addresses presented different certificates.
    pub fn listeners_differ(&self) -> bool {
        listeners_differ(&self.listeners)
    }

    /// The exit code of a probe that reached the server.
    pub fn exit(&self) -> Exit {
        if self.listeners_differ() {
            Exit::ListenerMismatch
        } else {
            Exit::Ok
        }
    }

    /// The listener check's text ([`listeners_text`]).
    pub fn listeners_text(&self) -> String {
        listeners_text(&self.listeners)
    }
}

/// One block per address: its certificate (subject, SHA-256) or why it was not reached, then
/// the verdict.
pub fn listeners_text(listeners: &[Listener]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for l in listeners {
        match (&l.cert, &l.error) {
            (Some(c), e) => {
                let _ = writeln!(s, "  {}: {}", l.label(), c.subject);
                let _ = writeln!(s, "    SHA-256: {}", c.sha256_admin());
                if let Some(e) = e {
                    // The verdict only: the certificate is shown above, OpenSSL's words in
                    // the trust failure of a probe of that address.
                    let first = e.lines().next().unwrap_or("");
                    let first = first.split(" (OpenSSL:").next().unwrap_or(first);
                    let _ = writeln!(s, "    (not usable: {})", sanitize(first));
                }
            }
            (None, e) => {
                let why = e.as_deref().unwrap_or("no answer");
                let _ = writeln!(
                    s,
                    "  {}: not reached ({}): not compared",
                    l.label(),
                    sanitize(why.lines().next().unwrap_or(""))
                );
            }
        }
    }
    let compared = listeners.iter().filter(|l| l.cert.is_some()).count();
    let verdict = if listeners_differ(listeners) {
        "the addresses present DIFFERENT certificates: the server binds one certificate to \
         its IPv4 listener and another to its IPv6 listener (or its addresses are different \
         servers); clients on one address family fail the trust check or the crypto \
         binding. The administrator must bind the same certificate to 0.0.0.0:443 and \
         [::]:443 (Windows: netsh http show sslcert; RRAS: the SSTP certificate)"
    } else if listeners.len() < 2 {
        "the name has one address: nothing to compare"
    } else if compared < 2 {
        "only one address presented a certificate: nothing to compare"
    } else {
        "every address presents the same certificate"
    };
    let _ = writeln!(s, "  {verdict}");
    s
}

/// Text from the network, made safe for a terminal (the project's one sanitiser).
fn sanitize(s: &str) -> String {
    sstp_proto::http::sanitize(s)
}

/// Machine-readable failure (`--json`).
pub fn failure_json(f: &ProbeFailure) -> Value {
    let cat = f.error.category();
    let code = exit::for_category(cat);
    json!({
        "ok": false,
        "exit_code": code.code(),
        "category": exit::category_name(cat),
        "error": f.error.to_string(),
        "resolved": f.resolved.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>(),
        "certificate": f.error.certificate().map(cert_json),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_helpers() {
        assert_eq!(ms(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(sanitize("a\r\nb"), "a\\r\\nb");
        assert_eq!(protocols_list(HashProtocols::BOTH), ["SHA1", "SHA256"]);
        assert_eq!(protocols_list(HashProtocols::SHA256), ["SHA256"]);
        assert!(protocols_list(HashProtocols::NONE).is_empty());
    }

    #[test]
    fn listener_check_reports_each_address_and_the_verdict() {
        let cert = |b: u8, subject: &str| {
            let mut c = CertificateInfo {
                subject: String::new(),
                issuer: String::new(),
                not_before: String::new(),
                not_after: String::new(),
                serial: String::new(),
                dns_names: vec![],
                ip_addresses: vec![],
                eku: Eku::Absent,
                sha256: [0; 32],
                sha1: [0; 20],
                self_signed: false,
            };
            c.subject = subject.into();
            c.sha256 = [b; 32];
            c
        };
        let v4: SocketAddr = "192.0.2.2:443".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::2]:443".parse().unwrap();
        let a = Listener::reached(v4, &cert(0xaa, "CN=vpn"));
        let b = Listener::reached(v6, &cert(0xbb, "CN=vpn, O=old"));
        let same = Listener::reached(v6, &cert(0xaa, "CN=vpn"));
        let refused = Listener {
            addr: v6,
            cert: None,
            error: Some("connection refused".into()),
        };
        assert!(listeners_differ(&[a.clone(), b.clone()]));
        assert!(!listeners_differ(&[a.clone(), same.clone()]));
        assert!(!listeners_differ(&[a.clone(), refused.clone()]));
        assert!(!listeners_differ(&[]));
        let t = listeners_text(&[a.clone(), b]);
        assert!(
            t.contains(&format!(
                "  IPv4 192.0.2.2:443: CN=vpn\n    SHA-256: {}\n",
                "AA".repeat(32)
            )),
            "{t}"
        );
        assert!(
            t.contains(&format!(
                "  IPv6 [2001:db8::2]:443: CN=vpn, O=old\n    SHA-256: {}\n",
                "BB".repeat(32)
            )),
            "{t}"
        );
        assert!(
            t.contains("the addresses present DIFFERENT certificates"),
            "{t}"
        );
        let t = listeners_text(&[a.clone(), same]);
        assert!(
            t.ends_with("  every address presents the same certificate\n"),
            "{t}"
        );
        let t = listeners_text(&[a, refused]);
        assert!(
            t.contains(
                "  IPv6 [2001:db8::2]:443: not reached (connection refused): not compared\n"
            ),
            "{t}"
        );
        assert!(!t.contains("DIFFERENT"), "{t}");
    }

    #[test]
    fn failure_json_names_category_and_code() {
        let f: Box<ProbeFailure> = Box::from(TunnelError::Resolve {
            host: "x.invalid".into(),
            detail: "no such host".into(),
            proxy: false,
        });
        let j = failure_json(&f);
        assert_eq!(j["ok"], false);
        assert_eq!(j["exit_code"], 3);
        assert_eq!(j["category"], "resolve");
        assert!(j["error"].as_str().unwrap().contains("x.invalid"));
        assert!(j["certificate"].is_null());
    }
}
