#!/bin/sh
# dovecot.t - Dovecot reading what leafmail-deliver wrote: a private
# Dovecot master (no listeners; its auth service answers doveadm's userdb
# lookups) with mail_location maildir:<base>/%d/%n and the Maildir++
# quota backend.  `doveadm fetch` sees every message exactly once with the
# size we wrote (",S=" and the file); `doveadm quota get` agrees with our
# maildirsize (messages exactly, storage in KiB); Dovecot's own recount
# (`doveadm quota recalc`) arrives at our numbers; and after Dovecot
# expunges (writing its negative maildirsize line) our next delivery sees
# the room it freed.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

[ "$(id -u)" -eq 0 ] || skip_all "a private Dovecot needs root"
command -v dovecot >/dev/null && command -v doveadm >/dev/null ||
	skip_all "dovecot or doveadm missing"
id dovenull >/dev/null 2>&1 && id dovecot >/dev/null 2>&1 ||
	skip_all "Dovecot's system users missing"

mailbox "alice@example.org 100000S,5C"
DC=$T/dc
mkdir -p "$DC/run" "$DC/state"
cat >"$DC/dovecot.conf" <<DCCONF
base_dir = $DC/run
state_dir = $DC/state
instance_name = leafmail-deliver-$$
log_path = $DC/log
protocols =
listen = 127.0.0.1
ssl = no
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = maildir:$BASE/%d/%n
mail_plugins = quota
userdb {
  driver = static
  args = uid=$RUSER gid=$(id -gn "$RUSER") home=$BASE/%d/%n allow_all_users=yes
}
passdb {
  driver = static
  args = nopassword=y
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=100000B:messages=5
}
DCCONF
dovecot -c "$DC/dovecot.conf" 2>"$DC/start.err" || skip_all "dovecot did not start: $(cat "$DC/start.err")"
wait_for 10 test -s "$DC/run/master.pid" || skip_all "dovecot wrote no pid"
DCPID=$(cat "$DC/run/master.pid")
track_pid "$DCPID"
at_exit "kill $DCPID 2>/dev/null; n=50; while kill -0 $DCPID 2>/dev/null && [ \$n -gt 0 ]; do sleep 0.1; n=\$((n - 1)); done"
da() { doveadm -c "$DC/dovecot.conf" "$@"; }

for i in 1 2 3 4; do
	{ msg_file $i; [ $i -eq 3 ] && printf '.dot line\n\nlonger body %s\n' "$(seq 1 200 | tr '\n' ' ')"; } >"$T/m$i"
	dl -f s@example.net alice@example.org <"$T/m$i"
	expect "delivery $i" 0 "2.0.0"
done
MD=$BASE/example.org/alice

da fetch -u alice@example.org 'guid size.physical' mailbox INBOX all >"$T/fetch" 2>"$T/fetch.err"
check "doveadm fetch ran" [ ! -s "$T/fetch.err" ]
check "Dovecot sees 4 messages" [ "$(grep -c '^guid:' "$T/fetch")" -eq 4 ]
check "each exactly once" [ "$(grep '^guid:' "$T/fetch" | sort -u | wc -l)" -eq 4 ]
bad=0
for f in "$MD"/new/* "$MD"/cur/*; do
	[ -f "$f" ] || continue
	n=$(basename "$f"); n=${n%%:*}
	want=$(wc -c <"$f")
	got=$(awk -v g="guid: $n" '$0 == g { getline; print $2 }' "$T/fetch")
	[ "$got" = "$want" ] || bad=$((bad + 1))
done
check "size.physical equals each file's size" [ "$bad" -eq 0 ]
da fetch -u alice@example.org text mailbox INBOX header Message-ID '<3@test>' |
	sed '1d' >"$T/text3"
f3=$(grep -l '^Message-ID: <3@test>' "$MD"/new/* "$MD"/cur/* 2>/dev/null | head -1)
check "message 3's text as Dovecot reads it is our file" cmp -s "$T/text3" "$f3"

ours=$(awk 'NR > 1 { b += $1; c += $2 } END { print b, c }' "$MD/maildirsize")
da -f tab quota get -u alice@example.org >"$T/quota" 2>&1
dmsg=$(awk -F '\t' '$2 == "MESSAGE" { print $3 }' "$T/quota")
dsto=$(awk -F '\t' '$2 == "STORAGE" { print $3 }' "$T/quota")
check "quota get: messages agree ($dmsg vs ${ours#* })" [ "$dmsg" = "${ours#* }" ]
kib=$(( (${ours% *} + 1023) / 1024 ))
check "quota get: storage agrees ($dsto KiB vs ${ours% *} bytes)" [ "$dsto" = "$kib" ]
check "Dovecot kept our definition line" [ "$(head -1 "$MD/maildirsize")" = "100000S,5C" ]
da quota recalc -u alice@example.org
theirs=$(awk 'NR > 1 { b += $1; c += $2 } END { print b, c }' "$MD/maildirsize")
check "Dovecot's recount equals ours ($theirs vs $ours)" [ "$theirs" = "$ours" ]

# Fifth fits, sixth is over the 5-message limit.
dl -f s@example.net alice@example.org <"$T/m1"
expect "fifth message fits" 0 "2.0.0"
dl -f s@example.net alice@example.org <"$T/m1"
expect "sixth is over quota" 75 "4.2.2"
# Dovecot expunges two (its negative line in maildirsize); we see the room.
da expunge -u alice@example.org mailbox INBOX header Message-ID '<1@test>'
check "Dovecot wrote its expunge into maildirsize" grep -q '^-[0-9]* -2$' "$MD/maildirsize"
dl -f s@example.net alice@example.org <"$T/m2"
expect "after Dovecot's expunge our delivery fits" 0 "2.0.0"
da quota get -u alice@example.org >/dev/null 2>&1
da -f tab quota get -u alice@example.org >"$T/quota" 2>&1
check "and Dovecot counts 4 again" [ "$(awk -F '\t' '$2 == "MESSAGE" { print $3 }' "$T/quota")" = 4 ]
