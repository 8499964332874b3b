//! The test bed itself: boots, exit status, output, isolation from the host, timeouts, modules,
//! concurrent boots. Each test boots `linux.uml` (boots are serialized by a lock file).
//! Set SSTP_RS_SKIP_TESTBED=1 to skip them on a machine without the test bed.

use std::path::Path;
use std::time::Duration;

use integration_tests::testbed::{self, BootOptions};

fn skip() -> bool {
    integration_tests::testbed::skip_testbed(&[])
}

fn quick() -> BootOptions {
    BootOptions {
        timeout: Duration::from_secs(60),
        ..BootOptions::default()
    }
}

#[test]
fn runs_command_and_returns_status_and_output() {
    if skip() {
        return;
    }
    let run = testbed::run("echo hello from $(uname -r); id -u; exit 7", &quick()).unwrap();
    assert_eq!(run.status, Some(7), "{}", run.diagnostics());
    assert!(!run.timed_out);
    let mut lines = run.output.lines();
    let first = lines.next().unwrap_or("");
    assert!(first.starts_with("hello from "), "{}", run.diagnostics());
    // The guest runs its own kernel, not the host's.
    let host_release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_ne!(first.trim_start_matches("hello from "), host_release.trim());
    assert_eq!(
        lines.next(),
        Some("0"),
        "the command runs as root in the guest"
    );
    assert!(run.boot_time.is_some() && run.command_time.is_some());
    assert!(run.no_leftover_processes);
    eprintln!(
        "boot {:?}, command {:?}, wall {:?}",
        run.boot_time.unwrap(),
        run.command_time.unwrap(),
        run.wall_time
    );
}

#[test]
fn ppp_modules_and_devices_are_there() {
    if skip() {
        return;
    }
    let script = "for m in crc_ccitt slhc ppp_generic ppp_async ppp_synctty libarc4 ppp_mppe veth tun ipv6; do \
                    [ -d /sys/module/$m ] && echo module $m; done; \
                  [ -c /dev/ppp ] && echo dev ppp; [ -c /dev/net/tun ] && echo dev tun; \
                  [ -c /dev/ptmx ] && echo dev ptmx; pppd --version 2>&1; \
                  ip -o link show lo | grep -q UP && echo lo up; \
                  ip netns add t && ip link add va type veth peer name vb && ip link set vb netns t && echo veth ok";
    let run = testbed::run(script, &quick()).unwrap();
    assert!(run.success(), "{}", run.diagnostics());
    for m in [
        "crc_ccitt",
        "slhc",
        "ppp_generic",
        "ppp_async",
        "ppp_synctty",
        "libarc4",
        "ppp_mppe",
        "veth",
        "tun",
        "ipv6",
    ] {
        assert!(
            run.output.contains(&format!("module {m}\n")),
            "module {m} not loaded\n{}",
            run.diagnostics()
        );
    }
    for line in [
        "dev ppp",
        "dev tun",
        "dev ptmx",
        "pppd version 2.4.9",
        "lo up",
        "veth ok",
    ] {
        assert!(run.output.contains(line), "{line}\n{}", run.diagnostics());
    }
}

/// The guest sees the host's root file system read-only; where it writes there are tmpfs
/// mounts, and nothing of it reaches the host.
#[test]
fn guest_never_writes_into_host_root() {
    if skip() {
        return;
    }
    let marker = format!("sstp-rs-guest-marker-{}", std::process::id());
    let script = format!(
        "for d in /etc /var /usr /var/lib /opt /work; do \
           if touch $d/{marker} 2>/dev/null; then echo WROTE $d; else echo refused $d; fi; done; \
         for d in /etc/ppp /var/log /var/tmp /tmp /run /dev/shm /var/run /var/lock; do \
           if touch $d/{marker} 2>/dev/null; then echo tmpfs $d; else echo FAILED $d; fi; done; \
         echo 'sstp-test * secret *' >> /etc/ppp/chap-secrets && echo chap ok; \
         echo '192.0.2.9 marker.test' >> /etc/hosts && echo hosts ok; \
         grep -q '^/dev/root / hostfs ro' /proc/mounts && echo root ro; \
         echo result > /run/bed/result.txt"
    );
    let host_hosts = std::fs::read("/etc/hosts").ok();
    let host_chap = std::fs::read("/etc/ppp/chap-secrets").ok();
    let run = testbed::run(&script, &quick()).unwrap();
    assert!(run.success(), "{}", run.diagnostics());
    assert!(!run.output.contains("WROTE"), "{}", run.diagnostics());
    assert!(!run.output.contains("FAILED"), "{}", run.diagnostics());
    for d in ["/etc", "/var", "/usr", "/opt"] {
        assert!(run.output.contains(&format!("refused {d}\n")), "{d}");
    }
    for line in [
        "tmpfs /etc/ppp",
        "tmpfs /var/log",
        "chap ok",
        "hosts ok",
        "root ro",
    ] {
        assert!(run.output.contains(line), "{line}\n{}", run.diagnostics());
    }
    // The scratch directory is the one way back.
    assert_eq!(run.read("result.txt").as_deref(), Some("result\n"));
    // Nothing arrived on the host.
    for d in [
        "/etc", "/var", "/usr", "/opt", "/etc/ppp", "/var/log", "/var/tmp", "/tmp",
    ] {
        assert!(
            !Path::new(d).join(&marker).exists(),
            "guest wrote into the host's {d}"
        );
    }
    assert_eq!(std::fs::read("/etc/hosts").ok(), host_hosts);
    assert_eq!(std::fs::read("/etc/ppp/chap-secrets").ok(), host_chap);
}

#[test]
fn guest_timeout_kills_the_command() {
    if skip() {
        return;
    }
    let opts = BootOptions {
        timeout: Duration::from_secs(3),
        ..BootOptions::default()
    };
    let run = testbed::run("echo started; sleep 600; echo not reached", &opts).unwrap();
    assert_eq!(run.status, Some(124), "{}", run.diagnostics());
    assert!(run.output.contains("started") && !run.output.contains("not reached"));
    assert!(!run.timed_out);
    assert!(run.wall_time < Duration::from_secs(40));
}

#[test]
fn host_deadline_kills_the_whole_uml_process_group() {
    if skip() {
        return;
    }
    let opts = BootOptions {
        timeout: Duration::from_secs(600),
        host_deadline: Some(Duration::from_secs(8)),
        ..BootOptions::default()
    };
    let run = testbed::run("echo started; sleep 600", &opts).unwrap();
    assert!(run.timed_out, "{}", run.diagnostics());
    assert_eq!(run.status, None);
    assert!(run.wall_time < Duration::from_secs(20));
    assert!(run.no_leftover_processes, "UML processes survived the kill");
    assert!(
        !run.scratch.join("uml").exists(),
        "the umid directory was not cleaned up"
    );
}

#[test]
fn concurrent_boots_do_not_collide() {
    if skip() {
        return;
    }
    let threads: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || {
                let run = testbed::run(
                    &format!("echo run {i} > /run/bed/mine.txt; cat /run/bed/mine.txt"),
                    &quick(),
                )
                .unwrap();
                assert!(run.success(), "{}", run.diagnostics());
                (run.output.clone(), run.scratch.clone())
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results[0].0, "run 0\n");
    assert_eq!(results[1].0, "run 1\n");
    assert_ne!(results[0].1, results[1].1);
    // Scratch directories are removed when the runs are dropped.
    for (_, scratch) in &results {
        assert!(!scratch.exists());
    }
}

/// Not a test by itself: the process `killed_owner_leaves_nothing_behind` starts and kills.
#[test]
#[ignore = "helper process for killed_owner_leaves_nothing_behind"]
fn helper_boot_and_sleep() {
    if std::env::var_os("SSTP_RS_TESTBED_HELPER").is_none() {
        return;
    }
    let _ = testbed::run("sleep 300", &quick());
}

/// A test process killed in the middle of a boot (CI timeout, Ctrl-C, SIGKILL): the UML kernel
/// dies with it, and the next boot removes the leftover helper processes and scratch directory.
#[test]
fn killed_owner_leaves_nothing_behind() {
    if skip() {
        return;
    }
    let runs_dir = testbed::environment().unwrap().runs_dir;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "helper_boot_and_sleep",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("SSTP_RS_TESTBED_HELPER", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let prefix = format!("sstprs-{}-", child.id());
    // Wait until the helper's guest has booted (it may first wait for the boot lock).
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    let scratch = loop {
        let found = std::fs::read_dir(&runs_dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
                    && p.join("ready").exists()
            });
        if let Some(p) = found {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "helper never booted");
        std::thread::sleep(Duration::from_millis(100));
    };
    let pgid: i32 = std::fs::read_to_string(scratch.join("uml.pgid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    // PR_SET_PDEATHSIG: the UML kernel (the group leader) goes at once.
    let leader_gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        let stat = std::fs::read_to_string(format!("/proc/{pgid}/stat")).unwrap_or_default();
        stat.is_empty() || stat.contains(") Z ")
    });
    assert!(leader_gone, "the UML kernel outlived its owner");
    // The next boot sweeps the rest.
    let run = testbed::run("true", &quick()).unwrap();
    assert!(run.success(), "{}", run.diagnostics());
    assert!(!scratch.exists(), "stale scratch directory not removed");
    // SAFETY: kill(2) with signal 0 only checks whether the process group exists.
    let group_alive = unsafe { libc::kill(-pgid, 0) } == 0;
    assert!(
        !group_alive,
        "UML helper processes of the killed run survived"
    );
}
