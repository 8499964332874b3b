//! The proxy credentials file parser (`sstp-proxy-auth-file`, `--proxy-auth-file`): arbitrary
//! file contents read through a reader that returns them in fuzzer-chosen short reads. No
//! panic; the reader and the text parser agree; accepted credentials have a non-empty user name
//! and no control characters; NTLM's DOMAIN\user split never panics.
//!
//! Input: `[chunk][contents...]`, chunk = bytes per read() call (0 -> 1).
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use sstp_proxy_auth::Credentials;

/// Returns at most `chunk` bytes per read, like a pipe.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, contents)) = data.split_first() else {
        return;
    };
    let reader = Trickle {
        data: contents,
        chunk: usize::from(chunk).max(1),
    };
    let got = Credentials::from_reader(reader);
    if let Ok(text) = std::str::from_utf8(contents) {
        assert_eq!(
            got.is_ok(),
            Credentials::parse(text).is_ok(),
            "reader and parser disagree"
        );
    } else {
        assert!(got.is_err(), "non-UTF-8 accepted");
    }
    if let Ok(c) = got {
        assert!(!c.username().is_empty());
        assert!(!c.username().chars().any(char::is_control));
        assert!(!c.expose_password().chars().any(char::is_control));
        let (user, domain) = c.ntlm_user_and_domain();
        assert!(user.len() + domain.len() <= c.username().len());
        let _ = format!("{c:?}");
    }
});
