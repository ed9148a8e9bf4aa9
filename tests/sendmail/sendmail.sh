# sendmail.sh - a private sendmail 8.17 instance on loopback for tests
# (POSIX sh, sourced after tests/lib.sh; defines functions only).
#
#   sm_fetch DIR     the sendmail binaries and cf/ tree, extracted into DIR
#                    from Debian's sendmail-bin, sendmail-cf, sendmail-base
#                    (apt-get download, cached in SM_CACHE, default
#                    /var/cache/leafmail-tests/sendmail, so reruns need no
#                    network).  Sets SM_ROOT.  Fails (with the reason in
#                    SM_WHY) when the packages cannot be had.
#   sm_start DIR PORT MILTERSOCK [MC LINE...]
#       Build DIR/test.cf with m4 from the extracted cf/m4/cf.m4 and our
#       contrib/sendmail/leafmail.mc (milter-gated relay: LEAFMAIL_PROMISCUOUS),
#       then run `sendmail -bD` (a foreground daemon: its pid is ours) on
#       127.0.0.1:PORT.  Extra arguments are .mc lines added before the
#       include.  local.test is a local domain; delivery is queue-only into
#       DIR/queue, so nothing ever leaves.  Sets SM_DIR, SM_PORT, SM_PID;
#       registers sm_stop with at_exit.
#   sm_stop          stop it (TERM, then KILL); safe to call twice.
#   sm_smtp FROMIP SWAKS-ARGS...
#       One SMTP session from FROMIP; prints the first error reply
#       ("550 5.7.1 ...", "421 4.7.0 ..."), or the last reply when all went
#       well (e.g. "250 2.1.5 ..." with --quit-after RCPT, or the
#       "250 2.0.0 ... accepted" after DATA).
#
# Facts behind the choices (team TESTING-NOTES): sendmail cannot be
# installed beside Postfix, so it is extracted, never installed; at start
# it resolves its own name and, when the name has no dot, sleeps about a
# minute: it runs in a private UTS and mount namespace (unshare) with the
# dotted name mx.sendmail.test and its own /etc/hosts bind-mounted there;
# its hosts lookups go to files only (service.switch), nocanonify and
# accept_unresolvable_domains keep it away from DNS.  It logs only through
# syslog, so the tests read SMTP replies and the milter's own log.

SM_CACHE=${SM_CACHE:-/var/cache/leafmail-tests/sendmail}

sm_fetch() {
	SM_ROOT=$1 SM_WHY=
	mkdir -p "$SM_CACHE" "$SM_ROOT" || { SM_WHY="cannot create $SM_CACHE"; return 1; }
	for _smp in sendmail-bin sendmail-cf sendmail-base; do
		ls "$SM_CACHE/${_smp}_"*.deb >/dev/null 2>&1 && continue
		( cd "$SM_CACHE" && apt-get download "$_smp" ) >"$SM_ROOT.apt.log" 2>&1 || {
			SM_WHY="apt-get download $_smp failed: $(tail -1 "$SM_ROOT.apt.log")"
			return 1
		}
	done
	for _smd in "$SM_CACHE"/*.deb; do
		dpkg -x "$_smd" "$SM_ROOT" || { SM_WHY="dpkg -x $_smd failed"; return 1; }
	done
	[ -x "$SM_ROOT/usr/libexec/sendmail/sendmail" ] &&
		[ -f "$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4" ] ||
		{ SM_WHY="no sendmail binary or cf.m4 in the packages"; return 1; }
}

sm_start() {
	SM_DIR=$1 SM_PORT=$2 _smsock=$3
	shift 3
	mkdir -p "$SM_DIR/queue" || return 1
	chmod 0700 "$SM_DIR/queue"
	printf 'hosts files\naliases files\n' >"$SM_DIR/service.switch"
	printf '127.0.0.1 localhost\n127.0.0.1 mx.sendmail.test mx\n::1 localhost\n' \
		>"$SM_DIR/hosts"
	echo local.test >"$SM_DIR/local-host-names"
	_smcf=$SM_ROOT/usr/share/sendmail/cf
	{
		echo "divert(-1)"
		echo "divert(0)dnl"
		echo "include(\`$_smcf/m4/cf.m4')dnl"
		echo "VERSIONID(\`leafmail test instance')dnl"
		echo "OSTYPE(\`linux')dnl"
		echo "define(\`confDOMAIN_NAME', \`mx.sendmail.test')dnl"
		echo "define(\`confDONT_PROBE_INTERFACES', \`True')dnl"
		echo "define(\`QUEUE_DIR', \`$SM_DIR/queue')dnl"
		echo "define(\`STATUS_FILE', \`$SM_DIR/statistics')dnl"
		echo "define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')dnl"
		echo "undefine(\`ALIAS_FILE')dnl"
		echo "define(\`confHELP_FILE', \`')dnl"
		echo "define(\`confCW_FILE', \`$SM_DIR/local-host-names')dnl"
		echo "define(\`confSERVICE_SWITCH_FILE', \`$SM_DIR/service.switch')dnl"
		echo "define(\`confHOSTS_FILE', \`$SM_DIR/hosts')dnl"
		echo "define(\`confDELIVERY_MODE', \`queueonly')dnl"
		echo "define(\`confDEF_USER_ID', \`65534:65534')dnl"
		echo "define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl"
		echo "define(\`confTO_IDENT', \`0s')dnl"
		echo "define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl"
		echo "define(\`RELAY_MAILER_ARGS', \`TCP \$h 9')dnl"
		echo "FEATURE(\`no_default_msa')dnl"
		echo "FEATURE(\`nocanonify')dnl"
		echo "FEATURE(\`accept_unresolvable_domains')dnl"
		echo "DAEMON_OPTIONS(\`Port=$SM_PORT, Addr=127.0.0.1, Name=MTA')dnl"
		echo "LOCAL_DOMAIN(\`local.test')dnl"
		for _sml in "$@"; do echo "$_sml"; done
		echo "define(\`LEAFMAIL_SOCKET', \`local:$_smsock')dnl"
		echo "define(\`LEAFMAIL_PROMISCUOUS')dnl"
		echo "include(\`$S/contrib/sendmail/leafmail.mc')dnl"
		echo "MAILER(\`local')dnl"
		echo "MAILER(\`smtp')dnl"
	} >"$SM_DIR/test.mc"
	m4 "$SM_DIR/test.mc" >"$SM_DIR/test.cf" 2>"$SM_DIR/m4.err" || {
		cat "$SM_DIR/m4.err" >&2
		return 1
	}
	# unshare execs sh, sh execs sendmail: one pid throughout.
	unshare --uts --mount sh -c "hostname mx.sendmail.test &&
		mount --bind '$SM_DIR/hosts' /etc/hosts &&
		exec '$SM_ROOT/usr/libexec/sendmail/sendmail' -bD -C '$SM_DIR/test.cf' -L sm-leafmail-test" \
		>"$SM_DIR/sendmail.out" 2>&1 &
	SM_PID=$!
	track_pid "$SM_PID"
	at_exit sm_stop
	wait_for 15 _sm_answers || {
		echo "sm_start: sendmail does not answer on $SM_PORT" >&2
		cat "$SM_DIR/sendmail.out" >&2
		return 1
	}
}

_sm_answers() {
	python3 - "$SM_PORT" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
ok = s.recv(512).startswith(b"220 ")
s.sendall(b"QUIT\r\n")
sys.exit(0 if ok else 1)
PYEOF
}

sm_stop() {
	[ -n "${SM_PID:-}" ] || return 0
	kill "$SM_PID" 2>/dev/null
	_smn=100
	while kill -0 "$SM_PID" 2>/dev/null && [ "$_smn" -gt 0 ]; do
		sleep 0.05; _smn=$((_smn - 1))
	done
	kill -9 "$SM_PID" 2>/dev/null
	wait "$SM_PID" 2>/dev/null
	SM_PID=
	return 0
}

sm_smtp() {
	_smfrom=$1
	shift
	swaks --server 127.0.0.1 --port "$SM_PORT" --local-interface "$_smfrom" \
		--timeout 15 "$@" 2>&1 | awk '
		/^<\*\* / { if (err == "") { err = $0; sub(/^<\*\* +/, "", err) } }
		/^<-  / { line = $0; sub(/^<- +/, "", line); if (line !~ /^221 /) last = line }
		END { if (err != "") print err; else print last }'
}
