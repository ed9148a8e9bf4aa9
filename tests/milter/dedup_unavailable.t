#!/bin/sh
# dedup_unavailable.t - leafmail-milter with milter.umtp-dedup when the
# claim store cannot be used (Redis configured, nothing listening): the
# message gets 451 4.3.0 at end of message and the sender retries, and
# the milter says why; with umtp-dedup-unavailable = "deliver" it goes
# through instead, logged; a message without a Message-ID is left alone
# either way (it has nothing to claim).
. "$LEAFMAIL_SRC/tests/lib.sh"

M=$B/leafmail-milter
D=$S/tests/milter
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -x "$M" ] || { notok "no $M: build it first"; exit 1; }
need_run_user || { notok "create system user leafmail"; exit 1; }

DEAD=$(free_port) # reserved for this test, and nothing listens on it
RUN=$T/run
SOCK=$RUN/milter.sock
mkdir -p "$T/state"
[ "$(id -u)" -eq 0 ] && chown "$RUSER" "$T/state"

# start_milter LOG [MILTER LINE]: a milter with umtp-dedup on the dead Redis
start_milter() {
	cat >"$T/leafmail.conf" <<EOF
user = "$RUSER"
state-dir = "$T/state"
run-dir = "$RUN"
relay { table = "$T/relay" }
milter {
  socket = "unix:$SOCK"
  local-domains = { "example.org" }
  umtp-dedup = true
  ${2:-}
}
umtp { dedup-store = "redis" }
redis {
  address = "127.0.0.1:$DEAD"
  timeout = "1s"
}
EOF
	"$M" -f -c "$T/leafmail.conf" >"$1" 2>&1 &
	MPID=$!
	track_pid "$MPID"
	wait_for 20 grep -q 'started on' "$1"
}

# chat [HEADER]: one message for bob@example.org from 192.0.2.7
chat() {
	if [ -n "${1:-}" ]; then
		python3 "$D/milterchat.py" "$SOCK" 192.0.2.7 --rcpt "<bob@example.org>" \
			--header "$1" --header "Subject: t" --body "hi" 2>&1
	else
		python3 "$D/milterchat.py" "$SOCK" 192.0.2.7 --rcpt "<bob@example.org>" \
			--header "Subject: t" --body "hi" 2>&1
	fi
}

check "milter starts with its claim store unreachable" start_milter "$T/m1.log"
r=$(chat "Message-ID: <u1.$$@a.test>")
echo "# $r"
check "end of message: 451 4.3.0, the sender retries" \
	sh -c "echo '$r' | grep -q '^eom: 451 4.3.0 Duplicate check unavailable'"
check "and the milter says why" \
	wait_for 5 grep -q "umtp dedup client=192.0.2.7 <u1.$$@a.test>: duplicate store: .*; deferred (451)" "$T/m1.log"
r=$(chat)
check "a message without Message-ID is left alone ($r)" \
	sh -c "echo '$r' | grep -q '^eom: continue'"
kill "$MPID"
wait "$MPID"

check "milter starts with umtp-dedup-unavailable = deliver" \
	start_milter "$T/m2.log" 'umtp-dedup-unavailable = "deliver"'
r=$(chat "Message-ID: <u2.$$@a.test>")
check "umtp-dedup-unavailable = deliver: delivered ($r)" \
	sh -c "echo '$r' | grep -q '^eom: continue'"
check "and logged, with the risk named" \
	wait_for 5 grep -q "<u2.$$@a.test>: duplicate store: .*; delivering (umtp-dedup-unavailable = deliver)" "$T/m2.log"
kill "$MPID"
wait "$MPID"
check "no sanitizer report" not grep -qE 'Sanitizer|runtime error' "$T/m1.log" "$T/m2.log"
