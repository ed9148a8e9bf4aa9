#!/bin/sh
# boot.sh DEB ROOT - the package's systemd units under a real systemd
# (run by tests/package/check.sh, as root).
#
# A throw-away overlay of the fresh Debian 12 ROOT gets systemd, Postfix
# (as Debian installs it, "No configuration") and DEB, and is booted with
# systemd-nspawn in a network namespace of its own.  Then, inside, as an
# administrator would: a tunnel configured (README.Debian), every unit
# enabled and started; each must be active with its main process running
# as leafmail, its socket reachable by Postfix's user where Postfix
# connects, `systemctl reload` working where the daemon has a reload, and
# `systemctl stop` ending it with exit status 0 and its socket gone.
# What the emulation in inside.sh cannot show is shown here: the
# sandboxing (ProtectSystem=, the system call filter, ReadWritePaths=)
# lets each daemon do its job.  Prints ok/not ok lines; skips (a "# skip"
# line, no failure) when systemd-nspawn is missing.
set -u
deb=$1
root=$2
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
check() { _d=$1; shift; if "$@"; then ok "$_d"; else notok "$_d"; fi; }
command -v systemd-nspawn >/dev/null 2>&1 || { echo "# skip: systemd-nspawn missing (systemd-container)"; exit 0; }

w=$(mktemp -d /tmp/lmboot.XXXXXX)
m=$w/merged
nspawn=
finish() {
	[ -n "$nspawn" ] && kill "$nspawn" 2>/dev/null && sleep 3
	[ -n "$nspawn" ] && kill -9 "$nspawn" 2>/dev/null
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$m" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	for d in dev/pts dev sys proc; do umount "$m/$d" 2>/dev/null; done
	umount -l "$m" 2>/dev/null
	[ -n "${BOOT_KEEP:-}" ] || rm -rf "$w"
}
trap finish EXIT
trap 'exit 1' INT TERM
mkdir -p "$w/upper" "$w/wk" "$m"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$w/upper,workdir=$w/wk" "$m" ||
	{ notok "overlay of $root"; exit 1; }
for d in proc sys dev dev/pts; do mount --bind "/$d" "$m/$d"; done
cp /etc/resolv.conf "$m/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$m/usr/sbin/policy-rc.d"
chmod 755 "$m/usr/sbin/policy-rc.d"
cp "$deb" "$m/root/"
if chroot "$m" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root sh -c '
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		systemd systemd-sysv dbus postfix socat /root/'"$(basename "$deb")" >"$w/install.log" 2>&1; then
	ok "systemd, Postfix and the package installed in the fresh root"
else
	notok "systemd, Postfix and the package installed in the fresh root"
	tail -10 "$w/install.log" | sed 's/^/#   /'
	exit 0
fi
rm -f "$m/usr/sbin/policy-rc.d"
for d in dev/pts dev sys proc; do umount "$m/$d"; done

# What the administrator adds: the log rsyslog would write, the smarthost
# (made-up key and host key: nothing is dialled), Postfix's main.cf.
: >"$m/var/log/mail.log"
chroot "$m" sh -c 'chown root:adm /var/log/mail.log && chmod 640 /var/log/mail.log
	cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
	install -d -o leafmail -g leafmail -m 0700 /etc/leafmail/ssh
	ssh-keygen -q -t ed25519 -N "" -f /etc/leafmail/ssh/id_ed25519 &&
	chown leafmail:leafmail /etc/leafmail/ssh/id_ed25519 &&
	echo "relay.example.com $(cut -d" " -f1,2 /etc/leafmail/ssh/id_ed25519.pub)" >/etc/leafmail/ssh/known_hosts' ||
	notok "the administrator's part"
cat >>"$m/etc/leafmail/leafmail.conf" <<'CONF'
tunnel "smarthost" {
  listen = "127.0.0.1:10025"
  ssh-destination = "mail@relay.example.com"
  identity-file = "/etc/leafmail/ssh/id_ed25519"
  known-hosts-file = "/etc/leafmail/ssh/known_hosts"
}
CONF

SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=${SYSTEMD_NSPAWN_UNIFIED_HIERARCHY:-0} \
	systemd-nspawn --register=no --keep-unit -q -D "$m" -b --private-network \
	</dev/null >"$w/console.log" 2>&1 &
nspawn=$!
init=
i=0
while [ $i -lt 100 ] && [ -z "$init" ]; do
	sleep 0.2
	i=$((i + 1))
	for c in $(pgrep -P "$nspawn"); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && init=$c
	done
done
if [ -z "$init" ]; then
	notok "the fresh root boots under systemd-nspawn"
	tail -10 "$w/console.log" | sed 's/^/#   /'
	exit 0
fi
inside() { nsenter -t "$init" -a "$@"; }
i=0
while [ $i -lt 120 ]; do
	s=$(inside systemctl is-system-running 2>/dev/null)
	case $s in running | degraded) break ;; esac
	sleep 0.5
	i=$((i + 1))
done
check "the fresh root boots under systemd ($s)" [ "$s" = running ] || [ "$s" = degraded ]

# unit CHECK: enabled and started; its state, user and socket
units="leafmail-relayd leafmail-milter leafmail-policyd leafmail-deliver-lmtp umtp-receive leafmail-tunneld"
for u in $units; do
	inside systemctl enable --now "$u.service" >"$w/$u.start" 2>&1
	st=$(inside systemctl is-active "$u.service")
	check "$u: enabled and started, $st" [ "$st" = active ]
	if [ "$st" != active ]; then
		inside journalctl --no-pager -n 8 -u "$u.service" | sed 's/^/#   /'
		continue
	fi
	pid=$(inside systemctl show -p MainPID --value "$u.service")
	uid=$(inside awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	check "$u: runs as leafmail (uid $uid)" [ "$uid" = "$(inside id -u leafmail)" ]
done
check "postfix is in group leafmail" sh -c "nsenter -t $init -a id -nG postfix | tr ' ' '\\n' | grep -qx leafmail"
reach() { inside su -s /bin/sh postfix -c "socat -u OPEN:/dev/null UNIX-CONNECT:$1"; }
check "Postfix's user reaches the milter's socket" reach /var/spool/postfix/leafmail/milter.sock
check "Postfix's user reaches the policy service's socket" reach /var/spool/postfix/leafmail/policy.sock
check "Postfix's user reaches the LMTP socket" reach /run/leafmail/lmtp.sock
check "umtp receive has its port" inside sh -c 'grep -q ":09DE " /proc/net/udp'
check "tunneld listens where relayhost points" inside sh -c 'grep -q "0100007F:2729 .* 0A " /proc/net/tcp'
check "relayd made the relay table" [ -f "$m/var/lib/leafmail/relay.lmdb" ]

for u in leafmail-milter leafmail-relayd; do
	if inside systemctl reload "$u.service" >"$w/$u.reload" 2>&1; then
		ok "$u: systemctl reload"
	else
		notok "$u: systemctl reload"
		sed 's/^/#   /' "$w/$u.reload"
	fi
done
check "the milter says it reloaded" sh -c "sleep 1; nsenter -t $init -a journalctl --no-pager -u leafmail-milter | grep -qi 'reload'"
check "reload kept the milter running" [ "$(inside systemctl is-active leafmail-milter)" = active ]

for u in $units; do
	inside systemctl stop "$u.service"
	r=$(inside systemctl show -p Result --value "$u.service")
	x=$(inside systemctl show -p ExecMainStatus --value "$u.service")
	check "$u: stopped cleanly (Result=$r, exit $x)" [ "$r" = success ] && [ "$x" = 0 ]
done
left=$(inside sh -c 'ls -A /var/spool/postfix/leafmail /run/leafmail' 2>/dev/null | grep -v '^/' | grep -v '^$' | tr '\n' ' ')
check "sockets and pid files gone after the stop${left:+: $left}" [ -z "$left" ]
inside systemctl poweroff >/dev/null 2>&1
i=0
while [ $i -lt 50 ] && kill -0 "$nspawn" 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
