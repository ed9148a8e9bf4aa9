#!/bin/sh
# pgsql.t - the pgsql: mailbox backend against a real PostgreSQL started
# here (Debian's postgresql: initdb as an unprivileged user, a private
# data directory, a unix socket in the scratch directory, no TCP), with
# the two schemas it must serve by configuration alone: the seed's
# (domain.is_active, "user".can_receive, a domain_id join) and
# PostfixAdmin's (domain.active, mailbox.active, maildir, quota in bytes).
# The same named parameters as sqlite: (:local, :domain) with a "::" cast
# left alone; known, inactive and unknown domains and users; maildir and
# quota columns honoured; quotes in the recipient stay data (bound
# parameters); a maildir leaving maildir-base, bad SQL, a positional $1
# and an unknown :name are configuration errors (78); the database
# stopped is a temporary failure (4.3.0, 75), and delivery works again
# once it is back.  An -l session looks up every recipient over one kept
# connection, replaces it when the server dropped it (a restart) instead
# of failing, and every process says goodbye to the server (no "unexpected
# EOF" in its log).  Skipped when the binary has no PostgreSQL support.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

"$DELIVER" -V | grep -q pgsql ||
	skip_all "built without PostgreSQL ($("$DELIVER" -V | sed 's/.*(//; s/)$//'))"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || skip_all "postgresql server not installed"

# initdb refuses root: run the server as "postgres" (or as ourselves)
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || skip_all "no postgres user"
	as_pg() { runuser -u postgres -- "$@"; }
else
	as_pg() { "$@"; }
fi
PGD=$T/pgdata
PGS=$T/pgsock
PGPORT=$(free_port)
mkdir -p "$PGD" "$PGS"
: >"$T/pg.log"
[ "$(id -u)" -eq 0 ] && chown postgres "$PGD" "$PGS" "$T/pg.log"
chmod 700 "$PGD"
as_pg "$PGBIN/initdb" -D "$PGD" -U postgres --auth=trust -E UTF8 \
	--no-sync >"$T/initdb.log" 2>&1 || { cat "$T/initdb.log"; skip_all "initdb failed"; }
pg_up() {
	as_pg "$PGBIN/pg_ctl" -D "$PGD" -l "$T/pg.log" -w -t 30 \
		-o "-k $PGS -p $PGPORT -c listen_addresses= -c fsync=off -c log_connections=on" start >/dev/null
}
pg_down() { as_pg "$PGBIN/pg_ctl" -D "$PGD" -m fast -w stop >/dev/null 2>&1; }
if ! pg_up; then
	tail -20 "$T/pg.log"
	notok "private PostgreSQL started"
	exit 1
fi
at_exit pg_down
psqlc() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGS" -p "$PGPORT" -U postgres "$@"; }

psqlc -d postgres -c "CREATE DATABASE seed" -c "CREATE DATABASE pfa" &&
psqlc -d seed <<'SQL' &&
create table domain(domain_id serial primary key, is_active int not null default 1,
                    domain_name varchar(255) not null);
create table "user"(user_id serial primary key, domain_id int not null,
                    can_receive int not null, can_login int not null, username varchar(255) not null);
insert into domain values (1, 1, 'example.org'), (2, 0, 'inactive.org');
insert into "user" values (1, 1, 1, 1, 'alice'), (2, 1, 0, 1, 'bob'), (3, 2, 1, 1, 'dave');
SQL
psqlc -d pfa <<'SQL'
create table domain(domain varchar(255) primary key, active boolean not null default true);
create table mailbox(username varchar(255) primary key, local_part varchar(255), domain varchar(255),
                     maildir varchar(255), quota bigint not null default 0, active boolean not null default true);
insert into domain values ('example.net', true), ('off.net', false);
insert into mailbox values
 ('carol@example.net', 'carol', 'example.net', 'example.net/carol-box/', 0, true),
 ('small@example.net', 'small', 'example.net', 'example.net/small/', 250, true),
 ('gone@example.net', 'gone', 'example.net', 'example.net/gone/', 0, false),
 ('evil@example.net', 'evil', 'example.net', '../../etc/', 0, true),
 ('erin@off.net', 'erin', 'off.net', 'off.net/erin/', 0, true);
SQL
check "schemas created" [ $? -eq 0 ]

CI="host=$PGS port=$PGPORT user=postgres"
seed_conf() {
	write_conf "mailboxes = \"pgsql:$CI dbname=seed\"
  domain-query = \"SELECT 1 FROM domain WHERE domain_name = :domain AND is_active = 1\"
  mailbox-query = \"SELECT 1 FROM \\\"user\\\" u JOIN domain d ON d.domain_id = u.domain_id WHERE d.domain_name = :domain AND u.username = :local AND u.can_receive = 1\"
  $*"
}
pfa_conf() {
	write_conf "mailboxes = \"pgsql:$CI dbname=pfa\"
  domain-query = \"SELECT 1 FROM domain WHERE domain = :domain::text AND active\"
  mailbox-query = \"SELECT maildir, quota FROM mailbox WHERE local_part = :local AND domain = :domain AND active = true\"
  $*"
}
msg_file 1 >"$T/m"

seed_conf
dl -f s@x.net Alice+tag@Example.org <"$T/m"
expect "seed schema: active user delivered" 0 "2.0.0"
check "seed schema: into example.org/alice/new" [ "$(count "$BASE/example.org/alice/new")" -eq 1 ]
dl bob@example.org <"$T/m"
expect "seed schema: can_receive = 0 is unknown" 67 "5.1.1 <bob@example.org>: unknown user"
dl dave@inactive.org <"$T/m"
expect "seed schema: inactive domain is unknown" 67 "5.1.1 <dave@inactive.org>: unknown domain"
dl zed@example.org <"$T/m"
expect "seed schema: no such user" 67 "5.1.1 <zed@example.org>: unknown user"
dl "alice' OR '1'='1@example.org" <"$T/m"
expect "quotes stay data: no injection" 67 "5.1.1"
dl "alice'; DROP TABLE domain; --@example.org" <"$T/m"
expect "a statement in the address stays data" 67 "5.1.1"
check "table still there" sh -c "psqlc() { \"$PGBIN/psql\" -X -q -h '$PGS' -p '$PGPORT' -U postgres \"\$@\"; }; [ \"\$(psqlc -d seed -At -c 'select count(*) from domain')\" = 2 ]"

pfa_conf
dl -f s@x.net carol@example.net <"$T/m"
expect "PostfixAdmin schema (boolean active, :: cast): delivered" 0 "2.0.0"
check "PostfixAdmin schema: maildir column used" [ "$(count "$BASE/example.net/carol-box/new")" -eq 1 ]
dl -f s@x.net small@example.net <"$T/m"
expect "quota column (250 bytes): first fits" 0 "2.0.0"
check "quota column wrote maildirsize" [ "$(head -1 "$BASE/example.net/small/maildirsize")" = "250S" ]
dl -f s@x.net small@example.net <"$T/m"
expect "quota column: second is over" 75 "4.2.2"
dl gone@example.net <"$T/m"
expect "PostfixAdmin: inactive mailbox unknown" 67 "5.1.1"
dl erin@off.net <"$T/m"
expect "PostfixAdmin: inactive domain unknown" 67 "5.1.1 <erin@off.net>: unknown domain"
dl evil@example.net <"$T/m"
expect "maildir column leaving base: configuration error" 78 "4.3.5"
check "nothing written outside base" [ ! -e "$BASE/../etc" ]

pfa_conf "mailbox-query = \"SELECT maildir FROM mailbox WHERE local_part = \$1 AND domain = \$2\""
dl carol@example.net <"$T/m"
expect "positional \$1 refused" 78 "4.3.5"
pfa_conf "mailbox-query = \"SELECT maildir FROM mailbox WHERE local_part = :user\""
dl carol@example.net <"$T/m"
expect "unknown :name refused" 78 "4.3.5"
pfa_conf "mailbox-query = \"SELECT maildir FROM nosuchtable WHERE local_part = :local\""
dl carol@example.net <"$T/m"
expect "bad SQL: configuration error" 78 "4.3.5"
pfa_conf "mailbox-query = \"SELECT maildir FROM mailbox WHERE local_part = ':local' OR username = :address\""
dl carol@example.net <"$T/m"
expect "':local' in quotes is a literal; :address bound" 0 "2.0.0"
write_conf "mailboxes = \"pgsql:$CI dbname=nosuchdb\"
  mailbox-query = \"SELECT 1\""
dl carol@example.net <"$T/m"
expect "missing database: temporary failure" 75 "4.3.0"

pfa_conf
pg_down
dl carol@example.net <"$T/m"
expect "database stopped: temporary failure" 75 "4.3.0 <carol@example.net>: mailbox lookup failed"
check "database stopped: nothing delivered" [ "$(count "$BASE/example.net/carol-box/new")" -eq 2 ]
pg_up
dl carol@example.net <"$T/m"
expect "database back: delivered" 0 "2.0.0"

# --- connections kept between lookups ---
conns() { grep -c 'connection authorized' "$T/pg.log"; }
c0=$(conns)
printf 'LHLO t\r\nMAIL FROM:<s@x.net>\r\nRCPT TO:<carol@example.net>\r\nRCPT TO:<small@example.net>\r\nRCPT TO:<gone@example.net>\r\nQUIT\r\n' |
	"$DELIVER" -c "$CFG" -l >"$T/l1.out" 2>&1
check "-l session: two recipients known, one unknown" \
	[ "$(grep -c '^250 2.1.5' "$T/l1.out")" -eq 2 ] && grep -q '^550 5.1.1' "$T/l1.out"
check "-l session: three lookups over one connection" [ $(($(conns) - c0)) -eq 1 ]

mkfifo "$T/lin"
"$DELIVER" -c "$CFG" -l <"$T/lin" >"$T/l2.out" 2>&1 &
LP=$!
track_pid "$LP"
exec 3>"$T/lin"
printf 'LHLO t\r\nMAIL FROM:<s@x.net>\r\nRCPT TO:<carol@example.net>\r\n' >&3
wait_for 10 grep -q '^250 2.1.5' "$T/l2.out"
pg_down
pg_up
printf 'RCPT TO:<carol@example.net>\r\nQUIT\r\n' >&3
exec 3>&-
wait "$LP"
check "-l session across a database restart: the dropped connection is replaced, no tempfail" \
	[ "$(grep -c '^250 2.1.5' "$T/l2.out")" -eq 2 ] && ! grep -q '^4' "$T/l2.out"
check "every process closed its connections cleanly" sh -c "! grep -q 'unexpected EOF on client connection' '$T/pg.log'"
