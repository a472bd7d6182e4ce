#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The veth redirect on the real kernel, in a Docker-like layout built in
# network namespaces: bridge br1 with containers a, b, c and bridge br2
# with x, y, all under a "host" namespace. Checks that traffic works with
# the fast path off and on, that counters prove the bridge was skipped,
# that nothing crosses bridges or takes the fast path when it must not,
# that other programs on the same devices survive, that watch follows a
# deleted and recreated veth (ifindex reused) and that cleanup removes
# everything.
. "${BASH_SOURCE[0]%/*}/lib.sh"
. "${BASH_SOURCE[0]%/*}/veth-lib.sh"

TOOL=${NETACCEL_TCX_TOOL:?NETACCEL_TCX_TOOL must name na-tcx-tool}
TRAFFIC="$(cd "${BASH_SOURCE[0]%/*}" && pwd)/veth-traffic.py"

na_setup
command -v ping >/dev/null || bail_out "needs ping (iputils-ping)"

H=netaccel-e2e-vh-$$
A=netaccel-e2e-va-$$ B=netaccel-e2e-vb-$$ C=netaccel-e2e-vc-$$
X=netaccel-e2e-vx-$$ Y=netaccel-e2e-vy-$$
D=netaccel-e2e-vd-$$ C2=netaccel-e2e-vc2-$$
WATCH=

veth_down() {
	[ -n "$WATCH" ] && kill "$WATCH" 2>/dev/null && wait "$WATCH" 2>/dev/null
	WATCH=
	[ -n "$SD" ] && [ -e "$SD" ] && "$CTL" --state-dir "$SD" cleanup --force >/dev/null 2>&1
	vl_down
}
trap 'veth_down; na_cleanup' EXIT

vl_host "$H" || bail_out "cannot create namespace $H"
vl_bridge br1 && vl_bridge br2 && vl_bridge br3 || bail_out "cannot create bridges"
vl_container "$A" br1 va 198.18.1.1 fd00:1::1 &&
	vl_container "$B" br1 vb 198.18.1.2 fd00:1::2 &&
	vl_container "$C" br1 vc 198.18.1.3 fd00:1::3 &&
	vl_container "$X" br2 vx 198.18.2.1 fd00:2::1 &&
	vl_container "$Y" br2 vy 198.18.2.2 fd00:2::2 || bail_out "cannot build the layout"

nv() { na veth --netns "$H" "$@"; }
vjson() { nv list --json 2>/dev/null; }
ep_packets() { vjson | json '[e["packets"] for e in d["endpoints"] if e["address"] == a[0]] or [0]' "$1"; }
total() { vjson | json 'd["total"][a[0]]' "$1"; }
# What the bridge sent to a port: veth counts a frame its peer refused
# (too big) as dropped.
port_tx() { ip -n "$H" -s -j link show "$1" | json 'd[0]["stats64"]["tx"]["packets"] + d[0]["stats64"]["tx"]["dropped"]'; }
mac_of() { ip -n "$1" -j link show eth0 | json 'd[0]["address"]'; }
ifindex_of() { ip -n "$H" -j link show "$1" | json 'd[0]["ifindex"]'; }
# The BPF programs on a device's ingress, "<n> <name>...": tcx links, or on
# a kernel without tcx (before 6.6) the clsact filters, which is where
# netaccel attaches there.
if nsenter --net="/run/netns/$H" "$TOOL" has lo; then TCX=1; else TCX=0; fi
diag "tcx on this kernel: $([ $TCX = 1 ] && echo yes || echo 'no: clsact filters')"
tcx_count() {
	if [ $TCX = 1 ]; then
		nsenter --net="/run/netns/$H" "$TOOL" count "$1"
	else
		tc -n "$H" filter show dev "$1" ingress | sed -n 's/.* name \([^ ]*\) tag .*/\1/p' |
			{ mapfile -t n; echo "${#n[@]}${n[*]:+ ${n[*]}}"; }
	fi
}
traffic() { local ns=$1; shift; vl_in "$ns" "$PYTHON" "$TRAFFIC" "$@"; }

# Start a receiver in the background and wait for its "ready".
start_rx() {
	local out=$1 ns=$2
	shift 2
	# The last receiver's "ready" must not be taken for this one's: the
	# shell truncates the file only once the new one is forked.
	rm -f "$out" "$out.stop"
	traffic "$ns" "$@" >"$out" 2>&1 &
	NA_PIDS+=($!)
	NA_ALL_PIDS+=($!)
	for _ in $(seq 100); do
		grep -q ready "$out" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# Tell a UDP receiver that its sender is done (udp-recv's stop file is its
# output file's name with .stop), wait for it (in this shell: a subshell
# cannot wait for it) and put the last line it printed, the count, in RX.
rx_wait() { touch "$2.stop"; wait "$1"; RX=$(tail -n 1 "$2"); }

# One round of every kind of traffic between a and b: ping v4 and v6,
# TCP round trips v4 and v6, 200 UDP datagrams. Fails on the first loss.
all_traffic() {
	local p
	vl_in "$A" ping -c 3 -i 0.05 -W 1 198.18.1.2 >/dev/null || { why "ping 198.18.1.2 failed"; return 1; }
	vl_in "$A" ping -6 -c 3 -i 0.05 -W 1 fd00:1::2 >/dev/null || { why "ping fd00:1::2 failed"; return 1; }
	for dst in 198.18.1.2 fd00:1::2; do
		start_rx "$NA_TMP/echo" "$B" tcp-echo "$dst" 7000 || { why "no echo server"; return 1; }
		p=$!
		traffic "$A" tcp-rr "$dst" 7000 100 >/dev/null || { why "TCP round trips to $dst failed"; return 1; }
		wait "$p"
	done
	start_rx "$NA_TMP/udp" "$B" udp-recv 198.18.1.2 7001 "$NA_TMP/udp.stop" || { why "no UDP receiver"; return 1; }
	p=$!
	traffic "$A" udp-send 198.18.1.2 7001 200 100
	rx_wait "$p" "$NA_TMP/udp"
	[ "$RX" = 200 ] || { why "UDP: $RX of 200 datagrams arrived"; return 1; }
	return 0
}

# ---- the normal path ----
begin "TCP, UDP, ICMP and IPv6 between containers work through the bridge"
tx0=$(port_tx vb)
all_traffic
tx1=$(port_tx vb)
[ $((tx1 - tx0)) -ge 200 ] || why "the bridge sent only $((tx1 - tx0)) frames to vb"
end

# ---- bad input: one line, nothing changed ----
EXPECT_MSG='no such device: nosuch0' expect_fail "attach to an unknown interface" 1 nv attach nosuch0
EXPECT_MSG='lo: not a veth' expect_fail "attach to a device that is not a veth" 1 nv attach lo
EXPECT_MSG='br1: not a veth' expect_fail "attach to a bridge by interface name" 1 nv attach br1
EXPECT_MSG='no such device: nosuchbr' expect_fail "attach to an unknown bridge" 1 nv attach --bridge nosuchbr
EXPECT_MSG='va is not a bridge' expect_fail "attach --bridge to a device that is not a bridge" 1 nv attach --bridge va
EXPECT_MSG='br3 has no container veth ports' expect_fail "attach to a bridge with no ports" 1 nv attach --bridge br3
EXPECT_MSG="bad address '198.18.1'" expect_fail "add a bad address" 2 nv add 198.18.1 vb
EXPECT_MSG="bad address 'fd00::1::2'" expect_fail "del a bad address" 2 nv del fd00::1::2
EXPECT_MSG='not a unicast address' expect_fail "add a multicast address" 2 nv add 224.0.0.1 vb
EXPECT_MSG='no such device: nosuch0' expect_fail "add an endpoint on an unknown interface" 1 nv add 198.18.1.9 nosuch0
EXPECT_MSG='unknown subcommand' expect_fail "an unknown subcommand" 2 nv frobnicate
EXPECT_MSG='needs --bridge' expect_fail "attach with nothing to attach to" 2 nv attach
EXPECT_MSG='no option' expect_fail "an option a subcommand does not take" 2 nv list --bridge br1
EXPECT_MSG='cannot open network namespace' expect_fail "an unknown network namespace" 1 na veth --netns netaccel-nosuch-$$ list

# Another tool's programs on br2's ports, there before us: a tc filter on
# vx and a tcx program on vy.
ip -n "$H" link set vx down; ip -n "$H" link set vx up
tc -n "$H" qdisc add dev vx clsact
# (a u32 filter that matches nothing, so that the chain goes on to ours)
tc -n "$H" filter add dev vx ingress prio 1 u32 match u32 0x12345678 0xffffffff at 0 classid 1:1 ||
	bail_out "cannot add the other tc filter"
nsenter --net="/run/netns/$H" "$TOOL" hold vy "$SD-other" || bail_out "cannot attach the other tcx program"
NA_STATE_DIRS+=("$SD-other")
if [ $TCX = 0 ]; then
	# nsenter, not tc -n: that remounts /sys and hides the pin.
	nsenter --net="/run/netns/$H" tc qdisc add dev vy clsact &&
		nsenter --net="/run/netns/$H" tc filter add dev vy ingress prio 1 bpf da object-pinned "$SD-other" ||
		bail_out "cannot attach the other tc program"
fi

# ---- the fast path ----
EXPECT_OUT='attached to 3 veths \(3 new\), 9 endpoints' expect_ok "attach --bridge br1 learns 3 veths and their 9 addresses" nv attach --bridge br1
EXPECT_OUT='attached to 3 veths \(0 new\)' expect_ok "attaching again changes nothing" nv attach --bridge br1
check "repeated attach does not stack programs on a veth" test "$(tcx_count va)" = "1 na_veth_ingress"

begin "veth list shows the endpoints with veth, peer MAC and bridge"
mb=$(mac_of "$B")
got=$(vjson | json '[" ".join([e["veth"], e["peer_mac"], e["bridge"]]) for e in d["endpoints"] if e["address"] == "198.18.1.2"]')
[ "$got" = "vb $mb br1" ] || why "198.18.1.2: expected 'vb $mb br1', got '$got'"
end

begin "TCP, UDP, ICMP and IPv6 take the fast path; the bridge is skipped"
tx0=$(port_tx vb); p40=$(ep_packets 198.18.1.2); p60=$(ep_packets fd00:1::2)
all_traffic
tx1=$(port_tx vb); p41=$(ep_packets 198.18.1.2); p61=$(ep_packets fd00:1::2)
[ $((p41 - p40)) -ge 300 ] || why "only $((p41 - p40)) frames redirected to 198.18.1.2"
[ $((p61 - p60)) -ge 100 ] || why "only $((p61 - p60)) frames redirected to fd00:1::2"
# Neighbour discovery and ARP may still cross the bridge, nothing else.
[ $((tx1 - tx0)) -le 10 ] || why "the bridge still sent $((tx1 - tx0)) frames to vb"
end

begin "intact data over 4 concurrent TCP streams in both directions"
start_rx "$NA_TMP/sink" "$C" tcp-sink 198.18.1.3 7002 4 || why "no sink"
sinkpid=$!
r0=$(total bytes_redirected)
{
	traffic "$A" tcp-send 198.18.1.3 7002 a1 6000000 &
	traffic "$A" tcp-send 198.18.1.3 7002 a2 3000000 &
	traffic "$B" tcp-send 198.18.1.3 7002 b1 6000000 &
	traffic "$B" tcp-send 198.18.1.3 7002 b2 1 &
	wait
} | sort >"$NA_TMP/sent"
wait "$sinkpid"
grep -v ready "$NA_TMP/sink" | sort >"$NA_TMP/got"
[ "$(wc -l <"$NA_TMP/got")" = 4 ] || why "the sink saw $(wc -l <"$NA_TMP/got") streams, not 4"
cmp -s "$NA_TMP/sent" "$NA_TMP/got" || why "hashes differ: $(diff "$NA_TMP/sent" "$NA_TMP/got" | tr '\n' ' ')"
[ $(($(total bytes_redirected) - r0)) -ge 15000000 ] || why "only $(($(total bytes_redirected) - r0)) bytes of 15 MB took the fast path"
end

# ---- what must stay on the normal path ----
begin "nothing crosses from br1 to br2, even addressed to a br2 container's MAC"
mx=$(mac_of "$X")
vl_in "$A" ip route add 198.18.2.0/24 dev eth0
vl_in "$A" ip neigh replace 198.18.2.1 lladdr "$mx" dev eth0 nud permanent
start_rx "$NA_TMP/x" "$X" udp-recv 0.0.0.0 7003 "$NA_TMP/x.stop" || why "no receiver in x"
p=$!
n0=$(total no_endpoint); px0=$(ep_packets 198.18.2.1)
traffic "$A" udp-send 198.18.2.1 7003 50 100
rx_wait "$p" "$NA_TMP/x"
[ "$RX" = 0 ] || why "x received $RX datagrams across bridges"
[ $(($(total no_endpoint) - n0)) -ge 50 ] || why "no_endpoint did not count the 50 frames"
[ "$(ep_packets 198.18.2.1)" = "$px0" ] || why "frames were redirected to x"
vl_in "$A" ip route del 198.18.2.0/24 dev eth0
vl_in "$A" ip neigh del 198.18.2.1 dev eth0
end

begin "a frame for the right address but a wrong MAC takes the bridge"
vl_in "$A" ip neigh replace 198.18.1.2 lladdr 02:00:5e:00:00:99 dev eth0 nud permanent
m0=$(total mac_mismatch); p0=$(ep_packets 198.18.1.2)
traffic "$A" udp-send 198.18.1.2 7004 20 100
[ $(($(total mac_mismatch) - m0)) -ge 20 ] || why "mac_mismatch did not count 20 frames"
[ "$(ep_packets 198.18.1.2)" = "$p0" ] || why "frames with a wrong MAC were redirected"
vl_in "$A" ip neigh del 198.18.1.2 dev eth0
end

begin "broadcast and ARP take the bridge"
b0=$(total not_unicast); a0=$(total not_ip)
traffic "$A" udp-send 198.18.1.255 7005 10 100 broadcast
vl_in "$A" ip neigh flush dev eth0
vl_in "$A" ping -c 1 -W 1 198.18.1.3 >/dev/null || why "ping after flushing ARP failed"
[ $(($(total not_unicast) - b0)) -ge 10 ] || why "not_unicast did not count the broadcasts"
[ $(($(total not_ip) - a0)) -ge 1 ] || why "not_ip did not count the ARP request"
end

begin "a frame larger than the target's MTU takes the bridge"
vl_in "$B" ip link set eth0 mtu 1280
nv attach --bridge br1 >/dev/null || why "attach did not pick up the new MTU"
[ "$(vjson | json '[e["mtu"] for e in d["endpoints"] if e["address"] == "198.18.1.2"][0]')" = 1280 ] || why "the endpoint's MTU is not 1280"
t0=$(total too_big); tx0=$(port_tx vb); p0=$(ep_packets 198.18.1.2)
traffic "$A" udp-send 198.18.1.2 7006 10 1400
[ $(($(total too_big) - t0)) -ge 10 ] || why "too_big did not count the 10 frames"
[ $(($(port_tx vb) - tx0)) -ge 10 ] || why "the big frames did not go through the bridge"
[ "$(ep_packets 198.18.1.2)" = "$p0" ] || why "big frames were redirected"
vl_in "$B" ip link set eth0 mtu 1500
nv attach --bridge br1 >/dev/null
end

# ---- clsact, next to other programs ----
EXPECT_OUT='attached to 2 veths' expect_ok "attach --bridge br2 with the clsact hook" nv attach --hook tc --bridge br2
begin "br2 takes the fast path through clsact, next to the other programs"
[ "$(vjson | json '" ".join(sorted(p["hook"] for p in d["ports"] if p["bridge"] == "br2"))')" = "tc tc" ] || why "br2's ports do not use tc"
p0=$(ep_packets 198.18.2.2)
vl_in "$X" ping -c 5 -i 0.05 -W 1 198.18.2.2 >/dev/null || why "ping x -> y failed"
[ $(($(ep_packets 198.18.2.2) - p0)) -ge 5 ] || why "pings to y were not redirected"
end

# ---- watch: containers coming and going ----
"$CTL" --state-dir "$SD" veth --netns "$H" watch --bridge br1 >"$NA_TMP/watch" 2>&1 &
WATCH=$!
NA_ALL_PIDS+=("$WATCH")
wait_for() { # seconds, then a command that must come true
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
has_ep() { vjson | json '[e["veth"] for e in d["endpoints"] if e["address"] == a[0]]' "$1" | grep -qx "$2"; }
no_ep() { ! vjson | json '[e["address"] for e in d["endpoints"]]' | grep -qx "$1"; }

begin "watch runs with only CAP_NET_ADMIN and CAP_BPF, under seccomp"
wait_for 5 grep -q watching "$NA_TMP/watch" || why "watch did not start: $(cat "$NA_TMP/watch")"
capeff=$(awk '/^CapEff/ { print $2 }' "/proc/$WATCH/status")
want=$(printf '%016x' $(((1 << 12) | (1 << 39))))
[ "$capeff" = "$want" ] || why "CapEff is $capeff, expected $want"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$WATCH/status" || why "no seccomp filter"
end

begin "watch: a deleted veth leaves no endpoint; a new veth with its ifindex gets only its own traffic"
old=$(ifindex_of vc)
mc=$(mac_of "$C")
ip -n "$H" link del vc
ip netns del "$C"
wait_for 10 no_ep 198.18.1.3 || why "198.18.1.3 is still an endpoint after its veth was deleted"
# d reuses vc's ifindex; c2 is c again (same address and MAC, as Docker
# derives the MAC from the address) on a new veth.
vl_container "$D" br1 vd 198.18.1.4 fd00:1::4 "$old" || why "cannot create d with ifindex $old"
vl_container "$C2" br1 vc2 198.18.1.3 fd00:1::3 || why "cannot create c2"
ip -n "$C2" link set eth0 address "$mc"
wait_for 10 has_ep 198.18.1.4 vd || why "watch did not learn d"
wait_for 10 has_ep 198.18.1.3 vc2 || why "watch did not learn c2: $(vjson | json '[e["address"] + " " + e["veth"] for e in d["endpoints"]]' | tr '\n' ',')"
wait_for 10 has_ep fd00:1::3 vc2 || why "watch did not learn c2's IPv6 address"
start_rx "$NA_TMP/c2" "$C2" udp-recv 198.18.1.3 7007 "$NA_TMP/c2.stop" || why "no receiver in c2"
pc=$!
start_rx "$NA_TMP/d" "$D" udp-recv 0.0.0.0 7007 "$NA_TMP/d.stop" || why "no receiver in d"
pd=$!
p0=$(ep_packets 198.18.1.3); d0=$(ep_packets 198.18.1.4)
traffic "$A" udp-send 198.18.1.3 7007 100 100
rx_wait "$pc" "$NA_TMP/c2"
[ "$RX" = 100 ] || why "c2 received $RX of its 100 datagrams"
rx_wait "$pd" "$NA_TMP/d"
[ "$RX" = 0 ] || why "d received $RX datagrams for c's address"
[ $(($(ep_packets 198.18.1.3) - p0)) -ge 100 ] || why "c2 is not accelerated"
[ "$(ep_packets 198.18.1.4)" = "$d0" ] || why "frames for c went to d"
vl_in "$A" ping -c 3 -i 0.05 -W 1 198.18.1.4 >/dev/null || why "ping d failed"
[ $(($(ep_packets 198.18.1.4) - d0)) -ge 3 ] || why "d is not accelerated"
grep -q 'removed endpoint 198.18.1.3' "$NA_TMP/watch" || why "watch did not log the removal"
grep -q 'added endpoint 198.18.1.4' "$NA_TMP/watch" || why "watch did not log d"
end

begin "watch killed with SIGKILL leaves a working fast path"
kill -9 "$WATCH"; wait "$WATCH" 2>/dev/null; WATCH=
p0=$(ep_packets 198.18.1.2)
vl_in "$A" ping -c 3 -i 0.05 -W 1 198.18.1.2 >/dev/null || why "ping failed after the agent died"
[ $(($(ep_packets 198.18.1.2) - p0)) -ge 3 ] || why "the fast path stopped with the agent"
end

begin "watch stops cleanly on SIGTERM and the fast path stays"
"$CTL" --state-dir "$SD" veth --netns "$H" watch --bridge br1 >"$NA_TMP/watch2" 2>&1 &
w=$!
wait_for 5 grep -q watching "$NA_TMP/watch2" || why "watch did not start"
kill -TERM "$w"; wait "$w"; rc=$?
[ "$rc" = 0 ] || why "watch exited with $rc"
grep -q 'stopped by SIGTERM' "$NA_TMP/watch2" || why "no stop message: $(cat "$NA_TMP/watch2")"
p0=$(ep_packets 198.18.1.2)
vl_in "$A" ping -c 2 -i 0.05 -W 1 198.18.1.2 >/dev/null || why "ping failed"
[ $(($(ep_packets 198.18.1.2) - p0)) -ge 2 ] || why "the fast path stopped"
end

# ---- manual endpoints ----
EXPECT_OUT='added endpoint 198.18.1.50 -> vb on br1' expect_ok "veth add makes a manual endpoint" nv add 198.18.1.50 vb
EXPECT_OUT='removed endpoint 198.18.1.50' expect_ok "veth del removes it" nv del 198.18.1.50
EXPECT_OUT='is not an endpoint' expect_ok "veth del of an unknown address says so" nv del 198.18.1.51

begin "status and stats show the veth redirect"
run na status
grep -q 'veth redirect: 6 veths' <<<"$OUT" || why "status does not say 6 veths: $OUT"
run na stats --json
[ "$(json 'd["veth"]["total"]["redirected"] > 0' <<<"$OUT")" = True ] || why "stats --json has no veth total"
end

# ---- detach and cleanup leave the others' programs ----
EXPECT_OUT='detached from 2 veths' expect_ok "detach --bridge br2" nv detach --bridge br2
begin "after detach, the other tools' programs on vx and vy are still there, ours not"
tc -n "$H" filter show dev vx ingress | grep -q u32 || why "the u32 filter on vx is gone"
tc -n "$H" filter show dev vx ingress | grep -q na_veth && why "our filter on vx is still there"
[ "$(tcx_count vy)" = "1 other_tool" ] || why "tcx on vy: $(tcx_count vy)"
if [ $TCX = 1 ]; then
	tc -n "$H" qdisc show dev vy | grep -q clsact && why "the clsact qdisc we made on vy is still there"
else
	tc -n "$H" qdisc show dev vy | grep -q clsact || why "the other tool's clsact qdisc on vy is gone"
fi
end
EXPECT_OUT='removed the veth redirect' expect_ok "cleanup removes the veth redirect" na cleanup
begin "after cleanup nothing of ours is left; the others' programs are"
for p in va vb vd vc2; do
	[ "$(tcx_count $p)" = 0 ] || why "tcx on $p: $(tcx_count $p)"
done
[ ! -e "$SD" ] || why "$SD is still there: $(find "$SD")"
tc -n "$H" filter show dev vx ingress | grep -q u32 || why "the u32 filter on vx is gone"
[ "$(tcx_count vy)" = "1 other_tool" ] || why "tcx on vy: $(tcx_count vy)"
vl_in "$A" ping -c 2 -i 0.05 -W 1 198.18.1.2 >/dev/null || why "traffic broke after cleanup"
end

# ip netns exec hides /sys/fs/bpf; the CLI uses the host's bpffs instead
# of making pins that would vanish with it.
EXPECT_OUT='attached to 4 veths \(4 new\)' expect_ok "attach under ip netns exec" ip netns exec "$H" "$CTL" --state-dir "$SD" veth attach --bridge br1
begin "the state made under ip netns exec is in the host's bpffs and works"
[ -e "$SD/veth/prog_ingress" ] || why "no $SD/veth/prog_ingress"
[ "$(tcx_count va)" = "1 na_veth_ingress" ] || why "tcx on va: $(tcx_count va)"
p0=$(ep_packets 198.18.1.2)
vl_in "$A" ping -c 2 -i 0.05 -W 1 198.18.1.2 >/dev/null || why "ping failed"
[ $(($(ep_packets 198.18.1.2) - p0)) -ge 2 ] || why "not redirected"
end
EXPECT_OUT='removed the veth redirect \(4 devices\)' expect_ok "cleanup removes it" na cleanup

veth_down
na_done
