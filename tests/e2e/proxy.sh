#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# netaccel-proxy in front of real servers, over loopback only: nginx (a
# private configuration serving files of 0 B, 1 B, 100 KiB and 8 MiB, and
# taking PUT uploads) and redis-server (a private configuration, no
# persistence). For each path (--mode kernel, splice and copy, and auto
# once): every file fetched intact over new and kept-alive connections, a
# 4 MiB upload intact, wrk without a socket error or a non-2xx answer,
# clients that connect and close at once, redis-benchmark, a 1 MiB value
# set and read back intact, the counters (SIGUSR1) showing the
# connections on that path, and SIGTERM ending the proxy once every
# connection has, each accounted for. Mode auto also listens on ::1, and
# shows that SIGTERM stops accepting and waits for a live connection.
# Then: a backend that refuses is left out (round robin goes on with the
# other) and tried again after --down-time, a second SIGTERM does not
# wait, no backend at all closes the client; as nobody, the proxy falls
# back to splice(2) in mode auto and says why, takes the kernel path with
# the capabilities its systemd unit gives, and refuses each connection in
# mode kernel without them. Every wait is bounded. The scratch cgroup is
# not enrolled: the servers and the proxy run in it only so that none can
# be left behind.
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
{ id -u nobody && getent group nogroup; } >/dev/null 2>&1 ||
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


# ---- the proxy ----

# proxy_start <log> [--unprivileged|--unit-caps] <options...>: start
# netaccel-proxy on the private state directory in the scratch cgroup; as
# nobody:nogroup without a capability with --unprivileged, with the
# ambient capabilities netaccel-proxy.service gives with --unit-caps. Wait
# until it says it listens. The proxy is not in NA_PIDS: stop_started
# would wait for it without a bound (SIGTERM waits for live connections);
# proxy_stop bounds that, and the EXIT trap kills it.
UNIT_CAPS=+bpf,+net_admin,+perfmon
proxy_start() {
	local log=$1 as=()
	shift
	case $1 in
	--unprivileged)
		as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
		shift ;;
	--unit-caps)
		as=(setpriv --reuid=nobody --regid=nogroup --clear-groups
			--inh-caps="$UNIT_CAPS" --ambient-caps="$UNIT_CAPS")
		shift ;;
	esac
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
	ended) re=' ([0-9]+) ended \(' ;;
	refused) re=' ([0-9]+) refused ' ;;
	kernel) re='paths kernel ([0-9]+),' ;;
	splice) re=', splice ([0-9]+),' ;;
	copy) re=', copy ([0-9]+) \(' ;;
	kernel_bytes) re=' ([0-9]+) by the kernel;' ;;
	offpath) re='\(([0-9]+) not on the mode' ;;
	moved) re=' ([0-9]+) moved to the kernel' ;;
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
# proxy_wait: until the proxy, told to stop already, ends by itself
# (10 s at most); its status in PX_RC and its last counters in CNT.
proxy_wait() {
	local pid=$PX_PID

	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && return 1
	wait "$pid" 2>/dev/null
	PX_RC=$?
	PX_PID=
	CNT=$(grep '^netaccel-proxy: connections .* accepted, ' "$PX_LOG" | tail -1)
}

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
nginx_conf "$nport" 1024 '        location /up/ {
            dav_methods PUT;
            client_max_body_size 16m;
        }' || bail_out "cannot write nginx's configuration"
server_to "$NA_TMP/nginx.log" nginx -c "$NA_TMP/nginx.conf" -e "$NA_TMP/nginx/error.log"
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
server_to "$NA_TMP/redis.log" redis-server "$NA_TMP/redis.conf"
wait_port "$rport" || bail_out "redis-server did not listen on $rport: $(tail -3 "$NA_TMP/redis.log")"

# ---- through the proxy ----

# fetch_all <url base>: every file, three times, a connection each;
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

# A client that closed its side before the proxy had a backend for it
# (wrk's first connection, which only checks that the address connects)
# cannot take the kernel path: --mode kernel and auto splice it (-v says
# so). Lines of the log of connections that could not be spliced at all,
# for that reason and for others.
CLOSED_EARLY="a socket's peer has closed its side already"
unfit_lines() { grep -c "^netaccel-proxy: $1: $CLOSED_EARLY" "$PX_LOG"; }
other_lines() { grep "^netaccel-proxy: $1: " "$PX_LOG" | grep -v "$CLOSED_EARLY"; }

# on_path <mode> <at least> [moved]: the counters (SIGUSR1) show at least
# that many connections on the path of <mode> and none on another, and no
# backend failure. Mode auto: the copy loop first, with its reason in the
# log (-v), splice(2) for bulk, and the kernel path for those that moved
# to it (with "moved": at least one did).
on_path() {
	local p=$1 o n

	if ! proxy_counters; then
		why "no counters line after SIGUSR1: $(log_tail)"
		return
	fi
	if [ "$p" = auto ]; then
		# Every connection starts on the copy loop (or splice(2),
		# on a route known for bulk) and says why; bulk moves to
		# splice(2), request and response to the kernel path
		# (redis-benchmark's: $3 = moved).
		local all=$(($(cnt kernel) + $(cnt splice) + $(cnt copy)))

		[ "$all" -ge "$2" ] || why "$all connections on a path, expected at least $2: $CNT"
		[ "$(cnt kernel)" = "$(cnt moved)" ] || why "connections that started on the kernel path: $CNT"
		if [ "${3:-}" = moved ]; then
			at_least moved 1
			n=$(grep -c '^netaccel-proxy: connection moved to the kernel path$' "$PX_LOG")
			[ "$n" = "$(cnt moved)" ] || why "$n of $(cnt moved) moved connections say so: $CNT"
		fi
		n=$(grep -Ec '^netaccel-proxy: connection on the (copy|splice) path: ' "$PX_LOG")
		[ "$n" = "$all" ] || why "$n of $all connections say why they started off the kernel path: $CNT"
		diag "auto: why not the kernel path: $(grep -E '^netaccel-proxy: connection on the (copy|splice) path: ' "$PX_LOG" |
			sed 's/.*path: //' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
	else
		# --mode <p> takes the next path for a connection that
		# <p> cannot take (a client that closed early), with -v
		# saying so; never for another reason here.
		at_least "$p" "$2"
		n=0
		for o in kernel splice copy; do
			[ "$o" = "$p" ] || n=$((n + $(cnt "$o")))
		done
		[ "$n" = "$(cnt offpath)" ] || why "$n connections not on the $p path, counted $(cnt offpath): $CNT"
		o=$(grep -c "^netaccel-proxy: connection not on the $p path ($CLOSED_EARLY" "$PX_LOG")
		[ "$o" = "$n" ] || why "$o of $n connections not on the $p path say that their client closed early: $(log_tail)"
	fi
	case $p${3:-} in kernel|automoved) at_least kernel_bytes 1 ;; esac
	exactly refused 0
	exactly backend_failures 0
}

# http_checks <mode> <proxy port>: through a proxy in front of nginx.
http_checks() {
	local mode=$1 base=http://127.0.0.1:$2 reqs

	begin "$mode: every file fetched intact through the proxy, new connections and keep-alive"
	fetch_all "$base"
	end

	begin "$mode: a 4 MiB PUT through the proxy arrives intact"
	rm -f "$NA_TMP/www/up/$mode"
	if ! timeout 60 curl -sSf -T "$NA_TMP/upload" "$base/up/$mode" -o /dev/null 2>"$NA_TMP/curl.err"; then
		why "the upload failed: $(head -1 "$NA_TMP/curl.err")"
	elif ! cmp -s "$NA_TMP/upload" "$NA_TMP/www/up/$mode"; then
		why "what nginx stored differs from what was sent"
	fi
	end

	begin "$mode: wrk for 3 s with 8 connections: no socket error, every answer 2xx"
	timeout 60 wrk -t 2 -c 8 -d 3s "$base/100k" >"$NA_TMP/wrk.out" 2>&1 ||
		why "wrk failed: $(tail -3 "$NA_TMP/wrk.out")"
	reqs=$(sed -En 's/^ *([0-9]+) requests in .*/\1/p' "$NA_TMP/wrk.out")
	[ "${reqs:-0}" -gt 0 ] || why "wrk made no request: $(tail -3 "$NA_TMP/wrk.out")"
	# wrk prints these lines only when there was one.
	grep -q 'Socket errors' "$NA_TMP/wrk.out" && why "wrk: $(grep 'Socket errors' "$NA_TMP/wrk.out")"
	grep -q 'Non-2xx' "$NA_TMP/wrk.out" && why "wrk: $(grep 'Non-2xx' "$NA_TMP/wrk.out")"
	end
	diag "$mode: wrk: $(grep -E 'Requests/sec|Transfer/sec' "$NA_TMP/wrk.out" | tr -s ' ' | tr '\n' ' ')"

	# 12 + 1 fetches, the upload and wrk's 8.
	begin "$mode: the counters (SIGUSR1) show the connections on the expected path"
	on_path "$mode" 22
	end

	# A client may be gone before the proxy has its backend (wrk's
	# first connection is one): its connection must end all the same.
	begin "$mode: 20 clients that connect and close at once: every connection ends"
	"$PYTHON" -c '
import socket, sys
for _ in range(20):
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10).close()' "$2" ||
		why "the clients could not connect"
	for _ in $(seq 50); do
		proxy_counters && [ "$(cnt live)" = 0 ] && break
		sleep 0.1
	done
	exactly live 0
	end
}

# redis_checks <mode> <proxy port>: through a proxy in front of redis.
redis_checks() {
	local mode=$1 port=$2 r

	begin "$mode: redis-benchmark -n 20000 -t set,get -d 1000 through the proxy"
	timeout 120 redis-benchmark -h 127.0.0.1 -p "$port" -q -n 20000 -t set,get -d 1000 \
		>"$NA_TMP/rb.out" 2>&1 ||
		why "redis-benchmark failed: $(tr '\r' '\n' <"$NA_TMP/rb.out" | tail -3)"
	tr '\r' '\n' <"$NA_TMP/rb.out" >"$NA_TMP/rb.lines"
	grep -Eq '^SET: [0-9.]+ requests per second' "$NA_TMP/rb.lines" || why "no SET result"
	grep -Eq '^GET: [0-9.]+ requests per second' "$NA_TMP/rb.lines" || why "no GET result"
	grep -Eiq 'error|refused|reset' "$NA_TMP/rb.lines" &&
		why "redis-benchmark: $(grep -Ei 'error|refused|reset' "$NA_TMP/rb.lines" | head -1)"
	end
	diag "$mode: redis-benchmark: $(grep -E '^(SET|GET): [0-9.]+ requests' "$NA_TMP/rb.lines" | tr -s ' ' | tr '\n' ' ')"

	begin "$mode: a 1 MiB random value SET and GET back through the proxy, intact"
	if ! r=$(timeout 60 redis-cli -h 127.0.0.1 -p "$port" -x SET "value-$mode" <"$NA_TMP/value" 2>&1) ||
		[ "$r" != OK ]; then
		why "SET failed: $r"
	elif ! timeout 60 redis-cli -h 127.0.0.1 -p "$port" --raw GET "value-$mode" >"$NA_TMP/got" 2>&1; then
		why "GET failed: $(head -c 200 "$NA_TMP/got")"
	elif ! head -c -1 "$NA_TMP/got" | cmp -s - "$NA_TMP/value"; then
		# (--raw ends the value with a newline)
		why "the value read back differs ($(stat -c %s "$NA_TMP/got") bytes with the newline)"
	fi
	end

	# redis-benchmark's 50 connections per test, redis-cli's 2.
	begin "$mode: the counters (SIGUSR1) show the redis connections on the expected path"
	on_path "$mode" 52 moved
	end
}

# stopped <what>: SIGTERM ends the proxy by itself, every connection
# having ended: status 0, the counters at exit; each connection it
# accepted ended, was refused (no backend) or could not be spliced, and
# that only because its client had closed already.
stopped() {
	begin "$1: SIGTERM ends the proxy with status 0 and its counters"
	proxy_stop || why "it did not end within 10 s of SIGTERM: $(log_tail)"
	[ "$PX_RC" = 0 ] || why "exit status $PX_RC: $(log_tail)"
	accounted
	end
	diag "$1: $CNT"
}

# accounted: why not, if the counters at exit (CNT) leave a connection
# unaccounted for.
accounted() {
	local unfit

	unfit=$(unfit_lines "cannot splice a connection")
	if [ -z "$CNT" ]; then
		why "no counters line at exit: $(log_tail)"
	else
		exactly live 0
		[ "$(cnt accepted)" = "$(($(cnt ended) + $(cnt refused) + unfit))" ] ||
			why "accepted is not ended + refused + $unfit not spliced: $CNT"
	fi
	[ -z "$(other_lines "cannot splice a connection")" ] ||
		why "$(other_lines "cannot splice a connection" | head -1)"
}

# unlistened <port>: until nothing listens there (10 s at most).
unlistened() {
	for _ in $(seq 200); do
		[ -z "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	return 1
}

# hold <port> <file>: a client that sends a request through the proxy,
# reads the start of the answer and keeps its connection open, idle.
# HOLD_PID: it (in NA_PIDS: cleanup stops it).
hold() {
	server_to "$2" "$PYTHON" -u -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /1b HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(4096)
print("holding")
time.sleep(600)' "$1"
	HOLD_PID=$!
	for _ in $(seq 200); do
		grep -q holding "$2" && return 0
		kill -0 "$HOLD_PID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}
unhold() {
	kill "$HOLD_PID" 2>/dev/null
	wait "$HOLD_PID" 2>/dev/null
}

# A free port on ::1, or nothing where IPv6 is off.
free_port6() { "$PYTHON" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])' 2>/dev/null; }

# ---- each path, as root ----

for mode in kernel splice copy auto; do
	pport=$(free_port)
	p6=
	listen=(-l "127.0.0.1:$pport")
	if [ "$mode" = auto ]; then
		p6=$(free_port6)
		[ -n "$p6" ] && listen+=(-l "[::1]:$p6")
	fi
	begin "$mode: netaccel-proxy starts in front of nginx"
	proxy_start "$NA_TMP/proxy-$mode-http.log" --mode "$mode" -v "${listen[@]}" -b "127.0.0.1:$nport" ||
		why "it did not say that it listens: $(log_tail)"
	grep -q "mode $mode\$" "$PX_LOG" || why "its first line does not say mode $mode: $(log_tail)"
	end || { proxy_kill; continue; }
	http_checks "$mode" "$pport"

	if [ "$mode" = auto ]; then
		if [ -n "$p6" ]; then
			begin "auto: a listen address on ::1 forwards to the backend on 127.0.0.1"
			fetch_all "http://[::1]:$p6"
			end
		else
			skip "auto: a listen address on ::1 forwards to the backend on 127.0.0.1" "no IPv6 on loopback"
		fi

		begin "auto: after SIGTERM with a connection live, it accepts no more and ends once that one has"
		if hold "$pport" "$NA_TMP/hold.out"; then
			kill -TERM "$PX_PID"
			unlistened "$pport" || why "it still listens 10 s after SIGTERM"
			kill -0 "$PX_PID" 2>/dev/null || why "it ended at once, with a connection live"
			timeout 10 curl -sS -o /dev/null "http://127.0.0.1:$pport/1b" 2>/dev/null &&
				why "it still accepted a connection"
			unhold
			# a second SIGTERM would end it at once: wait
			proxy_wait || { why "it did not end within 10 s of its live connection: $(log_tail)"; proxy_stop; }
			[ "$PX_RC" = 0 ] || why "exit status $PX_RC"
			accounted
		else
			why "the idle client did not get through: $(cat "$NA_TMP/hold.out")"
			proxy_kill
		fi
		end
		diag "auto: $CNT"
	else
		stopped "$mode, nginx"
	fi

	rpport=$(free_port)
	begin "$mode: netaccel-proxy starts in front of redis-server"
	proxy_start "$NA_TMP/proxy-$mode-redis.log" --mode "$mode" -v \
		-l "127.0.0.1:$rpport" -b "127.0.0.1:$rport" || why "it did not say that it listens: $(log_tail)"
	end || { proxy_kill; continue; }
	redis_checks "$mode" "$rpport"
	stopped "$mode, redis"
done

# ---- backends that refuse ----

closed=$(free_port)
closed2=$(free_port)
pport=$(free_port)
begin "a backend that refuses is left out: 10 requests, all answered by the other"
if proxy_start "$NA_TMP/proxy-down.log" -v -l "127.0.0.1:$pport" \
	-b "127.0.0.1:$closed" -b "127.0.0.1:$nport"; then
	for i in $(seq 10); do
		if ! timeout 30 curl -sSf "http://127.0.0.1:$pport/100k" >"$NA_TMP/got" 2>"$NA_TMP/curl.err"; then
			why "request $i failed: $(head -1 "$NA_TMP/curl.err")"
		elif [ "$(sha256sum <"$NA_TMP/got")" != "${SUM[100k]}" ]; then
			why "answer $i differs"
		fi
	done
	if proxy_counters; then
		at_least backend_failures 1
		exactly refused 0
		at_least accepted 10
	else
		why "no counters line after SIGUSR1: $(log_tail)"
	fi
	grep -q "backend 127.0.0.1:$closed: Connection refused" "$PX_LOG" ||
		why "the log does not say that 127.0.0.1:$closed refused: $(log_tail)"
else
	why "it did not start: $(log_tail)"
fi
end
stopped "one backend down"

begin "--down-time 100: the backend that refused is tried again once that time has passed"
if proxy_start "$NA_TMP/proxy-downtime.log" --down-time 100 -l "127.0.0.1:$pport" \
	-b "127.0.0.1:$closed" -b "127.0.0.1:$nport"; then
	for i in 1 2 3 4; do
		timeout 30 curl -sSf -o /dev/null "http://127.0.0.1:$pport/1b" 2>"$NA_TMP/curl.err" ||
			why "request $i failed: $(head -1 "$NA_TMP/curl.err")"
		sleep 0.3
	done
	if proxy_counters; then
		at_least backend_failures 2
		exactly refused 0
	else
		why "no counters line after SIGUSR1: $(log_tail)"
	fi
else
	why "it did not start: $(log_tail)"
fi
end

begin "a second SIGTERM ends the proxy at once, with a connection live"
if [ -z "$PX_PID" ]; then
	why "no proxy running"
elif hold "$pport" "$NA_TMP/hold2.out"; then
	kill -TERM "$PX_PID"
	unlistened "$pport" || why "it still listens 10 s after SIGTERM"
	kill -0 "$PX_PID" 2>/dev/null || why "the first SIGTERM ended it, with a connection live"
	kill -TERM "$PX_PID"
	for _ in $(seq 100); do
		kill -0 "$PX_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$PX_PID" 2>/dev/null && why "it still runs 5 s after the second SIGTERM"
	proxy_stop
	[ "$PX_RC" = 0 ] || why "exit status $PX_RC"
	[ -n "$CNT" ] || why "no counters line at exit: $(log_tail)"
	unhold
else
	why "the idle client did not get through: $(cat "$NA_TMP/hold2.out")"
fi
proxy_kill
end

begin "no backend takes the connection: the client is closed, the proxy goes on"
if proxy_start "$NA_TMP/proxy-none.log" -l "127.0.0.1:$pport" \
	-b "127.0.0.1:$closed" -b "127.0.0.1:$closed2"; then
	timeout 30 curl -sS -m 20 -o /dev/null "http://127.0.0.1:$pport/1b" 2>/dev/null &&
		why "curl got an answer from no backend"
	if proxy_counters; then
		at_least refused 1
		at_least backend_failures 2
	else
		why "no counters line after SIGUSR1: $(log_tail)"
	fi
	kill -0 "$PX_PID" 2>/dev/null || why "the proxy ended"
else
	why "it did not start: $(log_tail)"
fi
end
stopped "no backend"

# ---- unprivileged ----

# The privilege to load BPF programs is the kernel path's: a proxy that has
# it not falls back to splice(2) in mode auto and says why, and in mode
# kernel refuses each connection.
for mode in auto splice copy; do
	path=$mode
	[ "$mode" = auto ] && path="copy and splice"
	begin "unprivileged, --mode $mode: every file intact, on the $path path"
	if proxy_start "$NA_TMP/proxy-nobody-$mode.log" --unprivileged --mode "$mode" -v \
		-l "127.0.0.1:$pport" -b "127.0.0.1:$nport"; then
		uid=$(awk '/^Uid:/ { print $2 }' "/proc/$PX_PID/status" 2>/dev/null)
		[ "$uid" = "$(id -u nobody)" ] || why "it runs as uid $uid, not nobody's"
		fetch_all "http://127.0.0.1:$pport"
		on_path "$mode" 13
		if [ "$mode" = auto ]; then
			# Each connection says why not the kernel path.
			[ "$(grep -Ec 'connection on the (copy|splice) path: .*privilege' "$PX_LOG")" = "$(($(cnt splice) + $(cnt copy)))" ] ||
				why "not every connection's line says that the privilege is missing: $(log_tail)"
			at_least splice 1
			exactly kernel 0
		fi
	else
		why "it did not start: $(log_tail)"
	fi
	end
	stopped "unprivileged, $mode"
done

# What netaccel-proxy.service gives it: a user that is not root, with
# CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON ambient.
begin "as nobody with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (as its systemd unit runs it): the kernel path"
if proxy_start "$NA_TMP/proxy-nobody-caps.log" --unit-caps --mode kernel -v \
	-l "127.0.0.1:$pport" -b "127.0.0.1:$nport"; then
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$PX_PID/status" 2>/dev/null)
	[ "$uid" = "$(id -u nobody)" ] || why "it runs as uid $uid, not nobody's"
	fetch_all "http://127.0.0.1:$pport"
	on_path kernel 13
else
	why "it did not start: $(log_tail)"
fi
end
stopped "nobody with the unit's capabilities"

begin "unprivileged, --mode kernel: each connection takes splice(2) instead, and -v says why"
if proxy_start "$NA_TMP/proxy-nobody-kernel.log" --unprivileged --mode kernel -v \
	-l "127.0.0.1:$pport" -b "127.0.0.1:$nport"; then
	timeout 30 curl -sSf -m 20 -o "$NA_TMP/got" "http://127.0.0.1:$pport/100k" 2>/dev/null ||
		why "curl got no answer"
	[ "$(sha256sum <"$NA_TMP/got")" = "${SUM[100k]}" ] || why "the file differs"
	grep -q 'not on the kernel path (.*privilege' "$PX_LOG" ||
		why "the log does not say that it lacks the privilege: $(log_tail)"
	if proxy_counters; then
		exactly kernel 0
		at_least splice 1
		exactly errors 0
	else
		why "no counters line after SIGUSR1: $(log_tail)"
	fi
	kill -0 "$PX_PID" 2>/dev/null || why "the proxy ended"
	proxy_stop || why "it did not end within 10 s of SIGTERM"
	[ "$PX_RC" = 0 ] || why "exit status $PX_RC"
else
	why "it did not start: $(log_tail)"
fi
end

proxy_kill
na_done
