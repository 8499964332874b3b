#!/usr/bin/env python3
"""Stands in for pppd in tests/service_bus.rs: records its argv and what it read from
`passwordfd`, then either exits with $FAKE_PPPD_EXIT or reports ip-up on `sstp-ipc-fd` the way
the sstp-rs plugin does and runs until SIGTERM (exit 5, as pppd)."""
import os
import signal
import struct
import sys
import time

args = sys.argv[1:]


def value(key):
    return args[args.index(key) + 1] if key in args else None


password = b""
if value("passwordfd"):
    password = os.read(int(value("passwordfd")), 4096)
with open(os.environ["FAKE_PPPD_OUT"], "w") as f:
    f.write(" ".join(args) + "\n" + password.decode() + "\n")
status = int(os.environ.get("FAKE_PPPD_EXIT", "-1"))
if password == b"wrong":
    status = 19  # pppd's EXIT_AUTH_TOPEER_FAILED


def record(text):
    b = text.encode()
    return struct.pack(">I", len(b)) + b


if status >= 0:
    # As the plugin forwards an error-level line before pppd ends.
    err = ["event=error", "message=sstp-rs: fake failure, exit %d\n  detail line" % status]
    os.write(int(value("sstp-ipc-fd")), b"".join(record(r) for r in err) + struct.pack(">I", 0))
    sys.exit(status)


records = ["event=ip-up", "ifname=ppp7", "server=192.0.2.10:443", "ip4.local=10.0.0.2",
           "ip4.peer=10.0.0.1", "ip4.dns=10.0.0.53", "mtu=1400", "peer.address=192.0.2.10:443",
           "peer.family=IPv4", "cert.sha256=AB12", "cert.sha1=CD34"]
os.write(int(value("sstp-ipc-fd")), b"".join(record(r) for r in records) + struct.pack(">I", 0))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(5))
while True:
    time.sleep(1)
