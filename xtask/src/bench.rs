//! `cargo xtask bench`: sstp-rs against sstpc in ONE test-bed boot, plus the codec
//! micro-benchmarks (criterion, `sstp-proto/benches/codec.rs`).
//!
//! The guest script (`bench.sh`) starts the Rust test server (release, real server pppd) once,
//! then runs the clients of `--client` in alternating rounds against it with the same pppd
//! options and MTU: connect time, idle ping, iperf3 each way with pings alongside, the CPU
//! ticks of the client's processes (pppd with the plugin's thread; pppd + sstpc) and of the
//! server's (test server + its pppd) over each transfer, peak RSS (VmHWM). Then the ceilings
//! over the same veth without PPP: plain TCP (iperf3) and TLS with the sessions' version and
//! cipher (`openssl s_server`/`s_client`). The table gives medians, min–max and ratios; the
//! run is written between the markers of `BENCHMARKS.md`.
//!
//! Clients are names in [`CLIENTS`] with their command in `bench.sh` (`client_cmd`): `sstp-rs`
//! (plugin defaults), `sstp-rs-pty` (`sstp-channel pty`), `sstpc`; rows and ratio columns follow
//! the client list. Link profiles are entries of [`LINKS`]: the LAN ones delay client -> server
//! only; the WAN ones (issue 10 item 3) shape both directions ([`shape_tc`]) and add the % of
//! the link rate, plain TCP's RTT under load and the `2 × idle + 10 ms` table ([`bound_table`]).
//! Each profile has its own marked section in `BENCHMARKS.md` ([`section`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::plugin::{self, Pppd};
use integration_tests::testbed::{self, shell_quote, workspace_root};

const SCRIPT: &str = include_str!("bench.sh");

const USAGE: &str = "usage: cargo xtask bench [options]
  --rounds N         rounds per client, alternating (default 3)
  --seconds S        iperf3 seconds per direction (default 10)
  --client LIST      comma-separated clients, compared in this order (default sstp-rs,sstpc,
                     plus sstp-rs-pty when the plugin has `sstp-channel`; known: sstp-rs,
                     sstp-rs-pty, sstpc); the ratios are against sstpc
  --only CLIENT      same as --client CLIENT
  --link PROFILE     outer link profile (default lan-2ms; see below)
  --mtu N            PPP MTU/MRU of both clients (default 1500)
  --no-ceilings      skip the TCP/TLS ceilings
  --codec            only the codec micro-benchmarks (criterion)
  --no-codec         skip the codec micro-benchmarks
  --no-write         do not update BENCHMARKS.md
link profiles:";

/// A client the bench knows (its command is `client_cmd` in bench.sh).
pub const CLIENTS: &[(&str, &str)] = &[
    (
        "sstp-rs",
        "pppd 2.4.9 + sstp-rs.so (release), default options (sstp-channel auto where the \
         plugin has it)",
    ),
    (
        "sstp-rs-pty",
        "pppd 2.4.9 + sstp-rs.so (release) with `sstp-channel pty` (needs a plugin with \
         that option)",
    ),
    ("sstpc", "sstp-client 1.0.18 sstpc + pppd 2.4.9"),
];

/// The clients of a run without `--client`.
pub const DEFAULT_CLIENTS: &[&str] = &["sstp-rs", "sstpc"];

/// The plan with `sstp-rs-pty` after `sstp-rs` when the clients were not given and the built
/// plugin knows `sstp-channel` (before branch l2tp merges it does not, and pppd would refuse
/// the unknown option).
pub fn with_pty_variant(plan: &Plan, so: &Path) -> Plan {
    let mut p = plan.clone();
    let knows = std::fs::read(so).is_ok_and(|b| b.windows(12).any(|w| w == b"sstp-channel"));
    if !plan.clients_given && knows && !p.clients.iter().any(|c| c == "sstp-rs-pty") {
        let at = p
            .clients
            .iter()
            .position(|c| c == "sstp-rs")
            .map_or(0, |i| i + 1);
        p.clients.insert(at, "sstp-rs-pty".into());
    }
    p
}

/// The reference client of the ratio columns.
pub const BASELINE: &str = "sstpc";

/// An outer-link profile: netem delay, an optional rate limit each way, extra tc commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// `--link` name.
    pub name: &'static str,
    /// One line for the table.
    pub about: &'static str,
    /// One-way netem delay in ms: client -> server only (`SC_LINK_DELAY_MS` of `sc_net_up`)
    /// when `rate_mbit` is 0, each way when the link is shaped.
    pub delay_ms: u32,
    /// Rate of each direction in Mbit/s (tbf, see [`shape_tc`]); 0 = not shaped.
    pub rate_mbit: u32,
    /// Shell run in the guest after `sc_net_up` (after the shaping), empty for none.
    pub tc: &'static str,
}

impl Link {
    /// The link is rate-limited (a WAN profile of issue 10 item 3).
    pub fn shaped(&self) -> bool {
        self.rate_mbit > 0
    }

    /// Bandwidth-delay product of the base RTT (2 × `delay_ms`), bytes.
    pub fn bdp_bytes(&self) -> u32 {
        self.rate_mbit * 1_000_000 / 8 * 2 * self.delay_ms / 1000
    }
}

/// The link profiles. sstpc 1.0.18 needs a little latency (its start-up race, tests/README.md),
/// so the default has 2 ms one-way: both clients see the same link.
pub const LINKS: &[Link] = &[
    Link {
        name: "lan-2ms",
        about: "veth, netem 2 ms one-way (client -> server), no rate limit",
        delay_ms: 2,
        rate_mbit: 0,
        tc: "",
    },
    Link {
        name: "lan",
        about: "veth, no delay, no rate limit (sstpc may need retries)",
        delay_ms: 0,
        rate_mbit: 0,
        tc: "",
    },
    Link {
        name: "wan-20m",
        about: "veth shaped each way: 20 Mbit/s, 10 ms one-way (20 ms RTT), tbf queue of 1 BDP",
        delay_ms: 10,
        rate_mbit: 20,
        tc: "",
    },
    Link {
        name: "wan-100m",
        about: "veth shaped each way: 100 Mbit/s, 5 ms one-way (10 ms RTT), tbf queue of 1 BDP",
        delay_ms: 5,
        rate_mbit: 100,
        tc: "",
    },
];

/// The shaping of a WAN profile, on the egress of BOTH veth ends (veth-c: client -> server,
/// veth-s in netns srv: server -> client; no ifb needed since both ends are ours): a netem root
/// that only delays, with a tbf child that limits the rate. Why tbf and not `netem rate`:
/// netem's queue limit counts packets, mixes the delay line with the bottleneck queue and does
/// not split the veth's 64 KiB GSO packets, so it bounds neither bytes nor time; tbf's limit is
/// in bytes and tbf segments GSO packets larger than its burst, so the bottleneck queue delays
/// a packet by at most limit / rate. The limit is 1 BDP of the base RTT (20 ms at any rate):
/// enough for one TCP flow to keep the link busy, and small enough that the queue alone stays
/// within issue 10's bound (2 × idle RTT + 10 ms): a full queue adds 1 RTT. The burst is 4 ms
/// of line rate (at least 2 full frames): UML's timers fire late under host load, and a
/// smaller bucket then loses rate.
pub fn shape_tc(link: &Link) -> String {
    if !link.shaped() {
        return String::new();
    }
    let limit = link.bdp_bytes().max(4 * 1514);
    let burst = (link.rate_mbit * 1_000_000 / 8 * 4 / 1000).max(2 * 1514);
    let mut cmds = Vec::new();
    for (ns, dev) in [("", "veth-c"), ("ip netns exec srv ", "veth-s")] {
        cmds.push(format!(
            "{ns}tc qdisc add dev {dev} root handle 1: netem delay {}ms",
            link.delay_ms
        ));
        cmds.push(format!(
            "{ns}tc qdisc add dev {dev} parent 1:1 handle 10: tbf rate {}mbit burst {burst} \
             limit {limit}",
            link.rate_mbit
        ));
    }
    cmds.join(" &&\n")
}

/// Kernel modules of the boot: the test bed's defaults plus what the link needs.
pub fn boot_modules(link: &Link) -> Vec<String> {
    let mut m: Vec<String> = testbed::DEFAULT_MODULES
        .iter()
        .map(|m| m.to_string())
        .collect();
    for extra in ["sch_netem", "sch_tbf"] {
        if link.shaped() && !m.iter().any(|x| x == extra) {
            m.push(extra.to_string());
        }
    }
    m
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rounds: u32,
    pub seconds: u32,
    pub clients: Vec<String>,
    /// `--client`/`--only` was given (else [`DEFAULT_CLIENTS`], plus `sstp-rs-pty` when the
    /// plugin has `sstp-channel`: see [`with_pty_variant`]).
    pub clients_given: bool,
    pub link: Link,
    pub mtu: u32,
    pub ceilings: bool,
    /// Run the test-bed part.
    pub bed: bool,
    /// Run the codec micro-benchmarks.
    pub codec: bool,
    pub write: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            rounds: 3,
            seconds: 10,
            clients: DEFAULT_CLIENTS.iter().map(|c| c.to_string()).collect(),
            clients_given: false,
            link: LINKS[0],
            mtu: 1500,
            ceilings: true,
            bed: true,
            codec: true,
            write: true,
        }
    }
}

fn usage() -> String {
    let mut s = USAGE.to_string();
    for l in LINKS {
        let _ = write!(s, "\n  {:<18} {}", l.name, l.about);
    }
    s
}

/// Parses the command line (`None`: help printed).
pub fn parse_args(args: &[String]) -> Result<Option<Plan>, String> {
    let mut plan = Plan::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs {what}"))
        };
        let num = |v: String| {
            v.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{a}: {v:?} is not a positive number"))
        };
        match a.as_str() {
            "--rounds" => plan.rounds = num(val("a number")?)?,
            "--seconds" => plan.seconds = num(val("seconds")?)?.max(3),
            "--mtu" => plan.mtu = num(val("an MTU")?)?,
            "--client" | "--only" => {
                let v = val("client names")?;
                plan.clients = v.split(',').map(str::trim).map(String::from).collect();
                plan.clients_given = true;
                for c in &plan.clients {
                    if !CLIENTS.iter().any(|k| k.0 == c) {
                        return Err(format!("unknown client {c:?}\n{}", usage()));
                    }
                }
            }
            "--link" => {
                let v = val("a profile")?;
                plan.link = *LINKS
                    .iter()
                    .find(|l| l.name == v)
                    .ok_or_else(|| format!("unknown link profile {v:?}\n{}", usage()))?;
            }
            "--no-ceilings" => plan.ceilings = false,
            "--codec" => plan.bed = false,
            "--no-codec" => plan.codec = false,
            "--no-write" => plan.write = false,
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(None);
            }
            other => return Err(format!("unknown argument `{other}`\n{}", usage())),
        }
    }
    Ok(Some(plan))
}

/// The guest script with the plan's variables in front.
pub fn script(plan: &Plan, so: &Path, server: &Path) -> String {
    let vars = [
        ("BENCH_SO", so.to_string_lossy().into_owned()),
        ("BENCH_SERVER", server.to_string_lossy().into_owned()),
        ("BENCH_ROUNDS", plan.rounds.to_string()),
        ("BENCH_SECS", plan.seconds.to_string()),
        ("BENCH_CLIENTS", plan.clients.join(" ")),
        ("BENCH_LINK", plan.link.name.to_string()),
        ("BENCH_DELAY_MS", one_way_delay(&plan.link).to_string()),
        ("BENCH_LINK_TC", link_tc(&plan.link)),
        ("BENCH_MTU", plan.mtu.to_string()),
        ("BENCH_CEILINGS", u8::from(plan.ceilings).to_string()),
    ];
    let mut s = String::new();
    for (k, v) in vars {
        let _ = writeln!(s, "{k}={}", shell_quote(&v));
    }
    s + SCRIPT
}

/// The `SC_LINK_DELAY_MS` of `sc_net_up` (client -> server only): 0 when the shaping delays.
fn one_way_delay(link: &Link) -> u32 {
    if link.shaped() {
        0
    } else {
        link.delay_ms
    }
}

/// The shell run after `sc_net_up`: the shaping, then the profile's own commands.
fn link_tc(link: &Link) -> String {
    [shape_tc(link), link.tc.to_string()]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" &&\n")
}

/// Guest time limit: per round and client two transfers plus connect/pings/teardown.
pub fn guest_timeout(plan: &Plan) -> Duration {
    let per = u64::from(2 * plan.seconds + 30);
    let rounds = u64::from(plan.rounds) * plan.clients.len() as u64;
    Duration::from_secs(rounds * per + 4 * u64::from(plan.seconds) + 150)
}

/// Facts of one run: per client, per metric, the value of each round (round order);
/// ceilings under the client name `ceiling.tcp` / `ceiling.tls`; strings kept apart.
#[derive(Debug, Default, Clone)]
pub struct Results {
    pub values: BTreeMap<(String, String), Vec<f64>>,
    pub strings: BTreeMap<String, String>,
}

impl Results {
    /// From the `@@ b.<client>.<round>.<metric>=v` and `@@ b.ceiling.<kind>.<metric>=v` facts.
    pub fn from_facts(facts: &BTreeMap<String, String>) -> Results {
        let mut r = Results::default();
        let mut rounds: BTreeMap<(String, String), BTreeMap<u32, f64>> = BTreeMap::new();
        for (k, v) in facts {
            let Some(k) = k.strip_prefix("b.") else {
                continue;
            };
            let parts: Vec<&str> = k.split('.').collect();
            let num = v.trim().parse::<f64>().ok().filter(|x| x.is_finite());
            match (parts.as_slice(), num) {
                (&["ceiling", kind, metric], Some(x)) => {
                    r.values
                        .entry((format!("ceiling.{kind}"), metric.to_string()))
                        .or_default()
                        .push(x);
                }
                (&[client, round, metric], Some(x)) if client != "ceiling" => {
                    if let Ok(n) = round.parse::<u32>() {
                        rounds
                            .entry((client.to_string(), metric.to_string()))
                            .or_default()
                            .insert(n, x);
                    }
                }
                _ => {
                    r.strings.insert(k.to_string(), v.clone());
                }
            }
        }
        for (key, by_round) in rounds {
            r.values.insert(key, by_round.into_values().collect());
        }
        r
    }

    /// Adds `up_link_pct` / `down_link_pct` (throughput as % of the link rate, per round) to
    /// every client and the TCP ceiling on a shaped link.
    pub fn derive_link_pct(&mut self, link: &Link) {
        if !link.shaped() {
            return;
        }
        let rate = f64::from(link.rate_mbit) * 1e6;
        let mut add = Vec::new();
        for ((who, metric), v) in &self.values {
            if let Some(dir) = metric.strip_suffix("_bps") {
                let pct = v.iter().map(|x| 100.0 * x / rate).collect();
                add.push(((who.clone(), format!("{dir}_link_pct")), pct));
            }
        }
        self.values.extend(add);
    }

    /// The values of a client's metric (empty if none).
    pub fn get(&self, client: &str, metric: &str) -> &[f64] {
        self.values
            .get(&(client.to_string(), metric.to_string()))
            .map_or(&[], Vec::as_slice)
    }

    /// Rounds in which the client came up.
    pub fn rounds_up(&self, client: &str) -> usize {
        self.get(client, "up").iter().filter(|v| **v > 0.0).count()
    }
}

/// Median (mean of the middle two for an even count), min, max; `None` when empty.
pub fn stats(v: &[f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let med = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Some((med, s[0], s[n - 1]))
}

/// Ratio of two medians (`None` if either is missing or the divisor is 0).
pub fn ratio(a: &[f64], b: &[f64]) -> Option<f64> {
    let (a, b) = (stats(a)?.0, stats(b)?.0);
    (b != 0.0).then(|| a / b)
}

/// Which ceiling a row compares with.
#[derive(Clone, Copy)]
enum Ceil {
    /// None.
    No,
    /// TLS and plain TCP (throughput), with each client's ratio to the TLS ceiling.
    Both(&'static str),
    /// Plain TCP only (RTTs and % of the link: what the shaped link alone gives).
    Tcp(&'static str),
}

/// A table row: metric key, label, scale (value / scale is shown), decimals, ceiling, and
/// whether it is only shown on a shaped link.
struct Row {
    key: &'static str,
    label: &'static str,
    scale: f64,
    decimals: usize,
    ceil: Ceil,
    shaped_only: bool,
}

impl Row {
    const fn new(key: &'static str, label: &'static str, scale: f64, decimals: usize) -> Row {
        Row {
            key,
            label,
            scale,
            decimals,
            ceil: Ceil::No,
            shaped_only: false,
        }
    }
    const fn ceil(self, ceil: Ceil) -> Row {
        Row { ceil, ..self }
    }
    const fn shaped(self) -> Row {
        Row {
            shaped_only: true,
            ..self
        }
    }
}

const ROWS: &[Row] = &[
    Row::new("up_bps", "throughput client→server, Mbit/s", 1e6, 1).ceil(Ceil::Both("up_bps")),
    Row::new("down_bps", "throughput server→client, Mbit/s", 1e6, 1).ceil(Ceil::Both("down_bps")),
    Row::new(
        "up_link_pct",
        "throughput client→server, % of the link rate",
        1.0,
        0,
    )
    .ceil(Ceil::Tcp("up_link_pct"))
    .shaped(),
    Row::new(
        "down_link_pct",
        "throughput server→client, % of the link rate",
        1.0,
        0,
    )
    .ceil(Ceil::Tcp("down_link_pct"))
    .shaped(),
    Row::new("up_cpu_s_per_gb", "client CPU s per GB, upload", 1.0, 1),
    Row::new("down_cpu_s_per_gb", "client CPU s per GB, download", 1.0, 1),
    Row::new("up_client_cpu_pct", "client CPU share %, upload", 1.0, 0),
    Row::new("up_server_cpu_pct", "server CPU share %, upload", 1.0, 0),
    Row::new(
        "down_client_cpu_pct",
        "client CPU share %, download",
        1.0,
        0,
    ),
    Row::new(
        "down_server_cpu_pct",
        "server CPU share %, download",
        1.0,
        0,
    ),
    Row::new(
        "up_guest_busy_pct",
        "guest CPU busy %, upload (all processes + kernel)",
        1.0,
        0,
    ),
    Row::new("down_guest_busy_pct", "guest CPU busy %, download", 1.0, 0),
    Row::new("idle_rtt_ms", "ping RTT idle, ms", 1.0, 2).ceil(Ceil::Tcp("idle_rtt_ms")),
    Row::new("up_rtt_ms", "ping RTT during upload, ms", 1.0, 1).ceil(Ceil::Tcp("up_rtt_ms")),
    Row::new("down_rtt_ms", "ping RTT during download, ms", 1.0, 1).ceil(Ceil::Tcp("down_rtt_ms")),
    Row::new("connect_s", "connect (start → ppp address), s", 1.0, 2),
    Row::new(
        "peak_rss_kb",
        "peak RSS (VmHWM, all client processes), MB",
        1024.0,
        1,
    ),
];

/// The rows shown for a link.
fn rows(link: &Link) -> impl Iterator<Item = &'static Row> + '_ {
    ROWS.iter().filter(|r| link.shaped() || !r.shaped_only)
}

fn cell(v: &[f64], scale: f64, d: usize) -> String {
    match stats(v) {
        None => "—".into(),
        Some((m, _, _)) if v.len() == 1 => format!("{:.d$}", m / scale),
        Some((m, lo, hi)) => format!("{:.d$} ({:.d$}–{:.d$})", m / scale, lo / scale, hi / scale),
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.2}×"))
}

/// The Markdown table: one column per client (median (min–max)), the ratio of each other
/// client to [`BASELINE`], the ceilings and each client's ratio to the TLS ceiling.
pub fn table(res: &Results, plan: &Plan) -> String {
    let clients = &plan.clients;
    let others: Vec<&String> = clients.iter().filter(|c| *c != BASELINE).collect();
    let has_base = clients.iter().any(|c| c == BASELINE);
    let mut head = vec!["metric (median (min–max))".to_string()];
    head.extend(clients.iter().cloned());
    if has_base {
        head.extend(others.iter().map(|c| format!("{c}/{BASELINE}")));
    }
    head.push("TLS ceiling".into());
    head.push("TCP ceiling".into());
    head.extend(clients.iter().map(|c| format!("{c}/TLS")));
    let mut s = format!("| {} |\n", head.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
    for row in rows(&plan.link) {
        let mut cols = vec![row.label.to_string()];
        cols.extend(
            clients
                .iter()
                .map(|c| cell(res.get(c, row.key), row.scale, row.decimals)),
        );
        if has_base {
            cols.extend(
                others
                    .iter()
                    .map(|c| fmt_ratio(ratio(res.get(c, row.key), res.get(BASELINE, row.key)))),
            );
        }
        cols.extend(ceiling_cells(res, row, clients));
        let _ = writeln!(s, "| {} |", cols.join(" | "));
    }
    s
}

/// The TLS ceiling, TCP ceiling and client/TLS cells of a row.
fn ceiling_cells(res: &Results, row: &Row, clients: &[String]) -> Vec<String> {
    let tcp = |m| cell(res.get("ceiling.tcp", m), row.scale, row.decimals);
    let mut cols = Vec::new();
    match row.ceil {
        Ceil::Both(m) => {
            let tls = res.get("ceiling.tls", m);
            cols.push(cell(tls, row.scale, row.decimals));
            cols.push(tcp(m));
            cols.extend(
                clients
                    .iter()
                    .map(|c| fmt_ratio(ratio(res.get(c, row.key), tls))),
            );
        }
        Ceil::Tcp(m) => {
            cols.push(String::new());
            cols.push(tcp(m));
            cols.extend(std::iter::repeat_n(String::new(), clients.len()));
        }
        Ceil::No => cols.extend(std::iter::repeat_n(String::new(), 2 + clients.len())),
    }
    cols
}

/// Issue 10 item 3 on a shaped link, per client and for plain TCP over the same link: the
/// bound 2 × idle RTT + 10 ms (medians), and for each direction the median RTT under load and
/// the median throughput as % of the link rate, met when the RTT is within the bound and the
/// throughput ≥ 90 %. Printed, never asserted. Empty on an unshaped link.
pub fn bound_table(res: &Results, plan: &Plan) -> String {
    if !plan.link.shaped() {
        return String::new();
    }
    let mut who: Vec<(String, &str)> = plan
        .clients
        .iter()
        .map(|c| (c.clone(), c.as_str()))
        .collect();
    if plan.ceilings {
        who.push(("plain TCP (no tunnel)".into(), "ceiling.tcp"));
    }
    let names: Vec<&str> = who.iter().map(|w| w.0.as_str()).collect();
    let mut s = format!(
        "| issue 10 item 3 on `{}`: RTT under load ≤ 2 × idle + 10 ms at ≥ 90 % of {} Mbit/s \
         | {} |\n|{}\n",
        plan.link.name,
        plan.link.rate_mbit,
        names.join(" | "),
        "---|".repeat(names.len() + 1)
    );
    let bounds: Vec<Option<f64>> = who.iter().map(|w| rtt_bound(res, w.1)).collect();
    let b: Vec<String> = bounds
        .iter()
        .map(|b| b.map_or("—".into(), |b| format!("{b:.1}")))
        .collect();
    let _ = writeln!(s, "| bound 2 × idle RTT + 10 ms, ms | {} |", b.join(" | "));
    for (dir, label) in [("up", "upload"), ("down", "download")] {
        let v: Vec<String> = who
            .iter()
            .zip(&bounds)
            .map(|(w, b)| verdict(res, w.1, dir, *b))
            .collect();
        let _ = writeln!(
            s,
            "| {label}: RTT under load, % of link → bound met? | {} |",
            v.join(" | ")
        );
    }
    s
}

/// 2 × the median idle RTT + 10 ms.
fn rtt_bound(res: &Results, who: &str) -> Option<f64> {
    stats(res.get(who, "idle_rtt_ms")).map(|(m, _, _)| 2.0 * m + 10.0)
}

/// "42.0 ms, 95 % → met" or "… → not met (RTT, throughput)".
fn verdict(res: &Results, who: &str, dir: &str, bound: Option<f64>) -> String {
    let rtt = stats(res.get(who, &format!("{dir}_rtt_ms")));
    let pct = stats(res.get(who, &format!("{dir}_link_pct")));
    let (Some((rtt, _, _)), Some((pct, _, _)), Some(bound)) = (rtt, pct, bound) else {
        return "—".into();
    };
    let mut why = Vec::new();
    if rtt > bound {
        why.push("RTT");
    }
    if pct < 90.0 {
        why.push("throughput");
    }
    let v = if why.is_empty() {
        "**met**".to_string()
    } else {
        format!("not met ({})", why.join(", "))
    };
    format!("{rtt:.1} ms, {pct:.0} % → {v}")
}

/// Lines about the run's conditions (rounds up, retries, cipher, MTU, load).
pub fn conditions(res: &Results, plan: &Plan) -> String {
    let mut s = String::new();
    for c in &plan.clients {
        let attempts = res.get(c, "attempts").iter().sum::<f64>() + 0.0; // not -0 when none
        let mtu = stats(res.get(c, "mtu")).map_or("?".into(), |m| format!("{:.0}", m.0));
        let cipher = (1..=plan.rounds)
            .filter_map(|r| res.strings.get(&format!("{c}.{r}.cipher")))
            .next()
            .cloned()
            .unwrap_or_else(|| "?".into());
        let _ = writeln!(
            s,
            "- {c}: {} of {} rounds connected ({attempts:.0} connect attempts), PPP MTU {mtu}, \
             server saw {cipher}{}",
            res.rounds_up(c),
            plan.rounds,
            channels(res, c, plan.rounds),
        );
    }
    let str_of = |k: &str| res.strings.get(k).map_or("?", String::as_str);
    let _ = writeln!(
        s,
        "- TLS ceiling cipher (openssl s_client): {}; guest load average at start {} / end {}",
        str_of("ceiling.tls.cipher"),
        str_of("loadavg_start"),
        str_of("loadavg_end"),
    );
    s
}

/// "; channel: …" with the distinct channels an sstp-rs client reported over the rounds.
fn channels(res: &Results, client: &str, rounds: u32) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for r in 1..=rounds {
        if let Some(ch) = res.strings.get(&format!("{client}.{r}.channel")) {
            if !seen.contains(&ch.as_str()) {
                seen.push(ch);
            }
        }
    }
    if seen.is_empty() {
        String::new()
    } else {
        format!("; channel: {}", seen.join(" / "))
    }
}

/// Checks that each client's round produced every metric with a positive value (the bed smoke
/// test and the command use it; not a speed assertion).
pub fn missing(res: &Results, plan: &Plan) -> Vec<String> {
    let mut m = Vec::new();
    for c in &plan.clients {
        if res.rounds_up(c) < plan.rounds as usize {
            m.push(format!(
                "{c}: {} of {} rounds connected",
                res.rounds_up(c),
                plan.rounds
            ));
        }
        for row in rows(&plan.link) {
            let v = res.get(c, row.key);
            let ok = v.len() == plan.rounds as usize
                && v.iter().all(|x| *x > 0.0 || row.key.ends_with("_pct"));
            if !ok {
                m.push(format!("{c}: {} = {v:?}", row.key));
            }
        }
    }
    if plan.ceilings {
        let tcp = [
            "up_bps",
            "down_bps",
            "idle_rtt_ms",
            "up_rtt_ms",
            "down_rtt_ms",
        ];
        let facts = tcp.iter().map(|d| ("ceiling.tcp", *d));
        for (k, d) in facts.chain([("ceiling.tls", "up_bps"), ("ceiling.tls", "down_bps")]) {
            if res.get(k, d).first().is_none_or(|x| *x <= 0.0) {
                m.push(format!("{k}.{d} missing"));
            }
        }
    }
    m
}

/// Runs the bed part: builds the plugin (pppd 2.4.9, release) and the test server (release).
/// `None` when the test bed is unavailable outside CI.
pub fn run_bed(plan: &Plan) -> Result<Option<(Results, testbed::GuestRun)>, String> {
    let so = plugin::build_plugin(Pppd::V249, true, "sstp-rs-bench.so")?;
    let server = plugin::build_test_server()?;
    let Some(run) = boot(&script(plan, &so, &server), plan) else {
        return Ok(None);
    };
    let facts = integration_tests::scenario::parse_facts(&run.output);
    let mut res = Results::from_facts(&facts);
    res.derive_link_pct(&plan.link);
    Ok(Some((res, run)))
}

/// `scenario::run_script` with the link's kernel modules (`sch_tbf` for a shaped link).
fn boot(script: &str, plan: &Plan) -> Option<testbed::GuestRun> {
    let lib = integration_tests::scenario::SCENARIO_LIB
        .as_bytes()
        .to_vec();
    let opts = testbed::BootOptions {
        timeout: guest_timeout(plan),
        files: vec![("sstp-scenario.sh".to_string(), lib)],
        modules: boot_modules(&plan.link),
        stream_output: std::env::var_os("SSTP_RS_STREAM").is_some(),
        ..testbed::BootOptions::default()
    };
    match testbed::run(script, &opts) {
        Ok(r) => Some(r),
        Err(testbed::TestbedError::Unavailable(why)) => {
            testbed::skip_unavailable(&why);
            None
        }
        Err(e) => panic!("test bed: {e}"),
    }
}

/// One criterion result: benchmark id and its point estimate in ns.
pub fn parse_criterion(out: &str) -> Vec<(String, f64)> {
    let mut v = Vec::new();
    let mut last_name = String::new();
    for line in out.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("Benchmarking") {
            continue;
        }
        let (name, rest) = match t.find("time:") {
            Some(i) => (t[..i].trim(), &t[i + 5..]),
            None => {
                if !t.contains(' ') && t.contains('/') {
                    last_name = t.to_string();
                }
                continue;
            }
        };
        let name = if name.is_empty() {
            last_name.clone()
        } else {
            name.to_string()
        };
        let w: Vec<&str> = rest
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split_whitespace()
            .collect();
        // [lo unit mid unit hi unit]
        if w.len() == 6 {
            if let (Ok(x), Some(mult)) = (w[2].parse::<f64>(), unit_ns(w[3])) {
                v.push((name, x * mult));
            }
        }
    }
    v
}

fn unit_ns(u: &str) -> Option<f64> {
    match u {
        "ps" => Some(1e-3),
        "ns" => Some(1.0),
        "µs" | "us" => Some(1e3),
        "ms" => Some(1e6),
        "s" => Some(1e9),
        _ => None,
    }
}

/// Runs the criterion benches (short: 1 s warm-up, 3 s measurement each) and returns the
/// Markdown table.
pub fn run_codec() -> Result<String, String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args(["bench", "-p", "sstp-proto", "--bench", "codec", "--"])
        .args(["--warm-up-time", "1", "--measurement-time", "3", "--noplot"])
        .output()
        .map_err(|e| format!("running cargo bench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "cargo bench failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let res = parse_criterion(&text);
    if res.is_empty() {
        return Err(format!("no criterion results in:\n{text}"));
    }
    Ok(codec_table(&res))
}

/// The codec results as a Markdown table (ns per 1500-byte frame).
pub fn codec_table(res: &[(String, f64)]) -> String {
    let mut s =
        String::from("| benchmark (1500-byte frame) | ns per frame | MB/s |\n|---|---|---|\n");
    for (name, ns) in res {
        let _ = writeln!(s, "| `{name}` | {ns:.0} | {:.0} |", 1500.0 / ns * 1e3);
    }
    s
}

fn host_facts() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = read("/proc/sys/kernel/osrelease");
    let load = read("/proc/loadavg");
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cpu}, {cores} cores, host kernel {}, host load average {}",
        kernel.trim(),
        load.join(" ")
    )
}

fn date_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Replaces the text between `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->` (or
/// appends the marked section).
pub fn replace_section(doc: &str, name: &str, body: &str) -> String {
    let begin = format!("<!-- bench:{name}:begin -->");
    let end = format!("<!-- bench:{name}:end -->");
    let block = format!("{begin}\n{body}{end}");
    match (doc.find(&begin), doc.find(&end)) {
        (Some(b), Some(e)) if e > b => {
            format!("{}{block}{}", &doc[..b], &doc[e + end.len()..])
        }
        _ => format!("{doc}\n{block}\n"),
    }
}

fn write_doc(name: &str, body: &str) -> Result<PathBuf, String> {
    let path = workspace_root().join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    std::fs::write(&path, replace_section(&doc, name, body))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// The marked section of BENCHMARKS.md a link's run goes to: `bed` for the default profile,
/// `bed-<name>` for the others.
pub fn section(link: &Link) -> String {
    if link.name == LINKS[0].name {
        "bed".into()
    } else {
        format!("bed-{}", link.name)
    }
}

/// `cargo xtask bench`.
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(plan) = parse_args(args)? else {
        return Ok(());
    };
    let cmdline = format!("cargo xtask bench {}", args.join(" "));
    if plan.bed {
        run_bed_and_write(&plan, cmdline.trim())?;
    }
    if plan.codec {
        eprintln!("xtask bench: codec micro-benchmarks (criterion)");
        let tbl = run_codec()?;
        println!("\n{tbl}");
        if plan.write {
            let body = format!(
                "Run {} — `cargo bench -p sstp-proto --bench codec` (release, on the host; \
                 {})\n\n{tbl}",
                date_utc(),
                host_facts()
            );
            write_doc("codec", &body)?;
        }
    }
    Ok(())
}

/// The test-bed part of `run`: prints the tables and writes the link's marked section.
fn run_bed_and_write(plan: &Plan, cmdline: &str) -> Result<(), String> {
    let so = plugin::build_plugin(Pppd::V249, true, "sstp-rs-bench.so")?;
    let plan = &with_pty_variant(plan, &so);
    eprintln!(
        "xtask bench: {} rounds × {:?}, {} s each way, link {}, guest limit {:?}",
        plan.rounds,
        plan.clients,
        plan.seconds,
        plan.link.name,
        guest_timeout(plan)
    );
    let host_before = host_facts();
    let Some((res, run)) = run_bed(plan)? else {
        return Err("the test bed is unavailable".into());
    };
    let tbl = match bound_table(&res, plan) {
        b if b.is_empty() => table(&res, plan),
        b => format!("{}\n{b}", table(&res, plan)),
    };
    let cond = conditions(&res, plan);
    println!("\n{tbl}\n{cond}");
    if !run.success() {
        return Err(format!("the guest script failed\n{}", run.diagnostics()));
    }
    if plan.write {
        let body = format!(
            "Run {} — `{cmdline}` — link `{}` ({}), {} rounds × {} s each way, one test-bed \
             boot (one guest CPU shared by client, server, iperf3).\n\nMachine: {host_before}\n\
             (host load at the end: {})\n\n{tbl}\n{cond}",
            date_utc(),
            plan.link.name,
            plan.link.about,
            plan.rounds,
            plan.seconds,
            host_facts()
                .rsplit("host load average ")
                .next()
                .unwrap_or("?"),
        );
        let p = write_doc(&section(&plan.link), &body)?;
        eprintln!("xtask bench: wrote {}", p.display());
    }
    let gaps = missing(&res, plan);
    if !gaps.is_empty() {
        return Err(format!("incomplete run: {}", gaps.join("; ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(lines: &str) -> BTreeMap<String, String> {
        integration_tests::scenario::parse_facts(lines)
    }

    #[test]
    fn stats_median_min_max() {
        assert_eq!(stats(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(stats(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(stats(&[]), None);
        assert_eq!(ratio(&[4.0, 6.0, 5.0], &[2.0, 2.5, 3.0]), Some(2.0));
        assert_eq!(ratio(&[1.0], &[0.0]), None);
        assert_eq!(ratio(&[], &[1.0]), None);
    }

    #[test]
    fn facts_group_by_client_and_round() {
        let out = "@@ b.sstp-rs.2.up_bps=20\n@@ b.sstp-rs.1.up_bps=10\n@@ b.sstpc.1.up_bps=5\n\
                   @@ b.sstp-rs.1.cipher=TLSv1.3 TLS_AES_256_GCM_SHA384\n\
                   @@ b.ceiling.tls.up_bps=100\n@@ b.ceiling.tls.cipher=TLS_AES_256_GCM_SHA384\n\
                   @@ b.loadavg_start=1.0 2.0 3.0\n@@ other=1\nnoise\n";
        let r = Results::from_facts(&facts(out));
        assert_eq!(r.get("sstp-rs", "up_bps"), &[10.0, 20.0]);
        assert_eq!(r.get("sstpc", "up_bps"), &[5.0]);
        assert_eq!(r.get("ceiling.tls", "up_bps"), &[100.0]);
        assert_eq!(r.get("sstpc", "down_bps"), &[] as &[f64]);
        assert_eq!(
            r.strings.get("sstp-rs.1.cipher").map(String::as_str),
            Some("TLSv1.3 TLS_AES_256_GCM_SHA384")
        );
        assert_eq!(
            r.strings.get("loadavg_start").map(String::as_str),
            Some("1.0 2.0 3.0")
        );
        assert!(!r.strings.contains_key("other"));
    }

    #[test]
    fn table_has_ratios_to_baseline_and_ceiling() {
        let out = "@@ b.sstp-rs.1.up_bps=40000000\n@@ b.sstp-rs.2.up_bps=60000000\n\
                   @@ b.sstpc.1.up_bps=20000000\n@@ b.sstpc.2.up_bps=20000000\n\
                   @@ b.ceiling.tls.up_bps=200000000\n@@ b.ceiling.tcp.up_bps=1000000000\n";
        let r = Results::from_facts(&facts(out));
        let clients = vec!["sstp-rs".to_string(), "sstpc".to_string()];
        let plan = Plan {
            rounds: 2,
            clients,
            ..Plan::default()
        };
        let t = table(&r, &plan);
        let up = t.lines().find(|l| l.contains("client→server")).unwrap();
        assert_eq!(
            up,
            "| throughput client→server, Mbit/s | 50.0 (40.0–60.0) | 20.0 (20.0–20.0) | 2.50× \
             | 200.0 | 1000.0 | 0.25× | 0.10× |"
        );
        assert!(t.starts_with("| metric (median (min–max)) | sstp-rs | sstpc | sstp-rs/sstpc | TLS ceiling | TCP ceiling | sstp-rs/TLS | sstpc/TLS |"));
        let gaps = missing(&r, &plan);
        assert!(gaps.iter().any(|g| g.contains("sstp-rs: down_bps")));
        assert!(gaps.iter().any(|g| g.contains("0 of 2 rounds connected")));
    }

    #[test]
    fn args_clients_and_links() {
        let a = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let p = a(&["--only", "sstpc", "--link", "lan", "--rounds", "1"])
            .unwrap()
            .unwrap();
        assert_eq!(p.clients, vec!["sstpc"]);
        assert_eq!(p.link.name, "lan");
        assert_eq!(p.rounds, 1);
        assert!(a(&["--client", "sstp-rs,nope"]).is_err());
        let p3 = a(&["--client", "sstp-rs,sstp-rs-pty,sstpc"])
            .unwrap()
            .unwrap();
        assert_eq!(p3.clients, vec!["sstp-rs", "sstp-rs-pty", "sstpc"]);
        let dir = std::env::temp_dir().join(format!("bench-so-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (old, new) = (dir.join("old.so"), dir.join("new.so"));
        std::fs::write(&old, b"\0sstp-server\0").unwrap();
        std::fs::write(&new, b"\0sstp-server\0sstp-channel\0").unwrap();
        let d = Plan::default();
        assert_eq!(with_pty_variant(&d, &old).clients, vec!["sstp-rs", "sstpc"]);
        let v = with_pty_variant(&d, &new).clients;
        assert_eq!(v, vec!["sstp-rs", "sstp-rs-pty", "sstpc"]);
        assert_eq!(with_pty_variant(&p, &new).clients, vec!["sstpc"]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(a(&["--link", "moon"]).is_err());
        assert!(a(&["--rounds", "0"]).is_err());
        let s = script(&p, Path::new("/x/so"), Path::new("/x/srv"));
        assert!(s.starts_with("BENCH_SO='/x/so'\n"));
        assert!(s.contains("BENCH_CLIENTS='sstpc'\n"));
    }

    #[test]
    fn shaped_links_shape_both_ends_with_a_one_bdp_queue() {
        let wan = LINKS.iter().find(|l| l.name == "wan-20m").unwrap();
        assert_eq!(wan.bdp_bytes(), 50_000);
        let tc = shape_tc(wan);
        assert_eq!(
            tc,
            "tc qdisc add dev veth-c root handle 1: netem delay 10ms &&\n\
             tc qdisc add dev veth-c parent 1:1 handle 10: tbf rate 20mbit burst 10000 limit 50000 &&\n\
             ip netns exec srv tc qdisc add dev veth-s root handle 1: netem delay 10ms &&\n\
             ip netns exec srv tc qdisc add dev veth-s parent 1:1 handle 10: tbf rate 20mbit burst 10000 limit 50000"
        );
        assert!(boot_modules(wan).contains(&"sch_tbf".to_string()));
        let plan = Plan {
            link: *wan,
            ..Plan::default()
        };
        let s = script(&plan, Path::new("/so"), Path::new("/srv"));
        assert!(s.contains("BENCH_DELAY_MS='0'\n"), "{s}");
        let lan = LINKS[0];
        assert_eq!(shape_tc(&lan), "");
        assert!(!boot_modules(&lan).contains(&"sch_tbf".to_string()));
        assert_eq!(section(&lan), "bed");
        assert_eq!(section(wan), "bed-wan-20m");
    }

    #[test]
    fn bound_table_says_met_or_not() {
        let out = "@@ b.sstp-rs.1.idle_rtt_ms=20\n@@ b.sstp-rs.1.up_rtt_ms=45\n\
                   @@ b.sstp-rs.1.down_rtt_ms=80\n@@ b.sstp-rs.1.up_bps=19000000\n\
                   @@ b.sstp-rs.1.down_bps=19000000\n@@ b.ceiling.tcp.idle_rtt_ms=20\n\
                   @@ b.ceiling.tcp.up_rtt_ms=40\n@@ b.ceiling.tcp.up_bps=17000000\n";
        let mut r = Results::from_facts(&facts(out));
        let plan = Plan {
            link: *LINKS.iter().find(|l| l.name == "wan-20m").unwrap(),
            clients: vec!["sstp-rs".into()],
            ..Plan::default()
        };
        r.derive_link_pct(&plan.link);
        assert_eq!(r.get("sstp-rs", "up_link_pct"), &[95.0]);
        let t = bound_table(&r, &plan);
        assert!(
            t.contains("| bound 2 × idle RTT + 10 ms, ms | 50.0 | 50.0 |"),
            "{t}"
        );
        assert!(
            t.contains("| upload: RTT under load, % of link → bound met? | 45.0 ms, 95 % → **met** | 40.0 ms, 85 % → not met (throughput) |"),
            "{t}"
        );
        assert!(t.contains("| 80.0 ms, 95 % → not met (RTT) | — |"), "{t}");
        assert!(table(&r, &plan).contains("% of the link rate"));
        assert!(bound_table(&r, &Plan::default()).is_empty());
    }

    #[test]
    fn criterion_output_parses() {
        let out = "Benchmarking hdlc/fcs16_1500: Warming up\n\
                   hdlc/fcs16_1500         time:   [1.2000 µs 1.2500 µs 1.3000 µs]\n\
                   \x20                       thrpt:  [1.1 GiB/s 1.2 GiB/s 1.3 GiB/s]\n\
                   hdlc/encode_decode_1500_with_a_long_name\n\
                   \x20                       time:   [350.10 ns 360.20 ns 370.30 ns]\n";
        let r = parse_criterion(out);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, "hdlc/fcs16_1500");
        assert!((r[0].1 - 1250.0).abs() < 1e-6);
        assert_eq!(r[1].0, "hdlc/encode_decode_1500_with_a_long_name");
        assert!((r[1].1 - 360.2).abs() < 1e-6);
    }

    #[test]
    fn sections_are_replaced_in_place() {
        let d = replace_section("# B\nintro\n", "bed", "one\n");
        assert_eq!(
            d,
            "# B\nintro\n\n<!-- bench:bed:begin -->\none\n<!-- bench:bed:end -->\n"
        );
        let d2 = replace_section(&d, "bed", "two\n");
        assert!(d2.contains("two\n<!-- bench:bed:end -->") && !d2.contains("one"));
        assert!(d2.starts_with("# B\nintro\n"));
    }
}
