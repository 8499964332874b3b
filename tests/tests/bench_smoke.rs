//! The bench machinery works (CI): `cargo xtask bench` with 1 round of 2 s per direction for
//! sstp-rs and sstpc plus the ceilings, in one test-bed boot, on the default link and on the
//! shaped `wan-20m` link. It asserts that every fact of the table is there and non-zero
//! (throughput, CPU per GB, RTTs, connect time, peak RSS, TCP/TLS ceilings, and on the shaped
//! link the % of the link rate and the RTT bound of issue 10 item 3), never a speed: figures
//! belong to BENCHMARKS.md. The logic is xtask's `bench` module, included here so that the
//! command and the test are one implementation.

#[path = "../../xtask/src/bench.rs"]
#[allow(dead_code)]
mod bench;

/// One short round of every default client on `link`; returns the printed tables.
fn one_short_round(link: &str, seconds: u32) -> Option<String> {
    let plan = bench::Plan {
        rounds: 1,
        seconds,
        codec: false,
        write: false,
        link: *bench::LINKS.iter().find(|l| l.name == link).unwrap(),
        ..bench::Plan::default()
    };
    let (res, run) = bench::run_bed(&plan).expect("build the plugin and the test server")?;
    let table = format!(
        "{}\n{}",
        bench::table(&res, &plan),
        bench::bound_table(&res, &plan)
    );
    eprintln!("{table}\n{}", bench::conditions(&res, &plan));
    assert!(run.success(), "{}", run.diagnostics());
    let missing = bench::missing(&res, &plan);
    assert!(
        missing.is_empty(),
        "missing facts: {missing:?}\n{table}\n{}",
        run.diagnostics()
    );
    assert!(table.contains("sstp-rs/sstpc"), "{table}");
    Some(table)
}

#[test]
fn bench_one_short_round_reports_every_fact() {
    if integration_tests::testbed::skip_testbed(&[]) {
        return;
    }
    one_short_round("lan-2ms", 2);
}

#[test]
fn bench_shaped_link_reports_the_rtt_bound() {
    if integration_tests::testbed::skip_testbed(&[]) {
        return;
    }
    let Some(table) = one_short_round("wan-20m", 3) else {
        return;
    };
    assert!(table.contains("% of the link rate"), "{table}");
    let bound = table
        .lines()
        .find(|l| l.starts_with("| bound 2 × idle RTT + 10 ms"))
        .unwrap_or_else(|| panic!("no bound row:\n{table}"));
    assert!(!bound.contains('—'), "{bound}");
    for dir in ["upload", "download"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {dir}: RTT under load")))
            .unwrap_or_else(|| panic!("no {dir} row:\n{table}"));
        assert!(!row.contains('—') && row.contains("met"), "{row}");
    }
}
