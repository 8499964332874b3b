//! The PPP password: read from a file or prompted on the terminal without echo, and handed to
//! pppd through an inherited pipe (`passwordfd.so`), never on argv.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// pppd's MAXSECRETLEN is 256 including the terminating NUL.
pub const MAX_PASSWORD_LEN: usize = 255;

/// A password; wiped on drop, never shown by `Debug`.
pub struct Password(Vec<u8>);

impl Password {
    /// Validates and wraps `bytes` (no NUL, CR or LF; 1..=255 bytes).
    pub fn new(bytes: Vec<u8>) -> Result<Password, PasswordError> {
        let p = Password(bytes);
        if p.0.is_empty() {
            return Err(PasswordError::Empty);
        }
        if p.0.len() > MAX_PASSWORD_LEN {
            return Err(PasswordError::TooLong(p.0.len()));
        }
        if p.0.iter().any(|b| matches!(b, 0 | b'\n' | b'\r')) {
            return Err(PasswordError::BadByte);
        }
        Ok(p)
    }

    /// The bytes (for the pipe).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference to a byte of the vector; a
            // volatile write keeps the compiler from eliding the wipe.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Why no password could be obtained.
#[derive(Debug)]
pub enum PasswordError {
    /// The password is empty.
    Empty,
    /// Longer than pppd accepts.
    TooLong(usize),
    /// Contains NUL, CR or LF in the middle.
    BadByte,
    /// Reading the file or the terminal failed.
    Io(String),
    /// No terminal to prompt on.
    NoTerminal,
    /// Ctrl-C (or another signal) during the prompt.
    Interrupted,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::Empty => f.write_str("the password is empty"),
            PasswordError::TooLong(n) => write!(
                f,
                "the password is {n} bytes long; pppd accepts at most {MAX_PASSWORD_LEN}"
            ),
            PasswordError::BadByte => {
                f.write_str("the password contains a NUL or line-break character")
            }
            PasswordError::Io(s) => f.write_str(s),
            PasswordError::NoTerminal => f.write_str(
                "no terminal to ask for the password on: use --password-file FILE (or - for \
                 standard input)",
            ),
            PasswordError::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// The first line of `r` (without its line break), as the password.
pub fn from_reader(mut r: impl Read) -> Result<Password, PasswordError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    // Read at most one line plus a little; a password file is small.
    while buf.len() <= MAX_PASSWORD_LEN + 2 && !buf.contains(&b'\n') {
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                wipe(&mut buf);
                wipe(&mut chunk);
                return Err(PasswordError::Io(format!("reading the password: {e}")));
            }
        }
    }
    wipe(&mut chunk);
    let end = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
    let mut line: Vec<u8> = buf[..end].to_vec();
    wipe(&mut buf);
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Password::new(line)
}

/// Reads the password file (`-` is standard input). Returns a warning when the file can be read
/// by group or others.
pub fn from_file(path: &Path) -> Result<(Password, Option<String>), PasswordError> {
    if path == Path::new("-") {
        return from_reader(io::stdin().lock()).map(|p| (p, None));
    }
    let f = File::open(path)
        .map_err(|e| PasswordError::Io(format!("--password-file {}: {e}", path.display())))?;
    let warning = f.metadata().ok().and_then(|m| {
        use std::os::unix::fs::PermissionsExt;
        let mode = m.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "warning: {} is readable by other users (mode {:o}); chmod 600 it",
                path.display(),
                mode & 0o777
            )
        })
    });
    from_reader(f).map(|p| (p, warning))
}

fn wipe(b: &mut [u8]) {
    for x in b.iter_mut() {
        // SAFETY: valid exclusive reference to a byte; volatile so the wipe is kept.
        unsafe { std::ptr::write_volatile(x, 0) };
    }
}

/// Restores the terminal mode when dropped.
struct EchoOff {
    fd: i32,
    saved: libc::termios,
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: `saved` was filled by tcgetattr on this same open fd.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
    }
}

/// Prompts on the controlling terminal (`/dev/tty`) with echo off and reads one line.
/// `interrupted` is polled when a signal interrupts the read (install handlers without
/// `SA_RESTART` so that Ctrl-C ends the prompt with [`PasswordError::Interrupted`]).
pub fn prompt(text: &str, interrupted: &dyn Fn() -> bool) -> Result<Password, PasswordError> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| PasswordError::NoTerminal)?;
    let fd = tty.as_raw_fd();
    // SAFETY: isatty only inspects the fd.
    if unsafe { libc::isatty(fd) } != 1 {
        return Err(PasswordError::NoTerminal);
    }
    // SAFETY: termios is plain old data; zeroed is a valid bit pattern to be overwritten.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is an open terminal, `saved` a valid out-pointer.
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(PasswordError::NoTerminal);
    }
    tty.write_all(text.as_bytes())
        .and_then(|_| tty.flush())
        .map_err(|e| PasswordError::Io(format!("writing the prompt: {e}")))?;
    let mut quiet = saved;
    quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
    quiet.c_lflag |= libc::ICANON;
    let guard = EchoOff { fd, saved };
    // SAFETY: fd is an open terminal and `quiet` a valid termios.
    if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
        return Err(PasswordError::Io(format!(
            "cannot turn off echo: {}",
            io::Error::last_os_error()
        )));
    }
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let result = loop {
        match tty.read(&mut byte) {
            Ok(0) => break Ok(()),
            Ok(_) if byte[0] == b'\n' => break Ok(()),
            Ok(_) => {
                if line.len() > MAX_PASSWORD_LEN + 1 {
                    continue; // keep reading to the end of the line, report TooLong below
                }
                line.push(byte[0]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if interrupted() {
                    break Err(PasswordError::Interrupted);
                }
            }
            Err(e) => break Err(PasswordError::Io(format!("reading the password: {e}"))),
        }
    };
    wipe(&mut byte);
    drop(guard);
    let _ = tty.write_all(b"\n");
    match result {
        Ok(()) => {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Password::new(line)
        }
        Err(e) => {
            wipe(&mut line);
            Err(e)
        }
    }
}

/// A pipe holding the password, for `passwordfd N`: the password is written and the write end
/// closed (pppd's passwordfd.so reads to end of file), so pppd gets exactly the password bytes.
/// The returned read end is close-on-exec; the spawner clears that flag in the child only.
pub fn password_pipe(p: &Password) -> io::Result<OwnedFd> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid 2-element out array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two fresh fds that nothing else owns.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The pipe buffer (>= 4 KiB) holds the <= 255 bytes: this never blocks.
    let mut wf = File::from(w);
    wf.write_all(p.expose())?;
    drop(wf);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_without_break() {
        assert_eq!(
            from_reader(&b"s3cret\nsecond line\n"[..]).unwrap().expose(),
            b"s3cret"
        );
        assert_eq!(from_reader(&b"crlf\r\n"[..]).unwrap().expose(), b"crlf");
        assert_eq!(
            from_reader(&b"no newline"[..]).unwrap().expose(),
            b"no newline"
        );
        assert_eq!(
            from_reader(&b" spaces kept \n"[..]).unwrap().expose(),
            b" spaces kept "
        );
        assert!(matches!(from_reader(&b"\n"[..]), Err(PasswordError::Empty)));
        assert!(matches!(from_reader(&b""[..]), Err(PasswordError::Empty)));
        assert!(matches!(
            from_reader(&b"nul\0inside\n"[..]),
            Err(PasswordError::BadByte)
        ));
        let long = vec![b'x'; 300];
        assert!(matches!(
            from_reader(&long[..]),
            Err(PasswordError::TooLong(_))
        ));
        let max = vec![b'y'; MAX_PASSWORD_LEN];
        assert_eq!(from_reader(&max[..]).unwrap().expose().len(), 255);
    }

    #[test]
    fn debug_hides_it() {
        let p = Password::new(b"hunter2".to_vec()).unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }

    #[test]
    fn file_and_permission_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "from-file\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (p, w) = from_file(&f).unwrap();
        assert_eq!(p.expose(), b"from-file");
        assert!(w.is_none());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, w) = from_file(&f).unwrap();
        assert!(w.unwrap().contains("chmod 600"));
        let e = from_file(&dir.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("--password-file"), "{e}");
    }

    #[test]
    fn pipe_carries_exactly_the_password_and_ends() {
        let p = Password::new(b"p\xc3\xa4ss word".to_vec()).unwrap();
        let r = password_pipe(&p).unwrap();
        // close-on-exec is set on our side
        // SAFETY: F_GETFD on an fd we own.
        let flags = unsafe { libc::fcntl(r.as_raw_fd(), libc::F_GETFD) };
        assert!(flags & libc::FD_CLOEXEC != 0);
        let mut got = Vec::new();
        File::from(r).read_to_end(&mut got).unwrap();
        assert_eq!(got, "päss word".as_bytes());
    }
}
