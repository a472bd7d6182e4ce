#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# netaccel-agent as a daemon on the real kernel: cgroups made after it
# started are enrolled and removed ones forgotten (inotify); a changed
# policy file (or SIGHUP) is read again, the difference logged, what the
# agent made and the policy dropped unenrolled, and what was enrolled by
# hand left alone; a bad file keeps the policy in force; SIGKILL and a restart during
# traffic lose no byte and keep the acceleration, and the new agent adopts
# the old one's record; a second agent on the same state is refused; the
# metrics endpoint passes promtool and a real Prometheus server scrapes
# it; SIGTERM leaves everything in the kernel. A port rule whose cgroup
# comes later is added, and dropped with its cgroup; a bridge made later in
# the agent's network namespace gets the veth redirect (netlink). Every
# wait is bounded.
. "${BASH_SOURCE[0]%/*}/lib.sh"
. "${BASH_SOURCE[0]%/*}/veth-lib.sh"

AGENT=${NETACCEL_AGENT:?NETACCEL_AGENT must name the netaccel-agent to test}

na_setup
probe=${NETACCEL_SOURCE_DIR:?}/tests/e2e/netprobe.py
APID= PROM=
agent_down() {
	[ -n "$APID" ] && kill -KILL "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	[ -n "$PROM" ] && kill -KILL "$PROM" 2>/dev/null && wait "$PROM" 2>/dev/null
	[ -n "$VPID" ] && kill -KILL "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
	APID= PROM= VPID=
	[ -n "${SD2:-}" ] && [ -e "$SD2" ] &&
		nsenter --net="/run/netns/$H" "$CTL" --state-dir "$SD2" cleanup --force >/dev/null 2>&1
	vl_down
}
trap 'agent_down; na_cleanup' EXIT

PORT=$(free_port)
POLICY=$NA_TMP/policy.yaml
LOG=$NA_TMP/agent.log

policy() {	# <rules of the bypass section, one per argument>
	{
		echo "bypass:"
		for r in "$@"; do
			echo "  - $r"
		done
		echo "portmap:"
		echo "  - cgroup: $REL/svc"
		echo "    port: 8080"
		echo "    real: 18080"
	} >"$POLICY"
}

# Start the daemon in the background; wait for /healthz (bounded).
agent_start() {
	"$AGENT" --state-dir "$SD" --config "$POLICY" --metrics-address "127.0.0.1:$PORT" \
		--resync 300 >>"$LOG" 2>&1 &
	APID=$!
	NA_ALL_PIDS+=("$APID")
	for _ in $(seq 100); do
		[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ] &&
			return 0
		kill -0 "$APID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# The enrolled cgroups below ours, "<path> <mode>" sorted, one line.
enrolled() {
	na status --json 2>/dev/null |
		json 'sorted("%s %s" % (c["path"], c["mode"]) for c in d["cgroups"] if c["state"] == "active")' |
		tr '\n' ' '
}

# until_ok <seconds> <command...>: retry the command until it succeeds.
until_ok() {
	local t=$(($1 * 10))
	shift
	for _ in $(seq "$t"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
is_enrolled() { [ "$(enrolled)" = "$1" ]; }
logged() { grep -qF -- "$1" "$LOG"; }

mkdir -p "$CG/hand" || bail_out "cannot create cgroups in $CG"
na enroll "$REL/hand" --mode opt-in >/dev/null || bail_out "cannot enroll $REL/hand"
policy "cgroup: \"$REL/app-*\"" "cgroup: $REL/hand" "pod: \"0a1b2c3d*\""

begin "the daemon starts, applies the policy and answers /healthz"
agent_start || why "no /healthz within 10 s: $(cat "$LOG")"
logged "set mode all of $REL/hand (enrolled, mode opt-in)" || why "no mode change in the log: $(cat "$LOG")"
end

begin "a second agent on the same state is refused, and changes nothing"
run timeout 10 "$AGENT" --state-dir "$SD" --config "$POLICY" --metrics-address none
[ "$RC" = 1 ] || why "expected exit code 1, got $RC"
grep -q "another netaccel-agent runs on $SD" <<<"$ERR" || why "stderr: $ERR"
run timeout 10 "$AGENT" --state-dir "$SD" --config "$POLICY" --once
[ "$RC" = 1 ] || why "--once: expected exit code 1, got $RC"
end

begin "a cgroup made later is enrolled within 5 s (inotify)"
mkdir -p "$CG/app-1" "$CG/app-2/deep" "$CG/other"
until_ok 5 is_enrolled "$REL/app-1 all $REL/app-2 all $REL/hand all " ||
	why "enrolled: '$(enrolled)'; log: $(cat "$LOG")"
logged "enroll $REL/app-1 (mode all)" || why "no enroll line in the log"
end

begin "a Kubernetes pod's cgroup (cgroupfs driver layout) is enrolled by its UID"
POD=$REL/kubepods/besteffort/pod0a1b2c3d-aaaa-bbbb-cccc-0123456789ab
mkdir -p "$CGROOT/$POD/ctr" "$CG/kubepods/besteffort/podffffffff-aaaa-bbbb-cccc-0123456789ab"
until_ok 5 is_enrolled "$REL/app-1 all $REL/app-2 all $REL/hand all $POD all " ||
	why "enrolled: '$(enrolled)'"
rmdir "$CGROOT/$POD/ctr" "$CGROOT/$POD"
until_ok 5 is_enrolled "$REL/app-1 all $REL/app-2 all $REL/hand all " || why "enrolled: '$(enrolled)'"
end

begin "a removed cgroup is forgotten"
rmdir "$CG/app-1"
until_ok 5 logged "forget the enrollment of cgroup" || why "no forget line: $(cat "$LOG")"
until_ok 5 is_enrolled "$REL/app-2 all $REL/hand all " || why "enrolled: '$(enrolled)'"
end

rules() { na portmap list --json 2>/dev/null | json '["%s %s %s" % (r["cgroup"], r["port"], r["real_port"]) for r in d["rules"]]' 2>/dev/null | tr '\n' ' '; }
has_rules() { [ "$(rules)" = "$1" ]; }
begin "a port rule whose cgroup comes later is added, and forgotten with its cgroup"
[ -z "$(rules)" ] || why "rules before: $(rules)"
mkdir "$CG/svc"
until_ok 5 has_rules "$REL/svc 8080 18080 " || why "rules: '$(rules)'"
rmdir "$CG/svc"
until_ok 5 logged "forget the port rule of $REL/svc tcp 8080 (gone)" || why "log: $(cat "$LOG")"
until_ok 5 has_rules "" || why "rules: '$(rules)'"
end

begin "/metrics passes promtool and counts the agent's passes"
curl -s -m 5 "http://127.0.0.1:$PORT/metrics" >"$NA_TMP/metrics.txt" || why "curl failed"
promtool check metrics <"$NA_TMP/metrics.txt" >"$NA_TMP/promtool.out" 2>&1 ||
	why "promtool: $(cat "$NA_TMP/promtool.out")"
grep -q '^netaccel_agent_passes_total [1-9]' "$NA_TMP/metrics.txt" || why "no passes counted"
grep -q "^netaccel_bypass_enrolled{" "$NA_TMP/metrics.txt" || why "no bypass gauges"
grep -q '^netaccel_agent_owned{kind="bypass"} 1$' "$NA_TMP/metrics.txt" ||
	why "owned: $(grep owned "$NA_TMP/metrics.txt")"
end

begin "a bad policy written over the file: refused with the file and the line, the policy in force stays"
cp "$POLICY" "$NA_TMP/good.yaml"
printf 'bypass:\n  - cgroup: x\n    mode: fast\n' >"$POLICY"
until_ok 5 logged "$POLICY:3: unknown mode 'fast' (use all or opt-in); the policy in force stays" ||
	why "log: $(tail -3 "$LOG")"
logged "$POLICY changed" || why "the change was not noticed"
mkdir "$CG/app-3"
until_ok 5 is_enrolled "$REL/app-2 all $REL/app-3 all $REL/hand all " || why "enrolled: '$(enrolled)'"
curl -s -m 5 "http://127.0.0.1:$PORT/metrics" | grep -q '^netaccel_agent_policy_reloads_total{result="refused"} 1$' ||
	why "the refused reload is not counted once"
end

# ---- SIGKILL and a restart during traffic ----
server() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG/app-2" "$@" </dev/null >>"$NA_TMP/servers.log" 2>&1 &
	NA_PIDS+=($!)
	NA_ALL_PIDS+=($!)
}
counter() { na stats --json "$REL/app-2" | json 'd["cgroups"][0]["counters"][a[0]]' "$1"; }
cp "$NA_TMP/good.yaml" "$POLICY"
server "$PYTHON" "$probe" echo-server "$NA_TMP/echo.port"
until_ok 10 test -s "$NA_TMP/echo.port" || bail_out "the echo server did not start"
begin "SIGKILL during traffic, then a restart: every byte echoed, the fast path kept, the record adopted"
b=$(counter bytes_redirected)
(echo "$BASHPID" >"$CG/app-2/cgroup.procs" &&
	exec timeout 120 "$PYTHON" "$probe" stream "$(cat "$NA_TMP/echo.port")" 1000000 60 50) \
	>"$NA_TMP/stream.out" 2>&1 &
spid=$!
sleep 0.5
kill -KILL "$APID"
wait "$APID" 2>/dev/null
APID=
before=$(enrolled)
[ "$before" = "$REL/app-2 all $REL/app-3 all $REL/hand all " ] || why "after SIGKILL: '$before'"
: >"$LOG"
agent_start || why "the restarted agent did not come up: $(cat "$LOG")"
wait "$spid" || why "the traffic failed: $(cat "$NA_TMP/stream.out")"
grep -q "^ok 60 connections" "$NA_TMP/stream.out" || why "stream: $(cat "$NA_TMP/stream.out")"
now=$(counter bytes_redirected)
[ "$now" -ge $((b + 2000000)) ] || why "bytes_redirected went from $b to $now"
logged "adopting what an earlier run made (2 entries" || why "no adoption: $(cat "$LOG")"
grep -qE '^(enroll|unenroll|set mode)' "$LOG" && why "the restart changed enrollments: $(cat "$LOG")"
end

begin "a policy changed after the restart: the difference is logged, what the agent made and the policy dropped goes, what was enrolled by hand stays"
policy "cgroup: \"$REL/app-3\""
until_ok 5 logged "unenroll $REL/app-2 (the policy no longer names it)" || why "log: $(cat "$LOG")"
logged "policy: - bypass cgroup \"$REL/app-*\" mode all" || why "no '-' line: $(cat "$LOG")"
logged "policy: + bypass cgroup \"$REL/app-3\" mode all" || why "no '+' line: $(cat "$LOG")"
until_ok 5 is_enrolled "$REL/app-3 all $REL/hand all " || why "enrolled: '$(enrolled)'"
end

begin "SIGHUP reads the policy again"
kill -HUP "$APID"
until_ok 5 logged "policy read again: nothing changed" || why "log: $(tail -3 "$LOG")"
end

# ---- a real Prometheus server scrapes the endpoint ----
begin "a Prometheus server scrapes /metrics; its HTTP API returns the agent's counter"
pport=$(free_port)
cat >"$NA_TMP/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: netaccel
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YAML
prometheus --config.file="$NA_TMP/prometheus.yml" --storage.tsdb.path="$NA_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$pport" >"$NA_TMP/prometheus.log" 2>&1 &
PROM=$!
NA_ALL_PIDS+=("$PROM")
q() {
	curl -s -m 5 "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
		json '[r["value"][1] for r in d["data"]["result"]]'
}
got=
for _ in $(seq 300); do
	got=$(q 'netaccel_agent_passes_total{job="netaccel"}' 2>/dev/null)
	[ -n "$got" ] && break
	sleep 0.1
done
[ -n "$got" ] && [ "$got" -ge 1 ] || why "no sample within 30 s: '$got'; $(tail -3 "$NA_TMP/prometheus.log")"
up=$(q 'up{job="netaccel"}' 2>/dev/null)
[ "$up" = 1 ] || why "up is '$up'"
kill "$PROM" && wait "$PROM" 2>/dev/null
PROM=
end

begin "SIGTERM stops the daemon (exit 0); what it made stays in the kernel"
kill -TERM "$APID"
rc=0
wait "$APID" || rc=$?
APID=
[ "$rc" = 0 ] || why "exit code $rc"
logged "what it made stays in the kernel" || why "log: $(tail -2 "$LOG")"
[ "$(enrolled)" = "$REL/app-3 all $REL/hand all " ] || why "enrolled: '$(enrolled)'"
end

begin "sd_notify: READY=1 after the first pass, the watchdog pinged, RELOADING=1 on SIGHUP, STOPPING=1"
# What systemd would read, from a datagram socket of the test's own.
"$PYTHON" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(15)
with open(sys.argv[2], "w") as out:
    while True:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(m.replace("\n", " ") + "\n"); out.flush()
        if "STOPPING=1" in m:
            break
' "$NA_TMP/notify.sock" "$NA_TMP/notify.log" &
npid=$!
until_ok 5 test -S "$NA_TMP/notify.sock" || why "no notify socket"
NOTIFY_SOCKET=$NA_TMP/notify.sock WATCHDOG_USEC=400000 \
	"$AGENT" --state-dir "$SD" --config "$POLICY" --metrics-address none >>"$LOG" 2>&1 &
APID=$!
NA_ALL_PIDS+=("$APID")
until_ok 5 grep -q "^READY=1" "$NA_TMP/notify.log" || why "no READY=1: $(cat "$NA_TMP/notify.log")"
sleep 1
kill -HUP "$APID"
until_ok 5 grep -q "^RELOADING=1" "$NA_TMP/notify.log" || why "no RELOADING=1"
kill -TERM "$APID" && wait "$APID"
APID=
wait "$npid"
pings=$(grep -c "^WATCHDOG=1" "$NA_TMP/notify.log")
[ "$pings" -ge 2 ] || why "$pings watchdog pings in a second at WATCHDOG_USEC=400000"
order=$(grep -o -E "^(READY|RELOADING|STOPPING)=1" "$NA_TMP/notify.log" | tr '\n' ' ')
[ "$order" = "READY=1 RELOADING=1 READY=1 STOPPING=1 " ] || why "messages: $order"
end

begin "cleanup removes the agent's record too"
run na cleanup --force
[ "$RC" = 0 ] || why "exit code $RC: $ERR"
[ -e "$SD" ] && why "left: $(find "$SD")"
end

# ---- a bridge made later, in the agent's own network namespace ----
begin "a bridge made after the agent started gets the veth redirect (netlink)"
H=netaccel-e2e-dh-$$ A=netaccel-e2e-da-$$
SD2=$(extra_state_dir veth)
vl_host "$H" || bail_out "cannot make a network namespace"
# The policy as a Kubernetes ConfigMap volume holds it: policy.yaml ->
# ..data/policy.yaml, ..data -> a timestamped directory, swapped whole.
CM=$NA_TMP/cm
mkdir -p "$CM/..2026_a"
printf 'veth:\n  bridges: [br7]\n' >"$CM/..2026_a/policy.yaml"
ln -s ..2026_a "$CM/..data" && ln -s ..data/policy.yaml "$CM/policy.yaml"
nsenter --net="/run/netns/$H" "$AGENT" --state-dir "$SD2" --config "$CM/policy.yaml" \
	--metrics-address none >"$NA_TMP/veth.log" 2>&1 &
VPID=$!
NA_ALL_PIDS+=("$VPID")
until_ok 5 grep -q "following the host" "$NA_TMP/veth.log" || why "not started: $(cat "$NA_TMP/veth.log")"
vl_bridge br7 && vl_container "$A" br7 v7 198.18.7.1 fd00:7::1 || why "cannot build the bridge"
vports() {
	nsenter --net="/run/netns/$H" "$CTL" --state-dir "$SD2" veth list --json 2>/dev/null |
		json 'sorted(p["veth"] + "@" + p["bridge"] for p in d["ports"])' 2>/dev/null | tr '\n' ' '
}
has_vports() { [ "$(vports)" = "$1" ]; }
until_ok 10 has_vports "v7@br7 " || why "ports: '$(vports)'; log: $(cat "$NA_TMP/veth.log")"
grep -qxF "veth attach --bridge br7" "$NA_TMP/veth.log" || why "log: $(cat "$NA_TMP/veth.log")"
end

begin "a ConfigMap update that drops the bridge detaches the redirect from it"
mkdir "$CM/..2026_b"
printf 'veth:\n  bridges: []\n' >"$CM/..2026_b/policy.yaml"
ln -s ..2026_b "$CM/..data_tmp" && mv -T "$CM/..data_tmp" "$CM/..data"
until_ok 5 grep -qxF "veth detach --bridge br7 (the policy no longer has it)" "$NA_TMP/veth.log" ||
	why "log: $(cat "$NA_TMP/veth.log")"
until_ok 5 has_vports "" || why "ports: '$(vports)'"
kill -TERM "$VPID" && wait "$VPID"
VPID=
run nsenter --net="/run/netns/$H" "$CTL" --state-dir "$SD2" cleanup
[ "$RC" = 0 ] && [ ! -e "$SD2" ] || why "cleanup: $RC $OUT $ERR; left: $(find "$SD2" 2>&1)"
end

check_no_process_left
na_done
