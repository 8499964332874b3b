//! `nm-sstp-auth-dialog`: NetworkManager's secret agents run it to learn which SSTP secrets to
//! ask for (see `sstp_nm::auth_dialog`). A thin shell: the protocol is in the library.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use sstp_nm::auth_dialog::{self, Args, Details, Plan, Secret};
use sstp_nm::keys::data;
use zeroize::Zeroizing;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nm-sstp-auth-dialog: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Standard input without buffering ahead (one byte per read, as libnm reads it), so that
/// `QUIT` after `DONE` is left for [`wait_for_quit`].
fn stdin_file() -> Result<std::fs::File, String> {
    let fd = nix::unistd::dup(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?;
    Ok(std::fs::File::from(fd))
}

fn run() -> Result<(), String> {
    let args = auth_dialog::parse_args(std::env::args().skip(1))?;
    let input = stdin_file()?;
    let details = auth_dialog::read_details(BufReader::with_capacity(1, &input))
        .map_err(|e| format!("failed to read the connection from stdin: {e}"))?;
    let plan = auth_dialog::plan(&args, &details, key_encrypted(&details));
    let mut out = std::io::stdout().lock();
    if args.external_ui {
        let text = auth_dialog::external_ui_output(&plan);
        return write_all(&mut out, &text);
    }
    let answers = if plan.ask {
        ask(&args, &plan)
    } else {
        BTreeMap::new()
    };
    let text = auth_dialog::normal_output(&plan, &answers);
    write_all(&mut out, &text)?;
    if !plan.needed.is_empty() {
        wait_for_quit(&input);
    }
    Ok(())
}

fn write_all(out: &mut impl Write, text: &str) -> Result<(), String> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| format!("writing the answer: {e}"))
}

/// In EAP-TLS mode: whether `tls-user-key` needs a passphrase (encrypted PEM, PKCS#12).
/// Unreadable: no, as network-manager-sstp decides.
fn key_encrypted(d: &Details) -> bool {
    let Some(p) = d.data.get(data::TLS_USER_KEY).filter(|p| !p.is_empty()) else {
        return false;
    };
    let path = sstp_nm::utf8safe::unescape_path(p);
    let mut buf = Vec::new();
    let limit = sstp_nm::keyfile_kind::SNIFF_MAX as u64;
    match std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut buf)) {
        Ok(_) => sstp_nm::keyfile_kind::key_needs_passphrase(&buf),
        Err(_) => false,
    }
}

/// Asks on the controlling terminal for each needed secret (all of them on `-r`, else the
/// missing ones). Without a terminal nothing is asked and nothing is printed for them.
fn ask(args: &Args, plan: &Plan) -> BTreeMap<Secret, Zeroizing<String>> {
    let mut answers = BTreeMap::new();
    for s in &plan.needed {
        if plan.existing.contains_key(s) && !args.reprompt {
            continue;
        }
        let text = format!("{} — {} ", plan.title, s.label());
        match sstp_cli::password::prompt(&text, &|| false) {
            Ok(p) => {
                if let Ok(v) = std::str::from_utf8(p.expose()) {
                    answers.insert(*s, Zeroizing::new(v.to_owned()));
                }
            }
            Err(_) => break,
        }
    }
    answers
}

/// Waits up to [`auth_dialog::QUIT_WAIT_SECS`] for `QUIT` (or end of input).
fn wait_for_quit(input: &std::fs::File) {
    let deadline = Instant::now() + Duration::from_secs(auth_dialog::QUIT_WAIT_SECS);
    let mut seen = Vec::new();
    while !auth_dialog::quit_seen(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        if ms == 0 {
            return;
        }
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(input),
            PollFlags::POLLIN,
        )];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        let mut b = [0u8; 16];
        match (&*input).read(&mut b) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&b[..n]),
        }
    }
}
