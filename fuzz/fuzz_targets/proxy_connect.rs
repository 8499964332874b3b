//! The proxy CONNECT loop of `sstp_tunnel::connect` (response head reading, 407 rounds with
//! Basic/Digest/NTLM, keep-alive and reconnects, body draining, bytes after a 2xx) against a
//! "proxy" on a loopback listener inside this process that answers every CONNECT with the fuzz
//! input. No panic; every run ends (the fuzzer's timeout catches hangs) with an error, since the
//! proxy never carries a real TLS server; the proxy password never appears in the error.
//!
//! Per connection the proxy reads the request head, writes the whole input, shuts down its
//! sending side and drains until the client closes. A 407 followed by more answers in the same
//! input drives several rounds on one connection; `Connection: close` makes the client reconnect,
//! and the next connection gets the same input again.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sstp_tunnel::{connect, ProxyConfig, TunnelConfig};

const PASSWORD: &str = "Fuzz-Proxy-Pw";

struct Proxy {
    port: u16,
    answer: Arc<Mutex<Vec<u8>>>,
}

fn proxy() -> &'static Proxy {
    static P: OnceLock<Proxy> = OnceLock::new();
    P.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = l.local_addr().expect("local addr").port();
        let answer = Arc::new(Mutex::new(Vec::new()));
        let a = answer.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let bytes = a.lock().map(|g| g.clone()).unwrap_or_default();
                serve(conn, &bytes);
            }
        });
        Proxy { port, answer }
    })
}

/// Reads one request head, answers with `bytes`, half-closes, drains until the client is gone.
fn serve(mut conn: TcpStream, bytes: &[u8]) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = conn.write_all(bytes);
    let _ = conn.shutdown(Shutdown::Write);
    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
}

fuzz_target!(|data: &[u8]| {
    let p = proxy();
    if let Ok(mut g) = p.answer.lock() {
        *g = data.to_vec();
    }
    let mut cfg = TunnelConfig::new("sstp.example.test");
    let url = format!("http://DOM%5Cfuzzuser:{PASSWORD}@127.0.0.1:{}", p.port);
    cfg.proxy = Some(ProxyConfig::parse(&url).expect("proxy URL"));
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.tls_timeout = Duration::from_secs(2);
    cfg.handshake_timeout = Duration::from_secs(2);
    match connect(&cfg) {
        Ok(_) => panic!("connected through a proxy that has no TLS server behind it"),
        Err(e) => {
            let text = format!("{e} {e:?}");
            assert!(
                !text.contains(PASSWORD),
                "proxy password in the error: {text}"
            );
        }
    }
});
