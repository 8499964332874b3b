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
use openssl::x509::{X509ExtendedKeyUsage, X509KeyUsage, X509Ref, X509StoreContextRef, X509};

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

/// OpenSSL security level for certificate chains (also when `sstp-tls-min` < 1.2).
const CHAIN_AUTH_LEVEL: i32 = 1;

/// What the verify callback saw (shared with the caller; the callback never panics).
#[derive(Default, Debug)]
struct VerifyLog {
    leaf_der: Option<Vec<u8>>,
    /// First failure: (depth, kind, reason).
    failure: Option<(u32, TrustFailureKind, String)>,
    /// First failure accepted under `accept_untrusted`.
    accepted: Option<(u32, TrustFailureKind, String)>,
}

/// The TLS layer's result.
pub(crate) struct TlsSession {
    pub stream: SslStream<TcpStream>,
    pub leaf_der: Vec<u8>,
    pub cert: CertificateInfo,
    pub version: String,
    pub cipher: String,
    /// The trust failure accepted under `accept_untrusted`.
    pub accepted: Option<Box<TrustError>>,
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

/// The verify callback, guarded: a panic inside refuses the certificate instead of unwinding
/// into OpenSSL (rust-openssl's trampoline has no `catch_unwind`).
fn verify_guarded(
    preverify_ok: bool,
    ctx: &mut X509StoreContextRef,
    policy: &VerifyPolicy,
    log: &Mutex<VerifyLog>,
) -> bool {
    let run = std::panic::AssertUnwindSafe(|| verify(preverify_ok, ctx, policy, log));
    match std::panic::catch_unwind(run) {
        Ok(ok) => ok,
        Err(_) => {
            let mut guard = log.lock().unwrap_or_else(|p| p.into_inner());
            if guard.failure.is_none() {
                guard.failure = Some((
                    0,
                    TrustFailureKind::Other,
                    "internal error while checking the certificate".to_owned(),
                ));
            }
            false
        }
    }
}

/// What the verify callback enforces beyond OpenSSL's own checks.
struct VerifyPolicy {
    pin: Option<[u8; 32]>,
    check_eku: bool,
    expected_name: String,
    accept_untrusted: bool,
}

/// The verify callback: pure function of its inputs plus the shared log. Every fallible call
/// is matched and the mutex is never unwrapped; [`verify_guarded`] catches a panic anyway.
fn verify(
    preverify_ok: bool,
    ctx: &mut X509StoreContextRef,
    policy: &VerifyPolicy,
    log: &Mutex<VerifyLog>,
) -> bool {
    let depth = ctx.error_depth();
    let code = ctx.error().as_raw();
    let reason = ctx.error().error_string().to_owned();
    // chain()[0] is always the server's leaf, whatever depth is being reported.
    let leaf = ctx.chain().and_then(|c| c.get(0));
    let leaf_der = leaf.and_then(|l| l.to_der().ok());
    let leaf_sha256 = leaf.and_then(|l| l.digest(MessageDigest::sha256()).ok());
    let mut guard = match log.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if guard.leaf_der.is_none() {
        guard.leaf_der = leaf_der;
    }
    if let Some(pin) = policy.pin {
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
    let mut kind = classify(code, &policy.expected_name);
    let mut reason = reason;
    if depth == 0 && code == ERR_INVALID_PURPOSE {
        match leaf.map(|l| purpose_verdict(l, policy.check_eku)) {
            Some(Purpose::Accept) => return true,
            Some(Purpose::KeyUsage) => {
                kind = TrustFailureKind::Other;
                reason = "unsupported certificate purpose: its KeyUsage or nsCertType does not \
                          allow a TLS server key (digitalSignature, keyEncipherment or keyAgreement)"
                    .to_owned();
            }
            Some(Purpose::Eku) | None => {}
        }
    }
    if policy.accept_untrusted {
        if guard.accepted.is_none() {
            guard.accepted = Some((depth, kind, reason));
        }
        return true;
    }
    if guard.failure.is_none() {
        guard.failure = Some((depth, kind, reason));
    }
    false
}

/// OID 2.16.840.1.113730.1.1 (Netscape cert type), DER-encoded.
const NS_CERT_TYPE_OID: [u8; 11] = [
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x42, 0x01, 0x01,
];

/// The verdict on a depth-0 `INVALID_PURPOSE`.
#[derive(Debug, PartialEq, Eq)]
enum Purpose {
    /// Only the EKU failed, and the EKU is acceptable (or its check is off).
    Accept,
    /// The EKU is not acceptable.
    Eku,
    /// KeyUsage or nsCertType failed: OpenSSL's refusal stands.
    KeyUsage,
}

/// Decides a depth-0 `INVALID_PURPOSE`. OpenSSL's `ssl_server` purpose fails on the EKU
/// (anything but Server Authentication/SGC, so also "Any Purpose", which Windows accepts), on
/// KeyUsage (none of digitalSignature, keyEncipherment, keyAgreement) or on nsCertType.
/// Only the EKU case is overridden; a KeyUsage or nsCertType failure is refused even with the
/// EKU check off (`check_eku == false`).
fn purpose_verdict(leaf: &X509Ref, check_eku: bool) -> Purpose {
    let tls_ku = X509KeyUsage::DIGITAL_SIGNATURE
        | X509KeyUsage::KEY_ENCIPHERMENT
        | X509KeyUsage::KEY_AGREEMENT;
    let ku_ok = leaf.key_usage().is_none_or(|ku| ku.intersects(tls_ku));
    let openssl_eku_ok = leaf
        .extended_key_usage()
        .is_none_or(|x| x.intersects(X509ExtendedKeyUsage::SSL_SERVER | X509ExtendedKeyUsage::SGC));
    // nsCertType is not exposed by the openssl crate: when the extension is present at all,
    // the failure may be its doing, and OpenSSL's verdict stands.
    let has_ns_cert_type = leaf
        .to_der()
        .map(|der| {
            der.windows(NS_CERT_TYPE_OID.len())
                .any(|w| w == NS_CERT_TYPE_OID)
        })
        .unwrap_or(true);
    if !ku_ok || openssl_eku_ok || has_ns_cert_type {
        return Purpose::KeyUsage;
    }
    let eku_ok = CertificateInfo::from_x509(leaf).eku.allows_server_auth();
    if !check_eku || eku_ok {
        Purpose::Accept
    } else {
        Purpose::Eku
    }
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
    ctx.set_options(
        SslOptions::NO_COMPRESSION
            | SslOptions::NO_SSLV2
            | SslOptions::NO_SSLV3
            | SslOptions::NO_RENEGOTIATION,
    );
    // The data pump retries writes from a buffer that may grow (move) in between.
    ctx.set_mode(SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER);
    // Read-ahead: one read(2) fills OpenSSL's buffer with as many records as have arrived,
    // instead of two reads (header, body) per record. Buffered records are not in SSL_pending:
    // every reader here reads until WANT_READ before waiting on the socket (the bridge's pump
    // polls with a zero timeout when a read batch stopped early).
    ctx.set_read_ahead(true);
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
        // The TLS 1.0/1.1 handshake signs with MD5/SHA-1, refused at OpenSSL 3's level 1+.
        // The level also governs the chain checks; those keep level 1 through the verify
        // parameter's auth level below.
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

    // Chains need at least 80-bit security (RSA/DSA >= 1024 bits, no MD5/SHA-1 signatures)
    // whatever the protocol version allows.
    ssl.param_mut().set_auth_level(CHAIN_AUTH_LEVEL);
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
    let policy = VerifyPolicy {
        pin: cfg.pin.map(|p| p.0),
        check_eku: cfg.check_eku,
        expected_name: name.clone(),
        accept_untrusted: cfg.accept_untrusted,
    };
    ssl.set_verify_callback(SslVerifyMode::PEER, move |ok, ctx| {
        verify_guarded(ok, ctx, &policy, &cb_log)
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
    let trust = |kind, reason: &str| {
        Box::new(TrustError {
            kind,
            reason: reason.to_owned(),
            depth: 0,
            cert: Some(info.clone()),
            peer,
        })
    };
    if let Some(p) = cfg.pin {
        if !p.matches(&info.sha256) {
            return Err(TunnelError::Trust(trust(
                TrustFailureKind::PinMismatch {
                    expected: p.to_option_value(),
                },
                "the certificate's SHA-256 does not match the pin",
            )));
        }
    }
    let mut accepted = accepted_failure(cfg, &log, &info, peer);
    if cfg.pin.is_none() && cfg.check_eku && !info.eku.allows_server_auth() {
        let eku = trust(TrustFailureKind::Eku, "unsupported certificate purpose");
        if !cfg.accept_untrusted {
            return Err(TunnelError::Trust(eku));
        }
        accepted.get_or_insert(eku);
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
        accepted,
    })
}

/// The failure the verify callback accepted under `accept_untrusted`, with the certificate.
fn accepted_failure(
    cfg: &TunnelConfig,
    log: &Mutex<VerifyLog>,
    info: &CertificateInfo,
    peer: SocketAddr,
) -> Option<Box<TrustError>> {
    if !cfg.accept_untrusted {
        return None;
    }
    let guard = match log.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let (depth, kind, reason) = guard.accepted.clone()?;
    Some(Box::new(TrustError {
        kind,
        reason,
        depth,
        cert: Some(info.clone()),
        peer,
    }))
}

fn leaf_to_der(leaf: &X509) -> Result<Vec<u8>, TunnelError> {
    leaf.to_der()
        .map_err(|e| TunnelError::Config(format!("cannot encode the peer certificate: {e}")))
}
