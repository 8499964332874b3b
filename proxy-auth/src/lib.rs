//! HTTP proxy authentication (sans-IO).
#![forbid(unsafe_code)]
