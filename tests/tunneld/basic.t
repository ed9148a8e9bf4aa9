#!/bin/sh
# basic.t - leafmail-tunneld against a private sshd and smtp-sink: -t on
# good and bad configurations, cold start (swaks through the tunnel),
# bytes sent before the banner during a cold start, warm reuse (one ssh
# for many clients), idle teardown, a second instance refused, SIGTERM.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/tunneld/common.sh"
tn_require
tn_keys || { notok "test keys"; exit 1; }
tn_sshd_start || { notok "private sshd starts"; exit 1; }
tn_sink_start || { notok "smtp-sink starts"; exit 1; }
TD=$B/leafmail-tunneld

# --- options ---
case $("$TD" -V) in "leafmail-tunneld "[0-9]*) ok "-V prints the version" ;; *) notok "-V" ;; esac
"$TD" -h | grep -q 'usage:'
check "-h prints usage" [ $? -eq 0 ]
"$TD" -x >/dev/null 2>&1
check "unknown option: exit 64" [ $? -eq 64 ]

# --- -t ---
tn_conf "$T/good.conf" 'idle = "1s"' 'idle-jitter = "1s"' \
	'server-alive-interval = "7s"' 'server-alive-count-max = 4'
out=$("$TD" -t -c "$T/good.conf" 2>&1)
check "-t accepts a good configuration" [ $? -eq 0 ]

cp "$TN_ID" "$T/client/id_open"
chown "$TN_USER" "$T/client/id_open"
chmod 644 "$T/client/id_open"
tn_conf "$T/bad1.conf"
sed -i "s|$TN_ID\"|$T/client/id_open\"|" "$T/bad1.conf"
out=$("$TD" -t -c "$T/bad1.conf" 2>&1); rc=$?
check "-t refuses a group/other-readable identity (78)" [ $rc -eq 78 ]
case $out in *bad1.conf:[0-9]*'mode 0644'*) ok "-t says FILE:LINE and the mode" ;;
*) notok "-t says FILE:LINE and the mode: $out" ;; esac
"$TD" -f -c "$T/bad1.conf" 2>/dev/null
check "start-up refuses it too (78)" [ $? -eq 78 ]

cp "$TN_ID" "$T/client/id_root"
chmod 600 "$T/client/id_root"
chown root "$T/client/id_root"
sed "s|$TN_ID\"|$T/client/id_root\"|" "$T/good.conf" >"$T/bad2.conf"
out=$("$TD" -t -c "$T/bad2.conf" 2>&1); rc=$?
case "$rc $out" in "78 "*"not owned by $TN_USER"*) ok "-t: identity not owned by user refused" ;;
*) notok "-t: identity not owned by user refused: $rc $out" ;; esac

grep -v known-hosts-file "$T/good.conf" >"$T/bad3.conf"
echo 'tunnel "t2" { listen = "127.0.0.1:1" ssh-destination = "-oProxyCommand=x" identity-file = "'"$TN_ID"'" known-hosts-file = "/nonexistent" failure-reply = "250 fine" }' >>"$T/bad3.conf"
out=$("$TD" -t -c "$T/bad3.conf" 2>&1); rc=$?
check "-t: several problems, exit 78" [ $rc -eq 78 ]
n=$(printf '%s\n' "$out" | grep -c 'bad3.conf:[0-9]*: tunnel')
check "-t reports each problem with FILE:LINE ($n)" [ "$n" -ge 4 ]
sed 's/^user = .*/user = "no-such-user-tunneld"/' "$T/good.conf" >"$T/bad4.conf"
"$TD" -t -c "$T/bad4.conf" >/dev/null 2>&1
check "-t: missing user is a configuration error" [ $? -eq 78 ]
printf 'tunnel "x" {\n  idle = "soon"\n}\n' >"$T/bad5.conf"
out=$("$TD" -t -c "$T/bad5.conf" 2>&1); rc=$?
case "$rc $out" in "78 "*bad5.conf:2*) ok "-t: bad duration with its line" ;;
*) notok "-t: bad duration with its line: $rc $out" ;; esac
sed 's/server-alive-interval = .*/server-alive-interval = "0s"/' "$T/good.conf" >"$T/bad6.conf"
out=$("$TD" -t -c "$T/bad6.conf" 2>&1); rc=$?
case "$rc $out" in "78 "*bad6.conf:*server-alive-interval*) ok "-t: server-alive-interval 0s refused" ;;
*) notok "-t: server-alive-interval 0s refused: $rc $out" ;; esac

# --- cold start ---
tn_start "$T/good.conf" || { notok "tunneld starts"; cat "$T/tunneld.log"; exit 1; }
check "no ssh before the first client" [ "$(tn_ssh_count)" -eq 0 ]
t0=$(date +%s%N)
swaks --server "127.0.0.1:$LISTEN_PORT" --from a@example.org --to b@example.org \
	--timeout 20 >"$T/swaks1.out" 2>&1
rc=$?
t1=$(date +%s%N)
check "cold start: swaks delivers through the tunnel" [ $rc -eq 0 ]
check "cold start: 250 after DATA from the sink" grep -q '<-  250 2.0.0 Ok' "$T/swaks1.out"
echo "# cold start swaks took $(((t1 - t0) / 1000000)) ms"
check "one ssh is up" [ "$(tn_ssh_count)" -eq 1 ]
sshcmd=$(pgrep -af -- "^/usr/bin/ssh .*-i $TN_ID ")
case $sshcmd in *"ServerAliveInterval=7 "*"ServerAliveCountMax=4 "*) ok "ssh gets server-alive-interval/count-max from the config" ;;
*) notok "ssh gets server-alive-interval/count-max: $sshcmd" ;; esac
check "log: ssh started and ready" grep -q 'tunnel t1: ready after' "$T/tunneld.log"

# --- idle teardown, then bytes before the banner on a cold start ---
check "ssh gone after idle + jitter (1s + 0..1s)" wait_for 4 tn_ssh_gone
check "log: stop with reason and duration" grep -q 'stopping ssh (pid [0-9]*): idle; ran [0-9.]* s' "$T/tunneld.log"
out=$(tn_smtp "$LISTEN_PORT" 1)
case $out in 220*250\ *221*) ok "cold start: EHLO+QUIT sent before the banner both answered" ;;
*) notok "cold start: EHLO+QUIT sent before the banner both answered: $out" ;; esac

# --- warm reuse ---
# A client holding a session keeps the tunnel warm whatever the machine's
# load; the 8 that follow must all use the same ssh.
python3 -c '
import socket,sys,time
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])));s.recv(100)
open(sys.argv[2],"w").write("up\n");time.sleep(60)' "$LISTEN_PORT" "$T/warmhold" &
warmhold=$!
track_pid $warmhold
wait_for 10 test -s "$T/warmhold"
starts0=$(grep -c 'starting ssh' "$T/tunneld.log")
i=0 wpids=""
while [ $i -lt 8 ]; do
	tn_smtp "$LISTEN_PORT" >"$T/warm.$i" &
	wpids="$wpids $!"
	i=$((i + 1))
done
for p in $wpids; do wait "$p"; done
good=0
for f in "$T"/warm.*; do grep -q '^221' "$f" && good=$((good + 1)); done
check "warm: 8 parallel clients all served ($good)" [ "$good" -eq 8 ]
check "warm: still one ssh" [ "$(tn_ssh_count)" -eq 1 ]
starts1=$(grep -c 'starting ssh' "$T/tunneld.log")
check "warm: no new ssh started ($starts0 -> $starts1)" [ "$starts1" -eq "$starts0" ]
kill "$warmhold"

# --- second instance ---
out=$("$TD" -f -c "$T/good.conf" 2>&1); rc=$?
case "$rc $out" in "69 "*"already running"*) ok "second instance refused (69, already running)" ;;
*) notok "second instance refused: $rc $out" ;; esac

# --- SIGTERM while a client is connected ---
python3 -c '
import socket,sys,time
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])));s.recv(100);time.sleep(30)' "$LISTEN_PORT" &
holder=$!
track_pid $holder
wait_for 5 tn_ssh_one
sleep 0.3
kill -TERM "$TUNNELD_PID"
( sleep 5; kill -9 "$TUNNELD_PID" 2>/dev/null ) &
guard=$!
wait "$TUNNELD_PID"
rc=$?
kill "$guard" 2>/dev/null
check "SIGTERM: exit 0 ($rc)" [ $rc -eq 0 ]
check "SIGTERM: no ssh left" [ "$(tn_ssh_count)" -eq 0 ]
check "SIGTERM: log says stopping, shutting down" grep -q 'shutting down' "$T/tunneld.log"
kill "$holder" 2>/dev/null
if grep -q 'Sanitizer\|runtime error' "$T/tunneld.log"; then notok "sanitizer report"; grep -A5 Sanitizer "$T/tunneld.log" | head -20; fi
exit 0
