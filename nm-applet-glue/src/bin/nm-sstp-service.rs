//! `nm-sstp-service`: NetworkManager starts it (one per connection, `--bus-name`) and drives it
//! over the system bus. A thin shell around `sstp_nm::service`.

use std::process::ExitCode;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use sstp_nm::service::{self, Plugin};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nm-sstp-service: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = service::parse_args(std::env::args().skip(1))?;
    // SIGTERM/SIGINT are taken by a sigwait thread (blocked here before any thread starts;
    // pppd gets a clean mask through sstp_cli::child::command).
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals
        .thread_block()
        .map_err(|e| format!("blocking signals: {e}"))?;
    let persist = args.persist;
    let bus_name = args.bus_name.clone();
    let plugin = Plugin::new(args);
    let shared = plugin.shared();
    let status = service::Status::new(&plugin);
    let _conn = zbus::blocking::connection::Builder::system()
        .and_then(|b| b.name(bus_name.as_str()))
        .and_then(|b| b.serve_at(service::PATH, plugin))
        .and_then(|b| b.serve_at(service::PATH, status))
        .and_then(|b| b.build())
        .map_err(|e| format!("cannot own {bus_name} on the system bus: {e}"))?;
    let sh = shared.clone();
    std::thread::spawn(move || {
        if signals.wait().is_ok() {
            service::stop_pppd(&sh);
            std::thread::sleep(Duration::from_millis(500));
            std::process::exit(0);
        }
    });
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let idle = shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .idle_since
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(service::QUIT_AFTER_SECS));
        if idle && !persist {
            return Ok(());
        }
    }
}
