#!/bin/sh
# run.sh BUILD_DIR - run every tests/bench/*_bench.sh in turn (make bench).
#
# Benchmarks are not tests: `make check` never runs them and none fails
# on speed.  Each one measures leafmail against a reference in the same
# run and prints ratios, the target and whether it was met.
#
# Each script gets what tests/run.sh gives a test (so it can source
# tests/lib.sh): LEAFMAIL_BUILD and LEAFMAIL_SRC (absolute paths of
# world-readable copies; LEAFMAIL_CHECKOUT and LEAFMAIL_BUILD_DIR are the
# originals) and
# LEAFMAIL_TMP, a fresh scratch directory of its own, removed afterwards
# unless BENCH_KEEP=1.  Sizes scale with BENCH_SCALE (default 1 = full
# size; e.g. 0.1 for a quick look); ONLY=pattern runs the benchmarks whose
# name contains pattern.  A script that exits non-zero (it could not run)
# is reported and makes run.sh exit 1; exit 77 is a skip.  Each script
# prints its verdicts as "target NAME VALUE OP LIMIT: met|NOT met" lines;
# run.sh repeats them in a summary at the end.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
only=${ONLY:-}
timeout_s=${BENCH_TIMEOUT:-600}
LEAFMAIL_SAN=0
case $build in *asan*) LEAFMAIL_SAN=1 ;; esac
tmproot=$src/tests/tmp/bench-$(basename "$build")
mkdir -p "$tmproot"
# Daemons under test run as unprivileged users: they get world-readable
# copies of the checkout and the build (tests/stage.sh), as in the suite.
. "$src/tests/stage.sh"
stage=$(mktemp -d /tmp/lmb.XXXXXX) || exit 1
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT
stage_src "$src" "$stage/src" && stage_build "$build" "$stage/build" ||
	{ echo "bench: cannot copy the checkout and $build to $stage" >&2; exit 1; }
export LEAFMAIL_BUILD="$stage/build" LEAFMAIL_SRC="$stage/src" LEAFMAIL_SAN \
	LEAFMAIL_CHECKOUT="$src" LEAFMAIL_BUILD_DIR="$build"

broken="" ran=0
: >"$tmproot/summary"
for t in "$src"/tests/bench/*_bench.sh; do
	[ -f "$t" ] || continue
	case $t in *"$only"*) ;; *) continue ;; esac
	name=$(basename "$t" .sh)
	# A short path: daemons put unix sockets here (sun_path is 107 bytes).
	LEAFMAIL_TMP=$(mktemp -d /tmp/lmb.XXXXXX) || exit 1
	chmod 755 "$LEAFMAIL_TMP"
	export LEAFMAIL_TMP
	echo "== $name"
	start=$(date +%s)
	{ timeout -k 10 "$timeout_s" sh "$t"; echo $? >"$tmproot/$name.rc"; } 2>&1 |
		tee "$tmproot/$name.out"
	rc=$(cat "$tmproot/$name.rc")
	grep '^target ' "$tmproot/$name.out" | sed "s/^/$name: /" >>"$tmproot/summary"
	secs=$(($(date +%s) - start))
	case $rc in
	0) echo "== $name done (${secs}s)" ;;
	77) echo "== $name skipped" ;;
	*) echo "== $name could not run (exit $rc, ${secs}s)"
	   broken="$broken $name" ;;
	esac
	ran=$((ran + 1))
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "== $name kept $LEAFMAIL_TMP"; else rm -rf "$LEAFMAIL_TMP"; fi
done
[ "$ran" -gt 0 ] || { echo "no benchmark matched"; exit 1; }
echo "== summary"
cat "$tmproot/summary"
if [ -n "$broken" ]; then
	echo "benchmarks that could not run:$broken"
	exit 1
fi
exit 0
