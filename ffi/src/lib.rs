//! Raw bindings to pppd.
