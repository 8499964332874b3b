//! A pty pair in raw mode and the server-side pppd spawned on its slave.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Opens a pty pair; the slave is put in raw mode (no echo, no line discipline processing) so
/// that nothing written before pppd configures it is mangled or echoed back.
/// Returns (master, slave, slave path).
pub fn open_raw_pty() -> io::Result<(OwnedFd, OwnedFd, PathBuf)> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: the out-pointers are valid for writes; `name` has room for any pts path
    // (openpty writes at most a "/dev/pts/N" string); termios and winsize may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            name.as_mut_ptr(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded, so both are fresh descriptors owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: openpty NUL-terminated the name inside the buffer.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    make_raw(&slave)?;
    set_cloexec(&master)?;
    Ok((master, slave, PathBuf::from(path)))
}

fn make_raw(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: termios is plain data; tcgetattr fills it for a valid descriptor.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and pointer.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `t` is a valid termios.
    unsafe { libc::cfmakeraw(&mut t) };
    // SAFETY: valid descriptor and pointer.
    if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a valid descriptor with integer arguments.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets O_NONBLOCK.
pub fn set_nonblocking(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: fcntl on a valid descriptor with integer arguments.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Spawns `program args…` with the pty slave as stdin and stdout, in a new session with the
/// slave as controlling terminal (as pppd expects when given no device). In every argument
/// `{tty}` becomes the slave's path (for wrappers that need the name) and `{conn}` the
/// connection number (e.g. a per-connection remote address `198.51.100.1:198.51.100.{conn}`).
/// Returns the child and the master end.
pub fn spawn_on_pty(
    program: &str,
    args: &[String],
    conn: u64,
) -> io::Result<(Child, File, PathBuf)> {
    let (master, slave, path) = open_raw_pty()?;
    let tty = path.to_string_lossy().into_owned();
    let conn = conn.to_string();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{tty}", &tty).replace("{conn}", &conn))
        .collect();
    let stdin = slave.try_clone()?;
    let mut cmd = Command::new(program);
    cmd.args(&args)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(slave))
        .stderr(Stdio::inherit());
    // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            // Controlling terminal: fd 0 is the slave. Failure is not fatal (pppd copes).
            libc::ioctl(0, libc::TIOCSCTTY as _, 0);
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // `cmd` (holding the parent's copies of the slave) is dropped here: pppd's exit then gives
    // EIO on the master.
    drop(cmd);
    Ok((child, File::from(master), path))
}

/// Waits up to `grace` for the child, then SIGTERM, then SIGKILL. Returns its exit status text.
pub fn reap(child: &mut Child, grace: Duration) -> String {
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st.to_string(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => break,
            Err(e) => return format!("wait failed: {e}"),
        }
    }
    // SAFETY: sending a signal to our own child's pid (still unreaped, so not reused).
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return format!("{st} (after SIGTERM)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    match child.wait() {
        Ok(st) => format!("{st} (after SIGKILL)"),
        Err(e) => format!("wait failed: {e}"),
    }
}
