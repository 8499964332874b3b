//! Import and export of SSTP profiles (the libnm editor plugin's logic, pure): our plain
//! format ([`crate::plain_format`]) and Windows `rasphone.pbk` entries ([`crate::pbk`]).
//!
//! A [`Profile`] is what a file can carry: the connection id, `vpn.data` and
//! `ipv4.never-default`. Secrets are never read from nor written to a file. Every string
//! from a file goes through `sanitize` before it reaches a note or an error.

use std::fmt;

use sstp_proto::http::sanitize;

use crate::settings::{Dict, NmSettings};
use crate::{pbk, plain_format};

/// Largest file accepted (a phonebook with many entries is well below this).
pub const MAX_FILE: usize = 1 << 20;

/// What an import file or an export carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// `connection.id`.
    pub id: String,
    /// `vpn.data`.
    pub data: Dict,
    /// `ipv4.never-default` (`Some(true)`: split tunnel), `None` when the file does not say.
    pub never_default: Option<bool>,
}

/// An imported profile and what was dropped or needs the user's attention (sanitized).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// The profile.
    pub profile: Profile,
    /// One sentence per ignored or unmapped setting.
    pub notes: Vec<String>,
}

/// An import or export that cannot be done: what happened and what to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError(pub String);

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ImportError {}

/// The file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Ours: `[sstp]` + `[vpn.data]` (see README "Import and export").
    Plain,
    /// Windows `rasphone.pbk`.
    Pbk,
}

impl Format {
    /// The format an export to `path` writes: `.pbk` (any case) is a phonebook, the rest ours.
    pub fn for_path(path: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".pbk") {
            Format::Pbk
        } else {
            Format::Plain
        }
    }
}

/// One `[name]` section with its `key=value` lines in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets.
    pub name: String,
    /// `key=value` pairs (key trimmed, value as written).
    pub entries: Vec<(String, String)>,
}

impl Section {
    /// The first value of `key` (exact spelling).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes a file: UTF-16LE with BOM (what Windows may write), UTF-8 with or without BOM;
/// anything else is refused.
pub fn decode(bytes: &[u8]) -> Result<String, ImportError> {
    if bytes.len() > MAX_FILE {
        return Err(ImportError(format!(
            "the file has {} bytes, more than the {MAX_FILE} an SSTP profile or phonebook \
             can need: check that it is the right file",
            bytes.len()
        )));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xff, 0xfe]) {
        return utf16le(rest);
    }
    if bytes.starts_with(&[0xfe, 0xff]) {
        return Err(ImportError(
            "the file is UTF-16 big-endian: save it as UTF-16LE (Windows' \"Unicode\") or UTF-8"
                .into(),
        ));
    }
    let rest = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(bytes);
    String::from_utf8(rest.to_vec()).map_err(|e| {
        ImportError(format!(
            "the file is not UTF-8 (bad byte at offset {}): save it as UTF-8 or UTF-16 \
             (a phonebook with Encoding=1 is UTF-8)",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn utf16le(b: &[u8]) -> Result<String, ImportError> {
    if b.len() % 2 != 0 {
        return Err(ImportError(
            "the UTF-16 file has an odd number of bytes: it is truncated".into(),
        ));
    }
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| {
        ImportError("the UTF-16 file holds an invalid character: it is damaged".into())
    })
}

/// Splits INI text (LF or CRLF) into sections; `#` and `;` lines are comments. Lines before
/// the first section and lines without `=` become notes.
pub fn parse_ini(text: &str) -> (Vec<Section>, Vec<String>) {
    let mut sections: Vec<Section> = Vec::new();
    let mut notes = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            sections.push(Section {
                name: name.trim().to_owned(),
                entries: Vec::new(),
            });
            continue;
        }
        match (line.split_once('='), sections.last_mut()) {
            (Some((k, v)), Some(s)) => s.entries.push((k.trim().to_owned(), v.to_owned())),
            _ => notes.push(format!("line {}: ignored {:?}", n + 1, sanitize(t))),
        }
    }
    (sections, notes)
}

/// Imports a file's bytes: our plain format when its first section is `[sstp]`, else a
/// phonebook (`entry`: the entry's name, else the first SSTP entry). The result is checked
/// as the service would read it.
pub fn import(bytes: &[u8], entry: Option<&str>) -> Result<Imported, ImportError> {
    let text = decode(bytes)?;
    let (sections, mut notes) = parse_ini(&text);
    let mut imported = if plain_format::is_plain(&sections) {
        plain_format::from_sections(&sections)?
    } else {
        pbk::from_sections(&sections, entry)?
    };
    notes.append(&mut imported.notes);
    imported.notes = notes;
    check(&imported.profile)?;
    Ok(imported)
}

/// Refuses a profile the service could not use (missing or bad `gateway`, a bad value), so
/// that an import never creates a connection that fails later.
pub fn check(p: &Profile) -> Result<(), ImportError> {
    if p.id.trim().is_empty() {
        return Err(ImportError(
            "the profile has no name (connection id)".into(),
        ));
    }
    NmSettings::parse(&p.data, &Dict::new())
        .map(|_| ())
        .map_err(|e| ImportError(format!("the imported profile cannot be used: {e}")))
}

/// Exports `p` as `format`: the text and the notes on what the format cannot carry.
pub fn export(p: &Profile, format: Format) -> Result<(String, Vec<String>), ImportError> {
    check(p)?;
    match format {
        Format::Plain => plain_format::write(p).map(|t| (t, Vec::new())),
        Format::Pbk => Ok(pbk::write(p)),
    }
}

/// The file name offered for an export of connection `id`.
pub fn suggested_filename(id: &str) -> String {
    let stem: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = if stem.trim_matches('.').is_empty() {
        "sstp".to_owned()
    } else {
        stem
    };
    format!("{stem}.sstp")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        let mut v = vec![0xff, 0xfe];
        v.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        v
    }

    #[test]
    fn decodes_utf16le_bom_utf8_bom_and_plain_utf8() {
        assert_eq!(decode(&utf16("[a]\r\nx=é\r\n")).unwrap(), "[a]\r\nx=é\r\n");
        assert_eq!(decode(b"\xef\xbb\xbf[a]").unwrap(), "[a]");
        assert_eq!(decode(b"[a]").unwrap(), "[a]");
        assert!(decode(b"[a]\xff").unwrap_err().0.contains("not UTF-8"));
        assert!(decode(&[0xff, 0xfe, 0x41]).unwrap_err().0.contains("odd"));
        assert!(decode(&[0xfe, 0xff, 0, 0x41])
            .unwrap_err()
            .0
            .contains("big-endian"));
        assert!(decode(&vec![b'a'; MAX_FILE + 1])
            .unwrap_err()
            .0
            .contains("more than"));
    }

    #[test]
    fn ini_sections_crlf_comments_and_stray_lines() {
        let (s, notes) = parse_ini("stray\r\n; c\r\n[ A b ]\r\nk = v \r\n#x\r\nnoeq\r\n[B]\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "A b");
        assert_eq!(s[0].get("k"), Some(" v "));
        assert!(s[1].entries.is_empty());
        assert_eq!(notes.len(), 2, "{notes:?}");
        let (_, notes) = parse_ini("[a]\n\u{1b}[31m\n");
        assert!(!notes[0].contains('\u{1b}'), "sanitized: {notes:?}");
    }

    #[test]
    fn format_by_extension_and_suggested_name() {
        assert_eq!(Format::for_path("/tmp/x.PBK"), Format::Pbk);
        assert_eq!(Format::for_path("/tmp/x.sstp"), Format::Plain);
        assert_eq!(suggested_filename("Work VPN/1"), "Work_VPN_1.sstp");
        assert_eq!(suggested_filename(".."), "sstp.sstp");
    }

    #[test]
    fn import_refuses_unusable_profiles() {
        let e = import(b"[sstp]\nid=x\n[vpn.data]\nuser=a\n", None).unwrap_err();
        assert!(e.0.contains("gateway"), "{e}");
        let e = import(b"[sstp]\nid=\n[vpn.data]\ngateway=h\n", None).unwrap_err();
        assert!(e.0.contains("no name"), "{e}");
    }
}
