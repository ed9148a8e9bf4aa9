# common.sh - shared set-up for tests/tunneld/*.t (POSIX sh, sourced after
# tests/lib.sh).  Starts only processes it tracks (track_pid), all on
# loopback, all files under $T.
#
#   tn_require            skip unless root with sshd, ssh, smtp-sink, python3
#   tn_keys               host key, client key (id_test), authorized_keys,
#                         known_hosts; the client side owned by $TN_USER
#   tn_sshd_start         private sshd on 127.0.0.1:$SSHD_PORT (key-only
#                         root login), waits until it answers
#   tn_sink_start         smtp-sink on 127.0.0.1:$SINK_PORT
#   tn_conf FILE [KEY=VAL ...]   a tunneld config with one tunnel "t1"
#                         listening on $LISTEN_PORT; extra lines go into
#                         the tunnel section
#   tn_start CONF         run leafmail-tunneld -f in the background
#                         ($TUNNELD_PID, log $T/tunneld.log), wait for it
#   tn_ssh_count          ssh processes using this test's identity file
#   tn_smtp PORT          one SMTP dialog (EHLO/QUIT) with python3; prints
#                         the server's replies
TN_USER=leafmail
TN_ID=$T/client/id_test

tn_require() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (private sshd, user switch)"
	[ -x /usr/sbin/sshd ] || skip_all "/usr/sbin/sshd missing (openssh-server)"
	command -v ssh >/dev/null || skip_all "ssh missing"
	command -v ssh-keygen >/dev/null || skip_all "ssh-keygen missing"
	command -v smtp-sink >/dev/null || skip_all "smtp-sink missing (postfix)"
	command -v python3 >/dev/null || skip_all "python3 missing"
	need_run_user || skip_all "cannot create user $TN_USER"
	mkdir -p /run/sshd
	SSHD_PORT=$(free_port)
	SINK_PORT=$(free_port)
	LISTEN_PORT=$(free_port)
}

tn_keys() {
	mkdir -p "$T/sshd" "$T/client" "$T/run" "$T/state"
	ssh-keygen -q -t ed25519 -N '' -C tunneld-test-host -f "$T/sshd/host_key" || return 1
	ssh-keygen -q -t ed25519 -N '' -C tunneld-test -f "$TN_ID" || return 1
	cp "$TN_ID.pub" "$T/sshd/authorized_keys"
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/sshd/host_key.pub")" >"$T/client/known_hosts"
	chown -R "$TN_USER" "$T/client"
	chmod 700 "$T/client"
	chmod 600 "$TN_ID"
}

tn_sshd_start() {
	cat >"$T/sshd/sshd_config" <<EOF2
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $T/sshd/host_key
PidFile none
AuthorizedKeysFile $T/sshd/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
UsePAM yes
StrictModes no
AllowTcpForwarding yes
MaxStartups 100:30:200
MaxSessions 1000
LogLevel VERBOSE
EOF2
	/usr/sbin/sshd -D -e -f "$T/sshd/sshd_config" 2>"$T/sshd.log" &
	SSHD_PID=$!
	track_pid $SSHD_PID
	wait_for 10 tn_port_open "$SSHD_PORT"
}

tn_port_open() {
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1).close()' "$1"
}

tn_sink_start() {
	smtp-sink -u postfix "127.0.0.1:$SINK_PORT" 100 &
	SINK_PID=$!
	track_pid $SINK_PID
	wait_for 10 tn_port_open "$SINK_PORT"
}

tn_conf() {
	_f=$1
	shift
	{
		echo "user = \"$TN_USER\""
		echo "state-dir = \"$T/state\""
		echo "run-dir = \"$T/run\""
		echo "tunnel \"t1\" {"
		echo "  listen = \"127.0.0.1:$LISTEN_PORT\""
		echo "  ssh-destination = \"root@127.0.0.1\""
		echo "  ssh-port = $SSHD_PORT"
		echo "  identity-file = \"$TN_ID\""
		echo "  known-hosts-file = \"$T/client/known_hosts\""
		echo "  remote = \"127.0.0.1:$SINK_PORT\""
		echo "  connect-timeout = \"3s\""
		for _l in "$@"; do echo "  $_l"; done
		echo "}"
	} >"$_f"
}

tn_start() {
	"$B/leafmail-tunneld" -f -c "$1" 2>>"$T/tunneld.log" &
	TUNNELD_PID=$!
	track_pid $TUNNELD_PID
	# Not a probe connection: any client starts the tunnel.
	wait_for 10 grep -q "started as" "$T/tunneld.log"
}

# ssh's argv starts with ssh-program; anchoring keeps this pgrep from
# matching a shell whose command line merely mentions the key.
tn_ssh_count() {
	pgrep -f -- "^/usr/bin/ssh .*-i $TN_ID " | wc -l
}

# tn_smtp PORT [PIPELINE]: EHLO + QUIT; with PIPELINE=1 both are sent right
# after connecting, before the banner (the cold-start buffering case).
tn_smtp() {
	python3 - "$1" "${2:-0}" <<'EOF2'
import socket, sys
port, pipe = int(sys.argv[1]), sys.argv[2] == "1"
s = socket.create_connection(("127.0.0.1", port), 10)
s.settimeout(15)
data = b""
def until(pred):
    global data
    while not pred(data):
        b = s.recv(4096)
        if not b:
            break
        data += b
if pipe:
    s.sendall(b"EHLO x\r\nQUIT\r\n")
    until(lambda d: b"\r\n221" in d or d.startswith(b"221"))
else:
    until(lambda d: b"\r\n" in d)
    if data.startswith(b"220"):
        s.sendall(b"EHLO x\r\n")
        until(lambda d: b"\r\n250 " in d)
        s.sendall(b"QUIT\r\n")
        until(lambda d: b"\r\n221" in d)
until(lambda d: False)  # to EOF
sys.stdout.write(data.decode("latin-1").replace("\r", ""))
EOF2
}

# tn_ssh_gone: no ssh of this test left (for wait_for)
tn_ssh_gone() { [ "$(tn_ssh_count)" -eq 0 ]; }
tn_ssh_one() { [ "$(tn_ssh_count)" -eq 1 ]; }
