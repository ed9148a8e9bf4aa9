# postfix.sh - a private Postfix instance on loopback for integration tests
# (POSIX sh, sourced after tests/lib.sh; defines functions only).
#
#   pf_start DIR PORT NAME [MAIN.CF LINE...]
#       Build and start an instance under DIR: DIR/etc (config_directory),
#       DIR/queue (a link to a short directory in /tmp when DIR is long),
#       DIR/data, DIR/maillog.  smtpd listens on 127.0.0.1:PORT
#       (and [::1]:PORT when ::1 exists); myhostname is NAME.leafmail.test.
#       Everything Postfix relays goes to an smtp-sink we start on a free
#       loopback port (relayhost), capturing into DIR/sink/.  Each extra
#       argument is one main.cf line ("key = value"), applied last so it
#       overrides the defaults here.  The stop is registered with at_exit.
#       Returns non-zero (with the log's tail on stderr) if smtpd does not
#       answer within 15 s.
#   pf_stop DIR      stop that instance and its sink; safe to call twice.
#   pf_log DIR       print the instance's log (maillog_file, via postlogd).
#   pf_postconf DIR ARGS...   postconf on the instance.
#   pf_sink_count DIR         number of messages the sink received.
#
# Facts behind the choices (tests/TESTING-NOTES in the team notes): two
# instances with one myhostname refuse each other; Postfix >= 3.4 logs to a
# file only through postlogd and maillog_file_prefixes must allow the path;
# chroot would need a copied /etc inside the queue, so nothing is chrooted;
# DNS is disabled and every destination is explicit, so nothing is looked up.
# We touch nothing under /etc/postfix: `postfix -c DIR` works as root.

# _pf_has_ipv6: ::1 is configured on this host
_pf_has_ipv6() {
	[ -f /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6
}

pf_start() {
	_pfd=$1 _pfport=$2 _pfname=$3
	shift 3
	mkdir -p "$_pfd/etc" "$_pfd/data" "$_pfd/sink" || return 1
	# Postfix's clients reach postlogd at $queue_directory/public/postlog
	# by its full name, and sun_path holds 107 bytes: under a long
	# directory (the demo in a deep checkout) the queue is a short
	# directory in /tmp that DIR/queue points to.
	_pfq=$_pfd/queue
	if [ -L "$_pfq" ]; then
		_pfq=$(readlink "$_pfq")
	elif [ "${#_pfq}" -gt 80 ]; then
		_pfq=$(mktemp -d /tmp/lmpf.XXXXXX) || return 1
		chmod 0755 "$_pfq"
		ln -s "$_pfq" "$_pfd/queue" || return 1
	else
		mkdir -p "$_pfq" || return 1
	fi
	chown postfix:postfix "$_pfd/data" "$_pfd/sink" || return 1
	_pfsink=$(free_port)
	echo "$_pfsink" >"$_pfd/sinkport"
	_pfinet="ipv4"
	_pf_has_ipv6 && _pfinet="ipv4, ipv6"
	cat >"$_pfd/etc/main.cf" <<PFEOF
# private test instance, written by tests/harness/postfix.sh
compatibility_level = 3.6
queue_directory = $_pfq
data_directory = $_pfd/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $_pfname.leafmail.test
mydomain = leafmail.test
myorigin = \$myhostname
mydestination = \$myhostname, local.test
inet_interfaces = loopback-only
inet_protocols = $_pfinet
mynetworks = 127.0.0.1/32
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
relayhost = [127.0.0.1]:$_pfsink
# local mail goes to the sink too: no local(8) delivery as root in tests
local_transport = smtp:[127.0.0.1]:$_pfsink
local_recipient_maps =
alias_maps =
alias_database =
biff = no
maillog_file = $_pfd/maillog
maillog_file_prefixes = $_pfd
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtpd_banner = \$myhostname ESMTP leafmail-test
PFEOF
	for _pfl in "$@"; do
		printf '%s\n' "$_pfl" >>"$_pfd/etc/main.cf"
	done
	{
		echo "# private test instance, written by tests/harness/postfix.sh"
		echo "127.0.0.1:$_pfport inet n - n - - smtpd"
		_pf_has_ipv6 && echo "[::1]:$_pfport inet n - n - - smtpd"
		cat <<'PFEOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
PFEOF
	} >"$_pfd/etc/master.cf"
	# The sink: started as root it must drop to postfix (-u).  -d keeps
	# one file per message; the file is open until the transaction ends.
	smtp-sink -u postfix -h sink.leafmail.test -d "$_pfd/sink/m." \
		"127.0.0.1:$_pfsink" 16 >"$_pfd/sink.log" 2>&1 &
	echo $! >"$_pfd/sink.pid"
	track_pid "$(cat "$_pfd/sink.pid")"
	at_exit "pf_stop '$_pfd'"
	if ! postfix -c "$_pfd/etc" start >"$_pfd/start.log" 2>&1; then
		cat "$_pfd/start.log" >&2
		return 1
	fi
	if ! wait_for 15 _pf_answers "$_pfport"; then
		echo "pf_start: smtpd on 127.0.0.1:$_pfport does not answer" >&2
		tail -20 "$_pfd/maillog" >&2
		return 1
	fi
	return 0
}

# _pf_answers PORT: something accepts TCP connections there
_pf_answers() {
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1"
}

# _pf_master_pid DIR: the running master's pid, or nothing
_pf_master_pid() {
	_pfp=$(tr -d ' \n' <"$1/queue/pid/master.pid" 2>/dev/null)
	[ -n "$_pfp" ] && kill -0 "$_pfp" 2>/dev/null && echo "$_pfp"
}

pf_stop() {
	_pfd=$1
	_pfm=$(_pf_master_pid "$_pfd")
	if [ -n "$_pfm" ]; then
		postfix -c "$_pfd/etc" stop >/dev/null 2>&1
		# stop returns before master has reaped its children
		_pfn=100
		while kill -0 "$_pfm" 2>/dev/null && [ "$_pfn" -gt 0 ]; do
			sleep 0.1; _pfn=$((_pfn - 1))
		done
		kill -9 "$_pfm" 2>/dev/null
	fi
	if [ -f "$_pfd/sink.pid" ]; then
		kill "$(cat "$_pfd/sink.pid")" 2>/dev/null
		rm -f "$_pfd/sink.pid"
	fi
	return 0
}

pf_log() { cat "$1/maillog" 2>/dev/null; }
pf_postconf() { _pfd=$1; shift; postconf -c "$_pfd/etc" "$@"; }
pf_sink_count() { find "$1/sink" -type f -name 'm.*' | wc -l; }

# pf_rcpt PORT FROMIP RCPT [SENDER]: one SMTP session from FROMIP (an
# address on lo, or ::1) up to RCPT; prints Postfix's reply to RCPT TO
# (its last line, e.g. "550 5.7.1 <a@b>: ..."), or, when the session
# failed before RCPT, the first error reply (e.g. "451 4.7.1 ...").
pf_rcpt() {
	_pfsrv=127.0.0.1
	case $2 in *:*) _pfsrv=::1 ;; esac
	swaks --server "$_pfsrv" --port "$1" --local-interface "$2" \
		--helo client.leafmail.test --from "${4:-sender@client.test}" \
		--to "$3" --quit-after RCPT --timeout 10 2>&1 | awk '
		/^ -> RCPT TO/ { inrcpt = 1; next }
		/^ -> / { if (inrcpt && last != "") { print last; done = 1; exit } inrcpt = 0; next }
		/^<(-|\*\*) / {
			line = $0; sub(/^<(-|\*\*) +/, "", line)
			if (inrcpt) last = line
			else if ($0 ~ /^<\*\*/ && firsterr == "") firsterr = line
		}
		/^\*\*\* / { if (firsterr == "") { firsterr = $0 } }
		END { if (!done) { if (last != "") print last; else print firsterr } }'
}

# pf_send PORT FROMIP RCPT: a whole message; prints the reply to the end
# of DATA ("250 2.0.0 Ok: queued as ..."), or the first error reply.
pf_send() {
	_pfsrv=127.0.0.1
	case $2 in *:*) _pfsrv=::1 ;; esac
	swaks --server "$_pfsrv" --port "$1" --local-interface "$2" \
		--helo client.leafmail.test --from sender@client.test \
		--to "$3" --timeout 10 2>&1 | awk '
		/^ -> \.$/ { dot = 1; next }
		/^<\*\* / { line = $0; sub(/^<\*\* +/, "", line); if (err == "") err = line }
		/^<-  / { if (dot && res == "") { res = $0; sub(/^<- +/, "", res) } }
		END { if (res != "") print res; else print err }'
}
