//! TLS client with the trust policy: CA store or pin, host name check, Windows-like EKU rule.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use openssl::hash::MessageDigest;
use openssl::ssl::{
    ErrorCode, HandshakeError, MidHandshakeSslStream, SslContext, SslMethod, SslMode, SslOptions,
    SslStream, SslVerifyMode,
};
use openssl::x509::verify::X509CheckFlags;
use openssl::x509::{X509StoreContextRef, X509};

use crate::cancel::{self, Cancel, Interest};
use crate::cert::CertificateInfo;
use crate::config::{TlsVersion, TunnelConfig};
use crate::connect::{phase, wait_err};
use crate::error::{TlsHint, TrustError, TrustFailureKind, TunnelError};

// X509_V_ERR_* values (stable OpenSSL ABI).
const ERR_UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
const ERR_CERT_SIGNATURE_FAILURE: i32 = 7;
const ERR_CERT_NOT_YET_VALID: i32 = 9;
const ERR_CERT_HAS_EXPIRED: i32 = 10;
const ERR_DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
const ERR_SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
const ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
const ERR_INVALID_CA: i32 = 24;
const ERR_INVALID_PURPOSE: i32 = 26;
const ERR_CERT_UNTRUSTED: i32 = 27;
const ERR_CERT_REJECTED: i32 = 28;
const ERR_HOSTNAME_MISMATCH: i32 = 62;
const ERR_IP_ADDRESS_MISMATCH: i32 = 64;

/// What the verify callback saw (shared with the caller; the callback never panics).
#[derive(Default, Debug)]
struct VerifyLog {
    leaf_der: Option<Vec<u8>>,
    /// First failure: (depth, kind, reason).
    failure: Option<(u32, TrustFailureKind, String)>,
}

/// The TLS layer's result.
pub(crate) struct TlsSession {
    pub stream: SslStream<TcpStream>,
    pub leaf_der: Vec<u8>,
    pub cert: CertificateInfo,
    pub version: String,
    pub cipher: String,
}

fn classify(code: i32, expected_name: &str) -> TrustFailureKind {
    match code {
        ERR_CERT_NOT_YET_VALID | ERR_CERT_HAS_EXPIRED => TrustFailureKind::Validity,
        ERR_HOSTNAME_MISMATCH | ERR_IP_ADDRESS_MISMATCH => TrustFailureKind::NameMismatch {
            expected: expected_name.to_owned(),
        },
        ERR_INVALID_PURPOSE => TrustFailureKind::Eku,
        ERR_UNABLE_TO_GET_ISSUER_CERT
        | ERR_CERT_SIGNATURE_FAILURE
        | ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        | ERR_SELF_SIGNED_CERT_IN_CHAIN
        | ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | ERR_INVALID_CA
        | ERR_CERT_UNTRUSTED
        | ERR_CERT_REJECTED => TrustFailureKind::UntrustedChain,
        _ => TrustFailureKind::Other,
    }
}

/// The verify callback: pure function of its inputs plus the shared log. Panic-free: every
/// fallible call is matched, the mutex is never unwrapped.
fn verify(
    preverify_ok: bool,
    ctx: &mut X509StoreContextRef,
    pin: Option<[u8; 32]>,
    check_eku: bool,
    expected_name: &str,
    log: &Mutex<VerifyLog>,
) -> bool {
    let depth = ctx.error_depth();
    let code = ctx.error().as_raw();
    let reason = ctx.error().error_string().to_owned();
    // chain()[0] is always the server's leaf, whatever depth is being reported.
    let leaf = ctx.chain().and_then(|c| c.get(0));
    let leaf_der = leaf.and_then(|l| l.to_der().ok());
    let leaf_sha256 = leaf.and_then(|l| l.digest(MessageDigest::sha256()).ok());
    let leaf_eku_ok = leaf.map(|l| CertificateInfo::from_x509(l).eku.allows_server_auth());
    let mut guard = match log.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if guard.leaf_der.is_none() {
        guard.leaf_der = leaf_der;
    }
    if let Some(pin) = pin {
        // The pin replaces every chain/name check; accept only on an exact match of the leaf.
        let ok = leaf_sha256.as_deref().is_some_and(|d| d == pin);
        if !ok && guard.failure.is_none() {
            guard.failure = Some((
                0,
                TrustFailureKind::PinMismatch {
                    expected: crate::config::CertPin(pin).to_option_value(),
                },
                "the certificate's SHA-256 does not match the pin".to_owned(),
            ));
        }
        return ok;
    }
    if preverify_ok {
        return true;
    }
    if depth == 0 && code == ERR_INVALID_PURPOSE {
        // OpenSSL refuses "Any Purpose"; Windows accepts it. With the EKU check off, accept all.
        if !check_eku || leaf_eku_ok == Some(true) {
            return true;
        }
    }
    if guard.failure.is_none() {
        guard.failure = Some((depth, classify(code, expected_name), reason));
    }
    false
}

fn hint_for(reason: &str) -> TlsHint {
    let r = reason.to_ascii_lowercase();
    if r.contains("wrong version number")
        || r.contains("packet length too long")
        || r.contains("http request")
    {
        TlsHint::NotTls
    } else if r.contains("protocol version")
        || r.contains("unsupported protocol")
        || r.contains("no protocols available")
    {
        TlsHint::ProtocolVersion
    } else if r.contains("cipher")
        || r.contains("too small")
        || r.contains("too weak")
        || r.contains("handshake failure")
    {
        TlsHint::Cipher
    } else if r.contains("unexpected eof") || r.contains("reset") || r.contains("broken pipe") {
        TlsHint::Closed
    } else {
        TlsHint::None
    }
}

fn ssl_error_reason(e: &openssl::ssl::Error) -> String {
    if let Some(stack) = e.ssl_error() {
        if let Some(first) = stack.errors().first() {
            if let Some(r) = first.reason() {
                return r.to_owned();
            }
        }
        return stack.to_string();
    }
    if let Some(io) = e.io_error() {
        return io.to_string();
    }
    if e.code() == ErrorCode::SYSCALL || e.code() == ErrorCode::ZERO_RETURN {
        return "unexpected eof: the server closed the connection".to_owned();
    }
    e.to_string()
}

/// Runs the TLS handshake over `tcp` with the configured trust policy, bounded by `deadline`.
pub(crate) fn handshake(
    cfg: &TunnelConfig,
    tcp: TcpStream,
    peer: SocketAddr,
    deadline: Instant,
    cancel: &Cancel<'_>,
) -> Result<TlsSession, TunnelError> {
    let config_err =
        |what: &str, e: openssl::error::ErrorStack| TunnelError::Config(format!("{what}: {e}"));
    let mut ctx =
        SslContext::builder(SslMethod::tls_client()).map_err(|e| config_err("TLS context", e))?;
    ctx.set_options(SslOptions::NO_COMPRESSION | SslOptions::NO_SSLV2 | SslOptions::NO_SSLV3);
    // The data pump retries writes from a buffer that may grow (move) in between.
    ctx.set_mode(SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER);
    if let Some(max) = cfg.max_tls {
        if max < cfg.min_tls {
            return Err(TunnelError::Config(format!(
                "maximum TLS version {max} is below the minimum {}",
                cfg.min_tls
            )));
        }
    }
    ctx.set_min_proto_version(Some(cfg.min_tls.to_openssl()))
        .map_err(|e| config_err("minimum TLS version", e))?;
    ctx.set_max_proto_version(cfg.max_tls.map(TlsVersion::to_openssl))
        .map_err(|e| config_err("maximum TLS version", e))?;
    if cfg.min_tls < TlsVersion::Tls12 {
        // TLS 1.0/1.1 need SHA-1/MD5 signatures, refused at OpenSSL 3's default level 1+.
        ctx.set_security_level(0);
    }
    if cfg.ca_file.is_some() || cfg.ca_dir.is_some() {
        ctx.load_verify_locations(cfg.ca_file.as_deref(), cfg.ca_dir.as_deref())
            .map_err(|e| {
                TunnelError::Config(format!(
                    "cannot load the trusted CA certificates from {}: {e}",
                    cfg.ca_file
                        .as_ref()
                        .or(cfg.ca_dir.as_ref())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ))
            })?;
    } else {
        ctx.set_default_verify_paths()
            .map_err(|e| config_err("system CA store", e))?;
    }
    let ctx = ctx.build();
    let mut ssl = openssl::ssl::Ssl::new(&ctx).map_err(|e| config_err("TLS session", e))?;

    let name = cfg.tls_name().to_owned();
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        // No SNI for addresses (RFC 6066); check the IP SAN.
        ssl.param_mut()
            .set_ip(ip)
            .map_err(|e| config_err("certificate IP check", e))?;
    } else {
        ssl.set_hostname(&name).map_err(|e| config_err("SNI", e))?;
        let param = ssl.param_mut();
        param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
        param
            .set_host(&name)
            .map_err(|e| config_err("certificate name check", e))?;
    }

    let log = Arc::new(Mutex::new(VerifyLog::default()));
    let cb_log = Arc::clone(&log);
    let pin = cfg.pin.map(|p| p.0);
    let check_eku = cfg.check_eku;
    let cb_name = name.clone();
    ssl.set_verify_callback(SslVerifyMode::PEER, move |ok, ctx| {
        verify(ok, ctx, pin, check_eku, &cb_name, &cb_log)
    });

    tcp.set_nonblocking(true)
        .map_err(|e| TunnelError::io("setting the socket to non-blocking mode", e))?;
    let fail = |mid: &MidHandshakeSslStream<TcpStream>, log: &Mutex<VerifyLog>| -> TunnelError {
        let guard = match log.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some((depth, kind, reason)) = guard.failure.clone() {
            let cert = guard
                .leaf_der
                .as_deref()
                .and_then(CertificateInfo::from_der)
                .or_else(|| {
                    mid.ssl()
                        .peer_certificate()
                        .map(|c| CertificateInfo::from_x509(&c))
                });
            return TunnelError::Trust(Box::new(TrustError {
                kind,
                reason,
                depth,
                cert,
                peer,
            }));
        }
        let reason = ssl_error_reason(mid.error());
        TunnelError::Tls {
            peer,
            hint: hint_for(&reason),
            reason,
        }
    };

    let timeout = || TunnelError::Tls {
        peer,
        reason: format!(
            "no TLS handshake within {:.1} s",
            cfg.tls_timeout.as_secs_f64()
        ),
        hint: TlsHint::Timeout,
    };
    let mut result = ssl.connect(tcp);
    let stream = loop {
        match result {
            Ok(s) => break s,
            Err(HandshakeError::SetupFailure(e)) => return Err(config_err("TLS setup", e)),
            Err(HandshakeError::Failure(mid)) => return Err(fail(&mid, &log)),
            Err(HandshakeError::WouldBlock(mid)) => {
                // One overall deadline: a peer dripping bytes cannot extend it.
                let interest = if mid.error().code() == ErrorCode::WANT_WRITE {
                    Interest::Write
                } else {
                    Interest::Read
                };
                cancel::wait_fd(mid.get_ref().as_fd(), interest, deadline, cancel).map_err(
                    |e| wait_err(e, phase::TLS, "waiting for the TLS handshake", timeout),
                )?;
                result = mid.handshake();
            }
        }
    };

    // Belt and braces: re-check the policy on the final peer certificate.
    let Some(leaf) = stream.ssl().peer_certificate() else {
        return Err(TunnelError::Trust(Box::new(TrustError {
            kind: TrustFailureKind::NoCertificate,
            reason: "no peer certificate".into(),
            depth: 0,
            cert: None,
            peer,
        })));
    };
    let info = CertificateInfo::from_x509(&leaf);
    let trust_err = |kind, reason: &str| {
        TunnelError::Trust(Box::new(TrustError {
            kind,
            reason: reason.to_owned(),
            depth: 0,
            cert: Some(info.clone()),
            peer,
        }))
    };
    if let Some(p) = cfg.pin {
        if !p.matches(&info.sha256) {
            return Err(trust_err(
                TrustFailureKind::PinMismatch {
                    expected: p.to_option_value(),
                },
                "the certificate's SHA-256 does not match the pin",
            ));
        }
    } else if cfg.check_eku && !info.eku.allows_server_auth() {
        return Err(trust_err(
            TrustFailureKind::Eku,
            "unsupported certificate purpose",
        ));
    }
    let leaf_der = leaf_to_der(&leaf)?;
    let version = stream.ssl().version_str().to_owned();
    let cipher = stream
        .ssl()
        .current_cipher()
        .map(|c| c.name().to_owned())
        .unwrap_or_default();
    Ok(TlsSession {
        stream,
        leaf_der,
        cert: info,
        version,
        cipher,
    })
}

fn leaf_to_der(leaf: &X509) -> Result<Vec<u8>, TunnelError> {
    leaf.to_der()
        .map_err(|e| TunnelError::Config(format!("cannot encode the peer certificate: {e}")))
}
