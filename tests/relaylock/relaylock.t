# relaylock.t - leafmail-relaylock sets RELAYCLIENT for clients in the relay
# table and for no one else, and always runs the program.  The table is
# written by Postfix's own postmap, which also proves we read Postfix's
# format.
. "$LEAFMAIL_SRC/tests/lib.sh"
RL=$B/leafmail-relaylock
[ -x "$RL" ] || skip_all "leafmail-relaylock not built"
command -v postmap >/dev/null || skip_all "postmap not installed"
# As root it reads the table as `user` (leafmail by default), in a child.
need_run_user || skip_all "cannot create system user leafmail"

now=$(date +%s)
cat > "$T/relay" <<EOT
127.0.0.2 $((now + 600))
127.0.0.9 $((now - 10))
2001:db8::7 $((now + 600))
EOT
# postmap needs a main.cf; /etc/postfix has none on a fresh install
: > "$T/main.cf"
postmap -c "$T" -N "lmdb:$T/relay" || notok "postmap builds the table"
cat > "$T/leafmail.conf" <<EOT
relay { table = "$T/relay" }
EOT

# run IP -> prints the RELAYCLIENT state the program saw
run() {
	env -u RELAYCLIENT TCPREMOTEIP="$1" "$RL" -c "$T/leafmail.conf" \
		/bin/sh -c 'echo "${RELAYCLIENT-unset}:${RELAYCLIENT+set}" "$@"' sh a1 "a 2" 2>"$T/stderr"
}
check "in table: RELAYCLIENT set" [ "$(run 127.0.0.2)" = ":set a1 a 2" ]
check "expired: RELAYCLIENT unset" [ "$(run 127.0.0.9)" = "unset: a1 a 2" ]
check "not in table: RELAYCLIENT unset" [ "$(run 127.0.0.3)" = "unset: a1 a 2" ]
check "IPv6 in table (any spelling)" [ "$(run 2001:DB8:0:0::7)" = ":set a1 a 2" ]
check "IPv4-mapped form matches the IPv4 entry" [ "$(run ::ffff:127.0.0.2)" = ":set a1 a 2" ]
check "garbage TCPREMOTEIP: unset" [ "$(run 'x>1.2.3.4')" = "unset: a1 a 2" ]
check "garbage TCPREMOTEIP: logged" grep -q "not an address" "$T/stderr"

out=$(env -u TCPREMOTEIP -u RELAYCLIENT "$RL" -c "$T/leafmail.conf" /bin/sh -c 'echo "${RELAYCLIENT-unset}"' 2>"$T/stderr")
check "no TCPREMOTEIP: program runs without RELAYCLIENT" [ "$out" = unset ]
check "no TCPREMOTEIP: logged" grep -q "TCPREMOTEIP is not set" "$T/stderr"

out=$(RELAYCLIENT=x TCPREMOTEIP=127.0.0.3 "$RL" -c "$T/leafmail.conf" /bin/sh -c 'echo "$RELAYCLIENT"')
check "inherited RELAYCLIENT kept" [ "$out" = x ]

cp "$T/relay.lmdb" "$T/relay.good"
head -c 16384 /dev/urandom > "$T/relay.lmdb"
check "corrupt table: program runs without RELAYCLIENT" [ "$(run 127.0.0.2)" = "unset: a1 a 2" ]
check "corrupt table: logged" grep -q "relay table" "$T/stderr"
rm -f "$T/relay.lmdb"
check "missing table: unset" [ "$(run 127.0.0.2)" = "unset: a1 a 2" ]
mv "$T/relay.good" "$T/relay.lmdb"
check "table back: set again" [ "$(run 127.0.0.2)" = ":set a1 a 2" ]

out=$(env -u RELAYCLIENT TCPREMOTEIP=127.0.0.2 "$RL" -c "$T/missing.conf" /bin/sh -c 'echo "${RELAYCLIENT-unset}"' 2>"$T/stderr")
check "missing config: runs without RELAYCLIENT" [ "$out" = unset ]
check "missing config: logged" grep -q "missing.conf" "$T/stderr"

"$RL" -c "$T/leafmail.conf" /nonexistent/prog 2>/dev/null
check "program that cannot run: exit 71" [ $? -eq 71 ]
"$RL" 2>/dev/null
check "no program: usage, exit 64" [ $? -eq 64 ]
check "-V prints the version" sh -c "'$RL' -V | grep -q '^leafmail-relaylock [0-9]'"
