//! Peer-supplied text (certificate fields, proxy challenges) reaches errors only sanitised:
//! no ESC sequence, C1 control or bidi override survives into a log line or a terminal.

mod common;

use std::net::SocketAddr;

use common::*;
use sstp_tunnel::*;

/// Characters that must never be printed raw.
fn unsafe_char(c: char) -> bool {
    c.is_control() && c != '\n' || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn hostile_certificate_fields_are_escaped() {
    let ca = Ca::new("Test CA");
    let mut spec = LeafSpec::server("vpn\u{1b}[2J\u{9b}31m\u{202e}moc.example");
    spec.dns = vec![
        "ok.example".into(),
        "evil\u{1b}]0;title\u{7}.example".into(),
    ];
    let (cert, _) = ca.issue(&spec);
    let info = CertificateInfo::from_x509(&cert);
    assert_eq!(info.dns_names[0], "ok.example");
    assert!(
        info.dns_names[1].starts_with("evil\\u{1b}]0;title"),
        "{info:?}"
    );
    assert!(
        info.subject.contains("\\u{1b}[2J\\u{9b}31m\\u{202e}"),
        "{}",
        info.subject
    );
    let err = TunnelError::Trust(Box::new(TrustError {
        kind: TrustFailureKind::UntrustedChain,
        reason: "unable to get local issuer certificate".into(),
        depth: 0,
        cert: Some(info),
        peer: SocketAddr::from(([192, 0, 2, 1], 443)),
    }));
    let text = err.to_string();
    assert!(text.contains("DNS:ok.example"), "{text}");
    assert!(!text.chars().any(unsafe_char), "{text:?}");
}

#[test]
fn hostile_proxy_challenges_are_escaped() {
    let err = TunnelError::ProxyAuthRequired {
        proxy: "proxy:3128".into(),
        schemes: vec![
            "Basic realm=\"\u{1b}[31mred\"".into(),
            "Digest realm=\"\t\u{85}\u{202e}x\"".into(),
        ],
        had_credentials: true,
        detail: Some("offered: \u{1b}[0m".into()),
    };
    let text = err.to_string();
    assert!(text.contains("Basic realm=\"\\u{1b}[31mred\""), "{text}");
    assert!(!text.chars().any(unsafe_char), "{text:?}");
}
