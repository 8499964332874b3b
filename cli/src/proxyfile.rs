//! Proxy credentials for `sstp connect` without putting them on pppd's command line: the
//! plugin's `sstp-proxy-auth-file FILE` option reads `user\npassword\n` from a regular file
//! owned by root that others cannot access. [`AuthFile`] is such a file, written into a fresh
//! private directory (mode 0700, file mode 0600) and removed, with its directory, on drop.

use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// File name of the credentials inside the private directory.
pub const FILE_NAME: &str = "proxy-auth";

/// Prefix of the private directory's name (in the temporary directory).
pub const DIR_PREFIX: &str = "sstp-proxy-";

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

/// Checks that the plugin will accept `user` and `password` from the file.
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

/// The file's content, `user\npassword\n` (the two-line form, so that a `:` in the user name
/// is kept). The caller wipes the returned bytes.
pub fn credentials_text(user: &str, password: &[u8]) -> Result<Vec<u8>, CredentialsError> {
    check_credentials(user, password)?;
    let mut v = Vec::with_capacity(user.len() + password.len() + 2);
    v.extend_from_slice(user.as_bytes());
    v.push(b'\n');
    v.extend_from_slice(password);
    v.push(b'\n');
    Ok(v)
}

fn wipe(b: &mut [u8]) {
    for x in b.iter_mut() {
        // SAFETY: valid exclusive reference to a byte; volatile so the wipe is kept.
        unsafe { std::ptr::write_volatile(x, 0) };
    }
}

/// A credentials file in a private directory; both are removed on drop.
#[derive(Debug)]
pub struct AuthFile {
    dir: PathBuf,
    path: PathBuf,
    len: usize,
}

impl AuthFile {
    /// Creates `<parent>/sstp-proxy-XXXXXX/proxy-auth` (directory 0700, file 0600, owned by
    /// the effective user: root when `sstp connect` runs as root) holding `user\npassword\n`.
    pub fn create(parent: &Path, user: &str, password: &[u8]) -> io::Result<AuthFile> {
        let mut text = credentials_text(user, password)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let r = AuthFile::create_with(parent, &text);
        wipe(&mut text);
        r
    }

    fn create_with(parent: &Path, text: &[u8]) -> io::Result<AuthFile> {
        let mut template = parent.join(format!("{DIR_PREFIX}XXXXXX")).into_os_string();
        let mut bytes = template.as_bytes().to_vec();
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "temporary directory path contains NUL",
            ));
        }
        bytes.push(0);
        // SAFETY: `bytes` is a writable NUL-terminated buffer ending in "XXXXXX\0"; mkdtemp
        // fills in the X's and creates the directory with mode 0700.
        let p = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
        if p.is_null() {
            return Err(io::Error::last_os_error());
        }
        bytes.pop();
        template = std::ffi::OsStr::from_bytes(&bytes).to_owned();
        let dir = PathBuf::from(template);
        let path = dir.join(FILE_NAME);
        let mut me = AuthFile { dir, path, len: 0 };
        // From here on, dropping `me` removes whatever was created.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&me.path)?;
        me.len = text.len();
        f.write_all(text)?;
        f.sync_all()?;
        Ok(me)
    }

    /// The credentials file (for `sstp-proxy-auth-file`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The private directory holding it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for AuthFile {
    fn drop(&mut self) {
        // Overwrite before unlinking (best effort: the data may still be on a journal).
        if self.len > 0 {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&self.path)
            {
                let _ = f.write_all(&vec![0u8; self.len]);
                let _ = f.sync_all();
            }
        }
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

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
    fn private_file_and_directory_removed_on_drop() {
        let parent = tempfile::tempdir().unwrap();
        let f = AuthFile::create(parent.path(), "alice", "pä ss".as_bytes()).unwrap();
        assert_eq!(
            std::fs::read(f.path()).unwrap(),
            "alice\npä ss\n".as_bytes()
        );
        let m = std::fs::symlink_metadata(f.path()).unwrap();
        assert!(m.is_file());
        assert_eq!(m.permissions().mode() & 0o7777, 0o600);
        // SAFETY: geteuid has no preconditions.
        assert_eq!(m.uid(), unsafe { libc::geteuid() });
        let d = std::fs::symlink_metadata(f.dir()).unwrap();
        assert!(d.is_dir());
        assert_eq!(d.permissions().mode() & 0o7777, 0o700);
        assert_eq!(f.dir().parent(), Some(parent.path()));
        assert!(f
            .dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(DIR_PREFIX));
        let (p, d) = (f.path().to_owned(), f.dir().to_owned());
        drop(f);
        assert!(!p.exists() && !d.exists());
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }

    #[test]
    fn bad_input_creates_nothing() {
        let parent = tempfile::tempdir().unwrap();
        assert!(AuthFile::create(parent.path(), "", b"pw").is_err());
        assert!(AuthFile::create(&parent.path().join("missing"), "u", b"pw").is_err());
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }
}
