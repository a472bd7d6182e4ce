#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The deployment files, checked with the tools that consume them, without
# privileges: systemd-analyze verifies the unit and scores its sandbox;
# the Kubernetes manifests are checked against the API's schema
# (tests/deploy/k8s-schema.py, python3-kubernetes); the policies they carry
# are read by netaccel-agent; the container image's package lists are
# checked against Debian's archive and against the shared libraries the
# built programs load. Each checker is also shown a broken copy it must
# refuse. Where PID 1 is systemd (and as root), the agent also runs under
# the unit's sandbox through systemd-run.
#
#   deploy.sh <built unit> <built netaccel-agent> <built netaccel-ctl>
#             <built netaccel-proxy.service> <built netaccel-proxy>
. "${BASH_SOURCE[0]%/*}/../e2e/lib.sh"

UNIT=${1:?the built netaccel-agent.service}
AGENT=${2:?the built netaccel-agent}
CTLBIN=${3:?the built netaccel-ctl}
PUNIT=${4:?the built netaccel-proxy.service}
PROXYBIN=${5:?the built netaccel-proxy}
SRC=${NETACCEL_SOURCE_DIR:?NETACCEL_SOURCE_DIR must name the source tree}
BUILD=${NETACCEL_BUILD_DIR:?NETACCEL_BUILD_DIR must name the build tree}
# Debian's interpreter, which python3-kubernetes and python3-yaml are for.
PY=/usr/bin/python3
SCHEMA=$SRC/tests/deploy/k8s-schema.py
MANIFESTS=("$SRC"/deploy/kubernetes/*.yaml)
CONTAINERFILE=$SRC/deploy/Containerfile
DOC=$SRC/docs/deploy.md

na_setup_tmp

# ---- the systemd unit ----

# systemd-analyze verify prints a warning and still exits 0 for an unknown
# key or a value it cannot parse: a unit passes only with exit code 0 and
# nothing printed.
verify() {	# <unit file>
	run systemd-analyze verify --man=no --generators=no "$1"
	[ "$RC" = 0 ] && [ -z "$OUT$ERR" ]
}

# A copy of the unit under the same name, with sed expressions applied.
unit_copy() {	# <dir> <sed expression>...
	local dir=$NA_TMP/$1 e args=()
	shift
	for e in "$@"; do
		args+=(-e "$e")
	done
	mkdir -p "$dir"
	sed "${args[@]}" "$UNIT" >"$dir/netaccel-agent.service"
	echo "$dir/netaccel-agent.service"
}

unit_value() {	# <key>: its value in the built unit (the last one given)
	sed -n "s/^$1=//p" "$UNIT" | tail -1
}

if ! command -v systemd-analyze >/dev/null; then
	bail_out "systemd-analyze is not installed (package systemd; scripts/install-deps)"
fi

exec_start=$(unit_value ExecStart)
begin "the unit runs the installed netaccel-agent on the policy under /etc or the prefix"
[[ $exec_start =~ ^/[^\ ]*/sbin/netaccel-agent\ --config\ /[^\ ]*etc/netaccel/policy\.yaml$ ]] ||
	why "ExecStart=$exec_start"
[ "$(unit_value ConditionPathExists)" = "${exec_start##* }" ] ||
	why "ConditionPathExists= is not the policy ExecStart= reads"
end

# verify checks that ExecStart= can be executed: point it at the build.
good=$(unit_copy good "s|^ExecStart=[^ ]*|ExecStart=$AGENT|")
begin "systemd-analyze verify accepts the unit (run on the built agent)"
verify "$good" || why "verify said something or failed"
end

# Broken copies: each must be refused, or the check above proves nothing.
for broken in \
	"a misspelt key|s|^ProtectSystem=|ProtectSytem=|" \
	"an unknown service type|s|^Type=notify|Type=notifyy|" \
	"a watchdog interval that is no time|s|^WatchdogSec=.*|WatchdogSec=thirty|" \
	"a program that does not exist|s|^ExecStart=[^ ]*|ExecStart=$NA_TMP/no-such-agent|" \
	"an unknown system call group|s|^SystemCallFilter=.*|SystemCallFilter=@no-such-group|"; do
	what=${broken%%|*}
	bad=$(unit_copy "bad-$RANDOM" "s|^ExecStart=[^ ]*|ExecStart=$AGENT|" "${broken#*|}")
	begin "systemd-analyze verify refuses a copy of the unit with $what"
	if verify "$bad"; then
		why "verify accepted it"
	elif cmp -s "$bad" "$good"; then
		why "the copy is not broken: the sed expression matched nothing"
	fi
	end
done

# The score docs/deploy.md quotes is the one systemd-analyze gives.
begin "systemd-analyze security scores the unit offline as docs/deploy.md says"
run systemd-analyze security --offline=true --man=no "$good"
score=$(sed -n 's/.*Overall exposure level for netaccel-agent.service: \([0-9.]*\) .*/\1/p' <<<"$OUT")
if [ "$RC" != 0 ] || [ -z "$score" ]; then
	why "no score"
elif ! grep -q "exposure level of $score " "$DOC"; then
	why "the unit scores $score; docs/deploy.md says otherwise"
fi
OUT=$(grep 'Overall exposure level' <<<"$OUT")
diag "exposure level $score"
end

# One capability list everywhere: the unit's bounding set, the
# DaemonSet's added capabilities.
begin "the unit and the DaemonSet grant the same capabilities"
unit_caps=$(unit_value CapabilityBoundingSet | tr ' ' '\n' | sed 's/^CAP_//' | sort | tr '\n' ' ')
k8s_caps=$("$PY" -c '
import sys, yaml
for path in sys.argv[1:]:
    for d in yaml.safe_load_all(open(path)):
        if d and d.get("kind") == "DaemonSet":
            for c in d["spec"]["template"]["spec"]["containers"]:
                print("\n".join(sorted(c["securityContext"]["capabilities"]["add"])))
' "${MANIFESTS[@]}" | tr '\n' ' ')
[ -n "$unit_caps" ] || why "no CapabilityBoundingSet= in the unit"
[ "$unit_caps" = "$k8s_caps" ] || why "unit: $unit_caps; DaemonSet: $k8s_caps"
end

# Where meson installs the unit and the example policy.
begin "meson installs the unit to systemd's unit directory and the example policy to sysconfdir"
installed=$(meson introspect "$BUILD" --installed 2>/dev/null)
grep -Eq '"[^"]*/dist/netaccel-agent\.service": "[^"]*/systemd/system/netaccel-agent\.service"' <<<"$installed" ||
	why "the unit is not installed to .../systemd/system"
grep -Eq '"[^"]*/dist/policy\.example\.yaml": "[^"]*etc/netaccel/policy\.yaml\.example"' <<<"$installed" ||
	why "the example policy is not installed to <sysconfdir>/netaccel/policy.yaml.example"
end

# ---- netaccel-proxy's unit ----

punit_value() {	# <key>: its value in the built proxy unit (the last one given)
	sed -n "s/^$1=//p" "$PUNIT" | tail -1
}
# A copy of the proxy's unit, run on the built proxy, with sed expressions
# applied.
punit_copy() {	# <dir> <sed expression>...
	local dir=$NA_TMP/$1 e args=(-e "s|^ExecStart=[^ ]*|ExecStart=$PROXYBIN|")
	shift
	for e in "$@"; do
		args+=(-e "$e")
	done
	mkdir -p "$dir"
	sed "${args[@]}" "$PUNIT" >"$dir/netaccel-proxy.service"
	echo "$dir/netaccel-proxy.service"
}

pexec=$(punit_value ExecStart)
pconf=$(punit_value EnvironmentFile)
begin "the proxy's unit runs the installed netaccel-proxy on NETACCEL_PROXY_ARGS of proxy.conf"
[[ $pexec =~ ^/[^\ ]*/bin/netaccel-proxy\ \$NETACCEL_PROXY_ARGS$ ]] || why "ExecStart=$pexec"
[[ $pconf =~ ^/[^\ ]*etc/netaccel/proxy\.conf$ ]] || why "EnvironmentFile=$pconf"
[ "$(punit_value ConditionPathExists)" = "$pconf" ] ||
	why "ConditionPathExists= is not the file EnvironmentFile= reads"
end

begin "the proxy's unit gives a user of its own the capabilities of the kernel path, and bpf()"
[ "$(punit_value DynamicUser)" = yes ] || why "DynamicUser=$(punit_value DynamicUser)"
for c in CAP_BPF CAP_NET_ADMIN CAP_PERFMON; do
	grep -qw "$c" <<<"$(punit_value AmbientCapabilities)" || why "$c is not in AmbientCapabilities="
	grep -qw "$c" <<<"$(punit_value CapabilityBoundingSet)" || why "$c is not in CapabilityBoundingSet="
done
grep -qw bpf <<<"$(punit_value SystemCallFilter)" || why "SystemCallFilter= does not allow bpf"
end

pgood=$(punit_copy proxy-good)
begin "systemd-analyze verify accepts the proxy's unit (run on the built proxy)"
verify "$pgood" || why "verify said something or failed"
end
for broken in \
	"a misspelt key|s|^DynamicUser=|DynamicUsr=|" \
	"an unknown service type|s|^Type=exec|Type=execc|" \
	"a program that does not exist|s|^ExecStart=[^ ]*|ExecStart=$NA_TMP/no-such-proxy|" \
	"an unknown system call group|s|^SystemCallFilter=.*|SystemCallFilter=@no-such-group bpf|"; do
	what=${broken%%|*}
	bad=$(punit_copy "proxy-bad-$RANDOM" "${broken#*|}")
	begin "systemd-analyze verify refuses a copy of the proxy's unit with $what"
	if verify "$bad"; then
		why "verify accepted it"
	elif cmp -s "$bad" "$pgood"; then
		why "the copy is not broken: the sed expression matched nothing"
	fi
	end
done

begin "systemd-analyze security scores the proxy's unit offline"
run systemd-analyze security --offline=true --man=no "$pgood"
pscore=$(sed -n 's/.*Overall exposure level for netaccel-proxy.service: \([0-9.]*\) .*/\1/p' <<<"$OUT")
{ [ "$RC" = 0 ] && [ -n "$pscore" ]; } || why "no score"
OUT=$(grep 'Overall exposure level' <<<"$OUT")
end
diag "netaccel-proxy.service: exposure level $pscore"

# The example's command line is one the proxy takes: parsed up to an
# option after it that is wrong on purpose, so that nothing listens.
begin "the example proxy.conf's NETACCEL_PROXY_ARGS are a command line netaccel-proxy takes"
pargs=$(sed -n 's/^NETACCEL_PROXY_ARGS="\(.*\)"$/\1/p' "$SRC/dist/proxy.conf.example")
if [ -z "$pargs" ]; then
	why "no NETACCEL_PROXY_ARGS=\"...\" in dist/proxy.conf.example"
else
	# shellcheck disable=SC2086 # split as systemd splits $NETACCEL_PROXY_ARGS
	run timeout 10 "$PROXYBIN" $pargs --mode not-a-mode
	if [ "$RC" != 2 ] || [[ $ERR != "netaccel-proxy: --mode 'not-a-mode'"* ]]; then
		why "it did not get as far as the last option"
	fi
fi
end

begin "meson installs the proxy's unit to systemd's unit directory and the example to sysconfdir"
installed=$(meson introspect "$BUILD" --installed 2>/dev/null)
grep -Eq '"[^"]*/dist/netaccel-proxy\.service": "[^"]*/systemd/system/netaccel-proxy\.service"' <<<"$installed" ||
	why "the unit is not installed to .../systemd/system"
grep -Eq '"[^"]*/dist/proxy\.conf\.example": "[^"]*etc/netaccel/proxy\.conf\.example"' <<<"$installed" ||
	why "the example is not installed to <sysconfdir>/netaccel/proxy.conf.example"
end

# ---- the policies shipped ----

# The agent reads a policy before it looks at its privileges: exit status
# 2 means the file was refused; without root, 1 means it was read (and
# CAP_BPF was missing); as root --check prints the plan and changes nothing.
policy_ok() {	# <description> <file>
	begin "$1"
	run "$AGENT" --config "$2" --check --state-dir "/sys/fs/bpf/$NAME"
	[[ $RC =~ ^[01]$ ]] || why "exit code $RC: the agent refused the file"
	[[ $ERR != *"$2:"[0-9]* ]] || why "the agent pointed at a line of the file"
	end
}
policy_ok "netaccel-agent reads dist/policy.example.yaml" "$SRC/dist/policy.example.yaml"
"$PY" -c '
import sys, yaml
for path in sys.argv[2:]:
    for d in yaml.safe_load_all(open(path)):
        if d and d.get("kind") == "ConfigMap" and "policy.yaml" in (d.get("data") or {}):
            open(sys.argv[1], "w").write(d["data"]["policy.yaml"])
' "$NA_TMP/configmap-policy.yaml" "${MANIFESTS[@]}"
if [ -s "$NA_TMP/configmap-policy.yaml" ]; then
	policy_ok "netaccel-agent reads the ConfigMap's policy.yaml" "$NA_TMP/configmap-policy.yaml"
else
	begin "the manifests hold a ConfigMap with a policy.yaml"
	why "none found"
	end
fi
begin "netaccel-agent refuses a broken policy (so that the two checks above mean something)"
printf 'bypass:\n  - cgroup: a\n    mode: sometimes\n' >"$NA_TMP/bad-policy.yaml"
run "$AGENT" --config "$NA_TMP/bad-policy.yaml" --check --state-dir "/sys/fs/bpf/$NAME"
[ "$RC" = 2 ] || why "exit code $RC, expected 2"
end

# ---- the Kubernetes manifests ----

begin "every manifest matches the Kubernetes API's schema"
run "$PY" "$SCHEMA" "${MANIFESTS[@]}"
[ "$RC" = 0 ] || why "k8s-schema.py refused them"
end

# Broken copies the schema check must refuse, each naming what is wrong
# (checked in one run: loading the schema takes a while).
ds=$SRC/deploy/kubernetes/netaccel.yaml
broken_ds=(
	"an unknown field|s/^      hostNetwork: true/      hostNetwork: true\n      hostNetwrok: true/|spec.template.spec.hostNetwrok: unknown field"
	"a string for a boolean|s/^      hostNetwork: true/      hostNetwork: \"yes\"/|spec.template.spec.hostNetwork: expected true or false"
	"a string for an integer|s/^      terminationGracePeriodSeconds: .*/      terminationGracePeriodSeconds: half a minute/|terminationGracePeriodSeconds: expected an integer"
	"a capability list that is not a list|s/^              add: .*/              add: BPF/|capabilities.add: expected a list"
	"a hostPath type the API does not know|s/^            type: Directory$/            type: Folder/|hostPath.type: 'Folder' is not one of"
	"Bidirectional propagation without privileged|s/mountPropagation: HostToContainer/mountPropagation: Bidirectional/|Bidirectional mount propagation is only for privileged"
	"a selector that misses the template|s/^      app.kubernetes.io\/component: agent$/      app.kubernetes.io\/component: other/|spec.selector: matchLabels"
)
copies=()
for i in "${!broken_ds[@]}"; do
	IFS='|' read -r _ expr _ <<<"${broken_ds[$i]}"
	sed "$expr" "$ds" >"$NA_TMP/bad-$i.yaml"
	copies+=("$NA_TMP/bad-$i.yaml")
done
run "$PY" "$SCHEMA" "${copies[@]}"
all_rc=$RC all_out=$OUT
for i in "${!broken_ds[@]}"; do
	IFS='|' read -r what _ expect <<<"${broken_ds[$i]}"
	f=$NA_TMP/bad-$i.yaml
	begin "k8s-schema.py refuses a DaemonSet with $what"
	RC=$all_rc OUT=$(grep -F -- "$f" <<<"$all_out")
	if cmp -s "$ds" "$f"; then
		why "the copy is not broken: the sed expression matched nothing"
	elif [ "$RC" != 1 ]; then
		why "exit code $RC, expected 1"
	elif grep -q ' documents match ' <<<"$OUT"; then
		why "it accepted the copy"
	elif ! grep -qF -- "$expect" <<<"$OUT"; then
		why "it did not say '$expect'"
	fi
	end
done

begin "the DaemonSet runs this version's image, probes its metrics port and mounts the ConfigMap where --config points"
run "$PY" - "$SRC/meson.build" "${MANIFESTS[@]}" <<'PY'
import re, sys, yaml
version = re.search(r"version: '([^']+)'", open(sys.argv[1]).read()).group(1)
docs = [d for p in sys.argv[2:] for d in yaml.safe_load_all(open(p)) if d]
cms = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
for d in docs:
    if d["kind"] != "DaemonSet":
        continue
    pod = d["spec"]["template"]["spec"]
    ann = d["spec"]["template"]["metadata"].get("annotations", {})
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod["containers"]:
        if not c["image"].endswith(":" + version):
            print(f"image {c['image']} is not of version {version}")
        args = c.get("args", [])
        config = args[args.index("--config") + 1] if "--config" in args else None
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            g = c.get(probe, {}).get("httpGet", {})
            if g.get("path") != "/healthz" or g.get("port") not in ports:
                print(f"{probe} does not get /healthz on a port of the container")
        if str(ports.get("metrics")) != ann.get("prometheus.io/port"):
            print("the prometheus.io/port annotation is not the metrics port")
        if "--metrics-address" not in args or not args[args.index("--metrics-address") + 1].endswith(f":{ports.get('metrics')}"):
            print("--metrics-address is not on the metrics port")
        mounted = False
        for m in c.get("volumeMounts", []):
            cm = vols.get(m["name"], {}).get("configMap")
            if cm and config and config.startswith(m["mountPath"].rstrip("/") + "/"):
                key = config[len(m["mountPath"].rstrip("/")) + 1:]
                mounted = key in (cms.get(cm["name"], {}).get("data") or {})
        if not mounted:
            print(f"--config {config} is not a key of a ConfigMap mounted there")
PY
[ "$RC" = 0 ] && [ -z "$OUT$ERR" ] || why "$OUT$ERR"
end

# ---- the container image ----

# The packages one stage of the Containerfile installs (0: build, 1: run).
stage_packages() {	# <stage>
	awk -v want="$1" '
		/^FROM / { stage++ }
		/apt-get install/ { on = (stage - 1 == want) }
		on {
			for (i = 1; i <= NF; i++)
				if ($i ~ /^[a-z0-9][a-z0-9.+-]+$/ && $i != "apt-get" && $i != "install" && $i != "rm")
					print $i
			if ($0 !~ /\\$/) on = 0
		}
		/&& rm -rf/ { on = 0 }' "$CONTAINERFILE" | sort -u
}

# A package Debian has: installed here, or known to apt.
have_package() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed' ||
		apt-cache show --no-all-versions "$1" >/dev/null 2>&1
}

runtime=$(stage_packages 1)
buildtime=$(stage_packages 0)
for stage in build runtime; do
	if [ $stage = build ]; then list=$buildtime; else list=$runtime; fi
	begin "every package the Containerfile's $stage stage installs is one Debian has"
	[ -n "$list" ] || why "no packages found in the $stage stage"
	for p in $list; do
		have_package "$p" || why "$p: no such package (or apt's lists are missing: apt-get update)"
	done
	end
done
begin "a misspelt package name is not one Debian has"
have_package libbpf-one && why "libbpf-one was found"
end

# The package of each shared library a program names (its DT_NEEDED:
# theirs come with their packages' dependencies; "?<path>" for a
# library no package ships), libc6 aside: the base image has it.
needed_packages() {	# <program>...
	local prog lib owners found
	local -a libs=() paths=()
	# The libraries each program names itself (DT_NEEDED), where ldd
	# finds them: theirs come with their packages' dependencies.
	for prog in "$@"; do
		ldd "$prog" | awk -v need="$(readelf -d "$prog" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')" '
			BEGIN { n = split(need, l, " "); for (i = 1; i <= n; i++) want[l[i]] = 1 }
			$2 == "=>" && ($1 in want) { print $3 }'
	done | sort -u >"$NA_TMP/libs"
	mapfile -t libs <"$NA_TMP/libs"
	# dpkg knows a file by the path its package ships it at: the one ldd
	# prints, the one it resolves to, or that one below /usr (merged /usr).
	for lib in "${libs[@]}"; do
		paths+=("$lib" "$(realpath "$lib")" "/usr$lib")
	done
	owners=$(dpkg -S "${paths[@]}" 2>/dev/null)	# one call: each scans every file list
	for lib in "${libs[@]}"; do
		found=$(awk -v a="$lib" -v b="$(realpath "$lib")" -v c="/usr$lib" '
			{ p = $NF; sub(/:$/, "", $1); split($1, n, ":") }
			p == a || p == b || p == c { print n[1]; exit }' <<<"$owners")
		echo "${found:-?$lib}"
	done | sort -u | grep -vx 'libc6'
}

# What of the needed packages a package list lacks, one a line.
missing_from() {	# <package list>
	local p
	for p in $needed; do
		grep -qx -- "$p" <<<"$1" || echo "$p"
	done
}

needed=$(needed_packages "$AGENT" "$CTLBIN")
begin "the runtime stage installs the package of every library netaccel-agent and netaccel-ctl load"
[ -n "$needed" ] || why "ldd found no libraries"
lacking=$(missing_from "$runtime")
[ -z "$lacking" ] || why "not installed by the runtime stage: $(echo $lacking)"
diag "needed: $(echo $needed)"
end
begin "the check above notices a library left out of the runtime stage"
lacking=$(missing_from "$(grep -vx libyaml-0-2 <<<"$runtime")")
[ "$lacking" = libyaml-0-2 ] || why "leaving libyaml-0-2 out, it found: '$(echo $lacking)'"
end

# ---- under systemd ----

# Only where systemd is PID 1 (systemd-run needs it), as root, and with an
# agent that runs as a daemon: start it with the unit's sandbox, wait for
# READY=1, stop it, and the state it made stays.
pid1=$(cat /proc/1/comm 2>/dev/null)
if [ "$pid1" != systemd ]; then
	skip "the agent starts under the unit's sandbox" "PID 1 is ${pid1:-unknown}, not systemd"
elif [ "$(id -u)" != 0 ]; then
	skip "the agent starts under the unit's sandbox" "needs root"
elif ! "$AGENT" --help 2>/dev/null | grep -q -- --metrics-address; then
	skip "the agent starts under the unit's sandbox" "this netaccel-agent has no daemon mode"
else
	# A scratch cgroup and state directory, which na_done removes.
	CGROOT=$(findmnt -n -t cgroup2 -o TARGET | head -1)
	REL=$NAME CG=$CGROOT/$NAME
	mkdir "$CG" || bail_out "cannot create the scratch cgroup $CG"
	NA_STATE_DIRS+=("/sys/fs/bpf/$NAME")
	printf 'bypass:\n  - cgroup: "%s"\n' "$REL" >"$NA_TMP/policy.yaml"
	props=()
	while IFS= read -r line; do
		props+=(-p "$line")
	done < <(sed -n '/^\[Service\]/,/^\[/p' "$UNIT" |
		grep -E '^[A-Z][A-Za-z]+=' | grep -Ev '^(ExecStart|ExecReload|Restart|RestartSec|RestartPreventExitStatus)=')
	begin "the agent starts under the unit's sandbox, says READY=1, and its state stays when it stops"
	run timeout 60 systemd-run --unit="$NAME" --quiet "${props[@]}" \
		"$AGENT" --config "$NA_TMP/policy.yaml" --state-dir "/sys/fs/bpf/$NAME" --metrics-address none
	[ "$RC" = 0 ] || why "systemd-run failed (journalctl -u $NAME)"
	[ "$(systemctl is-active "$NAME" 2>/dev/null)" = active ] || why "the unit is not active"
	systemctl stop "$NAME" 2>/dev/null
	[ -d "/sys/fs/bpf/$NAME" ] || why "no state left in /sys/fs/bpf/$NAME"
	systemctl reset-failed "$NAME" 2>/dev/null
	end
fi

na_done
