# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# A Docker-like layout for the veth redirect, in network namespaces only:
# a "host" namespace with bridges, and "containers", each a namespace whose
# eth0 is the peer of a veth port of a bridge. Nothing touches the real
# host's network. Shared by the veth tests and the benchmark.
#
#   vl_host <name>                          the host namespace
#   vl_bridge <bridge>                      a bridge in it
#   vl_container <ns> <bridge> <port> <ipv4> <ipv6> [index]
#       a container: namespace <ns>, host-side veth <port> (with ifindex
#       <index> when given), eth0 with <ipv4>/24 and <ipv6>/64
#   vl_in <ns> <command...>                 run in a container
#   vl_down                                 remove every namespace made
#
# Addresses must come from 198.18.0.0/15 and fd00::/8.

VL_HOST=
VL_NS=()

vl_host() {
	VL_HOST=$1
	ip netns add "$VL_HOST" || return 1
	VL_NS+=("$VL_HOST")
	ip -n "$VL_HOST" link set lo up
}

vl_bridge() {
	ip -n "$VL_HOST" link add "$1" type bridge &&
		ip -n "$VL_HOST" link set "$1" up
}

vl_container() {
	local ns=$1 br=$2 port=$3 v4=$4 v6=$5 index=${6:-}

	if ! ip netns list | grep -qw "$ns"; then
		ip netns add "$ns" || return 1
		VL_NS+=("$ns")
		ip -n "$ns" link set lo up
	fi
	ip -n "$VL_HOST" link add "$port" ${index:+index "$index"} type veth \
		peer name eth0 netns "$ns" || return 1
	ip -n "$VL_HOST" link set "$port" master "$br" up &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" addr add "$v4/24" dev eth0 &&
		ip -n "$ns" addr add "$v6/64" dev eth0 nodad
}

vl_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

vl_down() {
	local ns

	for ns in "${VL_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	VL_NS=()
}
