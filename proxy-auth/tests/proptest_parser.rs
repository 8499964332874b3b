//! Property tests: hostile input never panics; generated challenges round-trip.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proptest::prelude::*;
use sstp_proxy_auth::ntlm::{self, ChallengeMessage, NtlmClientInput};
use sstp_proxy_auth::{parse_challenges, Credentials, Entropy, ProxyAuthenticator, Scheme};

fn entropy() -> Entropy {
    Entropy {
        random: [0x5a; 32],
        unix_time: Duration::from_secs(1_700_000_000),
    }
}

/// Strings over the characters that matter to the grammar, so that the interesting paths are
/// reached often.
fn grammar_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("Basic".to_string()),
            Just("Digest".to_string()),
            Just("NTLM".to_string()),
            Just("realm".to_string()),
            Just("nonce".to_string()),
            Just("qop".to_string()),
            Just("\"auth\"".to_string()),
            Just("stale=true".to_string()),
            Just("algorithm=SHA-256".to_string()),
            "[ ,=\"\\\\\t/+~a-z0-9\u{1}\u{7f}é]{1,4}",
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parser_never_panics_on_any_string(s in any::<String>()) {
        let _ = parse_challenges(&s);
    }

    #[test]
    fn parser_never_panics_on_grammar_soup(s in grammar_soup()) {
        if let Ok(cs) = parse_challenges(&s) {
            for c in cs {
                // Names are tokens, lower-cased.
                for (n, _) in &c.params {
                    prop_assert!(!n.is_empty());
                    prop_assert_eq!(n.to_ascii_lowercase(), n.clone());
                }
            }
        }
    }

    #[test]
    fn generated_challenges_round_trip(
        chs in proptest::collection::vec(
            (token(), proptest::collection::vec(
                (token(), "[ -~\u{a0}-\u{2ff}\t]{0,16}", any::<bool>()), 1..5)),
            1..4)
    ) {
        let mut text = String::new();
        for (i, (scheme, params)) in chs.iter().enumerate() {
            if i > 0 { text.push_str(", "); }
            text.push_str(scheme);
            text.push(' ');
            for (j, (n, v, as_token)) in params.iter().enumerate() {
                if j > 0 { text.push_str(" , "); }
                let tokenish = !v.is_empty()
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b));
                if *as_token && tokenish {
                    text.push_str(&format!("{n}={v}"));
                } else {
                    text.push_str(&format!("{n} = {}", quote(v)));
                }
            }
        }
        let parsed = parse_challenges(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(parsed.len(), chs.len());
        for (p, (scheme, params)) in parsed.iter().zip(&chs) {
            prop_assert_eq!(p.scheme.name().to_ascii_lowercase(), scheme.to_ascii_lowercase());
            if let Scheme::Other(s) = &p.scheme { prop_assert_eq!(s, scheme); }
            prop_assert!(p.token68.is_none());
            let expect: Vec<(String, String)> =
                params.iter().map(|(n, v, _)| (n.to_ascii_lowercase(), v.clone())).collect();
            prop_assert_eq!(&p.params, &expect);
        }
    }

    #[test]
    fn respond_never_panics(
        rounds in proptest::collection::vec(
            (proptest::collection::vec(prop_oneof![grammar_soup(), any::<String>()], 0..3),
             prop_oneof![Just(407u16), any::<u16>()]),
            1..5)
    ) {
        let mut a = ProxyAuthenticator::new(Credentials::new("DOM\\u", "p"), "h:443");
        let _ = a.initial_header();
        for (values, status) in rounds {
            let _ = a.respond(&values, status, &entropy());
        }
    }

    #[test]
    fn ntlm_challenge_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                        prefix in any::<bool>()) {
        let mut b = bytes;
        if prefix && b.len() >= 12 {
            b[..8].copy_from_slice(b"NTLMSSP\0");
            b[8..12].copy_from_slice(&2u32.to_le_bytes());
        }
        let _ = ChallengeMessage::parse(&b);
        let neg = ntlm::negotiate_message(ntlm::CLIENT_NEGOTIATE_FLAGS);
        let _ = ntlm::authenticate_for_challenge(&NtlmClientInput {
            user: "u", domain: "d", password: "p", workstation: "",
            negotiate: &neg, challenge: &b, client_challenge: [0; 8], now_filetime: 0,
        });
        // And through the state machine, as a base64 token.
        let mut a = ProxyAuthenticator::new(Credentials::new("u", "p"), "h:443");
        a.respond(&["NTLM"], 407, &entropy()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = a.respond(&[format!("NTLM {}", STANDARD.encode(&b))], 407, &entropy());
    }
}
