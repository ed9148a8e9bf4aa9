/*
 * test_umtp_milter.c - the milter's UMTP side without libmilter:
 * milter/umtp_collect.c (CRLF to LF across chunks, the Message-ID, the
 * size cap, the message with an added header), milter/umtp_shadow.c
 * (peer per recipient domain, Message-ID shape, datagrams sent to a peer
 * and decoded by the codec with the same Message-ID) and
 * milter/umtp_dedup.c (UMTP first: removed; SMTP first: claimed; a
 * second SMTP copy is not removed; peers' domains are left alone; a UMTP
 * injection under way is waited for, and its outcome decides).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <pthread.h>

#include "claimstore.h"
#include "lmdbfile_testutil.h"
#include "umtp_codec.h"
#include "../../milter/umtp_collect.h"
#include "../../milter/umtp_dedup.h"
#include "../../milter/umtp_shadow.h"

#define TTL (3 * 86400)

static void
test_collect_lf(void **state)
{
	struct umtp_collect c;
	char *m;
	size_t n;
	(void)state;

	umtp_collect_init(&c, 100000, 1);
	assert_int_equal(umtp_collect_sender(&c, "<alice@a.test>"), 0);
	assert_string_equal(c.sender, "alice@a.test");
	umtp_collect_rcpt(&c, "<bob@b.test>");
	umtp_collect_header(&c, "Subject", "folded\r\n\tline");
	umtp_collect_header(&c, "Message-ID", "<x1@a.test>");
	umtp_collect_header(&c, "message-id", "<second@a.test>");
	/* a CRLF split between two chunks, and a lone CR kept */
	umtp_collect_body(&c, (const unsigned char *)"one\r", 4);
	umtp_collect_body(&c, (const unsigned char *)"\ntwo\rX\r\n\r", 9);
	assert_string_equal(c.msgid, "<x1@a.test>");
	assert_int_equal(umtp_collect_message(&c, NULL, NULL, &m, &n), 0);
	assert_string_equal(m, "Subject: folded\n\tline\nMessage-ID: <x1@a.test>\n"
	                       "message-id: <second@a.test>\n\none\ntwo\rX\n\r");
	assert_int_equal(n, strlen(m));
	free(m);
	umtp_collect_free(&c);
}

static void
test_collect_cap_and_extra(void **state)
{
	struct umtp_collect c;
	unsigned char big[600];
	char *m;
	size_t n;
	(void)state;

	memset(big, 'a', sizeof big);
	umtp_collect_init(&c, 1000, 1);
	umtp_collect_sender(&c, "<>");
	assert_string_equal(c.sender, "");
	umtp_collect_header(&c, "From", "a@a.test");
	umtp_collect_body(&c, big, sizeof big);
	assert_int_equal(c.toobig, 0);
	assert_int_equal(umtp_collect_message(&c, "Message-ID", "<n@a.test>", &m, &n), 0);
	assert_non_null(strstr(m, "From: a@a.test\nMessage-ID: <n@a.test>\n\naaa"));
	free(m);
	umtp_collect_body(&c, big, sizeof big); /* now over 1000 */
	assert_int_equal(c.toobig, 1);
	assert_int_equal(umtp_collect_message(&c, NULL, NULL, &m, &n), -1);
	umtp_collect_free(&c);

	/* dedup only: no body kept, Message-ID still seen */
	umtp_collect_init(&c, 1000, 0);
	umtp_collect_header(&c, "Message-Id", " <d@a.test>");
	umtp_collect_body(&c, big, sizeof big);
	umtp_collect_body(&c, big, sizeof big);
	assert_string_equal(c.msgid, " <d@a.test>");
	assert_null(c.body);
	assert_int_equal(umtp_collect_message(&c, NULL, NULL, &m, &n), -1);
	umtp_collect_free(&c);
}

/* A peer "b.test" with a 32-byte key, sending to a socket of ours. */
struct peerfx {
	struct umtp_peers peers;
	struct umtp_peer peer;
	unsigned char key[32];
	int fd;
};

static void
peer_setup(struct peerfx *p, int protocol)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;

	memset(p, 0, sizeof *p);
	memset(p->key, 'k', sizeof p->key);
	p->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(p->fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&sin, &sl), 0);
	struct timeval tv = {2, 0};
	setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	p->peer.domain = (char *)"b.test";
	p->peer.host = (char *)"127.0.0.1";
	p->peer.port = (char *)"test";
	p->peer.key = p->key;
	p->peer.klen = sizeof p->key;
	p->peer.protocol = protocol;
	memcpy(&p->peer.sa, &sin, sizeof sin);
	p->peer.salen = sizeof sin;
	p->peers.v = &p->peer;
	p->peers.n = 1;
}

static void
test_shadow_peer_of(void **state)
{
	struct peerfx p;
	struct umtp_collect c;
	(void)state;

	peer_setup(&p, 2);
	assert_ptr_equal(umtp_shadow_peer_of(&p.peers, "<Bob@B.TEST>"), &p.peer);
	assert_ptr_equal(umtp_shadow_peer_of(&p.peers, "carol@b.test"), &p.peer);
	assert_null(umtp_shadow_peer_of(&p.peers, "<dave@sub.b.test>"));
	assert_null(umtp_shadow_peer_of(&p.peers, "<postmaster>"));
	assert_null(umtp_shadow_peer_of(&p.peers, "<x@>"));
	umtp_collect_init(&c, 1000, 1);
	umtp_collect_rcpt(&c, "<a@c.test>");
	assert_int_equal(umtp_shadow_wanted(&p.peers, &c), 0);
	umtp_collect_rcpt(&c, "<a@b.test>");
	assert_int_equal(umtp_shadow_wanted(&p.peers, &c), 1);
	umtp_collect_free(&c);
	close(p.fd);
}

static void
test_shadow_msgid(void **state)
{
	char a[256], b[256], small[10];
	(void)state;

	assert_int_equal(umtp_shadow_msgid("mx.a.test", a, sizeof a), 0);
	assert_int_equal(umtp_shadow_msgid("mx.a.test", b, sizeof b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(a[0], '<');
	assert_non_null(strstr(a, ".umtp@mx.a.test>"));
	assert_int_equal(umtp_shadow_msgid(NULL, a, sizeof a), 0);
	assert_non_null(strstr(a, "@localhost>"));
	assert_int_equal(umtp_shadow_msgid("mx.a.test", small, sizeof small), -1);
}

/* Collect a message for bob@b.test (peer), carol@B.test (peer) and
 * dave@c.test (not), shadow it, and decode what the peer got. */
static void
test_shadow_send(void **state)
{
	struct peerfx p;
	struct umtp_collect c;
	struct umtp_packet d;
	unsigned char pkt[2048];
	char *m;
	size_t n;
	ssize_t r;
	(void)state;

	peer_setup(&p, 2);
	umtp_collect_init(&c, 100000, 1);
	umtp_collect_sender(&c, "<alice@a.test>");
	umtp_collect_rcpt(&c, "<bob@b.test>");
	umtp_collect_rcpt(&c, "<dave@c.test>");
	umtp_collect_rcpt(&c, "<carol@B.test>");
	umtp_collect_header(&c, "Received", "from x by y");
	umtp_collect_header(&c, "Subject", "hi");
	umtp_collect_body(&c, (const unsigned char *)"hello\r\n", 7);
	assert_int_equal(umtp_collect_message(&c, "Message-ID", "<s1@a.test>", &m, &n), 0);
	assert_int_equal(umtp_shadow_send(&p.peers, &c, "<s1@a.test>", m, n, "test"), 1);
	r = recv(p.fd, pkt, sizeof pkt, 0);
	assert_true(r > 0);
	assert_int_equal(umtp_p2_decode(p.key, sizeof p.key, pkt, (size_t)r,
	                                100000, time(NULL), 300, &d), UMTP_OK);
	assert_string_equal(d.sender, "alice@a.test");
	assert_int_equal(d.nrcpt, 2);
	assert_string_equal(d.rcpts[0], "bob@b.test");
	assert_string_equal(d.rcpts[1], "carol@B.test");
	assert_string_equal(d.msgid, "<s1@a.test>");
	assert_string_equal(d.data, "Subject: hi\nMessage-ID: <s1@a.test>\n\nhello\n");
	umtp_packet_free(&d);
	free(m);
	umtp_collect_free(&c);
	close(p.fd);

	/* protocol 1: one datagram per recipient; nothing when too large */
	peer_setup(&p, 1);
	umtp_collect_init(&c, 100000, 1);
	umtp_collect_sender(&c, "<alice@a.test>");
	umtp_collect_rcpt(&c, "<bob@b.test>");
	umtp_collect_rcpt(&c, "<carol@b.test>");
	umtp_collect_header(&c, "Message-ID", "<s2@a.test>");
	umtp_collect_body(&c, (const unsigned char *)"hi\r\n", 4);
	assert_int_equal(umtp_collect_message(&c, NULL, NULL, &m, &n), 0);
	assert_int_equal(umtp_shadow_send(&p.peers, &c, "<s2@a.test>", m, n, "test"), 2);
	for (int i = 0; i < 2; i++) {
		r = recv(p.fd, pkt, sizeof pkt, 0);
		assert_true(r > 0);
		assert_int_equal(umtp_p1_decode(p.key, sizeof p.key, pkt, (size_t)r,
		                                100000, &d), UMTP_OK);
		assert_string_equal(d.rcpts[0], i == 0 ? "bob@b.test" : "carol@b.test");
		umtp_packet_free(&d);
	}
	free(m);
	umtp_collect_free(&c);
	umtp_collect_init(&c, 1 << 20, 1);
	umtp_collect_rcpt(&c, "<bob@b.test>");
	umtp_collect_header(&c, "Message-ID", "<s3@a.test>");
	for (int i = 0; i < 200; i++) { /* incompressible */
		unsigned char rnd[64];
		for (size_t k = 0; k < sizeof rnd; k++)
			rnd[k] = (unsigned char)('!' + (rand() % 90));
		umtp_collect_body(&c, rnd, sizeof rnd);
	}
	assert_int_equal(umtp_collect_message(&c, NULL, NULL, &m, &n), 0);
	assert_int_equal(umtp_shadow_send(&p.peers, &c, "<s3@a.test>", m, n, "test"), 0);
	free(m);
	umtp_collect_free(&c);
	close(p.fd);
}

/* A one-element Message-ID list. */
static char *idv[1];
static char *const *
ids(const char *id)
{
	idv[0] = (char *)id;
	return idv;
}

struct storefx {
	char dir[256], path[512];
	struct store *ds;
	struct peerfx p;
};

static int
store_setup(void **state)
{
	struct storefx *f = calloc(1, sizeof *f);
	char err[256], spec[600];

	assert_non_null(f);
	assert_int_equal(tt_mkdtemp(f->dir, sizeof f->dir), 0);
	snprintf(f->path, sizeof f->path, "%s/%s", f->dir, CLAIMSTORE_FILE);
	snprintf(spec, sizeof spec, "lmdb:%s", f->path);
	f->ds = store_open(NULL, spec, STORE_WRITE | STORE_PRIVATE, err, sizeof err);
	assert_non_null(f->ds);
	peer_setup(&f->p, 2);
	*state = f;
	return 0;
}

static int
store_teardown(void **state)
{
	struct storefx *f = *state;

	close(f->p.fd);
	store_close(f->ds);
	tt_rmtree(f->dir);
	free(f);
	return 0;
}

/* umtp receive claims (and, done set, records) rcpt under id. */
static void
umtp_claims(struct store *s, struct claim_umtp *u, const char *id,
            const char *rcpt, int done)
{
	char err[256], *r[1] = {(char *)rcpt};
	enum claim_outcome o;

	assert_int_equal(claimstore_umtp_claim(s, NULL, u, id, r, 1, claimstore_now_ms(),
	                                       70000, TTL, &o, NULL, err,
	                                       sizeof err),
	                 1);
	if (done)
		assert_int_equal(claimstore_umtp_record(s, u, id, r, 1, TTL, &o, err,
		                                        sizeof err),
		                 STORE_OK);
}

static long
decide(struct storefx *f, struct umtp_peers *peers, char *const *msgids,
       size_t nmsgid, char *const *rcpts, size_t n, long long wait_ms,
       enum claim_verdict *v, size_t *nwait)
{
	char err[256];

	return umtp_dedup_decide(f->ds, peers, msgids, nmsgid, rcpts, n, TTL,
	                         wait_ms, NULL, NULL, v, NULL, nwait, err,
	                         sizeof err);
}

/* What the SMTP side claimed for (id, rcpt): its state. */
static enum claim_state
state_of(struct storefx *f, const char *id, const char *rcpt)
{
	char key[CLAIM_KEYMAX], v[STORE_VALMAX], err[256];
	size_t kl = claimstore_key(id, rcpt, key), len;
	struct claim c;

	if (store_get(f->ds, key, kl, v, sizeof v, &len, err, sizeof err) != STORE_OK)
		return CLAIM_NONE;
	claimstore_decode(v, len, &c);
	return c.state;
}

static void
test_dedup_umtp_first(void **state)
{
	struct storefx *f = *state;
	struct claim_umtp u;
	char *rcpts[] = {(char *)"<Bob@C.test>", (char *)"<carol@c.test>",
	                 (char *)"<x@b.test>"};
	enum claim_verdict v[3];
	size_t nwait;

	/* the datagram came first: umtp receive claimed and delivered bob */
	umtp_claims(f->ds, &u, "<u1@a.test>", "bob@c.test", 1);
	assert_int_equal(decide(f, &f->p.peers, ids(" <u1@A.TEST>"), 1, rcpts, 3,
	                        1000, v, &nwait), 1);
	assert_int_equal(nwait, 0);
	assert_int_equal(v[0], CLAIM_DROP);
	assert_int_equal(v[1], CLAIM_KEEP);
	assert_int_equal(v[2], CLAIM_KEEP);
	/* carol claimed for SMTP; x@b.test (a peer's domain) not at all */
	assert_int_equal(state_of(f, "<u1@a.test>", "carol@c.test"), CLAIM_SMTP);
	assert_int_equal(state_of(f, "<u1@a.test>", "x@b.test"), CLAIM_NONE);
	assert_int_equal(state_of(f, "<u1@a.test>", "bob@c.test"), CLAIM_UMTP);
	/* every recipient done by UMTP: all removed (the caller discards) */
	assert_int_equal(decide(f, &f->p.peers, ids("<u1@a.test>"), 1, rcpts, 1,
	                        1000, v, &nwait), 1);
}

static void
test_dedup_smtp_first(void **state)
{
	struct storefx *f = *state;
	char *rcpts[] = {(char *)"<bob@c.test>"};
	enum claim_verdict v[1];
	size_t nwait;

	assert_int_equal(decide(f, &f->p.peers, ids("<s9@a.test>"), 1, rcpts, 1,
	                        1000, v, &nwait), 0);
	assert_int_equal(v[0], CLAIM_KEEP);
	assert_int_equal(state_of(f, "<s9@a.test>", "bob@c.test"), CLAIM_SMTP);
	/* the sender retrying over SMTP is not a duplicate to remove */
	assert_int_equal(decide(f, &f->p.peers, ids("<s9@a.test>"), 1, rcpts, 1,
	                        1000, v, &nwait), 0);
	assert_int_equal(v[0], CLAIM_KEEP);
	/* no peers given (NULL): every recipient is considered */
	char *peerrcpt[] = {(char *)"<x@b.test>"};
	assert_int_equal(decide(f, NULL, ids("<s9@a.test>"), 1, peerrcpt, 1, 1000,
	                        v, &nwait), 0);
	assert_int_equal(state_of(f, "<s9@a.test>", "x@b.test"), CLAIM_SMTP);
}

/* The SMTP copy carries Postfix's Message-ID and ours (the one the
 * datagram carried): either matches; SMTP claims under both. */
static void
test_dedup_two_msgids(void **state)
{
	struct storefx *f = *state;
	struct claim_umtp u;
	char *both[] = {(char *)"<pf1@a.test>", (char *)"<ours@a.test>"};
	char *rcpts[] = {(char *)"<bob@c.test>", (char *)"<eve@c.test>"};
	enum claim_verdict v[2];
	size_t nwait;

	umtp_claims(f->ds, &u, "<ours@a.test>", "bob@c.test", 1);
	assert_int_equal(decide(f, &f->p.peers, both, 2, rcpts, 2, 1000, v,
	                        &nwait), 1);
	assert_int_equal(v[0], CLAIM_DROP);
	assert_int_equal(v[1], CLAIM_KEEP);
	assert_int_equal(state_of(f, "<pf1@a.test>", "eve@c.test"), CLAIM_SMTP);
	assert_int_equal(state_of(f, "<ours@a.test>", "eve@c.test"), CLAIM_SMTP);
}

/* A UMTP injection under way when the SMTP copy ends: the milter waits;
 * a thread plays umtp receive and, after a while, records or releases. */
struct resolver {
	struct store *s;
	struct claim_umtp u;
	int record;
};

static void *
resolve_later(void *arg)
{
	struct resolver *r = arg;
	char err[256], *rc[1] = {(char *)"bob@c.test"};
	enum claim_outcome o = CLAIM_WON;

	usleep(150000);
	if (r->record)
		claimstore_umtp_record(r->s, &r->u, "<w@a.test>", rc, 1, TTL, &o, err,
		                       sizeof err);
	else
		claimstore_umtp_release(r->s, &r->u, "<w@a.test>", rc, 1, &o, err,
		                        sizeof err);
	return NULL;
}

static int waited;

static void
count_wait(void *arg, const char *rcpt, const struct claim *c)
{
	(void)arg;
	assert_string_equal(rcpt, "<bob@c.test>");
	assert_int_equal(c->state, CLAIM_PENDING);
	waited++;
}

static void
test_dedup_waits(void **state)
{
	struct storefx *f = *state;
	char *rcpts[] = {(char *)"<bob@c.test>", (char *)"<eve@c.test>"};
	enum claim_verdict v[2];
	struct claim found[2];
	size_t nwait;
	char err[256];
	pthread_t th;

	for (int record = 1; record >= 0; record--) {
		struct resolver r = {f->ds, {{0}, 0, 0}, record};
		char id[32];
		snprintf(id, sizeof id, "<w@a.test>");
		/* each round its own store file state: release what the last
		 * round claimed */
		umtp_claims(f->ds, &r.u, id, "bob@c.test", 0);
		waited = 0;
		assert_int_equal(pthread_create(&th, NULL, resolve_later, &r), 0);
		long n = umtp_dedup_decide(f->ds, &f->p.peers, ids(id), 1, rcpts, 2,
		                           TTL, 10000, count_wait, NULL, v, found,
		                           &nwait, err, sizeof err);
		pthread_join(th, NULL);
		assert_int_equal(waited, 1);
		assert_int_equal(nwait, 0);
		assert_int_equal(v[1], CLAIM_KEEP);
		if (record) {
			/* delivered by UMTP meanwhile: removed */
			assert_int_equal(n, 1);
			assert_int_equal(v[0], CLAIM_DROP);
			assert_int_equal(found[0].state, CLAIM_UMTP);
			/* clear the way for the next round */
			struct store_cas c = {0};
			char key[CLAIM_KEYMAX];
			c.key = key;
			c.klen = claimstore_key(id, "bob@c.test", key);
			char cur[STORE_VALMAX];
			assert_int_equal(store_get(f->ds, key, c.klen, cur, sizeof cur,
			                           &c.elen, err, sizeof err), STORE_OK);
			c.expect = cur;
			assert_int_equal(store_cas(f->ds, &c, 1, 0, err, sizeof err),
			                 STORE_OK);
			assert_int_equal(c.done, 1);
		} else {
			/* the injection failed: the SMTP copy delivers */
			assert_int_equal(n, 0);
			assert_int_equal(v[0], CLAIM_KEEP);
			assert_int_equal(state_of(f, id, "bob@c.test"), CLAIM_SMTP);
		}
	}
	/* nothing resolves it in time: still waiting (the caller: 451) */
	struct claim_umtp u;
	umtp_claims(f->ds, &u, "<w2@a.test>", "bob@c.test", 0);
	assert_int_equal(umtp_dedup_decide(f->ds, &f->p.peers, ids("<w2@a.test>"),
	                                   1, rcpts, 2, TTL, 50, NULL, NULL, v,
	                                   found, &nwait, err, sizeof err),
	                 0);
	assert_int_equal(nwait, 1);
	assert_int_equal(v[0], CLAIM_WAIT);
	assert_int_equal(v[1], CLAIM_KEEP);
	/* when it comes back (451, retried): eve's own claim keeps her */
	assert_int_equal(umtp_dedup_decide(f->ds, &f->p.peers, ids("<w2@a.test>"),
	                                   1, rcpts + 1, 1, TTL, 0, NULL, NULL, v,
	                                   found, &nwait, err, sizeof err),
	                 0);
	assert_int_equal(v[0], CLAIM_KEEP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collect_lf),
		cmocka_unit_test(test_collect_cap_and_extra),
		cmocka_unit_test(test_shadow_peer_of),
		cmocka_unit_test(test_shadow_msgid),
		cmocka_unit_test(test_shadow_send),
		cmocka_unit_test_setup_teardown(test_dedup_umtp_first, store_setup,
		                                store_teardown),
		cmocka_unit_test_setup_teardown(test_dedup_smtp_first, store_setup,
		                                store_teardown),
		cmocka_unit_test_setup_teardown(test_dedup_two_msgids, store_setup,
		                                store_teardown),
		cmocka_unit_test_setup_teardown(test_dedup_waits, store_setup,
		                                store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
