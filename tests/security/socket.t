#!/bin/sh
# socket.t - the swapped socket, deterministically.  The old start-up
# bound a unix socket and then chmod'ed and chown'ed it by name, as root,
# in run-dir, which the service account owns: a process of the account
# that renamed a link over the fresh socket in between had root's chmod
# and chown land on the link's target.  Here every bind() of a unix
# socket is held (holdbind.c, LD_PRELOAD) until the attacker, running as
# the account, has
#   - renamed a symbolic link to root's file over the socket's name, and
#   - moved every directory it finds in run-dir aside and put a link to
#     a directory of root's in its place (the new start-up binds inside a
#     private directory of its own there);
# then the daemon goes on.  Root's file and directory must be untouched;
# the daemon must then serve on its socket, mode and owner as configured
# (the LMTP socket 0660, group postfix by default).  Milter and
# leafmail-deliver -L.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/security/common.sh"
sec_require
build_helpers || { notok "build the test helpers"; exit 1; }
getent group postfix >/dev/null || skip_all "no group postfix (the LMTP socket's default)"
# A sanitizer build wants its runtime first; the shim may come before it.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
CFG=$T/leafmail.conf
conf_all "$CFG"
mkdir -p "$T/rootdir"
chmod 700 "$T/rootdir"
: >"$T/rootdir/keep"

# the attacker's move, as the service account
cat >"$T/attack.sh" <<'EOF2'
# attack.sh TARGET SOCKET RUN-DIR ROOTDIR
ln -s "$1" "$2.new" && mv -f "$2.new" "$2"
for t in "$3"/.[!.]* "$3"/*; do
	[ -d "$t" ] && [ ! -L "$t" ] || continue
	mv "$t" "$t.moved" && ln -s "$4" "$t"
done
echo done
EOF2
chmod 644 "$T/attack.sh"

answers() { # SOCKET: an LMTP greeting, or for the milter just a socket
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
if sys.argv[2] == "lmtp":
    sys.exit(0 if s.recv(100).startswith(b"220") else 1)
' "$1" "$2"
}

for dmn in milter lmtp; do
	make_target "$T/target"
	fresh_dir "$T/run"
	rm -f "$T/hold.bound" "$T/hold.go"
	sock=$T/run/$dmn.sock
	LD_PRELOAD=$HOLDBIND HOLDBIND=$T/hold $(daemon_cmd "$dmn") >"$T/$dmn.log" 2>&1 &
	DPID=$!
	track_pid "$DPID"
	if ! wait_for 20 test -e "$T/hold.bound"; then
		notok "$dmn: held at bind()"
		sed 's/^/#   /' "$T/$dmn.log"
		continue
	fi
	out=$(as_svc sh "$T/attack.sh" "$T/target" "$sock" "$T/run" "$T/rootdir" 2>&1)
	check "$dmn: the attacker swapped a link in while the socket was bound" [ "$out" = done ]
	touch "$T/hold.go"
	wait_for 20 sh -c "grep -q '$(daemon_ready "$dmn")' '$T/$dmn.log' || ! kill -0 $DPID"
	check_target "$dmn: root's file untouched" "$T/target"
	check "$dmn: root's directory untouched" \
		[ "$(stat -c '%U %a' "$T/rootdir") $(ls "$T/rootdir")" = "root 700 keep" ]
	echo "# run-dir after the attack: $(ls -A "$T/run" | tr '\n' ' ')"
	if [ "$dmn" = lmtp ]; then want="660 $SVC postfix"; else want="660 $SVC $(id -gn "$SVC")"; fi
	if [ -S "$sock" ] && [ "$(stat -c '%a %U %G' "$sock")" = "$want" ] &&
		answers "$sock" "$dmn"; then
		ok "$dmn: serves on its socket, $want"
	else
		notok "$dmn: serves on its socket, $want"
		ls -la "$T/run" | sed 's/^/#   /'
		sed 's/^/#   /' "$T/$dmn.log"
	fi
	stop_daemon
done
