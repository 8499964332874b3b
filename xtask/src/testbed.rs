//! `cargo xtask testbed [--keep] [--timeout SECS] [--mem MIB] [--] [COMMAND...]`: boots the
//! User-Mode Linux test bed and runs COMMAND (a POSIX sh command line; default: a short system
//! overview) inside it as root, printing its output as it comes. The exit status is the
//! command's. The logic lives in `integration_tests::testbed`.

use std::time::Duration;

use integration_tests::testbed::{self, BootOptions};

const DEFAULT_COMMAND: &str =
    "uname -a; echo; lsmod; echo; ip -br addr; echo; mount | grep -v ' / '";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut opts = BootOptions {
        stream_output: true,
        timeout: Duration::from_secs(600),
        ..BootOptions::default()
    };
    let mut words: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--" => {
                words.extend(it.by_ref().cloned());
            }
            "--keep" => opts.keep_scratch = true,
            "--timeout" => {
                let v = it.next().ok_or("--timeout needs seconds")?;
                let secs: u64 = v.parse().map_err(|_| format!("bad --timeout {v}"))?;
                opts.timeout = Duration::from_secs(secs);
            }
            "--mem" => {
                let v = it.next().ok_or("--mem needs MiB")?;
                opts.mem_mb = v.parse().map_err(|_| format!("bad --mem {v}"))?;
            }
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask testbed [--keep] [--timeout SECS] [--mem MIB] [--] [COMMAND...]"
                );
                return Ok(());
            }
            _ => {
                words.push(a.clone());
                words.extend(it.by_ref().cloned());
            }
        }
    }
    let script = if words.is_empty() {
        DEFAULT_COMMAND.to_string()
    } else {
        words.join(" ")
    };
    let run = testbed::run(&script, &opts).map_err(|e| e.to_string())?;
    eprintln!(
        "testbed: boot {}, command {}, wall {:.2}s, status {}{}",
        fmt_opt(run.boot_time),
        fmt_opt(run.command_time),
        run.wall_time.as_secs_f64(),
        run.status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".into()),
        if opts.keep_scratch {
            format!(", scratch kept in {}", run.scratch.display())
        } else {
            String::new()
        }
    );
    match run.status {
        Some(0) => Ok(()),
        Some(s) => Err(format!("command exited with status {s}")),
        None if run.timed_out => Err(format!(
            "the guest did not finish in time and was killed\n{}",
            run.diagnostics()
        )),
        None => Err(format!(
            "the guest left no exit status\n{}",
            run.diagnostics()
        )),
    }
}

pub(crate) fn fmt_opt(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2}s", d.as_secs_f64()))
        .unwrap_or_else(|| "?".into())
}
