#!/usr/bin/env bash
# Opt-in acceleration as a user meets it: a cgroup enrolled with --mode
# opt-in accelerates what runs under `netaccel-ctl run` (the preload shim)
# or opts in through include/netaccel.h, and nothing else. optin-probe
# (tests/preload) is the program under test; it checks bytes and errnos
# itself and prints what netaccel's query says.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
na_setup

PROBE=${NETACCEL_BUILD_DIR:?}/tests/preload/optin-probe
SHIM=${NETACCEL_PRELOAD:?}
[ -x "$PROBE" ] || bail_out "optin-probe is not built"
OPTIN=$CG/optin		# enrolled in mode opt-in
ALL=$CG/all		# enrolled in mode all
PLAIN=$CG		# not enrolled
mkdir "$OPTIN" "$ALL" || bail_out "cannot make the cgroups"
na enroll "$OPTIN" --mode opt-in >/dev/null || bail_out "enroll --mode opt-in failed"
na enroll "$ALL" --mode all >/dev/null || bail_out "enroll --mode all failed"

counter() { na stats --json "$1" | json 'd["cgroups"][0]["counters"][a[0]]' "$2"; }
# expect_out "<description>" <regex> <command...>: exit 0 and stdout matches.
expect_out() {
	local desc=$1 re=$2
	shift 2
	begin "$desc"
	run "$@"
	[ "$RC" = 0 ] || why "expected exit code 0, got $RC"
	grep -Eq -- "$re" <<<"$OUT" || why "stdout does not match /$re/"
	end
}

# ---- the three ways in, and what stays out ----

before=$(counter "$OPTIN" bytes_redirected)
expect_out "a pair under netaccel-ctl run in an opt-in cgroup is accelerated" \
	'^client=1 accepted=1$' "$CTL" run --cgroup "$OPTIN" -- "$PROBE" pair
after=$(counter "$OPTIN" bytes_redirected)
# Each direction's first write takes TCP until its reader has read it.
check "... and stats counts its bytes as redirected ($before -> $after)" test "$after" -ge $((before + 400000 - 2 * 4096))
check "... and its tags (tags_on)" test "$(counter "$OPTIN" tags_on)" -ge 2

before=$(counter "$OPTIN" bytes_redirected)
expect_out "the same program without the shim is not accelerated" \
	'^client=0 accepted=0$' in_cg "$OPTIN" "$PROBE" pair
check "... and stats counts nothing redirected" test "$(counter "$OPTIN" bytes_redirected)" -eq "$before"

expect_out "an application that opts in itself (netaccel.h) is accelerated" \
	'^client=1 accepted=1$' in_cg "$OPTIN" "$PROBE" pair --listener-tag 1 --client-tag 1
expect_out "a tagged client to an untagged server is not accelerated" \
	'^client=0 accepted=0$' "$CTL" run --cgroup "$OPTIN" -- "$PROBE" pair --listener-tag -1
expect_out "NETACCEL_DISABLE=1 turns the shim off" \
	'^client=0 accepted=0$' env NETACCEL_DISABLE=1 "$CTL" run --cgroup "$OPTIN" -- "$PROBE" pair
expect_out "mode all accelerates untagged programs" \
	'^client=1 accepted=1$' in_cg "$ALL" "$PROBE" pair
expect_out "a tag of 0 keeps a socket on the normal path in mode all" \
	'^client=0 accepted=0$' in_cg "$ALL" "$PROBE" pair --client-tag 0
check "... and stats counts the opt-out (tags_off)" test "$(counter "$ALL" tags_off)" -ge 1

# ---- which sockets are tagged ----

check "socket() table under the shim: only TCP stream sockets are tagged; results, SO_PROTOCOL and errno unchanged" \
	"$CTL" run --cgroup "$OPTIN" -- "$PROBE" table on
check "socket() table without the shim: nothing is tagged" in_cg "$OPTIN" "$PROBE" table off
expect_out "accepted sockets inherit the listener's tag (the shim sees no accept)" \
	'accepted=1$' "$CTL" run --cgroup "$OPTIN" -- "$PROBE" pair --client-tag 1
expect_out "a forked child's sockets are tagged" '^1$' "$CTL" run --cgroup "$OPTIN" -- "$PROBE" fork
expect_out "tags survive exec (sh -c)" '^1$' "$CTL" run --cgroup "$OPTIN" -- sh -c "exec '$PROBE' tag"
expect_out "a child started with an empty environment is not tagged" '^-1$' \
	"$CTL" run --cgroup "$OPTIN" -- env -i "$PROBE" tag
check "16 threads making their first sockets at once, and fork while threads are in socket()" \
	timeout 60 "$CTL" run --cgroup "$OPTIN" -- "$PROBE" threads 16
expect_out "socket() called before the shim's constructor ran is tagged" '^1$' \
	"$CTL" run --cgroup "$OPTIN" -- "${PROBE%/*}/optin-early"
check "socket() from a signal handler is tagged" "$CTL" run --cgroup "$OPTIN" -- "$PROBE" signal
check "malformed calls on netaccel's level get EINVAL/ENOPROTOOPT/EOPNOTSUPP and change nothing" \
	in_cg "$OPTIN" "$PROBE" malformed

begin "NETACCEL_DEBUG prints one line per TCP socket to stderr"
run env NETACCEL_DEBUG=1 "$CTL" run --cgroup "$OPTIN" -- "$PROBE" tag
[ "$RC" = 0 ] || why "exit code $RC"
[ "$(grep -c 'tagged for acceleration' <<<"$ERR")" = 1 ] || why "expected one line, stderr: $ERR"
end
begin "NETACCEL_LOG_FILE takes those lines instead of stderr"
run env NETACCEL_DEBUG=1 NETACCEL_LOG_FILE="$NA_TMP/shim.log" "$CTL" run --cgroup "$OPTIN" -- "$PROBE" pair
[ -z "$ERR" ] || why "stderr is not empty: $ERR"
# The pair makes three TCP sockets: the listener, a first client that
# shows the listener's accepted sockets reading, and the client.
[ "$(grep -c 'tagged for acceleration' "$NA_TMP/shim.log" 2>/dev/null)" = 3 ] ||
	why "expected 3 lines (listener and two clients) in the log: $(cat "$NA_TMP/shim.log" 2>/dev/null)"
end

# ---- where netaccel is not ----

begin "not enrolled: the shim is silent, the program works, the query says ENOPROTOOPT"
run in_cg "$PLAIN" env LD_PRELOAD="$SHIM" "$PROBE" pair
[ "$RC" = 0 ] || why "exit code $RC"
[ -z "$ERR" ] || why "stderr is not empty: $ERR"
[ "$OUT" = "client=ENOPROTOOPT accepted=ENOPROTOOPT" ] || why "stdout: $OUT"
end

# Ordinary options must behave exactly as without netaccel.
in_cg "$PLAIN" "$PROBE" sockopts >"$NA_TMP/so-plain" 2>&1
in_cg "$OPTIN" env LD_PRELOAD="$SHIM" "$PROBE" sockopts >"$NA_TMP/so-optin" 2>&1
in_cg "$ALL" "$PROBE" sockopts >"$NA_TMP/so-all" 2>&1
begin "SO_SNDBUF, TCP_NODELAY, TCP_CONGESTION, IP_TOS, TCP_INFO and values larger than a page behave as without netaccel"
[ "$(wc -l <"$NA_TMP/so-plain")" -ge 15 ] || why "the probe printed too little: $(cat "$NA_TMP/so-plain")"
cmp -s "$NA_TMP/so-plain" "$NA_TMP/so-optin" || why "opt-in differs: $(diff "$NA_TMP/so-plain" "$NA_TMP/so-optin" | grep '^[<>]' | tr '\n' ' ')"
cmp -s "$NA_TMP/so-plain" "$NA_TMP/so-all" || why "mode all differs: $(diff "$NA_TMP/so-plain" "$NA_TMP/so-all" | grep '^[<>]' | tr '\n' ' ')"
end

# ---- a real server and client: redis ----

if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	redis_round() { # <label> <wrapper...>: a server and a benchmark, both under the wrapper
		local label=$1 i
		shift
		"$@" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--protected-mode no >"$NA_TMP/redis-$label.log" 2>&1 &
		NA_PIDS+=($!) NA_ALL_PIDS+=($!)
		for i in $(seq 100); do
			[ -n "$(ss -Hltn "sport = :$port")" ] && break
			sleep 0.05
		done
		"$@" redis-benchmark -h 127.0.0.1 -p "$port" -n 20000 -c 10 -t set,get -q \
			>"$NA_TMP/bench-$label.log" 2>&1
		local rc=$?
		kill "${NA_PIDS[-1]}" 2>/dev/null
		wait "${NA_PIDS[-1]}" 2>/dev/null
		unset 'NA_PIDS[-1]'
		return $rc
	}
	joined0=$(counter "$OPTIN" sockets_joined)
	bytes0=$(counter "$OPTIN" bytes_redirected)
	check "redis-server and redis-benchmark under netaccel-ctl run finish without errors" \
		redis_round shim "$CTL" run --cgroup "$OPTIN" --
	check "... redis-benchmark measured SET and GET" grep -q 'GET: .*requests per second' "$NA_TMP/bench-shim.log"
	joined1=$(counter "$OPTIN" sockets_joined)
	bytes1=$(counter "$OPTIN" bytes_redirected)
	check "... and stats shows their connections accelerated (joined $joined0 -> $joined1, bytes $bytes0 -> $bytes1)" \
		test "$joined1" -ge $((joined0 + 20)) -a "$bytes1" -gt $((bytes0 + 100000))
	check "the same programs without the shim in the same cgroup finish" redis_round plain sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$OPTIN"
	check "... and are not accelerated" \
		test "$(counter "$OPTIN" sockets_joined)" -eq "$joined1" -a "$(counter "$OPTIN" bytes_redirected)" -eq "$bytes1"
	for l in shim plain; do
		diag "redis-benchmark, $l: $(tr '\r' '\n' <"$NA_TMP/bench-$l.log" |
			grep -Eo '[A-Z]+: [0-9.]+ requests per second(, p50=[0-9.]+ msec)?' | tr '\n' ' ')"
	done
else
	not_ok "redis-server and redis-benchmark are installed (scripts/install-deps installs them)"
fi

na_done
