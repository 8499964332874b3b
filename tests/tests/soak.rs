//! The short soak (CI): `cargo xtask soak --cycles 50 --minutes 2` as a test. pppd 2.4.9 +
//! sstp-rs.so in the UML test bed reconnects 50 times in ONE process (`persist holdoff 0`)
//! against the test server aborting each call, then holds a 2-minute session under
//! bidirectional iperf3 traffic; pppd's RSS, fds and threads must stay flat (least-squares
//! slopes within `soak::tolerance`) and every cycle must really connect (IPCP up, counted by
//! pppd's ip-up script). The logic is xtask's `soak` module, included here so that the command
//! and the test are one implementation. Set SSTP_RS_SKIP_TESTBED=1 to skip without the bed.

#[path = "../../xtask/src/soak.rs"]
#[allow(dead_code)]
mod soak;

#[test]
fn soak_short_is_flat_and_every_cycle_connects() {
    if integration_tests::testbed::skip_testbed(&[]) {
        return;
    }
    let plan = soak::Plan {
        cycles: 50,
        minutes: 2,
        ..soak::Plan::default()
    };
    let Some(out) = soak::run_soak(&plan).expect("build the plugin and the test server") else {
        return;
    };
    let summary = out.summary(&plan);
    eprintln!("{summary}");
    let diag = || {
        format!(
            "{summary}\n{}\n--- server-cycles.log (tail) ---\n{}\n--- soak-cycles-pppd.log (tail) ---\n{}",
            out.run.diagnostics(),
            tail(&out.run.read("server-cycles.log").unwrap_or_default()),
            tail(&out.run.read("soak-cycles-pppd.log").unwrap_or_default()),
        )
    };
    assert!(out.run.success(), "{}", diag());
    assert_eq!(out.cycles_connected(), 50, "{}", diag());
    assert_eq!(out.fact("cycles_connected"), "50", "{}", diag());
    let failures = out.failures(&plan, &soak::tolerance(&plan));
    assert!(failures.is_empty(), "{failures:?}\n{}", diag());
    assert_eq!(out.fact("leftovers"), "", "{}", diag());
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
