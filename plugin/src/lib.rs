//! sstp-rs pppd plugin.
