//! NTLMv2 against an independent acceptor (pyspnego), which checks the NTLMv2 response and the
//! MIC. Needs a Python with pyspnego:
//!
//! ```sh
//! python3 -m venv /tmp/spnego && /tmp/spnego/bin/pip install pyspnego
//! PYSPNEGO_PYTHON=/tmp/spnego/bin/python cargo test -p sstp-proxy-auth -- --ignored
//! ```

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sstp_proxy_auth::ntlm::{self, ChallengeMessage};
use sstp_proxy_auth::{AuthScheme, Credentials, Entropy, ProxyAuthenticator};

/// Run one handshake; returns the acceptor's verdict line.
fn handshake(
    python: &str,
    user_file: &std::path::Path,
    creds: Credentials,
    seed: u8,
    tamper_mic: bool,
) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/ntlm_acceptor.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .env("NTLM_USER_FILE", user_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the pyspnego acceptor");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let entropy = Entropy {
        random: [seed; 32],
        unix_time: Duration::from_secs(1_750_000_000),
    };

    let mut auth = ProxyAuthenticator::new(creds, "vpn.example.com:443");
    let s1 = auth.respond(&["NTLM"], 407, &entropy).unwrap();
    writeln!(stdin, "{}", s1.header_value.strip_prefix("NTLM ").unwrap()).unwrap();
    let mut challenge = String::new();
    stdout.read_line(&mut challenge).unwrap();
    // pyspnego sends MsvAvTimestamp, so the MIC path is the one exercised (and checked).
    let raw = STANDARD.decode(challenge.trim()).unwrap();
    assert!(ChallengeMessage::parse(&raw).unwrap().timestamp().is_some());
    let s2 = auth
        .respond(&[format!("NTLM {}", challenge.trim())], 407, &entropy)
        .unwrap();
    assert_eq!(s2.scheme, AuthScheme::Ntlm);
    assert!(s2.needs_same_connection);
    let mut msg = STANDARD
        .decode(s2.header_value.strip_prefix("NTLM ").unwrap())
        .unwrap();
    if tamper_mic {
        msg[ntlm::MIC_OFFSET] ^= 1;
    }
    writeln!(stdin, "{}", STANDARD.encode(&msg)).unwrap();
    let mut verdict = String::new();
    stdout.read_line(&mut verdict).unwrap();
    drop(stdin);
    child.wait().unwrap();
    verdict.trim().to_owned()
}

#[test]
#[ignore = "needs PYSPNEGO_PYTHON=<python3 with pyspnego>"]
fn pyspnego_accepts_our_ntlmv2_and_mic() {
    let python = std::env::var("PYSPNEGO_PYTHON")
        .expect("set PYSPNEGO_PYTHON to a python3 that has pyspnego installed");
    let dir = std::env::temp_dir().join(format!("proxy-auth-ntlm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users");
    std::fs::write(
        &users,
        "CORP:alice:Secr3t!\nEXAMPLE.ORG:bob:pa ss word\nCORP:j\u{f6}rg:p\u{e4}ssw\u{f6}rd\u{20ac}\n",
    )
    .unwrap();

    let v = handshake(
        &python,
        &users,
        Credentials::new("CORP\\alice", "Secr3t!"),
        1,
        false,
    );
    assert_eq!(v, "OK CORP\\alice");
    // (The acceptor's user file cannot hold a password with a colon.)
    // Upper/lower case of the user name does not matter to NTOWFv2.
    let v = handshake(
        &python,
        &users,
        Credentials::new("CORP\\ALICE", "Secr3t!"),
        2,
        false,
    );
    assert!(v.starts_with("OK "), "{v}");
    let v = handshake(
        &python,
        &users,
        Credentials::new("bob@EXAMPLE.ORG", "pa ss word"),
        3,
        false,
    );
    assert_eq!(v, "OK EXAMPLE.ORG\\bob");
    let v = handshake(
        &python,
        &users,
        Credentials::new("j\u{f6}rg", "p\u{e4}ssw\u{f6}rd\u{20ac}").with_domain("CORP"),
        4,
        false,
    );
    assert_eq!(v, "OK CORP\\j\u{f6}rg");
    // A wrong password is refused by the acceptor.
    let v = handshake(
        &python,
        &users,
        Credentials::new("CORP\\alice", "wrong"),
        5,
        false,
    );
    assert!(v.starts_with("FAIL"), "{v}");
    // The acceptor does check the MIC: one flipped bit and it refuses.
    let v = handshake(
        &python,
        &users,
        Credentials::new("CORP\\alice", "Secr3t!"),
        6,
        true,
    );
    assert!(v.starts_with("FAIL") && v.contains("MIC"), "{v}");
    std::fs::remove_dir_all(&dir).unwrap();
}
