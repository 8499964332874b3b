//! The bench machinery works (CI): `cargo xtask bench` with 1 round of 2 s per direction for
//! sstp-rs and sstpc plus the ceilings, in one test-bed boot. It asserts that every fact of
//! the table is there and non-zero (throughput, CPU per GB, RTTs, connect time, peak RSS,
//! TCP/TLS ceilings), never a speed: figures belong to BENCHMARKS.md. The logic is xtask's
//! `bench` module, included here so that the command and the test are one implementation.

#[path = "../../xtask/src/bench.rs"]
#[allow(dead_code)]
mod bench;

#[test]
fn bench_one_short_round_reports_every_fact() {
    if integration_tests::testbed::skip_testbed(&[]) {
        return;
    }
    let plan = bench::Plan {
        rounds: 1,
        seconds: 2,
        codec: false,
        write: false,
        ..bench::Plan::default()
    };
    let Some((res, run)) = bench::run_bed(&plan).expect("build the plugin and the test server")
    else {
        return;
    };
    let table = bench::table(&res, &plan.clients);
    eprintln!("{table}\n{}", bench::conditions(&res, &plan));
    assert!(run.success(), "{}", run.diagnostics());
    let missing = bench::missing(&res, &plan);
    assert!(
        missing.is_empty(),
        "missing facts: {missing:?}\n{table}\n{}",
        run.diagnostics()
    );
    assert!(table.contains("sstp-rs/sstpc"), "{table}");
}
