#!/usr/bin/env bash
# netaccel-ctl run as a user types it: exit status passes through, the
# environment is set once, arguments survive, and it says clearly when
# the cgroup is not enrolled or the program cannot be preloaded.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
na_setup

PROBE=${NETACCEL_BUILD_DIR:?}/tests/preload/optin-probe
SHIM=${NETACCEL_PRELOAD:?}
OPTIN=$CG/optin
mkdir "$OPTIN" || bail_out "cannot make $OPTIN"
na enroll "$OPTIN" --mode opt-in >/dev/null || bail_out "enroll failed"

# status <expected> <command...>: run's exit status is the expected one.
status_is() {
	local want=$1
	shift
	run "$@"
	[ "$RC" = "$want" ] || why "expected exit status $want, got $RC"
}

for code in 0 1 42; do
	begin "the command's exit status $code passes through"
	status_is "$code" "$CTL" run --cgroup "$OPTIN" -- sh -c "exit $code"
	end
done
begin "death by a signal passes through (128 + SIGKILL to the shell)"
status_is 137 "$CTL" run --cgroup "$OPTIN" -- sh -c 'kill -9 $$'
end
cp /bin/true "$NA_TMP/not-executable" && chmod -x "$NA_TMP/not-executable"
EXPECT_MSG='cannot execute' expect_fail "a command that cannot be executed exits 126" 126 \
	"$CTL" run --cgroup "$OPTIN" -- "$NA_TMP/not-executable"
EXPECT_MSG='no-such-command-xyz: command not found' expect_fail "a command that is not found exits 127" 127 \
	"$CTL" run --cgroup "$OPTIN" -- no-such-command-xyz

begin "arguments with spaces, quotes and empty ones survive"
run "$CTL" run --cgroup "$OPTIN" -- "$PYTHON" -c 'import sys; print(repr(sys.argv[1:]))' "a b" "it's" '"q"' '' '$HOME' '*'
[ "$OUT" = "['a b', \"it's\", '\"q\"', '', '\$HOME', '*']" ] || why "got $OUT"
end
begin "options after the command belong to the command (no -- needed)"
run "$CTL" run --cgroup "$OPTIN" "$PYTHON" -c 'import sys; print(sys.argv[1:])' -v --strict
[ "$OUT" = "['-v', '--strict']" ] || why "got $OUT"
end

begin "LD_PRELOAD gets the shim after what was set"
run env LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 "$CTL" run --cgroup "$OPTIN" -- sh -c 'echo "$LD_PRELOAD"'
[ "$OUT" = "/lib/x86_64-linux-gnu/libc.so.6:$SHIM" ] || why "LD_PRELOAD=$OUT"
end
begin "the shim is added once, also by nested runs"
run "$CTL" run --cgroup "$OPTIN" -- "$CTL" run -- sh -c 'echo "$LD_PRELOAD"'
[ "$OUT" = "$SHIM" ] || why "LD_PRELOAD=$OUT"
end
begin "without NETACCEL_PRELOAD the shim is found next to the build's netaccel-ctl"
run env -u NETACCEL_PRELOAD "$CTL" run --cgroup "$OPTIN" -- "$PROBE" tag
[ "$OUT" = 1 ] || why "tag $OUT"
end

begin "-v says what it did, on stderr"
run "$CTL" run -v --cgroup "$OPTIN" -- true
[ "$RC" = 0 ] || why "exit $RC"
grep -q "moved into cgroup" <<<"$ERR" || why "does not say it moved"
grep -q "is enrolled" <<<"$ERR" || why "does not say the cgroup is enrolled"
grep -q "LD_PRELOAD=" <<<"$ERR" || why "does not show LD_PRELOAD"
end

# Not enrolled: a warning, or with --strict a refusal.
begin "in a cgroup that is not enrolled: one warning line, and the command runs"
run in_cg "$CG" "$CTL" run -- "$PROBE" tag
[ "$RC" = 0 ] || why "exit $RC"
[ "$(wc -l <"$NA_TMP/err")" = 1 ] && grep -q "warning: .*not enrolled" <<<"$ERR" || why "stderr: $ERR"
[ "$OUT" = ENOPROTOOPT ] || why "the program saw $OUT"
end
EXPECT_MSG='not enrolled' expect_fail "--strict refuses to start in a cgroup that is not enrolled" 125 \
	in_cg "$CG" "$CTL" run --strict -- "$PROBE" tag
EXPECT_MSG='not enrolled' expect_fail "--cgroup names a cgroup that is not enrolled" 125 \
	"$CTL" run --cgroup "$CG" -- true
check "--strict in an enrolled cgroup runs the command" "$CTL" run --strict --cgroup "$OPTIN" -- true

# Programs the loader will not preload.
cp /bin/true "$NA_TMP/suid-true" && chmod u+s "$NA_TMP/suid-true"
begin "a setuid program gets a warning that points to --mode all"
run "$CTL" run --cgroup "$OPTIN" -- "$NA_TMP/suid-true"
[ "$RC" = 0 ] || why "exit $RC"
grep -q "setuid.*--mode all" <<<"$ERR" || why "stderr: $ERR"
end
cp /bin/true "$NA_TMP/cap-true"
if setcap cap_net_raw+ep "$NA_TMP/cap-true" 2>/dev/null; then
	begin "a program with file capabilities gets a warning"
	run "$CTL" run --cgroup "$OPTIN" -- "$NA_TMP/cap-true"
	grep -q "file capabilities.*--mode all" <<<"$ERR" || why "stderr: $ERR"
	end
else
	not_ok "setcap works here (libcap2-bin)"
fi
static=
for f in /sbin/ldconfig /usr/sbin/ldconfig /bin/busybox; do
	[ -x "$f" ] && ! file_interp=$(readelf -l "$f" 2>/dev/null | grep -c 'program interpreter') || continue
	[ "$file_interp" = 0 ] && { static=$f; break; }
done
if [ -n "$static" ]; then
	begin "a statically linked program ($static) gets a warning"
	run "$CTL" run --cgroup "$OPTIN" -- "$static" --version
	grep -q "statically linked.*--mode all" <<<"$ERR" || why "stderr: $ERR"
	end
else
	diag "no statically linked program found here; that warning is not tested"
fi
begin "an ordinary dynamic program gets no warning"
run "$CTL" run --cgroup "$OPTIN" -- /bin/true
[ -z "$ERR" ] || why "stderr: $ERR"
end

# Bad input: one line, exit 125, nothing changed.
EXPECT_MSG='missing the command' expect_fail "run without a command" 125 "$CTL" run
EXPECT_MSG='missing the command' expect_fail "run with only --" 125 "$CTL" run --
EXPECT_MSG="unknown option '--bogus'" expect_fail "run with an unknown option" 125 "$CTL" run --bogus -- true
EXPECT_MSG='needs a value' expect_fail "--cgroup without a value" 125 "$CTL" run --cgroup
EXPECT_MSG='no such cgroup' expect_fail "--cgroup that does not exist" 125 \
	"$CTL" run --cgroup "$NAME-nonexistent" -- true
EXPECT_MSG='NETACCEL_PRELOAD' expect_fail "NETACCEL_PRELOAD naming no file" 125 \
	env NETACCEL_PRELOAD=/nonexistent/libx.so "$CTL" run --cgroup "$OPTIN" -- true

na_done
