# push.sh - helpers for the tests of pushed logins and held sessions
# (sourced after tests/lib.sh, tests/relayd/common.sh and
# tests/harness/dovecot.sh).  Functions only.
#
#   push_key FILE            a fresh API key in FILE, mode 0600 (PUSH_KEY)
#   dc_policy_conf PORT      Dovecot's auth policy client, report only,
#                            pointed at relayd on 127.0.0.1:PORT, with the
#                            attributes the README gives (master=...)
#   dc_events_conf PORT      Dovecot's event exporter: successful logins
#                            and ends of mail sessions to 127.0.0.1:PORT
#   dc_master_conf DIR       a master user "admin" (password adminpw,
#                            "alice*admin" logs in as alice)
#   push_post URL BODY [KEY] one POST with curl (KEY as X-API-Key); prints
#                            the HTTP status
#   marker IP                a POP3 login from IP that must reach the table:
#                            every report Dovecot sent before it has been
#                            handled once it is there
#   push_login_checks        the checks both push sources share, against
#                            the Dovecot started with dc_master_conf: POP3,
#                            IMAP and IPv6 logins in the table within a
#                            second, expiring now + 30m; a failed login, a
#                            master user's login and SMTP AUTH (doveadm
#                            auth test) authorizing nothing
#   push_flood URLFN BODY    600 requests, 8 at a time, URLFN N printing
#                            the curl arguments of the N-th (a wrong key);
#                            relayd must stay up, authorize nothing and log
#                            at most 12 lines about them
#   push_hung                with relayd stopped by SIGSTOP a login still
#                            succeeds within a second (report only); CONT
#   push_stopped             relayd stopped by TERM (exit 0), a login still
#                            succeeds within a second
#   imap_hold SRC SECONDS    a real IMAP session as bob from SRC, logged in
#                            and SELECTed, then IDLE for SECONDS or until
#                            the file $T/release-SRC appears; the pid is
#                            in HOLD_PID (tracked)

push_key() {
	PUSH_KEY=$(openssl rand -hex 24)
	printf '%s\n' "$PUSH_KEY" >"$1"
	chmod 600 "$1"
}

dc_policy_conf() {
	cat <<DCP
auth_policy_server_url = http://127.0.0.1:$1/
auth_policy_server_api_header = X-API-Key: $PUSH_KEY
auth_policy_hash_nonce = leafmail-test-nonce
auth_policy_request_attributes = login=%{requested_username} remote=%{rip} protocol=%s session_id=%{session} master=%{master_user}
auth_policy_report_after_auth = yes
auth_policy_check_before_auth = no
auth_policy_check_after_auth = no
DCP
}

dc_events_conf() {
	cat <<DCE
event_exporter leafmail {
  format = json
  format_args = time-rfc3339
  transport = http-post
  transport_args = http://127.0.0.1:$1/$PUSH_KEY
}
metric leafmail_login {
  exporter = leafmail
  filter = event=auth_request_finished AND success=yes
}
metric leafmail_logout {
  exporter = leafmail
  filter = event=mail_user_session_finished
}
DCE
}

dc_master_conf() {
	printf 'admin:{PLAIN}adminpw\n' >"$1/masters"
	chmod 0644 "$1/masters"
	cat <<DCM
auth_master_user_separator = *
passdb {
  driver = passwd-file
  args = $1/masters
  master = yes
}
DCM
}

push_post() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		-H 'Content-Type: application/json' \
		${3:+-H "X-API-Key: $3"} --data-binary "$2" "$1"
}

imap_hold() {
	python3 - "$DC_IMAP_PORT" "$1" "$2" "$T/release-$1" <<'PYEOF' &
import os, socket, sys, time
port, src, secs, release = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), 10, source_address=(src, 0))
f = s.makefile("rb")
f.readline()
s.sendall(b"a LOGIN bob bobpw\r\n")
if not f.readline().startswith(b"a OK"):
    sys.exit(1)
s.sendall(b"b SELECT INBOX\r\n")
while not f.readline().startswith(b"b "):
    pass
s.sendall(b"c IDLE\r\n")
f.readline()
end = time.time() + secs
while time.time() < end and not os.path.exists(release):
    time.sleep(0.05)
s.sendall(b"DONE\r\nd LOGOUT\r\n")
while True:
    l = f.readline()
    if not l or l.startswith(b"d "):
        break
s.close()
PYEOF
	HOLD_PID=$!
	track_pid "$HOLD_PID"
}

marker() {
	dc_login bob bobpw "$1" pop3 && wait_for 3 in_table "$1"
}

push_login_checks() {
	check "POP3 login as alice from 127.0.0.2" dc_login alice alicepw 127.0.0.2 pop3
	check "127.0.0.2 allowed within a second" within 1000 in_table 127.0.0.2
	echo "# login -> relayd -l lists it: ${ELAPSED} ms"
	check "IMAP login as bob from 127.0.0.3" dc_login bob bobpw 127.0.0.3 imap
	check "127.0.0.3 allowed within a second" within 1000 in_table 127.0.0.3
	echo "# login -> relayd -l lists it: ${ELAPSED} ms"
	_pe=$("$RELAYD" -c "$CFG" -l | sed -n 's/^127\.0\.0\.3 //p')
	_pn=$(date +%s)
	check "a pushed login counts from now: expires now + 30m" \
		[ -n "$_pe" ] && [ "$_pe" -ge $((_pn - 5 + 1800)) ] && [ "$_pe" -le $((_pn + 1800)) ]
	if dc_has_ipv6; then
		check "IMAP login as alice from ::1" dc_login alice alicepw ::1 imap
		check "::1 allowed within a second" within 1000 in_table ::1
	fi
	check "a wrong password from 127.0.0.4 is refused" not dc_login alice wrong 127.0.0.4 pop3
	check "a master user's login from 127.0.0.5 succeeds" dc_login 'alice*admin' adminpw 127.0.0.5 imap
	check "SMTP AUTH through Dovecot SASL (doveadm auth test, rip 127.0.0.7)" \
		sh -c "doveadm -c '$DC_CONF' auth test -x service=smtp -x rip=127.0.0.7 alice alicepw >/dev/null"
	check "marker login from 127.0.0.10" marker 127.0.0.10
	check "the failed login authorized nothing" not_in_table 127.0.0.4
	check "the master user's login authorized nothing" not_in_table 127.0.0.5
	check "SMTP AUTH authorized nothing" not_in_table 127.0.0.7
}

push_flood() {
	_pf0=$(grep -c 'refused\|right key\|method' "$ERR")
	_pfi=1
	while [ $_pfi -le 600 ]; do
		"$1" $_pfi
		_pfi=$((_pfi + 1))
	done | xargs -P 8 -L 1 curl -s -o /dev/null -w '%{http_code}\n' \
		--max-time 5 --data-binary "$2" >"$T/flood.codes"
	_pfn=$(grep -c '^403$' "$T/flood.codes")
	check "every request of the flood was answered 403 ($_pfn of 600)" [ "$_pfn" -eq 600 ]
	check "relayd is still running after the flood" kill -0 "$RPID"
	check "marker login from 127.0.0.12 after the flood" marker 127.0.0.12
	_pf1=$(grep -c 'refused\|right key\|method' "$ERR")
	check "the flood's 600 refusals cost at most 12 log lines ($((_pf1 - _pf0)))" \
		[ $((_pf1 - _pf0)) -le 12 ]
}

push_hung() {
	kill -STOP "$RPID"
	_pt=$(ms)
	check "with relayd hung (SIGSTOP), a login still succeeds" dc_login alice alicepw 127.0.0.13 pop3
	_pt=$(($(ms) - _pt))
	check "... within a second (${_pt} ms)" [ "$_pt" -lt 1000 ]
	kill -CONT "$RPID"
}

push_stopped() {
	stop_relayd
	_prc=$?
	check "relayd exits 0 on TERM" [ "$_prc" -eq 0 ]
	_pt=$(ms)
	check "with relayd stopped, a login still succeeds" dc_login alice alicepw 127.0.0.14 imap
	_pt=$(($(ms) - _pt))
	check "... within a second (${_pt} ms)" [ "$_pt" -lt 1000 ]
	if grep -q -E 'Sanitizer|runtime error:' "$ERR"; then
		notok "no sanitizer report from relayd"; sed 's/^/# /' "$ERR" | tail -30
	fi
}
