#!/bin/sh
# fuzz.t - build the libFuzzer targets (tests/fuzz/fuzz_*.c, `make fuzz`)
# and run each for FUZZ_SECONDS (default 15) seconds.
#
# Seeds: tests/data/NAME/ for build-fuzz/fuzz_NAME, else tests/data/logparse/.
# Text logs are split into one seed per line (whole files as seeds would set
# libFuzzer's length limit to their size at once and cut its speed
# twentyfold); binary seeds (*.pkt, UMTP datagrams) and HTTP requests
# (*.http) are used whole, since a datagram or a request cut at a newline
# byte is no longer one.  The corpus is a scratch
# copy under $T (libFuzzer adds to it), crashes land in $T/NAME-crash-*, and
# are printed.  One ok/not ok per
# target.  Skips (77) when clang cannot link -fsanitize=fuzzer.
# make check runs the suite twice (normal and sanitizer builds); the
# targets are sanitizer builds already, so they run in the first pass only.
. "$LEAFMAIL_SRC/tests/lib.sh"

secs=${FUZZ_SECONDS:-15}
[ "${LEAFMAIL_SAN:-0}" = 1 ] && skip_all "fuzz targets ran in the normal pass"

command -v clang >/dev/null 2>&1 || skip_all "clang not installed"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' >"$T/probe.c"
clang -fsanitize=fuzzer,address -o "$T/probe" "$T/probe.c" >"$T/probe.log" 2>&1 ||
	skip_all "clang cannot link -fsanitize=fuzzer (libFuzzer missing)"

# make writes build-fuzz/ in the checkout itself, not in the staged copy.
C=${LEAFMAIL_CHECKOUT:-$S}
if make -C "$C" fuzz >"$T/make.log" 2>&1; then
	ok "make fuzz builds the fuzz targets"
else
	notok "make fuzz builds the fuzz targets"
	sed 's/^/# /' "$T/make.log" | tail -20
	exit 1
fi

n=0
for f in "$C"/build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=$((n + 1))
	name=${f##*/fuzz_}
	seeds=$S/tests/data/$name
	[ -d "$seeds" ] || seeds=$S/tests/data/logparse
	corpus=$T/corpus-$name
	mkdir -p "$corpus"
	for s in "$seeds"/*; do
		[ -f "$s" ] || continue
		b=${s##*/}
		case $b in
		*.pkt|*.http) cp "$s" "$corpus/$b" ;;
		*) split -l 1 -a 4 "$s" "$corpus/$b-line-" ;;
		esac
	done
	# -max_len: long enough for the long-line paths, short enough to
	# keep 20 s useful; rss and per-input timeouts turn hangs and leaks
	# into findings.
	TMPDIR=$T "$f" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$T/$name-" "$corpus" \
		>"$T/$name.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/$name.log")
	if [ "$rc" -eq 0 ] && ! ls "$T/$name"-crash-* "$T/$name"-leak-* \
		"$T/$name"-timeout-* "$T/$name"-oom-* >/dev/null 2>&1; then
		ok "fuzz_$name: ${runs:-?} runs in ${secs}s, no findings"
	else
		notok "fuzz_$name: finding (exit $rc), see $T/$name.log"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$T/$name.log" |
			head -10 | sed 's/^/# /'
	fi
done
[ "$n" -gt 0 ] || notok "make fuzz built no build-fuzz/fuzz_* target"
