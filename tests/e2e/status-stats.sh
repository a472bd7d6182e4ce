#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# What status and stats print: --json parses and holds every enrolled
# cgroup with its mode, the counters are the ones struct na_stats has and
# count a real connection, and stats of a cgroup that is not enrolled fails
# with one line.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup

mkdir "$CG/a" "$CG/b" "$CG/c" || bail_out "cannot create cgroups in $CG"
ida=$(cgid "$CG/a")
idb=$(cgid "$CG/b")

# The counter names, in order, from the ABI header.
abi=${NETACCEL_SOURCE_DIR:-}/bpf/include/netaccel_abi.h
counters=
if [ -r "$abi" ]; then
	counters=$(sed -n '/^#define NA_COUNTER_NAMES/,/^$/p' "$abi" | grep -o '"[a-z_]*"' | tr -d '"' | tr '\n' ' ')
fi

parses() {
	"$PYTHON" -c 'import json, sys; json.load(sys.stdin)' <<<"$OUT"
}

# lists_cgroups <command> <fields> <line>...: na <command> --json exits 0,
# prints nothing on stderr, parses, and lists the cgroups given, each line
# the Python expression fields of cgroup c. False when it does not parse.
lists_cgroups() {
	local cmd=$1 fields=$2 got want
	shift 2

	run na "$cmd" --json
	[ "$RC" = 0 ] || why "exit code $RC"
	[ -z "$ERR" ] || why "something on stderr"
	parses || return 1
	got=$(json "sorted($fields for c in d[\"cgroups\"])" <<<"$OUT")
	want=$(printf '%s\n' "$@" | sort)
	[ "$got" = "$want" ] || why "cgroups: $got"
}

# ---- nothing loaded ----

for c in status stats; do
	begin "$c --json with nothing loaded parses"
	run na "$c" --json
	[ "$RC" = 0 ] || why "exit code $RC"
	[ -z "$ERR" ] || why "something on stderr"
	parses || why "not JSON"
	end
done
EXPECT_MSG="not enrolled" expect_fail "stats <cgroup> with nothing loaded" 1 na stats "$REL/a"
EXPECT_MSG="not enrolled" expect_fail "stats --json <cgroup> with nothing loaded" 1 na stats --json "$REL/a"
# A state directory that is not on bpffs: said, in one line, for status
# as for stats.
notbpf=$(mktemp -d "${TMPDIR:-/tmp}/netaccel-e2e-notbpf.XXXXXX")
for c in status stats; do
	EXPECT_MSG="$notbpf is not on a bpffs mount" expect_fail "$c of a state directory that is not on bpffs" 1 \
		"$CTL" --state-dir "$notbpf" "$c"
done
rmdir "$notbpf"

# ---- two cgroups enrolled ----

run na enroll "$REL/a"
run na enroll --mode opt-in "$REL/b"

begin "status --json parses and lists both cgroups with their modes"
if lists_cgroups status '"%s %s %s %s %s" % (c["path"], c["id"], c["mode"], c["state"], c["links"])' \
	"$REL/a $ida all active ok" "$REL/b $idb opt-in active ok"; then
	[ "$(json 'd["loaded"]' <<<"$OUT")" = True ] || why "loaded is not true"
	[ "$(json 'd["state_dir"]' <<<"$OUT")" = "$SD" ] || why "state_dir is not $SD"
	[ "$(json 'sorted(d["programs"])' <<<"$OUT" | tr '\n' ' ')" = "na_getsockopt na_msg na_setsockopt na_sock_create na_sockops " ] ||
		why "programs are not the five of the bypass"
	[ "$(json 'all(v > 0 for v in d["programs"].values())' <<<"$OUT")" = True ] || why "a program has no id"
	[ "$(json 'sorted(d["features"])' <<<"$OUT" | tr '\n' ' ')" = "bypass portmap veth " ] ||
		why "features are not per datapath: $(json 'sorted(d["features"])' <<<"$OUT")"
	[ "$(json 'all(isinstance(f["present"], bool) and isinstance(f["required"], bool) for v in d["features"].values() for f in v)' <<<"$OUT")" = True ] ||
		why "a feature has no true/false present and required"
	# The bypass is loaded, so nothing it requires can be missing.
	[ -z "$(json '[f["name"] for f in d["features"]["bypass"] if f["required"] and not f["present"]]' <<<"$OUT")" ] ||
		why "the loaded bypass lacks a required feature"
	[ "$(json 'all(f.get("if_missing") for v in d["features"].values() for f in v if not f["required"])' <<<"$OUT")" = True ] ||
		why "an optional feature does not say what its absence means"
else
	why "not JSON"
fi
end

# The receive watch is what lets the bypass redirect at all.
begin "status lists the protections and which are active"
# Where the kernel's FIONREAD leaves out redirected bytes, the fionread
# protection too (an fentry program: this suite's kernels allow them).
want="blocking rxwatch" active="True True "
fionread_gap && want="blocking rxwatch fionread" active="True True True "
run na status --json
if parses; then
	[ "$(json '" ".join(p["name"] for p in d["protections"])' <<<"$OUT")" = "$want" ] ||
		why "protections: $(json 'd["protections"]' <<<"$OUT"), expected $want"
	[ "$(json '[p["active"] for p in d["protections"]]' <<<"$OUT" | tr '\n' ' ')" = "$active" ] ||
		why "not all of $want are active"
else
	why "not JSON"
fi
run na status
grep -q "^  rxwatch  active " <<<"$OUT" || why "status text does not show the receive watch active"
end

# The suite says this CPU copies fast (NETACCEL_COPY_SLOW=0): no slowcopy
# above. Programs loaded where it copies slowly list it.
begin "status lists the slowcopy protection where the programs were loaded for a CPU that copies slowly"
SD2=$(extra_state_dir slowcopy)
NETACCEL_COPY_SLOW=1 "$CTL" --state-dir "$SD2" enroll "$REL/c" >/dev/null 2>&1 || why "cannot enroll $REL/c"
run "$CTL" --state-dir "$SD2" status --json
if parses; then
	[ "$(json '" ".join(p["name"] for p in d["protections"] if p["active"])' <<<"$OUT")" = "$want slowcopy" ] ||
		why "protections: $(json 'd["protections"]' <<<"$OUT"), expected $want slowcopy"
else
	why "not JSON"
fi
"$CTL" --state-dir "$SD2" cleanup >/dev/null 2>&1 || why "cannot clean $SD2 up"
end

begin "stats --json parses and lists both cgroups with their modes and every counter"
if lists_cgroups stats '"%s %s %s %s" % (c["path"], c["id"], c["mode"], c["state"])' \
	"$REL/a $ida all active" "$REL/b $idb opt-in active"; then
	if [ -n "$counters" ]; then
		[ "$(json '" ".join(d["total"]) + " "' <<<"$OUT")" = "$counters" ] ||
			why "total does not have the counters of struct na_stats, in order"
		[ "$(json 'set(" ".join(c["counters"]) + " " for c in d["cgroups"])' <<<"$OUT")" = "{'$counters'}" ] ||
			why "a cgroup does not have the counters of struct na_stats, in order"
	fi
	[ "$(json 'all(isinstance(v, int) and v >= 0 for v in d["total"].values())' <<<"$OUT")" = True ] ||
		why "a counter is not a non-negative integer"
else
	why "not JSON"
fi
end

begin "stats --json <cgroup> has only that cgroup"
run na stats --json "$REL/b"
[ "$RC" = 0 ] || why "exit code $RC"
if parses; then
	[ "$(json '[c["path"] + " " + c["mode"] for c in d["cgroups"]]' <<<"$OUT")" = "$REL/b opt-in" ] ||
		why "expected only $REL/b in mode opt-in"
else
	why "not JSON"
fi
end

begin "stats <cgroup> prints the cgroup, its mode and every counter"
run na stats "$CG/a"
[ "$RC" = 0 ] || why "exit code $RC"
[ -z "$ERR" ] || why "something on stderr"
grep -q "^$REL/a (id $ida, mode all, active" <<<"$OUT" || why "no header line for $REL/a"
for n in $counters; do
	grep -Eq "^  $n +[0-9]+$" <<<"$OUT" || why "no counter $n"
done
end

begin "status lists both cgroups with their modes"
run na status
[ "$RC" = 0 ] || why "exit code $RC"
grep -Eq "^$REL/a +$ida +all +active +0 +ok$" <<<"$OUT" || why "no line for $REL/a"
grep -Eq "^$REL/b +$idb +opt-in +active +0 +ok$" <<<"$OUT" || why "no line for $REL/b"
end

begin "status names the features of each datapath and what is weaker without them"
run na status
kline=$(grep "^kernel " <<<"$OUT")
[[ $kline =~ ^kernel\ ([^ ]+)(\ \([0-9.]+\))?,\ features\ each\ datapath\ uses:$ ]] &&
	[ "${BASH_REMATCH[1]}" = "$(uname -r)" ] || why "no kernel line: $kline"
for dp in bypass portmap veth; do
	grep -Eq "^  $dp +[0-9]+ of [0-9]+ present" <<<"$OUT" || why "no line for $dp"
done
grep -q "CANNOT LOAD" <<<"$(grep '^  bypass' <<<"$OUT")" && why "the loaded bypass is said not to load"
# Each missing optional feature of the JSON is named, with its meaning.
while IFS= read -r name; do
	[ -n "$name" ] || continue
	grep -qF "           $name: " <<<"$OUT" || why "missing feature '$name' is not explained"
done < <(na status --json | json '"\n".join(f["name"] for v in d["features"].values() for f in v if not f["present"] and not f["required"])')
end

EXPECT_MSG="$REL/c.* not enrolled" expect_fail "stats of a cgroup that is not enrolled" 1 na stats "$REL/c"
EXPECT_MSG="$REL/c.* not enrolled" expect_fail "stats --json of a cgroup that is not enrolled" 1 na stats --json "$REL/c"
EXPECT_MSG="no such cgroup" expect_fail "stats of a cgroup that does not exist" 1 na stats "$REL/nonexistent"

# ---- the counters count ----

# counter <cgroup path> <name>: one counter of one cgroup from stats --json.
counter() {
	na stats --json | json '[c["counters"][a[1]] for c in d["cgroups"] if c["path"] == a[0]]' "$1" "$2"
}

check "a connection inside $REL/a works" test "$(tcp_exchange_in "$CG/a")" = "ok 1000 10"
begin "stats of $REL/a (mode all) count the connection on the fast path"
for _ in $(seq 50); do
	[ "$(counter "$REL/a" sockets_closed)" = 3 ] && break
	sleep 0.02
done
# The first connection to the listener does not join on the accepted side
# (kept_unseen: none of its sockets was seen reading yet), which takes its
# client off the fast path again (peers_dropped) before it sends; on the
# second, the first byte each way takes TCP until its receiver has been
# seen reading (deferred), the rest the fast path. Tagged: the listener and
# two clients.
for kv in sockets_tagged=3 sockets_joined=3 sockets_closed=3 msgs_redirected=2 bytes_redirected=1010 \
	msgs_passed=2 bytes_passed=2 deferred=2 deferred_joined=2 misses=0 peers_dropped=1 kept_unseen=1 \
	fallbacks=0 join_failed=0 kept_blocking=0; do
	v=$(counter "$REL/a" "${kv%=*}")
	[ "$v" = "${kv#*=}" ] || why "${kv%=*} is $v, expected ${kv#*=}"
done
end

check "a connection inside $REL/b works" test "$(tcp_exchange_in "$CG/b")" = "ok 1000 10"
begin "stats of $REL/b (mode opt-in, nothing tagged) count the sockets skipped"
for kv in sockets_tagged=3 sockets_skipped=4 sockets_joined=0 msgs_redirected=0 bytes_redirected=0; do
	v=$(counter "$REL/b" "${kv%=*}")
	[ "$v" = "${kv#*=}" ] || why "${kv%=*} is $v, expected ${kv#*=}"
done
end

begin "the total adds up the cgroups"
run na stats --json
[ "$(json 'all(d["total"][k] >= sum(c["counters"][k] for c in d["cgroups"]) for k in d["total"])' <<<"$OUT")" = True ] ||
	why "a total is smaller than the sum over the cgroups"
[ "$(json 'd["total"]["bytes_redirected"]' <<<"$OUT")" = 1010 ] || why "total bytes_redirected is not 1010"
end

begin "stats --prometheus has the same counters, by cgroup, adding up to the total"
run na stats --prometheus
[ "$RC" = 0 ] && [ -z "$ERR" ] || why "exit code $RC: $ERR"
grep -qx "netaccel_bypass_bytes_redirected_total{cgroup=\"$REL/a\"} 1010" <<<"$OUT" ||
	why "no bytes_redirected 1010 for $REL/a"
grep -qx "netaccel_bypass_sockets_kept_total{cgroup=\"$REL/a\",reason=\"unseen\"} 1" <<<"$OUT" ||
	why "no kept_unseen 1 for $REL/a as reason=\"unseen\""
grep -qx 'netaccel_datapath_loaded{datapath="bypass"} 1' <<<"$OUT" || why "the bypass is not said to be loaded"
sum=$(awk -F'} ' '/^netaccel_bypass_sockets_tagged_total[{]/ { s += $2 } END { print s }' <<<"$OUT")
[ "$sum" = "$(na stats --json | json 'd["total"]["sockets_tagged"]')" ] ||
	why "sockets_tagged by cgroup add up to $sum, not to the total"
end

# ---- after unenroll ----

run na unenroll "$REL/a"
begin "after unenroll, status --json lists only the other cgroup"
run na status --json
if parses; then
	[ "$(json '[c["path"] for c in d["cgroups"]]' <<<"$OUT")" = "$REL/b" ] || why "expected only $REL/b"
else
	why "not JSON"
fi
end
EXPECT_MSG="not enrolled" expect_fail "stats of the unenrolled cgroup" 1 na stats "$REL/a"

na_done
