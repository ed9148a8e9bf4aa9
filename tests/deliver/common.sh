# common.sh - helpers for tests/deliver/*.t (sourced after tests/lib.sh).
#
# Every test runs the real $B/leafmail-deliver.  Run as root (as CI does),
# it must switch to `user`: the system user "leafmail", created here when
# missing, as tests/relayd/common.sh does; maildir-base is then owned by
# it.  Run as an ordinary user it runs as that user.
#
#   write_conf [EXTRA DELIVER LINES]   configuration in $CFG
#   mailbox LINE...                    append lines to the mailboxes file
#   dl ARGS... <MSG                    run the binary; sets $out and $rc
#   msg_file N                         a small test message numbered N
#   count DIR                          files in DIR (0 when missing)
DELIVER=$B/leafmail-deliver
[ -x "$DELIVER" ] || skip_all "$DELIVER not built"
umask 022
need_run_user || skip_all "cannot create system user leafmail"
CFG=$T/leafmail.conf
MBOX=$T/mailboxes
BASE=$T/base
mkdir -p "$BASE"
[ "$(id -u)" -eq 0 ] && chown "$RUSER" "$BASE"
: >"$MBOX"

write_conf() {
	cat >"$CFG" <<EOF2
user = "$RUSER"
deliver {
  maildir-base = "$BASE"
  mailboxes = "file:$MBOX"
  recipient-delimiter = "+"
  $*
}
EOF2
}
write_conf

mailbox() {
	for _l in "$@"; do printf '%s\n' "$_l" >>"$MBOX"; done
}

dl() {
	out=$("$DELIVER" -c "$CFG" "$@" 2>&1)
	rc=$?
}

msg_file() {
	printf 'From: sender@example.net\nTo: rcpt@example.org\nSubject: test %s\nMessage-ID: <%s@test>\n\nbody of message %s\n' "$1" "$1" "$1"
}

count() {
	if [ -d "$1" ]; then
		find "$1" -mindepth 1 -maxdepth 1 -type f | wc -l
	else
		echo 0
	fi
}

# expect DESC RC PREFIX: the last dl returned RC and printed PREFIX first
expect() {
	case $out in
	"$3"*) if [ "$rc" -eq "$2" ]; then ok "$1"; return; fi ;;
	esac
	notok "$1 (rc $rc, want $2; output: $out)"
}
