//! `cargo xtask <command>`: the project's one entry point for everything that is not a plain cargo
//! command. Each command lives in its own module.

mod bench;
mod demo;
mod fuzz;
mod pppd25;
mod soak;
mod test;
mod testbed;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command> [args]

commands:
  bench [--rounds N] [--seconds S] [--client LIST] [--link PROFILE] [--codec]
                     sstp-rs vs sstpc in one test-bed boot (throughput, CPU/GB, RTT under
                     load, connect, RSS, TLS/TCP ceilings) + codec micro-benchmarks;
                     updates BENCHMARKS.md
  demo               set up everything and run the main job in the test bed
  test               run everything CI runs (the README's test command)
  testbed [-- CMD]   boot the User-Mode Linux test bed and run CMD inside it
  fuzz [SECONDS] [--minutes N]
                     build every fuzz target and run each briefly (or N minutes in total)
  soak [--cycles N] [--minutes M]
                     pppd + sstp-rs.so: N connect cycles and an M-minute session under
                     traffic in the test bed; RSS/fd/thread slopes must be flat
  pppd25             fetch and build pppd 2.5.2 (Debian 13's) under target/pppd-2.5.2
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "bench" => bench::run(rest),
        "demo" => demo::run(rest),
        "test" => test::run(rest),
        "testbed" => testbed::run(rest),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        "pppd25" => pppd25::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
