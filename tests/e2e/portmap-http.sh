#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Two unmodified copies of a real server that hard-code one port -- two
# `python3 -m http.server 3000` -- run side by side on the host network in
# two enrolled cgroups with a port rule each. Each is reachable from a
# client in its own cgroup at port 3000, and from outside at the real port
# that `portmap list` shows.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup

mkdir "$CG/one" "$CG/two" "$NA_TMP/one" "$NA_TMP/two" || bail_out "cannot create cgroups in $CG"
echo "served from one" >"$NA_TMP/one/who"
echo "served from two" >"$NA_TMP/two/who"

# GET a URL; prints the body or "error: ...".
get() {
	"$PYTHON" -c 'import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")
except Exception as e:
    print("error:", e)' "$1"
}

for c in one two; do
	EXPECT_OUT="^enrolled $REL/$c" expect_ok "enroll $c" na enroll "$REL/$c"
	EXPECT_OUT="port 3000/tcp" expect_ok "portmap add $c 3000" na portmap add "$REL/$c" 3000
done

for c in one two; do
	# exec all the way down: the pid we keep is the server's own. -u: its
	# "Serving HTTP on ... port 3000" line reaches the log at once, whatever
	# the environment says (PYTHONUNBUFFERED).
	(cd "$NA_TMP/$c" && echo "$BASHPID" >"$CG/$c/cgroup.procs" &&
		exec "$PYTHON" -u -m http.server 3000 --bind 127.0.0.1) >"$NA_TMP/$c.log" 2>&1 &
	NA_PIDS+=("$!")
	NA_ALL_PIDS+=("$!")
done

# Both servers are up once portmap list shows both bindings.
real() {
	na portmap list --json | json '[b["real_port"] for b in d["bound"] if b["cgroup"] == a[0] and b["port"] == 3000]' "$1"
}
for _ in $(seq 250); do
	[ -n "$(real "$REL/one")" ] && [ -n "$(real "$REL/two")" ] && break
	sleep 0.02
done
r1=$(real "$REL/one")
r2=$(real "$REL/two")
begin "both http.servers run with port 3000"
[ -n "$r1" ] && [ -n "$r2" ] || why "portmap list shows '$r1' and '$r2'"
grep -q "port 3000" "$NA_TMP/one.log" || why "server one does not say port 3000: $(cat "$NA_TMP/one.log")"
grep -q "port 3000" "$NA_TMP/two.log" || why "server two does not say port 3000: $(cat "$NA_TMP/two.log")"
end
diag "real ports: one $r1, two $r2"

# GET from inside a cgroup directory.
get_in() {
	(echo "$BASHPID" >"$1/cgroup.procs" && get "$2")
}
check "a client in one gets one's file at port 3000" \
	test "$(get_in "$CG/one" http://127.0.0.1:3000/who)" = "served from one"
check "a client in two gets two's file at port 3000" \
	test "$(get_in "$CG/two" http://127.0.0.1:3000/who)" = "served from two"
check "a client outside gets one's file at $r1" test "$(get "http://127.0.0.1:$r1/who")" = "served from one"
check "a client outside gets two's file at $r2" test "$(get "http://127.0.0.1:$r2/who")" = "served from two"
EXPECT_OUT="^$REL/one +tcp +3000 +$r1 +1" expect_ok "portmap list shows one's real port" na portmap list
check "ss shows the real ports" test -n "$(ss -Hltn "sport = :$r1")" -a -n "$(ss -Hltn "sport = :$r2")"

# http.server blocks in accept() and recv(): its connections stay on TCP
# (its accepted sockets are never seen reading non-blocking), and say so.
begin "the requests in the cgroups were counted as remapped, and kept on TCP"
for c in one two; do
	kept=$(na stats --json "$REL/$c" | json 'd["cgroups"][0]["counters"]["kept_blocking"] + d["cgroups"][0]["counters"]["kept_unseen"]')
	red=$(na stats --json "$REL/$c" | json 'd["cgroups"][0]["counters"]["bytes_redirected"]')
	con=$(na stats --json "$REL/$c" | json 'd["portmap"]["cgroups"][0]["counters"]["connects_remapped"]')
	[ "${kept:-0}" -ge 1 ] || why "$c: kept_blocking + kept_unseen is '$kept'"
	[ "${red:-1}" = 0 ] || why "$c: bytes_redirected is '$red'"
	[ "${con:-0}" -ge 1 ] || why "$c: connects_remapped is '$con'"
done
end

check_no_process_left

na_done
