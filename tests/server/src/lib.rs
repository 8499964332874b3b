//! SSTP test server with fault modes (test support; never shipped).
