//! NetworkManager's "utf8safe" escaping of paths in `vpn.data` (`ca-cert`, `tls-*`).
//!
//! network-manager-sstp stores paths with `nm_utils_str_utf8safe_escape` and reads them with
//! `nm_utils_str_utf8safe_unescape_cp`, which is GLib's `g_strcompress`. [`unescape`] does
//! exactly what `g_strcompress` does, byte for byte, so that a path (possibly not UTF-8) reaches
//! pppd as network-manager-sstp would have passed it:
//!
//! - `\` + 1..3 octal digits is that byte (values above 0o377 wrap, as a C `char` does);
//! - `\b \f \n \r \t \v` are the control characters;
//! - `\` + any other character is that character (so `\\` is `\`);
//! - a trailing lone `\` ends the string;
//! - the result is a C string: it ends at the first NUL byte (`\0`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// Unescapes `s` like `g_strcompress` (see the module documentation).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&c) = b.get(i) else { break };
        if (b'0'..=b'7').contains(&c) {
            let (byte, used) = octal(&b[i..]);
            out.push(byte);
            i += used;
            continue;
        }
        out.push(match c {
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            other => other,
        });
        i += 1;
    }
    if let Some(nul) = out.iter().position(|&x| x == 0) {
        out.truncate(nul);
    }
    out
}

/// Up to three octal digits at the start of `b` (at least one is there): the byte, wrapped to
/// 8 bits as `g_strcompress` does, and how many digits were used.
fn octal(b: &[u8]) -> (u8, usize) {
    let mut v: u8 = 0;
    let mut used = 0;
    for &d in b.iter().take(3) {
        if !(b'0'..=b'7').contains(&d) {
            break;
        }
        v = v.wrapping_mul(8).wrapping_add(d - b'0');
        used += 1;
    }
    (v, used)
}

/// The unescaped path (any bytes; paths need not be UTF-8).
pub fn unescape_path(s: &str) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(s)))
}

/// Escapes like `nm_utils_str_utf8safe_escape` with no flags: `\` becomes `\\`, each byte of
/// an invalid UTF-8 sequence becomes `\ooo`; everything else is kept. For writing profiles.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(ch);
            }
        }
        for &bad in chunk.invalid() {
            out.push_str(&format!("\\{bad:03o}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_are_unchanged() {
        assert_eq!(unescape("/etc/ssl/corp ca.pem"), b"/etc/ssl/corp ca.pem");
        assert_eq!(unescape("/home/zoë/ca.pem"), "/home/zoë/ca.pem".as_bytes());
        assert_eq!(unescape(""), b"");
    }

    #[test]
    fn backslash_escapes_as_g_strcompress() {
        assert_eq!(unescape(r"C:\\certs"), br"C:\certs");
        assert_eq!(
            unescape(r"a\nb\tc\rd\be\ff\vg"),
            b"a\nb\tc\rd\x08e\x0cf\x0bg"
        );
        // Any other escaped character is itself (\" \' \q).
        assert_eq!(unescape(r#"\"q\'\q"#), br#""q'q"#);
        // Trailing backslash: dropped, string ends.
        assert_eq!(unescape("abc\\"), b"abc");
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape(r"\303\251"), "é".as_bytes());
        assert_eq!(unescape(r"/tmp/\377x"), b"/tmp/\xffx");
        // One or two digits, then a non-octal character.
        assert_eq!(unescape(r"\7x\18"), b"\x07x\x018");
        // At most three digits: \1234 is \123 then '4'.
        assert_eq!(unescape(r"\1234"), b"S4");
        // Above 0o377 wraps like a C char: \777 = 0x1ff -> 0xff.
        assert_eq!(unescape(r"\777"), b"\xff");
        // 8 and 9 are not octal: "\8" is '8'.
        assert_eq!(unescape(r"\8\9"), b"89");
    }

    #[test]
    fn nul_ends_the_c_string() {
        assert_eq!(unescape(r"/etc/a\0/b"), b"/etc/a");
        assert_eq!(unescape(r"\000rest"), b"");
    }

    #[test]
    fn escape_round_trips_and_matches_nm() {
        assert_eq!(escape(br"C:\x"), r"C:\\x");
        assert_eq!(escape(b"/tmp/\xff\xfe.pem"), r"/tmp/\377\376.pem");
        assert_eq!(escape("zoë".as_bytes()), "zoë");
        for raw in [
            &b"/a\\b/\xc3\x28/\xe2\x82"[..],
            b"plain",
            "ünï/\\".as_bytes(),
        ] {
            assert_eq!(unescape(&escape(raw)), raw, "{raw:?}");
        }
        assert_eq!(
            unescape_path(r"/tmp/\377"),
            PathBuf::from(OsString::from_vec(b"/tmp/\xff".to_vec()))
        );
    }
}
