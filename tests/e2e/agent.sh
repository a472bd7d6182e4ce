#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# netaccel-agent on the real kernel: a policy whose glob names two scratch
# cgroups, a unit rule and a port rule. --check prints the plan and changes
# nothing; --once carries it out (a mode changes, a cgroup enrolled by hand
# stays); a second --once only keeps; bad policy files are refused whole
# with the file, the line and the reason. Then a policy's bridges: the
# veth redirect attached to a bridge of a Docker-like layout built in
# network namespaces, a bridge that does not exist skipped.
. "${BASH_SOURCE[0]%/*}/lib.sh"
. "${BASH_SOURCE[0]%/*}/veth-lib.sh"

AGENT=${NETACCEL_AGENT:?NETACCEL_AGENT must name the netaccel-agent to test}

na_setup
H=netaccel-e2e-ah-$$ A=netaccel-e2e-aa-$$ B=netaccel-e2e-ab-$$
agent_down() {
	[ -n "$SD" ] && [ -e "$SD" ] && "$CTL" --state-dir "$SD" cleanup --force >/dev/null 2>&1
	vl_down
}
trap 'agent_down; na_cleanup' EXIT

mkdir -p "$CG/svc-a" "$CG/svc-b" "$CG/other" "$CG/x/$NAME-u.service" ||
	bail_out "cannot create cgroups in $CG"
POLICY=$NA_TMP/policy.yaml
cat >"$POLICY" <<YAML
# the scratch cgroups only
bypass:
  - cgroup: "$REL/svc-*"
  - unit: $NAME-u.service
    mode: opt-in
portmap:
  - cgroup: $REL/svc-a
    port: 8080
    real: 18080
YAML

agent() {
	"$AGENT" --state-dir "$SD" --config "$POLICY" "$@"
}

# The enrolled cgroups, "<path> <mode>" sorted, one line.
enrolled() {
	na status --json 2>/dev/null |
		json 'sorted("%s %s" % (c["path"], c["mode"]) for c in d["cgroups"])' | tr '\n' ' '
}

# A command whose output is not looked at (TAP is on stdout).
quiet() {
	"$@" >/dev/null
}

# Run the agent with the policy; it must succeed, say nothing on stderr
# and print each of the lines given (exactly).
agent_prints() {	# <option> <line>...
	local line

	run agent "$1"
	shift
	[ "$RC" = 0 ] || why "expected exit code 0, got $RC"
	[ -z "$ERR" ] || why "expected nothing on stderr"
	for line in "$@"; do
		grep -qxF -- "$line" <<<"$OUT" || why "no line '$line'"
	done
}

U=$REL/x/$NAME-u.service
begin "--check prints the plan and changes nothing"
before=$(snapshot)
agent_prints --check "enroll $REL/svc-a (mode all)" "enroll $REL/svc-b (mode all)" \
	"enroll $U (mode opt-in)" "portmap add $REL/svc-a tcp 8080:18080"
after=$(snapshot)
[ "$(wc -l <<<"$OUT")" = 4 ] || why "expected 4 lines"
[ "$before" = "$after" ] || why "it changed something"
[ -z "$(enrolled)" ] || why "status shows enrolled cgroups: $(enrolled)"
end

check "svc-b enrolled by hand (opt-in)" \
	quiet na enroll "$REL/svc-b" --mode opt-in
check "other enrolled by hand" quiet na enroll "$REL/other"

EXPECT_OUT="^set mode all of $REL/svc-b \(enrolled, mode opt-in\)$" \
	expect_ok "--check shows the mode change" agent --check

begin "--once enrolls both, changes the mode, keeps what it does not name"
agent_prints --once "enroll $REL/svc-a (mode all)" \
	"set mode all of $REL/svc-b (enrolled, mode opt-in)" \
	"enroll $U (mode opt-in)" "portmap add $REL/svc-a tcp 8080:18080"
want="$REL/other all $REL/svc-a all $REL/svc-b all $U opt-in "
[ "$(enrolled)" = "$want" ] || why "status shows '$(enrolled)', expected '$want'"
end

begin "a second --once only keeps"
agent_prints --once "keep $REL/svc-b (enrolled, mode all)" \
	"keep portmap $REL/svc-a tcp 8080:18080"
grep -qv '^keep ' <<<"$OUT" && why "lines other than keep: $(grep -v '^keep ' <<<"$OUT")"
[ "$(enrolled)" = "$want" ] || why "status shows '$(enrolled)', expected '$want'"
end

begin "the policy's port rule is in portmap list --json"
run na portmap list --json
got=$(json '["%s %s %s %s" % (r["cgroup"], r["proto"], r["port"], r["real_port"]) for r in d["rules"]]' <<<"$OUT")
[ "$got" = "$REL/svc-a tcp 8080 18080" ] || why "rules: $got"
end

# Bad files: one line naming the file and the line, exit 2, nothing changed.
bad() {	# <description> <line> <regex> <policy text>
	printf '%s' "$4" >"$NA_TMP/bad.yaml"
	NA_PROG=netaccel-agent EXPECT_MSG="^netaccel-agent: $NA_TMP/bad.yaml:$2: $3" \
		expect_fail "a bad file is refused: $1" 2 \
		"$AGENT" --state-dir "$SD" --config "$NA_TMP/bad.yaml" --once
}
bad "YAML syntax" 3 "YAML syntax error" $'bypass:\n  - cgroup: [a\n'
bad "unknown key" 3 "unknown key 'mod'" $'bypass:\n  - cgroup: '"$REL"$'/other\n    mod: all\n'
bad "unknown mode" 3 "unknown mode 'fast'" $'bypass:\n  - cgroup: '"$REL"$'/svc-a\n    mode: fast\n'
bad "port out of range" 4 "real port 70000 is out of range" \
	$'portmap:\n  - cgroup: '"$REL"$'/svc-a\n    port: 9090\n    real: 70000\n'
bad "duplicate rule" 4 "duplicate rule" \
	$'bypass:\n  - cgroup: '"$REL"$'/other\n    mode: opt-in\n  - cgroup: '"$REL"$'/other\n'

NA_PROG=netaccel-agent EXPECT_MSG="--metrics-address and --resync are for the daemon, not --once" \
	expect_fail "a daemon option with --once" 2 "$AGENT" --state-dir "$SD" --config "$POLICY" --once --resync 5
NA_PROG=netaccel-agent EXPECT_MSG="--resync wants seconds from 1 to 86400, not '0'" \
	expect_fail "--resync 0" 2 "$AGENT" --state-dir "$SD" --config "$POLICY" --resync 0
NA_PROG=netaccel-agent EXPECT_MSG="^netaccel-agent: .*localhost" \
	expect_fail "a metrics address that is a name" 2 "$AGENT" --state-dir "$SD" --config "$POLICY" \
	--metrics-address localhost:9479
NA_PROG=netaccel-agent EXPECT_MSG="cannot read $NA_TMP/none.yaml" \
	expect_fail "a missing policy file" 2 "$AGENT" --state-dir "$SD" --config "$NA_TMP/none.yaml" --check

# ---- bridges: the agent run in the host's network namespace ----

vl_host "$H" && vl_bridge br1 && vl_container "$A" br1 va 198.18.1.1 fd00:1::1 &&
	vl_container "$B" br1 vb 198.18.1.2 fd00:1::2 || bail_out "cannot build the bridge layout"
cat >"$NA_TMP/veth.yaml" <<YAML
veth:
  bridges: [br1, nosuchbr]
YAML
vagent() {
	nsenter --net="/run/netns/$H" "$AGENT" --state-dir "$SD" --config "$NA_TMP/veth.yaml" "$@"
}
ports() {
	na veth --netns "$H" list --json 2>/dev/null | json 'sorted(p["veth"] + "@" + p["bridge"] for p in d["ports"])' |
		tr '\n' ' '
}

begin "--check plans the bridge, skips the one that is not there, attaches nothing"
run vagent --check
[ "$RC" = 0 ] || why "exit code $RC: $ERR"
grep -qxF "veth attach --bridge br1" <<<"$OUT" || why "no 'veth attach --bridge br1' in: $OUT"
grep -q '^skip veth attach --bridge nosuchbr (' <<<"$OUT" || why "nosuchbr is not skipped: $OUT"
[ -z "$(ports)" ] || why "ports attached: $(ports)"
end

begin "--once attaches the veth redirect to both containers' ports"
run vagent --once
[ "$RC" = 0 ] || why "exit code $RC: $ERR"
grep -qxF "veth attach --bridge br1" <<<"$OUT" || why "no 'veth attach --bridge br1' in: $OUT"
[ "$(ports)" = "va@br1 vb@br1 " ] || why "ports: '$(ports)'"
end

EXPECT_OUT='^keep veth attach --bridge br1$' expect_ok "a second --once keeps the bridge" vagent --once

na_done
