//! `sstp-test-certs`: writes the test PKI (CA and server certificates with chosen EKU, names and
//! validity) for sstp-test-server.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use sstp_test_server::certs::{self, CertSpec, Eku};

const USAGE: &str = "\
usage: sstp-test-certs [--out DIR] [--name DNS]... [--ip ADDR]...
       sstp-test-certs --out DIR --ca DIR/ca --leaf STEM [--name DNS]... [--ip ADDR]...
                       [--eku server|client|both|any|none] [--days-before N] [--days-after N]
                       [--self-signed]
Without --leaf: writes the standard set into DIR (default /tmp/sstp-test-certs):
  ca, server, client-auth-only, wrong-name, expired, self-signed, other  (.pem + .key)
for the names given (default: localhost, 127.0.0.1, ::1).
With --leaf: one more certificate STEM.pem/.key issued by the CA whose files are --ca STEM
(e.g. --ca DIR/ca reads DIR/ca.pem and DIR/ca.key), or self-signed.
";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sstp-test-certs: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut out = sstp_test_server::default_cert_dir();
    let mut dns: Vec<String> = Vec::new();
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut leaf: Option<String> = None;
    let mut ca: Option<PathBuf> = None;
    let mut eku = Eku::ServerAuth;
    let mut before = -1i64;
    let mut after = 30i64;
    let mut self_signed = false;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut v = |n: &str| it.next().ok_or_else(|| format!("{n} needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--out" => out = v("--out")?.into(),
            "--name" => dns.push(v("--name")?),
            "--ip" => {
                let s = v("--ip")?;
                ips.push(s.parse().map_err(|_| format!("bad IP address {s:?}"))?)
            }
            "--leaf" => leaf = Some(v("--leaf")?),
            "--ca" => ca = Some(v("--ca")?.into()),
            "--eku" => eku = v("--eku")?.parse()?,
            "--days-before" => {
                before = v("--days-before")?
                    .parse()
                    .map_err(|_| "bad --days-before")?
            }
            "--days-after" => after = v("--days-after")?.parse().map_err(|_| "bad --days-after")?,
            "--self-signed" => self_signed = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if dns.is_empty() && ips.is_empty() {
        dns.push("localhost".into());
        ips.push(IpAddr::from([127, 0, 0, 1]));
        ips.push(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]));
    }
    let Some(stem) = leaf else {
        certs::write_standard_set(&out, &dns, &ips).map_err(|e| e.to_string())?;
        for (name, what) in certs::STANDARD_SET {
            println!("{}/{name}.pem  {what}", out.display());
        }
        return Ok(());
    };
    let spec = CertSpec {
        cn: dns
            .first()
            .cloned()
            .unwrap_or_else(|| ips.first().map(|i| i.to_string()).unwrap_or_default()),
        dns,
        ips,
        eku,
        not_before_days: before,
        not_after_days: after,
    };
    let ck = if self_signed {
        certs::self_signed(&spec).map_err(|e| e.to_string())?
    } else {
        let base = ca.ok_or("--leaf needs --ca STEM or --self-signed")?;
        let read = |ext: &str| {
            let p = base.with_extension(ext);
            std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
        };
        let cert = openssl::x509::X509::from_pem(&read("pem")?).map_err(|e| e.to_string())?;
        let key =
            openssl::pkey::PKey::private_key_from_pem(&read("key")?).map_err(|e| e.to_string())?;
        certs::Ca(certs::CertKey { cert, key })
            .issue(&spec)
            .map_err(|e| e.to_string())?
    };
    let (c, k) = ck.write(&out, &stem).map_err(|e| e.to_string())?;
    println!("{}\n{}", c.display(), k.display());
    Ok(())
}
