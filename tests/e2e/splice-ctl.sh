#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# netaccel-ctl splice as an administrator types it: enable it for a group,
# watch a proxy of that group without any privilege take the kernel path
# (netaccel-proxy --mode kernel as nobody:nogroup, in front of an echo
# server), read the counters in splice status, status and stats, disable
# it; and nonsense, which changes nothing. enable --group makes the bpffs
# directories above the state searchable by all: their modes are put back
# at the end, also on failure.

. "$(dirname "$0")/lib.sh"

PROXY=${NETACCEL_PROXY:?NETACCEL_PROXY must name the netaccel-proxy to test}

na_setup

BPFFS_MODES=()
restore_modes() {
	local e
	for e in "${BPFFS_MODES[@]}"; do
		chmod "${e%% *}" "${e#* }" 2>/dev/null
	done
	BPFFS_MODES=()
}
trap 'restore_modes; na_cleanup' EXIT
d=$SD
while d=$(dirname "$d") && [ "$d" != / ]; do
	[ "$(stat -f -c %T "$d" 2>/dev/null)" = bpf_fs ] || break
	BPFFS_MODES+=("$(stat -c %a "$d") $d")
done

getent group nogroup >/dev/null || bail_out "needs the group nogroup"

EXPECT_OUT='not enabled' expect_ok "splice status before enable says it is not enabled" \
	na splice status
expect_fail "splice enable --group with an unknown group is refused" 2 \
	na splice enable --group netaccel-no-such-group
expect_fail "an unknown splice subcommand is refused" 2 na splice frobnicate
expect_fail "splice status with an argument is refused" 2 na splice status extra
expect_fail "splice disable takes no --group" 2 na splice disable --group nogroup
expect_fail "splice without a subcommand is refused" 2 na splice

EXPECT_OUT='usable by group nogroup' expect_ok "splice enable --group nogroup" \
	na splice enable --group nogroup
begin "the maps are the group's, read-write"
for m in na_splice_socks na_splice_dirs na_splice_resume na_splice_stats; do
	[ "$(stat -c '%G %a' "$SD/splice/$m" 2>/dev/null)" = "nogroup 660" ] ||
		why "$m: $(stat -c '%G %a' "$SD/splice/$m" 2>&1)"
done
end
EXPECT_OUT='0 pairs spliced now' expect_ok "splice status shows it" na splice status
EXPECT_OUT='nogroup' expect_ok "enabling again keeps it" na splice enable --group nogroup

# An echo server, and the proxy in front of it as nobody:nogroup.
EPORT=$(free_port)
PPORT=$(free_port)
"$PYTHON" -c '
import socket, sys, threading
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(16)
def serve(c):
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.shutdown(socket.SHUT_WR)
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$EPORT" &
NA_PIDS+=($!)
NA_ALL_PIDS+=($!)
# The proxy drops a client whose backend refuses: the echo server first.
wait_port "$EPORT" || echo "# the echo server did not listen on $EPORT"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$PROXY" --listen "127.0.0.1:$PPORT" --backend "127.0.0.1:$EPORT" --mode kernel \
	--state-dir "$SD" -v 2>"$NA_TMP/proxy.log" &
NA_PIDS+=($!)
NA_ALL_PIDS+=($!)
PROXY_PID=$!

begin "through the proxy of nobody, 4 MiB come back intact"
run "$PYTHON" -c '
import hashlib, os, socket, sys, time
port = int(sys.argv[1])
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        break
    except OSError:
        time.sleep(0.05)
data = os.urandom(4 << 20)
got = bytearray()
s.setblocking(True)
import threading
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    got += b
t.join()
print("intact" if bytes(got) == data else "corrupt %d of %d" % (len(got), len(data)))
' "$PPORT"
[ "$OUT" = intact ] || why "the client said: $OUT $ERR"
end

begin "the proxy of nobody took the kernel path"
kill -USR1 "$PROXY_PID"
sleep 0.3
grep -q 'paths kernel 1,' "$NA_TMP/proxy.log" || why "its counters: $(tail -1 "$NA_TMP/proxy.log")"
end
begin "splice status counts the bytes the kernel moved"
run na splice status --json
[ "$(json 'd["splice"]["counters"]["bytes"] > 0' <<<"$OUT")" = True ] || why "$OUT"
end
EXPECT_OUT='proxy splice' expect_ok "status has a line for it" na status
EXPECT_OUT='redirected' expect_ok "stats shows its counters" na stats

# A proxy killed with a live pair cannot take its entries out; its sockets
# leave the sockhash as they close, its two directions stay.
begin "a proxy killed with a live pair: splice status counts its two entries as gone"
"$PYTHON" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"x")
s.recv(1)
open(sys.argv[2], "w").close()
time.sleep(30)
' "$PPORT" "$NA_TMP/held" &
HOLD_PID=$!
NA_PIDS+=("$HOLD_PID")
for _ in $(seq 200); do
	[ -e "$NA_TMP/held" ] && break
	sleep 0.05
done
[ -e "$NA_TMP/held" ] || why "the held connection got no echo"
kill -KILL "$PROXY_PID" 2>/dev/null
wait "$PROXY_PID" 2>/dev/null
kill "$HOLD_PID" 2>/dev/null
wait "$HOLD_PID" 2>/dev/null
run na splice status
grep -q '^  2 direction entries of pairs that are gone' <<<"$OUT" || why "$OUT"
run na splice status --json
[ "$(json 'd["splice"]["stale"] == 2 and d["splice"]["pairs"] == 0' <<<"$OUT")" = True ] || why "$OUT"
end

stop_started
EXPECT_OUT='disabled' expect_ok "splice disable" na splice disable
begin "the pins are gone"
[ ! -e "$SD/splice" ] || why "still there: $(ls "$SD/splice")"
end
EXPECT_OUT='not enabled' expect_ok "splice status after disable" na splice status
EXPECT_OUT='was not enabled' expect_ok "disabling again says so" na splice disable
EXPECT_OUT='usable by root only' expect_ok "splice enable without a group" na splice enable
begin "without a group, the maps are root's alone"
[ "$(stat -c '%G %a' "$SD/splice/na_splice_socks" 2>/dev/null)" = "root 600" ] ||
	why "$(stat -c '%G %a' "$SD/splice/na_splice_socks" 2>&1)"
end
EXPECT_OUT='removed the proxy splice' expect_ok "cleanup removes it" na cleanup
begin "cleanup left nothing of it"
[ ! -e "$SD" ] || why "still there: $(find "$SD" 2>&1 | head -5)"
end
restore_modes

na_done
