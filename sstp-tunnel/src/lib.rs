//! I/O driver around `sstp-proto`: TCP, TLS, HTTP proxy and the SSTP handshake.
