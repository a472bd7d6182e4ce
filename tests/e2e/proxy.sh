#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# netaccel-proxy in front of real servers, over loopback only: nginx (a
# private configuration serving files of 0 B, 1 B, 100 KiB and 8 MiB, and
# taking PUT uploads) and redis-server (a private configuration, no
# persistence). For each path (--mode kernel, splice and copy, and auto
# once): every file fetched intact over new and kept-alive connections, a
# 4 MiB upload intact, wrk without a socket error or a non-2xx answer,
# redis-benchmark, a 1 MiB value set and read back intact, and the
# counters (SIGUSR1) showing the connections on that path. Then: a backend
# that refuses is left out (round robin goes on with the other), no
# backend at all closes the client, SIGTERM waits for the live
# connections and a second one does not, and the proxy run as an
# unprivileged user falls back to splice(2) and says why. Every wait is
# bounded. The scratch cgroup is not enrolled: the servers and the proxy
# run in it only so that none can be left behind.
. "${BASH_SOURCE[0]%/*}/lib.sh"

PROXY=${NETACCEL_PROXY:?NETACCEL_PROXY must name the netaccel-proxy to test}

na_setup

# CI installs all of these (scripts/install-deps): a missing one fails the
# test, it does not skip it.
missing=()
for p in nginx redis-server redis-cli redis-benchmark curl wrk setpriv ss sha256sum; do
	command -v "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] ||
	bail_out "missing programs: ${missing[*]} (scripts/install-deps installs them)"
id -u nobody >/dev/null 2>&1 && getent group nogroup >/dev/null 2>&1 ||
	bail_out "no user nobody or no group nogroup to run the proxy unprivileged as"

PX_PID=		# the proxy running now
PX_LOG=		# its stderr
PX_RC=		# the exit status of the last one stopped
CNT=		# its last counters line
proxy_kill() {
	[ -n "$PX_PID" ] && kill -KILL "$PX_PID" 2>/dev/null && wait "$PX_PID" 2>/dev/null
	PX_PID=
}
trap 'proxy_kill; na_cleanup' EXIT

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 200); do
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	return 1
}
# server <log> <command...>: start it in the scratch cgroup, remembered for
# cleanup (sh execs it, so $! is the program itself).
server() {
	local log=$1
	shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@" </dev/null >>"$log" 2>&1 &
	NA_PIDS+=($!)
	NA_ALL_PIDS+=($!)
}

# ---- the proxy ----

# proxy_start <log> [--unprivileged] <options...>: start netaccel-proxy on
# the private state directory in the scratch cgroup, as nobody with
# --unprivileged; wait until it says it listens. The proxy is not in
# NA_PIDS: stop_started would wait for it without a bound (SIGTERM waits
# for live connections); proxy_stop bounds that, and the EXIT trap kills it.
proxy_start() {
	local log=$1 as=()
	shift
	if [ "$1" = --unprivileged ]; then
		as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
		shift
	fi
	: >"$log"
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "${as[@]}" \
		"$PROXY" --state-dir "$SD" "$@" </dev/null >>"$log" 2>&1 &
	PX_PID=$!
	PX_LOG=$log
	NA_ALL_PIDS+=("$PX_PID")
	for _ in $(seq 200); do
		grep -q '^netaccel-proxy: listening on ' "$log" && return 0
		kill -0 "$PX_PID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

# The lines of the proxy's log that are counters.
counter_lines() { grep -c '^netaccel-proxy: connections .* accepted, ' "$PX_LOG"; }

# proxy_counters: SIGUSR1, then its new counters line in CNT.
proxy_counters() {
	local n

	n=$(counter_lines)
	CNT=
	kill -USR1 "$PX_PID" 2>/dev/null || return 1
	for _ in $(seq 100); do
		if [ "$(counter_lines)" -gt "$n" ]; then
			CNT=$(grep '^netaccel-proxy: connections .* accepted, ' "$PX_LOG" | tail -1)
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# cnt <name>: a number of the counters line in CNT ("" if not there).
cnt() {
	local re

	case $1 in
	accepted) re='connections ([0-9]+) accepted' ;;
	live) re=' ([0-9]+) live,' ;;
	ended) re=' ([0-9]+) ended,' ;;
	refused) re=' ([0-9]+) refused ' ;;
	kernel) re='paths kernel ([0-9]+),' ;;
	splice) re=', splice ([0-9]+),' ;;
	copy) re=', copy ([0-9]+);' ;;
	kernel_bytes) re=' ([0-9]+) by the kernel;' ;;
	backend_failures) re='backend failures ([0-9]+);' ;;
	errors) re='; errors ([0-9]+)$' ;;
	esac
	sed -En "s/.*$re.*/\\1/p" <<<"$CNT"
}

# at_least <name> <n>: why not, if the counter is below n.
at_least() {
	local v

	v=$(cnt "$1")
	[ "${v:-0}" -ge "$2" ] || why "$1 is ${v:-missing}, expected at least $2: $CNT"
}
exactly() {
	local v

	v=$(cnt "$1")
	[ "$v" = "$2" ] || why "$1 is ${v:-missing}, expected $2: $CNT"
}

# proxy_stop: SIGTERM, then wait (10 s at most) for it to end on its own:
# every connection has ended by now. Then a second SIGTERM and SIGKILL, so
# that the test never hangs. PX_RC: its exit status; the last counters
# line in CNT. Fails when it did not end by itself in time.
proxy_stop() {
	local pid=$PX_PID ended=1

	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		ended=0
		kill -TERM "$pid" 2>/dev/null
		sleep 1
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	PX_RC=$?
	PX_PID=
	CNT=$(grep '^netaccel-proxy: connections .* accepted, ' "$PX_LOG" | tail -1)
	[ "$ended" = 1 ]
}

# The end of the log, for a reason.
log_tail() { tail -5 "$PX_LOG" | tr '\n' '|'; }

# ---- the servers ----

mkdir -p "$NA_TMP/www/up" "$NA_TMP/nginx" "$NA_TMP/redis" || bail_out "cannot make directories in $NA_TMP"
: >"$NA_TMP/www/0b"
head -c 1 /dev/urandom >"$NA_TMP/www/1b"
head -c $((100 * 1024)) /dev/urandom >"$NA_TMP/www/100k"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$NA_TMP/www/8m"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$NA_TMP/upload"
head -c $((1024 * 1024)) /dev/urandom >"$NA_TMP/value"
FILES="0b 1b 100k 8m"
declare -A SUM
for f in $FILES; do
	SUM[$f]=$(sha256sum <"$NA_TMP/www/$f")
done
SUM[all]=$(for f in $FILES; do cat "$NA_TMP/www/$f"; done | sha256sum)

nport=$(free_port)
cat >"$NA_TMP/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $NA_TMP/nginx/nginx.pid;
error_log $NA_TMP/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NA_TMP/nginx/body;
    proxy_temp_path $NA_TMP/nginx/proxy;
    fastcgi_temp_path $NA_TMP/nginx/fastcgi;
    uwsgi_temp_path $NA_TMP/nginx/uwsgi;
    scgi_temp_path $NA_TMP/nginx/scgi;
    sendfile on;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nport;
        root $NA_TMP/www;
        location /up/ {
            dav_methods PUT;
            client_max_body_size 16m;
        }
    }
}
EOF
server "$NA_TMP/nginx.log" nginx -c "$NA_TMP/nginx.conf" -e "$NA_TMP/nginx/error.log"
wait_port "$nport" ||
	bail_out "nginx did not listen on $nport: $(tail -3 "$NA_TMP/nginx/error.log" "$NA_TMP/nginx.log" 2>/dev/null)"

rport=$(free_port)
cat >"$NA_TMP/redis.conf" <<EOF
port $rport
bind 127.0.0.1
protected-mode yes
daemonize no
save ""
appendonly no
dir $NA_TMP/redis
logfile ""
EOF
server "$NA_TMP/redis.log" redis-server "$NA_TMP/redis.conf"
wait_port "$rport" || bail_out "redis-server did not listen on $rport: $(tail -3 "$NA_TMP/redis.log")"

# ---- through the proxy ----

# fetch_all <url base> <what>: every file, three times, a connection each;
# then all four over one connection (keep-alive).
fetch_all() {
	local base=$1 f rep

	for rep in 1 2 3; do
		for f in $FILES; do
			if ! timeout 60 curl -sSf "$base/$f" >"$NA_TMP/got" 2>"$NA_TMP/curl.err"; then
				why "fetch $rep of $f failed: $(head -1 "$NA_TMP/curl.err")"
			elif [ "$(sha256sum <"$NA_TMP/got")" != "${SUM[$f]}" ]; then
				why "fetch $rep of $f differs ($(stat -c %s "$NA_TMP/got") bytes)"
			fi
		done
	done
	if ! timeout 60 curl -sSf "$base/0b" "$base/1b" "$base/100k" "$base/8m" \
		>"$NA_TMP/got" 2>"$NA_TMP/curl.err"; then
		why "the keep-alive fetch failed: $(head -1 "$NA_TMP/curl.err")"
	elif [ "$(sha256sum <"$NA_TMP/got")" != "${SUM[all]}" ]; then
		why "the keep-alive fetch differs ($(stat -c %s "$NA_TMP/got") bytes)"
	fi
}

