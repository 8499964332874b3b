//! `sstp-test-server`: the SSTP test server on the command line (see tests/server/README.md).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use openssl::ssl::SslVersion;
use sstp_proto::crypto_binding::{HashProtocols, Hlak};
use sstp_test_server::{load_cert, Fault, PppBackend, Server, ServerConfig};

const USAGE: &str = "\
usage: sstp-test-server --cert FILE --key FILE [options]
  --listen ADDR:PORT      listen address (default 127.0.0.1:4443; [::1]:4443 for IPv6)
  --cert FILE             server certificate (PEM; may hold the chain, leaf first)
  --key FILE              its private key (PEM)
  --fault NAME[=ARG]      fault mode (also --fault NAME ARG):
                            none, no-http-response, http-no-version, http-1.0,
                            http-status N, nak [N], abort-after-connected,
                            cert-hash-mismatch, abort-mid-session SECONDS,
                            silent-after-connect, silent-after-http, close-after-tls
  --binding-cert FILE     cert-hash-mismatch: check the binding against this certificate
                          (default: a generated one)
  --hash-bitmask 1|2|3    hash protocols offered in CALL_CONNECT_ACK (default 3; 0 or other
                          bits, e.g. 0x04, test the client's refusal)
  --hlak-zero             also verify the Compound MAC with the zero HLAK (PAP, no MPPE)
  --hlak-keys-file FILE   or with the server HLAK from the MPPE keys the server pppd wrote to
                          FILE (`<recv hex> <send hex>`, tests/fixtures/mppe-keys-export.c)
  --pppd-cmd PROG         run PROG per call on a pty (stdin/stdout = pty slave)
  --pppd-arg ARG          argument for PROG (repeat; {tty} becomes the slave's path,
                          {conn} the connection number 1, 2, ...)
  --no-pppd               no PPP peer: nothing answers LCP (default without --pppd-cmd)
  --echo                  echo PPP frames back (throughput tests; not for a real pppd)
  --once                  serve one connection, print its outcome on stdout, exit
  --hello SECONDS         hello (echo) interval (default 60)
  --negotiation-timeout SECONDS   (default 60)
  --min-tls V / --max-tls V       1.0, 1.1, 1.2 or 1.3
  --port-file FILE        write the bound port to FILE once listening
  --quiet                 no per-step log on stderr
";

fn tls_version(s: &str) -> Result<SslVersion, String> {
    match s.trim_start_matches("TLSv").trim_start_matches("tls") {
        "1" | "1.0" => Ok(SslVersion::TLS1),
        "1.1" => Ok(SslVersion::TLS1_1),
        "1.2" => Ok(SslVersion::TLS1_2),
        "1.3" => Ok(SslVersion::TLS1_3),
        _ => Err(format!("bad TLS version {s:?}")),
    }
}

fn secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("bad number of seconds {s:?}")),
    }
}

struct Args {
    listen: String,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    fault: Fault,
    binding_cert: Option<PathBuf>,
    bits: u8,
    hlak_zero: bool,
    hlak_keys_file: Option<PathBuf>,
    pppd_cmd: Option<String>,
    pppd_args: Vec<String>,
    echo: bool,
    once: bool,
    hello: Option<Duration>,
    negotiation: Option<Duration>,
    min_tls: Option<SslVersion>,
    max_tls: Option<SslVersion>,
    port_file: Option<PathBuf>,
    quiet: bool,
    paced: bool,
}

fn parse(argv: Vec<String>) -> Result<Args, String> {
    let mut a = Args {
        listen: "127.0.0.1:4443".into(),
        cert: None,
        key: None,
        fault: Fault::None,
        binding_cert: None,
        bits: 3,
        hlak_zero: false,
        hlak_keys_file: None,
        pppd_cmd: None,
        pppd_args: Vec::new(),
        echo: false,
        once: false,
        hello: None,
        negotiation: None,
        min_tls: None,
        max_tls: None,
        port_file: None,
        quiet: false,
        paced: false,
    };
    let mut it = argv.into_iter().peekable();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.into())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            it.next().ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--listen" => a.listen = value("--listen")?,
            "--cert" => a.cert = Some(value("--cert")?.into()),
            "--key" => a.key = Some(value("--key")?.into()),
            "--binding-cert" => a.binding_cert = Some(value("--binding-cert")?.into()),
            "--fault" => {
                let mut spec = value("--fault")?;
                let name = spec.split(['=', ':']).next().unwrap_or_default().to_owned();
                if !spec.contains(['=', ':']) && Fault::takes_argument(&name) {
                    // `--fault http-status 403`; the argument is optional for nak.
                    match it.peek() {
                        Some(next) if !next.starts_with("--") => {
                            spec = format!("{spec}={}", it.next().unwrap_or_default())
                        }
                        _ => {}
                    }
                }
                a.fault = spec.parse()?;
            }
            "--hash-bitmask" => {
                let v = value("--hash-bitmask")?;
                let parsed = match v.strip_prefix("0x") {
                    Some(h) => u8::from_str_radix(h, 16),
                    None => v.parse::<u8>(),
                };
                a.bits = parsed.map_err(|_| {
                    format!(
                        "--hash-bitmask must be 1, 2 or 3 (or 0..255 to test refusals), not {v:?}"
                    )
                })?;
            }
            "--hlak-zero" => a.hlak_zero = true,
            "--hlak-keys-file" => a.hlak_keys_file = Some(value("--hlak-keys-file")?.into()),
            "--pppd-cmd" => a.pppd_cmd = Some(value("--pppd-cmd")?),
            "--pppd-arg" => a.pppd_args.push(value("--pppd-arg")?),
            "--no-pppd" => a.pppd_cmd = None,
            "--echo" => a.echo = true,
            "--once" => a.once = true,
            "--hello" => a.hello = Some(secs(&value("--hello")?)?),
            "--negotiation-timeout" => {
                a.negotiation = Some(secs(&value("--negotiation-timeout")?)?)
            }
            "--min-tls" => a.min_tls = Some(tls_version(&value("--min-tls")?)?),
            "--max-tls" => a.max_tls = Some(tls_version(&value("--max-tls")?)?),
            "--port-file" => a.port_file = Some(value("--port-file")?.into()),
            "--quiet" => a.quiet = true,
            "--paced" => a.paced = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let a = match parse(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sstp-test-server: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sstp-test-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: Args) -> Result<(), String> {
    let (Some(cert), Some(key)) = (&a.cert, &a.key) else {
        return Err("--cert and --key are required".into());
    };
    let mut cfg = ServerConfig::from_pem_files(cert, key).map_err(|e| e.to_string())?;
    cfg.fault = a.fault;
    cfg.hash_protocols = HashProtocols::from_bits(a.bits);
    if a.hlak_zero {
        cfg.verify_mac = Some(Hlak::zero());
    }
    cfg.server_keys_file = a.hlak_keys_file.clone();
    if let Some(p) = &a.binding_cert {
        cfg.binding_cert = Some(load_cert(p).map_err(|e| e.to_string())?);
    }
    cfg.ppp = match (&a.pppd_cmd, a.echo) {
        (_, true) => PppBackend::Echo,
        (Some(p), false) => PppBackend::Command {
            program: p.clone(),
            args: a.pppd_args.clone(),
        },
        (None, false) => PppBackend::None,
    };
    if let Some(h) = a.hello {
        cfg.timers.hello = h;
    }
    if let Some(n) = a.negotiation {
        cfg.timers.negotiation = n;
    }
    cfg.min_tls = a.min_tls;
    cfg.max_tls = a.max_tls;
    cfg.verbose = !a.quiet;
    cfg.paced = a.paced;
    let addr = a.listen.trim();
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let server = Server::new(cfg).map_err(|e| format!("TLS setup: {e}"))?;
    if let Some(f) = &a.port_file {
        std::fs::write(f, format!("{}\n", local.port()))
            .map_err(|e| format!("{}: {e}", f.display()))?;
    }
    eprintln!(
        "sstp-test-server: listening on {local} (fault {}, hash bitmask {}, PPP {:?})",
        server.config().fault,
        a.bits,
        server.config().ppp
    );
    if a.once {
        let r = server.serve_once(&listener).map_err(|e| e.to_string())?;
        println!("outcome: {}", r.outcome);
        if let Some(b) = r.binding {
            println!("binding: {b}");
        }
        println!(
            "frames: {} from client, {} to client, {} dropped",
            r.stats.frames_received, r.stats.frames_sent, r.stats.frames_dropped
        );
        Ok(())
    } else {
        server
            .serve(&listener, None, None)
            .map_err(|e| e.to_string())
    }
}
