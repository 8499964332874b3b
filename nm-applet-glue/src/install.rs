//! The files NetworkManager and D-Bus read, with install paths chosen by the packager:
//! the `.name` file (`data/nm-sstp-service.name.in`, §4.1 of the contract) and the D-Bus
//! policy (`data/nm-sstp-service.conf`, §4.2). [`files`] renders both with their destination;
//! [`write_files`] writes them under a staging directory (`DESTDIR`) for a package.

use std::path::{Path, PathBuf};

/// The `.name` template: `@LIBEXECDIR@` and `@PLUGINDIR@` are replaced.
pub const NAME_TEMPLATE: &str = include_str!("../data/nm-sstp-service.name.in");
/// The D-Bus policy (no paths in it).
pub const DBUS_POLICY: &str = include_str!("../data/nm-sstp-service.conf");
/// File name of the `.name` file.
pub const NAME_FILE: &str = "nm-sstp-service.name";
/// File name of the D-Bus policy.
pub const DBUS_FILE: &str = "nm-sstp-service.conf";

/// Where things are installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallPaths {
    /// `nm-sstp-service` and `nm-sstp-auth-dialog` (Debian `/usr/libexec`, older
    /// `/usr/lib/NetworkManager`).
    pub libexecdir: PathBuf,
    /// libnm VPN editor plugins, `libnm-vpn-plugin-sstp.so` (Debian
    /// `/usr/lib/<triplet>/NetworkManager`, Fedora `/usr/lib64/NetworkManager`).
    pub plugindir: PathBuf,
    /// NetworkManager's VPN directory, where it reads `*.name`.
    pub nm_vpn_dir: PathBuf,
    /// D-Bus system policy directory.
    pub dbus_system_d: PathBuf,
}

impl Default for InstallPaths {
    /// Upstream defaults (NetworkManager's own `VPN` directory, D-Bus's vendor directory).
    fn default() -> Self {
        InstallPaths {
            libexecdir: "/usr/libexec".into(),
            plugindir: "/usr/lib/NetworkManager".into(),
            nm_vpn_dir: "/usr/lib/NetworkManager/VPN".into(),
            dbus_system_d: "/usr/share/dbus-1/system.d".into(),
        }
    }
}

/// A directory fit for a key file value: absolute, UTF-8, no control characters, no `@`.
fn dir_value(what: &str, p: &Path) -> Result<String, String> {
    let s = p
        .to_str()
        .ok_or_else(|| format!("{what} {}: not UTF-8", p.display()))?;
    let ok = p.is_absolute() && !s.chars().any(|c| c.is_control() || c == '@');
    if !ok {
        return Err(format!(
            "{what} {s:?}: expected an absolute directory without control characters or @"
        ));
    }
    Ok(s.trim_end_matches('/').to_owned())
}

/// Replaces `@KEY@` placeholders; an unknown one left over is an error.
pub fn render(template: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("@{k}@"), v);
    }
    match out.split('@').nth(1) {
        Some(left) if out.matches('@').count() >= 2 => {
            Err(format!("template placeholder @{left}@ has no value"))
        }
        _ => Ok(out),
    }
}

/// The `.name` file for these paths.
pub fn name_file(p: &InstallPaths) -> Result<String, String> {
    let libexec = dir_value("libexecdir", &p.libexecdir)?;
    let plugin = dir_value("plugindir", &p.plugindir)?;
    render(
        NAME_TEMPLATE,
        &[("LIBEXECDIR", &libexec), ("PLUGINDIR", &plugin)],
    )
}

/// Both files with their absolute destination.
pub fn files(p: &InstallPaths) -> Result<Vec<(PathBuf, String)>, String> {
    let vpn = dir_value("nm_vpn_dir", &p.nm_vpn_dir)?;
    let dbus = dir_value("dbus_system_d", &p.dbus_system_d)?;
    Ok(vec![
        (Path::new(&vpn).join(NAME_FILE), name_file(p)?),
        (Path::new(&dbus).join(DBUS_FILE), DBUS_POLICY.to_owned()),
    ])
}

/// Writes [`files`] below `destdir` (mode 0644, directories created); the written paths.
pub fn write_files(destdir: &Path, p: &InstallPaths) -> Result<Vec<PathBuf>, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut written = Vec::new();
    for (dest, text) in files(p)? {
        let path = destdir.join(dest.strip_prefix("/").unwrap_or(&dest));
        let dir = path.parent().unwrap_or(destdir);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_file_is_network_manager_sstp_compatible() {
        let n = name_file(&InstallPaths::default()).unwrap();
        for line in [
            "[VPN Connection]",
            "name=sstp",
            "service=org.freedesktop.NetworkManager.sstp",
            "program=/usr/libexec/nm-sstp-service",
            "supports-multiple-connections=true",
            "[libnm]",
            "plugin=/usr/lib/NetworkManager/libnm-vpn-plugin-sstp.so",
            "[GNOME]",
            "auth-dialog=/usr/libexec/nm-sstp-auth-dialog",
            "supports-external-ui-mode=true",
            "supports-hints=true",
        ] {
            assert!(n.lines().any(|l| l == line), "{line} missing:\n{n}");
        }
        assert!(!n.contains('@'));
        assert_eq!(
            n.lines().find_map(|l| l.strip_prefix("service=")),
            Some(crate::keys::SERVICE)
        );
    }

    #[test]
    fn packaging_paths() {
        let p = InstallPaths {
            libexecdir: "/usr/lib/NetworkManager/".into(),
            plugindir: "/usr/lib/x86_64-linux-gnu/NetworkManager".into(),
            nm_vpn_dir: "/etc/NetworkManager/VPN".into(),
            dbus_system_d: "/etc/dbus-1/system.d".into(),
        };
        let f = files(&p).unwrap();
        assert_eq!(
            f[0].0,
            Path::new("/etc/NetworkManager/VPN/nm-sstp-service.name")
        );
        assert!(f[0]
            .1
            .contains("program=/usr/lib/NetworkManager/nm-sstp-service\n"));
        assert!(f[0].1.contains(
            "plugin=/usr/lib/x86_64-linux-gnu/NetworkManager/libnm-vpn-plugin-sstp.so\n"
        ));
        assert_eq!(
            f[1].0,
            Path::new("/etc/dbus-1/system.d/nm-sstp-service.conf")
        );
        for bad in ["relative/dir", "/usr/lib\n[evil]", "/a@b"] {
            let mut q = p.clone();
            q.libexecdir = bad.into();
            assert!(name_file(&q).unwrap_err().contains("libexecdir"), "{bad}");
        }
        assert!(render("x=@NOPE@", &[]).unwrap_err().contains("@NOPE@"));
        assert_eq!(render("a@b", &[]).unwrap(), "a@b");
    }

    #[test]
    fn dbus_policy_as_the_contract() {
        let d = DBUS_POLICY;
        let root = &d[d.find("<policy user=\"root\">").unwrap()..d.find("</policy>").unwrap()];
        assert!(root.contains("<allow own_prefix=\"org.freedesktop.NetworkManager.sstp\"/>"));
        assert!(root.contains("<allow send_destination=\"org.freedesktop.NetworkManager.sstp\"/>"));
        let def = &d[d.find("<policy context=\"default\">").unwrap()..];
        assert!(def.contains("<deny own_prefix=\"org.freedesktop.NetworkManager.sstp\"/>"));
        assert!(def.contains("<deny send_destination=\"org.freedesktop.NetworkManager.sstp\"/>"));
        assert_eq!(d.matches("<policy").count(), 2);
    }

    #[test]
    fn writes_below_destdir() {
        let dir = std::env::temp_dir().join(format!("sstp-nm-install-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let w = write_files(&dir, &InstallPaths::default()).unwrap();
        assert_eq!(
            w,
            [
                dir.join("usr/lib/NetworkManager/VPN/nm-sstp-service.name"),
                dir.join("usr/share/dbus-1/system.d/nm-sstp-service.conf")
            ]
        );
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(&w[0]).unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o644);
        assert_eq!(std::fs::read_to_string(&w[1]).unwrap(), DBUS_POLICY);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
