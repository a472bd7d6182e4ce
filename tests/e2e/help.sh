#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# --help, --version and `help` of netaccel-ctl and of every command, and
# whether the man page documents every command and option the CLI has;
# the same of netaccel-proxy where it is built.
# Needs no privileges: help never touches the kernel.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup_tmp

COMMANDS="enroll unenroll cleanup status stats run portmap veth"
MAN=${NETACCEL_SOURCE_DIR:-}/docs/netaccel-ctl.8
version=$(sed -n "s/^ *version: *'\([^']*\)'.*/\1/p" "${NETACCEL_SOURCE_DIR:-.}/meson.build" | head -1)

for opt in --help -h; do
	EXPECT_OUT='^Usage: netaccel-ctl ' expect_ok "netaccel-ctl $opt prints the usage" "$CTL" "$opt"
	usage=$OUT
	begin "netaccel-ctl $opt lists every command"
	for c in $COMMANDS; do
		grep -Eq "^  $c " <<<"$usage" || why "$c is not listed"
	done
	end
done
EXPECT_OUT='^Usage: netaccel-ctl ' expect_ok "netaccel-ctl help prints the usage" "$CTL" help

for opt in --version -V; do
	begin "netaccel-ctl $opt prints the version"
	run "$CTL" "$opt"
	[ "$RC" = 0 ] || why "exit code $RC"
	[ -z "$ERR" ] || why "something on stderr"
	[ "$OUT" = "netaccel-ctl $version" ] || why "expected 'netaccel-ctl $version'"
	end
done

for c in $COMMANDS; do
	run "$CTL" "$c" --help
	long=$OUT
	EXPECT_OUT="^Usage: netaccel-ctl $c" expect_ok "$c --help prints its usage" "$CTL" "$c" --help
	EXPECT_OUT="^Usage: netaccel-ctl $c" expect_ok "$c -h prints its usage" "$CTL" "$c" -h
	begin "help $c prints what $c --help prints"
	run "$CTL" help "$c"
	[ "$RC" = 0 ] || why "exit code $RC"
	[ "$OUT" = "$long" ] || why "the texts differ"
	end
	# Help wins over everything else on the line, and never needs a
	# cgroup or the state.
	EXPECT_OUT="^Usage: netaccel-ctl $c" expect_ok "$c --help with other arguments still prints help" \
		"$CTL" --state-dir /nonexistent "$c" --help /nonexistent
	if grep -q '<cgroup>' <<<"$long"; then
		begin "$c --help explains the <cgroup> forms"
		grep -q 'pid:<PID>' <<<"$long" || why "pid:<PID> is not explained"
		grep -q 'container:<ID' <<<"$long" || why "container:<ID> is not explained"
		end
	fi
done

expect_fail "help for an unknown command fails like the unknown command" 2 "$CTL" help frobnicate

# The man page documents what the CLI offers: every command, and every
# long option of the program and of each command.
if [ -r "$MAN" ]; then
	man_text=$(sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\%//g' "$MAN")
	run "$CTL" --help
	opts=$(grep -Eo -- '--[a-z][a-z-]+' <<<"$OUT" | sort -u)
	for c in $COMMANDS; do
		run "$CTL" "$c" --help
		opts+=$'\n'$(grep -Eo -- '--[a-z][a-z-]+' <<<"$OUT" | sort -u)
	done
	begin "the man page documents every command"
	for c in $COMMANDS; do
		grep -Eq "^\.SS +\"?$c\b" <<<"$man_text" || why "no .SS section for $c"
	done
	end
	begin "the man page is of this version"
	grep -Eq "^\.TH .*\"netaccel $version\"" <<<"$man_text" || why ".TH does not say netaccel $version"
	end
	begin "the man page explains every counter of stats"
	abi=$NETACCEL_SOURCE_DIR/bpf/include/netaccel_abi.h
	counters=$(sed -n '/^#define NA_COUNTER_NAMES/,/^$/p' "$abi" | grep -o '"[a-z_]*"' | tr -d '"')
	[ -n "$counters" ] || why "no counter names found in $abi"
	for n in $counters; do
		grep -Eq "^\.B $n\$" <<<"$man_text" || why "no .B $n paragraph"
	done
	end
	begin "the man page documents every option"
	while read -r o; do
		grep -q -- "$o" <<<"$man_text" || why "$o is not in the man page"
	done < <(sort -u <<<"$opts" | grep .)
	end
else
	skip "the man page documents every command" "no NETACCEL_SOURCE_DIR"
	skip "the man page is of this version" "no NETACCEL_SOURCE_DIR"
	skip "the man page explains every counter of stats" "no NETACCEL_SOURCE_DIR"
	skip "the man page documents every option" "no NETACCEL_SOURCE_DIR"
fi

# netaccel-proxy, built with the BPF datapath only (NETACCEL_PROXY unset
# without it): --help, -h and --version, and its man page.
if [ -n "${NETACCEL_PROXY:-}" ]; then
	PROXY=$NETACCEL_PROXY
	PMAN=${NETACCEL_SOURCE_DIR:-}/docs/netaccel-proxy.8
	for opt in --help -h; do
		EXPECT_OUT='^Usage: netaccel-proxy ' expect_ok "netaccel-proxy $opt prints the usage" "$PROXY" "$opt"
	done
	run "$PROXY" --help
	usage=$OUT
	begin "netaccel-proxy --help names every option and the man page"
	for o in --listen --backend --mode --max-queued --down-time --state-dir --verbose --help --version; do
		grep -q -- "$o" <<<"$usage" || why "$o is not in --help"
	done
	grep -q 'netaccel-proxy(8)' <<<"$usage" || why "it does not point at netaccel-proxy(8)"
	end
	begin "netaccel-proxy --version prints the version"
	run "$PROXY" --version
	[ "$RC" = 0 ] || why "exit code $RC"
	[ -z "$ERR" ] || why "something on stderr"
	[ "$OUT" = "netaccel-proxy $version" ] || why "expected 'netaccel-proxy $version'"
	end
	if [ -r "$PMAN" ]; then
		man_text=$(sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\%//g' "$PMAN")
		begin "netaccel-proxy's man page documents every option of --help"
		while read -r o; do
			grep -q -- "$o" <<<"$man_text" || why "$o is not in the man page"
		done < <(grep -Eo -- '--[a-z][a-z-]+' <<<"$usage" | sort -u)
		end
		begin "netaccel-proxy's man page is of this version"
		grep -Eq "^\.TH .*\"netaccel $version\"" <<<"$man_text" || why ".TH does not say netaccel $version"
		end
	else
		skip "netaccel-proxy's man page documents every option of --help" "no NETACCEL_SOURCE_DIR"
		skip "netaccel-proxy's man page is of this version" "no NETACCEL_SOURCE_DIR"
	fi
fi

na_done
