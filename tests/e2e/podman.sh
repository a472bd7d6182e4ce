#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A real container pair: two podman containers on a podman bridge network
# of the test's own (198.18.6.0/24), each a real container runtime's
# cgroup (enrolled as container:<id>) and network namespace. The server's
# listener must come after enrollment, so each container waits for a file
# before it starts. TCP between them takes the fast path and the echo
# arrives intact. The root file system is an empty directory with the
# host's /usr mounted read-only: no image and no registry.
#
# runc, not crun: crun refuses hybrid cgroup layouts; podman's cgroupfs
# manager, as no systemd may run. The ulimits are set because a sandboxed
# host may refuse to raise them.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup
command -v podman >/dev/null || bail_out "podman is not installed (scripts/install-deps installs it)"
command -v runc >/dev/null || bail_out "runc is not installed (scripts/install-deps installs it)"
NET=$NAME
pod() {
	podman --runtime runc --cgroup-manager cgroupfs "$@"
}
# podman's cgroupfs parent, removed again if this test made it.
PARENT=$CGROOT/libpod_parent
[ -d "$PARENT" ] && had_parent=1 || had_parent=0
pod_down() {
	pod rm -f -t 0 "$NAME-srv" "$NAME-cli" >/dev/null 2>&1
	pod network rm -f "$NET" >/dev/null 2>&1
	[ "$had_parent" = 0 ] && rmdir "$PARENT" 2>/dev/null
	return 0
}
trap 'pod_down; na_cleanup' EXIT

ROOT=$NA_TMP/rootfs SH=$NA_TMP/shared
mkdir -p "$ROOT"/{usr,proc,sys,dev,etc,tmp} "$SH" && for d in bin lib lib64 sbin; do
	ln -s "usr/$d" "$ROOT/$d"
done
pod network create --subnet 198.18.6.0/24 "$NET" >/dev/null || bail_out "cannot create the podman network"

# start <name> <command>: a container that runs the command once
# /shared/go-<name> exists.
start() {
	pod run -d --name "$NAME-$1" --network "$NET" --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
		-v /usr:/usr:ro -v "$SH:/shared" -v "$NETACCEL_SOURCE_DIR/tests/e2e:/probe:ro" \
		--rootfs "$ROOT" /usr/bin/sh -c "while [ ! -e /shared/go-$1 ]; do sleep 0.05; done; $2" \
		>"$NA_TMP/$1.id" 2>"$NA_TMP/$1.err" || bail_out "cannot start $1: $(cat "$NA_TMP/$1.err")"
}
start srv 'NETPROBE_BIND=0.0.0.0 exec /usr/bin/python3 /probe/netprobe.py echo-server /shared/port'
# The client stays until told, so that its cgroup's counters can be read.
start cli 'while [ ! -s /shared/port ]; do sleep 0.05; done; NETPROBE_HOST=$(cat /shared/srv.ip) /usr/bin/python3 /probe/netprobe.py stream $(cat /shared/port) 1000000 20 >/shared/cli.out 2>&1; echo $? >/shared/cli.rc; while [ ! -e /shared/stop ]; do sleep 0.05; done'
srv=$(cat "$NA_TMP/srv.id") cli=$(cat "$NA_TMP/cli.id")
pod inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$srv" >"$SH/srv.ip"

begin "both containers' cgroups are enrolled by id"
for c in "$srv" "$cli"; do
	run na enroll "container:${c:0:12}"
	[ "$RC" = 0 ] || why "enroll container:${c:0:12}: $ERR"
done
end

counter() { na stats --json "container:$1" | json 'd["cgroups"][0]["counters"][a[0]]' "$2"; }

begin "the podman bridge's two containers are a network"
run na networks list --json
br=$(pod network inspect -f '{{.NetworkInterface}}' "$NET")
bstate=$(json '[n["state"] for n in d["networks"] if n["bridge"] == a[0]]' "$br" <<<"$OUT")
if [ "$bstate" = filtered ]; then
	# The runtime's firewall sees traffic between its containers: the
	# fast path would skip it. Say why, then allow it, as a user would.
	diag "$br is filtered: $(json '[n["filter"] for n in d["networks"] if n["bridge"] == a[0]]' "$br" <<<"$OUT")"
	na networks allow "$br" >/dev/null || why "cannot allow $br"
	bstate=$(na networks list --json | json '[n["state"] for n in d["networks"] if n["bridge"] == a[0]]' "$br")
fi
[ "$bstate" = pairs ] || why "bridge $br: '$bstate'; $OUT"
end

begin "TCP between the two containers takes the fast path; 20 MB echoed intact"
# Bytes either end redirected: which direction moves to the fast path
# first depends on scheduling.
both() { echo $(($(counter "${cli:0:12}" bytes_redirected) + $(counter "${srv:0:12}" bytes_redirected))); }
x=$(counter "${cli:0:12}" joined_xns) b=$(both)
touch "$SH/go-srv" "$SH/go-cli"
for _ in $(seq 1200); do
	[ -s "$SH/cli.rc" ] && break
	sleep 0.1
done
rc=$(cat "$SH/cli.rc" 2>/dev/null)
[ "$rc" = 0 ] || why "the client exited with '$rc': $(cat "$SH/cli.out" 2>/dev/null)"
grep -q "^ok 20 connections" "$SH/cli.out" || why "client: $(cat "$SH/cli.out")"
now=$(counter "${cli:0:12}" joined_xns)
[ "$now" -ge $((x + 1)) ] || why "joined_xns went from $x to $now"
now=$(both)
[ "$now" -ge $((b + 1000000)) ] || why "bytes redirected by both went from $b to $now"
for c in "$srv" "$cli"; do
	diag "${c:0:12}: $(na stats --json "container:${c:0:12}" | json '" ".join("%s=%s" % kv for kv in d["cgroups"][0]["counters"].items() if kv[1])')"
done
touch "$SH/stop"
end

begin "the containers and the network are removed"
pod_down
pod network exists "$NET" 2>/dev/null && why "the network is still there"
na networks sync >/dev/null 2>&1
end

na_done
