//! Connects to an SSTP server, prints what the connect phase learned, and exits.
//!
//! ```text
//! cargo run -p sstp-tunnel --example sstp-probe -- HOST[:PORT] [--ca FILE] [--ca-dir DIR]
//!     [--pin sha256:HEX] [--sni NAME] [--proxy http://HOST:PORT] [--min-tls 1.2]
//!     [--max-tls 1.3] [--no-eku] [--timeout SECS] [--negotiate]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use sstp_proto::client::ClientConfig;
use sstp_tunnel::{connect, negotiate, ProxyConfig, TunnelConfig};

fn usage() -> ExitCode {
    eprintln!(
        "usage: sstp-probe HOST[:PORT] [--ca FILE] [--ca-dir DIR] [--pin sha256:HEX] [--sni NAME] \
         [--proxy http://HOST:PORT] [--min-tls V] [--max-tls V] [--no-eku] [--timeout SECS] [--negotiate]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(server) = args.next() else {
        return usage();
    };
    let mut cfg = match TunnelConfig::from_server_string(&server) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut do_negotiate = false;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_default();
        let r: Result<(), String> = match a.as_str() {
            "--ca" => {
                cfg.ca_file = Some(val().into());
                Ok(())
            }
            "--ca-dir" => {
                cfg.ca_dir = Some(val().into());
                Ok(())
            }
            "--pin" => val()
                .parse()
                .map(|p| cfg.pin = Some(p))
                .map_err(|e| e.to_string()),
            "--sni" => {
                cfg.sni = Some(val());
                Ok(())
            }
            "--proxy" => ProxyConfig::parse(&val())
                .map(|p| cfg.proxy = Some(p))
                .map_err(|e| e.to_string()),
            "--min-tls" => val()
                .parse()
                .map(|v| cfg.min_tls = v)
                .map_err(|e| e.to_string()),
            "--max-tls" => val()
                .parse()
                .map(|v| cfg.max_tls = Some(v))
                .map_err(|e| e.to_string()),
            "--no-eku" => {
                cfg.check_eku = false;
                Ok(())
            }
            "--timeout" => val()
                .parse::<u64>()
                .map(|s| cfg.handshake_timeout = Duration::from_secs(s))
                .map_err(|e| e.to_string()),
            "--negotiate" => {
                do_negotiate = true;
                Ok(())
            }
            _ => return usage(),
        };
        if let Err(e) = r {
            eprintln!("{a}: {e}");
            return ExitCode::from(2);
        }
    }

    let mut est = match connect(&cfg) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error [{:?}]: {e}", e.category());
            return ExitCode::FAILURE;
        }
    };
    println!(
        "connected to {} ({}{})",
        cfg.server,
        est.peer_addr,
        if est.via_proxy { " = proxy" } else { "" }
    );
    println!("TLS: {} {}", est.tls_version, est.cipher);
    println!("certificate:\n{}", est.cert);
    println!("pin option: {}", est.cert.pin_option_line());
    println!("HTTP: {}", est.http.response.status_line());
    for (n, v) in &est.http.response.headers {
        println!("  {n}: {v}");
    }
    for w in &est.http.warnings {
        println!("warning: {w}");
    }
    println!("correlation id: {}", est.correlation_id);
    let t = est.timings;
    println!(
        "timings: resolve {:?}, tcp {:?}, proxy {:?}, tls {:?}, http {:?}",
        t.resolve, t.tcp, t.proxy, t.tls, t.http
    );
    if do_negotiate {
        match negotiate(&mut est, &ClientConfig::default()) {
            Ok(c) => println!(
                "CALL_CONNECT_ACK: server offers {}, client chose {}",
                c.offered_hash_protocols(),
                c.hash_protocol().map(|h| h.to_string()).unwrap_or_default()
            ),
            Err(e) => {
                eprintln!("error [{:?}]: {e}", e.category());
                return ExitCode::FAILURE;
            }
        }
    }
    let _ = est.stream.shutdown();
    ExitCode::SUCCESS
}
