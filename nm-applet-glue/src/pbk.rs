//! Windows `rasphone.pbk` SSTP entries (README "Import and export").
//!
//! A phonebook is an INI file of `[Entry name]` sections. What has a meaning here:
//! `Type=2` (VPN); `VpnStrategy` 5 SSTP only, 6 SSTP first, 12/13/14 PPTP/L2TP/IKEv2 then
//! SSTP (or 0 "automatic" with the `WAN Miniport (SSTP)` device); `PhoneNumber` (the
//! server) → `gateway`; `AuthRestrictions` (bit mask: PAP 0x8, MD5-CHAP 0x20, MS-CHAP 0x40
//! and 0x400, EAP 0x80, MS-CHAPv2 0x200) → the `refuse-*` keys of what it does not allow;
//! `IpPrioritizeRemote` (use the remote default gateway) → `ipv4.never-default`;
//! `PreviewUserPw=1` (ask every time) → `password-flags=2` (not saved). The user name and
//! password are not in a phonebook. `DataEncryption` is ignored: SSTP runs no MPPE.

use sstp_proto::http::sanitize;

use crate::import::{ImportError, Imported, Profile, Section};
use crate::keys::{data, GATEWAY};

const AR_PAP: u32 = 0x8;
const AR_MD5CHAP: u32 = 0x20;
const AR_MSCHAP: u32 = 0x40;
const AR_EAP: u32 = 0x80;
const AR_MSCHAP2: u32 = 0x200;
const AR_W95MSCHAP: u32 = 0x400;

/// `refuse-*` key and the `AuthRestrictions` bits that allow the method.
const AUTH_BITS: [(&str, u32); 5] = [
    ("refuse-pap", AR_PAP),
    ("refuse-chap", AR_MD5CHAP),
    ("refuse-mschap", AR_MSCHAP | AR_W95MSCHAP),
    ("refuse-mschapv2", AR_MSCHAP2),
    ("refuse-eap", AR_EAP),
];

/// `VpnStrategy` values that try SSTP.
const SSTP_STRATEGIES: [u32; 5] = [5, 6, 12, 13, 14];

/// Keys read by the mapping (the rest of an entry is listed in one "ignored" note).
const MAPPED: [&str; 10] = [
    "Type",
    "VpnStrategy",
    "PhoneNumber",
    "AuthRestrictions",
    "IpPrioritizeRemote",
    "PreviewUserPw",
    "CustomAuthKey",
    "Device",
    "PreferredDevice",
    "DEVICE",
];

fn num(s: &Section, key: &str) -> Option<u32> {
    s.get(key).and_then(|v| v.trim().parse().ok())
}

fn has_sstp_device(s: &Section) -> bool {
    ["Device", "PreferredDevice"]
        .iter()
        .filter_map(|k| s.get(k))
        .any(|d| d.contains("(SSTP)"))
}

/// Whether the entry is a VPN entry that uses SSTP.
pub fn is_sstp(s: &Section) -> bool {
    let strategy = num(s, "VpnStrategy").unwrap_or(0);
    num(s, "Type") == Some(2)
        && (SSTP_STRATEGIES.contains(&strategy) || (strategy == 0 && has_sstp_device(s)))
}

fn pick<'a>(sections: &'a [Section], entry: Option<&str>) -> Result<&'a Section, ImportError> {
    let names = || {
        let v: Vec<String> = sections
            .iter()
            .map(|s| format!("{:?}", sanitize(&s.name)))
            .collect();
        v.join(", ")
    };
    let found = match entry {
        Some(n) => sections.iter().find(|s| s.name == n),
        None => sections.iter().find(|s| is_sstp(s)),
    };
    match (found, entry) {
        (Some(s), _) if is_sstp(s) => Ok(s),
        (Some(s), _) => Err(ImportError(format!(
            "phonebook entry {:?} is not an SSTP VPN (Type={}, VpnStrategy={}): \
             only SSTP entries can be imported",
            sanitize(&s.name),
            sanitize(s.get("Type").unwrap_or("?")),
            sanitize(s.get("VpnStrategy").unwrap_or("?"))
        ))),
        (None, Some(n)) => Err(ImportError(format!(
            "no phonebook entry {:?}; the file has: {}",
            sanitize(n),
            names()
        ))),
        (None, None) => Err(ImportError(format!(
            "no SSTP VPN entry (Type=2 with VpnStrategy 5, 6, 12, 13 or 14) in the phonebook; \
             it has: {}",
            names()
        ))),
    }
}

fn auth(s: &Section, out: &mut Imported) {
    let Some(ar) = num(s, "AuthRestrictions").filter(|&ar| ar != 0) else {
        return;
    };
    for (key, bits) in AUTH_BITS {
        if ar & bits == 0 {
            out.profile.data.insert(key.to_owned(), "yes".to_owned());
        }
    }
    let eap = num(s, "CustomAuthKey").unwrap_or(0);
    if ar & AR_EAP != 0 && eap != 0 && eap != 26 {
        out.notes.push(format!(
            "EAP type {eap} (13 is EAP-TLS, 25 PEAP) is not mapped: for EAP-TLS set \
             connection-type=tls, tls-user-cert and tls-user-key"
        ));
    }
}

fn routing_and_prompt(s: &Section, out: &mut Imported) {
    match num(s, "IpPrioritizeRemote") {
        Some(0) => out.profile.never_default = Some(true),
        Some(_) => out.profile.never_default = Some(false),
        None => {}
    }
    if num(s, "PreviewUserPw") == Some(1) {
        out.profile
            .data
            .insert(data::PASSWORD_FLAGS.to_owned(), "2".to_owned());
    }
}

fn ignored_note(s: &Section) -> Option<String> {
    let mut keys: Vec<String> = s
        .entries
        .iter()
        .filter(|(k, _)| !MAPPED.contains(&k.as_str()))
        .map(|(k, _)| sanitize(k))
        .collect();
    keys.dedup();
    let n = keys.len();
    keys.truncate(12);
    (n > 0).then(|| {
        let more = if n > 12 {
            format!(" and {} more", n - 12)
        } else {
            String::new()
        };
        format!(
            "ignored {n} phonebook settings with no NetworkManager meaning: {}{more}",
            keys.join(", ")
        )
    })
}

/// Maps the chosen SSTP entry (`entry`: its name, else the first SSTP entry).
pub fn from_sections(sections: &[Section], entry: Option<&str>) -> Result<Imported, ImportError> {
    let s = pick(sections, entry)?;
    let server = s.get("PhoneNumber").map(str::trim).unwrap_or("");
    if server.is_empty() {
        return Err(ImportError(format!(
            "phonebook entry {:?} has no PhoneNumber (the server's name): check the entry",
            sanitize(&s.name)
        )));
    }
    let mut out = Imported::default();
    out.profile.id = s.name.clone();
    out.profile
        .data
        .insert(GATEWAY.to_owned(), server.to_owned());
    auth(s, &mut out);
    routing_and_prompt(s, &mut out);
    out.notes.push(
        "the user name and password are not in a phonebook: \
         nmcli connection modify ID +vpn.data user=NAME"
            .into(),
    );
    out.notes.extend(ignored_note(s));
    Ok(out)
}

fn auth_restrictions(p: &Profile) -> Option<u32> {
    let refused = |k: &str| p.data.get(k).is_some_and(|v| v == "yes");
    AUTH_BITS.iter().any(|(k, _)| refused(k)).then(|| {
        AUTH_BITS
            .iter()
            .filter(|(k, _)| !refused(k))
            .fold(0, |ar, (_, bits)| ar | (bits & !AR_W95MSCHAP))
    })
}

fn lost_keys(p: &Profile) -> Option<String> {
    let kept = |k: &str| {
        k == GATEWAY || k == data::PASSWORD_FLAGS || AUTH_BITS.iter().any(|(a, _)| *a == k)
    };
    let lost: Vec<String> = p
        .data
        .keys()
        .filter(|k| !kept(k))
        .map(|k| sanitize(k))
        .collect();
    (!lost.is_empty()).then(|| format!("a phonebook cannot hold: {}", lost.join(", ")))
}

/// Writes one SSTP entry (UTF-8, `Encoding=1`, CRLF) and notes what a phonebook cannot hold.
pub fn write(p: &Profile) -> (String, Vec<String>) {
    let name: String =
        p.id.chars()
            .map(|c| if "[]\r\n".contains(c) { '_' } else { c })
            .collect();
    let mut lines = vec![
        format!("[{name}]"),
        "Encoding=1".into(),
        "Type=2".into(),
        "VpnStrategy=5".into(),
    ];
    if let Some(ar) = auth_restrictions(p) {
        lines.push(format!("AuthRestrictions={ar}"));
    }
    if let Some(nd) = p.never_default {
        lines.push(format!("IpPrioritizeRemote={}", u8::from(!nd)));
    }
    let ask = p.data.get(data::PASSWORD_FLAGS).is_some_and(|f| f == "2");
    lines.push(format!("PreviewUserPw={}", u8::from(ask)));
    lines.extend(
        [
            "",
            "MEDIA=rastapi",
            "Port=VPN2-0",
            "Device=WAN Miniport (SSTP)",
            "",
            "DEVICE=vpn",
        ]
        .map(String::from),
    );
    lines.push(format!(
        "PhoneNumber={}",
        p.data.get(GATEWAY).map_or("", String::as_str)
    ));
    lines.push(String::new());
    let mut notes: Vec<String> = lost_keys(p).into_iter().collect();
    if p.data.get(data::PASSWORD_FLAGS).is_some_and(|f| f != "2") {
        notes.push("password-flags other than 2 (ask every time) are not in a phonebook".into());
    }
    (lines.join("\r\n") + "\r\n", notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{export, import, Format};
    use crate::settings::Dict;

    fn dict(pairs: &[(&str, &str)]) -> Dict {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Shaped like what Windows 10 writes for an SSTP entry (abridged).
    const WINDOWS: &str = "[Old PPTP]\r\nEncoding=1\r\nType=2\r\nVpnStrategy=1\r\n\r\nDEVICE=vpn\r\n\
        PhoneNumber=pptp.example.com\r\n\r\n[Corp SSTP]\r\nEncoding=1\r\nPBVersion=6\r\nType=2\r\n\
        AutoLogon=0\r\nUseRasCredentials=1\r\nGuid=CB203E1B78A99346B176D00EFFD3377D\r\nVpnStrategy=5\r\n\
        DataEncryption=256\r\nPreviewUserPw=1\r\nCustomAuthKey=26\r\nAuthRestrictions=640\r\n\
        IpPrioritizeRemote=0\r\nIpDnsSuffix=corp.example\r\n\r\nMEDIA=rastapi\r\nPort=VPN2-0\r\n\
        Device=WAN Miniport (SSTP)\r\n\r\nDEVICE=vpn\r\nPhoneNumber=vpn.corp.example\r\n\
        AreaCode=\r\n\r\n[Second SSTP]\r\nType=2\r\nVpnStrategy=6\r\nDEVICE=vpn\r\nPhoneNumber=b.example:8443\r\n";

    fn utf16(s: &str) -> Vec<u8> {
        let mut v = vec![0xff, 0xfe];
        v.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        v
    }

    #[test]
    fn first_sstp_entry_mapped() {
        let got = import(WINDOWS.as_bytes(), None).unwrap();
        assert_eq!(got.profile.id, "Corp SSTP");
        assert_eq!(got.profile.never_default, Some(true));
        // 640 = MS-CHAPv2 (0x200) | EAP (0x80)
        let want = dict(&[
            ("gateway", "vpn.corp.example"),
            ("password-flags", "2"),
            ("refuse-pap", "yes"),
            ("refuse-chap", "yes"),
            ("refuse-mschap", "yes"),
        ]);
        assert_eq!(got.profile.data, want);
        let ignored = got.notes.iter().find(|n| n.starts_with("ignored")).unwrap();
        assert!(
            ignored.contains("DataEncryption") && ignored.contains("IpDnsSuffix"),
            "{ignored}"
        );
        assert_eq!(
            import(&utf16(WINDOWS), None).unwrap(),
            got,
            "UTF-16LE with BOM"
        );
    }

    #[test]
    fn named_entry_and_errors() {
        let got = import(WINDOWS.as_bytes(), Some("Second SSTP")).unwrap();
        assert_eq!(got.profile.data, dict(&[("gateway", "b.example:8443")]));
        assert_eq!(got.profile.never_default, None);
        let e = import(WINDOWS.as_bytes(), Some("Old PPTP")).unwrap_err();
        assert!(
            e.0.contains("not an SSTP VPN") && e.0.contains("VpnStrategy=1"),
            "{e}"
        );
        let e = import(WINDOWS.as_bytes(), Some("Nope")).unwrap_err();
        assert!(e.0.contains("\"Corp SSTP\""), "{e}");
        let e = import(b"[a]\r\nType=2\r\nVpnStrategy=7\r\n", None).unwrap_err();
        assert!(e.0.contains("no SSTP VPN entry"), "{e}");
        let e = import(b"[a]\r\nType=2\r\nVpnStrategy=5\r\n", None).unwrap_err();
        assert!(e.0.contains("no PhoneNumber"), "{e}");
        let e = import(
            b"[a]\r\nType=2\r\nVpnStrategy=5\r\nPhoneNumber=a b\r\n",
            None,
        )
        .unwrap_err();
        assert!(e.0.contains("gateway"), "{e}");
    }

    #[test]
    fn automatic_strategy_with_sstp_device_and_eap_tls_note() {
        let f = "[a]\nType=2\nVpnStrategy=0\nAuthRestrictions=128\nCustomAuthKey=13\n\
                 Device=WAN Miniport (SSTP)\nPhoneNumber=h\n";
        let got = import(f.as_bytes(), None).unwrap();
        assert_eq!(
            got.profile.data.get("refuse-mschapv2").map(String::as_str),
            Some("yes")
        );
        assert!(!got.profile.data.contains_key("refuse-eap"));
        assert!(
            got.notes.iter().any(|n| n.contains("EAP type 13")),
            "{:?}",
            got.notes
        );
    }

    #[test]
    fn round_trip() {
        let p = Profile {
            id: "Corp SSTP".into(),
            data: dict(&[
                ("gateway", "vpn.corp.example"),
                ("password-flags", "2"),
                ("refuse-pap", "yes"),
                ("refuse-chap", "yes"),
            ]),
            never_default: Some(false),
        };
        let (text, notes) = export(&p, Format::Pbk).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert!(text.contains("AuthRestrictions=704\r\n"), "{text}");
        assert_eq!(import(text.as_bytes(), None).unwrap().profile, p);
        let windows = import(WINDOWS.as_bytes(), None).unwrap().profile;
        let (text, _) = export(&windows, Format::Pbk).unwrap();
        assert_eq!(import(text.as_bytes(), None).unwrap().profile, windows);
    }

    #[test]
    fn export_notes_what_is_lost() {
        let p = Profile {
            id: "x]".into(),
            data: dict(&[("gateway", "h"), ("user", "alice"), ("password-flags", "1")]),
            never_default: None,
        };
        let (text, notes) = export(&p, Format::Pbk).unwrap();
        assert!(text.starts_with("[x_]\r\n"), "{text}");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("user"));
    }
}
