#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The local bypass between containers: network namespaces whose veths are
# ports of one bridge, in a "host" namespace of the test's own (the layout
# Docker and bridge CNIs make), each container's processes in its own
# enrolled cgroup. TCP between two containers of one bridge takes the fast
# path (IPv4 and IPv6) and arrives intact; a second bridge whose containers
# use the same addresses pairs its own connections only; a connection
# through NAT (a published port: DNAT on the host's address) stays on TCP
# and works; a container whose cgroup is not enrolled is never joined;
# a bridge a firewall filters stays on TCP until allowed; with the veth
# redirect attached too, enrolled containers take the bypass and an
# unenrolled one the redirect; unenrolling during traffic loses nothing. Every wait is bounded.
. "${BASH_SOURCE[0]%/*}/lib.sh"
. "${BASH_SOURCE[0]%/*}/veth-lib.sh"

na_setup
probe=${NETACCEL_SOURCE_DIR:?}/tests/e2e/netprobe.py
P=netaccel-e2e-cx-$$
H=$P-h
trap 'vl_down; na_cleanup' EXIT

vl_host "$H" && vl_bridge br1 && vl_bridge br2 &&
	vl_container "$P-a1" br1 pa1 198.18.1.1 fd00:1::1 &&
	vl_container "$P-b1" br1 pb1 198.18.1.2 fd00:1::2 &&
	vl_container "$P-c1" br1 pc1 198.18.1.3 fd00:1::3 &&
	vl_container "$P-a2" br2 pa2 198.18.1.1 fd00:1::1 &&
	vl_container "$P-b2" br2 pb2 198.18.1.2 fd00:1::2 ||
	bail_out "cannot build the bridge layout"
mkdir "$CG/a1" "$CG/b1" "$CG/c1" "$CG/a2" "$CG/b2" || bail_out "cannot create cgroups"
for c in a1 b1 a2 b2; do
	na enroll "$REL/$c" >/dev/null || bail_out "cannot enroll $REL/$c"
done
hostns() { nsenter --net="/run/netns/$H" "$@"; }

# A counter of an enrolled cgroup.
counter() { na stats --json "$REL/$1" | json 'd["cgroups"][0]["counters"][a[0]]' "$2"; }
# grew <cgroup> <counter> <before> <at least>
grew() {
	local now
	now=$(counter "$1" "$2")
	[ "$now" -ge $(($3 + $4)) ] || why "$1: $2 went from $3 to $now, expected at least +$4"
}
# Bytes either end of the connections redirected: which direction moves to
# the fast path first depends on scheduling (the sender waits until its
# peer was seen reading).
both() { echo $(($(counter a1 bytes_redirected) + $(counter b1 bytes_redirected))); }
same() {
	local now
	now=$(counter "$1" "$2")
	[ "$now" = "$3" ] || why "$1: $2 went from $3 to $now, expected no change"
}
# server <container> <cgroup> <bind address> <portfile>: an event-driven
# echo server in the container's namespace and the cgroup.
server() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" env NETPROBE_BIND="$2" "$3" "$4" echo-server "$5"' \
		"$CG/$2" "$1" "$3" "$PYTHON" "$probe" "$4" </dev/null >>"$NA_TMP/servers.log" 2>&1 &
	NA_PIDS+=($!)
	NA_ALL_PIDS+=($!)
	wait_file "$4" || bail_out "the server in $1 did not start: $(cat "$NA_TMP/servers.log")"
}
# client <container> <cgroup> <host> <port> <size> <conns>: stream and
# check the echo, in the container's namespace and the cgroup.
client() {
	run timeout 120 sh -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" env NETPROBE_HOST="$2" "$3" "$4" stream "$5" "$6" "$7"' \
		"$CG/$2" "$1" "$3" "$PYTHON" "$probe" "$4" "$5" "$6"
}

begin "networks sync learns both bridges: 2 networks, 5 namespaces"
run na networks --netns "$H" sync
[ "$RC" = 0 ] || why "exit code $RC: $ERR"
grep -qx "2 networks, 5 namespaces, 10 addresses" <<<"$OUT" || why "stdout: $OUT"
got=$(na status --json | json '"%d %d" % (d["networks"]["namespaces"], d["networks"]["addresses"])')
[ "$got" = "5 10" ] || why "status: networks '$got'"
end

begin "networks list shows each bridge's containers and that they pair"
run na networks --netns "$H" list --json
[ "$RC" = 0 ] || why "exit code $RC: $ERR"
got=$(json '" ".join("%s:%s:%d" % (n["bridge"], n["state"], sum(x["pairs"] for x in n["namespaces"])) for n in d["networks"])' <<<"$OUT")
[ "$got" = "br1:pairs:3 br2:pairs:2" ] || why "networks: $got"
end

server "$P-b1" b1 :: "$NA_TMP/b1.port"
port1=$(cat "$NA_TMP/b1.port")

begin "TCP between two containers on one bridge takes the fast path, intact (IPv4)"
x=$(counter a1 joined_xns) y=$(counter b1 joined_xns) b=$(both)
client "$P-a1" a1 198.18.1.2 "$port1" 1000000 10
[ "$RC" = 0 ] || why "$ERR"
grew a1 joined_xns "$x" 1
grew b1 joined_xns "$y" 1
[ "$(both)" -ge $((b + 1000000)) ] || why "bytes redirected by both ends went from $b to $(both)"
end

begin "... and over IPv6"
x=$(counter a1 joined_xns) b=$(both)
client "$P-a1" a1 fd00:1::2 "$port1" 1000000 10
[ "$RC" = 0 ] || why "$ERR"
grew a1 joined_xns "$x" 1
[ "$(both)" -ge $((b + 1000000)) ] || why "bytes redirected by both ends went from $b to $(both)"
end

begin "a second bridge with the same addresses pairs its own containers only"
server "$P-b2" b2 :: "$NA_TMP/b2.port"
port2=$(cat "$NA_TMP/b2.port")
x1=$(counter a1 joined_xns) x2=$(counter a2 joined_xns)
# Both at once, different sizes: a connection joined to the other
# bridge's server would get the wrong echo or none.
(client "$P-a1" a1 198.18.1.2 "$port1" 700000 20; echo "$RC $ERR" >"$NA_TMP/c1.rc") &
c1=$!
client "$P-a2" a2 198.18.1.2 "$port2" 900000 20
[ "$RC" = 0 ] || why "br2: $ERR"
wait "$c1"
read -r rc1 err1 <"$NA_TMP/c1.rc"
[ "$rc1" = 0 ] || why "br1: $err1"
grew a1 joined_xns "$x1" 1
grew a2 joined_xns "$x2" 1
end

begin "a container whose cgroup is not enrolled is never joined"
server "$P-c1" c1 :: "$NA_TMP/c1.port"
x=$(counter a1 joined_xns) s=$(counter a1 sockets_skipped)
client "$P-a1" a1 198.18.1.3 "$(cat "$NA_TMP/c1.port")" 200000 5
[ "$RC" = 0 ] || why "$ERR"
same a1 joined_xns "$x"
grew a1 sockets_skipped "$s" 5
end

begin "a bridge a firewall filters stays on TCP, and pairs once allowed"
hostns nft -f - <<EOF || why "cannot add the firewall"
table bridge fw {
	chain filt { type filter hook forward priority 0; ip saddr 198.18.1.3 drop; }
}
EOF
run na networks --netns "$H" sync
# A bridge-family chain without a device sees every bridge of the namespace.
grep -q "; 2 filtered by a firewall, left on TCP" <<<"$OUT" || why "sync: $OUT $ERR"
run na networks --netns "$H" list
grep -q "^bridge br1: filtered (nftables chain bridge fw/filt" <<<"$OUT" || why "list: $OUT"
x=$(counter a1 joined_xns)
client "$P-a1" a1 198.18.1.2 "$port1" 200000 5
[ "$RC" = 0 ] || why "$ERR"
same a1 joined_xns "$x"
run na networks --netns "$H" allow br1
[ "$RC" = 0 ] || why "allow: $ERR"
client "$P-a1" a1 198.18.1.2 "$port1" 200000 5
[ "$RC" = 0 ] || why "$ERR"
grew a1 joined_xns "$x" 1
na networks --netns "$H" deny br1 >/dev/null || why "deny failed"
hostns nft delete table bridge fw
na networks --netns "$H" sync >/dev/null
end

begin "a container with a firewall of its own pairs with nobody"
ip netns exec "$P-b2" nft -f - <<EOF || why "cannot add the container's firewall"
table inet own {
	chain in { type filter hook input priority 0; tcp dport 9 drop; }
}
EOF
run na networks --netns "$H" sync
run na networks --netns "$H" list --json
got=$(json '[x["problem"] for n in d["networks"] for x in n["namespaces"] if x["name"] == a[0]]' "$P-b2" <<<"$OUT")
[[ $got == "container's own firewall: nftables chain inet own/in"* ]] || why "b2: '$got'"
x=$(counter a2 joined_xns)
client "$P-a2" a2 198.18.1.2 "$port2" 200000 5
[ "$RC" = 0 ] || why "$ERR"
same a2 joined_xns "$x"
ip netns exec "$P-b2" nft delete table inet own
na networks --netns "$H" sync >/dev/null
end

begin "with the veth redirect attached too: enrolled containers take the bypass, an unenrolled one the redirect"
vtotal() { na veth --netns "$H" list --json 2>/dev/null | json 'd["total"][a[0]]' "$1"; }
run na veth --netns "$H" attach --bridge br1
[ "$RC" = 0 ] || why "veth attach: $ERR"
v=$(vtotal bytes_redirected) x=$(counter a1 joined_xns) b=$(both)
client "$P-a1" a1 198.18.1.2 "$port1" 1000000 5
[ "$RC" = 0 ] || why "$ERR"
grew a1 joined_xns "$x" 1
[ "$(both)" -ge $((b + 500000)) ] || why "bytes redirected by both ends went from $b to $(both)"
x=$(counter a1 joined_xns)
client "$P-a1" a1 198.18.1.3 "$(cat "$NA_TMP/c1.port")" 1000000 2
[ "$RC" = 0 ] || why "$ERR"
same a1 joined_xns "$x"
[ "$(vtotal bytes_redirected)" -ge $((v + 1000000)) ] ||
	why "the veth redirect carried $(($(vtotal bytes_redirected) - v)) bytes to the unenrolled container"
run na veth --netns "$H" detach --bridge br1
[ "$RC" = 0 ] || why "veth detach: $ERR"
end

begin "a published port (DNAT on the host's address) stays on TCP and works"
hostns ip addr add 198.18.1.254/24 dev br1 &&
	hostns sysctl -qw net.ipv4.ip_forward=1 &&
	hostns nft -f - <<EOF || why "cannot add the NAT rules"
table ip natx {
	chain pre { type nat hook prerouting priority -100; tcp dport 8080 dnat to 198.18.1.2:$port1; }
	chain post { type nat hook postrouting priority 100; ip daddr 198.18.1.2 tcp dport $port1 masquerade; }
}
EOF
x=$(counter a1 joined_xns) j=$(counter b1 sockets_joined)
client "$P-a1" a1 198.18.1.254 8080 300000 5
[ "$RC" = 0 ] || why "$ERR"
same a1 joined_xns "$x"
same b1 sockets_joined "$j"
end

begin "a published port on the host's 127.0.0.1 (DNAT from the host, an enrolled cgroup) stays on TCP and works"
# Docker's userland-proxy-less publishing: the host's own connection to
# 127.0.0.1:8080 is translated to the container in OUTPUT.
mkdir "$CG/h" && na enroll "$REL/h" >/dev/null || why "cannot enroll $REL/h"
hostns sysctl -qw net.ipv4.conf.all.route_localnet=1 &&
	hostns nft -f - <<EOF || why "cannot add the NAT rules"
table ip natl {
	chain out { type nat hook output priority -100; ip daddr 127.0.0.1 tcp dport 8080 dnat to 198.18.1.2:$port1; }
}
EOF
h0=$(counter h sockets_joined) j=$(counter b1 sockets_joined)
run timeout 120 sh -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" env NETPROBE_HOST=127.0.0.1 "$2" "$3" stream 8080 300000 5' \
	"$CG/h" "$H" "$PYTHON" "$probe"
[ "$RC" = 0 ] || why "$ERR"
same h sockets_joined "$h0"
same b1 sockets_joined "$j"
hostns nft delete table ip natl
hostns nft delete table ip natx
end

begin "unenrolling the server's cgroup during traffic loses nothing"
(client "$P-a1" a1 198.18.1.2 "$port1" 2000000 30; echo "$RC $ERR" >"$NA_TMP/c2.rc") &
c2=$!
sleep 0.3
quiet_out=$(na unenroll "$REL/b1" 2>&1) || why "unenroll: $quiet_out"
wait "$c2"
read -r rc2 err2 <"$NA_TMP/c2.rc"
[ "$rc2" = 0 ] || why "the stream failed: $err2"
na enroll "$REL/b1" >/dev/null || why "cannot enroll b1 again"
end

# ---- the agent follows containers as they come ----
AGENT=${NETACCEL_AGENT:?NETACCEL_AGENT must name the netaccel-agent to test}
{
	begin "netaccel-agent pairs a container that came after it started"
	printf 'bypass:\n  - cgroup: "%s/d*"\n' "$REL" >"$NA_TMP/policy.yaml"
	# nsenter execs the agent: $! is the agent itself.
	# No resync during the test: what it sees, it learns from events.
	nsenter --net="/run/netns/$H" "$AGENT" --state-dir "$SD" --config "$NA_TMP/policy.yaml" \
		--metrics-address none --resync 3600 >"$NA_TMP/agent.log" 2>&1 &
	apid=$!
	NA_ALL_PIDS+=("$apid")
	for _ in $(seq 100); do
		grep -q "following the host" "$NA_TMP/agent.log" && break
		sleep 0.1
	done
	mkdir "$CG/d1" && vl_container "$P-d1" br1 pd1 198.18.1.4 fd00:1::4 || why "cannot add d1"
	for _ in $(seq 100); do
		na networks --netns "$H" list --json 2>/dev/null |
			json '[x["name"] for n in d["networks"] for x in n["namespaces"] if x["pairs"]]' |
			grep -qx "$P-d1" && [ -n "$(status_entry "$REL/d1")" ] && break
		sleep 0.1
	done
	server "$P-d1" d1 :: "$NA_TMP/d1.port"
	x=$(counter a1 joined_xns)
	client "$P-a1" a1 198.18.1.4 "$(cat "$NA_TMP/d1.port")" 300000 5
	[ "$RC" = 0 ] || why "$ERR"
	grew a1 joined_xns "$x" 1
	grep -q "networks: 2 bridges pair 6 container namespaces" "$NA_TMP/agent.log" ||
		why "log: $(cat "$NA_TMP/agent.log")"
	end

	begin "netaccel-agent stops pairing a bridge as soon as a firewall rule for it comes"
	# How often the agent said this after a pass whose sync changed something.
	said() { grep -c "networks: $1" "$NA_TMP/agent.log"; }
	all='2 bridges pair 6 container namespaces (12 addresses)$'
	# A bridge-family chain without a device sees both bridges.
	none='0 bridges pair 0 container namespaces (0 addresses); some are filtered by a firewall$'
	# A process leaving a cgroup starts a pass too: let those run first,
	# so that only the ruleset's change can start the next one.
	sleep 1
	hostns nft -f - <<EOF || why "cannot add the firewall"
table bridge fw {
	chain filt { type filter hook forward priority 0; ip saddr 198.18.1.3 drop; }
}
EOF
	for _ in $(seq 100); do [ "$(said "$none")" -ge 1 ] && break; sleep 0.1; done
	[ "$(said "$none")" -ge 1 ] ||
		why "no pass 10 s after the rule came: $(tail -3 "$NA_TMP/agent.log")"
	na networks --netns "$H" list | grep -q "^bridge br1: filtered" || why "br1 is not filtered"
	x=$(counter a1 joined_xns)
	client "$P-a1" a1 198.18.1.4 "$(cat "$NA_TMP/d1.port")" 200000 5
	[ "$RC" = 0 ] || why "$ERR"
	same a1 joined_xns "$x"
	sleep 1
	n=$(said "$all")
	hostns nft delete table bridge fw
	for _ in $(seq 100); do [ "$(said "$all")" -gt "$n" ] && break; sleep 0.1; done
	[ "$(said "$all")" -gt "$n" ] || why "no pass 10 s after the rule went: $(tail -3 "$NA_TMP/agent.log")"
	client "$P-a1" a1 198.18.1.4 "$(cat "$NA_TMP/d1.port")" 200000 5
	[ "$RC" = 0 ] || why "$ERR"
	grew a1 joined_xns "$x" 1
	kill -TERM "$apid" && wait "$apid"
	end
}

begin "a container that leaves the bridge leaves nothing in the tables"
hostns ip link del pd1 || why "cannot remove d1's veth"
run na networks --netns "$H" sync
grep -qx "2 networks, 5 namespaces, 10 addresses" <<<"$OUT" || why "sync: $OUT $ERR"
got=$(na status --json | json '"%d %d" % (d["networks"]["namespaces"], d["networks"]["addresses"])')
[ "$got" = "5 10" ] || why "status: networks '$got'"
end

check_no_process_left
na_done
