//! NetworkManager's VPN auth-dialog protocol, as `nm-sstp-auth-dialog` speaks it. Pure: the
//! binary (`src/bin/nm-sstp-auth-dialog.rs`) only reads stdin, asks on the terminal and
//! prints what these functions return.
//!
//! - argv: `-u UUID -n NAME -s SERVICE [-i] [-r] [-t HINT]... [--external-ui-mode]`;
//! - stdin: `DATA_KEY=k` / `DATA_VAL=v` and `SECRET_KEY=k` / `SECRET_VAL=v` pairs, up to `DONE`
//!   ([`read_details`]);
//! - which secrets are needed ([`plan`]): from the hints when NetworkManager gives any (and
//!   the `x-vpn-message:` hint as the prompt), otherwise from the profile and the
//!   `*-flags`, as network-manager-sstp's dialog decides;
//! - normal mode ([`normal_output`]): `key\nvalue\n` per secret, then `\n\n`, or
//!   `no-secret\ntrue\n\n\n`; then the caller waits for `QUIT` ([`quit_seen`]);
//! - external-UI mode ([`external_ui_output`]): a key file with the `[VPN Plugin UI]` group
//!   and one group per secret, for GNOME Shell, KDE and `nmcli --ask` to ask the user.

use std::collections::BTreeMap;
use std::io::BufRead;

use sstp_proto::http::sanitize;
use zeroize::Zeroizing;

use crate::flags::SecretFlags;
use crate::keys::{data, secret, SERVICE};
use crate::settings::Dict;

/// Most bytes read from stdin (the profile is a few kB).
pub const MAX_INPUT: usize = 256 * 1024;

/// Seconds the normal mode waits for `QUIT` after answering (network-manager-sstp: 20).
pub const QUIT_WAIT_SECS: u64 = 20;

/// The hint prefix that carries a message for the user.
pub const VPN_MESSAGE_HINT: &str = "x-vpn-message:";

/// Command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// `-u/--uuid`.
    pub uuid: String,
    /// `-n/--name`: the connection's name.
    pub name: String,
    /// `-s/--service`.
    pub service: String,
    /// `-i/--allow-interaction`.
    pub allow_interaction: bool,
    /// `-r/--reprompt`.
    pub reprompt: bool,
    /// `-t/--hint`, repeatable.
    pub hints: Vec<String>,
    /// `--external-ui-mode`.
    pub external_ui: bool,
}

fn value_of(
    flag: &str,
    inline: Option<String>,
    it: &mut impl Iterator<Item = String>,
) -> Result<String, String> {
    inline
        .or_else(|| it.next())
        .ok_or_else(|| format!("{flag} needs a value"))
}

/// Parses the arguments (without the program name), GLib-option style: `-u X`, `--uuid X`,
/// `--uuid=X`.
pub fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-u" | "--uuid" => a.uuid = value_of(&flag, inline, &mut it)?,
            "-n" | "--name" => a.name = value_of(&flag, inline, &mut it)?,
            "-s" | "--service" => a.service = value_of(&flag, inline, &mut it)?,
            "-t" | "--hint" => a.hints.push(value_of(&flag, inline, &mut it)?),
            "-i" | "--allow-interaction" => a.allow_interaction = true,
            "-r" | "--reprompt" => a.reprompt = true,
            "--external-ui-mode" => a.external_ui = true,
            other => return Err(format!("unknown option {:?}", sanitize(other))),
        }
    }
    if a.uuid.is_empty() || a.name.is_empty() || a.service.is_empty() {
        return Err("a connection UUID, name, and VPN plugin service name are required".into());
    }
    if a.service != SERVICE {
        return Err(format!(
            "this dialog only works with the '{SERVICE}' service"
        ));
    }
    Ok(a)
}

/// The profile NetworkManager writes on stdin.
#[derive(Default)]
pub struct Details {
    /// `vpn.data`.
    pub data: Dict,
    /// `vpn.secrets` (values wiped on drop).
    pub secrets: BTreeMap<String, Zeroizing<String>>,
}

impl std::fmt::Debug for Details {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Details")
            .field("data", &self.data)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One line of the request.
enum Tag {
    DataKey,
    DataVal,
    SecretKey,
    SecretVal,
}

fn tag(line: &str) -> Option<(Tag, &str)> {
    [
        ("DATA_KEY=", Tag::DataKey),
        ("DATA_VAL=", Tag::DataVal),
        ("SECRET_KEY=", Tag::SecretKey),
        ("SECRET_VAL=", Tag::SecretVal),
    ]
    .into_iter()
    .find_map(|(p, t)| line.strip_prefix(p).map(|rest| (t, rest)))
}

/// A request being read: the pending key and value of each kind.
#[derive(Default)]
struct Reader {
    d: Details,
    key: Option<(bool, String)>,
    val: Option<(bool, Zeroizing<String>)>,
}

impl Reader {
    /// Stores the pair when key and value of the same kind are both there.
    fn flush(&mut self) {
        if let (Some((ks, _)), Some((vs, _))) = (&self.key, &self.val) {
            if ks == vs {
                let (secret, k) = self.key.take().unwrap_or_default();
                let (_, v) = self.val.take().unwrap_or_default();
                if secret {
                    self.d.secrets.insert(k, v);
                } else {
                    self.d.data.insert(k, v.to_string());
                }
            }
        }
    }

    /// One line: a tag stores the pending pair first; an empty line ends a value; any other
    /// line continues the pending value (values spanning lines: nmcli writes them as
    /// `DATA_VAL=first` then `=second`, GNOME Shell as raw lines).
    fn line(&mut self, line: &str) {
        let Some((t, rest)) = tag(line) else {
            if line.is_empty() {
                self.flush();
            } else if let Some((_, v)) = self.val.as_mut() {
                // nmcli writes each further line of a value as `=LINE`.
                v.push('\n');
                v.push_str(line.strip_prefix('=').unwrap_or(line));
            }
            return;
        };
        self.flush();
        match t {
            Tag::DataKey => self.key = Some((false, rest.to_owned())),
            Tag::SecretKey => self.key = Some((true, rest.to_owned())),
            Tag::DataVal => self.val = Some((false, Zeroizing::new(rest.to_owned()))),
            Tag::SecretVal => self.val = Some((true, Zeroizing::new(rest.to_owned()))),
        }
    }
}

/// Reads the request up to `DONE` (or the end of input), at most [`MAX_INPUT`] bytes, as
/// libnm's `nm_vpn_service_plugin_read_vpn_details` does; lines of a value spanning several
/// lines are joined with `\n`.
pub fn read_details(mut r: impl BufRead) -> Result<Details, String> {
    let mut rd = Reader::default();
    let mut total = 0usize;
    loop {
        let mut line = Zeroizing::new(String::new());
        let n = r
            .read_line(&mut line)
            .map_err(|e| format!("reading the connection from stdin: {e}"))?;
        total += n;
        if total > MAX_INPUT {
            return Err(format!("more than {MAX_INPUT} bytes on stdin"));
        }
        let l = line.strip_suffix('\n').unwrap_or(&line);
        if n == 0 || l == "DONE" {
            break;
        }
        rd.line(l);
    }
    rd.flush();
    Ok(rd.d)
}

/// The secrets this dialog handles, in output order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Secret {
    /// `password`.
    Password,
    /// `tls-user-key-secret`: the EAP-TLS key passphrase.
    TlsKey,
    /// `proxy-password`.
    Proxy,
}

impl Secret {
    /// All three, in output order.
    pub const ALL: [Secret; 3] = [Secret::Password, Secret::TlsKey, Secret::Proxy];

    /// The `vpn.secrets` key.
    pub fn key(self) -> &'static str {
        match self {
            Secret::Password => secret::PASSWORD,
            Secret::TlsKey => secret::TLS_USER_KEY_SECRET,
            Secret::Proxy => secret::PROXY_PASSWORD,
        }
    }

    /// The label shown to the user.
    pub fn label(self) -> &'static str {
        match self {
            Secret::Password => "Password:",
            Secret::TlsKey => "Certificate password:",
            Secret::Proxy => "HTTP proxy password:",
        }
    }

    fn from_key(k: &str) -> Option<Secret> {
        Self::ALL.into_iter().find(|s| s.key() == k)
    }

    /// The `vpn.data` key of its flags.
    fn flags_key(self) -> &'static str {
        match self {
            Secret::Password => data::PASSWORD_FLAGS,
            Secret::TlsKey => data::TLS_USER_KEY_SECRET_FLAGS,
            Secret::Proxy => data::PROXY_PASSWORD_FLAGS,
        }
    }
}

/// What to do.
#[derive(Default)]
pub struct Plan {
    /// The prompt (from the `x-vpn-message:` hint, else the default sentence).
    pub prompt: String,
    /// Title of the external-UI dialog.
    pub title: String,
    /// Needed secrets, in output order.
    pub needed: Vec<Secret>,
    /// Values already known (from stdin; never for not-saved secrets).
    pub existing: BTreeMap<Secret, Zeroizing<String>>,
    /// Ask the user (interaction allowed, and a needed secret is missing or `-r`).
    pub ask: bool,
    /// `-i` was given.
    pub allow_interaction: bool,
}

fn flags(d: &Details, s: Secret) -> Option<SecretFlags> {
    SecretFlags::parse(d.data.get(s.flags_key()).map(String::as_str))
}

/// Needed when its flags are set and do not say not-required (network-manager-sstp needs the
/// `*-flags` key to be present, as its editor always writes it).
fn flagged_required(d: &Details, s: Secret) -> bool {
    flags(d, s).is_some_and(|f| !f.not_required())
}

/// Which secrets the profile needs (no hints): network-manager-sstp's
/// `get_passwords_required`. `key_encrypted`: the EAP-TLS key file needs a passphrase.
pub fn needed_from_profile(d: &Details, key_encrypted: bool) -> Vec<Secret> {
    let mut v = Vec::new();
    match d.data.get(data::CONNECTION_TYPE).map(String::as_str) {
        None | Some("") | Some("password") => {
            if flagged_required(d, Secret::Password) {
                v.push(Secret::Password);
            }
        }
        Some("tls") => {
            if flags(d, Secret::TlsKey).is_some() && key_encrypted {
                v.push(Secret::TlsKey);
            }
        }
        Some(_) => {}
    }
    let proxy = d
        .data
        .get(data::PROXY_SERVER)
        .is_some_and(|p| !p.is_empty());
    if proxy && flagged_required(d, Secret::Proxy) {
        v.push(Secret::Proxy);
    }
    v
}

/// Needed secrets and the message from the hints.
fn from_hints(hints: &[String]) -> (Vec<Secret>, Option<String>) {
    let mut needed: Vec<Secret> = hints.iter().filter_map(|h| Secret::from_key(h)).collect();
    needed.sort();
    needed.dedup();
    let msg = hints
        .iter()
        .find_map(|h| h.strip_prefix(VPN_MESSAGE_HINT))
        .map(sanitize);
    (needed, msg)
}

/// Decides what is needed, what is known and whether to ask.
pub fn plan(a: &Args, d: &Details, key_encrypted: bool) -> Plan {
    let (needed, msg) = if a.hints.is_empty() {
        (needed_from_profile(d, key_encrypted), None)
    } else {
        from_hints(&a.hints)
    };
    let name = sanitize(&a.name);
    let mut existing = BTreeMap::new();
    for s in &needed {
        let saved = !flags(d, *s).unwrap_or_default().not_saved();
        let known = d.secrets.get(s.key()).filter(|v| !v.is_empty());
        if let (true, Some(v)) = (saved, known) {
            existing.insert(*s, v.clone());
        }
    }
    let missing = needed.iter().any(|s| !existing.contains_key(s));
    Plan {
        prompt: msg.unwrap_or_else(|| {
            format!("You need to authenticate to access the Virtual Private Network “{name}”.")
        }),
        title: format!("Authenticate VPN {name}"),
        ask: a.allow_interaction && !needed.is_empty() && (missing || a.reprompt),
        allow_interaction: a.allow_interaction,
        needed,
        existing,
    }
}

/// Normal mode's answer: for each needed secret with a value (typed `answers` first, then the
/// known one) `key\nvalue\n`, then `\n\n`; `no-secret\ntrue\n\n\n` when nothing is needed.
pub fn normal_output(p: &Plan, answers: &BTreeMap<Secret, Zeroizing<String>>) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    if p.needed.is_empty() {
        out.push_str("no-secret\ntrue\n\n\n");
        return out;
    }
    for s in &p.needed {
        if let Some(v) = answers.get(s).or_else(|| p.existing.get(s)) {
            out.push_str(s.key());
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        }
    }
    out.push_str("\n\n");
    out
}

/// A value as GLib's `g_key_file_set_string` writes it.
fn keyfile_escape(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        match c {
            ' ' if i == 0 => o.push_str("\\s"),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c => o.push(c),
        }
    }
    o
}

fn entry(out: &mut String, group: &str, value: &str, label: &str, ask: bool) {
    out.push_str(&format!(
        "\n[{group}]\nValue={}\nLabel={}\nIsSecret=true\nShouldAsk={ask}\n",
        keyfile_escape(value),
        keyfile_escape(label)
    ));
}

/// External-UI mode's key file: `[VPN Plugin UI]` (Version 2, Description, Title) and one
/// group per needed secret with its known value, `IsSecret=true` and
/// `ShouldAsk` = interaction allowed; only `[no-secret]` (not a secret to ask) when nothing
/// is needed.
pub fn external_ui_output(p: &Plan) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::from("[VPN Plugin UI]\nVersion=2\n"));
    // Always with Description and Title: nmcli's agent refuses a reply without them (and then
    // falls back to asking for a password network-manager-sstp's dialog said was not needed).
    out.push_str(&format!(
        "Description={}\nTitle={}\n",
        keyfile_escape(&p.prompt),
        keyfile_escape(&p.title)
    ));
    if p.needed.is_empty() {
        entry(&mut out, secret::NO_SECRET, "true", "", false);
        return out;
    }
    for s in &p.needed {
        let v = p.existing.get(s).map(|v| v.as_str()).unwrap_or("");
        entry(&mut out, s.key(), v, s.label(), p.allow_interaction);
    }
    out
}

/// Whether the bytes read after answering end the wait: `QUIT`, or more than 10 bytes of
/// anything else (network-manager-sstp's `wait_for_quit`).
pub fn quit_seen(buf: &[u8]) -> bool {
    buf.windows(4).any(|w| w == b"QUIT") || buf.len() > 10
}

#[cfg(test)]
#[path = "auth_dialog_tests.rs"]
mod tests;
