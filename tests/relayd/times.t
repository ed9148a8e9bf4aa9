#!/bin/sh
# times.t - no source can make an entry valid beyond now + expire + the
# clock-skew allowance (relay.max-clock-skew, 2m here), whatever time
# stamp a line carries: far-future and far-past times in each time stamp
# form (Dovecot's default "Mmm dd hh:mm:ss", syslog with a host, RFC 3339
# with Z, with an offset and fraction, without a zone), in the dovecot,
# cyrus and custom formats, from a file, a FIFO and stdin.  A time ahead by
# less than the allowance is kept; a clamped line is logged, rate-limited.
# (An RFC 3339 line stamped 2099 gave an entry valid until 2099; the
# syslog form one valid for a day.)
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"

# relayd makes the FIFO itself, as its user, in a directory of its own
mkdir -p "$T/fifo" && chown "$RUSER" "$T/fifo"
CY=$T/log/cyrus.log
CU=$T/log/custom.log
: >"$LOG"; : >"$CY"; : >"$CU"
write_conf 30m 1s "source \"$LOG\" { format = \"dovecot\" }
  source \"fifo:$T/fifo/syslog\" { format = \"dovecot\" }
  source \"$CY\" { format = \"cyrus\" }
  source \"$CU\" { format = \"custom\" regex = \"^[^ ]+ OK ([0-9.]+)\$\" ip-group = 1 }"
sed -i 's|^  expire = "30m"|  expire = "30m"\n  max-clock-skew = "2m"|' "$CFG"
start_relayd || { notok "relayd starts"; exit 1; }

# line STAMP IP: a Dovecot login after the given time stamp
dline() {
	printf '%s pop3-login: Info: Login: user=<alice>, method=PLAIN, rip=%s, lip=127.0.0.1, mpid=1, session=<a%s>\n' "$1" "$2" "$$"
}
sline() { # syslog layout with a host
	printf '%s mail dovecot: imap-login: Login: user=<alice>, method=PLAIN, rip=%s, lip=127.0.0.1, mpid=1, session=<b%s>\n' "$1" "$2" "$$"
}
ts() { date -d "$1" '+%b %e %H:%M:%S'; }
iso() { date -u -d "$1" '+%Y-%m-%dT%H:%M:%SZ'; }

now0=$(date +%s)
{
	dline "$(ts '20 hours')" 198.51.100.1          # ahead: clamped
	dline "$(ts '3 minutes')" 198.51.100.2         # ahead > 2m: clamped
	dline "$(ts '1 minute')" 198.51.100.3          # within the allowance
	dline "$(ts '2 days ago')" 198.51.100.4        # long past: stale
	dline "2099-01-01T00:00:00Z" 198.51.100.5      # RFC 3339, Z
	dline "2000-01-01T00:00:00Z" 198.51.100.6      # long past
	dline "2099-01-01 00:00:00" 198.51.100.7       # no zone (local)
	dline "2099-06-01T12:00:00.123456+02:00" 198.51.100.8
	dline "$(iso '3 hours')" 198.51.100.9
	sline "$(ts '20 hours')" 198.51.100.10
	sline "$(ts '3 days ago')" 198.51.100.11
	sline "2099-01-01T00:00:00.000001+00:00" 198.51.100.12
	dline "$(ts now)" 198.51.100.99                # marker
} >>"$LOG"
{
	sline "2099-01-01T00:00:00Z" 198.51.100.20
	sline "$(ts '2 days ago')" 198.51.100.21
	sline "$(ts now)" 198.51.100.98                # marker
} >"$T/fifo/syslog"
printf '2099-01-01T00:00:00Z mail imap[1]: login: client [198.51.100.30] alice plaintext User logged in\n' >>"$CY"
printf '1999-01-01T00:00:00Z mail imap[1]: login: client [198.51.100.31] alice plaintext User logged in\n' >>"$CY"
printf '2099-01-01T00:00:00Z OK 198.51.100.40\n1999-01-01T00:00:00Z OK 198.51.100.41\n' >>"$CU"
check "the file's lines are read" wait_for 5 in_table 198.51.100.99
check "the FIFO's lines are read" wait_for 5 in_table 198.51.100.98
check "the cyrus lines are read" wait_for 5 in_table 198.51.100.30
check "the custom lines are read" wait_for 5 in_table 198.51.100.40
now1=$(date +%s)

exp() { "$RELAYD" -c "$CFG" -l | sed -n "s/^$(echo "$1" | sed 's/\./\\./g') //p"; }
# clamped IP: the entry counts from now (between the two clocks above)
clamped() {
	_e=$(exp "$1")
	[ -n "$_e" ] && [ "$_e" -ge $((now0 + 1800)) ] && [ "$_e" -le $((now1 + 1800)) ] ||
		{ echo "# $1 expires at ${_e:-(none)}, not within [$((now0 + 1800)), $((now1 + 1800))]"; return 1; }
}
for ip in 198.51.100.1 198.51.100.2 198.51.100.5 198.51.100.7 198.51.100.8 \
	198.51.100.9 198.51.100.10 198.51.100.12 198.51.100.20 198.51.100.30 \
	198.51.100.40; do
	check "$ip, stamped in the future, counts from now" clamped "$ip"
done
e=$(exp 198.51.100.3)
check "a stamp 1 minute ahead (within 2m) keeps its time ($e)" \
	[ -n "$e" ] && [ "$e" -ge $((now0 + 1800 + 55)) ] && [ "$e" -le $((now1 + 1800 + 62)) ]
for ip in 198.51.100.4 198.51.100.6 198.51.100.11 198.51.100.21 198.51.100.31 198.51.100.41; do
	check "$ip, stamped long ago, authorizes nobody" not_in_table "$ip"
done
over=$("$RELAYD" -c "$CFG" -l | awk -v lim=$((now1 + 1800 + 120)) '$2 > lim')
check "no entry valid beyond now + expire + skew" [ -z "$over" ]

n=$(grep -c 'ahead of this host' "$ERR")
check "the clamped lines are logged ($n lines)" [ "$n" -ge 1 ]
i=0
while [ $i -lt 200 ]; do
	dline "2099-01-01T00:00:00Z" "198.51.101.$((i % 250))"
	i=$((i + 1))
done >>"$LOG"
dline "$(ts now)" 198.51.100.97 >>"$LOG"
check "200 more such lines are read" wait_for 5 in_table 198.51.100.97
n=$(grep -c 'ahead of this host' "$ERR")
check "... and the log holds at most 5 lines about them all ($n)" [ "$n" -le 5 ]
stop_relayd
check "relayd exits 0" [ $? -eq 0 ]

# stdin, the same rules.
write_conf 30m 1s 'source "-" { format = "dovecot" }'
rm -rf "$T/state"
now0=$(date +%s)
{ dline "2099-01-01T00:00:00Z" 198.51.100.50; dline "$(ts '20 hours')" 198.51.100.51
  dline "2000-01-01T00:00:00Z" 198.51.100.52; } |
	timeout 10 "$RELAYD" -f -c "$CFG" 2>>"$ERR"
now1=$(date +%s)
check "stdin: a 2099 stamp counts from now" clamped 198.51.100.50
check "stdin: a stamp 20 hours ahead counts from now" clamped 198.51.100.51
check "stdin: a stamp from 2000 authorizes nobody" not_in_table 198.51.100.52
exit 0
