#!/bin/sh
# planted.t - the service account plants a link before a daemon starts
# as root (which it can have happen at will: it exits, systemd restarts
# the daemon).  Deterministic: each link is in place before the start.
# The file the link leads to is root's, mode 0600, and must keep owner,
# mode and content.
#
#   the relay table: state-dir/relay.lmdb a symbolic or hard link to a
#     root-only LMDB map: relayd started as root, relayd -a and -d as root
#     must not open it (old code chowned it to the account and wrote
#     into it); leafmail-relaylock as root must not read it (old code
#     read through the link and set RELAYCLIENT from a root-only map)
#   the pid file: <run-dir>/<daemon>.pid a link to root's file, for
#     relayd, the milter, leafmail-deliver -L and umtp receive: each
#     starts with a fresh pid file of its own (old code wrote its pid
#     through a hard link, and refused to start over a symbolic one)
#   the directories: a state-dir or run-dir whose parent the account owns
#     is refused, exit 78 (old code chowned what a link there led to)
#   state files: relayd's positions and umtp receive's duplicate store a
#     link to root's file; the positions file ends up a private 0600 file
#   a socket name planted with a link: the daemon refuses to start (it is
#     not a socket) and leaves the target alone
# Hard links to root's files need fs.protected_hardlinks = 0: set for the
# test, restored at exit; skipped (said so) when it cannot be set.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/security/common.sh"
sec_require
command -v postmap >/dev/null || skip_all "postmap (postfix) missing"

CFG=$T/leafmail.conf
conf_all "$CFG"
KINDS=sym
if hardlinks_open; then
	KINDS="sym hard"
else
	echo "# fs.protected_hardlinks cannot be set here: symbolic links only"
fi
# plant KIND TARGET LINK: as the service account
plant() {
	if [ "$1" = hard ]; then as_svc ln -f "$2" "$3"; else as_svc ln -sf "$2" "$3"; fi
}
evidence() { sed 's/^/#   /' "$1" | tail -5; }
# start_over KIND TARGET LINK DAEMON LOG: plant the link, then run the
# daemon (stopped again if it started); r as run_daemon returned
start_over() {
	plant "$1" "$2" "$3"
	run_daemon "$4" "$5"
	r=$?
	[ "$r" -eq 0 ] && stop_daemon
}

# --- the relay table ---
now=$(date +%s)
printf '127.0.0.9 %s\n192.0.2.1 %s\n' $((now + 3600)) $((now + 3600)) >"$T/map"
postmap -c "$T/pf" -N "lmdb:$T/map" || { notok "postmap builds the target map"; exit 1; }
TGT=$T/map.lmdb
for k in $KINDS; do
	seal "$TGT"
	fresh_dir "$T/state"
	fresh_dir "$T/run"
	start_over "$k" "$TGT" "$T/state/relay.lmdb" relayd "$T/relayd.log"
	check_target "relayd started as root over a planted $k link: root's map untouched" "$TGT"
	if [ "$r" -eq 1 ] && [ "$DRC" -eq 75 ] && grep -q "Permission denied" "$T/relayd.log"; then
		ok "... relayd refuses the table it cannot open as $SVC (exit 75)"
	else
		notok "... relayd refuses the table it cannot open as $SVC (start $r, exit $DRC)"
		evidence "$T/relayd.log"
	fi
	"$RELAYD" -c "$CFG" -a 192.0.2.7 >"$T/a.out" 2>&1
	r=$?
	check_target "relayd -a as root through a planted $k link: untouched" "$TGT"
	check "... and it exits 75 (got $r)" [ "$r" -eq 75 ]
	"$RELAYD" -c "$CFG" -d 192.0.2.1 >"$T/d.out" 2>&1
	check_target "relayd -d as root through a planted $k link: untouched" "$TGT"
	"$RELAYD" -c "$CFG" -l >"$T/l.out" 2>&1
	check "relayd -l as root lists nothing of root's map" not grep -q 127.0.0.9 "$T/l.out"
	out=$(env -u RELAYCLIENT TCPREMOTEIP=127.0.0.9 "$B/leafmail-relaylock" -c "$CFG" \
		/bin/sh -c 'echo "${RELAYCLIENT-unset}"' 2>"$T/rl.err")
	if [ "$out" = unset ]; then
		ok "relaylock as root does not read root's map through a $k link"
	else
		notok "relaylock as root does not read root's map through a $k link: RELAYCLIENT='$out'"
		evidence "$T/rl.err"
	fi
	check_target "... and leaves it untouched" "$TGT"
done
# The same table, the account's own: relayd as root creates it as the
# account and relaylock as root reads it.
fresh_dir "$T/state"
"$RELAYD" -c "$CFG" -a 127.0.0.9 2>"$T/a.out"
check "relayd -a as root creates the table as $SVC" \
	[ "$(stat -c %U "$T/state/relay.lmdb" 2>/dev/null)" = "$SVC" ]
out=$(env -u RELAYCLIENT TCPREMOTEIP=127.0.0.9 "$B/leafmail-relaylock" -c "$CFG" \
	/bin/sh -c 'echo "${RELAYCLIENT-unset}"' 2>"$T/rl.err")
check "relaylock as root reads the account's table (RELAYCLIENT set)" [ "$out" = "" ]

# --- the pid files ---
for dmn in relayd milter lmtp umtp; do
	for k in $KINDS; do
		make_target "$T/target"
		fresh_dir "$T/state"
		fresh_dir "$T/run"
		pf=$T/run/$(daemon_pidfile "$dmn")
		plant "$k" "$T/target" "$pf"
		run_daemon "$dmn" "$T/$dmn.log"
		r=$?
		check_target "$dmn over a planted $k pid file: root's file untouched" "$T/target"
		if [ "$r" -eq 0 ] && [ -f "$pf" ] && [ ! -L "$pf" ] &&
			[ "$(stat -c '%U %h %a' "$pf")" = "$SVC 1 644" ] &&
			[ "$(tr -d '\n' <"$pf")" = "$DPID" ]; then
			ok "... $dmn runs with a pid file of its own"
		else
			notok "... $dmn runs with a pid file of its own (start $r, exit $DRC)"
			ls -l "$pf" 2>&1 | sed 's/^/#   /'
			evidence "$T/$dmn.log"
		fi
		[ "$r" -eq 0 ] && stop_daemon
		check "... and removes it when stopping" [ ! -e "$pf" ]
	done
done

# --- the directories ---
mkdir -p "$T/home" "$T/rootdir"
chown "$SVC" "$T/home"
chmod 700 "$T/rootdir"
sed "s|^state-dir = .*|state-dir = \"$T/home/state\"|" "$CFG" >"$T/home.conf"
sed "s|^run-dir = .*|run-dir = \"$T/home/run\"|" "$CFG" >"$T/homerun.conf"
as_svc ln -s "$T/rootdir" "$T/home/state"
as_svc ln -s "$T/rootdir" "$T/home/run"
fresh_dir "$T/run"
# with_conf NAME CONF LOG: daemon NAME with CONF; r its exit status (0
# when it started: then stopped)
with_conf() {
	_c=$CFG
	CFG=$2
	run_daemon "$1" "$3" && stop_daemon
	CFG=$_c
	r=${DRC:-0}
}
with_conf relayd "$T/home.conf" "$T/dir.out"
check "state-dir in a directory of $SVC's: refused, exit 78 (got $r)" [ "$r" -eq 78 ]
check "... saying why" grep -q "refusing" "$T/dir.out"
check "... and the directory its link led to is still root's 0700" \
	[ "$(stat -c '%U %a' "$T/rootdir")" = "root 700" ]
with_conf milter "$T/homerun.conf" "$T/dir2.out"
check "milter run-dir in a directory of $SVC's: refused, exit 78 (got $r)" [ "$r" -eq 78 ]
check "... and root's directory untouched" [ "$(stat -c '%U %a' "$T/rootdir")" = "root 700" ]
as_svc rm "$T/home/state"
as_svc mkdir "$T/home/state"
with_conf relayd "$T/home.conf" "$T/dir3.out"
check "a state-dir of $SVC's in a directory of $SVC's: refused too (exit $r)" [ "$r" -eq 78 ]

# --- state files ---
for k in $KINDS; do
	make_target "$T/target"
	fresh_dir "$T/state"
	fresh_dir "$T/run"
	rm -f "$T/state/relay.lmdb"
	plant "$k" "$T/target" "$T/state/relayd.positions"
	run_daemon relayd "$T/pos.log" || evidence "$T/pos.log"
	printf '%s pop3-login: Info: Login: user=<a>, method=PLAIN, rip=192.0.2.44, lip=127.0.0.1, mpid=1, session=<x>\n' \
		"$(date '+%b %e %H:%M:%S')" >>"$T/log/dovecot.log"
	wait_for 10 sh -c "'$RELAYD' -c '$CFG' -l | grep -q 192.0.2.44"
	stop_daemon
	check_target "relayd over a planted $k positions file: untouched" "$T/target"
	check "... its positions file is its own, 0600" \
		[ "$(stat -c '%U %a %h' "$T/state/relayd.positions" 2>/dev/null)" = "$SVC 600 1" ]

	make_target "$T/target"
	fresh_dir "$T/state"
	start_over "$k" "$T/target" "$T/state/umtp-dedup.lmdb" umtp "$T/dedup.log"
	check_target "umtp receive over a planted $k duplicate store: untouched" "$T/target"
done

# --- a socket name planted before the start ---
make_target "$T/target"
for dmn in milter lmtp; do
	fresh_dir "$T/run"
	sock=$T/run/$dmn.sock
	start_over sym "$T/target" "$sock" "$dmn" "$T/$dmn.log"
	check "$dmn refuses a link at its socket's name (exit $DRC)" test "$r.$DRC" = 1.69
	check_target "... and leaves root's file alone" "$T/target"
done
