//! The plugin's dynamic symbol table: `plugin_init` and `pppd_version` are the ONLY exported
//! symbols, `pppd_version` is a NUL-terminated array equal to the pppd version the build is for,
//! and every undefined symbol without a library version is one of pppd's (resolved at dlopen).

use std::path::PathBuf;
use std::process::Command;

/// The cdylib built alongside this test (target/<profile>/deps/libsstp_rs.so).
fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    for cand in [
        deps.join("libsstp_rs.so"),
        deps.parent().unwrap().join("libsstp_rs.so"),
    ] {
        if cand.is_file() {
            return cand;
        }
    }
    panic!("libsstp_rs.so not found next to {}", exe.display());
}

fn nm(args: &[&str]) -> Vec<(String, String)> {
    let so = plugin_path();
    let out = Command::new("nm")
        .args(args)
        .arg(&so)
        .output()
        .expect("run nm (binutils)");
    assert!(
        out.status.success(),
        "nm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [_addr, kind, name] => Some((kind.to_string(), name.to_string())),
                [kind, name] => Some((kind.to_string(), name.to_string())),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn only_plugin_init_and_pppd_version_are_exported() {
    let defined = nm(&["-D", "--defined-only"]);
    let mut names: Vec<&str> = defined.iter().map(|(_, n)| n.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["plugin_init", "pppd_version"],
        "exported: {defined:?}"
    );
    let kind = |n: &str| {
        defined
            .iter()
            .find(|(_, x)| x == n)
            .map(|(k, _)| k.clone())
            .unwrap()
    };
    assert_eq!(kind("plugin_init"), "T");
    assert!(["R", "D", "B"].contains(&kind("pppd_version").as_str()));
}

#[test]
fn unversioned_undefined_symbols_are_pppd_symbols() {
    // Everything the shim may use from pppd (2.4.9 and 2.5.x names) plus toolchain weak refs.
    const PPPD: &[&str] = &[
        "add_options",
        "ppp_add_options",
        "option_error",
        "ppp_option_error",
        "add_notifier",
        "ppp_add_notify",
        "auth_up_notifier",
        "phasechange",
        "exitnotify",
        "ip_up_notifier",
        "ip_down_notifier",
        "ipv6_up_notifier",
        "ipv6_down_notifier",
        "link_down_notifier",
        "debug",
        "debug_on",
        "mppe_keys_set",
        "mppe_send_key",
        "mppe_recv_key",
        "mppe_keys_isset",
        "mppe_get_send_key",
        "mppe_get_recv_key",
        "ifname",
        "ppp_ifname",
        "status",
        "ppp_status",
        "ppp_set_status",
        "devnam",
        "ppp_devnam",
        "ppp_set_devnam",
        "ppp_set_pppdevnam",
        "timeout",
        "ppp_timeout",
        "untimeout",
        "ppp_untimeout",
        "dbglog",
        "info",
        "notice",
        "warn",
        "error",
        "the_channel",
        "tty_establish_ppp",
        "tty_disestablish_ppp",
        "tty_send_config",
        "tty_recv_config",
        "get_pty",
        "set_up_tty",
        "lcp_close",
        "die",
        // the frame channel (PPPoL2TP): 2.4.9 and 2.5.x names; LCP options it switches off
        "generic_establish_ppp",
        "generic_disestablish_ppp",
        "ppp_generic_establish",
        "ppp_generic_disestablish",
        "lcp_wantoptions",
        "lcp_allowoptions",
        "ipcp_gotoptions",
        "ipcp_hisoptions",
        "ipv6cp_gotoptions",
        "ipv6cp_hisoptions",
        // the host route to the server: pppd's default-route options (issue 8)
        "ipcp_wantoptions",
        "ipv6cp_wantoptions",
        "privileged_option",
        "sigreceived",
        // sstp_shim_auth_method (EAP): the method pppd used to authenticate us.
        "lcp_hisoptions",
        "eap_states",
        "_ITM_deregisterTMCloneTable",
        "_ITM_registerTMCloneTable",
        "__gmon_start__",
    ];
    let undef = nm(&["-D", "--undefined-only"]);
    assert!(
        undef.iter().any(|(_, n)| n == "tty_establish_ppp"),
        "{undef:?}"
    );
    for (kind, name) in &undef {
        if name.contains('@') {
            continue; // versioned: libc, libgcc, OpenSSL
        }
        assert!(
            PPPD.contains(&name.as_str()),
            "unexpected undefined symbol {name}"
        );
        // Weak: a pppd without it (e.g. generic_establish_ppp under its other name) still
        // loads the plugin, and the shim checks for NULL where a symbol is optional.
        assert!(
            kind == "w" || kind == "v",
            "{name} is not a weak reference ({kind})"
        );
    }
}

#[test]
fn pppd_version_is_the_nul_terminated_build_version() {
    let so = plugin_path();
    let path = std::ffi::CString::new(so.to_str().unwrap()).unwrap();
    // SAFETY: dlopen/dlsym with valid strings. The plugin has no constructors; all pppd symbols
    // it references are weak, so it loads outside pppd. Nothing in it is called.
    unsafe {
        let h = libc::dlopen(path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        assert!(!h.is_null(), "dlopen failed");
        let sym = libc::dlsym(h, c"pppd_version".as_ptr());
        assert!(!sym.is_null());
        let s = std::ffi::CStr::from_ptr(sym as *const libc::c_char);
        assert_eq!(s.to_str().unwrap(), pppd_sys::PPPD_VERSION);
        assert_eq!(s.to_str().unwrap(), sstp_rs::PPPD_VERSION);
        assert!(!libc::dlsym(h, c"plugin_init".as_ptr()).is_null());
        assert!(
            libc::dlsym(h, c"sstp_shim_log".as_ptr()).is_null(),
            "shim symbols must stay hidden"
        );
    }
    // The system pppd (2.4.9 on Debian 12) must agree when the build is for it.
    if let Ok(out) = Command::new("/usr/sbin/pppd").arg("--version").output() {
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if pppd_sys::PPPD_VERSION == "2.4.9" {
            assert!(text.contains("pppd version 2.4.9"), "{text}");
        }
    }
}
