#!/bin/sh
# refuse.t - umtp receive refuses, logs with the reason, and injects
# nothing for: a replayed datagram, a wrong key, an unknown key, a peer's
# key from the wrong source, a truncated, oversized, bad-gzip, stale or
# decompression-bomb packet, protocol 1 from a non-peer, and garbage.
# Packets are made by tests/umtp/umtp2.pl, a second implementation of
# protocol 2 written from umtp(5), so the valid ones also check the spec.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/umtp/common.sh"

mkkey default; mkkey peer; mkkey far; mkkey wrong; mkkey p1 "old secret"
write_conf "sendmail:$CAPTURE" "
  max-message-size = 100000
  max-skew = \"5m\"
  peer \"example.net\" { address = \"127.0.0.1:2526\"  key-file = \"$T/keys/peer\" }
  peer \"far.example\" { address = \"127.0.0.9:2526\"  key-file = \"$T/keys/far\" }
  peer \"old.example\" { address = \"127.0.0.9:2527\"  key-file = \"$T/keys/p1\"  protocol = 1 }"
# every refusal below must be logged: more than the default burst
echo "log-rate-burst = 100" >>"$CFG"
start_receive || { notok "umtp receive starts"; cat "$RLOG"; exit 1; }

build() { k=$1; shift; perl "$P2" build "$T/keys/$k" "$@" <"$MSG"; }
sendpkt() { perl "$P2" sendfile 127.0.0.1 "$PORT" "$@"; }
nref=0
# refused DESC PATTERN FILE: send FILE, expect one more refusal matching
refused() {
	nref=$((nref + 1))
	_n=$(($(grep -c 'refused datagram' "$RLOG") + 1))
	sendpkt "$3"
	if wait_log 'refused datagram' "$_n" && tail -1 "$RLOG" | grep -q "$2"; then
		ok "$1 refused and logged"
	else
		notok "$1 refused and logged ($2)"; tail -3 "$RLOG" | sed 's/^/# /'
	fi
}

build default --sender=alice@example.org --msgid='<r1@example.org>' bob@example.net >"$T/good.pkt"
sendpkt "$T/good.pkt"
check "valid packet under the default key accepted" wait_log 'accepted datagram' 1
check "and injected" wait_for 10 sh -c "[ \$(ls '$CAP' | grep -c '\.msg\$') -eq 1 ]"
refused "replayed datagram" "replayed packet" "$T/good.pkt"
printf "Subject: peer\n\nno Message-ID here\n" | perl "$P2" build "$T/keys/peer" bob@example.net >"$T/peer.pkt"
sendpkt "$T/peer.pkt"
check "peer's key from the peer's address accepted" wait_log 'key example.net' 1

build wrong --keyid-of="$T/keys/default" bob@example.net >"$T/wrongkey.pkt"
refused "wrong key (MAC)" "bad digest/MAC" "$T/wrongkey.pkt"
build wrong bob@example.net >"$T/unknown.pkt"
refused "unknown key id" "no key for this source" "$T/unknown.pkt"
build far bob@example.net >"$T/far.pkt"
refused "a peer's key from another source" "the key of peer far.example" "$T/far.pkt"
build default bob@example.net >"$T/t.pkt"
head -c $(($(wc -c <"$T/t.pkt") - 20)) "$T/t.pkt" >"$T/trunc.pkt"
refused "truncated packet" "truncated packet" "$T/trunc.pkt"
head -c 3000 /dev/urandom | od -An -tx1 >"$T/big.txt"
perl "$P2" build "$T/keys/default" bob@example.net <"$T/big.txt" >"$T/big.pkt"
refused "oversized datagram ($(wc -c <"$T/big.pkt") bytes)" "too large" "$T/big.pkt"
build default --bad-gzip bob@example.net >"$T/badgz.pkt"
refused "bad gzip" "bad gzip payload" "$T/badgz.pkt"
perl -e 'print "Subject: bomb\n\n", "a" x 300000, "\n"' >"$T/bomb.txt"
perl "$P2" build "$T/keys/default" bob@example.net <"$T/bomb.txt" >"$T/bomb.pkt"
refused "decompression bomb ($(wc -c <"$T/bomb.pkt") bytes)" "inflates beyond" "$T/bomb.pkt"
build default --time=$(($(date +%s) - 3600)) bob@example.net >"$T/stale.pkt"
refused "stale timestamp" "outside the skew window" "$T/stale.pkt"
build default --time=$(($(date +%s) + 3600)) bob@example.net >"$T/future.pkt"
refused "future timestamp" "outside the skew window" "$T/future.pkt"
H=$T/home; mkdir -p "$H/.umtp"; cp "$T/keys/p1" "$H/.umtp/secret"
nref=$((nref + 1))
HOME=$H perl "$SEED" send 127.0.0.1 "$PORT" bob@example.net <"$MSG"
check "protocol 1 from a non-peer refused and logged" sh -c \
	"wait_for() { n=200; while [ \$n -gt 0 ]; do \"\$@\" && return 0; sleep 0.05; n=\$((n-1)); done; return 1; }
	 wait_for grep -q 'no protocol 1 peer' '$RLOG'"
printf 'hello, world\n' >"$T/garbage.pkt"
refused "garbage" "bad magic" "$T/garbage.pkt"

# umtp send, protocol 2 by default: envelope sender, several recipients.
"$UMTP" send -c "$CFG" -f alice@example.org 127.0.0.1 "$PORT" \
	bob@example.net carol@example.net <"$MSG" 2>>"$T/send.err"
check "umtp send (protocol 2) exits 0" test $? -eq 0
check "accepted" wait_log 'accepted datagram' 3
check "three messages injected in all" wait_for 10 sh -c "[ \$(ls '$CAP' | grep -c '\.msg\$') -eq 3 ]"
last=$(ls "$CAP"/*.argv | tail -1)  # names start with the time in ns
check "sendmail argv: -oi -f SENDER -- RCPT RCPT" \
	sh -c "[ \"\$(tr '\n' ' ' <'$last')\" = '-oi -f alice@example.org -- bob@example.net carol@example.net ' ]"
check "Message-ID carried and logged" grep -q 't1.umtp@example.org' "$RLOG"
sleep 0.3
check "nothing else injected" test "$(captured)" -eq 3
check "every datagram logged (3 accepted, $nref refused)" \
	test "$(grep -c 'accepted datagram' "$RLOG")" -eq 3 -a "$(grep -c 'refused datagram' "$RLOG")" -eq "$nref"
no_sanitizer_reports
