//! `nm-sstp-service` on a private system bus, driven as NetworkManager drives it, with a stand-in
//! pppd (`tests/fake-pppd.py`) that records its command line and the password it read, and
//! reports ip-up through `sstp-ipc-fd` as the plugin does. The real pppd, plugin and
//! NetworkManager come in the test bed.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

use common::start_bus;
use integration_tests::testbed::skip_unavailable;
use zbus::zvariant::Value;

const IFACE: &str = "org.freedesktop.NetworkManager.VPN.Plugin";
const PATH: &str = "/org/freedesktop/NetworkManager/VPN/Plugin";
const PASSWORD: &str = "Pw-on-no-argv-7";

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_service(address: &str, name: &str, out: &Path, exit: Option<i32>) -> Service {
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-pppd.py");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nm-sstp-service"));
    cmd.args(["--bus-name", name, "--persist"])
        .arg("--pppd")
        .arg(&fake)
        .args(["--plugin", "/usr/lib/pppd/test/sstp-rs.so"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", address)
        .env("FAKE_PPPD_OUT", out);
    if let Some(code) = exit {
        cmd.env("FAKE_PPPD_EXIT", code.to_string());
    }
    Service(cmd.spawn().expect("start nm-sstp-service"))
}

fn client(address: &str) -> zbus::blocking::Connection {
    zbus::blocking::connection::Builder::address(address)
        .unwrap()
        .build()
        .unwrap()
}

/// The plugin's signals, as (member, body) pairs, through a channel.
fn signals(conn: &zbus::blocking::Connection) -> mpsc::Receiver<zbus::Message> {
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(IFACE)
        .unwrap()
        .build();
    let it = zbus::blocking::MessageIterator::for_match_rule(rule, conn, None).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for m in it.flatten() {
            if tx.send(m).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits for the signal `member`; its message.
fn wait_for(rx: &mpsc::Receiver<zbus::Message>, member: &str) -> zbus::Message {
    loop {
        let m = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no {member} signal"));
        if m.header().member().map(|n| n.as_str()) == Some(member) {
            return m;
        }
    }
}

/// Waits until the service owns `name` (it is ready then).
fn wait_owner(c: &zbus::blocking::Connection, name: &str) {
    let dbus = zbus::blocking::fdo::DBusProxy::new(c).unwrap();
    for _ in 0..100 {
        if dbus
            .name_has_owner(name.try_into().unwrap())
            .unwrap_or(false)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// sstp-rs's status interface: GetStatus.
fn status(
    c: &zbus::blocking::Connection,
    name: &str,
) -> HashMap<String, zbus::zvariant::OwnedValue> {
    let m = c
        .call_method(
            Some(name),
            PATH,
            Some(sstp_nm::service::STATUS_IFACE),
            "GetStatus",
            &(),
        )
        .unwrap();
    m.body().deserialize().unwrap()
}

fn strings(v: &zbus::zvariant::OwnedValue) -> Vec<String> {
    v.try_clone().unwrap().try_into().unwrap()
}

fn connection() -> HashMap<&'static str, HashMap<&'static str, Value<'static>>> {
    connection_with(PASSWORD)
}

fn connection_with(
    password: &'static str,
) -> HashMap<&'static str, HashMap<&'static str, Value<'static>>> {
    let data: HashMap<&str, &str> = [
        ("gateway", "192.0.2.10"),
        ("user", "alice"),
        ("domain", "CORP"),
        ("refuse-pap", "yes"),
    ]
    .into_iter()
    .collect();
    let secrets: HashMap<&str, &str> = [("password", password)].into_iter().collect();
    let mut vpn = HashMap::new();
    vpn.insert(
        "service-type",
        Value::from("org.freedesktop.NetworkManager.sstp"),
    );
    vpn.insert("data", Value::from(data));
    vpn.insert("secrets", Value::from(secrets));
    let mut conn = HashMap::new();
    conn.insert("id", Value::from("Work"));
    conn.insert("uuid", Value::from("0b5e7c9a-0000-4000-8000-000000000001"));
    [("vpn", vpn), ("connection", conn)].into_iter().collect()
}

fn available() -> bool {
    let ok = nix::unistd::Uid::effective().is_root()
        && Command::new("dbus-daemon")
            .arg("--version")
            .output()
            .is_ok()
        && Command::new("python3").arg("--version").output().is_ok();
    if !ok {
        skip_unavailable("needs root, dbus-daemon and python3");
    }
    ok
}

fn call<B>(
    c: &zbus::blocking::Connection,
    name: &str,
    method: &str,
    body: &B,
) -> zbus::Result<zbus::Message>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    c.call_method(Some(name), PATH, Some(IFACE), method, body)
}

#[test]
fn connect_reports_config_and_disconnect_stops_pppd() {
    if !available() {
        return;
    }
    let bus = start_bus("svc").expect("dbus-daemon");
    let out = bus.dir.join("pppd-argv");
    let name = "org.freedesktop.NetworkManager.sstp.Connection_1";
    let _svc = start_service(&bus.address, name, &out, None);
    let c = client(&bus.address);
    let rx = signals(&c);
    wait_owner(&c, name);
    // A profile without gateway: BadArguments naming the key, nothing started.
    let mut bad = connection();
    bad.get_mut("vpn").unwrap().insert(
        "data",
        Value::from(
            [("user", "alice")]
                .into_iter()
                .collect::<HashMap<&str, &str>>(),
        ),
    );
    let e = call(&c, name, "Connect", &(bad,)).unwrap_err();
    assert!(
        e.to_string().contains("BadArguments") && e.to_string().contains("gateway"),
        "{e}"
    );
    assert!(!out.exists());
    // NeedSecrets: the password is there.
    let r = call(&c, name, "NeedSecrets", &(connection(),)).unwrap();
    assert_eq!(r.body().deserialize::<String>().unwrap(), "");
    call(&c, name, "Connect", &(connection(),)).unwrap();
    let config = wait_for(&rx, "Config");
    let cfg: HashMap<String, zbus::zvariant::OwnedValue> = config.body().deserialize().unwrap();
    assert_eq!(<&str>::try_from(&cfg["tundev"]).unwrap(), "ppp7");
    assert_eq!(
        u32::try_from(&cfg["gateway"]).unwrap(),
        u32::from_ne_bytes([192, 0, 2, 10])
    );
    let ip4 = wait_for(&rx, "Ip4Config");
    let ip4: HashMap<String, zbus::zvariant::OwnedValue> = ip4.body().deserialize().unwrap();
    assert_eq!(
        u32::try_from(&ip4["address"]).unwrap(),
        u32::from_ne_bytes([10, 0, 0, 2])
    );
    loop {
        let st = wait_for(&rx, "StateChanged");
        if st.body().deserialize::<u32>().unwrap() == 4 {
            break;
        }
    }
    // The status interface while connected: what the plugin reported and the settings.
    let st = status(&c, name);
    assert_eq!(<&str>::try_from(&st["State"]).unwrap(), "started");
    assert_eq!(<&str>::try_from(&st["Server"]).unwrap(), "192.0.2.10:443");
    assert_eq!(
        <&str>::try_from(&st["Peer"]).unwrap(),
        "IPv4 192.0.2.10:443"
    );
    assert_eq!(<&str>::try_from(&st["Interface"]).unwrap(), "ppp7");
    assert_eq!(<&str>::try_from(&st["CertificateSha256"]).unwrap(), "AB12");
    assert!(strings(&st["Errors"]).is_empty());
    let args = strings(&st["PppdArguments"]);
    assert!(
        args.windows(2)
            .any(|w| w == ["sstp-server", "192.0.2.10:443"]),
        "{args:?}"
    );
    assert!(!args.iter().any(|a| a.contains(PASSWORD)), "{args:?}");
    assert_eq!(u32::try_from(&cfg["mtu"]).unwrap(), 1400);
    let text = std::fs::read_to_string(&out).unwrap();
    let (argv, read) = text.split_once('\n').unwrap();
    assert!(
        argv.contains("user CORP\\alice") && argv.contains("refuse-pap"),
        "{argv}"
    );
    assert!(argv.contains("plugin /usr/lib/pppd/test/sstp-rs.so sstp-server 192.0.2.10:443"));
    assert!(!argv.contains(PASSWORD), "{argv}");
    assert_eq!(read.trim_end(), PASSWORD);
    // A second Connect while connected is refused with NetworkManager's error name.
    let e = call(&c, name, "Connect", &(connection(),)).unwrap_err();
    assert!(e.to_string().contains("WrongState"), "{e}");
    call(&c, name, "Disconnect", &()).unwrap();
    loop {
        let st = wait_for(&rx, "StateChanged");
        if st.body().deserialize::<u32>().unwrap() == 6 {
            break;
        }
    }
}

#[test]
fn pppd_failures_map_to_network_manager_reasons() {
    if !available() {
        return;
    }
    let bus = start_bus("svcfail").expect("dbus-daemon");
    for (code, reason) in [(19, 0u32), (8, 1), (11, 1)] {
        let out = bus.dir.join(format!("argv-{code}"));
        let name = format!("org.freedesktop.NetworkManager.sstp.Fail_{code}");
        let _svc = start_service(&bus.address, &name, &out, Some(code));
        let c = client(&bus.address);
        let rx = signals(&c);
        wait_owner(&c, &name);
        call(&c, &name, "Connect", &(connection(),)).unwrap();
        let f = wait_for(&rx, "Failure");
        assert_eq!(
            f.body().deserialize::<u32>().unwrap(),
            reason,
            "exit {code}"
        );
        // The plugin's sentence stays readable after the failure.
        let errors = strings(&status(&c, &name)["Errors"]);
        assert_eq!(
            errors,
            [
                format!("sstp-rs: fake failure, exit {code}"),
                "  detail line".into()
            ]
        );
    }
}

#[test]
fn a_wrong_password_asks_for_new_secrets_when_interactive() {
    if !available() {
        return;
    }
    let bus = start_bus("svcauth").expect("dbus-daemon");
    let out = bus.dir.join("argv-auth");
    let name = "org.freedesktop.NetworkManager.sstp.Auth";
    let _svc = start_service(&bus.address, name, &out, None);
    let c = client(&bus.address);
    let rx = signals(&c);
    wait_owner(&c, name);
    // NewSecrets before anything asked for them: refused.
    assert!(call(&c, name, "NewSecrets", &(connection(),)).is_err());
    let interactive = |password: &'static str| {
        let details: HashMap<&str, Value> = HashMap::new();
        call(
            &c,
            name,
            "ConnectInteractive",
            &(connection_with(password), details),
        )
        .unwrap();
    };
    // The user cancels the password prompt: Disconnect while waiting ends in STOPPED.
    interactive("wrong");
    wait_for(&rx, "SecretsRequired");
    call(&c, name, "Disconnect", &()).unwrap();
    while wait_for(&rx, "StateChanged")
        .body()
        .deserialize::<u32>()
        .unwrap()
        != 6
    {}
    // Again, and this time the user types the right password.
    interactive("wrong");
    let m = wait_for(&rx, "SecretsRequired");
    let (msg, hints): (String, Vec<String>) = m.body().deserialize().unwrap();
    // The plugin's own sentence is the message the secret agent shows.
    assert_eq!(msg, "sstp-rs: fake failure, exit 19");
    assert_eq!(hints, ["password"]);
    call(&c, name, "NewSecrets", &(connection(),)).unwrap();
    wait_for(&rx, "Ip4Config");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.split_once('\n').unwrap().1.trim_end(), PASSWORD);
    call(&c, name, "Disconnect", &()).unwrap();
}
