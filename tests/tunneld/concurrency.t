#!/bin/sh
# concurrency.t - 200 SMTP clients connecting at the same moment to a cold
# tunnel (all waiting while ssh comes up, their bytes buffered), then 200
# more on the warm tunnel; every dialog must complete, through one ssh.
# Then 20 MB to a slow reader: backpressure, integrity, half-close.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/tunneld/common.sh"
tn_require
tn_keys || { notok "test keys"; exit 1; }
tn_sshd_start || { notok "private sshd starts"; exit 1; }
tn_sink_start || { notok "smtp-sink starts"; exit 1; }
# A sink that reads slowly (backpressure all the way back to the
# client) and answers with the SHA-256 of everything, after our EOF
# (half-close: the reply must still come back).
HASH_PORT=$(free_port)
python3 -c '
import hashlib,socket,sys,threading,time
ls=socket.socket();ls.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
ls.bind(("127.0.0.1",int(sys.argv[1])));ls.listen(8)
def serve(c):
    h=hashlib.sha256();n=0
    while True:
        b=c.recv(65536)
        if not b: break
        h.update(b);n+=len(b)
        if n < 4<<20: time.sleep(0.002)
    c.sendall(("%d %s\n"%(n,h.hexdigest())).encode());c.close()
while True:
    c,_=ls.accept();threading.Thread(target=serve,args=(c,),daemon=True).start()' "$HASH_PORT" &
track_pid $!
BULK_PORT=$(free_port)
tn_conf "$T/c.conf" 'idle = "4s"' 'idle-jitter = "0s"' 'connect-timeout = "15s"'
cat >>"$T/c.conf" <<EOF2
tunnel "bulk" {
  listen = "127.0.0.1:$BULK_PORT"
  ssh-destination = "root@127.0.0.1"
  ssh-port = $SSHD_PORT
  identity-file = "$TN_ID"
  known-hosts-file = "$T/client/known_hosts"
  remote = "127.0.0.1:$HASH_PORT"
  idle = "1s"
  idle-jitter = "0s"
}
EOF2
tn_start "$T/c.conf" || { notok "tunneld starts"; exit 1; }

out=$(python3 "$S/tests/tunneld/many.py" "$LISTEN_PORT" 200 90)
case $out in "ok 200 failed 0"*) ok "cold: 200 concurrent dialogs complete" ;;
*) notok "cold: 200 concurrent dialogs: $out" ;; esac
check "cold: one ssh for all of them" [ "$(grep -c 't1: starting ssh' "$T/tunneld.log")" -eq 1 ]
out=$(python3 "$S/tests/tunneld/many.py" "$LISTEN_PORT" 200 90)
case $out in "ok 200 failed 0"*) ok "warm: 200 concurrent dialogs complete" ;;
*) notok "warm: 200 concurrent dialogs: $out" ;; esac
check "warm: still one ssh" [ "$(grep -c 't1: starting ssh' "$T/tunneld.log")" -eq 1 ]
out=$(python3 -c '
import hashlib,os,socket,sys
data=os.urandom(20<<20)
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),30);s.settimeout(60)
s.sendall(data);s.shutdown(socket.SHUT_WR)
r=b""
while True:
    b=s.recv(200)
    if not b: break
    r+=b
want="%d %s"%(len(data),hashlib.sha256(data).hexdigest())
print("match" if r.decode().strip()==want else "mismatch: got %r"%r)' "$BULK_PORT" 2>&1)
check "20 MB through a slow reader arrive intact, reply after half-close ($out)" [ "$out" = match ]
check "tunnels torn down after the burst" wait_for 10 tn_ssh_gone
check "log counts 400 clients" grep -q 'idle; ran [0-9.]* s, 400 client(s)' "$T/tunneld.log"
check "tunneld still running" kill -0 "$TUNNELD_PID"
zombies=$(ps -o stat= --ppid "$TUNNELD_PID" | grep -c Z)
check "no zombie children" [ "$zombies" -eq 0 ]
if grep -q 'Sanitizer\|runtime error' "$T/tunneld.log"; then notok "sanitizer report"; fi
exit 0
