//! The proxy's answers to a CONNECT: `Proxy-Authenticate` challenge parsing and the NTLM
//! CHALLENGE message (both hostile input from the network): no panic; and the authenticator
//! driven with them either answers or refuses, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sstp_proxy_auth::ntlm::ChallengeMessage;
use sstp_proxy_auth::{parse_challenges, Credentials, Entropy, ProxyAuthenticator};

fuzz_target!(|data: &[u8]| {
    let _ = ChallengeMessage::parse(data);
    let text = String::from_utf8_lossy(data);
    let _ = parse_challenges(&text);
    let mut auth = ProxyAuthenticator::new(
        Credentials::new("DOMAIN\\user", "password"),
        "vpn.example.com:443",
    );
    let entropy = Entropy { random: [7; 32], unix_time: std::time::Duration::from_secs(1) };
    // Two rounds, as a 407 exchange has: the second sees the same hostile header.
    let headers: Vec<&str> = text.split('\n').collect();
    for _ in 0..2 {
        let _ = auth.respond(&headers, 407, &entropy);
    }
});
