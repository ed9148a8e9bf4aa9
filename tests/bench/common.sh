# common.sh - helpers for tests/bench/*_bench.sh (sourced after tests/lib.sh).
#
# Benchmarks print ratios against a reference measured in the same run:
# the machine is shared and noisy, absolute times drift, ratios hold.
# Nothing here fails on speed: a missed target is reported ("NOT met"),
# the script still exits 0; only a benchmark that could not run exits
# non-zero.
#
#   bench_scale N         N * BENCH_SCALE (default 1), at least 1
#   bench_cc OUT SRC...   compile a helper against $B/libleafmail.a into
#                         $B/bench/OUT (extra args: more sources/libs;
#                         with the sanitizers when LEAFMAIL_SAN=1)
#   now_ns                monotonic-enough wall clock in nanoseconds
#   secs START END        "1.234" from two now_ns values
#   ratio A B             A/B with two decimals ("-" when B is 0)
#   target NAME VALUE OP LIMIT   "target NAME VALUE OP LIMIT: met|NOT met"
#   bench_user            the user daemons run as (root: "leafmail",
#                         created like tests/relayd/common.sh does)
BENCH_SCALE=${BENCH_SCALE:-1}

bench_scale() {
	awk -v n="$1" -v s="$BENCH_SCALE" 'BEGIN { v = int(n * s); if (v < 1) v = 1; print v }'
}

bench_cc() {
	_out=$1; shift
	mkdir -p "$B/bench" || return 1
	_san=""
	[ "${LEAFMAIL_SAN:-0}" = 1 ] && _san="-fsanitize=address,undefined -fno-omit-frame-pointer"
	# shellcheck disable=SC2046,SC2086 # word splitting wanted
	${CC:-cc} $_san -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -pthread -I"$S/lib" \
		-o "$B/bench/$_out" "$@" "$B/libleafmail.a" \
		$(pkg-config --libs libconfuse lmdb hiredis libcrypto) -pthread
}

now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }

# target NAME VALUE OP LIMIT, OP one of >= <= <
target() {
	_met=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN {
		if (v == "-") { print "NOT met"; exit }
		if (op == ">=") m = (v + 0 >= l + 0)
		else if (op == "<=") m = (v + 0 <= l + 0)
		else m = (v + 0 < l + 0)
		print m ? "met" : "NOT met" }')
	echo "target $1 $2 $3 $4: $_met"
}

bench_user() { need_run_user && echo "$RUSER"; }
