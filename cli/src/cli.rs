//! Argument parsing (clap) and dispatch of the `sstp` command.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sstp_proto::client::ClientConfig;
use sstp_tunnel::{ProxyCredentials, TunnelConfig};

use crate::connect::{self, ConnectOptions};
use crate::exit::{self, Exit};
use crate::options::{parse_timeout, ServerArgs};
use crate::password;
use crate::pppd::{self, EapOptions, EapTls, PppdRequest};
use crate::probe;

/// The exit-code table shown by `--help`.
pub fn exit_code_table() -> String {
    let mut s = String::from("Exit codes:\n");
    for e in Exit::ALL {
        s.push_str(&format!("  {:>3}  {}\n", e.code(), e.meaning()));
    }
    s
}

/// `sstp`: SSTP VPN client for the terminal.
#[derive(Parser, Debug)]
#[command(
    name = "sstp",
    version,
    about = "SSTP VPN client: probe a server, or connect through pppd and the sstp-rs plugin",
    after_help = exit_code_table()
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Check a server: TCP, TLS, HTTP and the SSTP call request, without PPP.
    #[command(after_help = exit_code_table())]
    Probe(ProbeArgs),
    /// Connect: run pppd with the sstp-rs plugin until Ctrl-C.
    #[command(after_help = exit_code_table())]
    Connect(ConnectArgs),
}

/// `sstp probe` arguments.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Server and trust options.
    #[command(flatten)]
    pub server: ServerArgs,

    /// Seconds allowed for each phase (TCP, TLS, HTTP, SSTP); defaults 15/30/60/60.
    #[arg(long, value_name = "S", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,

    /// Proxy user name (instead of the user in the --proxy URL).
    #[arg(long, value_name = "USER", requires = "proxy", value_parser = parse_user)]
    pub proxy_user: Option<String>,

    /// Read the proxy password from the first line of FILE (`-`: standard input), so that it
    /// is not on the command line.
    #[arg(long, value_name = "FILE", requires = "proxy")]
    pub proxy_password_file: Option<PathBuf>,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// No progress lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `sstp connect` arguments.
#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Server and trust options.
    #[command(flatten)]
    pub server: ServerArgs,

    /// PPP user name (DOMAIN\user works).
    #[arg(short, long, value_name = "USER", value_parser = parse_user)]
    pub user: String,

    /// Read the password from the first line of FILE (`-`: standard input) instead of asking.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Proxy user name (instead of the user in the --proxy URL).
    #[arg(long, value_name = "USER", requires = "proxy", value_parser = parse_user)]
    pub proxy_user: Option<String>,

    /// Read the proxy password from the first line of FILE (`-`: standard input). It reaches
    /// the plugin through a pipe (`sstp-proxy-auth-fd`, root only), never on pppd's command
    /// line nor on disk.
    #[arg(
        long,
        value_name = "FILE",
        requires = "proxy",
        conflicts_with = "proxy_auth_file"
    )]
    pub proxy_password_file: Option<PathBuf>,

    /// Give the plugin this proxy credentials file as is (`sstp-proxy-auth-file`:
    /// `user\npassword\n` or `user:password`, owned by root, chmod 600).
    #[arg(
        long,
        value_name = "FILE",
        requires = "proxy",
        conflicts_with = "proxy_user"
    )]
    pub proxy_auth_file: Option<PathBuf>,

    /// The sstp-rs pppd plugin (default: found from the build-time directory or pppd's).
    #[arg(long, value_name = "PATH")]
    pub plugin: Option<PathBuf>,

    /// The pppd program (default: pppd from /usr/sbin, /sbin, /usr/bin or /bin; never PATH).
    #[arg(long, value_name = "PATH")]
    pub pppd: Option<PathBuf>,

    /// Seconds for the TCP connect and the TLS handshake (1..300).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: Option<u64>,

    /// Plugin log level 0 (errors) .. 4 (debug).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=4))]
    pub log_level: Option<u8>,

    /// How PPP frames reach pppd: auto (the kernel's PPP over L2TP, or a pty if the kernel
    /// lacks l2tp_ppp; the default), l2tp, pty.
    #[arg(long, value_name = "MODE", value_parser = ["auto", "l2tp", "pty"])]
    pub channel: Option<String>,

    /// Route all traffic through the tunnel (pppd `defaultroute` + `replacedefaultroute`; a
    /// host route keeps the connection to the server on its current way).
    #[arg(long, conflicts_with = "split")]
    pub default_route: bool,

    /// Only the tunnel's own network goes through it (pppd `nodefaultroute`; the default
    /// without --default-route, except for what pppd's options files say).
    #[arg(long)]
    pub split: bool,

    /// Use the DNS servers the server offers (pppd `usepeerdns`), through systemd-resolved on
    /// the ppp interface when it runs, else in /etc/resolv.conf; restored on exit.
    #[arg(long)]
    pub peer_dns: bool,

    /// Do not ask the plugin for IP configuration records (read pppd's log instead).
    #[arg(long)]
    pub no_ipc: bool,

    /// Print the pppd command line and exit.
    #[arg(long)]
    pub dry_run: bool,

    /// Let the server choose PAP, CHAP-MD5, MS-CHAPv1 or EAP. By default pppd gets
    /// `refuse-pap refuse-chap refuse-mschap refuse-eap`, so only MS-CHAPv2 remains (as on
    /// Windows): PAP sends the password in clear text, and without MPPE keys the crypto
    /// binding cannot detect a TLS-intercepting device.
    #[arg(long)]
    pub allow_weak_auth: bool,

    /// Let the server choose EAP (leave out `refuse-eap`): EAP-MSCHAPv2 with the password, PEAP
    /// on pppd 2.5. See "EAP" in plugin/OPTIONS.md for what works on which pppd.
    #[arg(long)]
    pub allow_eap: bool,

    /// EAP-TLS: authenticate with this client certificate and key (PEM) and check the server's
    /// EAP-TLS certificate against this CA (pppd `cert`, `key`, `ca`; needs pppd 2.5: pppd
    /// 2.4.9 keeps too few key bytes for the crypto binding and is refused). Implies
    /// --allow-eap. The password, if any, is the key's passphrase.
    #[arg(long, num_args = 3, value_names = ["CERT", "KEY", "CA"])]
    pub eap_tls: Option<Vec<PathBuf>>,

    /// Extra pppd options, after `--`.
    #[arg(last = true, value_name = "PPPD OPTIONS")]
    pub pppd_options: Vec<String>,
}

fn parse_user(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 255 || s.chars().any(char::is_control) {
        Err("expected a non-empty user name without control characters".into())
    } else {
        Ok(s.to_owned())
    }
}

fn fail(prefix: &str, msg: impl std::fmt::Display, code: Exit) -> Exit {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{prefix}: {msg}");
    let _ = e.flush();
    code
}

/// `--proxy-user` / `--proxy-password-file` into the proxy configuration.
fn apply_proxy_credentials(cfg: &mut TunnelConfig, a: &ProbeArgs) -> Result<(), String> {
    let Some(proxy) = cfg.proxy.as_mut() else {
        return Ok(());
    };
    if a.proxy_user.is_none() && a.proxy_password_file.is_none() {
        return Ok(());
    }
    let mut creds = proxy.credentials.clone().unwrap_or(ProxyCredentials {
        user: String::new(),
        password: String::new(),
    });
    if let Some(u) = &a.proxy_user {
        creds.user = u.clone();
    }
    if let Some(f) = &a.proxy_password_file {
        let (pw, warning) =
            password::from_file(f).map_err(|e| format!("--proxy-password-file: {e}"))?;
        if let Some(w) = warning {
            let _ = writeln!(std::io::stderr(), "sstp probe: {w}");
        }
        creds.password = String::from_utf8(pw.expose().to_vec())
            .map_err(|_| "--proxy-password-file: the password is not UTF-8".to_string())?;
    }
    if creds.user.is_empty() {
        return Err("a proxy password needs a user: --proxy-user USER or http://USER@HOST".into());
    }
    proxy.credentials = Some(creds);
    Ok(())
}

/// Runs `sstp probe`.
pub fn probe_main(a: ProbeArgs) -> Exit {
    if let Err(e) = a.server.validate() {
        return fail("sstp probe", e, Exit::Usage);
    }
    let mut cfg = a.server.tunnel_config(a.timeout);
    if let Err(e) = apply_proxy_credentials(&mut cfg, &a) {
        return fail("sstp probe", e, Exit::Usage);
    }
    let mut ccfg = ClientConfig::default();
    if let Some(t) = a.timeout {
        ccfg.negotiation_timeout = t;
    }
    ccfg.disconnect_timeout = Duration::from_secs(2);
    let quiet = a.quiet;
    let mut progress = |m: &str| {
        if !quiet {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{m}");
            let _ = e.flush();
        }
    };
    match probe::run(&cfg, &ccfg, quiet, &mut progress) {
        Ok(r) => {
            let mut out = std::io::stdout().lock();
            let _ = if a.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&r.to_json()).unwrap_or_default()
                )
            } else {
                write!(out, "{}", r.to_text())
            };
            let _ = out.flush();
            let code = r.exit();
            if code != Exit::Ok {
                let msg = format!(
                    "the addresses of {} present different certificates:\n{}sstp probe: exit \
                     code {} ({})",
                    r.host,
                    r.listeners_text(),
                    code.code(),
                    code.meaning()
                );
                return fail("sstp probe", msg, code);
            }
            Exit::Ok
        }
        Err(f) => {
            let code = exit::for_category(f.error.category());
            if a.json {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&probe::failure_json(&f)).unwrap_or_default()
                );
                let _ = out.flush();
            }
            let mut msg = f.error.to_string();
            if let Some(c) = f.error.certificate() {
                msg.push_str(&format!(
                    "\n  with sstp: --pin {}",
                    c.pin().to_option_value()
                ));
            }
            msg.push_str(&format!(
                "\nsstp probe: exit code {} ({})",
                code.code(),
                code.meaning()
            ));
            fail("sstp probe", msg, code)
        }
    }
}

/// Turns parsed `connect` arguments into [`ConnectOptions`], or a usage error.
pub fn connect_options(mut a: ConnectArgs) -> Result<ConnectOptions, String> {
    a.server.validate()?;
    pppd::check_extra(&a.pppd_options)?;
    let stdin = Some(std::path::Path::new("-"));
    if a.password_file.as_deref() == stdin && a.proxy_password_file.as_deref() == stdin {
        return Err(
            "--password-file - and --proxy-password-file - cannot both read standard input".into(),
        );
    }
    if let (Some(u), Some(p)) = (&a.proxy_user, a.server.proxy.as_mut()) {
        match p.credentials.as_mut() {
            Some(c) => c.user = u.clone(),
            None => {
                p.credentials = Some(ProxyCredentials {
                    user: u.clone(),
                    password: String::new(),
                })
            }
        }
    }
    let proxy_auth_file = match &a.proxy_auth_file {
        Some(f) if !f.is_file() => {
            return Err(format!(
                "--proxy-auth-file {}: not a readable regular file",
                f.display()
            ))
        }
        Some(f) => Some(connect::absolute(f)),
        None => None,
    };
    Ok(ConnectOptions {
        plugin_given: a.plugin.is_some(),
        request: PppdRequest {
            server: a.server,
            user: a.user,
            plugin: a.plugin.unwrap_or_default(),
            connect_timeout: a.timeout,
            log_level: a.log_level,
            channel: a.channel,
            default_route: a.default_route,
            replace_default_route: false,
            split: a.split,
            peer_dns: a.peer_dns,
            proxy_auth_file,
            allow_weak_auth: a.allow_weak_auth,
            eap: eap_options(a.allow_eap, a.eap_tls.as_deref())?,
            extra: a.pppd_options,
        },
        pppd: a.pppd,
        password_file: a.password_file,
        proxy_password_file: a.proxy_password_file,
        ipc: !a.no_ipc,
        dry_run: a.dry_run,
    })
}

/// `--allow-eap` / `--eap-tls CERT KEY CA`: the files must be readable by the caller (pppd
/// reads them as root: this command must not read for the caller what it could not), and are
/// passed as absolute paths.
fn eap_options(allow: bool, tls: Option<&[PathBuf]>) -> Result<EapOptions, String> {
    let tls = match tls {
        Some([cert, key, ca]) => {
            for (what, f) in [("certificate", cert), ("key", key), ("CA", ca)] {
                if let Err(e) = std::fs::File::open(f).and_then(|f| {
                    f.metadata().and_then(|m| {
                        m.is_file()
                            .then_some(())
                            .ok_or_else(|| std::io::Error::other("not a regular file"))
                    })
                }) {
                    return Err(format!("--eap-tls {what} {}: {e}", f.display()));
                }
            }
            Some(EapTls {
                cert: connect::absolute(cert),
                key: connect::absolute(key),
                ca: connect::absolute(ca),
            })
        }
        Some(_) => return Err("--eap-tls takes three files: CERT KEY CA".into()),
        None => None,
    };
    Ok(EapOptions { allow, tls })
}

/// Entry point of the binary: parses `std::env::args` and runs the subcommand.
pub fn main() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
        }
    };
    match cli.command {
        Cmd::Probe(a) => probe_main(a),
        Cmd::Connect(a) => match connect_options(a) {
            Ok(o) => connect::run(o),
            Err(e) => fail("sstp connect", e, Exit::Usage),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sstp").chain(args.iter().copied()))
    }

    #[test]
    fn connect_arguments() {
        let c = parse(&[
            "connect",
            "vpn.example.com:8443",
            "-u",
            "alice",
            "--pin",
            &format!("sha256:{}", "00".repeat(32)),
            "--default-route",
            "--",
            "mtu",
            "1400",
        ])
        .unwrap();
        let Cmd::Connect(a) = c.command else {
            panic!("not connect")
        };
        let o = connect_options(a).unwrap();
        assert_eq!(o.request.server.server, ("vpn.example.com".into(), 8443));
        assert_eq!(o.request.user, "alice");
        assert!(o.request.default_route);
        assert_eq!(o.request.extra, ["mtu", "1400"]);
        assert!(!o.plugin_given);
        assert!(o.ipc);
    }

    #[test]
    fn connect_rejects_reserved_pppd_options_and_bad_users() {
        let c = parse(&["connect", "h", "-u", "bob", "--", "password", "x"]).unwrap();
        let Cmd::Connect(a) = c.command else {
            panic!("not connect")
        };
        assert!(connect_options(a).unwrap_err().contains("password"));
        assert!(parse(&["connect", "h", "-u", "a\nb"]).is_err());
        assert!(parse(&["connect", "h"]).is_err(), "user is required");
        assert!(parse(&["connect", "h", "-u", "a", "--log-level", "9"]).is_err());
        assert!(parse(&["connect", "h", "-u", "a", "--timeout", "0"]).is_err());
        assert!(parse(&["connect", "h", "-u", "a", "--channel", "tap"]).is_err());
    }

    #[test]
    fn probe_arguments() {
        let c = parse(&[
            "probe",
            "[::1]:4433",
            "--tls-min",
            "1.3",
            "--timeout",
            "2",
            "--json",
        ])
        .unwrap();
        let Cmd::Probe(a) = c.command else {
            panic!("not probe")
        };
        assert_eq!(a.server.server, ("::1".into(), 4433));
        assert_eq!(a.timeout, Some(Duration::from_secs(2)));
        assert!(a.json);
        assert!(parse(&["probe", "host:0"]).is_err());
        assert!(parse(&["probe", "h", "--pin", "sha256:zz"]).is_err());
        assert!(parse(&["probe", "h", "--proxy", "socks5://p:1"]).is_err());
    }

    #[test]
    fn help_lists_exit_codes() {
        let t = exit_code_table();
        assert!(t.contains("  6  server certificate not trusted"), "{t}");
        assert!(t.contains("130  interrupted"), "{t}");
    }
}
