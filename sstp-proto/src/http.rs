//! Request/response of the SSTP HTTPS handshake (SSTP_DUPLEX_POST) and proxy CONNECT.
