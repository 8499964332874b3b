//! Rough timings of the hot paths: `cargo run --release -p sstp-proxy-auth --example bench`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sstp_proxy_auth::ntlm::{self, av_id, AvPair, NtlmClientInput};
use sstp_proxy_auth::{parse_challenges, Credentials, Entropy, ProxyAuthenticator};

fn time(name: &str, iters: u32, mut f: impl FnMut()) {
    f();
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    let per = t.elapsed() / iters;
    println!("{name:<48} {:>9.2} µs", per.as_secs_f64() * 1e6);
}

fn main() {
    let header = "Negotiate, NTLM, Digest realm=\"proxy.example.com\", \
                  nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", qop=\"auth,auth-int\", \
                  algorithm=SHA-256, opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", \
                  Basic realm=\"proxy\"";
    time("parse 4-challenge Proxy-Authenticate", 100_000, || {
        black_box(parse_challenges(black_box(header)).unwrap());
    });
    let e = Entropy {
        random: [3; 32],
        unix_time: Duration::from_secs(1_700_000_000),
    };
    let digest = ["Digest realm=\"r\", nonce=\"abcdef\", qop=\"auth\", algorithm=SHA-256"];
    time("respond: Digest SHA-256 step", 100_000, || {
        let mut a = ProxyAuthenticator::new(Credentials::new("u", "p"), "vpn.example.com:443");
        black_box(a.respond(&digest, 407, &e).unwrap());
    });
    let utf16 = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    let ti = ntlm::encode_av_pairs(&[
        AvPair {
            id: av_id::NB_DOMAIN_NAME,
            value: utf16("CORP"),
        },
        AvPair {
            id: av_id::NB_COMPUTER_NAME,
            value: utf16("PROXY"),
        },
        AvPair {
            id: av_id::DNS_DOMAIN_NAME,
            value: utf16("corp.example.com"),
        },
        AvPair {
            id: av_id::TIMESTAMP,
            value: 0x01da_0000_0000_0000u64.to_le_bytes().to_vec(),
        },
    ])
    .unwrap();
    let mut chal = Vec::new();
    chal.extend_from_slice(b"NTLMSSP\0");
    chal.extend_from_slice(&2u32.to_le_bytes());
    chal.extend_from_slice(&[0, 0, 0, 0, 48, 0, 0, 0]);
    chal.extend_from_slice(&0xe28a_8215u32.to_le_bytes());
    chal.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    chal.extend_from_slice(&(ti.len() as u16).to_le_bytes());
    chal.extend_from_slice(&(ti.len() as u16).to_le_bytes());
    chal.extend_from_slice(&48u32.to_le_bytes());
    chal.extend_from_slice(&ti);
    let neg = ntlm::negotiate_message(ntlm::CLIENT_NEGOTIATE_FLAGS);
    time("NTLMv2 AUTHENTICATE with MIC", 100_000, || {
        black_box(
            ntlm::authenticate_for_challenge(&NtlmClientInput {
                user: "alice",
                domain: "CORP",
                password: "Secr3t",
                workstation: "",
                negotiate: &neg,
                challenge: &chal,
                client_challenge: [9; 8],
                now_filetime: 0,
            })
            .unwrap(),
        );
    });
    let token = format!("NTLM {}", STANDARD.encode(&chal));
    time("respond: full NTLM handshake (2 steps)", 50_000, || {
        let mut a = ProxyAuthenticator::new(Credentials::new("CORP\\alice", "p"), "h:443");
        a.respond(&["NTLM"], 407, &e).unwrap();
        black_box(a.respond(&[token.as_str()], 407, &e).unwrap());
    });
}
