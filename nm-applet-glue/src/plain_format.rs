//! Our plain profile format (README "Import and export"):
//!
//! ```text
//! # sstp-rs profile
//! [sstp]
//! format=1
//! id=Work
//! never-default=no
//!
//! [vpn.data]
//! gateway=vpn.example.com:443
//! user=alice
//! ```
//!
//! `[vpn.data]` holds the `vpn.data` keys with their stored values (utf8safe paths stay
//! escaped). Never secrets: a `[vpn.secrets]` section or a secret key is dropped on import
//! with a note, and never written. `uuid` belongs to the connection, not to the file.

use sstp_proto::http::sanitize;

use crate::import::{ImportError, Imported, Profile, Section};
use crate::keys::{self, data};

/// The first section's name.
pub const HEADER: &str = "sstp";
/// The section of the `vpn.data` keys.
pub const DATA: &str = "vpn.data";
/// The version this code writes and reads.
pub const VERSION: &str = "1";

/// Whether the file is ours: its first section is `[sstp]`.
pub fn is_plain(sections: &[Section]) -> bool {
    sections.first().is_some_and(|s| s.name == HEADER)
}

fn yes_no(key: &str, v: &str) -> Result<bool, ImportError> {
    match v.trim() {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(ImportError(format!(
            "[sstp] {key}: cannot use {:?}: expected yes or no",
            sanitize(other)
        ))),
    }
}

fn header(s: &Section, out: &mut Imported) -> Result<(), ImportError> {
    for (k, v) in &s.entries {
        match k.as_str() {
            "format" if v.trim() == VERSION => {}
            "format" => {
                return Err(ImportError(format!(
                    "[sstp] format={:?}: this sstp-rs reads format {VERSION}: \
                     export the profile again with this version",
                    sanitize(v)
                )))
            }
            "id" => out.profile.id = v.trim().to_owned(),
            "never-default" => out.profile.never_default = Some(yes_no(k, v)?),
            _ => out
                .notes
                .push(format!("[sstp] {}: unknown key, ignored", sanitize(k))),
        }
    }
    Ok(())
}

/// Whether `key` is dropped on import and never exported: secrets and the connection's uuid.
fn not_in_file(key: &str) -> bool {
    keys::SECRET_KEYS.contains(&key) || key == data::UUID || key == "name"
}

fn data_entry(k: &str, v: &str, out: &mut Imported) {
    if keys::SECRET_KEYS.contains(&k) {
        out.notes.push(format!(
            "[vpn.data] {}: secrets are never imported from a file (nmcli --ask, or vpn.secrets)",
            sanitize(k)
        ));
    } else if not_in_file(k) || !keys::is_known_data_key(k) {
        out.notes.push(format!(
            "[vpn.data] {}: not a profile key, ignored",
            sanitize(k)
        ));
    } else {
        out.profile.data.insert(k.to_owned(), v.to_owned());
    }
}

/// Reads our format.
pub fn from_sections(sections: &[Section]) -> Result<Imported, ImportError> {
    let mut out = Imported::default();
    for s in sections {
        match s.name.as_str() {
            HEADER => header(s, &mut out)?,
            DATA => s
                .entries
                .iter()
                .for_each(|(k, v)| data_entry(k, v, &mut out)),
            "vpn.secrets" => out
                .notes
                .push("[vpn.secrets]: secrets are never imported from a file, ignored".into()),
            other => out
                .notes
                .push(format!("[{}]: unknown section, ignored", sanitize(other))),
        }
    }
    Ok(out)
}

fn one_line(what: &str, s: &str) -> Result<(), ImportError> {
    if s.contains(['\n', '\r']) {
        return Err(ImportError(format!(
            "{what} holds a line break, which this format cannot store"
        )));
    }
    Ok(())
}

/// Writes our format (LF line ends). Secrets and `uuid` are left out.
pub fn write(p: &Profile) -> Result<String, ImportError> {
    one_line("the connection id", &p.id)?;
    let mut out = format!(
        "# sstp-rs profile\n[{HEADER}]\nformat={VERSION}\nid={}\n",
        p.id
    );
    if let Some(nd) = p.never_default {
        out.push_str(&format!(
            "never-default={}\n",
            if nd { "yes" } else { "no" }
        ));
    }
    out.push_str(&format!("\n[{DATA}]\n"));
    for (k, v) in p.data.iter().filter(|(k, _)| !not_in_file(k)) {
        if k.contains(['=', '[']) || k.trim() != k {
            return Err(ImportError(format!(
                "vpn.data key {:?} cannot be stored",
                sanitize(k)
            )));
        }
        one_line(&format!("vpn.data {}", sanitize(k)), v)?;
        out.push_str(&format!("{k}={v}\n"));
    }
    Ok(out)
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

    fn profile() -> Profile {
        Profile {
            id: "Work VPN".into(),
            data: dict(&[
                ("gateway", "vpn.example.com:8443"),
                ("user", "alice"),
                ("domain", "CORP"),
                ("ca-cert", "/etc/ssl/my\\040ca.pem"),
                ("refuse-pap", "yes"),
                ("password-flags", "1"),
                (
                    "sstp-cert-pin",
                    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                ),
            ]),
            never_default: Some(true),
        }
    }

    #[test]
    fn round_trip() {
        let p = profile();
        let (text, notes) = export(&p, Format::Plain).unwrap();
        assert!(notes.is_empty());
        assert!(
            text.contains("[vpn.data]\nca-cert=/etc/ssl/my\\040ca.pem\n"),
            "{text}"
        );
        let back = import(text.as_bytes(), None).unwrap();
        assert_eq!(back.profile, p);
        assert!(back.notes.is_empty(), "{:?}", back.notes);
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(import(crlf.as_bytes(), None).unwrap().profile, p);
    }

    #[test]
    fn secrets_and_uuid_never_written_nor_read() {
        let mut p = profile();
        p.data.insert("password".into(), "hunter2".into());
        p.data.insert("uuid".into(), "1234".into());
        let text = write(&p).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("uuid"),
            "{text}"
        );
        let file = "[sstp]\nid=x\n[vpn.data]\ngateway=h\npassword=hunter2\nuuid=1\nbogus=1\n\
                    [vpn.secrets]\npassword=hunter2\n[other]\n";
        let got = import(file.as_bytes(), None).unwrap();
        assert_eq!(got.profile.data, dict(&[("gateway", "h")]));
        assert_eq!(got.notes.len(), 5, "{:?}", got.notes);
        assert!(got.notes.iter().all(|n| !n.contains("hunter2")));
    }

    #[test]
    fn header_errors() {
        let e = import(b"[sstp]\nformat=2\nid=x\n[vpn.data]\ngateway=h\n", None).unwrap_err();
        assert!(e.0.contains("format"), "{e}");
        let e = import(b"[sstp]\nid=x\nnever-default=maybe\n", None).unwrap_err();
        assert!(e.0.contains("yes or no"), "{e}");
    }

    #[test]
    fn refuses_unstorable_values() {
        let mut p = profile();
        p.data.insert("user".into(), "a\nb".into());
        assert!(write(&p).unwrap_err().0.contains("line break"));
        p.id = "x\ny".into();
        assert!(write(&p).is_err());
    }
}
