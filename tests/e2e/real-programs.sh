#!/usr/bin/env bash
# Real, unmodified programs in an enrolled cgroup keep working and are
# accelerated: iperf3, socat moving a file, python3's http.server.
set -u
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
ctl=${NETACCEL_CTL:?}
cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
cg=$cgroot/netaccel-e2e-real-$$
export NETACCEL_STATE_DIR=/sys/fs/bpf/netaccel-e2e-real-$$
tmp=$(mktemp -d)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$ctl" cleanup --force >/dev/null 2>&1
	for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	for _ in 1 2 3 4 5; do rmdir "$cg" 2>/dev/null && break; sleep 0.2; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Run a command inside the enrolled cgroup.
in_cg() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
redirected() { "$ctl" stats --json "$cg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cgroups"][0]["counters"]["bytes_redirected"])'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Wait for a listener without connecting to it (socat -u accepts once).
wait_port() {
	for _ in $(seq 100); do
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	return 1
}

n=0 failed=0
check() { # description, then a command that must succeed
	local what=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; failed=$((failed + 1)); fi
}
grew() { [ "$(redirected)" -ge $(($1 + $2)) ]; }

echo "1..6"
mkdir "$cg"
"$ctl" enroll "$cg" >/dev/null || { echo "Bail out! enroll failed"; exit 1; }

# iperf3: its control and data connections are both local.
port=$(free_port); before=$(redirected)
in_cg iperf3 -s -1 -B 127.0.0.1 -p "$port" >"$tmp/iperf-s.log" 2>&1 & pids+=($!)
wait_port "$port"
check "iperf3 client and server run to completion" in_cg iperf3 -c 127.0.0.1 -p "$port" -t 1 -J --logfile "$tmp/iperf.json"
sent=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))' "$tmp/iperf.json" 2>/dev/null || echo 0)
# A bulk sender outruns its reader; while the reader is more than the
# backlog limit behind, the connection takes TCP (backlog_limited), so most
# of the bytes, not all, take the fast path.
check "most of iperf3's $sent bytes went through the fast path" grew "$before" $((sent / 2))

# socat moving a file: the bytes arrive intact.
head -c 8000000 /dev/urandom >"$tmp/in"
port=$(free_port); before=$(redirected)
in_cg socat -u TCP-LISTEN:"$port",bind=127.0.0.1 CREATE:"$tmp/out" & pids+=($!)
wait_port "$port"
in_cg socat -u FILE:"$tmp/in" TCP:127.0.0.1:"$port"
wait "${pids[-1]}"
check "socat copies 8 MB intact" cmp -s "$tmp/in" "$tmp/out"
check "socat's bytes went through the fast path" grew "$before" 8000000

# python3 -m http.server and a python3 client fetching a file.
port=$(free_port); before=$(redirected)
(cd "$tmp" && in_cg python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
wait_port "$port"
in_cg python3 -c 'import sys,urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())' "http://127.0.0.1:$port/in" >"$tmp/got"
check "python http.server serves the file intact" cmp -s "$tmp/in" "$tmp/got"
check "the HTTP response went through the fast path" grew "$before" 8000000
[ $failed -eq 0 ]
