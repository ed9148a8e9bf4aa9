/*
 * test_claimstore.c - lib/claimstore.c, UMTP's claims, on both stores:
 * an LMDB file, and a private redis-server started here (those cases are
 * skipped when redis-server is not installed).  Every transition of
 * claimstore.h's state machine, each checked from both sides (`umtp
 * receive` and the milter):
 *
 *   none -> PENDING (umtp claims), -> SMTP (milter claims)
 *   PENDING -> UMTP (recorded), -> none (released), -> SMTP (abandoned:
 *   taken over), PENDING gone -> UMTP (recorded late, nobody came)
 *   a stale final record taken over; an unreadable one left alone
 *
 * plus the key normalisation, the stored form, two Message-IDs, the
 * sweep, a repeated compare-and-swap (what redis.h's resend does),
 * processes racing for the same pairs (exactly one side wins each), and
 * with Redis one command per message and per operation, a stalled server
 * included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include "claimstore.h"
#include "conf.h"
#include "lmdbfile_testutil.h"

#define TTL (3 * 86400)
#define HOLD 70000 /* ms */

struct fx {
	char dir[256];
	char path[512];
	struct store *s;
	int redis;
	int port;
	pid_t rpid;
	cfg_t *cfg;
};

static int
setup_lmdb(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256], spec[600];

	assert_non_null(f);
	assert_int_equal(tt_mkdtemp(f->dir, sizeof f->dir), 0);
	snprintf(f->path, sizeof f->path, "%s/%s", f->dir, CLAIMSTORE_FILE);
	snprintf(spec, sizeof spec, "lmdb:%s", f->path);
	f->s = store_open(NULL, spec, STORE_WRITE | STORE_PRIVATE, err, sizeof err);
	assert_non_null(f->s);
	*state = f;
	return 0;
}

static int
free_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t l = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A redis-server of our own on a free port, and a store on it. */
static int
setup_redis(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256], conf[600], portbuf[16];
	int port = free_port();
	FILE *c;

	assert_non_null(f);
	if (access("/usr/bin/redis-server", X_OK) != 0) {
		free(f);
		*state = NULL;
		return 0;
	}
	assert_true(port > 0);
	assert_int_equal(tt_mkdtemp(f->dir, sizeof f->dir), 0);
	snprintf(portbuf, sizeof portbuf, "%d", port);
	if ((f->rpid = fork()) == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		dup2(nul, 2);
		execl("/usr/bin/redis-server", "redis-server", "--port", portbuf,
		      "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		      "--dir", f->dir, (char *)NULL);
		_exit(127);
	}
	assert_true(f->rpid > 0);
	snprintf(conf, sizeof conf, "%s/leafmail.conf", f->dir);
	c = fopen(conf, "w");
	assert_non_null(c);
	fprintf(c, "umtp { dedup-store = \"redis\" }\n"
	           "redis { address = \"127.0.0.1:%d\" key-prefix = \"t:\" }\n",
	        port);
	fclose(c);
	f->cfg = conf_load(conf, err, sizeof err);
	assert_non_null(f->cfg);
	f->s = claimstore_open(f->cfg, err, sizeof err);
	assert_non_null(f->s);
	f->redis = 1;
	f->port = port;
	for (int i = 0; i < 200 && store_probe(f->s, err, sizeof err) != STORE_OK;
	     i++)
		usleep(25000);
	assert_int_equal(store_probe(f->s, err, sizeof err), STORE_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f == NULL)
		return 0;
	store_close(f->s);
	if (f->rpid > 0) {
		kill(f->rpid, SIGTERM);
		waitpid(f->rpid, NULL, 0);
	}
	conf_free(f->cfg);
	tt_rmtree(f->dir);
	free(f);
	return 0;
}

#define NEED(f)                                                              \
	do {                                                                     \
		if ((f) == NULL)                                                     \
			skip();                                                          \
	} while (0)

static void
test_normalise(void **state)
{
	char o[CLAIM_MAX_ID], big[400], key[CLAIM_KEYMAX];
	struct claim c;
	(void)state;
	assert_int_equal(claimstore_norm_msgid("  <Abc.X@Example.ORG> ", o, sizeof o), 0);
	assert_string_equal(o, "Abc.X@example.org");
	assert_int_equal(claimstore_norm_msgid("no-at-Sign", o, sizeof o), 0);
	assert_string_equal(o, "no-at-Sign");
	assert_int_equal(claimstore_norm_msgid("<>", o, sizeof o), -1);
	assert_int_equal(claimstore_norm_msgid("   ", o, sizeof o), -1);
	assert_int_equal(claimstore_norm_rcpt("<Bob@Example.NET>", o, sizeof o), 0);
	assert_string_equal(o, "bob@example.net");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(claimstore_norm_rcpt(big, o, sizeof o), -1);
	/* the key: "<msgid>\0<rcpt>", a NUL after it */
	assert_int_equal(claimstore_key("<M@X.org>", "<B@Y>", key), 11);
	assert_memory_equal(key, "M@x.org\0b@y", 12);
	/* 255 + 255 with the NUL between is more than a store key */
	memset(big, 'a', 255);
	big[255] = '\0';
	assert_int_equal(claimstore_key(big, big, key), 0);
	/* values */
	assert_int_equal(claimstore_decode("1795348800 umtp", 15, &c), 0);
	assert_int_equal(c.state, CLAIM_UMTP);
	assert_int_equal(c.first_seen, 1795348800);
	assert_int_equal(claimstore_decode("17 smtp", 7, &c), 0);
	assert_int_equal(c.state, CLAIM_SMTP);
	assert_int_equal(claimstore_decode("17 pending 1234 0123456789abcdef", 32, &c),
	                 0);
	assert_int_equal(c.state, CLAIM_PENDING);
	assert_true(c.deadline_ms == 1234);
	assert_string_equal(c.token, "0123456789abcdef");
	static const char *bad[] = {"", "17", "17 ", "17 umtpx", "x umtp",
	                            "17 pending 12 short", "17 pending x 0123456789abcdef",
	                            "17 pending 12 0123456789abcdeg", "-1 smtp"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(claimstore_decode(bad[i], strlen(bad[i]), &c), -1);
		assert_int_equal(c.state, CLAIM_FOREIGN);
	}
}

/* umtp receive's side: claim, and what it found. */
static long
uclaim(struct fx *f, struct claim_umtp *u, const char *id, const char *rcpt,
       long long now_ms, long long hold_ms, enum claim_outcome *out,
       struct claim *found)
{
	char err[256];
	char *r[1] = {(char *)rcpt};

	return claimstore_umtp_claim(f->s, NULL, u, id, r, 1, now_ms, hold_ms, TTL, out,
	                             found, err, sizeof err);
}

static enum claim_outcome
urecord(struct fx *f, const struct claim_umtp *u, const char *id,
        const char *rcpt)
{
	char err[256];
	char *r[1] = {(char *)rcpt};
	enum claim_outcome out = CLAIM_WON;

	assert_int_equal(claimstore_umtp_record(f->s, u, id, r, 1, TTL, &out, err,
	                                        sizeof err),
	                 STORE_OK);
	return out;
}

static void
urelease(struct fx *f, const struct claim_umtp *u, const char *id,
         const char *rcpt)
{
	char err[256];
	char *r[1] = {(char *)rcpt};
	enum claim_outcome out = CLAIM_WON;

	assert_int_equal(claimstore_umtp_release(f->s, u, id, r, 1, &out, err,
	                                         sizeof err),
	                 STORE_OK);
}

/* The milter's side, one Message-ID, one recipient. */
static enum claim_verdict
mclaim(struct fx *f, const char *id, const char *rcpt, long long now_ms,
       struct claim *found)
{
	char err[256];
	char *ids[1] = {(char *)id}, *r[1] = {(char *)rcpt};
	enum claim_verdict v;

	assert_int_equal(claimstore_smtp(f->s, ids, 1, r, 1, now_ms, TTL, &v,
	                                 found, err, sizeof err),
	                 STORE_OK);
	return v;
}

/* The record's value as stored, or "" when there is none. */
static const char *
stored(struct fx *f, const char *id, const char *rcpt)
{
	static char v[STORE_VALMAX];
	char key[CLAIM_KEYMAX], err[256];
	size_t kl = claimstore_key(id, rcpt, key);

	if (store_get(f->s, key, kl, v, sizeof v, NULL, err, sizeof err) != STORE_OK)
		v[0] = '\0';
	return v;
}

static void
test_umtp_then_recorded(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u, u2;
	enum claim_outcome out;
	struct claim c;
	long long now = claimstore_now_ms();

	NEED(f);
	/* none -> PENDING */
	assert_int_equal(uclaim(f, &u, "<m1@Example.org>", "Bob@example.net",
	                        now, HOLD, &out, &c), 1);
	assert_int_equal(out, CLAIM_WON);
	assert_int_equal(strlen(u.token), CLAIM_TOKEN_LEN);
	assert_true(u.deadline_ms == now + HOLD);
	assert_int_equal(strncmp(stored(f, "<m1@example.org>", "bob@example.net"),
	                         "", 1) != 0, 1);
	/* a second receiver (same datagram, other host): dropped */
	assert_int_equal(uclaim(f, &u2, "<m1@example.org>", "<bob@example.net>",
	                        now + 5, HOLD, &out, &c), 0);
	assert_int_equal(out, CLAIM_LOST);
	assert_int_equal(c.state, CLAIM_PENDING);
	assert_string_equal(c.token, u.token);
	/* the SMTP copy meanwhile: wait */
	assert_int_equal(mclaim(f, "<m1@example.org>", "bob@example.net", now + 10,
	                        &c), CLAIM_WAIT);
	assert_int_equal(c.state, CLAIM_PENDING);
	/* PENDING -> UMTP: the stored form is what it always was */
	assert_int_equal(urecord(f, &u, "<m1@example.org>", "bob@example.net"),
	                 CLAIM_RECORDED);
	char want[64];
	snprintf(want, sizeof want, "%lld umtp", (long long)(now / 1000));
	assert_string_equal(stored(f, "<m1@example.org>", "bob@example.net"), want);
	/* a repeated record (the store answered late): still recorded */
	assert_int_equal(urecord(f, &u, "<m1@example.org>", "bob@example.net"),
	                 CLAIM_RECORDED);
	/* the SMTP copy now: removed; a later datagram: dropped */
	assert_int_equal(mclaim(f, "<m1@example.org>", "BOB@example.net",
	                        now + 20, &c), CLAIM_DROP);
	assert_int_equal(c.state, CLAIM_UMTP);
	assert_int_equal(uclaim(f, &u2, "<m1@example.org>", "bob@example.net",
	                        now + 30, HOLD, &out, &c), 0);
	assert_int_equal(c.state, CLAIM_UMTP);
	/* another recipient, another message, a case-changed left part */
	assert_int_equal(mclaim(f, "<m1@example.org>", "dave@example.net", now,
	                        &c), CLAIM_KEEP);
	assert_int_equal(mclaim(f, "<M1@example.org>", "bob@example.net", now, &c),
	                 CLAIM_KEEP);
	/* after the TTL the UMTP record counts for nothing: taken over */
	assert_int_equal(mclaim(f, "<m1@example.org>", "bob@example.net",
	                        now + (long long)TTL * 1000 + 1000, &c), CLAIM_KEEP);
	assert_non_null(strstr(stored(f, "<m1@example.org>", "bob@example.net"),
	                       " smtp"));
}

static void
test_umtp_then_released(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out;
	struct claim c;
	long long now = claimstore_now_ms();

	NEED(f);
	assert_int_equal(uclaim(f, &u, "<r1@a>", "bob@b", now, HOLD, &out, &c), 1);
	/* PENDING -> none: the injection failed */
	urelease(f, &u, "<r1@a>", "bob@b");
	assert_string_equal(stored(f, "<r1@a>", "bob@b"), "");
	/* a release by someone else's token changes nothing */
	assert_int_equal(uclaim(f, &u, "<r2@a>", "bob@b", now, HOLD, &out, &c), 1);
	struct claim_umtp other = u;
	other.token[0] = other.token[0] == 'a' ? 'b' : 'a';
	urelease(f, &other, "<r2@a>", "bob@b");
	assert_non_null(strstr(stored(f, "<r2@a>", "bob@b"), " pending "));
	/* none -> SMTP: the SMTP copy goes through */
	assert_int_equal(mclaim(f, "<r1@a>", "bob@b", now + 1, &c), CLAIM_KEEP);
	/* and a later datagram is dropped */
	assert_int_equal(uclaim(f, &u, "<r1@a>", "bob@b", now + 2, HOLD, &out, &c),
	                 0);
	assert_int_equal(c.state, CLAIM_SMTP);
}

/* SMTP first; the SMTP copy that got 451 and comes again keeps its
 * recipients: its own claim never blocks it. */
static void
test_smtp_first_and_retry(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out;
	struct claim c;
	long long now = claimstore_now_ms();

	NEED(f);
	assert_int_equal(mclaim(f, "<s1@a>", "bob@b", now, &c), CLAIM_KEEP);
	assert_int_equal(mclaim(f, "<s1@a>", "bob@b", now + 60000, &c), CLAIM_KEEP);
	assert_int_equal(uclaim(f, &u, "<s1@a>", "bob@b", now + 1, HOLD, &out, &c),
	                 0);
	assert_int_equal(out, CLAIM_LOST);
	assert_int_equal(c.state, CLAIM_SMTP);
	assert_true(c.first_seen == now / 1000);
}

/* An abandoned PENDING (its receiver died between claim and
 * injection): the SMTP copy takes it over once the deadline is past;
 * the receiver, should it come back and record, learns it was twice. */
static void
test_abandoned_pending(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out;
	struct claim c;
	long long now = claimstore_now_ms(), hold = f != NULL && f->redis ? 300 : HOLD;

	NEED(f);
	assert_int_equal(uclaim(f, &u, "<a1@a>", "bob@b", now, hold, &out, &c), 1);
	assert_int_equal(mclaim(f, "<a1@a>", "bob@b", now + hold - 1, &c),
	                 CLAIM_WAIT);
	if (f->redis) {
		/* Redis drops it at its deadline, by its own clock */
		usleep((useconds_t)(hold + 100) * 1000);
		now = claimstore_now_ms() - hold;
	} else {
		/* LMDB: one millisecond past the deadline is abandoned */
		assert_int_equal(mclaim(f, "<a1@a>", "bob@b", now + hold - 1, &c),
		                 CLAIM_WAIT);
	}
	assert_int_equal(mclaim(f, "<a1@a>", "bob@b", now + hold, &c), CLAIM_KEEP);
	assert_non_null(strstr(stored(f, "<a1@a>", "bob@b"), " smtp"));
	assert_int_equal(urecord(f, &u, "<a1@a>", "bob@b"), CLAIM_TWICE);
	assert_non_null(strstr(stored(f, "<a1@a>", "bob@b"), " smtp"));
	/* a PENDING past its deadline is not the next receiver's to take */
	assert_int_equal(uclaim(f, &u, "<a2@a>", "bob@b", now, hold, &out, &c), 1);
	if (f->redis) {
		/* gone in Redis: a new claim wins */
		usleep((useconds_t)(hold + 100) * 1000);
		struct claim_umtp u2;
		assert_int_equal(uclaim(f, &u2, "<a2@a>", "bob@b", claimstore_now_ms(),
		                        hold, &out, &c), 1);
	} else {
		struct claim_umtp u2;
		assert_int_equal(uclaim(f, &u2, "<a2@a>", "bob@b", now + hold + 5,
		                        hold, &out, &c), 0);
		assert_int_equal(c.state, CLAIM_PENDING);
	}
}

/* The PENDING went (expired, swept) and nobody claimed: the receiver's
 * record still lands. */
static void
test_pending_gone_then_recorded(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out;
	struct claim c;
	char err[256];
	long long now = claimstore_now_ms(), hold = f != NULL && f->redis ? 200 : HOLD;

	NEED(f);
	assert_int_equal(uclaim(f, &u, "<g1@a>", "bob@b", now, hold, &out, &c), 1);
	if (f->redis)
		usleep((useconds_t)(hold + 100) * 1000);
	else
		assert_int_equal(claimstore_sweep(f->s, (time_t)((now + hold) / 1000 + 1),
		                                  TTL, 10, err, sizeof err), 1);
	assert_string_equal(stored(f, "<g1@a>", "bob@b"), "");
	assert_int_equal(urecord(f, &u, "<g1@a>", "bob@b"), CLAIM_RECORDED);
	assert_int_equal(mclaim(f, "<g1@a>", "bob@b", claimstore_now_ms(), &c),
	                 CLAIM_DROP);
}

static void
test_stale_and_unreadable(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out;
	struct claim c;
	struct store_op op = {STORE_PUT, NULL, 0, NULL, 0, 0};
	char key[CLAIM_KEYMAX], err[256], old[64];
	long long now = claimstore_now_ms();

	NEED(f);
	/* an SMTP record older than the TTL: the datagram is injected */
	op.key = key;
	op.klen = claimstore_key("<o1@a>", "bob@b", key);
	snprintf(old, sizeof old, "%lld smtp", now / 1000 - TTL - 1);
	op.val = old;
	op.vlen = strlen(old);
	assert_int_equal(store_write(f->s, &op, 1, 0, err, sizeof err), STORE_OK);
	assert_int_equal(uclaim(f, &u, "<o1@a>", "bob@b", now, HOLD, &out, &c), 1);
	/* a record we cannot read: the datagram is dropped, the SMTP copy
	 * delivers (and leaves the record alone) */
	op.klen = claimstore_key("<x1@a>", "bob@b", key);
	op.val = "not a claim";
	op.vlen = 11;
	assert_int_equal(store_write(f->s, &op, 1, 0, err, sizeof err), STORE_OK);
	assert_int_equal(uclaim(f, &u, "<x1@a>", "bob@b", now, HOLD, &out, &c), 0);
	assert_int_equal(c.state, CLAIM_FOREIGN);
	assert_int_equal(mclaim(f, "<x1@a>", "bob@b", now, &c), CLAIM_KEEP);
	assert_string_equal(stored(f, "<x1@a>", "bob@b"), "not a claim");
	/* no Message-ID, no recipient: nothing to claim */
	assert_int_equal(uclaim(f, &u, "", "bob@b", now, HOLD, &out, &c), 0);
	assert_int_equal(out, CLAIM_UNKEYED);
	assert_int_equal(mclaim(f, "<x2@a>", "<>", now, &c), CLAIM_KEEP);
}

/* The SMTP copy carries Postfix's Message-ID and ours (the one the
 * datagram carried): UMTP under either removes; SMTP claims both. */
static void
test_two_msgids(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out;
	struct claim c[2];
	char *both[] = {(char *)"<pf1@a.test>", (char *)"<ours@a.test>"};
	char *rcpts[] = {(char *)"<bob@c.test>", (char *)"<eve@c.test>"};
	enum claim_verdict v[2];
	char err[256];

	NEED(f);
	assert_int_equal(uclaim(f, &u, "<ours@a.test>", "bob@c.test",
	                        claimstore_now_ms(), HOLD, &out, c), 1);
	assert_int_equal(urecord(f, &u, "<ours@a.test>", "bob@c.test"),
	                 CLAIM_RECORDED);
	assert_int_equal(claimstore_smtp(f->s, both, 2, rcpts, 2,
	                                 claimstore_now_ms(), TTL, v, c, err,
	                                 sizeof err),
	                 STORE_OK);
	assert_int_equal(v[0], CLAIM_DROP);
	assert_int_equal(v[1], CLAIM_KEEP);
	assert_non_null(strstr(stored(f, "<pf1@a.test>", "eve@c.test"), " smtp"));
	assert_non_null(strstr(stored(f, "<ours@a.test>", "eve@c.test"), " smtp"));
}

/* A record rides in the next datagram's claim transaction: both done;
 * and a replay of the recorded message in that same claim finds UMTP. */
static void
test_record_with_next_claim(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u1, u2, u3;
	enum claim_outcome o1 = CLAIM_WON, o2, o3;
	struct claim c;
	char err[256], *r1[1] = {(char *)"bob@b"}, *r2[1] = {(char *)"carol@b"};
	long long now = claimstore_now_ms();

	NEED(f);
	assert_int_equal(uclaim(f, &u1, "<p1@a>", "bob@b", now, HOLD, &o1, &c), 1);
	struct claim_umtp_record prev = {&u1, "<p1@a>", r1, 1, &o1};
	assert_int_equal(claimstore_umtp_claim(f->s, &prev, &u2, "<p2@a>", r2, 1,
	                                       now + 1, HOLD, TTL, &o2, &c, err,
	                                       sizeof err),
	                 1);
	assert_int_equal(o1, CLAIM_RECORDED);
	assert_int_equal(o2, CLAIM_WON);
	assert_int_equal(mclaim(f, "<p1@a>", "bob@b", now + 2, &c), CLAIM_DROP);
	assert_int_equal(mclaim(f, "<p2@a>", "carol@b", now + 2, &c), CLAIM_WAIT);
	/* the same message again, its record riding with its own claim */
	struct claim_umtp_record prev2 = {&u2, "<p2@a>", r2, 1, &o2};
	assert_int_equal(claimstore_umtp_claim(f->s, &prev2, &u3, "<p2@a>", r2, 1,
	                                       now + 3, HOLD, TTL, &o3, &c, err,
	                                       sizeof err),
	                 0);
	assert_int_equal(o2, CLAIM_RECORDED);
	assert_int_equal(o3, CLAIM_LOST);
	assert_int_equal(c.state, CLAIM_UMTP);
}

/* Redis forgets its scripts (a restart, SCRIPT FLUSH): EVALSHA gets
 * NOSCRIPT, and the store teaches it again with EVAL. */
static void
test_script_flushed(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out;
	struct claim c;
	char port[16];
	pid_t pid;
	int st;

	if (f == NULL || !f->redis)
		skip();
	assert_int_equal(uclaim(f, &u, "<sf1@a>", "bob@b", claimstore_now_ms(),
	                        HOLD, &out, &c), 1);
	snprintf(port, sizeof port, "%d", f->port);
	if ((pid = fork()) == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		execlp("redis-cli", "redis-cli", "-p", port, "SCRIPT", "FLUSH",
		       (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(uclaim(f, &u, "<sf2@a>", "bob@b", claimstore_now_ms(),
	                        HOLD, &out, &c), 1);
	assert_int_equal(mclaim(f, "<sf1@a>", "bob@b", claimstore_now_ms(), &c),
	                 CLAIM_WAIT);
}

/* What redis.h does when a pooled connection died after the server ran
 * the script: the same compare-and-swap again reports done. */
static void
test_cas_repeated(void **state)
{
	struct fx *f = *state;
	struct store_cas c = {0};
	char err[256];

	NEED(f);
	c.key = "rk";
	c.klen = 2;
	c.val = "v1";
	c.vlen = 2;
	assert_int_equal(store_cas(f->s, &c, 1, 0, err, sizeof err), STORE_OK);
	assert_int_equal(c.done, 1);
	assert_int_equal(store_cas(f->s, &c, 1, 0, err, sizeof err), STORE_OK);
	assert_int_equal(c.done, 1);
	c.val = "v2";
	assert_int_equal(store_cas(f->s, &c, 1, 0, err, sizeof err), STORE_OK);
	assert_int_equal(c.done, 0);
	assert_int_equal(c.found, 1);
	assert_string_equal(c.cur, "v1");
	c.expect = "v1";
	c.elen = 2;
	c.val = NULL; /* delete */
	assert_int_equal(store_cas(f->s, &c, 1, 0, err, sizeof err), STORE_OK);
	assert_int_equal(c.done, 1);
	assert_int_equal(store_cas(f->s, &c, 1, 0, err, sizeof err), STORE_OK);
	assert_int_equal(c.done, 1); /* gone already */
}

static void
test_sweep(void **state)
{
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out;
	struct claim c;
	struct store_op op = {STORE_PUT, "garbage", 7, "not a record", 12, 0};
	char err[256];
	long long now = claimstore_now_ms();
	time_t t = (time_t)(now / 1000);

	NEED(f);
	assert_int_equal(mclaim(f, "<w1@a>", "bob@b", now, &c), CLAIM_KEEP);
	assert_int_equal(mclaim(f, "<w2@a>", "bob@b", now - (long long)TTL * 1000,
	                        &c), CLAIM_KEEP);
	assert_int_equal(uclaim(f, &u, "<w3@a>", "bob@b", now, 1000, &out, &c), 1);
	assert_int_equal(store_write(f->s, &op, 1, 0, err, sizeof err), STORE_OK);
	if (f->redis) {
		assert_int_equal(claimstore_sweep(f->s, t, TTL, 10, err, sizeof err), 0);
		return; /* Redis's records expire by themselves */
	}
	/* the old SMTP record and the garbage go; the PENDING stays until its
	 * deadline, the fresh SMTP record until the TTL */
	assert_int_equal(claimstore_sweep(f->s, t, TTL, 1, err, sizeof err), 2);
	assert_int_equal(claimstore_sweep(f->s, t + 2, TTL, 10, err, sizeof err), 1);
	assert_int_equal(claimstore_sweep(f->s, t + TTL, TTL, 10, err, sizeof err), 1);
	assert_int_equal(claimstore_sweep(f->s, t + TTL, TTL, 10, err, sizeof err), 0);
}

/* The file holds who mails whom: 0600. */
static void
test_private_file(void **state)
{
	struct fx *f = *state;
	struct stat st;
	struct claim c;

	mclaim(f, "<p@a>", "bob@b", claimstore_now_ms(), &c);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Processes racing for the same pairs, one as `umtp receive`, one as the
 * milter, each with a handle of its own: for every pair exactly one of
 * them wins (UMTP claimed, or the SMTP copy kept). */
static void
test_race(void **state)
{
	enum { NKEY = 150 };
	struct fx *f = *state;
	int fds[2][2];
	pid_t pid[2];
	unsigned char won[2][NKEY];

	NEED(f);
	for (int p = 0; p < 2; p++) {
		assert_int_equal(pipe(fds[p]), 0);
		if ((pid[p] = fork()) == 0) {
			char err[256], spec[600], id[32];
			unsigned char w[NKEY];
			struct store *s;
			if (f->redis)
				s = claimstore_open(f->cfg, err, sizeof err);
			else {
				snprintf(spec, sizeof spec, "lmdb:%s", f->path);
				s = store_open(NULL, spec, STORE_WRITE | STORE_PRIVATE, err,
				               sizeof err);
			}
			if (s == NULL)
				_exit(1);
			for (int i = 0; i < NKEY; i++) {
				char *r[1] = {(char *)"bob@b"}, *ids[1] = {id};
				snprintf(id, sizeof id, "<race%d@a>", i);
				if (p == 0) {
					struct claim_umtp u;
					enum claim_outcome o;
					if (claimstore_umtp_claim(s, NULL, &u, id, r, 1,
					                          claimstore_now_ms(), HOLD, TTL,
					                          &o, NULL, err, sizeof err) < 0)
						_exit(2);
					w[i] = o == CLAIM_WON;
				} else {
					enum claim_verdict v;
					if (claimstore_smtp(s, ids, 1, r, 1, claimstore_now_ms(),
					                    TTL, &v, NULL, err, sizeof err) < 0)
						_exit(3);
					w[i] = v == CLAIM_KEEP;
				}
			}
			store_close(s);
			if (write(fds[p][1], w, sizeof w) != (ssize_t)sizeof w)
				_exit(4);
			_exit(0);
		}
		close(fds[p][1]);
	}
	for (int p = 0; p < 2; p++) {
		int st;
		assert_int_equal(read(fds[p][0], won[p], NKEY), NKEY);
		close(fds[p][0]);
		assert_int_equal(waitpid(pid[p], &st, 0), pid[p]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (int i = 0; i < NKEY; i++)
		if (won[0][i] + won[1][i] != 1)
			fail_msg("pair %d: umtp won %d, smtp kept %d", i, won[0][i],
			         won[1][i]);
}

/* A connection to the redis-server at port, or the test fails. */
static int
redis_conn(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		fail_msg("cannot connect to redis-server on port %d", port);
	return fd;
}

static void
redis_send(int fd, const char *req)
{
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		fail_msg("cannot write to redis-server");
}

/* MONITOR shows every command the server runs, in order; those a Lua
 * script runs are marked "[<db> lua]", the others carry the client's
 * address.  mon_open() starts watching. */
static int
mon_open(int port)
{
	int fd = redis_conn(port);
	char ok[5];

	redis_send(fd, "MONITOR\r\n");
	if (read(fd, ok, sizeof ok) != (ssize_t)sizeof ok || memcmp(ok, "+OK\r\n", 5))
		fail_msg("MONITOR refused");
	return fd;
}

/* The commands clients sent since the last call (or mon_open()), those
 * of scripts left out: a marker is sent on a connection of our own, and
 * the monitor read up to it. */
static long
mon_count(int mon, int port)
{
	static int seq;
	static char buf[1 << 16];
	static size_t len;
	char mark[64], req[128];
	long n = 0;
	int fd = redis_conn(port);

	snprintf(mark, sizeof mark, "leafmail-mark-%d-%d", (int)getpid(), ++seq);
	snprintf(req, sizeof req, "ECHO %s\r\n", mark);
	redis_send(fd, req);
	for (;;) {
		char *nl;
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			size_t l = (size_t)(nl + 1 - buf);
			int is_mark;
			*nl = '\0';
			is_mark = strstr(buf, mark) != NULL;
			if (!is_mark && buf[0] == '+' && strstr(buf, " lua] ") == NULL)
				n++;
			memmove(buf, buf + l, len - l);
			len -= l;
			if (is_mark) {
				close(fd);
				return n;
			}
		}
		ssize_t r = read(mon, buf + len, sizeof buf - 1 - len);
		if (r <= 0)
			fail_msg("the monitor connection closed");
		len += (size_t)r;
	}
}

/* One message is one command to Redis whatever its number of recipients
 * and Message-IDs, for every operation of both sides. */
static void
test_one_command_per_message(void **state)
{
	enum { N = 6 };
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out[N];
	enum claim_verdict v[N];
	struct claim found[2 * N];
	char *r[N] = {"a@b", "b@b", "c@b", "d@b", "e@b", "f@b"};
	char *ids[2] = {"<one@a>", "<two@a>"}, err[256];
	int mon;

	NEED(f);
	/* the first script call teaches the server the script (NOSCRIPT,
	 * then EVAL): not what is counted here */
	assert_int_equal(uclaim(f, &u, "<warm@a>", "x@b", claimstore_now_ms(), HOLD,
	                        out, found), 1);
	mon = mon_open(f->port);
	assert_int_equal(claimstore_umtp_claim(f->s, NULL, &u, "<m@a>", r, N,
	                                       claimstore_now_ms(), HOLD, TTL, out,
	                                       found, err, sizeof err), N);
	assert_int_equal(mon_count(mon, f->port), 1);
	assert_int_equal(claimstore_umtp_record(f->s, &u, "<m@a>", r, N, TTL, out,
	                                        err, sizeof err), STORE_OK);
	assert_int_equal(mon_count(mon, f->port), 1);
	assert_int_equal(claimstore_smtp(f->s, ids, 2, r, N, claimstore_now_ms(), TTL,
	                                 v, found, err, sizeof err), STORE_OK);
	assert_int_equal(mon_count(mon, f->port), 1);
	assert_int_equal(claimstore_umtp_claim(f->s, NULL, &u, "<rel@a>", r, N,
	                                       claimstore_now_ms(), HOLD, TTL, out,
	                                       found, err, sizeof err), N);
	assert_int_equal(mon_count(mon, f->port), 1);
	assert_int_equal(claimstore_umtp_release(f->s, &u, "<rel@a>", r, N, out, err,
	                                         sizeof err), STORE_OK);
	assert_int_equal(mon_count(mon, f->port), 1);
	close(mon);
}

/* A stalled Redis (stopped, its socket still accepting): a message of
 * several recipients fails after one request, not one per recipient.
 * The request waits in the socket; resumed, the server runs it, and the
 * count says how many were sent while it was stopped. */
static void
test_stalled_server(void **state)
{
	enum { N = 6 };
	struct fx *f = *state;
	struct claim_umtp u;
	enum claim_outcome out[N];
	struct claim found[N];
	char *r[N] = {"a@b", "b@b", "c@b", "d@b", "e@b", "f@b"}, err[256];
	int mon;

	NEED(f);
	assert_int_equal(uclaim(f, &u, "<warm@a>", "x@b", claimstore_now_ms(), HOLD,
	                        out, found), 1);
	mon = mon_open(f->port);
	assert_int_equal(kill(f->rpid, SIGSTOP), 0);
	assert_true(claimstore_umtp_claim(f->s, NULL, &u, "<stall@a>", r, N,
	                                  claimstore_now_ms(), HOLD, TTL, out, found,
	                                  err, sizeof err) < 0);
	assert_int_equal(kill(f->rpid, SIGCONT), 0);
	assert_non_null(strstr(err, "redis"));
	/* the request sent before the stall is run now, before the marker
	 * that connects after it */
	assert_int_equal(mon_count(mon, f->port), 1);
	close(mon);
	/* and the store works again at once */
	assert_int_equal(uclaim(f, &u, "<after@a>", "x@b", claimstore_now_ms(), HOLD,
	                        out, found), 1);
}

#define BOTH(t)                                                              \
	cmocka_unit_test_setup_teardown(t, setup_lmdb, teardown),                \
	    cmocka_unit_test_setup_teardown(t, setup_redis, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise),
	    BOTH(test_umtp_then_recorded),
	    BOTH(test_umtp_then_released),
	    BOTH(test_smtp_first_and_retry),
	    BOTH(test_abandoned_pending),
	    BOTH(test_pending_gone_then_recorded),
	    BOTH(test_stale_and_unreadable),
	    BOTH(test_two_msgids),
	    BOTH(test_record_with_next_claim),
	    BOTH(test_cas_repeated),
	    cmocka_unit_test_setup_teardown(test_script_flushed, setup_redis,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_one_command_per_message,
	                                    setup_redis, teardown),
	    cmocka_unit_test_setup_teardown(test_stalled_server, setup_redis,
	                                    teardown),
	    BOTH(test_sweep),
	    BOTH(test_race),
	    cmocka_unit_test_setup_teardown(test_private_file, setup_lmdb,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
