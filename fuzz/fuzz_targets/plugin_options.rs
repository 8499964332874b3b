//! The plugin's option parsing: every option of `sstp_rs::settings::OPTIONS` (by name, as pppd
//! hands them over) with arbitrary values, in arbitrary order and repetition, then `check()` and
//! `tunnel_config()`. No panic; a refusal names the option; `check()` accepting means
//! `tunnel_config()` succeeds; the password read from a credentials file never appears in a
//! message (unless the fuzzer typed it into a value itself, which a message may quote).
//!
//! Input: records `[option][len][value...]`, option = index into OPTIONS (mod its length).
//! Path options (CA file/dir, proxy auth file) get their value inside a scratch directory made
//! once per process (a CA file, a directory, good and bad credentials files, a symlink), so the
//! fuzzer exercises the file checks without touching the rest of the file system.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sstp_rs::settings::{Settings, OPTIONS};

const SECRET: &str = "Fuzz-Secret-Pw";

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("sstp-fuzz-options-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("dir")).expect("scratch dir");
        std::fs::write(d.join("ca.pem"), "not really a certificate\n").expect("ca.pem");
        for (name, text, mode) in [
            ("auth", format!("user:{SECRET}\n"), 0o600),
            ("auth2", format!("DOM\\user\n{SECRET}\n"), 0o640),
            ("auth-open", format!("user:{SECRET}\n"), 0o644),
            ("auth-bad", format!("user\n{SECRET}\nextra\n"), 0o600),
            ("auth-ctl", format!("us\u{1b}er:{SECRET}\n"), 0o600),
        ] {
            let p = d.join(name);
            std::fs::write(&p, text).expect("auth file");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let _ = std::os::unix::fs::symlink(d.join("auth"), d.join("auth-link"));
        d
    })
}

fn is_path_option(name: &str) -> bool {
    matches!(
        name,
        "sstp-ca-file" | "sstp-ca-dir" | "sstp-proxy-auth-file"
    )
}

fuzz_target!(|data: &[u8]| {
    let mut s = Settings::default();
    // A message may quote what was typed; the secret must not come from the files.
    let typed_secret = String::from_utf8_lossy(data)
        .replace('\0', "")
        .contains(SECRET);
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (raw, next) = tail.split_at(n);
        rest = next;
        let name = OPTIONS[usize::from(*op) % OPTIONS.len()].name;
        // pppd hands over C strings: no NUL inside.
        let value = String::from_utf8_lossy(raw).replace('\0', "");
        let value = if is_path_option(name) {
            if value.contains("..") {
                continue;
            }
            scratch()
                .join(value.trim_start_matches('/'))
                .to_string_lossy()
                .into_owned()
        } else {
            value
        };
        if let Err(e) = s.apply_named(name, &value) {
            assert!(
                e.starts_with(name),
                "refusal of {name} does not name it: {e}"
            );
            assert!(
                typed_secret || !e.contains(SECRET),
                "password in a message: {e}"
            );
        }
    }
    match s.check() {
        Ok(()) => {
            let c = s.tunnel_config();
            assert!(
                c.is_ok(),
                "check() accepted but tunnel_config() failed: {:?}",
                c.err()
            );
        }
        Err(e) => assert!(
            typed_secret || !e.contains(SECRET),
            "password in a message: {e}"
        ),
    }
    if let Err(e) = s.tunnel_config() {
        assert!(
            typed_secret || !e.contains(SECRET),
            "password in a message: {e}"
        );
    }
});
