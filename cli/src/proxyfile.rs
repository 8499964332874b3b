//! Proxy credentials for `sstp connect` without putting them on pppd's command line or on
//! disk: the plugin's `sstp-proxy-auth-fd N` option (privileged, like `sstp-ipc-fd`) reads
//! `user\npassword\n` from the inherited fd N until end of file while pppd parses its options.
//! [`auth_pipe`] is such a pipe, already written and closed on the writing side: nothing
//! outlives a crash of this program or of pppd.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;

use zeroize::Zeroizing;

use crate::password;

/// Why the credentials cannot be written in the plugin's format.
#[derive(Debug, PartialEq, Eq)]
pub enum CredentialsError {
    /// No user name (neither `--proxy-user` nor `http://USER@HOST`).
    NoUser,
    /// The user name has a control character or a `:` only format cannot express.
    BadUser,
    /// The password is not UTF-8 or has a control character (the plugin refuses both).
    BadPassword,
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialsError::NoUser => {
                "a proxy password needs a user: --proxy-user USER or http://USER@HOST"
            }
            CredentialsError::BadUser => "the proxy user name contains a control character",
            CredentialsError::BadPassword => {
                "the proxy password must be UTF-8 without control characters"
            }
        })
    }
}

/// Checks that the plugin will accept `user` and `password` in its format.
pub fn check_credentials(user: &str, password: &[u8]) -> Result<(), CredentialsError> {
    if user.is_empty() {
        return Err(CredentialsError::NoUser);
    }
    if user.chars().any(char::is_control) {
        return Err(CredentialsError::BadUser);
    }
    let pw = std::str::from_utf8(password).map_err(|_| CredentialsError::BadPassword)?;
    if pw.is_empty() || pw.chars().any(char::is_control) {
        return Err(CredentialsError::BadPassword);
    }
    Ok(())
}

/// The plugin's format, `user\npassword\n` (the two-line form, so that a `:` in the user name
/// is kept). Sized exactly (no reallocation leaves a copy); the caller wipes the bytes.
pub fn credentials_text(user: &str, password: &[u8]) -> Result<Vec<u8>, CredentialsError> {
    check_credentials(user, password)?;
    let mut v = Vec::with_capacity(user.len() + password.len() + 2);
    v.extend_from_slice(user.as_bytes());
    v.push(b'\n');
    v.extend_from_slice(password);
    v.push(b'\n');
    Ok(v)
}

/// A pipe holding `user\npassword\n` for `sstp-proxy-auth-fd` (see [`password::secret_pipe`]).
pub fn auth_pipe(user: &str, password: &[u8]) -> io::Result<OwnedFd> {
    let text = Zeroizing::new(
        credentials_text(user, password)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?,
    );
    password::secret_pipe(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_two_lines_and_checked() {
        assert_eq!(
            credentials_text("DOM\\u:x", b"p:w d").unwrap(),
            b"DOM\\u:x\np:w d\n"
        );
        assert_eq!(credentials_text("", b"pw"), Err(CredentialsError::NoUser));
        assert_eq!(
            credentials_text("a\tb", b"pw"),
            Err(CredentialsError::BadUser)
        );
        for bad in [&b"\xff"[..], b"a\x1bb", b""] {
            assert_eq!(
                credentials_text("u", bad),
                Err(CredentialsError::BadPassword)
            );
        }
    }

    #[test]
    fn pipe_carries_the_two_lines_and_ends() {
        use std::io::Read;
        let r = auth_pipe("CORP\\bob", "pä ss".as_bytes()).unwrap();
        let flags = nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert!(
            nix::fcntl::FdFlag::from_bits_truncate(flags).contains(nix::fcntl::FdFlag::FD_CLOEXEC),
            "close-on-exec until the spawn"
        );
        let mut got = Vec::new();
        std::fs::File::from(r).read_to_end(&mut got).unwrap();
        assert_eq!(got, "CORP\\bob\npä ss\n".as_bytes());
        assert!(auth_pipe("", b"pw").is_err());
        assert!(auth_pipe("u", b"a\nb").is_err());
    }
}
