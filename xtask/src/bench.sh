# Guest script of `cargo xtask bench` (xtask/src/bench.rs prepends the BENCH_* variables).
# One boot: the Rust test server (release) with a real server pppd in netns srv, then for each
# round every client of BENCH_CLIENTS in turn (alternating), then the ceilings over the same veth.
# Results: `@@ b.<client>.<round>.<metric>=value` and `@@ b.ceiling.<kind>.<metric>=value`.
. /run/bed/sstp-scenario.sh

bf() { sc_fact "b.$1.$2.$3" "$4"; } # client round metric value
# Sum of utime+stime (clock ticks, all threads) of the given pids.
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }'; }
# The guest's CPU: "<busy ticks> <all ticks>" (all CPUs; busy = all but idle and iowait).
busy() { awk '/^cpu / { a = 0; for (i = 2; i <= NF; i++) a += $i; print a - $5 - $6, a }' /proc/stat; }
# Sum of VmHWM (kB) of the given pids.
hwm() { for p in "$@"; do awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }'; }
# The client's processes: its pppd(s) in this namespace (with the plugin's I/O thread), and sstpc.
client_pids() { sc_client_pppds; pgrep -x sstpc; }
# The server's processes: the test server and its pppd(s) in netns srv.
server_pids() {
    head -n 1 "$SC_WORK/servers"
    srv_ns=$(ip netns exec srv readlink /proc/self/ns/net)
    for p in $(pgrep -x pppd); do [ "$(readlink "/proc/$p/ns/net")" = "$srv_ns" ] && echo "$p"; done
}
# ping statistics -> "avg max loss%" (or "0 0 100")
ping_stats() {
    awk '/packets transmitted/ { for (i = 1; i <= NF; i++) if ($i ~ /%$/) { l = $i; sub("%", "", l) } }
         /^rtt/ { split($4, a, "/"); avg = a[2]; max = a[3] }
         END { if (avg == "") print 0, 0, 100; else print avg, max, l + 0 }' "$1"
}
# iperf3 JSON -> "bits_per_second bytes" received
iperf_result() {
    /usr/bin/python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["end"]["sum_received"]; print(int(e["bits_per_second"]), int(e["bytes"]))' "$1" 2>/dev/null || echo "0 0"
}

# Pings in the background (PID in $!) from 1 s after the start of a BENCH_SECS transfer (past slow
# start) to 1 s before its end. pings_during <out file> <ping args (interface, address)>...
pings_during() {
    p_out=$1; shift
    p_n=$(((BENCH_SECS - 2) * 5)); [ "$p_n" -ge 2 ] || p_n=2
    ( sleep 1; ping -n -c "$p_n" -i 0.2 -W 2 "$@" >"$p_out" 2>&1 ) &
}
# 10 idle pings -> the average RTT. idle_rtt <out file> <ping args>...
idle_rtt() {
    i_out=$1; shift
    ping -n -c 10 -i 0.2 -W 2 "$@" >"$i_out" 2>&1
    ping_stats "$i_out" | cut -d' ' -f1
}

# sstp-rs: the plugin with its defaults (sstp-channel auto in a plugin that has the option);
# sstp-rs-pty: forced onto the pty (an unknown option fails the connect in an older plugin).
# Log level 3 (info) names the channel in pppd's log at connect; the data path logs nothing.
client_cmd() {
    case $1 in
    sstp-rs) echo 'exec /usr/sbin/pppd plugin "$BENCH_SO" sstp-server "$SSTP_HOST:$SSTP_PORT" sstp-ca-file "$SSTP_CA" sstp-log-level 3 password "$SSTP_PASSWORD" $BENCH_PPPD_OPTS nodetach' ;;
    sstp-rs-pty) echo 'exec /usr/sbin/pppd plugin "$BENCH_SO" sstp-server "$SSTP_HOST:$SSTP_PORT" sstp-ca-file "$SSTP_CA" sstp-log-level 3 sstp-channel pty password "$SSTP_PASSWORD" $BENCH_PPPD_OPTS nodetach' ;;
    sstpc) echo 'exec sstpc --log-level 1 --log-stderr --tls-ext --ca-cert "$SSTP_CA" --user "$SSTP_USER" --password "$SSTP_PASSWORD" "$SSTP_HOST:$SSTP_PORT" $BENCH_PPPD_OPTS' ;;
    *) echo "exit 99" ;;
    esac
}

# One direction of bulk traffic (up: client -> server, down: -R) with pings alongside, and the
# CPU ticks of client and server processes over it. measure <client> <round> <up|down>
measure() {
    m_c=$1; m_r=$2; m_d=$3
    [ "$m_d" = down ] && m_rev=-R || m_rev=
    m_cp=$(client_pids); m_sp=$(server_pids)
    g0=$(busy); c0=$(ticks $m_cp); s0=$(ticks $m_sp); t0=$(sc_now)
    pings_during "$SC_WORK/ping-$m_d.txt" -I "$SC_PPP_IF" "$SC_PPP_SERVER"
    m_ping=$!
    iperf3 -c "$SC_PPP_SERVER" -t "$BENCH_SECS" -J $m_rev >"$SC_WORK/iperf-$m_d.json" 2>&1
    c1=$(ticks $m_cp); s1=$(ticks $m_sp); g1=$(busy); t1=$(sc_now)
    wait $m_ping
    set -- $(iperf_result "$SC_WORK/iperf-$m_d.json")
    m_bps=$1; m_bytes=$2
    wall=$(sc_elapsed "$t0" "$t1")
    bf "$m_c" "$m_r" "${m_d}_bps" "$m_bps"
    bf "$m_c" "$m_r" "${m_d}_bytes" "$m_bytes"
    awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v hz="$HZ" -v w="$wall" -v b="$m_bytes" 'BEGIN {
        printf "%s %s %s\n", (b > 0 ? c / hz / (b / 1e9) : 0), 100 * c / hz / w, 100 * s / hz / w }' >"$SC_WORK/cpu"
    read -r cpu_gb cpu_pct srv_pct <"$SC_WORK/cpu"
    bf "$m_c" "$m_r" "${m_d}_cpu_s_per_gb" "$cpu_gb"
    bf "$m_c" "$m_r" "${m_d}_client_cpu_pct" "$cpu_pct"
    bf "$m_c" "$m_r" "${m_d}_server_cpu_pct" "$srv_pct"
    set -- $g0 $g1
    bf "$m_c" "$m_r" "${m_d}_guest_busy_pct" "$(awk -v b0="$1" -v a0="$2" -v b1="$3" -v a1="$4" 'BEGIN { printf "%.1f", (a1 > a0 ? 100 * (b1 - b0) / (a1 - a0) : 0) }')"
    set -- $(ping_stats "$SC_WORK/ping-$m_d.txt")
    bf "$m_c" "$m_r" "${m_d}_rtt_ms" "$1"
    bf "$m_c" "$m_r" "${m_d}_rtt_max_ms" "$2"
    echo "   $m_c round $m_r $m_d: $(awk -v b="$m_bps" 'BEGIN { printf "%.1f", b / 1e6 }') Mbit/s, client CPU $cpu_pct %, server CPU $srv_pct %, ping avg $1 ms"
}

# The PPP channel the plugin says it used: the first line of this round's pppd log (from line
# <n0> + 1) or client output that mentions the channel, else "pty" (a plugin without the frame
# channel says nothing: it always uses the pty). channel_used <n0>
channel_used() {
    c_line=$( (tail -n +"$(($1 + 1))" "$SC_OUT/client-pppd.log"; cat "$SC_OUT/client.log") 2>/dev/null |
        grep -i 'channel' | grep -i 'l2tp\|pty' | head -n 1)
    case $c_line in
    "") echo "pty (the plugin logs no channel line)" ;;
    *[Ll]2[Tt][Pp]*) echo "l2tp: $c_line" ;;
    *) echo "pty: $c_line" ;;
    esac
}

# One connect + measurements + disconnect. round <client> <round>
round() {
    r_c=$1; r_r=$2
    SC_CLIENT_CMD=$(client_cmd "$r_c")
    attempts=0
    r_log0=$(cat "$SC_OUT/client-pppd.log" 2>/dev/null | wc -l)
    while :; do
        attempts=$((attempts + 1))
        sc_client_start >/dev/null
        sc_wait 30 sc_ppp_up_or_client_gone
        t_up=$(sc_now)
        sc_ppp_up && break
        # sstpc 1.0.18's start-up race (tests/README.md): retry that exact failure.
        if [ "$attempts" -lt 5 ] && sc_not_running "$SC_CLIENT_PID" &&
            grep -q "$SC_SSTPC_KNOWN_BUG" "$SC_OUT/client.log"; then
            wait "$SC_CLIENT_PID" 2>/dev/null
            continue
        fi
        echo "$r_c round $r_r: no connection"; tail -n 20 "$SC_OUT/client.log"
        bf "$r_c" "$r_r" up 0
        sc_client_stop >/dev/null
        return 1
    done
    SC_PPP_IF=$(sc_ppp_if)
    bf "$r_c" "$r_r" up 1
    bf "$r_c" "$r_r" attempts "$attempts"
    bf "$r_c" "$r_r" connect_s "$(sc_elapsed "$SC_CLIENT_T0" "$t_up")"
    bf "$r_c" "$r_r" mtu "$(cat "/sys/class/net/$SC_PPP_IF/mtu")"
    bf "$r_c" "$r_r" cipher "$(sed -n 's/.*TLS up: \([^ ]*\) \([^,]*\),.*/\1 \2/p' "$SC_OUT/server.log" | tail -n 1)"
    case $r_c in sstp-rs*) bf "$r_c" "$r_r" channel "$(channel_used "$r_log0")" ;; esac
    sleep 1
    bf "$r_c" "$r_r" idle_rtt_ms "$(idle_rtt "$SC_WORK/ping-idle.txt" -I "$SC_PPP_IF" "$SC_PPP_SERVER")"
    measure "$r_c" "$r_r" up
    measure "$r_c" "$r_r" down
    bf "$r_c" "$r_r" peak_rss_kb "$(hwm $(client_pids))"
    sc_client_stop >/dev/null
}

# Ceilings over the same veth, no PPP: plain TCP (iperf3) and TLS with the SSTP sessions'
# version and cipher (openssl s_server / s_client, BENCH_TLS_BYTES each way).
ceilings() {
    sc_step "ceiling: plain TCP over the veth (iperf3 ${BENCH_SECS}s each way, pings alongside)"
    sc_fact b.ceiling.tcp.idle_rtt_ms "$(idle_rtt "$SC_WORK/ping-tcp-idle.txt" "$SC_SERVER_V4")"
    for d in up down; do
        [ "$d" = down ] && rev=-R || rev=
        pings_during "$SC_WORK/ping-tcp-$d.txt" "$SC_SERVER_V4"
        t_ping=$!
        iperf3 -c "$SC_SERVER_V4" -t "$BENCH_SECS" -J $rev >"$SC_WORK/iperf-tcp-$d.json" 2>&1
        wait $t_ping
        set -- $(iperf_result "$SC_WORK/iperf-tcp-$d.json")
        sc_fact "b.ceiling.tcp.${d}_bps" "$1"
        set -- $(ping_stats "$SC_WORK/ping-tcp-$d.txt")
        sc_fact "b.ceiling.tcp.${d}_rtt_ms" "$1"
    done
    set -- $(sed -n 's/.*TLS up: \([^ ]*\) \([^,]*\),.*/\1 \2/p' "$SC_OUT/server.log" | tail -n 1)
    ver=${1:-TLSv1.3}; cs=${2:-TLS_AES_256_GCM_SHA384}
    case $ver in
    TLSv1.3) tlsopt="-tls1_3 -ciphersuites $cs" ;;
    *) tlsopt="-tls1_2 -cipher $cs" ;;
    esac
    sc_step "ceiling: $ver $cs over the veth (openssl s_server/s_client, ${BENCH_SECS}s each way)"
    tls_ceiling up "ip netns exec srv" "" "$SC_SERVER_V4" 4433
    tls_ceiling down "" "ip netns exec srv" "$SC_CLIENT_V4" 4434
    sc_fact b.ceiling.tls.cipher "$(sed -n 's/^Ciphersuite: *//p' "$SC_WORK/tls-up.err" | head -n 1)"
}
# One direction: the receiver (s_server in <rx ns>, on <addr>:<port>) counts the bytes, the
# sender (s_client in <tx ns>, reading /dev/zero) is stopped after BENCH_SECS; rate = bytes
# received / time from the sender's start to the receiver's end.
# tls_ceiling <up|down> <rx ns prefix> <tx ns prefix> <addr> <port>
tls_ceiling() {
    pki=$SC_WORK/pki
    # s_server's stdin stays open (it stops reading the connection at stdin's EOF).
    sleep $((BENCH_SECS + 30)) | $2 openssl s_server -accept "$4:$5" -naccept 1 -quiet $tlsopt \
        -cert "$pki/server.pem" -key "$pki/server.key" 2>"$SC_WORK/tls-$1-server.err" |
        wc -c >"$SC_WORK/tls-$1.n" &
    rx=$!
    sc_wait 10 tls_listening "$2" "$5"
    t0=$(sc_now)
    $3 timeout "$BENCH_SECS" openssl s_client -connect "$4:$5" -brief $tlsopt \
        -servername "$SC_SERVER_NAME" -CAfile "$pki/ca.pem" </dev/zero >/dev/null 2>"$SC_WORK/tls-$1.err"
    sc_wait 20 sc_not_running "$rx"
    t1=$(sc_now)
    n=$(cat "$SC_WORK/tls-$1.n")
    sc_fact "b.ceiling.tls.$1_bytes" "$n"
    sc_fact "b.ceiling.tls.$1_bps" "$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n * 8 / (b - a) }')"
}
tls_listening() { $1 ss -Htln "sport = :$2" | grep -q LISTEN; }

HZ=$(getconf CLK_TCK)
SC_LINK_DELAY_MS=$BENCH_DELAY_MS
sc_net_up >/dev/null || exit 1
if [ -n "$BENCH_LINK_TC" ]; then
    eval "$BENCH_LINK_TC" || { echo "link $BENCH_LINK: tc failed"; exit 1; }
    for ns in "" "ip netns exec srv"; do $ns tc qdisc show | sed 's/^/   qdisc: /'; done
fi
sc_fact b.link "$BENCH_LINK"
sc_pki >/dev/null || exit 1
sc_test_server_setup
SERVER=$BENCH_SERVER
# --paced: the server queues towards the client like a router (see BENCHMARKS.md).
sc_test_server 443 server.log server --paced
sc_wait 20 sc_server_listening || { echo "test server not listening"; cat "$SC_OUT/server.log"; exit 1; }
ip netns exec srv iperf3 -s >"$SC_WORK/iperf3-server.log" 2>&1 &
echo $! >"$SC_WORK/iperf3.pid"
BENCH_PPPD_OPTS="user $SC_USER noauth noccp nobsdcomp nodeflate refuse-eap nodefaultroute noipdefault lcp-echo-interval 0 mtu $BENCH_MTU mru $BENCH_MTU logfile $SC_OUT/client-pppd.log"
export BENCH_PPPD_OPTS BENCH_SO
sc_fact b.loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$BENCH_ROUNDS"); do
    for c in $BENCH_CLIENTS; do
        sc_step "round $r: $c"
        round "$c" "$r"
    done
done
[ "$BENCH_CEILINGS" = 1 ] && ceilings
sc_fact b.loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
kill "$(cat "$SC_WORK/iperf3.pid")" 2>/dev/null
for s in $(cat "$SC_WORK/servers"); do kill -TERM "$s" 2>/dev/null; done
exit 0
