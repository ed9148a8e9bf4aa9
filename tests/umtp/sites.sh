# sites.sh - leafmail sites on loopback for the UMTP exactly-once tests
# (POSIX sh, sourced after tests/lib.sh, tests/harness/postfix.sh,
# tests/harness/leafmail.sh and tests/umtp/common.sh; functions only).
#
# A receiving site X (a short name: b, c) serves the domains X.test (with
# a umtp.peer at the sender) and X2.test (SMTP only): a private Postfix
# whose smtpd runs leafmail-milter with milter.umtp-dedup, the milter-free
# injection listener of contrib/postfix/master.cf.umtp, `umtp receive`,
# and two tests/umtp/smtpproxy.py, one in front of the smtpd (where the
# sender delivers) and one in front of the injection listener (where umtp
# receive injects): the tests hold or delay each copy's end of DATA
# there.  X relays everything to its smtp-sink, where copies are counted.
# The sending site S: a private Postfix whose smtpd runs leafmail-milter
# with milter.umtp-shadow, relaying X.test and X2.test to X's proxy and
# shadowing X.test to X's umtp receive; anything else (d.test) goes to
# S's own sink.  S's Postfix adds no Message-ID to mail from 127.0.0.1
# (local_header_rewrite_clients empty), so its milter adds one.
#
#   sites_require         skip unless what the sites need is here
#   site_receiver X STORE [UMTP-LINES]   start X (STORE lmdb or redis: a
#        private Redis with an append-only file, RD_PERSIST=1); sets
#        X_DIR X_CONF X_PF X_MILTER X_UDP X_SMTP X_RLOG and starts umtp
#        receive (X_RPID); umtp.inject-timeout 2s, claim-wait 1s unless
#        UMTP-LINES say otherwise
#   site_receive_start X   (re)start X's umtp receive
#   site_sender X...       start S for these receivers
#   proxy X smtp|inj MODE...   what X's proxy does at the next ends of DATA
#   proxy_dots X smtp|inj      ends of DATA it has seen so far
#   proxy_wait X smtp|inj LINE [SECONDS]   until its log has that line
#   proxy_release X smtp|inj N
#   sendmsg FILE RCPT[,RCPT...]   submit through S; ok when queued
#   mkmsg FILE SUBJECT [MESSAGE-ID]
#   copies X SUBJECT RCPT  copies of that message for RCPT at X's sink
#   s_copies SUBJECT RCPT  the same at S's own sink
#   queues_empty           S and every receiver have nothing queued
#   queues_show            what is still queued, and its maillog lines
#   site_logs              the daemons' logs, as test output (#)

SITES=""

sites_require() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix, privilege drop)"
	lm_have leafmail-milter umtp || skip_all "leafmail-milter/umtp not built"
	for _p in postfix postqueue swaks smtp-sink python3; do
		command -v "$_p" >/dev/null || skip_all "$_p not installed"
	done
	rd_require
}

_sv() { eval "printf '%s' \"\${$1_$2}\""; } # _sv X NAME: value of X_NAME

site_receiver() {
	_x=$1 _st=$2
	_d=$T/r$_x
	_smtp=$(free_port) _psmtp=$(free_port) _inj=$(free_port) _pinj=$(free_port)
	_udp=$(udp_port)
	_store="" _rsec=""
	if [ "$_st" = redis ]; then
		_rp=$(free_port)
		RD_PERSIST=1 rd_start "$_d/redis" "$_rp" || return 1
		eval "${_x}_REDIS_PORT=$_rp ${_x}_REDIS_PID=$RD_PID"
		_store='dedup-store = "redis"'
		_rsec="redis {
  address = \"127.0.0.1:$_rp\"
  key-prefix = \"s$_x:\"
}"
	fi
	LM_LOCAL_DOMAINS="\"$_x.test\", \"${_x}2.test\"" lm_conf "$_d" /dev/null 30m
	sed -i 's/^milter {/milter {\n  umtp-dedup = true/' "$LM_CONF"
	cat >>"$LM_CONF" <<EOF
umtp {
  listen = "127.0.0.1:$_udp"
  key-file = "$T/keys/shared"
  inject = "smtp://127.0.0.1:$_pinj"
  inject-retries = 1
  inject-timeout = "2s"
  claim-wait = "1s"
  $_store
  ${3:-}
}
$_rsec
EOF
	lm_milter_start || return 1
	eval "${_x}_DIR=$_d ${_x}_CONF=$LM_CONF ${_x}_PF=$_d/pf ${_x}_MILTER=$LM_MILTER_PID"
	eval "${_x}_UDP=$_udp ${_x}_SMTP=$_psmtp ${_x}_RLOG=$_d/receive.log"
	pf_start "$_d/pf" "$_smtp" "r$_x" \
		"smtpd_milters = unix:$LM_SOCK" \
		"milter_default_action = tempfail" \
		"relay_domains = $_x.test, ${_x}2.test" || return 1
	grep -v '^#' "$S/contrib/postfix/master.cf.umtp" | grep -v '^$' |
		sed "s/^127.0.0.1:10026 /127.0.0.1:$_inj /" >>"$_d/pf/etc/master.cf"
	postfix -c "$_d/pf/etc" reload >/dev/null 2>&1
	wait_for 10 _pf_answers "$_inj" || { echo "no injection listener" >&2; return 1; }
	for _p in "smtp $_psmtp $_smtp" "inj $_pinj $_inj"; do
		set -- $_p
		python3 "$S/tests/umtp/smtpproxy.py" "$2" "$3" "$_d/p$1" \
			>"$_d/p$1.out" 2>&1 &
		track_pid $!
		wait_for 10 _pf_answers "$2" || { echo "proxy $1 did not start" >&2; return 1; }
	done
	site_receive_start "$_x" || return 1
	SITES="$SITES $_x"
}

site_receive_start() {
	_rl=$(_sv "$1" RLOG)
	[ -f "$_rl" ] && cat "$_rl" >>"$_rl.old"
	: >"$_rl"
	"$UMTP" receive -f -c "$(_sv "$1" CONF)" >>"$_rl" 2>&1 &
	eval "$1_RPID=$!"
	track_pid "$(_sv "$1" RPID)"
	wait_for 10 grep -q 'listening on' "$_rl" ||
		{ echo "umtp receive ($1) did not start" >&2; cat "$_rl" >&2; return 1; }
}

site_sender() {
	_peers="" _routes=""
	for _x in "$@"; do
		_peers="$_peers
  peer \"$_x.test\" { address = \"127.0.0.1:$(_sv "$_x" UDP)\" }"
		_p=$(_sv "$_x" SMTP)
		_routes="$_routes${_routes:+, }$_x.test=smtp:[127.0.0.1]:$_p, ${_x}2.test=smtp:[127.0.0.1]:$_p"
	done
	LM_LOCAL_DOMAINS='"a.test"' lm_conf "$T/s" /dev/null 30m
	sed -i 's/^milter {/milter {\n  umtp-shadow = true/' "$LM_CONF"
	cat >>"$LM_CONF" <<EOF
umtp {
  key-file = "$T/keys/shared"$_peers
}
EOF
	S_DIR=$T/s S_CONF=$LM_CONF S_PORT=$(free_port)
	lm_milter_start || return 1
	S_MILTER=$LM_MILTER_PID
	pf_start "$T/s/pf" "$S_PORT" ssite \
		"smtpd_milters = unix:$LM_SOCK" \
		"milter_default_action = tempfail" \
		"transport_maps = inline:{ $_routes }" \
		"local_header_rewrite_clients =" \
		"smtpd_recipient_restrictions = check_recipient_access inline:{ refused@b.test=REJECT, refused@c.test=REJECT }, permit_mynetworks, reject" ||
		return 1
}

proxy() { _pd=$(_sv "$1" DIR)/p$2; shift 2; echo "$*" >"$_pd/mode"; }
proxy_dots() { cat "$(_sv "$1" DIR)/p$2/log" 2>/dev/null | grep -c '^dot '; }
proxy_wait() { wait_for "${4:-10}" grep -qx "$3" "$(_sv "$1" DIR)/p$2/log"; }
proxy_release() { touch "$(_sv "$1" DIR)/p$2/release.$3"; }

sendmsg() {
	swaks --server 127.0.0.1 --port "$S_PORT" --helo client.a.test \
		--from alice@a.test --to "$2" --data "@$1" --timeout 10 \
		>"$T/swaks.out" 2>&1 && grep -q '^<-  250.*queued' "$T/swaks.out"
}

mkmsg() {
	{
		echo "From: alice@a.test"
		echo "To: undisclosed-recipients:;"
		echo "Subject: $2"
		[ -z "${3:-}" ] || echo "Message-ID: $3"
		echo
		echo "body of $2"
	} >"$1"
}

# _sunk DIR SUBJECT RCPT: messages in DIR/sink with that Subject for RCPT
_sunk() {
	for _f in "$1"/sink/m.*; do
		[ -f "$_f" ] || continue
		grep -q "^Subject: $2\$" "$_f" || continue
		grep -q "^X-Rcpt-Args: <$3>" "$_f" && echo "$_f"
	done | wc -l
}
copies() { _sunk "$(_sv "$1" PF)" "$2" "$3"; }
s_copies() { _sunk "$S_DIR/pf" "$1" "$2"; }

_q_empty() { postqueue -c "$1/etc" -p 2>/dev/null | grep -q 'Mail queue is empty'; }
queues_empty() {
	_q_empty "$S_DIR/pf" || return 1
	for _x in $SITES; do _q_empty "$(_sv "$_x" PF)" || return 1; done
}

# queues_show: for each instance with mail queued, the queue and every
# maillog line of each queued message (the evidence when a drain fails)
queues_show() {
	for _pf in "$S_DIR/pf" $(for _x in $SITES; do _sv "$_x" PF; done); do
		_q_empty "$_pf" && continue
		postqueue -c "$_pf/etc" -p 2>&1 | sed "s|^|# $_pf queue: |" | head -40
		for _id in $(postqueue -c "$_pf/etc" -j 2>/dev/null |
			sed -n 's/.*"queue_id": *"\([0-9A-F]*\)".*/\1/p' | head -5); do
			grep " $_id: " "$_pf/maillog" | sed "s|^|# $_pf log: |" | tail -15
		done
	done
}

site_logs() {
	sed 's/^/# S milter: /' "$S_DIR/milter.log" | grep umtp | tail -"${1:-6}"
	for _x in $SITES; do
		_d=$(_sv "$_x" DIR)
		sed "s/^/# $_x milter: /" "$_d/milter.log" | grep umtp | tail -"${1:-6}"
		sed "s/^/# $_x receive: /" "$_d/receive.log" | tail -"${1:-6}"
		sed "s/^/# $_x proxy smtp: /" "$_d/psmtp/log" | tail -3
		sed "s/^/# $_x proxy inj: /" "$_d/pinj/log" | tail -3
	done
}
