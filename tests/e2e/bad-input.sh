#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Bad input for every command: each must print one clear line that starts
# with netaccel-ctl, exit non-zero (2 when the command line is wrong, 1 when
# it is well-formed but cannot be done) and change nothing -- with no state
# loaded and with a cgroup enrolled.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup

# A <cgroup> that cannot be parsed is a wrong command line, like an unknown
# --mode: exit code 2 (ctl/ctl.h: "2 the command line is wrong"). The
# checks per command accept 1 or 2 and one check below insists on this
# code, so that one cause makes one failure.
MALFORMED=2

mkdir "$CG/a" || bail_out "cannot create $CG/a"
touch "$NA_TMP/file"
mkdir "$NA_TMP/dir"
unknown_container=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')

# <spec>|<expected exit code, M for malformed>|<regex the message must match>
specs=(
	"$REL/nonexistent|1|no such cgroup"
	"$CG/nonexistent|1|no such cgroup"
	"$CG/cgroup.procs|1|not a cgroup"
	"$NA_TMP/file|1|not inside the cgroup v2 hierarchy"
	"$NA_TMP/dir|1|not inside the cgroup v2 hierarchy"
	"$REL/../..|1|not inside the cgroup v2 hierarchy"
	"|M|empty cgroup name"
	"pid:|M|invalid process id"
	"pid:abc|M|invalid process id"
	"pid:0|M|invalid process id"
	"pid:-1|M|invalid process id"
	"pid:99999999|1|no such process"
	"container:|M|invalid container id"
	"container:XYZ|M|invalid container id"
	"container:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0|M|invalid container id"
	"container:$unknown_container|1|no such container"
)

bad_specs() {
	local when=$1 cmd entry spec code msg

	for cmd in enroll unenroll stats; do
		for entry in "${specs[@]}"; do
			IFS='|' read -r spec code msg <<<"$entry"
			[ "$code" = M ] && code='1|2'
			EXPECT_MSG=$msg expect_fail "$cmd '$spec' ($when)" "$code" na "$cmd" "$spec"
		done
	done
}

malformed_is_usage_error() {
	local when=$1 cmd entry spec code msg

	begin "a malformed <cgroup> exits with $MALFORMED ($when)"
	for cmd in enroll unenroll stats; do
		for entry in "${specs[@]}"; do
			IFS='|' read -r spec code msg <<<"$entry"
			[ "$code" = M ] || continue
			run na "$cmd" "$spec"
			[ "$RC" = "$MALFORMED" ] || why "$cmd '$spec' exits with $RC"
		done
	done
	end
}

# ---- no state loaded ----

bad_specs "no state"
malformed_is_usage_error "no state"
check "no failed command created the state directory" test ! -e "$SD"

# ---- a cgroup enrolled ----

run na enroll "$REL/a"
[ "$RC" = 0 ] || bail_out "cannot enroll $REL/a: $ERR"
bad_specs "state loaded"
malformed_is_usage_error "state loaded"

# ---- the command line ----

EXPECT_MSG='missing command' expect_fail "no command" 2 "$CTL"
EXPECT_MSG='missing command' expect_fail "only global options" 2 na
EXPECT_MSG="unknown command 'frobnicate'" expect_fail "unknown command" 2 na frobnicate
EXPECT_MSG="unknown option '--bogus'" expect_fail "unknown global option --bogus" 2 na --bogus status
EXPECT_MSG="unknown option '-x'" expect_fail "unknown global option -x" 2 na -x status
EXPECT_MSG="'--state-dir' needs a value" expect_fail "--state-dir without its value" 2 "$CTL" --state-dir
# A family's options may come before its subcommand; one left without its
# value leaves no subcommand either.
EXPECT_MSG='missing subcommand' expect_fail "veth -n without its value and no subcommand" 2 na veth -n
EXPECT_MSG='missing subcommand' expect_fail "veth -S without its value and no subcommand" 2 na veth -S

# networks: one line, exit 2 (or 1 where the input is well formed but
# names nothing), nothing changed.
EXPECT_MSG='missing subcommand' expect_fail "networks without a subcommand" 2 na networks
EXPECT_MSG="unknown subcommand 'frob'" expect_fail "networks frob" 2 na networks frob
EXPECT_MSG="unexpected argument 'extra'" expect_fail "networks list extra" 2 na networks list extra
EXPECT_MSG="unexpected argument 'extra'" expect_fail "networks sync extra" 2 na networks sync extra
EXPECT_MSG='missing <bridge>' expect_fail "networks allow without a bridge" 2 na networks allow
EXPECT_MSG="unexpected argument 'b'" expect_fail "networks deny with two bridges" 2 na networks deny a b
EXPECT_MSG='does not take --json' expect_fail "networks sync --json" 2 na networks sync --json
EXPECT_MSG="unknown option '--bogus'" expect_fail "networks list --bogus" 2 na networks list --bogus
EXPECT_MSG='no bridge nosuchbr0' expect_fail "networks allow a bridge that does not exist" 1 \
	na networks allow nosuchbr0
EXPECT_MSG='nosuchns' expect_fail "networks --netns that does not exist" 1 \
	na networks --netns "$NAME-nosuchns" list

for c in enroll unenroll cleanup status stats; do
	EXPECT_MSG="unknown option '--bogus'" expect_fail "$c --bogus" 2 na "$c" --bogus "$REL/a"
	EXPECT_MSG="unknown option '-x'" expect_fail "$c -x" 2 na "$c" -x "$REL/a"
	EXPECT_MSG="'--state-dir' needs a value" expect_fail "$c --state-dir without its value" 2 na "$c" --state-dir
done
EXPECT_MSG='--force' expect_fail "cleanup --force=yes names --force" 2 na cleanup --force=yes
EXPECT_MSG='--json' expect_fail "status --json=1 names --json" 2 na status --json=1

EXPECT_MSG='missing <cgroup>' expect_fail "enroll without a cgroup" 2 na enroll
EXPECT_MSG='missing <cgroup>' expect_fail "enroll --mode opt-in without a cgroup" 2 na enroll --mode opt-in
EXPECT_MSG='missing <cgroup>' expect_fail "unenroll without a cgroup" 2 na unenroll
EXPECT_MSG="unexpected argument 'extra'" expect_fail "enroll with an extra argument" 2 na enroll "$REL/a" extra
EXPECT_MSG="unexpected argument 'extra'" expect_fail "unenroll with an extra argument" 2 na unenroll "$REL/a" extra
EXPECT_MSG="unexpected argument 'extra'" expect_fail "cleanup with an argument" 2 na cleanup extra
EXPECT_MSG="unexpected argument 'extra'" expect_fail "cleanup --force with an argument" 2 na cleanup --force extra
EXPECT_MSG="unexpected argument 'extra'" expect_fail "status with an argument" 2 na status extra
EXPECT_MSG="unexpected argument 'extra'" expect_fail "stats with an extra argument" 2 na stats "$REL/a" extra
EXPECT_MSG="unexpected argument '$REL/a'" expect_fail "stats --prometheus with a cgroup" 2 na stats --prometheus "$REL/a"
EXPECT_MSG='choose one' expect_fail "stats --json --prometheus" 2 na stats --json --prometheus

EXPECT_MSG="unknown mode 'fast'" expect_fail "enroll --mode fast" 2 na enroll --mode fast "$REL/a"
EXPECT_MSG="unknown mode 'ALL'" expect_fail "enroll --mode ALL (modes are lowercase)" 2 na enroll --mode ALL "$REL/a"
EXPECT_MSG="unknown mode ''" expect_fail "enroll --mode ''" 2 na enroll --mode '' "$REL/a"
EXPECT_MSG="unknown mode 'opt-in,all'" expect_fail "enroll -m opt-in,all" 2 na enroll -m opt-in,all "$REL/a"
EXPECT_MSG="'-m' needs a value" expect_fail "enroll -m without its value" 2 na enroll "$REL/a" -m
EXPECT_MSG="'--mode' needs a value" expect_fail "enroll --mode without its value" 2 na enroll "$REL/a" --mode

# ---- the state directory ----

mkdir "$NA_TMP/x"
export NA_SNAP_EXTRA=$NA_TMP/x
for args in "enroll $REL/a" "enroll --mode opt-in $REL/a" "unenroll $REL/a" cleanup "cleanup --force" status "status --json" stats "stats $REL/a"; do
	# shellcheck disable=SC2086 # one word per argument
	EXPECT_MSG='bpffs' expect_fail "--state-dir on a file system that is not bpffs: $args" 1 \
		"$CTL" --state-dir "$NA_TMP/x" $args
done
check "nothing was created in the directory that is not bpffs" \
	test -z "$(ls -A "$NA_TMP/x")"
unset NA_SNAP_EXTRA

# bpffs refuses names with a dot; the CLI must say so once, not blame
# privileges that the caller has.
EXPECT_MSG="$NAME\\.dot" expect_fail "--state-dir with a name bpffs refuses" 1 \
	"$CTL" --state-dir "/sys/fs/bpf/$NAME.dot" enroll "$REL/a"
EXPECT_MSG="$NAME-nodir" expect_fail "--state-dir below a directory that does not exist" 1 \
	"$CTL" --state-dir "/sys/fs/bpf/$NAME-nodir/sub" enroll "$REL/a"
check "no state directory was created below a missing directory" test ! -e "/sys/fs/bpf/$NAME-nodir"
EXPECT_MSG='bpffs' expect_fail "--state-dir that is the bpffs mount itself" 1 \
	"$CTL" --state-dir /sys/fs/bpf enroll "$REL/a"
# An empty --state-dir is a mistake (an unset variable in a script); it
# must not quietly mean the default state of the host.
EXPECT_MSG='state-dir' expect_fail "--state-dir ''" 2 "$CTL" --state-dir '' status

# ---- netaccel-proxy ----

# Its command line: exit 2 and one line; a listen address it cannot have:
# exit 1 and one line. None may start serving: each runs under a timeout,
# which turns a proxy that stays up into a failure rather than a hang.
# Every address is on loopback, numeric: no name is looked up.
PROXY=${NETACCEL_PROXY:?NETACCEL_PROXY must name the netaccel-proxy to test}
px() { timeout 10 "$PROXY" "$@"; }
L=127.0.0.1:1 B=127.0.0.1:2
too_many=()
for i in $(seq 17); do
	too_many+=(-l "127.0.0.1:$i")
done
export NA_PROG=netaccel-proxy
EXPECT_MSG='needs at least one --listen and one --backend' expect_fail "proxy: no arguments" 2 px
EXPECT_MSG='needs at least one --listen and one --backend' expect_fail "proxy: no --backend" 2 px -l "$L"
EXPECT_MSG='needs at least one --listen and one --backend' expect_fail "proxy: no --listen" 2 px -b "$B"
EXPECT_MSG="unknown option '--bogus'" expect_fail "proxy: unknown option --bogus" 2 px --bogus -l "$L" -b "$B"
EXPECT_MSG="unknown option '-x'" expect_fail "proxy: unknown option -x" 2 px -x -l "$L" -b "$B"
EXPECT_MSG="--listen needs a value" expect_fail "proxy: --listen without its value" 2 px -b "$B" --listen
EXPECT_MSG="-b needs a value" expect_fail "proxy: -b without its value" 2 px -l "$L" -b
EXPECT_MSG="--mode needs a value" expect_fail "proxy: --mode without its value" 2 \
	px -l "$L" -b "$B" --mode
EXPECT_MSG="--mode 'nonsense'.*auto, kernel, splice or copy" expect_fail "proxy: --mode nonsense" 2 \
	px --mode nonsense -l "$L" -b "$B"
EXPECT_MSG="--mode 'KERNEL'" expect_fail "proxy: --mode KERNEL (modes are lowercase)" 2 \
	px --mode KERNEL -l "$L" -b "$B"
EXPECT_MSG="--mode ''" expect_fail "proxy: --mode ''" 2 px --mode '' -l "$L" -b "$B"
EXPECT_MSG="--listen '127.0.0.1': expected HOST:PORT" expect_fail "proxy: --listen without a port" 2 \
	px --listen 127.0.0.1 -b "$B"
EXPECT_MSG="--listen '127.0.0.1:': the port must be a number from 1 to 65535" \
	expect_fail "proxy: --listen with an empty port" 2 px --listen 127.0.0.1: -b "$B"
EXPECT_MSG="--listen '127.0.0.1:99999': the port must be a number from 1 to 65535" \
	expect_fail "proxy: --listen 127.0.0.1:99999" 2 px --listen 127.0.0.1:99999 -b "$B"
EXPECT_MSG="--listen '127.0.0.1:0': the port must be a number from 1 to 65535" \
	expect_fail "proxy: --listen 127.0.0.1:0" 2 px --listen 127.0.0.1:0 -b "$B"
EXPECT_MSG="--listen '127.0.0.1:http': the port must be a number" \
	expect_fail "proxy: --listen with a service name for a port" 2 px --listen 127.0.0.1:http -b "$B"
EXPECT_MSG="--listen '::1:80': expected HOST:PORT" expect_fail "proxy: --listen ::1:80 (IPv6 without brackets)" 2 \
	px --listen ::1:80 -b "$B"
EXPECT_MSG="--listen '\[::1:80': expected \[IPv6\]:PORT" expect_fail "proxy: --listen [::1:80" 2 \
	px --listen '[::1:80' -b "$B"
EXPECT_MSG="--listen ':80': expected HOST:PORT" expect_fail "proxy: --listen :80 (no host)" 2 px --listen :80 -b "$B"
EXPECT_MSG="--backend 'x': expected HOST:PORT" expect_fail "proxy: --backend x" 2 px -l "$L" --backend x
EXPECT_MSG="--backend '': expected HOST:PORT" expect_fail "proxy: --backend ''" 2 px -l "$L" --backend ''
EXPECT_MSG="at most 16 listen addresses" expect_fail "proxy: 17 listen addresses" 2 px "${too_many[@]}" -b "$B"
for o in max-queued down-time; do
	for v in 0 -1 abc 1x ''; do
		EXPECT_MSG="--$o '$v': expected a number from 1 to" expect_fail "proxy: --$o '$v'" 2 \
			px -l "$L" -b "$B" "--$o" "$v"
	done
done
EXPECT_MSG="--max-queued '2147483648': expected a number from 1 to" expect_fail "proxy: --max-queued above 1 GiB" 2 \
	px -l "$L" -b "$B" --max-queued 2147483648
EXPECT_MSG="unexpected argument 'extra'" expect_fail "proxy: an extra argument" 2 px -l "$L" -b "$B" extra

# A listen address in use: exit 1, one line, and the address is still its
# owner's.
"$PYTHON" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(600)' "$NA_TMP/busy.port" </dev/null >/dev/null 2>&1 &
NA_PIDS+=($!)
NA_ALL_PIDS+=($!)
busy_pid=$!
if wait_file "$NA_TMP/busy.port"; then
	busy=$(cat "$NA_TMP/busy.port")
	EXPECT_MSG="cannot listen on 127.0.0.1:$busy: Address already in use" \
		expect_fail "proxy: a listen address in use" 1 px -l "127.0.0.1:$busy" -b "$B"
	free=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	EXPECT_MSG="cannot listen on 127.0.0.1:$busy: Address already in use" \
		expect_fail "proxy: the second listen address in use" 1 px -l "127.0.0.1:$free" -l "127.0.0.1:$busy" -b "$B"
	begin "proxy: the address in use is still its owner's"
	[ "$(ss -Hltnp "sport = :$busy" | grep -c "pid=$busy_pid,")" = 1 ] || why "ss: $(ss -Hltnp "sport = :$busy")"
	end
else
	bail_out "cannot make a listener on 127.0.0.1"
fi
unset NA_PROG

# ---- still intact ----

check "$REL/a is still enrolled after all this" test "$(status_entry "$REL/a" | cut -d' ' -f1-3)" = "all active ok"

na_done
