#!/bin/sh
# run.sh BUILD_DIR... - run leafmail's whole test suite against each build
# directory in turn (make check: build/ and the sanitizer build build-asan/).
#
# Two kinds of test:
#   BUILD_DIR/tests/test_*   cmocka unit tests; their "[  PASSED  ] N" and
#                            "[  FAILED  ] N" lines are counted.
#   tests/*/*.t              shell scripts printing TAP-style "ok - what" /
#                            "not ok - what" lines; exit 77 skips the whole
#                            script (and says why).  A script that exits
#                            non-zero without a "not ok" counts as one
#                            failure; so does one that reports nothing.
# Scripts get LEAFMAIL_BUILD and LEAFMAIL_SRC (absolute paths),
# LEAFMAIL_TMP, a fresh scratch directory of their own, and LEAFMAIL_SAN=1
# when BUILD_DIR is a sanitizer build.  LEAFMAIL_SRC and LEAFMAIL_BUILD
# are world-readable copies of the checkout and of the build's programs
# (tests/stage.sh): the daemons and Postfix's pipe(8) run them as
# unprivileged users, who cannot reach a checkout under /root.  The
# checkout itself is LEAFMAIL_CHECKOUT and the build directory
# LEAFMAIL_BUILD_DIR, for what runs as root and writes there (make).
# When a script fails, the warning and error lines of the logs in its
# scratch directory (the servers it started) are printed after its own.
# Scratch directories live under a short /tmp path, not in the checkout:
# Dovecot and Postfix put unix sockets in them, and sun_path holds only
# 107 bytes (a CI checkout under a long path overflowed it).  The logs
# stay in tests/tmp/BUILD/, each beside a symlink to its scratch directory.
# Scripts run LEAFMAIL_JOBS (default 3) at a time, the slowest first;
# ports come from tests/freeport.py, which never hands one out twice in
# a run (LEAFMAIL_PORTS).
# The last line is "N passed, N failed", which CI reads.
# ONLY=pattern runs the scripts/tests whose path contains pattern.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- build
only=${ONLY:-}
pass=0 fail=0 skip=0
failed=""
per_test_timeout=${LEAFMAIL_TEST_TIMEOUT:-420}
# Sanitizer reports must fail the test that triggered them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

note_fail() { fail=$((fail + $1)); failed="$failed
  $2"; }
. "$src/tests/stage.sh"

# evidence DIR: the lines of DIR's logs (Postfix's maillog, Dovecot's,
# leafmail's) that say why something went wrong, a few per file.
evidence() {
	find -L "$1" -type f \( -name '*.log' -o -name '*log' -o -name '*.err' \) \
		-size -64M 2>/dev/null | sort | while IFS= read -r _l; do
		_m=$(grep -aE -i 'fatal|panic|error|warning|denied|refused|not ok|cannot|failed|sanitizer' "$_l" 2>/dev/null |
			awk '!seen[$0]++' | tail -8)
		[ -n "$_m" ] || continue
		echo "#   -- ${_l#"$1"/}:"
		printf '%s\n' "$_m" | cut -c1-300 | sed 's/^/#   /'
	done | head -80
}

for build in "$@"; do
case $build in /*) ;; *) build=$src/$build ;; esac
case $build in *asan*) LEAFMAIL_SAN=1 ;; *) LEAFMAIL_SAN=0 ;; esac
bname=$(basename "$build")
echo "== $bname"
tmproot=$src/tests/tmp/$bname
mkdir -p "$tmproot"
# One run per build directory at a time: a second one would remove the
# first one's scratch tree under it.  (The tests get 9>&-, so that a
# daemon a test leaves behind does not hold the lock.)
exec 9>"$tmproot/.lock"
if ! flock -n 9; then
	echo "run.sh: another run of the suite uses $tmproot; wait for it" >&2
	exit 1
fi
# The previous run's scratch tree for this build goes first.
if [ -f "$tmproot/.scratch" ]; then
	old=$(cat "$tmproot/.scratch")
	case $old in /tmp/lmt.*) rm -rf "$old" ;; esac
fi
scratch=$(mktemp -d /tmp/lmt.XXXXXX) || exit 1
# Daemons that drop privileges (postfix, dovecot, leafmail) must traverse it.
chmod 755 "$scratch"
echo "$scratch" >"$tmproot/.scratch"
if ! stage_src "$src" "$scratch/.src" || ! stage_build "$build" "$scratch/.bin"; then
	echo "run.sh: cannot copy the checkout and $build to $scratch" >&2
	exit 1
fi
export LEAFMAIL_BUILD=$scratch/.bin LEAFMAIL_SRC=$scratch/.src LEAFMAIL_SAN \
	LEAFMAIL_CHECKOUT=$src LEAFMAIL_BUILD_DIR=$build LEAFMAIL_PORTS=$scratch/.ports
n=0

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	case $t in *"$only"*) ;; *) continue ;; esac
	name=$(basename "$t")
	out=$(timeout "$per_test_timeout" "$t" 2>&1 9>&-)
	rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p))
	if [ "$f" -gt 0 ]; then
		note_fail "$f" "$bname $name (exit $rc)"
		printf '%s\n' "$out" | grep -E 'FAILED|ERROR|error|Sanitizer|runtime error' | head -20
	fi
	echo "unit $name: $p passed, $f failed"
done

# The scripts, LEAFMAIL_JOBS (default 3) at a time: most of their time
# is spent waiting for servers, not computing.  The slowest of the last
# run start first, so that the long ones overlap the short ones; a script
# with a line "# leafmail-test: exclusive" runs alone (it changes
# something machine-wide, or measures memory).  Each result is printed
# when its script ends.
: >"$scratch/.active"
durations=$tmproot/.durations
[ -f "$durations" ] || : >"$durations"
for t in "$LEAFMAIL_SRC"/tests/*/*.t; do
	[ -f "$t" ] || continue
	case $t in *"$only"*) ;; *) continue ;; esac
	rel=${t#"$LEAFMAIL_SRC"/}
	d=$(awk -v r="$rel" '$2 == r { d = $1 } END { print d == "" ? 9999 : d }' "$durations")
	echo "$d $rel"
done | sort -k1,1nr -k2 | cut -d' ' -f2- >"$scratch/.order"
: >"$durations.new"

# reap: handle every script that has ended; returns 1 when none had
reap() {
	_any=1
	for _id in $(cat "$scratch/.active"); do
		[ -f "$scratch/.job.$_id.rc" ] || continue
		_any=0
		read -r _rel _name _start <"$scratch/.job.$_id"
		_rc=$(cat "$scratch/.job.$_id.rc")
		grep -vx "$_id" "$scratch/.active" >"$scratch/.active.new"
		mv "$scratch/.active.new" "$scratch/.active"
		_log=$tmproot/$_name.log
		_secs=$(($(date +%s) - _start))
		echo "$_secs $_rel" >>"$durations.new"
		_p=$(grep -c '^ok ' "$_log")
		_f=$(grep -c '^not ok ' "$_log")
		if [ "$_rc" -eq 77 ]; then
			skip=$((skip + 1))
			echo "skip $_rel: $(grep -m1 '^# skip' "$_log" || tail -1 "$_log")"
			continue
		fi
		if [ "$_rc" -ne 0 ] && [ "$_f" -eq 0 ]; then _f=1; fi
		[ "$_p" -eq 0 ] && [ "$_f" -eq 0 ] && _f=1
		pass=$((pass + _p))
		if [ "$_f" -gt 0 ]; then
			note_fail "$_f" "$bname $_rel (exit $_rc, log $_log)"
			grep -E '^not ok|^#' "$_log" | head -30
			[ "$_rc" -ne 0 ] && tail -15 "$_log"
			evidence "$scratch/$_id"
		fi
		echo "script $_rel: $_p passed, $_f failed (${_secs}s)"
	done
	return $_any
}
# wait_below N: until fewer than N scripts run
wait_below() {
	while [ "$(wc -l <"$scratch/.active")" -ge "$1" ]; do
		reap || sleep 0.2
	done
}

jobs=${LEAFMAIL_JOBS:-3}
while IFS= read -r rel; do
	t=$LEAFMAIL_SRC/$rel
	name=$(echo "$rel" | tr '/.' '__')
	n=$((n + 1))
	mkdir -p "$scratch/$n"
	rm -f "$tmproot/$name"
	ln -s "$scratch/$n" "$tmproot/$name"
	if grep -q '^# leafmail-test: exclusive' "$t"; then
		wait_below 1
	else
		wait_below "$jobs"
	fi
	echo "$rel $name $(date +%s)" >"$scratch/.job.$n"
	echo "$n" >>"$scratch/.active"
	(
		export LEAFMAIL_TMP=$scratch/$n
		timeout -k 10 "$per_test_timeout" sh "$t" >"$tmproot/$name.log" 2>&1
		echo $? >"$scratch/.job.$n.rc.tmp"
		mv "$scratch/.job.$n.rc.tmp" "$scratch/.job.$n.rc"
	) </dev/null 9>&- &
	if grep -q '^# leafmail-test: exclusive' "$t"; then
		wait_below 1
	fi
done <"$scratch/.order"
wait_below 1
wait
# Durations for the next run's order: this run's, and the last known of
# scripts this run did not reach (ONLY=...).
awk 'NR == FNR { seen[$2] = 1; print; next } !($2 in seen)' "$durations.new" "$durations" >"$durations.tmp"
mv "$durations.tmp" "$durations"
rm -f "$durations.new"
done

if [ "$fail" -gt 0 ]; then
	echo "failures:$failed"
fi
[ "$skip" -gt 0 ] && echo "$skip script(s) skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
