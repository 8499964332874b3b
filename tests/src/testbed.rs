//! The User-Mode Linux test bed: boots `linux.uml` with the host's root file system (read-only,
//! through hostfs) as the guest root, runs one shell script inside as root and returns its exit
//! status and output.
//!
//! Every boot gets its own scratch directory on the host (mounted read-write at `/run/bed` in the
//! guest; the script's working directory) and its own `umid`. Boots are serialized across
//! processes with a lock file, because the machine has two cores and a boot uses one fully.
//! The guest's PID 1 is `fixtures/guest-init.sh`; see it for what the guest looks like.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// PID 1 of the guest.
pub const GUEST_INIT: &str = include_str!("../fixtures/guest-init.sh");

/// The UML kernel Debian's `user-mode-linux` package installs.
pub const UML_KERNEL: &str = "/usr/bin/linux.uml";

/// Where that package puts the kernel's modules (one `<version>/` directory inside).
pub const UML_MODULES_ROOT: &str = "/usr/lib/uml/modules";

/// Modules loaded at boot unless [`BootOptions::modules`] says otherwise (dependencies such as
/// crc-ccitt, slhc, ppp_generic and libarc4 are resolved from `modules.dep` by the init script).
/// `l2tp_ppp` (with l2tp_core, udp_tunnel, ip6_udp_tunnel, pppox) is the plugin's frame channel.
pub const DEFAULT_MODULES: &[&str] = &[
    "ipv6",
    "ppp_async",
    "ppp_synctty",
    "ppp_deflate",
    "bsd_comp",
    "ppp_mppe",
    "veth",
    "tun",
    "sch_netem",
    "l2tp_ppp",
];

/// Extra time the host grants on top of [`BootOptions::timeout`] (boot, module loading,
/// power-off) before it kills the UML process group.
pub const HOST_MARGIN: Duration = Duration::from_secs(30);

/// What went wrong around a boot (a failing command inside the guest is not an error: see
/// [`GuestRun::status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestbedError {
    /// The test bed cannot run on this machine (missing package, unusable path, ...).
    #[error("test bed unavailable: {0}")]
    Unavailable(String),
    /// A host-side I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> TestbedError {
    let what = what.into();
    move |source| TestbedError::Io { what, source }
}

/// How to boot the guest and what to give it.
#[derive(Debug, Clone)]
pub struct BootOptions {
    /// Guest memory in MiB.
    pub mem_mb: u32,
    /// How long the script may run inside the guest; it is killed then (exit status 124).
    pub timeout: Duration,
    /// When the host kills the whole UML process group; default `timeout` + [`HOST_MARGIN`].
    pub host_deadline: Option<Duration>,
    /// Kernel modules to load (by name, without `.ko`).
    pub modules: Vec<String>,
    /// Environment exported at the top of the script.
    pub env: Vec<(String, String)>,
    /// Extra files written into the scratch directory before the boot (name, contents); the
    /// guest sees them as `/run/bed/<name>`. Names must be plain file names.
    pub files: Vec<(String, Vec<u8>)>,
    /// Copy the script's output to this process's stdout while the guest runs (without the
    /// scenario scripts' `@@ key=value` result lines).
    pub stream_output: bool,
    /// Keep the scratch directory after the run (also when `SSTP_RS_TESTBED_KEEP` is set).
    pub keep_scratch: bool,
}

impl Default for BootOptions {
    fn default() -> Self {
        Self {
            mem_mb: 512,
            timeout: Duration::from_secs(120),
            host_deadline: None,
            modules: DEFAULT_MODULES.iter().map(|m| m.to_string()).collect(),
            env: Vec::new(),
            files: Vec::new(),
            stream_output: false,
            keep_scratch: std::env::var_os("SSTP_RS_TESTBED_KEEP").is_some(),
        }
    }
}

/// The result of one boot.
#[derive(Debug)]
pub struct GuestRun {
    /// Exit status of the script; `None` if the guest never wrote one (killed by the host
    /// deadline, crashed kernel, failed init).
    pub status: Option<i32>,
    /// The host killed the UML process group at the deadline.
    pub timed_out: bool,
    /// The script's stdout and stderr.
    pub output: String,
    /// The init script's own log (module loading, mounts).
    pub init_log: String,
    /// The UML kernel console (stdout/stderr of the UML process).
    pub console: String,
    /// From starting `linux.uml` to the init script being ready to run the command.
    pub boot_time: Option<Duration>,
    /// How long the script ran.
    pub command_time: Option<Duration>,
    /// From starting `linux.uml` until it exited.
    pub wall_time: Duration,
    /// The run's host scratch directory (`/run/bed` in the guest).
    pub scratch: PathBuf,
    /// The UML process group had no process left after the run.
    pub no_leftover_processes: bool,
    keep: bool,
}

impl GuestRun {
    /// The script exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// A file the guest left in its scratch directory (`/run/bed/<name>`), lossily decoded.
    pub fn read(&self, name: &str) -> Option<String> {
        fs::read(self.scratch.join(name))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Keep the scratch directory when this value is dropped.
    pub fn keep(&mut self) {
        self.keep = true;
    }

    /// Everything useful for a failure message: status, timings, output, init log and the
    /// console's tail.
    pub fn diagnostics(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "status {:?}, timed out {}, boot {:?}, command {:?}, wall {:?}, scratch {}",
            self.status,
            self.timed_out,
            self.boot_time,
            self.command_time,
            self.wall_time,
            self.scratch.display()
        );
        let _ = writeln!(s, "--- output ---\n{}", self.output);
        let _ = writeln!(s, "--- init log ---\n{}", self.init_log);
        let tail: Vec<&str> = self.console.lines().rev().take(30).collect();
        let _ = writeln!(s, "--- console (tail) ---");
        for line in tail.iter().rev() {
            let _ = writeln!(s, "{line}");
        }
        s
    }

    /// The last `lines` lines of every log the script left in the scratch directory (`*.log`,
    /// `*.out`, `*.txt`, without the bed's own), by name.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut names: Vec<String> = fs::read_dir(&self.scratch)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".log") || n.ends_with(".out") || n.ends_with(".txt"))
                    .filter(|n| !matches!(n.as_str(), "output.log" | "console.log" | "init.log"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let mut s = String::new();
        for n in names {
            let text = self.read(&n).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let tail = all[all.len().saturating_sub(lines)..].join("\n");
            let _ = writeln!(s, "--- {n} ---\n{tail}");
        }
        s
    }
}

impl Drop for GuestRun {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.scratch);
        }
    }
}

/// What the host needs to boot a guest.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The UML kernel.
    pub kernel: PathBuf,
    /// `/usr/lib/uml/modules/<version>`.
    pub module_dir: PathBuf,
    /// Parent of the per-run scratch directories.
    pub runs_dir: PathBuf,
}

/// Checks that the test bed can run here and finds its parts.
///
/// Scratch directories go to `$SSTP_RS_TESTBED_DIR/runs` or `<workspace>/.testbed/runs`.
pub fn environment() -> Result<Environment, TestbedError> {
    let kernel = PathBuf::from(UML_KERNEL);
    if !kernel.is_file() {
        return Err(TestbedError::Unavailable(format!(
            "{UML_KERNEL} is missing (Debian package user-mode-linux; run tests/setup/setup.sh)"
        )));
    }
    let mut versions: Vec<PathBuf> = fs::read_dir(UML_MODULES_ROOT)
        .map_err(|e| TestbedError::Unavailable(format!("{UML_MODULES_ROOT}: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("modules.dep").is_file())
        .collect();
    versions.sort();
    let module_dir = versions.pop().ok_or_else(|| {
        TestbedError::Unavailable(format!("no modules.dep under {UML_MODULES_ROOT}"))
    })?;
    if !Path::new("/usr/sbin/insmod").exists() && !Path::new("/sbin/insmod").exists() {
        return Err(TestbedError::Unavailable(
            "insmod is missing (Debian package kmod)".into(),
        ));
    }
    let base = match std::env::var_os("SSTP_RS_TESTBED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join(".testbed"),
    };
    let runs_dir = base.join("runs");
    fs::create_dir_all(&runs_dir).map_err(io_err(format!("create {}", runs_dir.display())))?;
    let runs_dir = runs_dir
        .canonicalize()
        .map_err(io_err(format!("resolve {}", runs_dir.display())))?;
    check_cmdline_path(&runs_dir)?;
    check_cmdline_path(&module_dir)?;
    Ok(Environment {
        kernel,
        module_dir,
        runs_dir,
    })
}

/// The workspace's root directory (parent of this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Paths travel on the kernel command line: keep them to characters that need no quoting.
fn check_cmdline_path(p: &Path) -> Result<(), TestbedError> {
    let s = p.to_str().unwrap_or("");
    let ok = !s.is_empty()
        && s.len() < 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(TestbedError::Unavailable(format!(
            "path {} cannot go on the UML command line (use plain ASCII without spaces, \
             or set SSTP_RS_TESTBED_DIR)",
            p.display()
        )))
    }
}

/// Quotes a value for POSIX sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A lock shared by every process on this machine that boots the test bed.
struct BootLock {
    _file: File,
}

impl BootLock {
    fn acquire() -> Result<Self, TestbedError> {
        let path = std::env::temp_dir().join("sstp-rs-testbed.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(format!("open {}", path.display())))?;
        loop {
            // SAFETY: flock on a file descriptor owned by `file`, which outlives the call.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Self { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(io_err(format!("lock {}", path.display()))(err));
            }
        }
        // The lock is released when `file` is closed.
    }
}

static RUN_COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_umid() -> String {
    let n = RUN_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "sstprs-{}-{n}-{:06x}",
        std::process::id(),
        nanos & 0xff_ffff
    )
}

fn since(start: SystemTime, path: &Path) -> Option<Duration> {
    let mtime = fs::metadata(path).ok()?.modified().ok()?;
    mtime.duration_since(start).ok()
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn signal_group(pgid: u32, signal: libc::c_int) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    // SAFETY: kill(2) with a negative pid signals the process group we created for the UML
    // kernel (process_group(0) makes its pid the group id); no memory is involved.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// Waits until no process of the group is left; false if some still are after `limit`.
fn wait_group_gone(pgid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while signal_group(pgid, 0) {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Kills what runs of dead processes left behind: when a test or xtask process is killed
/// (SIGKILL, CI timeout), the UML kernel dies with it (PR_SET_PDEATHSIG) but its helper processes
/// and the scratch directory stay. A run directory is `sstprs-<owner pid>-...`; it is stale when
/// its owner no longer exists and it still holds `uml.pgid`.
fn sweep_stale_runs(runs_dir: &Path) {
    let Ok(entries) = fs::read_dir(runs_dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.strip_prefix("sstprs-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let dir = entry.path();
        let Some(pgid) = fs::read_to_string(dir.join("uml.pgid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if pgid > 1 {
            signal_group(pgid, libc::SIGKILL);
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Boots the guest, runs `script` (POSIX sh, as root, working directory `/run/bed`) and powers
/// off. Returns once the UML process group is gone.
pub fn run(script: &str, opts: &BootOptions) -> Result<GuestRun, TestbedError> {
    let env = environment()?;
    let umid = unique_umid();
    let scratch = env.runs_dir.join(&umid);
    fs::create_dir_all(&scratch).map_err(io_err(format!("create {}", scratch.display())))?;
    let mut guard = ScratchGuard {
        path: scratch.clone(),
        armed: !opts.keep_scratch,
    };

    let init = scratch.join("guest-init.sh");
    fs::write(&init, GUEST_INIT).map_err(io_err("write guest-init.sh"))?;
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755))
        .map_err(io_err("chmod guest-init.sh"))?;
    let mut cmd = String::from("#!/bin/sh\n");
    for (k, v) in &opts.env {
        if !is_env_name(k) {
            return Err(TestbedError::Unavailable(format!(
                "bad environment variable name {k:?}"
            )));
        }
        let _ = writeln!(cmd, "export {k}={}", shell_quote(v));
    }
    cmd.push_str(script);
    cmd.push('\n');
    fs::write(scratch.join("cmd.sh"), cmd).map_err(io_err("write cmd.sh"))?;
    for (name, contents) in &opts.files {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(TestbedError::Unavailable(format!("bad file name {name:?}")));
        }
        fs::write(scratch.join(name), contents).map_err(io_err(format!("write {name}")))?;
    }
    for m in &opts.modules {
        if m.is_empty()
            || !m
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(TestbedError::Unavailable(format!("bad module name {m:?}")));
        }
    }
    let uml_dir = scratch.join("uml");
    fs::create_dir_all(&uml_dir).map_err(io_err("create uml dir"))?;
    let console_path = scratch.join("console.log");
    let console = File::create(&console_path).map_err(io_err("create console.log"))?;
    let console_err = console.try_clone().map_err(io_err("dup console.log"))?;
    let timeout_secs = opts.timeout.as_secs().max(1);
    let deadline = opts
        .host_deadline
        .unwrap_or(Duration::from_secs(timeout_secs) + HOST_MARGIN);

    let _lock = BootLock::acquire()?;
    sweep_stale_runs(&env.runs_dir);
    let started_at = SystemTime::now();
    let started = Instant::now();
    let mut command = Command::new(&env.kernel);
    // SAFETY: the closure runs in the child between fork and exec and only calls prctl(2),
    // which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            // If this thread (the test, the xtask) dies, the UML kernel dies with it instead of
            // running on until its own timeout.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    let mut child = command
        .arg(format!("mem={}M", opts.mem_mb))
        .arg(format!("umid={umid}"))
        .arg(format!("uml_dir={}/", uml_dir.display()))
        .args(["rootfstype=hostfs", "rootflags=/", "ro"])
        .arg(format!("init={}", init.display()))
        .arg(format!("TB_SCRATCH={}", scratch.display()))
        .arg(format!("TB_MODDIR={}", env.module_dir.display()))
        .arg(format!("TB_WORKSPACE={}", workspace_root().display()))
        .arg(format!("TB_MODULES={}", opts.modules.join(",")))
        .arg(format!("TB_TIMEOUT={timeout_secs}"))
        .args(["con=null", "con0=null,fd:1"])
        .stdin(Stdio::null())
        .stdout(console)
        .stderr(console_err)
        .process_group(0)
        .spawn()
        .map_err(io_err(format!("start {}", env.kernel.display())))?;
    let pgid = child.id();
    // For `sweep_stale_runs` in case this process is killed before it can clean up.
    let _ = fs::write(scratch.join("uml.pgid"), pgid.to_string());

    let output_path = scratch.join("output.log");
    let mut streamed: u64 = 0;
    let mut timed_out = false;
    loop {
        if opts.stream_output {
            streamed = stream_new(&output_path, streamed, false);
        }
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => {}
            Err(e) => {
                signal_group(pgid, libc::SIGKILL);
                let _ = child.wait();
                return Err(io_err("wait for linux.uml")(e));
            }
        }
        if started.elapsed() > deadline {
            timed_out = true;
            signal_group(pgid, libc::SIGKILL);
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall_time = started.elapsed();
    if opts.stream_output {
        stream_new(&output_path, streamed, true);
    }
    // UML's helper processes share its process group; none may outlive the run.
    // (Something still there after a grace period outlived the kernel: report it, kill it.)
    let grace = if timed_out { 10_000 } else { 3_000 };
    let no_leftover_processes = wait_group_gone(pgid, Duration::from_millis(grace));
    if !no_leftover_processes {
        signal_group(pgid, libc::SIGKILL);
        wait_group_gone(pgid, Duration::from_secs(5));
    }
    let _ = fs::remove_dir_all(&uml_dir);
    let _ = fs::remove_file(scratch.join("uml.pgid"));

    let status = fs::read_to_string(scratch.join("status"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let boot_time = since(started_at, &scratch.join("ready"));
    let command_time = match (boot_time, since(started_at, &scratch.join("status"))) {
        (Some(b), Some(s)) => s.checked_sub(b),
        _ => None,
    };
    guard.armed = false;
    Ok(GuestRun {
        status,
        timed_out,
        output: read_lossy(&output_path),
        init_log: read_lossy(&scratch.join("init.log")),
        console: read_lossy(&console_path),
        boot_time,
        command_time,
        wall_time,
        scratch,
        no_leftover_processes,
        keep: opts.keep_scratch,
    })
}

/// Removes a scratch directory on early error returns.
struct ScratchGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for ScratchGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Copies complete lines appended to `path` since `offset` to stdout, except the scenario
/// scripts' `@@ key=value` result lines; returns the new offset. `all` also copies a trailing
/// incomplete line.
fn stream_new(path: &Path, offset: u64, all: bool) -> u64 {
    let Ok(mut f) = File::open(path) else {
        return offset;
    };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return offset;
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return offset;
    }
    let complete = if all {
        buf.len()
    } else {
        buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
    };
    let mut out = io::stdout().lock();
    for line in buf[..complete].split_inclusive(|&b| b == b'\n') {
        if !line.starts_with(b"@@ ") {
            let _ = out.write_all(line);
        }
    }
    let _ = out.flush();
    offset + complete as u64
}

/// Whether a test-bed test is skipped: `SSTP_RS_SKIP_TESTBED` asks for it, or a file it `needs`
/// (a tool such as `/usr/sbin/squid`) is missing. Under CI (`CI` set) nothing is skipped: a
/// missing tool fails the test, so a setup step that forgot to install it cannot pass silently.
pub fn skip_testbed(needs: &[&str]) -> bool {
    let ci = std::env::var_os("CI").is_some();
    if std::env::var_os("SSTP_RS_SKIP_TESTBED").is_some() {
        assert!(
            !ci,
            "SSTP_RS_SKIP_TESTBED is set under CI: test-bed tests must run there"
        );
        eprintln!("SSTP_RS_SKIP_TESTBED set: test bed test skipped");
        return true;
    }
    for need in needs {
        if !Path::new(need).exists() {
            assert!(
                !ci,
                "{need} is missing under CI (tests/setup/setup.sh installs it)"
            );
            eprintln!("{need} is missing: test bed test skipped (run tests/setup/setup.sh)");
            return true;
        }
    }
    false
}

/// For [`TestbedError::Unavailable`]: skips outside CI (with the reason), fails under CI.
pub fn skip_unavailable(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "the test bed is unavailable under CI: {why}"
    );
    eprintln!("test bed unavailable, skipped: {why}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_init_parses_as_posix_sh() {
        let out = Command::new("sh")
            .args(["-n", "-c", GUEST_INIT])
            .output()
            .expect("sh runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn shell_quote_round_trips_through_sh() {
        for s in ["plain", "with space", "it's", "'", "$HOME `x` \"q\"", ""] {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(s)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("SC_TLS_MAX"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1x"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
        assert!(!is_env_name("A=B"));
    }

    #[test]
    fn cmdline_paths() {
        assert!(check_cmdline_path(Path::new("/work/main/.testbed/runs")).is_ok());
        assert!(check_cmdline_path(Path::new("/a b")).is_err());
        assert!(check_cmdline_path(Path::new("/a\"b")).is_err());
        assert!(check_cmdline_path(Path::new("")).is_err());
    }

    #[test]
    fn umids_are_unique() {
        let a = unique_umid();
        let b = unique_umid();
        assert_ne!(a, b);
        assert!(a.starts_with("sstprs-"));
    }
}
