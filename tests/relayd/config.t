#!/bin/sh
# config.t - leafmail-relayd options and -t: good and malformed configs
# exit 0 / 78 with "FILE:LINE: message"; usage errors exit 64.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"

out=$("$RELAYD" -V)
case $out in "leafmail-relayd "[0-9]*) ok "-V prints the version" ;; *) notok "-V prints the version ($out)" ;; esac
"$RELAYD" -h >/dev/null; check "-h exits 0" [ $? -eq 0 ]
"$RELAYD" -x >/dev/null 2>&1; check "unknown option exits 64" [ $? -eq 64 ]
"$RELAYD" -l -d 1.2.3.4 >/dev/null 2>&1; check "-l with -d exits 64" [ $? -eq 64 ]
"$RELAYD" -c "$CFG" extra >/dev/null 2>&1; check "stray argument exits 64" [ $? -eq 64 ]

write_conf
"$RELAYD" -t -c "$CFG" >"$T/out" 2>&1; rc=$?
check "-t on a good config exits 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/# /' "$T/out"

"$RELAYD" -t -c "$T/missing.conf" >"$T/out" 2>&1
check "-t on a missing file exits 78" [ $? -eq 78 ]

# bad_conf NAME LINE SNIPPET: insert SNIPPET as line LINE+1 of a good
# config; -t must exit 78 and name FILE:LINE(+1).
bad_conf() {
	_f=$T/$1.conf
	sed "${2}a\\
$3" "$CFG" >"$_f"
	"$RELAYD" -t -c "$_f" >"$T/out" 2>&1; _rc=$?
	check "-t $1: exit 78" [ "$_rc" -eq 78 ]
	check "-t $1: message names $_f:$(($2 + 1))" grep -q "$_f:$(($2 + 1)):" "$T/out"
	[ "$_rc" -eq 78 ] && grep -q "$_f:$(($2 + 1)):" "$T/out" || sed 's/^/#   /' "$T/out"
}
# Line 4 is "relay {": the snippets go inside that section.
sed -n 4p "$CFG" | grep -q '^relay {' || notok "config layout changed"
bad_conf unknown-key 4 '  no-such-key = "x"'
bad_conf bad-duration 4 '  expire = "10 parsecs"'
bad_conf bad-network 4 '  ignore-networks = { "10.0.0.300/8" }'
bad_conf unknown-top 1 'colour = "blue"'

# A custom regex that does not compile is found by -t (parsers are built).
write_conf 30m 5s "source \"$LOG\" { format = \"custom\"  regex = \"rip=([0-9.]+\" }"
"$RELAYD" -t -c "$CFG" >"$T/out" 2>&1; rc=$?
check "-t: bad custom regex exits 78" [ $rc -eq 78 ]
check "-t: bad custom regex names the file and line" grep -q "$CFG:1[0-9]:" "$T/out"
[ $rc -eq 78 ] || sed 's/^/#   /' "$T/out"
write_conf 30m 5s "source \"$LOG\" { format = \"custom\"  regex = \"rip=([0-9.]+)\"  ip-group = 1 }"
"$RELAYD" -t -c "$CFG" >"$T/out" 2>&1
check "-t: a good custom regex passes" [ $? -eq 0 ]

# The keys of this issue: durations and counts checked by -t.
write_conf
bad_conf bad-skew 4 '  max-clock-skew = "soon"'
bad_conf bad-hold 4 '  hold-while-connected = "perhaps"'
bad_conf bad-hold-max 4 '  hold-max = "forever"'
bad_conf bad-hold-sessions 4 '  hold-max-sessions = 0'

# Push sources: the key file is required, only for them, read and
# checked by -t (refused when others may read it); loopback only.
openssl rand -hex 24 >"$T/push.key" && chmod 600 "$T/push.key"
# push_t SPEC BODY: -t with that one source; sets rc and $T/out
push_t() {
	write_conf 30m 5s "source \"$1\" { $2 }"
	"$RELAYD" -t -c "$CFG" >"$T/out" 2>&1
	rc=$?
}
push_t "dovecot-policy:127.0.0.1:8080" "api-key-file = \"$T/push.key\""
check "-t: a dovecot-policy source with its key passes" [ $rc -eq 0 ]
push_t "dovecot-events:[::1]:8080" "api-key-file = \"$T/push.key\""
check "-t: a dovecot-events source on [::1] passes" [ $rc -eq 0 ]
push_t "dovecot-events:unix:/run/leafmail/events.sock" "api-key-file = \"$T/push.key\""
check "-t: a dovecot-events source on a unix socket passes" [ $rc -eq 0 ]
push_t "dovecot-policy:127.0.0.1:8080" ""
check "-t: a push source without api-key-file: 78" [ $rc -eq 78 ] && grep -q 'api-key-file is required' "$T/out"
write_conf 30m 5s "source \"$LOG\" { api-key-file = \"$T/push.key\" }"
"$RELAYD" -t -c "$CFG" >"$T/out" 2>&1
check "-t: api-key-file on a log source: 78" [ $? -eq 78 ]
push_t "dovecot-policy:127.0.0.1:8080" "api-key-file = \"$T/push.key\" format = \"cyrus\""
check "-t: format on a push source: 78" [ $rc -eq 78 ]
push_t "dovecot-policy:192.0.2.1:8080" "api-key-file = \"$T/push.key\""
check "-t: a push source on a non-loopback address: 78" [ $rc -eq 78 ] && grep -q 'loopback' "$T/out"
push_t "dovecot-policy:unix:relative" "api-key-file = \"$T/push.key\""
check "-t: a relative unix socket path: 78" [ $rc -eq 78 ]
push_t "dovecot-policy:127.0.0.1:8080" "api-key-file = \"$T/none.key\""
check "-t: a missing key file: 78" [ $rc -eq 78 ]
chmod 644 "$T/push.key"
push_t "dovecot-policy:127.0.0.1:8080" "api-key-file = \"$T/push.key\""
check "-t: a key file others may read: 78" [ $rc -eq 78 ]
chmod 600 "$T/push.key"
echo short >"$T/short.key" && chmod 600 "$T/short.key"
push_t "dovecot-policy:127.0.0.1:8080" "api-key-file = \"$T/short.key\""
check "-t: a key of 5 characters: 78" [ $rc -eq 78 ] && grep -q '16 to 128' "$T/out"
[ $rc -eq 78 ] || sed 's/^/#   /' "$T/out"

# The daemon with a malformed config exits 78 before touching anything.
write_conf "ten minutes"
"$RELAYD" -f -c "$CFG" >"$T/out" 2>&1; rc=$?
check "daemon with a bad config exits 78" [ $rc -eq 78 ]
check "... and created no state-dir" [ ! -e "$T/state" ]

# A missing user is a configuration error when started as root.
if [ "$(id -u)" -eq 0 ]; then
	write_conf
	sed 's/^user = .*/user = "no-such-user-lm"/' "$CFG" >"$T/nouser.conf"
	"$RELAYD" -f -c "$T/nouser.conf" >"$T/out" 2>&1; rc=$?
	check "root, missing user: exit 78" [ $rc -eq 78 ]
	check "root, missing user: says so" grep -q 'no-such-user-lm' "$T/out"
fi

# An unreadable source is a clear error at start (exit 69).
if [ "$(id -u)" -eq 0 ]; then
	write_conf
	login 198.51.100.1 >"$LOG"
	chmod 0600 "$LOG"
	"$RELAYD" -f -c "$CFG" >"$T/out" 2>&1; rc=$?
	check "unreadable log: exit 69" [ $rc -eq 69 ]
	check "unreadable log: message names the file and the user" grep -q "$LOG.*$RUSER" "$T/out"
	[ $rc -eq 69 ] || sed 's/^/#   /' "$T/out"
	chmod 0644 "$LOG"
fi
exit 0
