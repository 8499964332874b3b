//! The `ProxyAuthenticator` state machine, driven the way sstp-tunnel's CONNECT loop drives it.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sstp_proxy_auth::digest::{digest_response, DigestRequest};
use sstp_proxy_auth::ntlm::{self, av_id, AvPair};
use sstp_proxy_auth::{
    parse_challenges, AuthError, AuthScheme, Credentials, DigestAlgorithm, DigestChallenge,
    Entropy, ProxyAuthenticator,
};

const TARGET: &str = "vpn.example.com:443";

fn entropy(seed: u8) -> Entropy {
    let mut random = [0u8; 32];
    for (i, b) in random.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    Entropy {
        random,
        unix_time: Duration::from_secs(1_700_000_000),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn auth(user: &str, pass: &str) -> ProxyAuthenticator {
    ProxyAuthenticator::new(Credentials::new(user, pass), TARGET)
}

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn payload(m: &[u8], at: usize) -> &[u8] {
    let len = le16(m, at);
    let off = le32(m, at + 4) as usize;
    &m[off..off + len]
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The parameters of a header value we produced, through our own parser.
fn params(header: &str) -> sstp_proxy_auth::Challenge {
    let mut c = parse_challenges(header).unwrap();
    assert_eq!(c.len(), 1, "{header}");
    c.remove(0)
}

#[test]
fn basic_exchange_then_rejection() {
    let mut a = auth("Aladdin", "open sesame");
    assert_eq!(a.initial_header(), None);
    let step = a
        .respond(&["Basic realm=\"proxy\""], 407, &entropy(1))
        .unwrap();
    assert_eq!(step.scheme, AuthScheme::Basic);
    assert_eq!(step.header_value, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_eq!(
        step.header_line(),
        "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"
    );
    assert!(!step.needs_same_connection);
    let dbg = format!("{step:?}");
    assert!(!dbg.contains("QWxh"), "{dbg}");
    for _ in 0..2 {
        assert_eq!(
            a.respond(&["Basic realm=\"proxy\""], 407, &entropy(2))
                .unwrap_err(),
            AuthError::CredentialsRejected {
                scheme: AuthScheme::Basic
            }
        );
    }
    // A new attempt starts over.
    assert_eq!(a.initial_header(), None);
    assert!(a.respond(&["Basic realm=\"p\""], 407, &entropy(3)).is_ok());
}

#[test]
fn strongest_scheme_wins() {
    let all = [
        "Basic realm=\"p\"",
        "Digest realm=\"p\", nonce=\"n1\", qop=\"auth\", algorithm=MD5",
        "Digest realm=\"p\", nonce=\"n2\", qop=\"auth\", algorithm=SHA-256",
        "Negotiate",
        "NTLM",
    ];
    let s = auth("u", "p").respond(&all, 407, &entropy(1)).unwrap();
    assert_eq!(s.scheme, AuthScheme::Ntlm);
    let s = auth("u", "p").respond(&all[..3], 407, &entropy(1)).unwrap();
    assert_eq!(s.scheme, AuthScheme::Digest);
    assert_eq!(params(&s.header_value).param("algorithm"), Some("SHA-256"));
    // Same order reversed inside one header value.
    let one = "Digest realm=\"p\", nonce=\"n2\", qop=\"auth\", algorithm=SHA-256, \
               Digest realm=\"p\", nonce=\"n1\", qop=\"auth\", Basic realm=\"p\"";
    let s = auth("u", "p").respond(&[one], 407, &entropy(1)).unwrap();
    assert_eq!(params(&s.header_value).param("nonce"), Some("n2"));
    let s = auth("u", "p").respond(&all[..2], 407, &entropy(1)).unwrap();
    assert_eq!(s.scheme, AuthScheme::Digest);
    assert_eq!(params(&s.header_value).param("algorithm"), Some("MD5"));
    let s = auth("u", "p").respond(&all[..1], 407, &entropy(1)).unwrap();
    assert_eq!(s.scheme, AuthScheme::Basic);
}

#[test]
fn unsupported_offers_are_reported() {
    let e = auth("u", "p")
        .respond(&["Negotiate", "Bearer realm=\"x\""], 407, &entropy(1))
        .unwrap_err();
    assert_eq!(
        e,
        AuthError::NoSupportedScheme {
            offered: vec!["Negotiate".into(), "Bearer".into()]
        }
    );
    assert!(e.to_string().contains("Negotiate, Bearer"), "{e}");
    let e = auth("u", "p")
        .allow_basic(false)
        .respond(&["Basic realm=\"x\""], 407, &entropy(1))
        .unwrap_err();
    assert_eq!(
        e,
        AuthError::NoSupportedScheme {
            offered: vec!["Basic".into()]
        }
    );
    let e = auth("u", "p")
        .respond(
            &["Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256"],
            407,
            &entropy(1),
        )
        .unwrap_err();
    assert!(matches!(e, AuthError::NoSupportedScheme { .. }), "{e}");
}

#[test]
fn status_and_malformed_errors() {
    let mut a = auth("u", "p");
    assert_eq!(
        a.respond(&["Basic realm=\"x\""], 401, &entropy(1))
            .unwrap_err(),
        AuthError::UnexpectedStatus(401)
    );
    let none: [&str; 0] = [];
    assert!(matches!(
        a.respond(&none, 407, &entropy(1)).unwrap_err(),
        AuthError::Malformed(_)
    ));
    assert!(matches!(
        a.respond(&["Basic realm=\"x"], 407, &entropy(1))
            .unwrap_err(),
        AuthError::Malformed(_)
    ));
    // One bad header among good ones is skipped.
    let s = a
        .respond(&["Basic realm=\"x", "Basic realm=\"y\""], 407, &entropy(1))
        .unwrap();
    assert_eq!(s.scheme, AuthScheme::Basic);
}

#[test]
fn digest_exchange_stale_and_rejection() {
    let mut a = auth("Mufasa", "Circle of Life");
    let ch1 = "Digest realm=\"proxy\", nonce=\"abc\", qop=\"auth,auth-int\", \
               algorithm=SHA-256, opaque=\"op\"";
    let e = entropy(9);
    let s = a.respond(&[ch1], 407, &e).unwrap();
    assert_eq!(s.scheme, AuthScheme::Digest);
    assert!(!s.needs_same_connection);
    let p = params(&s.header_value);
    assert_eq!(p.param("uri"), Some(TARGET));
    assert_eq!(p.param("nc"), Some("00000001"));
    assert_eq!(p.param("qop"), Some("auth"));
    assert_eq!(p.param("opaque"), Some("op"));
    assert_eq!(p.param("username"), Some("Mufasa"));
    let cnonce = hex(&e.random[..16]);
    assert_eq!(p.param("cnonce"), Some(cnonce.as_str()));
    let dc = DigestChallenge::from_challenge(&parse_challenges(ch1).unwrap()[0]).unwrap();
    assert_eq!(dc.algorithm, DigestAlgorithm::Sha256);
    let req = DigestRequest {
        method: "CONNECT",
        uri: TARGET,
        cnonce: &cnonce,
        nc: 1,
    };
    let expected = digest_response(&dc, "Mufasa", "Circle of Life", &req);
    assert_eq!(p.param("response"), Some(expected.as_str()));

    // stale=true: a new nonce, not a rejection (at most MAX_STALE_RETRIES times).
    let stale =
        "Digest realm=\"proxy\", nonce=\"def\", qop=\"auth\", algorithm=SHA-256, stale=true";
    for _ in 0..sstp_proxy_auth::MAX_STALE_RETRIES {
        let s = a.respond(&[stale], 407, &entropy(10)).unwrap();
        let p = params(&s.header_value);
        assert_eq!(p.param("nonce"), Some("def"));
        assert_eq!(p.param("nc"), Some("00000001"));
    }
    assert_eq!(
        a.respond(&[stale], 407, &entropy(11)).unwrap_err(),
        AuthError::CredentialsRejected {
            scheme: AuthScheme::Digest
        }
    );

    // Without stale, the second 407 is a rejection, and Basic is not tried as a downgrade.
    let mut a = auth("Mufasa", "wrong");
    a.respond(&[ch1, "Basic realm=\"p\""], 407, &e).unwrap();
    assert_eq!(
        a.respond(&[ch1, "Basic realm=\"p\""], 407, &e).unwrap_err(),
        AuthError::CredentialsRejected {
            scheme: AuthScheme::Digest
        }
    );
}

#[test]
fn digest_is_reused_preemptively_after_success() {
    let mut a = auth("u", "p");
    assert_eq!(a.initial_header(), None);
    let ch = "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"";
    let first = a.respond(&[ch], 407, &entropy(4)).unwrap();
    a.on_success();
    let next = a.initial_header().expect("preemptive Digest");
    let p1 = params(&first.header_value);
    let p2 = params(&next);
    assert_eq!(p2.param("nc"), Some("00000002"));
    assert_eq!(p2.param("cnonce"), p1.param("cnonce"));
    assert_ne!(p2.param("response"), p1.param("response"));
    assert_eq!(
        params(&a.initial_header().unwrap()).param("nc"),
        Some("00000003")
    );
    // The proxy forgot the nonce and sends a fresh, non-stale challenge: answered, not rejected.
    let s = a
        .respond(
            &["Digest realm=\"r\", nonce=\"n2\", qop=\"auth\""],
            407,
            &entropy(5),
        )
        .unwrap();
    assert_eq!(params(&s.header_value).param("nonce"), Some("n2"));
}

#[test]
fn preemptive_basic() {
    let mut a = auth("Aladdin", "open sesame").preemptive_basic(true);
    assert_eq!(
        a.initial_header().as_deref(),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    // The proxy wants Digest: not a rejection.
    let s = a
        .respond(
            &["Digest realm=\"r\", nonce=\"n\", qop=\"auth\""],
            407,
            &entropy(1),
        )
        .unwrap();
    assert_eq!(s.scheme, AuthScheme::Digest);
    // The proxy wants Basic after our Basic: rejected.
    let mut a = auth("Aladdin", "x").preemptive_basic(true);
    a.initial_header().unwrap();
    assert_eq!(
        a.respond(&["Basic realm=\"r\""], 407, &entropy(1))
            .unwrap_err(),
        AuthError::CredentialsRejected {
            scheme: AuthScheme::Basic
        }
    );
    // Preemptive Basic is not sent when Basic is disabled...
    let mut a = auth("u", "p").preemptive_basic(true).allow_basic(false);
    assert_eq!(a.initial_header(), None);
    // ...and Basic that worked once is sent preemptively afterwards.
    let mut a = auth("Aladdin", "open sesame");
    a.respond(&["Basic realm=\"r\""], 407, &entropy(1)).unwrap();
    a.on_success();
    assert!(a.initial_header().unwrap().starts_with("Basic "));
}

/// A CHALLENGE as a current Windows/Squid+winbind proxy sends it (with MsvAvTimestamp).
fn challenge_b64(timestamp: Option<u64>) -> String {
    let mut pairs = vec![
        AvPair {
            id: av_id::NB_DOMAIN_NAME,
            value: utf16("CORP"),
        },
        AvPair {
            id: av_id::NB_COMPUTER_NAME,
            value: utf16("PROXY1"),
        },
    ];
    if let Some(t) = timestamp {
        pairs.push(AvPair {
            id: av_id::TIMESTAMP,
            value: t.to_le_bytes().to_vec(),
        });
    }
    let ti = ntlm::encode_av_pairs(&pairs).unwrap();
    let mut m = Vec::new();
    m.extend_from_slice(b"NTLMSSP\0");
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&[0, 0, 0, 0, 48, 0, 0, 0]); // empty TargetName
    m.extend_from_slice(&0xe28a_8215u32.to_le_bytes());
    m.extend_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&(ti.len() as u16).to_le_bytes());
    m.extend_from_slice(&(ti.len() as u16).to_le_bytes());
    m.extend_from_slice(&48u32.to_le_bytes());
    m.extend_from_slice(&ti);
    STANDARD.encode(m)
}

#[test]
fn ntlm_handshake() {
    for ts in [None, Some(0x01da_1234_5678_9abc_u64)] {
        let creds = Credentials::new("CORP\\alice", "Secr3t").with_workstation("LAPTOP");
        let mut a = ProxyAuthenticator::new(creds, TARGET);
        let s1 = a
            .respond(
                &["Negotiate", "NTLM", "Basic realm=\"x\""],
                407,
                &entropy(1),
            )
            .unwrap();
        assert_eq!(s1.scheme, AuthScheme::Ntlm);
        assert!(!s1.needs_same_connection);
        let neg = STANDARD
            .decode(s1.header_value.strip_prefix("NTLM ").unwrap())
            .unwrap();
        assert_eq!(&neg[..8], b"NTLMSSP\0");
        assert_eq!(le32(&neg, 8), 1);

        let e = entropy(2);
        let chal = challenge_b64(ts);
        let s2 = a
            .respond(&["Negotiate", &format!("NTLM {chal}")], 407, &e)
            .unwrap();
        assert_eq!(s2.scheme, AuthScheme::Ntlm);
        assert!(s2.needs_same_connection);
        let m = STANDARD
            .decode(s2.header_value.strip_prefix("NTLM ").unwrap())
            .unwrap();
        assert_eq!(le32(&m, 8), 3);
        assert_eq!(payload(&m, 28), utf16("CORP"));
        assert_eq!(payload(&m, 36), utf16("alice"));
        assert_eq!(payload(&m, 44), utf16("LAPTOP"));
        let nt = payload(&m, 20);
        let blob = &nt[16..];
        // Client challenge = entropy[16..24]; time = the proxy's, else the caller's clock.
        assert_eq!(&blob[16..24], &e.random[16..24]);
        let expected_time = ts.unwrap_or(ntlm::unix_to_filetime(1_700_000_000, 0));
        assert_eq!(&blob[8..16], &expected_time.to_le_bytes());
        // NTProofStr checks out with the NTOWFv2 of the split user/domain.
        let key = ntlm::ntowf_v2("Secr3t", "alice", "CORP");
        let chal_bytes = STANDARD.decode(&chal).unwrap();
        let server = <[u8; 8]>::try_from(&chal_bytes[24..32]).unwrap();
        let (expect_nt, _) = ntlm::ntlmv2_response(&key, &server, blob);
        assert_eq!(nt, &expect_nt[..]);
        assert_eq!(
            ts.is_some(),
            le32(&m, 32) == 88,
            "MIC exactly when timestamped"
        );

        // A 407 after AUTHENTICATE: rejected.
        assert_eq!(
            a.respond(&["NTLM"], 407, &entropy(3)).unwrap_err(),
            AuthError::CredentialsRejected {
                scheme: AuthScheme::Ntlm
            }
        );
    }
}

#[test]
fn ntlm_broken_handshakes() {
    // Bare NTLM again after NEGOTIATE (proxy lost the connection state).
    let mut a = auth("u", "p");
    a.respond(&["NTLM"], 407, &entropy(1)).unwrap();
    assert!(matches!(
        a.respond(&["NTLM"], 407, &entropy(1)).unwrap_err(),
        AuthError::Malformed(_)
    ));
    // Garbage token, non-base64 and a truncated message.
    for bad in ["NTLM !!!!", "NTLM TlRMTVNTUAACAAAA", "NTLM AAAA"] {
        let mut a = auth("u", "p");
        a.respond(&["NTLM"], 407, &entropy(1)).unwrap();
        let e = a.respond(&[bad], 407, &entropy(1)).unwrap_err();
        assert!(matches!(e, AuthError::Malformed(_)), "{bad}: {e}");
    }
    // Unpadded base64 is accepted.
    let mut a = auth("u", "p");
    a.respond(&["NTLM"], 407, &entropy(1)).unwrap();
    let tok = challenge_b64(None);
    let unpadded = tok.trim_end_matches('=');
    assert!(a
        .respond(&[format!("NTLM {unpadded}")], 407, &entropy(1))
        .is_ok());
}

#[test]
fn debug_output_has_no_secrets() {
    let a = ProxyAuthenticator::new(Credentials::new("bob", "hunter2-secret"), TARGET);
    let e = entropy(1);
    let d = format!("{a:?} {e:?}");
    assert!(!d.contains("hunter2-secret"), "{d}");
    assert!(d.contains("bob") && d.contains("idle"), "{d}");
}
