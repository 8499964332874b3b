//! Proxy credentials: kept out of `Debug`, wiped on drop, loaded from a file or an fd (never argv).

use std::fmt;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;

use zeroize::Zeroize;

use crate::error::CredentialsError;

/// Largest credentials file or fd content accepted.
pub const MAX_CREDENTIALS_LEN: usize = 64 * 1024;

/// Overwrite a string's whole buffer (length and spare capacity) with zeros, then empty it.
pub(crate) fn wipe_string(s: &mut String) {
    s.zeroize();
}

/// Same as [`wipe_string`] for a byte vector.
pub(crate) fn wipe_vec(v: &mut Vec<u8>) {
    v.zeroize();
}

/// Zero a fixed-size secret.
pub(crate) fn wipe_array<const N: usize>(a: &mut [u8; N]) {
    a.zeroize();
}

/// User name, password and optional NTLM domain / workstation.
///
/// `Debug` never prints the password; `Drop` overwrites the password buffer. No `PartialEq`:
/// nothing should compare passwords.
#[derive(Clone)]
pub struct Credentials {
    username: String,
    password: String,
    domain: Option<String>,
    workstation: Option<String>,
}

impl Credentials {
    /// Credentials as given. For NTLM, a `DOMAIN\user` or `user@domain` user name is split into
    /// domain and user (see [`Credentials::ntlm_user_and_domain`]); Basic and Digest send the
    /// user name exactly as given.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
            domain: None,
            workstation: None,
        }
    }

    /// Set the NTLM domain explicitly (overrides any domain found in the user name).
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Set the NTLM workstation name (default: empty).
    pub fn with_workstation(mut self, workstation: impl Into<String>) -> Self {
        self.workstation = Some(workstation.into());
        self
    }

    /// The user name as configured.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password. Named so that every use stands out in review.
    pub fn expose_password(&self) -> &str {
        &self.password
    }

    /// The NTLM workstation name ("" if unset).
    pub fn workstation(&self) -> &str {
        self.workstation.as_deref().unwrap_or("")
    }

    /// (user, domain) for NTLM: an explicit domain wins; otherwise `DOMAIN\user` gives
    /// (`user`, `DOMAIN`), `user@domain` gives (`user`, `domain`), and a plain name gives
    /// (`name`, "").
    pub fn ntlm_user_and_domain(&self) -> (&str, &str) {
        if let Some(d) = &self.domain {
            return (&self.username, d);
        }
        if let Some((d, u)) = self.username.split_once('\\') {
            return (u, d);
        }
        if let Some((u, d)) = self.username.rsplit_once('@') {
            return (u, d);
        }
        (&self.username, "")
    }

    /// Parse `user\npassword\n` (two lines; further lines must be empty) or `user:password`
    /// (one line; the password may contain ':'). A trailing CR on each line is dropped.
    pub fn parse(text: &str) -> Result<Self, CredentialsError> {
        let mut lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let (user, pass) = match lines.as_slice() {
            [one] => one.split_once(':').ok_or(CredentialsError::BadFormat)?,
            [user, pass] => (*user, *pass),
            _ => return Err(CredentialsError::BadFormat),
        };
        if user.is_empty() {
            return Err(CredentialsError::EmptyUser);
        }
        if user.chars().chain(pass.chars()).any(char::is_control) {
            return Err(CredentialsError::ControlCharacter);
        }
        Ok(Credentials::new(user, pass))
    }

    /// Read and parse at most [`MAX_CREDENTIALS_LEN`] bytes from `reader`.
    pub fn from_reader(reader: impl Read) -> Result<Self, CredentialsError> {
        // Sized for the largest accepted content: read_to_end never reallocates, so no unwiped
        // copy of a partial read is left on the heap.
        let mut buf = Vec::with_capacity(MAX_CREDENTIALS_LEN + 1);
        let res = reader
            .take(MAX_CREDENTIALS_LEN as u64 + 1)
            .read_to_end(&mut buf);
        let out = match res {
            Err(e) => Err(CredentialsError::Io(e)),
            Ok(_) if buf.len() > MAX_CREDENTIALS_LEN => Err(CredentialsError::TooLarge {
                max: MAX_CREDENTIALS_LEN,
            }),
            Ok(_) => match std::str::from_utf8(&buf) {
                Ok(text) => Self::parse(text),
                Err(_) => Err(CredentialsError::NotUtf8),
            },
        };
        wipe_vec(&mut buf);
        out
    }

    /// Read credentials from a file (see [`Credentials::parse`] for the format).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, CredentialsError> {
        let f = std::fs::File::open(path)?;
        Self::from_reader(f)
    }

    /// Read credentials from an inherited file descriptor (a pipe from NetworkManager, or
    /// `3<file`), read to its end and closed. (Turning an fd number into an `OwnedFd` is the
    /// caller's `unsafe { OwnedFd::from_raw_fd(n) }`; this crate forbids `unsafe`.)
    pub fn from_fd(fd: OwnedFd) -> Result<Self, CredentialsError> {
        Self::from_reader(std::fs::File::from(fd))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .field("workstation", &self.workstation)
            .finish()
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        self.password.zeroize();
        self.username.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn debug_never_prints_the_password() {
        let c = Credentials::new("alice", "s3cr3t-pw").with_domain("CORP");
        let d = format!("{c:?} {c:#?}");
        assert!(!d.contains("s3cr3t-pw"), "{d}");
        assert!(d.contains("alice") && d.contains("<redacted>") && d.contains("CORP"));
    }

    #[test]
    fn wipe_zeroes_the_buffer_in_place() {
        let mut v = b"password".to_vec();
        v.reserve(8);
        let cap = v.capacity();
        wipe_vec(&mut v);
        assert!(v.is_empty());
        assert_eq!(
            v.capacity(),
            cap,
            "no reallocation, so the old bytes were overwritten"
        );
        v.resize(cap, 0xff);
        v.clear();
        let mut s = String::from("secret");
        wipe_string(&mut s);
        assert!(s.is_empty());
        let mut a = [7u8; 16];
        wipe_array(&mut a);
        assert_eq!(a, [0; 16]);
    }

    #[test]
    fn parse_two_lines_and_colon_forms() {
        let c = Credentials::parse("bob\npa:ss word\n").unwrap();
        assert_eq!((c.username(), c.expose_password()), ("bob", "pa:ss word"));
        let c = Credentials::parse("bob\r\npw\r\n\r\n").unwrap();
        assert_eq!((c.username(), c.expose_password()), ("bob", "pw"));
        let c = Credentials::parse("bob:pa:ss\n").unwrap();
        assert_eq!((c.username(), c.expose_password()), ("bob", "pa:ss"));
        let c = Credentials::parse("bob:").unwrap();
        assert_eq!((c.username(), c.expose_password()), ("bob", ""));
        let c = Credentials::parse("bob\n\n").unwrap_err();
        assert!(matches!(c, CredentialsError::BadFormat), "{c}");
        assert!(matches!(
            Credentials::parse("bob\n").unwrap_err(),
            CredentialsError::BadFormat
        ));
        assert!(matches!(
            Credentials::parse(":pw").unwrap_err(),
            CredentialsError::EmptyUser
        ));
        assert!(matches!(
            Credentials::parse("a\nb\nc").unwrap_err(),
            CredentialsError::BadFormat
        ));
        assert!(matches!(
            Credentials::parse("a:b\0c").unwrap_err(),
            CredentialsError::ControlCharacter
        ));
        assert!(matches!(
            Credentials::parse("").unwrap_err(),
            CredentialsError::BadFormat
        ));
    }

    #[test]
    fn ntlm_domain_forms() {
        let c = Credentials::new("CORP\\alice", "p");
        assert_eq!(c.ntlm_user_and_domain(), ("alice", "CORP"));
        let c = Credentials::new("alice@corp.example", "p");
        assert_eq!(c.ntlm_user_and_domain(), ("alice", "corp.example"));
        let c = Credentials::new("alice", "p");
        assert_eq!(c.ntlm_user_and_domain(), ("alice", ""));
        let c = Credentials::new("CORP\\alice", "p").with_domain("OTHER");
        assert_eq!(c.ntlm_user_and_domain(), ("CORP\\alice", "OTHER"));
    }

    #[test]
    fn from_file_and_fd() {
        let dir = std::env::temp_dir().join(format!("proxy-auth-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("creds");
        std::fs::write(&path, "carol\nhunter2\n").unwrap();
        let c = Credentials::from_file(&path).unwrap();
        assert_eq!((c.username(), c.expose_password()), ("carol", "hunter2"));

        // An fd, as a parent process would hand it over.
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"dave:pw with spaces").unwrap();
        drop(f);
        let fd = OwnedFd::from(std::fs::File::open(&path).unwrap());
        let c = Credentials::from_fd(fd).unwrap();
        assert_eq!(
            (c.username(), c.expose_password()),
            ("dave", "pw with spaces")
        );

        std::fs::write(&path, vec![b'a'; MAX_CREDENTIALS_LEN + 1]).unwrap();
        assert!(matches!(
            Credentials::from_file(&path).unwrap_err(),
            CredentialsError::TooLarge { .. }
        ));
        std::fs::write(&path, [0xff, b':', b'x']).unwrap();
        assert!(matches!(
            Credentials::from_file(&path).unwrap_err(),
            CredentialsError::NotUtf8
        ));
        assert!(matches!(
            Credentials::from_file(dir.join("missing")).unwrap_err(),
            CredentialsError::Io(_)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
