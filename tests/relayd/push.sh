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
