//! `--peer-dns`: the DNS servers the server offered (pppd `usepeerdns`; the addresses come
//! from the plugin's `ip-up` record, or pppd's log lines) are applied when IPv4 first comes up
//! and undone exactly when pppd has exited (also after Ctrl-C/SIGTERM, which end pppd first;
//! not after a SIGKILL of `sstp connect`).
//!
//! - systemd-resolved running (its varlink socket exists and `resolvectl` is installed):
//!   `resolvectl dns IF ADDR...` (+ `resolvectl domain IF ~.` with `--default-route`, so every
//!   query goes to the tunnel's servers); undone with `resolvectl revert IF`.
//! - otherwise /etc/resolv.conf (its real file when it is a symlink): the server's
//!   `nameserver` lines first, then the old file without its `nameserver` lines, under a marker
//!   comment; on exit the old bytes and mode are put back, unless the file no longer carries
//!   the marker (someone else replaced it since: left alone, with a warning).

use std::fs;
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// First line of a resolv.conf written by `sstp connect`.
pub const MARKER: &str =
    "# sstp connect --peer-dns: DNS servers of the SSTP server (restored on exit)";
/// systemd-resolved's varlink socket: present while it runs.
pub const RESOLVED_SOCKET: &str = "/run/systemd/resolve/io.systemd.Resolve";
/// resolvectl, at fixed paths (never from PATH: `sstp connect` runs as root).
const RESOLVECTL: [&str; 2] = ["/usr/bin/resolvectl", "/bin/resolvectl"];

/// Where DNS settings go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// systemd-resolved, through this resolvectl.
    Resolved(PathBuf),
    /// This resolv.conf file.
    ResolvConf(PathBuf),
}

impl Backend {
    /// systemd-resolved if it runs, else /etc/resolv.conf.
    pub fn detect() -> Backend {
        let ctl = RESOLVECTL.iter().map(Path::new).find(|p| p.is_file());
        match ctl {
            Some(c) if Path::new(RESOLVED_SOCKET).exists() => Backend::Resolved(c.to_path_buf()),
            _ => Backend::ResolvConf(PathBuf::from("/etc/resolv.conf")),
        }
    }
}

/// What [`apply`] changed, for [`Applied::restore`].
#[derive(Debug)]
pub enum Applied {
    /// resolvectl settings on this interface.
    Resolved {
        /// resolvectl.
        ctl: PathBuf,
        /// The ppp interface.
        ifname: String,
    },
    /// This file (the real one) had these bytes and mode before.
    ResolvConf {
        /// The file written.
        path: PathBuf,
        /// Its bytes before.
        original: Vec<u8>,
        /// Its permission bits before.
        mode: u32,
    },
}

/// The addresses among `dns` (strings from the plugin or pppd's log) that parse as IP addresses.
pub fn addresses(dns: &[String]) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = dns.iter().filter_map(|s| s.trim().parse().ok()).collect();
    v.dedup();
    v
}

/// The new resolv.conf: marker, the server's name servers, then `old` without its
/// `nameserver` lines (search domains and options stay).
pub fn merged(old: &str, dns: &[IpAddr]) -> String {
    let mut s = format!("{MARKER}\n");
    for a in dns {
        s.push_str(&format!("nameserver {a}\n"));
    }
    for line in old.lines() {
        let t = line.trim_start();
        if t.starts_with("nameserver") && t[10..].starts_with([' ', '\t']) {
            continue;
        }
        s.push_str(line);
        s.push('\n');
    }
    s
}

fn run(ctl: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(ctl)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", ctl.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "{} {} failed: {}",
        ctl.display(),
        args.join(" "),
        sstp_proto::http::sanitize(msg.trim())
    ))
}

/// Replaces `path`'s content by `bytes` with `mode`: a new file renamed over it, or, where
/// the file is a mount point (a container's bind-mounted resolv.conf: EBUSY) or the directory
/// is not writable, the file rewritten in place.
fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("sstp-tmp{}", std::process::id()));
    let renamed = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    match renamed {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            use nix::errno::Errno;
            let in_place = [
                Errno::EBUSY,
                Errno::EXDEV,
                Errno::EROFS,
                Errno::EACCES,
                Errno::EPERM,
            ];
            if !in_place.iter().any(|n| e.raw_os_error() == Some(*n as i32)) {
                return Err(e);
            }
            let mut f = fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)?;
            f.write_all(bytes)?;
            f.set_permissions(fs::Permissions::from_mode(mode))?;
            f.sync_all()
        }
    }
}

/// Applies `dns` for `ifname`; `all_queries`: route every query to them (`--default-route`).
pub fn apply(
    backend: &Backend,
    ifname: &str,
    dns: &[IpAddr],
    all_queries: bool,
) -> Result<Applied, String> {
    if dns.is_empty() {
        return Err("the server offered no DNS servers".into());
    }
    match backend {
        Backend::Resolved(ctl) => {
            let addrs: Vec<String> = dns.iter().map(IpAddr::to_string).collect();
            let mut args = vec!["dns", ifname];
            args.extend(addrs.iter().map(String::as_str));
            run(ctl, &args)?;
            let applied = Applied::Resolved {
                ctl: ctl.clone(),
                ifname: ifname.to_owned(),
            };
            if all_queries {
                if let Err(e) = run(ctl, &["domain", ifname, "~."]) {
                    let _ = applied.restore();
                    return Err(e);
                }
            }
            Ok(applied)
        }
        Backend::ResolvConf(p) => {
            let path = fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            let (original, mode) = match fs::read(&path) {
                Ok(b) => {
                    let mode = fs::metadata(&path)
                        .map(|m| m.permissions().mode() & 0o7777)
                        .unwrap_or(0o644);
                    (b, mode)
                }
                Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            };
            let new = merged(&String::from_utf8_lossy(&original), dns);
            replace_file(&path, new.as_bytes(), mode)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(Applied::ResolvConf {
                path,
                original,
                mode,
            })
        }
    }
}

impl Applied {
    /// Undoes [`apply`]. Returns a warning to show, if any.
    pub fn restore(&self) -> Result<(), String> {
        match self {
            Applied::Resolved { ctl, ifname } => {
                // The interface may be gone already, and with it its settings.
                if !Path::new("/sys/class/net").join(ifname).exists() {
                    return Ok(());
                }
                run(ctl, &["revert", ifname])
            }
            Applied::ResolvConf {
                path,
                original,
                mode,
            } => {
                let now = fs::read_to_string(path).unwrap_or_default();
                if !now.lines().any(|l| l == MARKER) {
                    return Err(format!(
                        "{} was replaced by another program while the tunnel was up; left as it is",
                        path.display()
                    ));
                }
                replace_file(path, original, *mode)
                    .map_err(|e| format!("cannot restore {}: {e}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sstp-dns-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn merged_puts_the_servers_first_and_keeps_the_rest() {
        let old = "# generated\nnameserver 10.0.0.1\nsearch lan\nnameserver\t::1\noptions edns0\nnameservers-are-not-this\n";
        let dns = addresses(&["192.0.2.53".into(), "junk".into(), "2001:db8::53".into()]);
        let m = merged(old, &dns);
        assert_eq!(
            m,
            format!(
                "{MARKER}\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n# generated\nsearch lan\n\
                 options edns0\nnameservers-are-not-this\n"
            )
        );
    }

    #[test]
    fn resolv_conf_is_restored_exactly_through_a_symlink() {
        let d = tmpdir("link");
        let real = d.join("real.conf");
        let original = b"nameserver 10.0.0.1\nsearch lan\n# no newline at end".to_vec();
        fs::write(&real, &original).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = d.join("resolv.conf");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let b = Backend::ResolvConf(link.clone());
        let a = apply(&b, "ppp0", &addresses(&["192.0.2.53".into()]), false).unwrap();
        let during = fs::read_to_string(&link).unwrap();
        assert!(during.starts_with(&format!("{MARKER}\nnameserver 192.0.2.53\nsearch lan\n")));
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        a.restore().unwrap();
        assert_eq!(fs::read(&real).unwrap(), original);
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_replaced_by_someone_else_is_left_alone() {
        let d = tmpdir("other");
        let f = d.join("resolv.conf");
        fs::write(&f, "nameserver 10.0.0.1\n").unwrap();
        let a = apply(
            &Backend::ResolvConf(f.clone()),
            "ppp0",
            &addresses(&["192.0.2.53".into()]),
            true,
        )
        .unwrap();
        fs::write(&f, "nameserver 10.9.9.9\n").unwrap();
        let e = a.restore().unwrap_err();
        assert!(e.contains("replaced by another program"), "{e}");
        assert_eq!(fs::read_to_string(&f).unwrap(), "nameserver 10.9.9.9\n");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn nothing_to_apply_without_servers() {
        let b = Backend::ResolvConf(PathBuf::from("/nonexistent/resolv.conf"));
        assert!(apply(&b, "ppp0", &[], false).is_err());
        assert!(apply(&b, "ppp0", &addresses(&["192.0.2.1".into()]), false).is_err());
    }

    #[test]
    fn resolvectl_arguments() {
        // A stand-in resolvectl that records its arguments.
        let d = tmpdir("ctl");
        let log = d.join("args");
        let ctl = d.join("resolvectl");
        fs::write(
            &ctl,
            format!("#!/bin/sh\necho \"$@\" >>{}\n", log.display()),
        )
        .unwrap();
        fs::set_permissions(&ctl, fs::Permissions::from_mode(0o755)).unwrap();
        let b = Backend::Resolved(ctl.clone());
        let dns = addresses(&["192.0.2.53".into(), "192.0.2.54".into()]);
        let a = apply(&b, "lo", &dns, true).unwrap();
        a.restore().unwrap();
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "dns lo 192.0.2.53 192.0.2.54\ndomain lo ~.\nrevert lo\n"
        );
        fs::remove_dir_all(&d).unwrap();
    }
}
