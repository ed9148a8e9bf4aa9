#!/bin/sh
# inside.sh PHASE DEB - run by tests/package/check.sh inside a fresh
# Debian 12 chroot (policy-rc.d forbidding service starts), in three
# phases: "install" the package the way an administrator does and check
# what it created; "run" every daemon as its systemd unit would (in a
# network namespace of its own, so the shipped ports cannot meet the
# host's); "purge" it and look for anything left behind.  Prints ok/not
# ok lines.
set -u
phase=$1
deb=$2
here=$(dirname "$deb")
export DEBIAN_FRONTEND=noninteractive
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
check() { _d=$1; shift; if "$@"; then ok "$_d"; else notok "$_d"; fi; }
say() { echo "# $*"; }
snap() { find / -xdev \( -path /root/pkg -o -path /var/cache -o -path /var/lib/apt \
	-o -path /var/log \) -prune -o -print 2>/dev/null | sort; }

if [ "$phase" = install ]; then
# What an administrator already has: an MTA (Postfix, as Debian installs
# it with "No configuration") and, for this test, socat to play systemd's
# notify socket.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq >/dev/null 2>&1
apt-get install -y -qq --no-install-recommends postfix socat >"$here/pre.log" 2>&1 ||
	{ notok "installing postfix and socat"; tail -5 "$here/pre.log"; exit 1; }
# "No configuration" leaves main.cf out; give it one, as an administrator
# would have, so that we can see it stays untouched.
[ -f /etc/postfix/main.cf ] || cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
snap >"$here/before"
(cd /etc/postfix && sha256sum main.cf master.cf) >"$here/postfix.sum"

# 1. install
if apt-get install -y -qq "$deb" >"$here/install.log" 2>&1; then
	ok "apt-get install ./$(basename "$deb")"
else
	notok "apt-get install ./$(basename "$deb")"
	tail -20 "$here/install.log" | sed 's/^/#   /'
	exit 1
fi
check "the MTA's configuration is untouched" sh -c "cd /etc/postfix && sha256sum -c --quiet '$here/postfix.sum'"
wants=$(ls /etc/systemd/system/*.wants/ 2>/dev/null | grep -E 'leafmail|umtp')
check "no unit enabled${wants:+: $wants}" [ -z "$wants" ]
check "the leafmail system user exists" getent passwd leafmail
check "leafmail is in group adm (the mail logs)" sh -c "id -nG leafmail | tr ' ' '\n' | grep -qx adm"
check "postfix is in group leafmail (the sockets)" sh -c "id -nG postfix | tr ' ' '\n' | grep -qx leafmail"
owner() { stat -c '%U:%G %a' "$1" 2>/dev/null; }
for d in /var/lib/leafmail /run/leafmail /var/spool/postfix/leafmail; do
	check "$d is leafmail:leafmail 750 ($(owner "$d"))" [ "$(owner "$d")" = "leafmail:leafmail 750" ]
done
check "/etc/leafmail/leafmail.conf is a conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}' leafmail | grep -q ' /etc/leafmail/leafmail.conf '"
check "/etc/leafmail/umtp.key is leafmail's, 600 ($(owner /etc/leafmail/umtp.key))" \
	[ "$(owner /etc/leafmail/umtp.key)" = "leafmail:leafmail 600" ]
for p in leafmail-milter leafmail-relayd leafmail-relaylock leafmail-tunneld leafmail-deliver leafmail-policyd; do
	check "/usr/sbin/$p" [ -x "/usr/sbin/$p" ]
done
check "/usr/bin/umtp" [ -x /usr/bin/umtp ]
check "man pages" sh -c '[ -f /usr/share/man/man8/leafmail-milter.8.gz ] && [ -f /usr/share/man/man5/leafmail.conf.5.gz ]'

# The log rsyslog would write (Dovecot logs to the mail facility).
[ -f /var/log/mail.log ] || { : >/var/log/mail.log; chown root:adm /var/log/mail.log; chmod 640 /var/log/mail.log; }

exit 0
fi

if [ "$phase" = run ]; then
# 2. -t on the shipped configuration
C=/etc/leafmail/leafmail.conf
for cmd in "leafmail-milter -t" "leafmail-relayd -t" "leafmail-policyd -t" \
	"umtp receive -t" "leafmail-deliver -L -t"; do
	out=$($cmd 2>&1); rc=$?
	check "$cmd on the shipped configuration: exit $rc" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || say "$out"
done
out=$(leafmail-tunneld -t 2>&1); rc=$?
check "leafmail-tunneld -t without a tunnel: 78, says so ($out)" \
	sh -c "[ $rc -eq 78 ] && printf '%s' '$out' | grep -q 'no tunnel'"

# tunneld needs the administrator's smarthost: a tunnel as README.Debian
# shows it (the key and host key are made up; nothing is dialled).
mkdir -p /etc/leafmail/ssh
ssh-keygen -q -t ed25519 -N '' -f /etc/leafmail/ssh/id_ed25519
echo "relay.example.com $(cut -d' ' -f1,2 /etc/leafmail/ssh/id_ed25519.pub)" >/etc/leafmail/ssh/known_hosts
chown leafmail:leafmail /etc/leafmail/ssh/id_ed25519
cat >>"$C" <<'EOF'
tunnel "smarthost" {
  listen = "127.0.0.1:10025"
  ssh-destination = "mail@relay.example.com"
  identity-file = "/etc/leafmail/ssh/id_ed25519"
  known-hosts-file = "/etc/leafmail/ssh/known_hosts"
}
EOF
out=$(leafmail-tunneld -t 2>&1); rc=$?
check "leafmail-tunneld -t with a tunnel: exit $rc" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || say "$out"

# 3. each daemon started the way its unit starts it
unit_get() { sed -n "s/^$2=//p" "/lib/systemd/system/$1.service" | tail -1; }
listening() { # KIND WHAT: unix PATH | tcp PORT | udp PORT
	case $1 in
	unix) socat -u OPEN:/dev/null "UNIX-CONNECT:$2" 2>/dev/null ;;
	tcp) _h=$(printf '%04X' "$2"); cat /proc/net/tcp /proc/net/tcp6 | awk -v p=":$_h" '$2 ~ p"$" && $4 == "0A" {f=1} END {exit !f}' ;;
	udp) _h=$(printf '%04X' "$2"); cat /proc/net/udp /proc/net/udp6 | awk -v p=":$_h" '$2 ~ p"$" {f=1} END {exit !f}' ;;
	esac
}
wait_for() { _n=$(($1 * 10)); shift; while [ $_n -gt 0 ]; do "$@" && return 0; sleep 0.1; _n=$((_n - 1)); done; return 1; }
as_unit() { # UNIT CMD...: the unit's user, groups and umask
	_u=$(unit_get "$1" User) _g=$(unit_get "$1" Group) _sg=$(unit_get "$1" SupplementaryGroups)
	_um=$(unit_get "$1" UMask); shift
	_groups=$(id -G "$_u" | tr ' ' ',')
	for _x in $_sg; do _groups="$_groups,$(getent group "$_x" | cut -d: -f3)"; done
	# exec, no subshell: the caller's $! must be the daemon itself
	umask "${_um:-0022}"
	exec setpriv --reuid="$_u" --regid="$_g" --groups="$_groups" \
		--inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
}
run_unit() { # UNIT KIND WHAT
	u=$1
	pre=$(unit_get "$u" ExecStartPre) start=$(unit_get "$u" ExecStart)
	# shellcheck disable=SC2086 # the unit's command line, split as systemd does
	out=$(as_unit "$u" $pre 2>&1)
	rc=$?
	check "$u: ExecStartPre ($pre) as $(unit_get "$u" User): exit $rc" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || say "$out"
	ns=/run/notify-$u.sock
	rm -f "$ns"
	socat -u "UNIX-RECV:$ns" "OPEN:/tmp/notify-$u,creat,append" &
	spid=$!
	wait_for 5 [ -S "$ns" ]
	chmod 666 "$ns"
	# shellcheck disable=SC2086
	NOTIFY_SOCKET=$ns as_unit "$u" $start >"/tmp/$u.log" 2>&1 &
	dpid=$!
	check "$u: READY=1 on the notify socket" wait_for 20 grep -q 'READY=1' "/tmp/notify-$u"
	check "$u: listening ($2 $3)" wait_for 10 listening "$2" "$3"
	if ! kill -0 "$dpid" 2>/dev/null; then
		sed 's/^/#   /' "/tmp/$u.log" | tail -10
	fi
	kill -TERM "$dpid" 2>/dev/null
	wait "$dpid"; rc=$?
	check "$u: TERM, exit $rc" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "/tmp/$u.log" | tail -10
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
}
run_unit leafmail-milter unix /var/spool/postfix/leafmail/milter.sock
run_unit leafmail-policyd unix /var/spool/postfix/leafmail/policy.sock
run_unit leafmail-relayd none -
run_unit leafmail-deliver-lmtp unix /run/leafmail/lmtp.sock
run_unit umtp-receive udp 2526
run_unit leafmail-tunneld tcp 10025

exit 0
fi

# 4. purge; first, as an administrator would, what we added ourselves
rm -rf /etc/leafmail/ssh

if apt-get purge -y -qq leafmail >"$here/purge.log" 2>&1; then
	ok "apt-get purge leafmail"
else
	notok "apt-get purge leafmail"; tail -10 "$here/purge.log" | sed 's/^/#   /'
fi
for d in /etc/leafmail /var/lib/leafmail /run/leafmail /var/spool/postfix/leafmail; do
	check "purge removed $d" [ ! -e "$d" ]
done
snap >"$here/after"
left=$(comm -13 "$here/before" "$here/after" | while IFS= read -r f; do
	case $f in /etc/passwd* | /etc/group* | /etc/shadow* | /etc/gshadow* | /etc/subuid* | /etc/subgid* | \
		/etc/ld.so.cache | /var/lib/dpkg* | /var/lib/systemd/deb-systemd-helper* | /var/lib/ucf* ) continue ;; esac
	dpkg -S "$f" >/dev/null 2>&1 && continue   # a dependency's file
	echo "$f"
done)
check "nothing of ours left behind${left:+: $left}" [ -z "$left" ]
