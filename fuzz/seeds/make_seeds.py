#!/usr/bin/env python3
"""Regenerates the checked-in seed inputs of the fuzz targets (run from fuzz/)."""
import os
import struct


def crc16(data):
    fcs = 0xFFFF
    for b in data:
        fcs ^= b
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs


def hdlc(frame, accm=0xFFFFFFFF):
    fcs = (~crc16(frame)) & 0xFFFF
    out = bytearray([0x7E])
    for b in frame + bytes([fcs & 0xFF, fcs >> 8]):
        if b in (0x7E, 0x7D) or (b < 32 and accm >> b & 1):
            out += bytes([0x7D, b ^ 0x20])
        else:
            out.append(b)
    out.append(0x7E)
    return bytes(out)


def ctrl(msg_type, attrs=b"", n=0):
    body = struct.pack(">HH", msg_type, n) + attrs
    return bytes([0x10, 1]) + struct.pack(">H", len(body) + 4) + body


def attr(attr_id, value):
    return bytes([0, attr_id]) + struct.pack(">H", len(value) + 4) + value


def data(frame):
    return bytes([0x10, 0]) + struct.pack(">H", len(frame) + 4) + frame


req = ctrl(1, attr(1, b"\x00\x01"), 1)
ack = ctrl(2, attr(4, b"\x00\x00\x00\x03" + bytes(range(32))), 1)
nak = ctrl(3, attr(2, b"\x00\x00\x00\x01" + struct.pack(">I", 4) + b"\x00\x01"), 1)
connected = ctrl(4, attr(3, b"\x00\x00\x00\x02" + bytes(96)), 1)
abort = ctrl(5, attr(2, b"\x00\x00\x00\x03" + struct.pack(">I", 4)), 1)
disconnect = ctrl(6)
echo = ctrl(8)
lcp = b"\xff\x03\xc0\x21\x01\x01\x00\x0e\x01\x04\x05\x78\x02\x06\x00\x00\x00\x00"
ip = b"\xff\x03\x00\x21\x45\x00\x00\x14" + bytes(range(12))


def feed(b):
    """Client target encoding: op = 8 * n (n <= 31) feeds the next n bytes as server input."""
    out = bytearray()
    while b:
        n = min(31, len(b))
        out.append(8 * n)
        out += b[:n]
        b = b[n:]
    return bytes(out)


AUTHENTICATED = bytes([4])
SEND_FRAME = bytes([5 + 8 * 3])
DISCONNECT = bytes([6])


def timeout(k):
    return bytes([3 + 8 * k])


SEEDS = {
    "packet_decode": [req, ack, nak, connected, abort, disconnect, echo, data(lcp)],
    "deframer_stream": [b"\x05" + req + ack + data(ip) + echo, b"\x01" + nak + abort],
    "hdlc_decoder": [b"\x03" + hdlc(lcp) + hdlc(ip, 0), b"\x10" + hdlc(ip) + b"\x7d\x7e" + hdlc(lcp)],
    "http_response": [
        b"\x07HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: x\r\n\r\n" + req,
        b'\x02HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="r"\r\n\r\n',
    ],
    "client": [
        feed(ack) + AUTHENTICATED + feed(data(ip)) + feed(echo) + timeout(30) * 6 + feed(disconnect) + timeout(10),
        feed(nak) * 5 + timeout(31) * 3,
        feed(ack) + SEND_FRAME + AUTHENTICATED + feed(abort) + DISCONNECT,
    ],
}


def rec(frame, to_pppd):
    """accm_tracker record: op = 2 * len + direction (1: to pppd)."""
    return bytes([2 * len(frame) + (1 if to_pppd else 0)]) + frame


def opt(index, value):
    """plugin_options record: [option index][len][value]."""
    v = value.encode()
    return bytes([index, len(v)]) + v


def split(server, pty):
    """bridge input: [n_lo][n_hi][server bytes][pty bytes]."""
    return struct.pack("<H", len(server)) + server + pty


def ntlm_challenge():
    ti = struct.pack("<HH", 2, 2) + "D".encode("utf-16-le") + struct.pack("<HH", 0, 0)
    return (b"NTLMSSP\x00" + struct.pack("<I", 2) + struct.pack("<HHI", 0, 0, 56)
            + struct.pack("<I", 0x00828205) + bytes(range(8)) + bytes(8)
            + struct.pack("<HHI", len(ti), len(ti), 56) + bytes(8) + ti)


import base64
lcp_req_accm0 = b"\xff\x03\xc0\x21\x01\x07\x00\x0a\x02\x06\x00\x00\x00\x00"
lcp_ack_accm0 = b"\xff\x03\xc0\x21\x02\x07\x00\x0a\x02\x06\x00\x00\x00\x00"
lcp_term = b"\xff\x03\xc0\x21\x05\x08\x00\x04"
PIN = "sha256:" + "ab" * 32
proxy_407 = (b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="p"\r\n'
             b"Content-Length: 5\r\n\r\nabcde")
proxy_200 = b"HTTP/1.1 200 Connection established\r\n\r\n"
SEEDS.update({
    "accm_tracker": [
        rec(lcp_req_accm0, False) + rec(lcp_ack_accm0, True) + rec(ip, False) + rec(ip, True)
        + rec(lcp_term, True) + rec(ip, True),
        rec(lcp, False) + rec(lcp_ack_accm0, True) + rec(lcp_req_accm0, True),
    ],
    "credentials_file": [b"\x03user:pa:ss\n", b"\x01DOMAIN\\user\r\nsecret\r\n\r\n", b"\x40user\n"],
    "plugin_options": [
        opt(0, "vpn.example.com:443") + opt(1, "ca.pem") + opt(5, "http://u:p@[::1]:3128")
        + opt(14, "auth") + opt(7, "1.2") + opt(8, "1.3") + opt(12, ""),
        opt(0, "[fd00::1]:8443") + opt(3, PIN) + opt(4, "vpn.example.com") + opt(6, "4")
        + opt(9, "5") + opt(10, "prefer-ipv6") + opt(11, "30") + opt(13, "10") + opt(15, "60")
        + opt(2, "dir"),
        opt(14, "auth-open") + opt(0, "h") + opt(8, "1.0") + opt(7, "1.3"),
    ],
    "proxy_connect": [
        proxy_407 + proxy_200,
        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\n"
        b"Content-Length: 0\r\n\r\nHTTP/1.1 407 Proxy Authentication Required\r\n"
        b"Proxy-Authenticate: NTLM " + base64.b64encode(ntlm_challenge()) + b"\r\n"
        b"Content-Length: 0\r\n\r\n" + proxy_200,
        b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Digest realm="r", '
        b'nonce="abc", qop="auth", algorithm=MD5\r\nConnection: close\r\n\r\n',
        proxy_200 + b"\x16\x03\x01",
    ],
    "bridge": [
        split(data(lcp) + echo + data(ip), hdlc(lcp) + hdlc(ip)),
        split(data(lcp) + disconnect, hdlc(lcp_req_accm0)),
        split(abort, b""),
        split(b"", hdlc(ip) * 3),
    ],
})

for target, inputs in SEEDS.items():
    os.makedirs(f"seeds/{target}", exist_ok=True)
    for i, s in enumerate(inputs):
        with open(f"seeds/{target}/seed-{i}", "wb") as f:
            f.write(s)
