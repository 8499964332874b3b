//! Helpers shared by the end-to-end tests and `cargo xtask testbed|demo|test`: the User-Mode
//! Linux test bed ([`testbed`]) and SSTP scenarios run inside it ([`scenario`]).

pub mod plugin;
pub mod scenario;
pub mod testbed;

pub use scenario::{Client, PingStats, Report, Scenario, TlsVersion, Transport};
pub use testbed::{BootOptions, GuestRun, TestbedError};
