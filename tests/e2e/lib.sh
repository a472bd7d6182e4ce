# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# What the end-to-end tests of netaccel-ctl share. A test script sources
# this file, calls na_setup when it needs the real world (root, a scratch
# cgroup, a private state directory) or na_setup_tmp when it does not, runs
# its checks and ends with na_done. Output is TAP: one "ok"/"not ok" line per check, diagnostics as
# "#" lines, the plan at the end.
#
#   NETACCEL_CTL         the netaccel-ctl under test (required)
#   NETACCEL_SOURCE_DIR  the source tree (for the man page and the ABI header)
#
# Everything a test creates is named netaccel-e2e-<test>-<pid>: the scratch
# cgroup below the cgroup v2 root, the state directory below /sys/fs/bpf and
# a temporary directory. The EXIT trap removes all of it, also when the test
# fails or is interrupted.

set -u

CTL=${NETACCEL_CTL:?NETACCEL_CTL must name the netaccel-ctl to test}
NA_TEST=$(basename "$0" .sh)
NAME="netaccel-e2e-$NA_TEST-$$"

NA_N=0			# checks run
NA_FAILED=0		# checks failed
NA_PIDS=()		# processes we started and have not stopped yet
NA_ALL_PIDS=()		# every process we started
NA_STATE_DIRS=()	# state directories to remove at the end
NA_STRAYS=()		# processes found in our cgroups at the end, killed
NA_TMP=
CGROOT=
CG=			# the scratch cgroup, absolute
REL=			# the scratch cgroup, relative to CGROOT
SD=			# the private state directory
PYTHON=python3
OUT='' ERR='' RC=''	# what the last run() saw

# ---- TAP ----

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

ok() {
	NA_N=$((NA_N + 1))
	echo "ok $NA_N - $*"
}

not_ok() {
	NA_N=$((NA_N + 1))
	NA_FAILED=$((NA_FAILED + 1))
	echo "not ok $NA_N - $*"
}

skip() {
	NA_N=$((NA_N + 1))
	echo "ok $NA_N - $1 # SKIP $2"
}

# The whole script cannot run here: an empty plan with a reason, which TAP
# harnesses (meson's among them) report as a skip. meson's TAP runner turns
# every non-zero exit into an error, 77 included, so this exits 0.
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

bail_out() {
	echo "Bail out! $*"
	exit 1
}

# A check made of several conditions: begin, then why "<what is wrong>" for
# each that fails, then end. end shows the last command run and its output
# when something failed.
begin() {
	NA_DESC=$*
	NA_WHY=()
	NA_CMD='' OUT='' ERR='' RC=''
}

why() {
	NA_WHY+=("$*")
}

end() {
	local w

	if [ ${#NA_WHY[@]} -eq 0 ]; then
		ok "$NA_DESC"
		return 0
	fi
	not_ok "$NA_DESC"
	# The reasons go to stderr as well: test runners show a failed test's
	# stderr (meson's --print-errorlogs), which is all a CI log keeps.
	w=$(
		for r in "${NA_WHY[@]}"; do
			diag "$r"
		done
		if [ -n "$NA_CMD" ]; then
			diag "last command: $NA_CMD"
			diag "exit code: $RC"
			[ -n "$OUT" ] && diag "stdout: $OUT"
			[ -n "$ERR" ] && diag "stderr: $ERR"
		fi
	)
	printf '%s\n' "$w"
	printf 'not ok %s - %s\n%s\n' "$NA_N" "$NA_DESC" "$w" >&2
	return 1
}

# check "<description>" <command...>: ok when the command succeeds.
check() {
	local desc=$1
	shift
	begin "$desc"
	"$@" || why "failed: $*"
	end
}

# Print the plan and leave; the EXIT trap cleans up. Failures are in the
# "not ok" lines: meson reports a TAP test with a non-zero exit as an error
# rather than as the failures it lists.
na_finish() {
	echo "1..$NA_N"
	[ "$NA_FAILED" -eq 0 ] || diag "$NA_FAILED of $NA_N checks failed"
	exit 0
}

# ---- running the CLI ----

# run <command...>: run it, keep stdout in OUT, stderr in ERR, status in RC.
run() {
	NA_CMD=$*
	"$@" >"$NA_TMP/out" 2>"$NA_TMP/err"
	RC=$?
	OUT=$(cat "$NA_TMP/out")
	ERR=$(cat "$NA_TMP/err")
	return 0
}

# The CLI on the private state directory.
na() {
	"$CTL" --state-dir "$SD" "$@"
}

# What a failing command must not change: the pins (names and inodes, so a
# re-created pin shows), what status reports, the scratch cgroup tree, and
# any path listed in NA_SNAP_EXTRA.
snapshot() {
	local p

	if [ -n "$SD" ]; then
		echo "== pins in $SD"
		if [ -e "$SD" ]; then
			find "$SD" -mindepth 1 -printf '%P %i\n' | sort
		else
			echo "(none)"
		fi
		# What status shows of the state, without its kernel feature
		# probes (static, and slow under emulation).
		echo "== stats"
		"$CTL" --state-dir "$SD" stats --json 2>&1
		echo "== portmap"
		"$CTL" --state-dir "$SD" portmap list --json 2>&1
		echo "== veth"
		"$CTL" --state-dir "$SD" veth list --json 2>&1
	fi
	echo "== cgroups"
	[ -n "$CG" ] && [ -d "$CG" ] && find "$CG" -type d -printf '%P %i\n' | sort
	for p in ${NA_SNAP_EXTRA:-}; do
		echo "== $p"
		find "$p" -printf '%P %i\n' 2>&1 | sort
	done
}

# Whether ERR is exactly one line that starts with the program's name
# ($NA_PROG: netaccel-ctl unless a test sets another).
one_error_line() {
	local n prog=${NA_PROG:-netaccel-ctl}

	n=$(wc -l <"$NA_TMP/err")
	if [ "$n" -ne 1 ] || [ -z "$ERR" ]; then
		why "expected exactly one line on stderr, got $n"
	elif [[ $ERR != "$prog"* ]]; then
		why "the error line does not start with $prog"
	fi
}

# expect_fail "<description>" <exit code> <command...>
# The command must exit with that code (or with one of several: "1|2"),
# print nothing on stdout and exactly one line on stderr starting with
# "netaccel-ctl" (or $NA_PROG), and change nothing. Set EXPECT_MSG to an extended regex
# the error line must match.
expect_fail() {
	local desc=$1 code=$2 before after
	shift 2

	begin "$desc"
	before=$(snapshot)
	run "$@"
	after=$(snapshot)
	[[ $RC =~ ^($code)$ ]] || why "expected exit code $code, got $RC"
	one_error_line
	[ -z "$OUT" ] || why "expected nothing on stdout"
	if [ -n "${EXPECT_MSG:-}" ] && ! grep -Eq -- "$EXPECT_MSG" <<<"$ERR"; then
		why "the error line does not match /$EXPECT_MSG/"
	fi
	if [ "$before" != "$after" ]; then
		why "the command changed something:"
		why "$(diff <(echo "$before") <(echo "$after") | grep '^[<>]')"
	fi
	end
}

# expect_ok "<description>" <command...>
# Exit code 0, nothing on stderr; with EXPECT_OUT, stdout must match that
# extended regex.
expect_ok() {
	local desc=$1
	shift

	begin "$desc"
	run "$@"
	[ "$RC" = 0 ] || why "expected exit code 0, got $RC"
	[ -z "$ERR" ] || why "expected nothing on stderr"
	if [ -n "${EXPECT_OUT:-}" ] && ! grep -Eq -- "$EXPECT_OUT" <<<"$OUT"; then
		why "stdout does not match /$EXPECT_OUT/"
	fi
	end
}

# ---- JSON ----

# json <python expression> [args...]: parse stdin as JSON, bind it to d and
# the arguments to a, print the expression (lists one item per line).
json() {
	"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
a = sys.argv[2:]
r = eval(sys.argv[1])
if isinstance(r, (list, tuple)):
    for x in r:
        print(x)
elif r is not None:
    print(r)
' "$@"
}

# The enrolled cgroups with that path in status --json, one line each:
# "<mode> <state> <links> <id>". Empty when none.
status_entry() {
	na status --json 2>/dev/null |
		json '["%s %s %s %s" % (c["mode"], c["state"], c["links"], c["id"]) for c in d["cgroups"] if c["path"] == a[0]]' "$1"
}

# Whether this kernel's FIONREAD leaves out redirected bytes (status
# names sk_psock.msg_tot_len as missing): netaccel then loads its fionread
# protection too.
fionread_gap() {
	[ "$(na status --json | json 'any(f["name"].startswith("sk_psock.msg_tot_len") and not f["present"] for f in d["features"]["bypass"])')" = True ]
}

# The pins in the state directory, sorted, one line.
pins() {
	[ -d "$SD" ] && find "$SD" -mindepth 1 -printf '%P\n' | sort | tr '\n' ' '
}

# The cgroup id of a directory: its inode number.
cgid() {
	stat -c %i "$1"
}

# ---- the world ----

# wait_file <file>: until it exists and is not empty (a server writes its
# port there); false after 10 s.
wait_file() {
	for _ in $(seq 200); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port <port>: until something listens on that TCP port; false after
# 10 s.
wait_port() {
	for _ in $(seq 200); do
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	return 1
}

# server_to <log> <command...>: start a server in the scratch cgroup, its
# output appended to <log>, remembered for cleanup (sh execs it, so $! is
# the server itself).
server_to() {
	local log=$1
	shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@" </dev/null >>"$log" 2>&1 &
	NA_PIDS+=($!)
	NA_ALL_PIDS+=($!)
}

# nginx_conf <port> <worker connections> [<lines for the server block>]:
# $NA_TMP/nginx.conf for an nginx of the test's own, in the foreground,
# serving $NA_TMP/www on 127.0.0.1:<port>, its other files in
# $NA_TMP/nginx. Start it with
#   nginx -c "$NA_TMP/nginx.conf" -e "$NA_TMP/nginx/error.log"
nginx_conf() {
	mkdir -p "$NA_TMP/www" "$NA_TMP/nginx" || return 1
	cat >"$NA_TMP/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $NA_TMP/nginx/nginx.pid;
error_log $NA_TMP/nginx/error.log;
events { worker_connections $2; }
http {
    access_log off;
    client_body_temp_path $NA_TMP/nginx/body;
    proxy_temp_path $NA_TMP/nginx/proxy;
    fastcgi_temp_path $NA_TMP/nginx/fastcgi;
    uwsgi_temp_path $NA_TMP/nginx/uwsgi;
    scgi_temp_path $NA_TMP/nginx/scgi;
    # As Debian's nginx.conf has it. Without sendfile, nginx writes a
    # file in 32 KiB pieces, a stream of small writes that moves to TCP
    # (stream_moved); sendfile hands the socket 64 KiB at a time.
    sendfile on;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$1;
        root $NA_TMP/www;
${3:-}
    }
}
EOF
}

# The cgroup v2 mount point: the first cgroup2 mount of the whole hierarchy
# (fields after the optional ones are found by the "-" separator).
cgroup_v2_root() {
	awk '{
		for (i = 7; i <= NF; i++)
			if ($i == "-") {
				if ($(i + 1) == "cgroup2" && $4 == "/") { print $5; exit }
				break
			}
	}' /proc/self/mountinfo
}

# Start a process inside cgroup directory $1 (it moves itself there before
# it becomes a sleep, so it never runs elsewhere). Sets NA_LASTPID.
start_in_cgroup() {
	local dir=$1 _

	(echo "$BASHPID" >"$dir/cgroup.procs" && exec sleep 600) </dev/null >/dev/null 2>&1 &
	NA_LASTPID=$!
	NA_PIDS+=("$NA_LASTPID")
	NA_ALL_PIDS+=("$NA_LASTPID")
	for _ in $(seq 100); do
		grep -qx "0::/${dir#"$CGROOT"/}" "/proc/$NA_LASTPID/cgroup" 2>/dev/null && return 0
		sleep 0.01
	done
	bail_out "cannot start a process in $dir"
}

# in_cg <cgroup dir> <command...>: run the command inside that cgroup (it
# moves itself there, then execs, so it never runs elsewhere). Started in
# the background, $! is the command's own pid.
in_cg() {
	local d=$1
	shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$d" "$@"
}

# A TCP connection over loopback made by a process in cgroup directory $1,
# written as an event-driven program is (non-blocking sockets, poll): one
# byte each way first (a connection's first bytes take TCP until the
# receiver has been seen reading them), then 1000 bytes one way and 10
# back, then both ends close. Before it, one connection that only sends a
# byte each way: a listener's accepted sockets join only once one of them
# was seen reading non-blocking. Prints "ok 1000 10".
tcp_exchange_in() {
	(echo "$BASHPID" >"$1/cgroup.procs" && exec "$PYTHON" -c '
import select, socket
def wait(s, ev):
    p = select.poll(); p.register(s, ev)
    if not p.poll(10000): raise SystemExit("timed out")
def recv(s, n):
    got = b""
    while len(got) < n:
        wait(s, select.POLLIN)
        d = s.recv(n - len(got))
        if not d: raise SystemExit("early EOF")
        got += d
    return got
def connect(l):
    c = socket.socket(); c.setblocking(False)
    c.connect_ex(l.getsockname()); wait(c, select.POLLOUT)
    wait(l, select.POLLIN); s, _ = l.accept(); s.setblocking(False)
    c.send(b"w"); recv(s, 1); s.send(b"w"); recv(c, 1)
    return c, s
l = socket.socket(); l.setblocking(False)
l.bind(("127.0.0.1", 0)); l.listen(1)
for x in connect(l):
    x.close()
c, s = connect(l)
c.sendall(b"x" * 1000)
got = recv(s, 1000)
s.sendall(b"y" * 10)
back = recv(c, 10)
for x in (c, s, l):
    x.close()
print("ok", len(got), len(back))
')
}

# A second private state directory (removed at the end like the first).
extra_state_dir() {
	local d="/sys/fs/bpf/$NAME-$1"

	NA_STATE_DIRS+=("$d")
	echo "$d"
}

# Stop the processes the test started and has not stopped yet.
stop_started() {
	local pid

	for pid in "${NA_PIDS[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	NA_PIDS=()
}

# Stop every server the test started, then check that no process is left
# running in its cgroups (na_done would move it out and leave it running).
check_no_process_left() {
	local left

	stop_started
	begin "no process is left in the test's cgroups"
	left=$(find "$CG" -name cgroup.procs -exec cat {} + 2>/dev/null)
	[ -z "$left" ] || why "still running: $(ps -o pid=,args= -p "$(paste -sd, - <<<"$left")")"
	end
}

# Remove everything this test made. Safe to call more than once.
na_cleanup() {
	local pid d home

	stop_started
	for d in "${NA_STATE_DIRS[@]}"; do
		[ -e "$d" ] || continue
		"$CTL" --state-dir "$d" cleanup --force >/dev/null 2>&1
		# If the CLI could not, take the pins down by hand: unpinning
		# the links detaches the programs.
		[ -e "$d" ] && rm -rf "$d"
	done
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		# A process still in a test cgroup is one the test lost track
		# of (a server started through a subshell, say): kill it, and
		# remember it so that check_nothing_left fails. Then the
		# cgroups, deepest first.
		while read -r d; do
			while read -r pid; do
				[ "$pid" = $$ ] && continue
				NA_STRAYS+=("$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)")
				kill -KILL "$pid" 2>/dev/null
			done <"$d/cgroup.procs"
		done < <(find "$CG" -depth -type d)
		find "$CG" -depth -type d | while read -r d; do
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				rmdir "$d" 2>/dev/null && break
				[ -d "$d" ] || break
				sleep 0.05
			done
		done
	fi
	[ -n "$NA_TMP" ] && rm -rf "$NA_TMP"
	return 0
}

# Whether anything this test made is still there (checks what na_cleanup
# removes; call it after na_cleanup).
check_nothing_left() {
	local left pid

	begin "nothing is left behind"
	left=$(find /sys/fs/bpf -maxdepth 1 -name "$NAME*")
	[ -z "$left" ] || why "left in /sys/fs/bpf: $left"
	if [ -n "$CGROOT" ]; then
		left=$(find "$CGROOT" -name "$NAME*" 2>/dev/null)
		[ -z "$left" ] || why "left below $CGROOT: $left"
	fi
	left=$(ls -d /tmp/"$NAME"* 2>/dev/null)
	[ -z "$left" ] || why "left in /tmp: $left"
	for pid in "${NA_ALL_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && why "process $pid is still running"
	done
	for pid in "${NA_STRAYS[@]}"; do
		why "process $pid was still in the test's cgroup (killed)"
	done
	end
}

# Remove everything now, check that nothing is left, print the plan.
na_done() {
	na_cleanup
	check_nothing_left
	na_finish
}

# Temporary files only (no root needed): for scripts that test no kernel
# state.
na_setup_tmp() {
	NA_TMP=$(mktemp -d "/tmp/$NAME.XXXXXX") || bail_out "cannot make a temporary directory"
	trap na_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Root, a scratch cgroup $CG (= $CGROOT/$REL), a private state directory $SD
# that does not exist yet.
na_setup() {
	local fstype

	[ "$(id -u)" = 0 ] || skip_all "needs root (real cgroups and bpffs)"
	# The interpreter itself, not a wrapper such as a pyenv shim, which
	# takes ten times as long to start.
	PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
	[ -x "$PYTHON" ] || skip_all "needs python3"
	CGROOT=$(cgroup_v2_root)
	[ -n "$CGROOT" ] || skip_all "no cgroup v2 hierarchy is mounted"
	fstype=$(stat -f -c %T /sys/fs/bpf 2>/dev/null)
	# Never mount bpffs for a test: that would change the host.
	[ "$fstype" = bpf_fs ] || skip_all "/sys/fs/bpf is not a bpffs mount"

	na_setup_tmp
	REL=$NAME
	CG=$CGROOT/$REL
	SD=/sys/fs/bpf/$NAME
	NA_STATE_DIRS+=("$SD")
	# A command that forgot --state-dir still stays in our directory.
	export NETACCEL_STATE_DIR=$SD
	mkdir "$CG" || bail_out "cannot create the scratch cgroup $CG"
}
