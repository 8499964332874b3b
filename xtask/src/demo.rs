//! `cargo xtask demo [--pppd25] [--sstpc | --client-cmd CMD] [--delay MS] [--ipv6]
//! [--tls12|--tls13] [--pings N] [--iperf SECS] [--keep] [--no-setup]`: sets up the machine,
//! builds sstp-rs.so for the test bed's pppd, boots the test bed and runs the SSTP scenario step
//! by step: network and certificates, sstpd, pppd + sstp-rs.so connecting (address on ppp0),
//! pings and iperf3 through the tunnel, disconnect, leftover check. `--sstpc` runs the reference
//! client (sstp-client) instead; `--client-cmd` any command (see
//! `integration_tests::scenario::Client::Command`).

use std::time::Duration;

use integration_tests::plugin::{self, Pppd};
use integration_tests::scenario::{Client, Scenario, TlsVersion, Transport};

use crate::testbed::fmt_opt;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut sc = Scenario {
        pings: 10,
        iperf_seconds: 5,
        stream_output: true,
        ..Scenario::reference()
    };
    let mut setup = true;
    let mut keep = false;
    let mut delay_set = false;
    let mut pppd = Pppd::V249;
    let mut use_plugin = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs {what}"))
        };
        match a.as_str() {
            "--pppd25" => pppd = Pppd::V252,
            "--sstpc" => {
                use_plugin = false;
                let delay = sc.link_delay_ms;
                sc = sc.with_client(Client::Sstpc);
                if delay_set {
                    sc.link_delay_ms = delay;
                }
            }
            "--client-cmd" => {
                use_plugin = false;
                let delay = sc.link_delay_ms;
                sc = sc.with_client(Client::Command(value("a command")?));
                if delay_set {
                    sc.link_delay_ms = delay;
                }
            }
            "--delay" => {
                let v = value("milliseconds")?;
                sc.link_delay_ms = v.parse().map_err(|_| format!("bad --delay {v}"))?;
                delay_set = true;
            }
            "--ipv6" => sc.transport = Transport::Ipv6,
            "--tls12" => sc.tls_max = Some(TlsVersion::Tls12),
            "--tls13" => sc.tls_min = Some(TlsVersion::Tls13),
            "--pings" => {
                let v = value("a count")?;
                sc.pings = v.parse().map_err(|_| format!("bad --pings {v}"))?;
            }
            "--iperf" => {
                let v = value("seconds")?;
                sc.iperf_seconds = v.parse().map_err(|_| format!("bad --iperf {v}"))?;
            }
            "--keep" => keep = true,
            "--no-setup" => setup = false,
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask demo [--pppd25] [--sstpc | --client-cmd CMD] [--delay MS] \
                     [--ipv6] [--tls12|--tls13] [--pings N] [--iperf SECS] [--keep] [--no-setup]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    sc.timeout = Duration::from_secs(120 + u64::from(sc.iperf_seconds));

    if setup {
        crate::test::setup(&integration_tests::testbed::workspace_root())?;
    }
    if use_plugin {
        println!("\n==== building sstp-rs.so for pppd {}", pppd.version());
        let so = plugin::build_plugin(pppd, true, "sstp-rs.so")?;
        let delay = sc.link_delay_ms;
        sc = sc.with_client(plugin::plugin_client(pppd, &so, ""));
        if delay_set {
            sc.link_delay_ms = delay;
        }
    }
    let client = match &sc.client {
        Client::Sstpc => "sstpc (sstp-client 1.0.18) + pppd 2.4.9".to_string(),
        Client::Command(c) => format!("`{c}`"),
    };
    println!(
        "\n==== demo: {client} -> sstpd (sstp-server 0.6.0) in the UML test bed, link delay {} ms\n",
        sc.link_delay_ms
    );
    let mut report = sc.run().map_err(|e| e.to_string())?;
    if keep {
        report.run.keep();
    }

    println!("\n==== summary");
    println!("  boot to init ready   {}", fmt_opt(report.run.boot_time));
    println!("  scenario in guest    {}", fmt_opt(report.scenario_time()));
    println!("  connect to address   {}", fmt_opt(report.connect_time()));
    match report.ppp_addresses() {
        Some((local, peer)) => println!(
            "  {:<20} local {local}, peer {peer}",
            report.fact("ppp_if").unwrap_or("ppp?")
        ),
        None => println!("  ppp                  no address"),
    }
    if let Some(p) = report.ping() {
        let rtt = p
            .rtt_ms
            .map(|(min, avg, max)| format!(", rtt min/avg/max {min}/{avg}/{max} ms"))
            .unwrap_or_default();
        println!(
            "  ping                 {}/{} received, {:.0}% loss{rtt}",
            p.received,
            p.transmitted,
            p.loss_percent()
        );
    }
    if let Some(mbps) = report.throughput_mbps() {
        println!("  iperf3 through tunnel {mbps:.2} Mbit/s (one guest CPU shared by all)");
    }
    println!(
        "  crypto binding       {}",
        if report.crypto_binding_valid() {
            "verified by the server"
        } else {
            "NOT verified"
        }
    );
    println!(
        "  disconnect           {} ({}s), server pppd exited: {}",
        if report.flag("client_stopped") {
            "clean"
        } else {
            "client had to be killed"
        },
        report.fact("disconnect_seconds").unwrap_or("?"),
        report.flag("server_pppd_exited")
    );
    let left = report.leftovers();
    println!(
        "  leftover processes   {}",
        if left.is_empty() {
            "none".to_string()
        } else {
            left.join(" ")
        }
    );
    if keep {
        println!("  logs kept in         {}", report.run.scratch.display());
    }
    if report.run.success() && report.crypto_binding_valid() && left.is_empty() {
        Ok(())
    } else {
        Err(format!("the scenario failed\n{}", report.diagnostics()))
    }
}
