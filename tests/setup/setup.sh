#!/bin/bash
# Installs what the project's tests need on a fresh Debian 12 machine (run as root).
# Idempotent: checks before installing, so a second run takes well under a second.
#
#   Debian packages  user-mode-linux (the test bed kernel), kmod (insmod in the guest), ppp + ppp-dev (pppd 2.4.9 and its
#                    headers), sstp-client (reference client + sstp-pppd-plugin.so that lets
#                    sstp-server verify crypto binding), clang/libclang-dev (bindgen), iproute2,
#                    iputils-ping, iperf3, squid, openssl, pkg-config, python3 + venv + dev headers,
#                    network-manager (the real NetworkManager the NM bed test drives).
#   PyPI             sstp-server 0.6.0 (the SSTP server peer) built from its sdist, with a small
#                    patch to its C codec for Python >= 3.10 (PY_SSIZE_T_CLEAN), into a venv at
#                    $SSTP_RS_TESTBED_PREFIX (default /opt/sstp-rs-testbed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${SSTP_RS_TESTBED_PREFIX:-/opt/sstp-rs-testbed}"
venv="$prefix/venv"
sdist_version="0.6.0"
sdist_sha256="bf89b5076ac17644c0951b7812e2ccaa2823d729aef89c2bdbbc083e7fcce495"
patch_file="$here/sstp-server-0.6.0-py-ssize-t-clean.patch"

packages=(
    user-mode-linux ppp ppp-dev sstp-client
    libclang-dev clang build-essential pkg-config patch
    kmod iproute2 iputils-ping procps iperf3 squid openssl ca-certificates
    python3 python3-venv python3-dev
    dbus-daemon dbus-bin util-linux libnm-dev network-manager
)

log() { printf 'setup: %s\n' "$*"; }

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing Debian packages: ${missing[*]} (run this script as root)" >&2
        exit 1
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # iperf3 asks whether to start a daemon; answer no without a prompt.
    echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections 2>/dev/null || true
    if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
        apt-get update -qq
    fi
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
    fi
else
    log "all ${#packages[@]} Debian packages present"
fi

sstpd_ok() {
    [[ -x "$venv/bin/sstpd" ]] || return 1
    "$venv/bin/python" - "$sdist_version" <<'EOF' 2>/dev/null
import sys
import sstpd, sstpd.codec
assert sstpd.__version__ == sys.argv[1], sstpd.__version__
# The unpatched codec raises SystemError here on Python >= 3.10.
frame = sstpd.codec.escape(b"\x7e\x7d\x01")
assert frame[0] == 0x7e and frame[-1] == 0x7e, frame
EOF
}

if sstpd_ok; then
    log "sstp-server $sdist_version ready in $venv"
    exit 0
fi

if [[ $(id -u) -ne 0 && ! -w "$(dirname "$prefix")" ]]; then
    log "cannot create $prefix (run this script as root)" >&2
    exit 1
fi

log "building sstp-server $sdist_version from its sdist into $venv"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$venv"
mkdir -p "$prefix"
# Debian's python3 (not a pyenv shim): the venv must work inside the test bed, which sees the
# host's root file system read-only.
/usr/bin/python3 -m venv "$venv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip download -q --no-deps \
    --no-binary :all: "sstp-server==$sdist_version" -d "$work"
echo "$sdist_sha256  $work/sstp-server-$sdist_version.tar.gz" | sha256sum -c --quiet
tar xzf "$work/sstp-server-$sdist_version.tar.gz" -C "$work"
patch -d "$work/sstp-server-$sdist_version" -p1 --quiet <"$patch_file"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q --no-deps \
    --no-build-isolation "$work/sstp-server-$sdist_version"
# Byte-compile now: the test bed's root file system is read-only.
"$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null || true

if ! sstpd_ok; then
    log "sstp-server installed but its self-check failed" >&2
    exit 1
fi
log "sstp-server $sdist_version ready in $venv"
