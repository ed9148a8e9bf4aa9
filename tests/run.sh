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
		_m=$(grep -aE -i 'fatal|panic|error|warning|denied|refused|not ok|cannot|failed|sanitizer' "$_l" 2>/dev/null | tail -8)
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
	LEAFMAIL_CHECKOUT=$src LEAFMAIL_BUILD_DIR=$build
n=0

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	case $t in *"$only"*) ;; *) continue ;; esac
	name=$(basename "$t")
	out=$(timeout "$per_test_timeout" "$t" 2>&1)
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

for t in "$LEAFMAIL_SRC"/tests/*/*.t; do
	[ -f "$t" ] || continue
	case $t in *"$only"*) ;; *) continue ;; esac
	rel=${t#"$LEAFMAIL_SRC"/}
	name=$(echo "$rel" | tr '/.' '__')
	n=$((n + 1))
	LEAFMAIL_TMP=$scratch/$n
	mkdir -p "$LEAFMAIL_TMP"
	rm -f "$tmproot/$name"
	ln -s "$LEAFMAIL_TMP" "$tmproot/$name"
	export LEAFMAIL_TMP
	start=$(date +%s)
	log=$tmproot/$name.log
	timeout -k 10 "$per_test_timeout" sh "$t" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -eq 77 ]; then
		skip=$((skip + 1))
		echo "skip $rel: $(grep -m1 '^# skip' "$log" || tail -1 "$log")"
		continue
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p))
	if [ "$f" -gt 0 ]; then
		note_fail "$f" "$bname $rel (exit $rc, log $log)"
		grep -E '^not ok|^#' "$log" | head -30
		[ "$rc" -ne 0 ] && tail -15 "$log"
		evidence "$LEAFMAIL_TMP"
	fi
	echo "script $rel: $p passed, $f failed (${secs}s)"
done
done

if [ "$fail" -gt 0 ]; then
	echo "failures:$failed"
fi
[ "$skip" -gt 0 ] && echo "$skip script(s) skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
