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

for target, inputs in SEEDS.items():
    os.makedirs(f"seeds/{target}", exist_ok=True)
    for i, s in enumerate(inputs):
        with open(f"seeds/{target}/seed-{i}", "wb") as f:
            f.write(s)
