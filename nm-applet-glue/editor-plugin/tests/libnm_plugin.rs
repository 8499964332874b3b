//! The editor plugin as nmcli uses it: `c/plugin-probe.c` loads the built .so with libnm's
//! `nm_vpn_editor_plugin_load_from_file` (dlopen, owner check, `nm_vpn_editor_plugin_factory`,
//! service check), imports into an `NMConnection`, normalizes and verifies it, exports and
//! imports again. No NetworkManager daemon is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn plugin_so() -> PathBuf {
    // The test runs from target/<profile>/deps/, where `cargo test` leaves the cdylib; only
    // `cargo build` also copies it up to target/<profile>/.
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let candidates = [deps.to_path_buf(), deps.parent().unwrap().to_path_buf()];
    candidates
        .iter()
        .map(|d| d.join("libnm_vpn_plugin_sstp.so"))
        .find(|so| so.exists())
        .unwrap_or_else(|| panic!("libnm_vpn_plugin_sstp.so not built in {candidates:?}"))
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("libnm_plugin")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the probe: (exit code, `key=value` lines, stderr).
fn probe(args: &[&Path]) -> (i32, BTreeMap<String, String>, String) {
    let out = Command::new(env!("SSTP_NM_PLUGIN_PROBE"))
        .arg(plugin_so())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The items of one import (`first` or `second`), without the tag.
fn part(lines: &BTreeMap<String, String>, tag: &str) -> BTreeMap<String, String> {
    let prefix = format!("{tag}.");
    lines
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_owned(), v.clone())))
        .collect()
}

fn utf16le_bom(s: &str) -> Vec<u8> {
    let mut v = vec![0xff, 0xfe];
    v.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

const PHONEBOOK: &str = "[Old PPTP]\r\nType=2\r\nVpnStrategy=1\r\nDEVICE=vpn\r\nPhoneNumber=old.example\r\n\r\n\
    [Corp SSTP]\r\nEncoding=1\r\nPBVersion=6\r\nType=2\r\nVpnStrategy=6\r\nDataEncryption=256\r\n\
    PreviewUserPw=1\r\nAuthRestrictions=512\r\nIpPrioritizeRemote=0\r\n\r\nMEDIA=rastapi\r\n\
    Port=VPN2-0\r\nDevice=WAN Miniport (SSTP)\r\n\r\nDEVICE=vpn\r\nPhoneNumber=vpn.corp.example\r\n";

#[test]
fn plugin_loads_like_nmcli_loads_it() {
    let (rc, l, _) = probe(&[Path::new("info")]);
    assert_eq!(rc, 0, "{l:?}");
    assert_eq!(l["service"], "org.freedesktop.NetworkManager.sstp");
    assert_eq!(l["capabilities"], "7", "IMPORT|EXPORT|IPV6");
    assert_eq!(l["suggested"], "Work_VPN.sstp");
    assert!(l["editor-error"].contains("no GTK editor"), "{l:?}");
}

#[test]
fn phonebook_utf16_imports_and_round_trips() {
    let d = scratch("pbk");
    let (pbk, out) = (d.join("rasphone.pbk"), d.join("export.pbk"));
    std::fs::write(&pbk, utf16le_bom(PHONEBOOK)).unwrap();
    let (rc, l, stderr) = probe(&[Path::new("roundtrip"), &pbk, &out]);
    assert_eq!(rc, 0, "{l:?} {stderr}");
    let first = part(&l, "first");
    let want: BTreeMap<String, String> = [
        ("id", "Corp SSTP"),
        ("type", "vpn"),
        ("service-type", "org.freedesktop.NetworkManager.sstp"),
        ("never-default", "1"),
        ("secrets", "0"),
        ("data.gateway", "vpn.corp.example"),
        ("data.password-flags", "2"),
        ("data.refuse-pap", "yes"),
        ("data.refuse-chap", "yes"),
        ("data.refuse-mschap", "yes"),
        ("data.refuse-eap", "yes"),
        ("verify", "ok"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(first, want);
    assert_eq!(
        part(&l, "second"),
        first,
        "export then import gives the same settings"
    );
    assert!(
        stderr.contains("DataEncryption"),
        "the ignored keys are reported: {stderr}"
    );
    let exported = std::fs::read_to_string(&out).unwrap();
    assert!(exported.contains("VpnStrategy=5\r\n"), "{exported}");
}

#[test]
fn plain_format_round_trips_without_secrets() {
    let d = scratch("plain");
    let (f, out) = (d.join("work.sstp"), d.join("export.sstp"));
    let text = "# exported\n[sstp]\nformat=1\nid=Work\nnever-default=yes\n\n[vpn.data]\n\
                gateway=vpn.example.com:8443\nuser=alice\ndomain=CORP\nca-cert=/etc/ssl/a\\040b.pem\n\
                tls-ext=yes\nsstp-cert-pin=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n\
                password=hunter2\n[vpn.secrets]\npassword=hunter2\n";
    std::fs::write(&f, text).unwrap();
    let (rc, l, stderr) = probe(&[Path::new("roundtrip"), &f, &out]);
    assert_eq!(rc, 0, "{l:?} {stderr}");
    let first = part(&l, "first");
    assert_eq!(first["id"], "Work");
    assert_eq!(first["never-default"], "1");
    assert_eq!(first["data.ca-cert"], "/etc/ssl/a\\040b.pem");
    assert_eq!(first["data.sstp-cert-pin"].len(), 71);
    assert_eq!(first["secrets"], "0");
    assert_eq!(
        first.keys().filter(|k| k.starts_with("data.")).count(),
        6,
        "{first:?}"
    );
    assert_eq!(part(&l, "second"), first);
    let exported = std::fs::read_to_string(&out).unwrap();
    assert!(
        !exported.contains("hunter2") && !stderr.contains("hunter2"),
        "{exported}{stderr}"
    );
}

#[test]
fn unusable_files_are_clear_errors() {
    let d = scratch("bad");
    let cases = [
        (
            "ikev2.pbk",
            "[Home]\r\nType=2\r\nVpnStrategy=7\r\nPhoneNumber=h\r\n",
            "no SSTP VPN entry",
        ),
        ("nogw.sstp", "[sstp]\nid=x\n[vpn.data]\nuser=a\n", "gateway"),
        ("missing.sstp", "", "cannot read"),
    ];
    for (name, body, want) in cases {
        let f = d.join(name);
        if !body.is_empty() {
            std::fs::write(&f, body).unwrap();
        }
        let (rc, l, _) = probe(&[Path::new("import"), &f]);
        assert_eq!(rc, 1, "{name}: {l:?}");
        assert!(l["error"].contains(want), "{name}: {l:?}");
    }
}
