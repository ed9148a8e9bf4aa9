#!/bin/sh
# failures.t - one leafmail-tunneld with several tunnels (several
# listeners in one process), each meeting a failure: ssh killed
# mid-session, a key the server does not accept, an ssh server that never
# answers, a closed remote port, max-clients; back-off after quick
# failures; finally SIGKILL of the daemon leaves no ssh behind.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/tunneld/common.sh"
tn_require
tn_keys || { notok "test keys"; exit 1; }
tn_sshd_start || { notok "private sshd starts"; exit 1; }
tn_sink_start || { notok "smtp-sink starts"; exit 1; }

# A key sshd does not know, owned by the daemon's user.
ssh-keygen -q -t ed25519 -N '' -f "$T/client/id_wrong"
chown "$TN_USER" "$T/client/id_wrong"
# An "ssh server" that accepts TCP and never says a word.
DEAD_PORT=$(free_port)
python3 -c '
import socket,sys,time
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("127.0.0.1",int(sys.argv[1])));s.listen(16);time.sleep(120)' "$DEAD_PORT" &
track_pid $!
CLOSED_PORT=$(free_port)
P2=$(free_port) P3=$(free_port) P4=$(free_port) P5=$(free_port)

tn_conf "$T/f.conf" 'idle = "30s"' 'idle-jitter = "0s"'
cat >>"$T/f.conf" <<EOF2
tunnel "wrongkey" {
  listen = "127.0.0.1:$P2"
  ssh-destination = "root@127.0.0.1"
  ssh-port = $SSHD_PORT
  identity-file = "$T/client/id_wrong"
  known-hosts-file = "$T/client/known_hosts"
  remote = "127.0.0.1:$SINK_PORT"
  connect-timeout = "3s"
}
tunnel "deadhost" {
  listen = "127.0.0.1:$P3"
  ssh-destination = "root@127.0.0.1"
  ssh-port = $DEAD_PORT
  identity-file = "$TN_ID"
  known-hosts-file = "$T/client/known_hosts"
  remote = "127.0.0.1:$SINK_PORT"
  connect-timeout = "3s"
}
tunnel "closedremote" {
  listen = "127.0.0.1:$P4"
  ssh-destination = "root@127.0.0.1"
  ssh-port = $SSHD_PORT
  identity-file = "$TN_ID"
  known-hosts-file = "$T/client/known_hosts"
  remote = "127.0.0.1:$CLOSED_PORT"
  failure-reply = "421 4.4.2 test tunnel unavailable"
}
tunnel "small" {
  listen = "127.0.0.1:$P5"
  ssh-destination = "root@127.0.0.1"
  ssh-port = $SSHD_PORT
  identity-file = "$TN_ID"
  known-hosts-file = "$T/client/known_hosts"
  remote = "127.0.0.1:$SINK_PORT"
  max-clients = 2
}
EOF2
out=$("$B/leafmail-tunneld" -t -c "$T/f.conf" 2>&1)
check "-t accepts five tunnels" [ $? -eq 0 ]
tn_start "$T/f.conf" || { notok "tunneld starts"; cat "$T/tunneld.log"; exit 1; }
check "five listeners in one process" [ "$(grep -c ': listening on' "$T/tunneld.log")" -eq 5 ]

ms() { echo $(($(date +%s%N) / 1000000)); }

# holder PORT FILE: read the banner, then wait for EOF; FILE gets both.
holder() {
	python3 -c '
import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])));s.settimeout(30)
f=open(sys.argv[2],"w")
d=s.recv(1000);f.write("banner:"+d.decode()[:3]+"\n");f.flush()
try:
    while s.recv(1000): pass
    f.write("eof\n")
except Exception as e:
    f.write("error %s\n"%e)
f.flush()' "$1" "$2"
}

# --- ssh killed mid-session ---
holder "$LISTEN_PORT" "$T/hold1" &
track_pid $!
check "a client gets the banner through t1" wait_for 10 grep -q 'banner:220' "$T/hold1"
pid=$(sed -n 's/.*tunnel t1: starting ssh (pid \([0-9]*\)).*/\1/p' "$T/tunneld.log" | tail -1)
kill -KILL "$pid"
check "ssh killed: its client is closed" wait_for 5 grep -q '^eof' "$T/hold1"
check "ssh killed: logged with how it ended" wait_for 2 grep -q 'tunnel t1: ssh killed by signal 9 after' "$T/tunneld.log"
out=$(tn_smtp "$LISTEN_PORT")
case $out in 220*250\ *221*) ok "ssh killed: the next client works" ;;
*) notok "ssh killed: the next client works: $out" ;; esac
check "ssh killed: a new ssh was started" [ "$(grep -c 'tunnel t1: starting ssh' "$T/tunneld.log")" -eq 2 ]

# --- wrong key: 421 fast (ssh exits), well within connect-timeout ---
t0=$(ms)
out=$(tn_smtp "$P2")
t1=$(ms)
case $out in "421 4.4.2 smarthost tunnel unavailable"*) ok "wrong key: 421 failure-reply" ;;
*) notok "wrong key: 421 failure-reply: $out" ;; esac
check "wrong key: within connect-timeout ($((t1 - t0)) ms)" [ $((t1 - t0)) -lt 3500 ]
check "wrong key: ssh's own words logged" grep -q 'tunnel wrongkey: ssh: .*Permission denied' "$T/tunneld.log"
out=$(tn_smtp "$P2")
check "wrong key again: 421" [ "${out#421}" != "$out" ]
check "two quick failures: back-off logged" grep -q 'tunnel wrongkey: 2 quick ssh failures in a row: no new ssh for 1 s' "$T/tunneld.log"
# The back-off doubles (1, 2, 4 s), so within a few tries a client lands
# inside it even on a slow machine: it gets 421 with no ssh started.
inside=no
for try in 1 2 3 4; do
	n0=$(grep -c 'tunnel wrongkey: starting ssh' "$T/tunneld.log")
	out=$(tn_smtp "$P2")
	n1=$(grep -c 'tunnel wrongkey: starting ssh' "$T/tunneld.log")
	if [ "${out#421}" != "$out" ] && [ "$n0" -eq "$n1" ]; then inside=yes; break; fi
done
check "during back-off: 421 at once, no ssh started (try $try)" [ $inside = yes ]

# --- ssh server that never answers: 421 at connect-timeout ---
t0=$(ms)
out=$(tn_smtp "$P3")
t1=$(ms)
case $out in 421*) ok "dead ssh server: 421" ;; *) notok "dead ssh server: 421: $out" ;; esac
check "dead ssh server: after about connect-timeout 3 s ($((t1 - t0)) ms)" [ $((t1 - t0)) -ge 2900 ] && [ $((t1 - t0)) -lt 4500 ]
check "dead ssh server: logged" grep -q 'tunnel deadhost: not ready within connect-timeout' "$T/tunneld.log"
check "dead ssh server: its ssh is gone" wait_for 2 sh -c "! pgrep -f -- '^/usr/bin/ssh .*-p $DEAD_PORT ' >/dev/null"

# --- closed remote port: the client hears 421, tunneld lives on ---
out=$(tn_smtp "$P4")
case $out in "421 4.4.2 test tunnel unavailable"*|"") ok "closed remote port: 421 (or EOF)" ;;
*) notok "closed remote port: 421 (or EOF): $out" ;; esac
check "closed remote port: tunneld still running" kill -0 "$TUNNELD_PID"
out=$(tn_smtp "$LISTEN_PORT")
case $out in 220*221*) ok "other tunnels unaffected" ;; *) notok "other tunnels unaffected: $out" ;; esac

# --- max-clients = 2: the third client gets 421 at once ---
holder "$P5" "$T/hold5a" &
track_pid $!
holder "$P5" "$T/hold5b" &
track_pid $!
wait_for 10 grep -q 'banner:220' "$T/hold5a"
wait_for 10 grep -q 'banner:220' "$T/hold5b"
out=$(tn_smtp "$P5")
case $out in 421*) ok "max-clients: third client refused with 421" ;; *) notok "max-clients: third client: $out" ;; esac
check "max-clients: logged" grep -q 'tunnel small: max-clients (2) reached' "$T/tunneld.log"

# --- SIGKILL of the daemon: no ssh left within 1 s ---
check "ssh processes up before SIGKILL" [ "$(tn_ssh_count)" -ge 2 ]
ends() { grep -c 'Disconnected from user root\|Connection closed by' "$T/sshd.log"; }
e0=$(ends)
kill -9 "$TUNNELD_PID"
check "SIGKILL: no ssh left after 1 s (PR_SET_PDEATHSIG)" wait_for 1 tn_ssh_gone
check "SIGKILL: sshd saw the sessions end" wait_for 3 sh -c "[ \$(grep -c 'Disconnected from user root\\|Connection closed by' '$T/sshd.log') -gt $e0 ]"
if grep -q 'Sanitizer\|runtime error' "$T/tunneld.log"; then notok "sanitizer report"; grep -A5 Sanitizer "$T/tunneld.log" | head -20; fi
exit 0
