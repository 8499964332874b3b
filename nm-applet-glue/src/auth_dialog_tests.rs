use super::*;

fn args(extra: &[&str]) -> Args {
    let mut v: Vec<String> = ["-u", "uuid-1", "-n", "Work", "-s", SERVICE]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    parse_args(v).unwrap()
}

fn details(text: &str) -> Details {
    read_details(text.as_bytes()).unwrap()
}

const PROFILE: &str = "DATA_KEY=gateway\nDATA_VAL=vpn.example.com\n\n\
DATA_KEY=user\nDATA_VAL=alice\n\n\
DATA_KEY=password-flags\nDATA_VAL=1\n\n\
DONE\n\n";

fn answers(pairs: &[(Secret, &str)]) -> BTreeMap<Secret, Zeroizing<String>> {
    pairs
        .iter()
        .map(|(s, v)| (*s, Zeroizing::new(v.to_string())))
        .collect()
}

#[test]
fn argv() {
    let a = args(&[
        "-i",
        "-r",
        "-t",
        "password",
        "--hint=x-vpn-message:hi",
        "--external-ui-mode",
    ]);
    assert!(a.allow_interaction && a.reprompt && a.external_ui);
    assert_eq!(a.hints, ["password", "x-vpn-message:hi"]);
    assert_eq!((a.uuid.as_str(), a.name.as_str()), ("uuid-1", "Work"));
    let long: Vec<String> = ["--uuid=u", "--name", "N", "--service", SERVICE]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(parse_args(long).unwrap().name, "N");
    let bad = |v: &[&str]| parse_args(v.iter().map(|s| s.to_string())).unwrap_err();
    assert!(bad(&["-u", "u", "-n", "n"]).contains("required"));
    assert!(bad(&[
        "-u",
        "u",
        "-n",
        "n",
        "-s",
        "org.freedesktop.NetworkManager.openvpn"
    ])
    .contains("only works with"));
    assert!(bad(&["-u", "u", "-n", "n", "-s", SERVICE, "--bogus"]).contains("unknown option"));
    assert!(bad(&["-u"]).contains("needs a value"));
}

#[test]
fn reads_both_writer_styles() {
    // libnm's old writer: no blank lines.
    let d = details(
        "DATA_KEY=gateway\nDATA_VAL=gw\nSECRET_KEY=password\nSECRET_VAL=pw\nDATA_KEY=user\nDATA_VAL=u\nDONE\n",
    );
    assert_eq!(d.data.get("gateway").unwrap(), "gw");
    assert_eq!(d.data.get("user").unwrap(), "u");
    assert_eq!(d.secrets.get("password").unwrap().as_str(), "pw");
    // GNOME Shell / newer writers: blank line after each value; values may span lines.
    let d = details("DATA_KEY=banner\nDATA_VAL=line one\nline two\n\nSECRET_KEY=password\nSECRET_VAL=p w\n\nDONE\n\n");
    assert_eq!(d.data.get("banner").unwrap(), "line one\nline two");
    assert_eq!(d.secrets.get("password").unwrap().as_str(), "p w");
    // nmcli's writer: `=` before each further line, a blank line after each pair, then
    // `DONE` and `QUIT` at once.
    let d = details(
        "DATA_KEY=banner\nDATA_VAL=one\n=two\n=\n\nSECRET_KEY=password\nSECRET_VAL=a=b\n\nDONE\nQUIT\n",
    );
    assert_eq!(d.data.get("banner").unwrap(), "one\ntwo\n");
    assert_eq!(d.secrets.get("password").unwrap().as_str(), "a=b");
    // Nothing after DONE is read; end of input without DONE is accepted.
    let d = details("DATA_KEY=a\nDATA_VAL=1\nDONE\nDATA_KEY=b\nDATA_VAL=2\n");
    assert!(d.data.contains_key("a") && !d.data.contains_key("b"));
    assert_eq!(details("DATA_KEY=a\nDATA_VAL=1\n").data.len(), 1);
    // Secrets stay out of Debug output.
    let d = details("SECRET_KEY=password\nSECRET_VAL=hunter2\nDONE\n");
    assert!(!format!("{d:?}").contains("hunter2"));
    let big = "DATA_KEY=x\nDATA_VAL=".to_string() + &"a".repeat(MAX_INPUT) + "\n";
    assert!(read_details(big.as_bytes())
        .unwrap_err()
        .contains("more than"));
}

#[test]
fn normal_mode_answers() {
    // Agent-owned password known: answered without asking.
    let d = details(&(PROFILE.replace("DONE", "SECRET_KEY=password\nSECRET_VAL=pw1\n\nDONE")));
    let p = plan(&args(&["-i"]), &d, false);
    assert_eq!(p.needed, [Secret::Password]);
    assert!(!p.ask);
    assert_eq!(
        normal_output(&p, &BTreeMap::new()).as_str(),
        "password\npw1\n\n\n"
    );
    // Reprompt asks even when known; the typed answer wins.
    let p = plan(&args(&["-i", "-r"]), &d, false);
    assert!(p.ask);
    let out = normal_output(&p, &answers(&[(Secret::Password, "new")]));
    assert_eq!(out.as_str(), "password\nnew\n\n\n");
    // Missing and no interaction allowed: nothing printed for it, no asking.
    let d = details(PROFILE);
    let p = plan(&args(&[]), &d, false);
    assert!(!p.ask);
    assert_eq!(normal_output(&p, &BTreeMap::new()).as_str(), "\n\n");
    // Missing, interaction allowed: ask.
    assert!(plan(&args(&["-i"]), &d, false).ask);
}

#[test]
fn flags_decide_what_is_needed() {
    let with =
        |flags: &str| details(&PROFILE.replace("DATA_VAL=1\n", &format!("DATA_VAL={flags}\n")));
    // not required: no-secret
    let p = plan(&args(&["-i"]), &with("4"), false);
    assert!(p.needed.is_empty() && !p.ask);
    assert_eq!(
        normal_output(&p, &BTreeMap::new()).as_str(),
        "no-secret\ntrue\n\n\n"
    );
    // not saved: a value on stdin is not used, the user is asked
    let text = PROFILE
        .replace("DATA_VAL=1\n", "DATA_VAL=2\n")
        .replace("DONE", "SECRET_KEY=password\nSECRET_VAL=stale\n\nDONE");
    let d = details(&text);
    let p = plan(&args(&["-i"]), &d, false);
    assert!(p.existing.is_empty() && p.ask);
    // no flags key at all: network-manager-sstp asks nothing
    let d = details("DATA_KEY=gateway\nDATA_VAL=gw\nDONE\n");
    assert!(plan(&args(&["-i"]), &d, false).needed.is_empty());
    // EAP-TLS: only for an encrypted key
    let tls = "DATA_KEY=gateway\nDATA_VAL=gw\nDATA_KEY=connection-type\nDATA_VAL=tls\n\
               DATA_KEY=tls-user-key-secret-flags\nDATA_VAL=1\nDONE\n";
    assert!(plan(&args(&["-i"]), &details(tls), false).needed.is_empty());
    assert_eq!(
        plan(&args(&["-i"]), &details(tls), true).needed,
        [Secret::TlsKey]
    );
    // proxy password with a proxy
    let proxy = PROFILE.replace(
        "DONE",
        "DATA_KEY=proxy-server\nDATA_VAL=p\nDATA_KEY=proxy-password-flags\nDATA_VAL=2\nDONE",
    );
    assert_eq!(
        plan(&args(&["-i"]), &details(&proxy), false).needed,
        [Secret::Password, Secret::Proxy]
    );
}

#[test]
fn hints_replace_the_profile_and_carry_the_message() {
    let d = details(PROFILE);
    let a = args(&[
        "-i",
        "-t",
        "proxy-password",
        "-t",
        "x-vpn-message:Token \u{1b}[2Jexpired",
    ]);
    let p = plan(&a, &d, false);
    assert_eq!(p.needed, [Secret::Proxy]);
    assert!(
        p.prompt.starts_with("Token") && !p.prompt.contains('\u{1b}'),
        "{}",
        p.prompt
    );
    // Unknown hints are ignored; nothing left: no-secret.
    let p = plan(&args(&["-t", "otp"]), &d, false);
    assert!(p.needed.is_empty());
}

#[test]
fn external_ui_mode() {
    let d = details(&PROFILE.replace("DONE", "SECRET_KEY=password\nSECRET_VAL=a\\b c\n\nDONE"));
    let out = external_ui_output(&plan(&args(&["-i", "--external-ui-mode"]), &d, false));
    assert_eq!(
        out.as_str(),
        "[VPN Plugin UI]\nVersion=2\n\
         Description=You need to authenticate to access the Virtual Private Network “Work”.\n\
         Title=Authenticate VPN Work\n\
         \n[password]\nValue=a\\\\b c\nLabel=Password:\nIsSecret=true\nShouldAsk=true\n"
    );
    // Without -i nothing is asked, the known value is passed back.
    let out = external_ui_output(&plan(&args(&["--external-ui-mode"]), &d, false));
    assert!(out.contains("ShouldAsk=false"), "{}", out.as_str());
    // With hints.
    let a = args(&[
        "-i",
        "--external-ui-mode",
        "-t",
        "tls-user-key-secret",
        "-t",
        "x-vpn-message: hi\nthere",
    ]);
    let out = external_ui_output(&plan(&a, &d, false));
    assert!(
        out.contains("Description=\\shi\\nthere\n") || out.contains("Description=\\shi"),
        "{}",
        out.as_str()
    );
    assert!(out.contains("[tls-user-key-secret]\nValue=\nLabel=Certificate password:\nIsSecret=true\nShouldAsk=true\n"));
    assert!(!out.contains("[password]"));
    // Nothing needed.
    let d = details("DATA_KEY=gateway\nDATA_VAL=gw\nDONE\n");
    let out = external_ui_output(&plan(&args(&["--external-ui-mode"]), &d, false));
    assert_eq!(
        out.as_str(),
        "[VPN Plugin UI]\nVersion=2\n\
         Description=You need to authenticate to access the Virtual Private Network “Work”.\n\
         Title=Authenticate VPN Work\n\
         \n[no-secret]\nValue=true\nLabel=\nIsSecret=true\nShouldAsk=false\n"
    );
}

#[test]
fn quit_detection() {
    assert!(quit_seen(b"QUIT\n"));
    assert!(quit_seen(b"\nQUIT"));
    assert!(!quit_seen(b"QUI"));
    assert!(quit_seen(b"01234567890"));
}
