//! The PPP password: read from a file or prompted on the terminal without echo, and handed to
//! pppd through an inherited pipe (`passwordfd.so`), never on argv. Every buffer that held it
//! is sized up front (so it never moves and leaves a copy behind) and wiped with `zeroize`.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg, Termios};
use zeroize::Zeroize;

/// pppd's MAXSECRETLEN is 256 including the terminating NUL.
pub const MAX_PASSWORD_LEN: usize = 255;

/// How often a blocked prompt looks whether a signal asked it to stop.
const PROMPT_POLL_MS: u16 = 100;

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
        // Wipes the whole capacity, not only the length.
        self.0.zeroize();
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
    const CHUNK: usize = 512;
    const LIMIT: usize = MAX_PASSWORD_LEN + 2;
    // Room for the last read too: `extend_from_slice` never reallocates (no stray copy).
    let mut buf = Vec::with_capacity(LIMIT + 1 + CHUNK);
    let mut chunk = [0u8; CHUNK];
    // Read at most one line plus a little; a password file is small.
    let result = loop {
        if buf.len() > LIMIT || buf.contains(&b'\n') {
            break Ok(());
        }
        match r.read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(PasswordError::Io(format!("reading the password: {e}"))),
        }
    };
    chunk.zeroize();
    let line = result.map(|()| {
        let end = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
        let mut line = buf[..end].to_vec();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        line
    });
    buf.zeroize();
    Password::new(line?)
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

/// Restores the terminal mode when dropped.
struct EchoOff<'a> {
    tty: &'a File,
    saved: Termios,
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.tty, SetArg::TCSAFLUSH, &self.saved);
    }
}

/// Prompts on the controlling terminal (`/dev/tty`) with echo off and reads one line.
/// `interrupted` is asked every [`PROMPT_POLL_MS`] ms while no key is typed (and after a read
/// interrupted by a signal), so that Ctrl-C ends the prompt with
/// [`PasswordError::Interrupted`] whether signals interrupt system calls or are taken by a
/// `sigwait` thread.
pub fn prompt(text: &str, interrupted: &dyn Fn() -> bool) -> Result<Password, PasswordError> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| PasswordError::NoTerminal)?;
    if !nix::unistd::isatty(&tty).unwrap_or(false) {
        return Err(PasswordError::NoTerminal);
    }
    let saved = tcgetattr(&tty).map_err(|_| PasswordError::NoTerminal)?;
    (&tty)
        .write_all(text.as_bytes())
        .and_then(|_| (&tty).flush())
        .map_err(|e| PasswordError::Io(format!("writing the prompt: {e}")))?;
    let mut quiet = saved.clone();
    quiet.local_flags &= !(LocalFlags::ECHO | LocalFlags::ECHONL);
    quiet.local_flags |= LocalFlags::ICANON;
    let guard = EchoOff { tty: &tty, saved };
    tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet)
        .map_err(|e| PasswordError::Io(format!("cannot turn off echo: {e}")))?;
    // Sized once: pushing never reallocates (a reallocation would leave an unwiped copy).
    let mut line = Vec::with_capacity(MAX_PASSWORD_LEN + 2);
    let result = read_line(&tty, &mut line, interrupted);
    drop(guard);
    let _ = (&tty).write_all(b"\n");
    match result {
        Ok(()) => {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Password::new(line)
        }
        Err(e) => {
            line.zeroize();
            Err(e)
        }
    }
}

/// Reads one line from the terminal into `line` (at most `MAX_PASSWORD_LEN + 2` bytes are
/// kept; the rest of a longer line is read and dropped so that [`Password::new`] reports it).
fn read_line(
    mut tty: &File,
    line: &mut Vec<u8>,
    interrupted: &dyn Fn() -> bool,
) -> Result<(), PasswordError> {
    let mut byte = [0u8; 1];
    let result = loop {
        if interrupted() {
            break Err(PasswordError::Interrupted);
        }
        let mut fds = [PollFd::new(tty.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PROMPT_POLL_MS) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => break Err(PasswordError::Io(format!("waiting for the password: {e}"))),
        }
        match tty.read(&mut byte) {
            Ok(0) => break Ok(()),
            Ok(_) if byte[0] == b'\n' => break Ok(()),
            Ok(_) => {
                if line.len() < MAX_PASSWORD_LEN + 2 {
                    line.push(byte[0]);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(PasswordError::Io(format!("reading the password: {e}"))),
        }
    };
    byte.zeroize();
    result
}

/// A pipe holding `bytes`, for an inherited-fd option (`passwordfd N`, `sstp-proxy-auth-fd N`):
/// the bytes are written and the write end closed (the reader reads to end of file), so pppd
/// gets exactly them and nothing lands on disk. `bytes` must fit the pipe buffer (>= 4 KiB),
/// so that the write never blocks. The returned read end is close-on-exec; the spawner makes
/// it inheritable just before starting pppd.
pub fn secret_pipe(bytes: &[u8]) -> io::Result<OwnedFd> {
    if bytes.len() > 4096 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "more than 4 KiB for a pipe",
        ));
    }
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let mut wf = File::from(w);
    wf.write_all(bytes)?;
    drop(wf);
    Ok(r)
}

/// [`secret_pipe`] with the password, for `passwordfd N`.
pub fn password_pipe(p: &Password) -> io::Result<OwnedFd> {
    secret_pipe(p.expose())
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
        let flags = nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert!(
            nix::fcntl::FdFlag::from_bits_truncate(flags).contains(nix::fcntl::FdFlag::FD_CLOEXEC)
        );
        let mut got = Vec::new();
        File::from(r).read_to_end(&mut got).unwrap();
        assert_eq!(got, "päss word".as_bytes());
    }
}
