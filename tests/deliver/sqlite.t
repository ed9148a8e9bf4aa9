#!/bin/sh
# sqlite.t - the sqlite: mailbox backend with the two schemas it must
# serve by configuration alone: the seed's (domain.is_active,
# "user".can_receive, domain_id join) and PostfixAdmin's (domain.active,
# mailbox.active, maildir, quota in bytes).  Known, inactive and unknown
# domains and users; maildir and quota columns honoured; a quote-laden
# recipient stays a bound parameter (no SQL injection); a maildir column
# leaving maildir-base, bad SQL and a positional parameter are
# configuration errors (78); a missing or locked database is a temporary
# failure (75).  Skipped when the binary was built without SQLite.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

"$DELIVER" -V | grep -q sqlite || skip_all "built without SQLite (mailboxes: file only)"
command -v python3 >/dev/null || skip_all "python3 missing"

SEED=$T/seed.db PFA=$T/pfa.db
python3 - "$SEED" "$PFA" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
create table domain(domain_id integer primary key, is_active int not null default 1,
                    domain_name varchar(255) not null);
create table "user"(user_id integer primary key, domain_id int not null,
                    can_receive int not null, can_login int not null, username varchar(255) not null);
insert into domain values (1, 1, 'example.org'), (2, 0, 'inactive.org');
insert into "user" values (1, 1, 1, 1, 'alice'), (2, 1, 0, 1, 'bob'), (3, 2, 1, 1, 'dave');
""")
db.commit()
db = sqlite3.connect(sys.argv[2])
db.executescript("""
create table domain(domain varchar(255) primary key, active int not null default 1);
create table mailbox(username varchar(255) primary key, local_part varchar(255), domain varchar(255),
                     maildir varchar(255), quota bigint not null default 0, active int not null default 1);
insert into domain values ('example.net', 1), ('off.net', 0);
insert into mailbox values
 ('carol@example.net', 'carol', 'example.net', 'example.net/carol-box/', 0, 1),
 ('small@example.net', 'small', 'example.net', 'example.net/small/', 250, 1),
 ('gone@example.net', 'gone', 'example.net', 'example.net/gone/', 0, 0),
 ('evil@example.net', 'evil', 'example.net', '../../etc/', 0, 1),
 ('erin@off.net', 'erin', 'off.net', 'off.net/erin/', 0, 1);
""")
db.commit()
PY

seed_conf() {
	write_conf "mailboxes = \"sqlite:$SEED\"
  domain-query = \"SELECT 1 FROM domain WHERE domain_name = :domain AND is_active = 1\"
  mailbox-query = \"SELECT 1 FROM \\\"user\\\" u JOIN domain d ON d.domain_id = u.domain_id WHERE d.domain_name = :domain AND u.username = :local AND u.can_receive = 1\"
  $*"
}
pfa_conf() {
	write_conf "mailboxes = \"sqlite:$PFA\"
  domain-query = \"SELECT 1 FROM domain WHERE domain = :domain AND active = 1\"
  mailbox-query = \"SELECT maildir, quota FROM mailbox WHERE local_part = :local AND domain = :domain AND active = 1\"
  $*"
}
# write_conf puts its own mailboxes line first; the later one wins
msg_file 1 >"$T/m"

seed_conf
dl -f s@x.net Alice+tag@Example.org <"$T/m"
expect "seed schema: active user delivered" 0 "2.0.0"
check "seed schema: into example.org/alice/new" [ "$(count "$BASE/example.org/alice/new")" -eq 1 ]
dl bob@example.org <"$T/m"
expect "seed schema: can_receive = 0 is unknown" 67 "5.1.1"
dl dave@inactive.org <"$T/m"
expect "seed schema: inactive domain is unknown" 67 "5.1.1 <dave@inactive.org>: unknown domain"
dl zed@example.org <"$T/m"
expect "seed schema: no such user" 67 "5.1.1 <zed@example.org>: unknown user"
dl "alice' OR '1'='1@example.org" <"$T/m"
expect "quotes stay data: no injection" 67 "5.1.1"
dl "x@example.org' OR 1=1 --" <"$T/m"
expect "quotes in the domain: refused before SQL" 65 "5.1.3"

pfa_conf
dl -f s@x.net carol@example.net <"$T/m"
expect "PostfixAdmin schema: delivered" 0 "2.0.0"
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
check "nothing written outside base" [ ! -e "$T/../etc" ] && [ ! -e "$BASE/../etc" ]

pfa_conf "mailbox-query = \"SELECT maildir FROM mailbox WHERE local_part = ? AND domain = ?\""
dl carol@example.net <"$T/m"
expect "positional parameters refused" 78 "4.3.5"
pfa_conf "mailbox-query = \"SELECT maildir FROM nosuchtable WHERE local_part = :local\""
dl carol@example.net <"$T/m"
expect "bad SQL: configuration error" 78 "4.3.5"
write_conf "mailboxes = \"sqlite:$T/missing.db\"
  mailbox-query = \"SELECT 1 FROM mailbox WHERE local_part = :local\""
dl carol@example.net <"$T/m"
expect "missing database: temporary failure" 75 "4.3.0"

# A writer holding an exclusive lock: after the 5 s busy timeout, 4.3.0.
pfa_conf
python3 - "$PFA" "$T/locked" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(12)
PY
LOCKER=$!
track_pid $LOCKER
wait_for 10 test -f "$T/locked"
dl carol@example.net <"$T/m"
expect "locked database: temporary failure" 75 "4.3.0"
kill $LOCKER 2>/dev/null
wait $LOCKER 2>/dev/null
dl carol@example.net <"$T/m"
expect "lock gone: delivered" 0 "2.0.0"
