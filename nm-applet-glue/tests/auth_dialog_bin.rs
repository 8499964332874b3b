//! Runs `nm-sstp-auth-dialog` with stdin/stdout pipes, as NetworkManager's agents do.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SERVICE: &str = "org.freedesktop.NetworkManager.sstp";

const PROFILE: &str = "DATA_KEY=gateway\nDATA_VAL=vpn.example.com\n\n\
DATA_KEY=user\nDATA_VAL=alice\n\n\
DATA_KEY=password-flags\nDATA_VAL=1\n\n\
SECRET_KEY=password\nSECRET_VAL=s3cr3t pw\n\n\
DONE\n\n";

fn spawn(extra: &[&str]) -> Child {
    // setsid: no controlling terminal, as under NetworkManager (so no prompt can block).
    Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_nm-sstp-auth-dialog"))
        .args([
            "-u",
            "0b5e7c9a-0000-4000-8000-000000000001",
            "-n",
            "Work",
            "-s",
            SERVICE,
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nm-sstp-auth-dialog")
}

/// Waits (bounded) for the child to end; its status.
fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("nm-sstp-auth-dialog did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads stdout until it ends with `end` (bounded by the reader thread and `wait`).
fn read_until(child: &mut Child, end: &str) -> String {
    let mut out = child.stdout.take().unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 256];
    while !String::from_utf8_lossy(&got).ends_with(end) {
        let n = out.read(&mut b).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&b[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn normal_mode_answers_then_waits_for_quit() {
    let mut c = spawn(&["-i"]);
    let mut stdin = c.stdin.take().unwrap();
    stdin.write_all(PROFILE.as_bytes()).unwrap();
    let out = read_until(&mut c, "\n\n\n");
    assert_eq!(out, "password\ns3cr3t pw\n\n\n");
    // Still running: it waits for QUIT.
    std::thread::sleep(Duration::from_millis(100));
    assert!(c.try_wait().unwrap().is_none(), "ended before QUIT");
    stdin.write_all(b"QUIT\n\n").unwrap();
    assert!(wait(&mut c, Duration::from_secs(10)).success());
}

#[test]
fn normal_mode_without_secret_needed() {
    let mut c = spawn(&[]);
    let profile = PROFILE.replace("DATA_VAL=1\n", "DATA_VAL=4\n");
    c.stdin
        .take()
        .unwrap()
        .write_all(profile.as_bytes())
        .unwrap();
    assert!(wait(&mut c, Duration::from_secs(10)).success());
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(out, "no-secret\ntrue\n\n\n");
}

#[test]
fn normal_mode_cannot_ask_without_a_terminal() {
    // Password not saved, interaction allowed, no terminal: nothing printed for it.
    let mut c = spawn(&["-i"]);
    let profile = PROFILE.replace("DATA_VAL=1\n", "DATA_VAL=2\n");
    let mut stdin = c.stdin.take().unwrap();
    stdin.write_all(profile.as_bytes()).unwrap();
    assert_eq!(read_until(&mut c, "\n\n"), "\n\n");
    stdin.write_all(b"QUIT\n").unwrap();
    assert!(wait(&mut c, Duration::from_secs(10)).success());
}

#[test]
fn external_ui_mode_with_and_without_hints() {
    let run = |extra: &[&str]| {
        let mut c = spawn(extra);
        c.stdin
            .take()
            .unwrap()
            .write_all(PROFILE.as_bytes())
            .unwrap();
        assert!(wait(&mut c, Duration::from_secs(10)).success());
        let mut out = String::new();
        c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        out
    };
    let out = run(&["-i", "--external-ui-mode"]);
    assert!(
        out.starts_with("[VPN Plugin UI]\nVersion=2\nDescription="),
        "{out}"
    );
    assert!(out.contains("Title=Authenticate VPN Work\n"), "{out}");
    assert!(
        out.contains(
            "[password]\nValue=s3cr3t pw\nLabel=Password:\nIsSecret=true\nShouldAsk=true\n"
        ),
        "{out}"
    );
    let out = run(&[
        "-i",
        "--external-ui-mode",
        "-t",
        "proxy-password",
        "-t",
        "x-vpn-message:Proxy login",
    ]);
    assert!(out.contains("Description=Proxy login\n"), "{out}");
    assert!(
        out.contains(
            "[proxy-password]\nValue=\nLabel=HTTP proxy password:\nIsSecret=true\nShouldAsk=true\n"
        ),
        "{out}"
    );
    assert!(!out.contains("[password]"), "{out}");
}

#[test]
fn wrong_service_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_nm-sstp-auth-dialog"))
        .args([
            "-u",
            "u",
            "-n",
            "n",
            "-s",
            "org.freedesktop.NetworkManager.openvpn",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only works with"));
    assert!(out.stdout.is_empty());
}

#[test]
fn nmcli_style_request_with_quit_after_done() {
    // nmcli writes `=` continuation lines, and `DONE\nQUIT\n` in one go.
    let req = "DATA_KEY=gateway\nDATA_VAL=vpn.example.com\n\nDATA_KEY=password-flags\nDATA_VAL=1\n\n\
               DATA_KEY=note\nDATA_VAL=a\n=b\n\nSECRET_KEY=password\nSECRET_VAL=pw=1\n\nDONE\nQUIT\n";
    for (mode, want) in [
        (&[][..], "password\npw=1\n\n\n"),
        (&["--external-ui-mode"][..], "[password]\nValue=pw=1\n"),
    ] {
        let mut c = spawn(mode);
        c.stdin.take().unwrap().write_all(req.as_bytes()).unwrap();
        assert!(wait(&mut c, Duration::from_secs(10)).success());
        let mut out = String::new();
        c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        assert!(out.contains(want), "{mode:?}: {out}");
    }
}

#[test]
fn eap_tls_key_passphrase_only_for_an_encrypted_key() {
    use openssl::{pkey::PKey, rsa::Rsa, symm::Cipher};
    let dir = std::env::temp_dir().join(format!("sstp-nm-dialog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let k = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let plain = dir.join("plain.key");
    std::fs::write(&plain, k.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let enc = dir.join("enc key.pem");
    let pem = k
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"pw")
        .unwrap();
    std::fs::write(&enc, pem).unwrap();
    let run = |key: &std::path::Path| {
        // the path utf8safe-escaped as network-manager-sstp's editor stores it (space: \040)
        let escaped = key.display().to_string().replace(' ', "\\040");
        let req = format!(
            "DATA_KEY=gateway\nDATA_VAL=gw\n\nDATA_KEY=connection-type\nDATA_VAL=tls\n\n\
             DATA_KEY=tls-user-key\nDATA_VAL={escaped}\n\n\
             DATA_KEY=tls-user-key-secret-flags\nDATA_VAL=1\n\nDONE\nQUIT\n"
        );
        let mut c = spawn(&["-i", "--external-ui-mode"]);
        c.stdin.take().unwrap().write_all(req.as_bytes()).unwrap();
        assert!(wait(&mut c, Duration::from_secs(10)).success());
        let mut out = String::new();
        c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        out
    };
    let out = run(&plain);
    assert!(
        out.contains("[no-secret]") && !out.contains("tls-user-key-secret"),
        "{out}"
    );
    let out = run(&enc);
    assert!(
        out.contains("[tls-user-key-secret]\nValue=\nLabel=Certificate password:\nIsSecret=true\nShouldAsk=true\n"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
