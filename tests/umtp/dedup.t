#!/bin/sh
# dedup.t - umtp receive and the duplicate store (<state-dir>/umtp-dedup.lmdb):
# a message already delivered (by an earlier datagram, or recorded by the
# SMTP side) is not injected again, per recipient; what is injected is
# recorded; a replayed protocol 1 datagram (no replay cache there) is
# dropped as a duplicate of its Message-ID.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/umtp/common.sh"
command -v mdb_load >/dev/null 2>&1 || skip_all "mdb_load (lmdb-utils) not installed"

mkkey default; mkkey p1 "old secret"
write_conf "sendmail:$CAPTURE" "
  dedup-ttl = \"1d\"
  peer \"old.example\" { address = \"127.0.0.1:2527\"  key-file = \"$T/keys/p1\"  protocol = 1 }"
# The SMTP side already delivered <d2@example.org> to bob (as the milter
# records it), written before the daemon starts.
mkdir -p "$T/state"
now=$(date +%s)
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n d2@example.org\\00bob@example.net\\00\n %s smtp\\00\n d3@example.org\\00bob@example.net\\00\n %s smtp\\00\nDATA=END\n' \
	"$now" "$((now - 2 * 86400))" >"$T/seed.txt"
mdb_load -n -f "$T/seed.txt" "$T/state/umtp-dedup.lmdb"
[ "$(id -u)" -eq 0 ] && chown -R "$RUSER" "$T/state"
start_receive || { notok "umtp receive starts"; cat "$RLOG"; exit 1; }

msg() { printf 'From: alice@example.org\nMessage-ID: <%s>\nSubject: dedup\n\nhi\n' "$1"; }
msg d1@example.org | "$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net
check "first copy injected" wait_log 'injected message <d1@example.org>' 1
msg d1@example.org | "$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net
check "second datagram of the same message dropped as a duplicate" \
	wait_log 'dropped duplicate: <d1@example.org> for <bob@example.net> already delivered by umtp' 1
msg d2@example.org | "$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net carol@example.net
check "recipient already delivered by SMTP dropped" \
	wait_log 'dropped duplicate: <d2@example.org> for <bob@example.net> already delivered by smtp' 1
check "the other recipient injected" wait_log 'injected message <d2@example.org> for <carol@example.net>' 1
msg d3@example.org | "$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net
check "a record older than dedup-ttl does not count" wait_log 'injected message <d3@example.org>' 1
check "three messages injected in all" wait_for 10 sh -c "[ \$(ls '$CAP' | grep -c '\.msg\$') -eq 3 ]"
check "argv of the d2 injection names carol only" \
	sh -c "grep -l carol '$CAP'/*.argv | xargs cat | tr '\n' ' ' | grep -qx -- '-oi -f <> -- carol@example.net '"
mdb_dump -n -p "$T/state/umtp-dedup.lmdb" >"$T/dump.txt" 2>&1
check "injection recorded: (d1, bob) via umtp" sh -c "grep -A1 -x ' d1@example.org\\\\00bob@example.net\\\\00' '$T/dump.txt' | grep -q ' umtp'"

# Protocol 1 has no replay protection; the store still drops a replay.
H=$T/home; mkdir -p "$H/.umtp"; cp "$T/keys/p1" "$H/.umtp/secret"
msg p1@example.org >"$T/p1.txt"
HOME=$H perl "$SEED" send 127.0.0.1 "$PORT" bob@example.net <"$T/p1.txt"
check "protocol 1 message injected" wait_log 'injected message <p1@example.org>' 1
HOME=$H perl "$SEED" send 127.0.0.1 "$PORT" bob@example.net <"$T/p1.txt"
check "its replay dropped as a duplicate" wait_log 'dropped duplicate: <p1@example.org>' 1
sleep 0.3
check "four injections in all" test "$(captured)" -eq 4
no_sanitizer_reports
