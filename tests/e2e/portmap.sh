#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# portmap: per-cgroup port views on the real kernel. Two cgroups bind one
# port at once; getsockname/getpeername/accept read the virtual port;
# EADDRINUSE and SO_REUSEPORT inside one view; clients inside and outside;
# UDP; IPv6 and dual-stack; a fixed real port that is taken; privileged
# virtual ports; a rule deleted under live sockets; the bypass on a
# remapped connection; bad input; cleanup.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup

HELPER=${BASH_SOURCE[0]%/*}/portmap-sock.py
mkdir "$CG/a" "$CG/b" "$CG/c" "$CG/d" "$CG/a/child" || bail_out "cannot create cgroups in $CG"
ida=$(cgid "$CG/a")
idc=$(cgid "$CG/c")

# Run the socket helper inside a cgroup directory ($1), or outside with "-".
sock_in() {
	local dir=$1
	shift
	if [ "$dir" = - ]; then
		timeout 20 "$PYTHON" - "$@" <"$HELPER"
	else
		(echo "$BASHPID" >"$dir/cgroup.procs" && exec timeout 20 "$PYTHON" - "$@" <"$HELPER")
	fi
}

# Start a long-running helper scenario in a cgroup, wait for "listening=".
serve_in() {
	local dir=$1 log=$NA_TMP/serve.$RANDOM _
	shift
	(echo "$BASHPID" >"$dir/cgroup.procs" && exec "$PYTHON" - "$@" <"$HELPER") >"$log" 2>&1 &
	NA_LASTPID=$!
	NA_PIDS+=("$NA_LASTPID")
	NA_ALL_PIDS+=("$NA_LASTPID")
	for _ in $(seq 200); do
		grep -q '^listening=' "$log" && return 0
		sleep 0.02
	done
	diag "$(cat "$log")"
	bail_out "cannot start $* in $dir"
}

stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# The value of key in the helper's output ($OUT of the last run).
val() {
	sed -n "s/^$1=//p" <<<"$OUT" | head -1
}

# expect_views "<description>" <dir> <scenario...> -- key=value...
expect_views() {
	local desc=$1 dir=$2 kv want=()
	shift 2
	while [ "$1" != -- ]; do want+=("$1"); shift; done
	shift
	begin "$desc"
	run sock_in "$dir" "${want[@]}"
	for kv in "$@"; do
		grep -qx -- "$kv" <<<"$OUT" || why "expected $kv"
	done
	end
}

# The real port bound for a virtual port in a cgroup (portmap list --json).
real_port() {
	na portmap list --json | json '[b["real_port"] for b in d["bound"] if b["id"] == int(a[0]) and b["port"] == int(a[1]) and b["proto"] == a[2]]' "$1" "$2" "${3:-tcp}"
}

counter() {	# <cgroup id> <counter>
	na stats --json | json '[c["counters"][a[1]] for c in d["portmap"]["cgroups"] if c["id"] == int(a[0])]' "$1" "$2"
}

# A port that is free on the host now.
free_port() {
	"$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- bad input: one line, non-zero, nothing changed ----

bad_input() {
	local when=$1
	EXPECT_MSG="invalid port '0'" expect_fail "add port 0 ($when)" 2 na portmap add "$REL/a" 0
	EXPECT_MSG="invalid port '70000'" expect_fail "add port 70000 ($when)" 2 na portmap add "$REL/a" 70000
	EXPECT_MSG="invalid port 'abc'" expect_fail "add port abc ($when)" 2 na portmap add "$REL/a" abc
	EXPECT_MSG="invalid port '3000:0'" expect_fail "add real port 0 ($when)" 2 na portmap add "$REL/a" 3000:0
	EXPECT_MSG="invalid port '3000:x'" expect_fail "add real port x ($when)" 2 na portmap add "$REL/a" 3000:x
	EXPECT_MSG="invalid port '-5'" expect_fail "add port -5 ($when)" 2 na portmap add "$REL/a" -- -5
	EXPECT_MSG="itself" expect_fail "add 3000:3000 ($when)" 2 na portmap add "$REL/a" 3000:3000
	EXPECT_MSG="no such cgroup" expect_fail "add to a cgroup that does not exist ($when)" 1 \
		na portmap add "$REL/nonexistent" 3000
	EXPECT_MSG="missing <port>" expect_fail "add without a port ($when)" 2 na portmap add "$REL/a"
	EXPECT_MSG="missing <cgroup>" expect_fail "add without anything ($when)" 2 na portmap add
	EXPECT_MSG="unexpected argument" expect_fail "add with an extra argument ($when)" 2 \
		na portmap add "$REL/a" 3000 4000
	EXPECT_MSG="unknown option" expect_fail "add --tcp ($when)" 2 na portmap add "$REL/a" 3000 --tcp
	EXPECT_MSG="invalid port '3000:4000'" expect_fail "del with a real port ($when)" 2 na portmap del "$REL/a" 3000:4000
	EXPECT_MSG="no such cgroup" expect_fail "del in a cgroup that does not exist ($when)" 1 \
		na portmap del "$REL/nonexistent" 3000
	EXPECT_MSG="no rule for port 3999/tcp" expect_fail "del a rule that does not exist ($when)" 1 \
		na portmap del "$REL/a" 3999
	EXPECT_MSG="unknown subcommand 'frob'" expect_fail "unknown subcommand ($when)" 2 na portmap frob
	EXPECT_MSG="missing subcommand" expect_fail "no subcommand ($when)" 2 na portmap
	EXPECT_MSG="unexpected argument" expect_fail "list with an argument ($when)" 2 na portmap list x
}

bad_input "nothing loaded"
check "a failed add left no state directory" test ! -e "$SD"

# ---- two cgroups, one port ----

EXPECT_OUT="port 3000/tcp binds a real port the kernel picks" expect_ok "add a rule for 3000 in a" \
	na portmap add "$REL/a" 3000
EXPECT_OUT="port 3000/tcp binds" expect_ok "add a rule for 3000 in b" na portmap add "$REL/b" 3000
bad_input "rules loaded"
EXPECT_MSG="has a rule for it already" expect_fail "a rule that exists already" 1 na portmap add "$REL/a" 3000
fixed=$(free_port)
EXPECT_OUT="binds real port $fixed" expect_ok "add 4100:$fixed in c" na portmap add "$REL/c" "4100:$fixed"
EXPECT_MSG="already the real port" expect_fail "a real port another rule has" 1 \
	na portmap add "$REL/b" "4101:$fixed"
EXPECT_MSG="is a virtual port" expect_fail "a real port that is a virtual port of the cgroup" 1 \
	na portmap add "$REL/a" 4102:3000

serve_in "$CG/a" serve 4 127.0.0.1 3000 service-a
srv_a=$NA_LASTPID
serve_in "$CG/b" serve 4 0.0.0.0 3000 service-b
srv_b=$NA_LASTPID
real_a=$(real_port "$ida" 3000)
real_b=$(real_port "$(cgid "$CG/b")" 3000)
begin "both cgroups bind 3000 at once, on different real ports"
[ -n "$real_a" ] && [ -n "$real_b" ] || why "portmap list shows no real port: a '$real_a', b '$real_b'"
[ "$real_a" != "$real_b" ] || why "both on $real_a"
[ "$real_a" != 3000 ] || why "a bound 3000 itself"
end
check "ss shows a's real port" test -n "$(ss -Hltn "sport = :$real_a")"
EXPECT_OUT="^$REL/a +tcp +3000 +$real_a +1" expect_ok "portmap list shows a's binding" na portmap list

expect_views "a client in a reaches a's service at 3000" "$CG/a" fetch 4 127.0.0.1 3000 -- got=service-a peer=3000
expect_views "a client in b reaches b's service at 3000" "$CG/b" fetch 4 127.0.0.1 3000 -- got=service-b peer=3000
expect_views "a client in a child of a reaches a's service" "$CG/a/child" fetch 4 127.0.0.1 3000 -- got=service-a
expect_views "a client outside reaches a at its real port" - fetch 4 127.0.0.1 "$real_a" -- got=service-a
expect_views "a client outside reaches b at its real port" - fetch 4 127.0.0.1 "$real_b" -- got=service-b
begin "a client outside does not reach a's service at 3000"
run sock_in - fetch 4 127.0.0.1 3000
[ "$(val got)" != service-a ] || why "it did"
end
expect_views "a client in a cgroup with other rules reaches a at its real port" \
	"$CG/c" fetch 4 127.0.0.1 "$real_a" -- got=service-a

expect_views "bind 3000 in a while a's service holds it: EADDRINUSE" "$CG/a" bind 4 127.0.0.1 3000 -- bind=EADDRINUSE
expect_views "bind 3000 in a child of a: EADDRINUSE too (the same view)" "$CG/a/child" bind 4 127.0.0.1 3000 -- bind=EADDRINUSE
stop "$srv_a"
stop "$srv_b"

# ---- views: getsockname, getpeername, accept; IPv4, IPv6, dual-stack ----

na portmap add "$REL/a" 4000 >/dev/null
expect_views "IPv4: listener, accepted socket and peer read 4000" "$CG/a" views 4 127.0.0.1 127.0.0.1 4000 -- \
	listener=4000 accepted=4000 peer=4000 same_client=True data=ping
expect_views "IPv6: the same over ::1" "$CG/a" views 6 ::1 ::1 4000 -- \
	listener=4000 accepted=4000 peer=4000 same_client=True data=ping
expect_views "dual-stack listener on ::, IPv4 client" "$CG/a" views 6 :: 127.0.0.1 4000 -- \
	listener=4000 accepted=4000 peer=4000 same_client=True data=ping
expect_views "dual-stack listener on ::, IPv4-mapped client" "$CG/a" views 6 :: ::ffff:127.0.0.1 4000 -- \
	listener=4000 accepted=4000 peer=4000 same_client=True data=ping
expect_views "IPv4 listener on 0.0.0.0, client to 127.0.0.2" "$CG/a" views 4 0.0.0.0 127.0.0.2 4000 -- \
	listener=4000 accepted=4000 peer=4000 same_client=True data=ping
expect_views "a connect to 4000 with nothing bound there is refused" "$CG/a" fetch 4 127.0.0.1 4000 -- got=ECONNREFUSED

# ---- EADDRINUSE and SO_REUSEPORT within one view ----

expect_views "a second bind of 4000 in a: EADDRINUSE" "$CG/a" twice 4 127.0.0.1 4000 -- first=4000 second=EADDRINUSE
expect_views "the same on IPv6 ::" "$CG/a" twice 6 :: 4000 -- first=4000 second=EADDRINUSE
expect_views "with SO_REUSEPORT on both, both bind 4000" "$CG/a" twice 4 127.0.0.1 4000 reuseport -- first=4000 second=4000
expect_views "SO_REUSEPORT on IPv6" "$CG/a" twice 6 ::1 4000 reuseport -- first=4000 second=4000

# ---- nested views: a child with rules of its own ----

childport=$(free_port)
na portmap add "$REL/a/child" "3000:$childport" >/dev/null
serve_in "$CG/a/child" serve 6 :: 3000 service-child
srv_child=$NA_LASTPID
check "the child's service is on its own real port" test -n "$(ss -Hltn "sport = :$childport")"
expect_views "a client in the child reaches the child's service at 3000" "$CG/a/child" fetch 4 127.0.0.1 3000 -- \
	got=service-child peer=3000
expect_views "a client in a (its own view, nothing on 3000) is refused" "$CG/a" fetch 4 127.0.0.1 3000 -- got=ECONNREFUSED
expect_views "a client outside reaches the child at $childport" - fetch 6 ::1 "$childport" -- got=service-child
stop "$srv_child"
na portmap del "$REL/a/child" 3000 >/dev/null

# ---- a fixed real port ----

expect_views "c binds 4100 on its fixed real port" "$CG/c" views 4 127.0.0.1 127.0.0.1 4100 -- listener=4100 peer=4100 data=ping
hold_log=$NA_TMP/hold
"$PYTHON" -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(1); print("listening", flush=True); time.sleep(60)' "$fixed" >"$hold_log" 2>&1 &
holder=$!
NA_PIDS+=("$holder")
NA_ALL_PIDS+=("$holder")
for _ in $(seq 200); do grep -q listening "$hold_log" && break; sleep 0.02; done
expect_views "a fixed real port taken outside makes bind fail with EADDRINUSE" "$CG/c" bind 4 127.0.0.1 4100 -- bind=EADDRINUSE
stop "$holder"

# ---- UDP ----

EXPECT_OUT="5353/udp" expect_ok "add a UDP rule for 5353 in a" na portmap add "$REL/a" 5353 --udp
na portmap add "$REL/b" 5353 --udp >/dev/null
expect_views "UDP in a: sendto/recvfrom/connect/getpeername read 5353" "$CG/a" udp 4 127.0.0.1 5353 -- \
	server=5353 server_got=hello client_got=back reply_from=5353 connected_peer=5353 connected_got=again
expect_views "UDP over IPv6" "$CG/a" udp 6 ::1 5353 -- \
	server=5353 server_got=hello client_got=back reply_from=5353 connected_peer=5353 connected_got=again
serve_in "$CG/a" udpserve 4 127.0.0.1 5353 udp-a
usrv_a=$NA_LASTPID
serve_in "$CG/b" udpserve 4 127.0.0.1 5353 udp-b
usrv_b=$NA_LASTPID
expect_views "a UDP client in a reaches a's server" "$CG/a" udpfetch 4 127.0.0.1 5353 -- got=udp-a from=5353
expect_views "a UDP client in b reaches b's server" "$CG/b" udpfetch 4 127.0.0.1 5353 -- got=udp-b from=5353
ureal=$(real_port "$ida" 5353 udp)
expect_views "a UDP client outside reaches a at its real port" - udpfetch 4 127.0.0.1 "$ureal" -- got=udp-a "from=$ureal"
stop "$usrv_a"
stop "$usrv_b"
expect_views "a UDP send to 5353 with nothing bound there is refused" "$CG/a" udpfetch 4 127.0.0.1 5353 -- got=ECONNREFUSED
expect_views "a second bind on a bound socket fails as usual, and leaves its binding counted" "$CG/a" rebind 4 127.0.0.1 4000 -- \
	first=4000 again=EINVAL
check "once its sockets are closed, nothing is bound at 4000 in a" test -z "$(real_port "$ida" 4000)"

# ---- privileged virtual ports ----

na portmap add "$REL/a" 80 >/dev/null
na portmap add "$REL/a" 81 --allow-unprivileged >/dev/null
SYSPY=/usr/bin/python3
nobody() {	# <dir> <extra setpriv args...> -- <helper args>
	local dir=$1 caps=()
	shift
	while [ "$1" != -- ]; do caps+=("$1"); shift; done
	shift
	(echo "$BASHPID" >"$dir/cgroup.procs" &&
		exec setpriv --reuid=65534 --regid=65534 --clear-groups "${caps[@]}" "$SYSPY" - "$@" <"$HELPER")
}
if [ -x "$SYSPY" ] && command -v setpriv >/dev/null; then
	expect_views "root binds virtual 80" "$CG/a" bind 4 127.0.0.1 80 -- bind=80
	begin "an unprivileged process cannot bind virtual 80 (EACCES)"
	run nobody "$CG/a" --inh-caps=-all -- bind 4 127.0.0.1 80
	grep -qx bind=EACCES <<<"$OUT" || why "expected bind=EACCES"
	end
	begin "an unprivileged process with CAP_NET_BIND_SERVICE binds virtual 80"
	run nobody "$CG/a" --inh-caps=+net_bind_service --ambient-caps=+net_bind_service -- bind 4 127.0.0.1 80
	grep -qx bind=80 <<<"$OUT" || why "expected bind=80"
	end
	begin "an unprivileged process binds virtual 81 (--allow-unprivileged)"
	run nobody "$CG/a" --inh-caps=-all -- bind 6 ::1 81
	grep -qx bind=81 <<<"$OUT" || why "expected bind=81"
	end
	begin "outside the cgroup an unprivileged process still cannot bind 81"
	run nobody "$CG/d" --inh-caps=-all -- bind 4 127.0.0.1 81
	grep -qx bind=EACCES <<<"$OUT" || why "expected bind=EACCES"
	end
else
	skip "privileged virtual ports" "needs /usr/bin/python3 and setpriv"
fi

# ---- stats and status ----

begin "stats counts remapped binds and connects per cgroup and in total"
run na stats --json
[ "$RC" = 0 ] || why "stats failed"
b=$(counter "$ida" binds_remapped)
c=$(counter "$ida" connects_remapped)
[ "${b:-0}" -ge 10 ] || why "binds_remapped of a is '$b'"
[ "${c:-0}" -ge 5 ] || why "connects_remapped of a is '$c'"
t=$(na stats --json | json 'd["portmap"]["total"]["binds_remapped"]')
[ "${t:-0}" -gt "${b:-0}" ] || why "the total ($t) is not above a's ($b)"
end
EXPECT_OUT="^  binds_remapped" expect_ok "stats <cgroup> of a cgroup with rules only" na stats "$REL/a"
EXPECT_OUT="^portmap: [0-9]+ rules on 3 cgroups" expect_ok "status mentions the port rules" na status
check "status --json counts the rules" \
	test "$(na status --json | json 'd["portmap"]["rules"]')" = 8

# ---- a rule deleted under a live socket ----

na portmap add "$REL/c" 3000 >/dev/null
serve_in "$CG/c" serve 4 127.0.0.1 3000 service-c
srv_c=$NA_LASTPID
real_c=$(real_port "$idc" 3000)
EXPECT_OUT="1 sockets bound through it keep their real port $real_c" expect_ok \
	"del the rule with its service running" na portmap del "$REL/c" 3000
expect_views "the service still answers in c at 3000" "$CG/c" fetch 4 127.0.0.1 3000 -- got=service-c
expect_views "and outside at its real port" - fetch 4 127.0.0.1 "$real_c" -- got=service-c
EXPECT_OUT="3000 +$real_c +1 \(rule deleted\)" expect_ok "list shows the binding without its rule" na portmap list
before=$(counter "$idc" binds_remapped)
run sock_in "$CG/c" bind 4 127.0.0.1 "$(free_port)"
check "new binds are not remapped any more" test "$(counter "$idc" binds_remapped)" = "$before"
stop "$srv_c"
na portmap del "$REL/c" 4100 >/dev/null
check "with no rule and no socket left, c is detached" \
	test -z "$(find "$SD/portmap" -name "cg${idc}_*")"

# ---- the bypass on remapped connections ----

na enroll "$REL/d" >/dev/null
na portmap add "$REL/d" 4200 >/dev/null
before=$(na stats --json "$REL/d" | json 'd["cgroups"][0]["counters"]["bytes_redirected"]')
expect_views "4 MB over a remapped connection in an enrolled cgroup" "$CG/d" bulk 127.0.0.1 4200 4194304 -- \
	peer=4200 received=4194304
after=$(na stats --json "$REL/d" | json 'd["cgroups"][0]["counters"]["bytes_redirected"]')
check "and they took the bypass (bytes_redirected $before -> $after)" test "$((after - before))" -ge 4194304

# ---- what an interrupted run leaves ----

rm "$SD/portmap/cg${ida}_conn4"
EXPECT_OUT="4300/tcp" expect_ok "add with a link of a missing" na portmap add "$REL/a" 4300
check "add re-attached the missing link" test -e "$SD/portmap/cg${ida}_conn4"
expect_views "and connects in a are remapped again" "$CG/a" views 4 127.0.0.1 127.0.0.1 4300 -- peer=4300 data=ping
rm "$SD/portmap/prog_send6"
EXPECT_MSG="incomplete.*portmap add" expect_fail "list on a state with a program pin missing" 1 na portmap list
EXPECT_OUT="4301/tcp" expect_ok "add completes it" na portmap add "$REL/b" 4301
check "the program is pinned again" test -e "$SD/portmap/prog_send6"
na portmap del "$REL/a" 4300 >/dev/null
na portmap del "$REL/b" 4301 >/dev/null

# ---- cleanup ----

EXPECT_OUT="removed port remapping \(8 rules\)" expect_ok "cleanup removes the rules" na cleanup
check "the state directory is gone" test ! -e "$SD"
begin "no program is attached to the cgroups any more"
for d in a b c d; do
	[ -z "$(bpftool cgroup show "$CG/$d" 2>/dev/null)" ] || why "$d: $(bpftool cgroup show "$CG/$d")"
done
end
EXPECT_OUT="no port rules" expect_ok "portmap list after cleanup" na portmap list

# Only port remap: cleanup removes the state directory, and status does not
# call it an interrupted run.
na portmap add "$REL/a" 3000 >/dev/null
EXPECT_OUT="state $SD: nothing loaded" expect_ok "status with only port rules" na status
EXPECT_OUT="removed port remapping \(1 rules\)" expect_ok "cleanup of port rules alone" na cleanup
check "the state directory is gone" test ! -e "$SD"

check_no_process_left

na_done
