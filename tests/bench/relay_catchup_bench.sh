# relay_catchup_bench.sh - relayd catching up on a large Dovecot log, table
# written and synced, in each layout a site has, against the Perl anchor
# with its database writes.
#
# Logs of BENCH_LINES lines (default 1,000,000 x BENCH_SCALE; time stamps in
# the last 15 minutes, about half of the lines successful logins each from
# a new address, the rest failed and aborted logins, auth: lines and the
# mail processes' "Disconnected" lines; gendovecot.pl) in three layouts:
#   log_path  Dovecot's own file ("Mmm dd hh:mm:ss pop3-login: Info: ...")
#   syslog    rsyslog's traditional /var/log/mail.log ("... mail dovecot:
#             pop3-login: ...")
#   rfc3339   rsyslog's default on Debian 12 (high-precision RFC 3339
#             time stamps)
# Each is read by:
#   relayd       leafmail-relayd -f with one source "-" (stdin from the
#                file): reads to EOF, commits every batch (synced LMDB
#                transactions), exits; the table must then hold every
#                login's address
#   relayd-file  the same log as a file source: the time until the saved
#                position reaches the end of the file (catch-up at start)
#   perl+db      popbsmtp-ref.pl: the pop-before-smtp approach (anchored
#                regex, hash of ip => expiry) writing each address into a
#                Berkeley DB hash as pop-before-smtp does (DB_File), synced
#                once at the end
#   perl         the same without the database (the old anchor)
#   grep         grep -F -c 'Login:', the floor: reading the file at all
# BENCH_ROUNDS rounds (default 3), layouts interleaved; the best time of
# each counts.  Prints lines/s and the ratios; targets: syslog and
# rfc3339 catch-up within 1.5x of log_path (time ratio <= 1.5), relayd >=
# 5x perl+db on the syslog layout.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/bench/common.sh"
RELAYD=$B/leafmail-relayd
[ -x "$RELAYD" ] || skip_all "$RELAYD not built"
command -v perl >/dev/null || skip_all "perl missing"
perl -MDB_File -e1 2>/dev/null || skip_all "perl's DB_File missing"
umask 022

lines=${BENCH_LINES:-$(bench_scale 1000000)}
rounds=${BENCH_ROUNDS:-3}
user=$(bench_user) || { echo "cannot find or create the leafmail user"; exit 1; }
LAYOUTS="log_path syslog rfc3339"
end=$(date +%s)

for L in $LAYOUTS; do
	t0=$(now_ns)
	perl "$S/tests/bench/gendovecot.pl" "$lines" "$end" "$L" >"$T/$L.log" 2>"$T/gen.err" || {
		echo "gendovecot.pl failed"; cat "$T/gen.err"; exit 1; }
	logins=$(sed -n 's/^logins=//p' "$T/gen.err")
	echo "log $L: $lines lines, $logins logins from distinct addresses," \
		"$(($(wc -c <"$T/$L.log") / 1048576)) MB, generated in $(secs "$t0" "$(now_ns)") s"
done
sed -n '2p' "$T/syslog.log" | sed 's/^/  e.g. /'

# conf FILE SOURCE
conf() {
	cat >"$1" <<EOF2
user = "$user"
state-dir = "$T/state"
run-dir = "$T/run"
relay {
  table = "$T/state/relay"
  expire = "1d"
  ignore-networks = { }
}
relayd {
  source "$2" { format = "dovecot" }
}
EOF2
}
conf "$T/stdin.conf" -

# keep_best VAR NS: VAR = min(VAR, NS)
keep_best() {
	eval "_cur=\${$1:-}"
	if [ -z "$_cur" ] || [ "$2" -lt "$_cur" ]; then eval "$1=$2"; fi
}
fail() { echo "$*"; exit 1; }

r=1
while [ "$r" -le "$rounds" ]; do
	for L in $LAYOUTS; do
		LOG=$T/$L.log
		s=$(now_ns)
		n=$(grep -F -c 'Login:' "$LOG")
		e=$(now_ns)
		keep_best "best_grep_$L" $((e - s))

		rm -rf "$T/state" "$T/run"
		s=$(now_ns)
		/usr/bin/time -f "cpu %U %S" -o "$T/relayd.time" \
			"$RELAYD" -f -c "$T/stdin.conf" <"$LOG" 2>"$T/relayd.err" ||
			{ tail -5 "$T/relayd.err"; fail "relayd failed on $L"; }
		e=$(now_ns)
		got=$("$RELAYD" -c "$T/stdin.conf" -l 2>/dev/null | wc -l)
		[ "$got" -eq "$logins" ] || fail "relayd ($L): $got entries, expected $logins"
		keep_best "best_relayd_$L" $((e - s))
		cpu=$(awk '/^cpu/ { printf "cpu %s+%s s", $2, $3 }' "$T/relayd.time")
		echo "round $r $L: relayd $(secs "$s" "$e") s ($cpu)"

		# The file source: the catch-up at start, until the position
		# saved reaches the end of the file.
		rm -rf "$T/state" "$T/run"
		conf "$T/file.conf" "$LOG"
		size=$(wc -c <"$LOG")
		s=$(now_ns)
		"$RELAYD" -f -c "$T/file.conf" 2>"$T/relayd-file.err" &
		rpid=$!
		while ! grep -q -E " $size ([0-9]+ )?$LOG\$" "$T/state/relayd.positions" 2>/dev/null; do
			kill -0 "$rpid" 2>/dev/null || fail "relayd (file, $L) died: $(tail -3 "$T/relayd-file.err")"
			sleep 0.01
		done
		e=$(now_ns)
		kill -TERM "$rpid"; wait "$rpid"
		keep_best "best_file_$L" $((e - s))
		echo "round $r $L: relayd-file $(secs "$s" "$e") s"

		rm -f "$T/pbs.db"
		s=$(now_ns)
		n=$(perl "$S/tests/bench/popbsmtp-ref.pl" 86400 "$L" "$T/pbs.db" <"$LOG")
		e=$(now_ns)
		[ "$n" -eq "$logins" ] || fail "perl+db ($L) found $n addresses, expected $logins"
		keep_best "best_perldb_$L" $((e - s))
		echo "round $r $L: perl+db $(secs "$s" "$e") s"
		if [ "$L" = log_path ]; then
			s=$(now_ns)
			n=$(perl "$S/tests/bench/popbsmtp-ref.pl" 86400 "$L" <"$LOG")
			e=$(now_ns)
			keep_best best_perl $((e - s))
			echo "round $r $L: perl (no database) $(secs "$s" "$e") s"
		fi
	done
	r=$((r + 1))
done

lps() { awk -v l="$lines" -v ns="$1" 'BEGIN { printf "%.0f", l / (ns / 1e9) }'; }
for L in $LAYOUTS; do
	eval "br=\$best_relayd_$L bf=\$best_file_$L bp=\$best_perldb_$L bg=\$best_grep_$L"
	echo "best of $rounds, $L: relayd $(lps "$br") lines/s ($(secs 0 "$br") s)," \
		"file source $(lps "$bf") lines/s ($(secs 0 "$bf") s)," \
		"perl+db $(lps "$bp") lines/s ($(secs 0 "$bp") s), grep $(lps "$bg") lines/s"
done
for L in syslog rfc3339; do
	eval "br=\$best_relayd_$L bf=\$best_file_$L"
	echo "ratio $L/log_path time, stdin = $(ratio "$br" "$best_relayd_log_path")," \
		"file = $(ratio "$bf" "$best_file_log_path")"
	target "$L/log_path-time" "$(ratio "$br" "$best_relayd_log_path")" "<=" 1.5
done
for L in $LAYOUTS; do
	eval "br=\$best_relayd_$L bp=\$best_perldb_$L"
	echo "ratio relayd/perl+db ($L) = $(ratio "$(lps "$br")" "$(lps "$bp")")"
done
target "relayd/perl+db-syslog" "$(ratio "$(lps "$best_relayd_syslog")" "$(lps "$best_perldb_syslog")")" ">=" 5
echo "ratio relayd/perl without its database (log_path) = $(ratio "$(lps "$best_relayd_log_path")" "$(lps "$best_perl")")"
exit 0
