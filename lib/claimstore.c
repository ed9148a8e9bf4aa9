/*
 * claimstore.c - UMTP claims on a store (claimstore.h).
 *
 * Every operation is one store_cas() over all the pairs concerned, so
 * one LMDB write transaction or one Redis round trip per message, plus
 * one more per round of takeovers (a stale record or an abandoned
 * PENDING, taken only if it still holds exactly what was read: a
 * compare-and-swap on the value seen).  At most CLAIM_ROUNDS rounds: a
 * record that changes under us that often is left as found.
 */
#include "claimstore.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "mailaddr.h"

#define CLAIM_ROUNDS 3
#define VALMAX 96

int
claimstore_spec(cfg_t *cfg, char *buf, size_t len, char *err, size_t errlen)
{
	cfg_t *u = cfg_getsec(cfg, "umtp");
	const char *store = u != NULL ? cfg_getstr(u, "dedup-store") : NULL;
	int n;

	if (store != NULL && strcmp(store, "redis") == 0)
		n = snprintf(buf, len, "redis:%s", CLAIMSTORE_NS);
	else
		n = snprintf(buf, len, "lmdb:%s/%s", cfg_getstr(cfg, "state-dir"),
		             CLAIMSTORE_FILE);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "state-dir too long");
		return -1;
	}
	return 0;
}

struct store *
claimstore_open(cfg_t *cfg, char *err, size_t errlen)
{
	char spec[4200];

	if (claimstore_spec(cfg, spec, sizeof(spec), err, errlen) == -1)
		return NULL;
	return store_open(cfg, spec, STORE_WRITE | STORE_PRIVATE, err, errlen);
}

/* s without surrounding blanks and one pair of angle brackets; empty or
 * longer than CLAIM_MAX_ID - 1 is refused. */
static int
strip(const char *s, char *out, size_t outlen, size_t *n)
{
	long l = mailaddr_strip(s, out, outlen < CLAIM_MAX_ID ? outlen
	                                                      : CLAIM_MAX_ID);

	if (l <= 0)
		return -1;
	*n = (size_t)l;
	return 0;
}

int
claimstore_norm_msgid(const char *msgid, char *out, size_t outlen)
{
	size_t n;
	char *at;

	if (strip(msgid, out, outlen, &n) < 0)
		return -1;
	if ((at = strrchr(out, '@')) != NULL)
		for (; *at; at++)
			*at = (char)tolower((unsigned char)*at);
	return 0;
}

int
claimstore_norm_rcpt(const char *rcpt, char *out, size_t outlen)
{
	size_t n;

	if (strip(rcpt, out, outlen, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

size_t
claimstore_key(const char *msgid, const char *rcpt, char *key)
{
	char m[CLAIM_MAX_ID], r[CLAIM_MAX_ID];
	size_t ml, rl;

	if (claimstore_norm_msgid(msgid, m, sizeof m) < 0 ||
	    claimstore_norm_rcpt(rcpt, r, sizeof r) < 0)
		return 0;
	ml = strlen(m);
	rl = strlen(r);
	if (ml + 1 + rl >= STORE_KEYMAX)
		return 0;
	memcpy(key, m, ml + 1);
	memcpy(key + ml + 1, r, rl + 1); /* and the NUL store.h wants after */
	return ml + 1 + rl;
}

const char *
claimstore_state_name(enum claim_state s)
{
	switch (s) {
	case CLAIM_PENDING:
		return "pending";
	case CLAIM_UMTP:
		return "umtp";
	case CLAIM_SMTP:
		return "smtp";
	case CLAIM_FOREIGN:
		return "unreadable";
	default:
		return "none";
	}
}

long long
claimstore_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Digits at *p up to a blank or the end, as a number; -1 if none. */
static long long
number(const char **p, const char *end)
{
	long long v = 0;
	const char *q = *p;

	for (; q < end && *q >= '0' && *q <= '9' && q - *p < 18; q++)
		v = v * 10 + (*q - '0');
	if (q == *p || (q < end && *q != ' '))
		return -1;
	*p = q;
	return v;
}

static int
word(const char **p, const char *end, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(end - *p) < n || memcmp(*p, w, n) != 0)
		return 0;
	*p += n;
	return 1;
}

int
claimstore_decode(const char *val, size_t len, struct claim *c)
{
	const char *p = val, *end = val + len;
	long long t, d;

	memset(c, 0, sizeof(*c));
	c->state = CLAIM_FOREIGN;
	if ((t = number(&p, end)) < 0 || !word(&p, end, " "))
		return -1;
	if (word(&p, end, "umtp") && p == end) {
		c->state = CLAIM_UMTP;
	} else if (word(&p, end, "smtp") && p == end) {
		c->state = CLAIM_SMTP;
	} else if (word(&p, end, "pending ") && (d = number(&p, end)) >= 0 &&
	           word(&p, end, " ") && end - p == CLAIM_TOKEN_LEN) {
		for (const char *q = p; q < end; q++)
			if (!isxdigit((unsigned char)*q))
				return -1;
		memcpy(c->token, p, CLAIM_TOKEN_LEN);
		c->deadline_ms = d;
		c->state = CLAIM_PENDING;
	} else {
		return -1;
	}
	c->first_seen = (time_t)t;
	return 0;
}

static size_t
encode_final(time_t first_seen, enum claim_state st, char *buf)
{
	return (size_t)snprintf(buf, VALMAX, "%lld %s", (long long)first_seen,
	                        claimstore_state_name(st));
}

static size_t
encode_pending(const struct claim_umtp *u, char *buf)
{
	return (size_t)snprintf(buf, VALMAX, "%lld pending %lld %s",
	                        (long long)u->first_seen, u->deadline_ms, u->token);
}

/* A final record older than the ttl counts for nothing. */
static int
stale(const struct claim *c, long long now_ms, long long ttl)
{
	return (c->state == CLAIM_UMTP || c->state == CLAIM_SMTP) &&
	       ((long long)c->first_seen + ttl) * 1000 <= now_ms;
}

/* Which found records a claimant may take over (compare-and-swap on the
 * value it read).  abandoned_ms: a PENDING whose deadline is at least
 * this far behind now is abandoned; < 0: never taken. */
struct takeover {
	long long now_ms, ttl, abandoned_ms;
};

static int
takeable(const struct takeover *t, const struct claim *c)
{
	if (stale(c, t->now_ms, t->ttl))
		return 1;
	return c->state == CLAIM_PENDING && t->abandoned_ms >= 0 &&
	       t->now_ms >= c->deadline_ms + t->abandoned_ms;
}

/*
 * Claim v[0..n) (expect NULL, val set): one store_cas() (unless asked
 * already, first_done), then, for what was found and may be taken over,
 * rounds of compare-and-swap on the value found.  Afterwards each item's
 * done/found/cur say the outcome.
 */
static int
claim_rounds(struct store *s, struct store_cas *v, size_t n,
             const struct takeover *t, int first_done, char *err,
             size_t errlen)
{
	struct store_cas *w = calloc(n ? n : 1, sizeof(*w));
	char (*seen)[STORE_VALMAX] = calloc(n ? n : 1, STORE_VALMAX);
	size_t *idx = calloc(n ? n : 1, sizeof(*idx));
	int rc = STORE_OK;

	if (w == NULL || seen == NULL || idx == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = STORE_ERR;
		goto out;
	}
	if (!first_done &&
	    (rc = store_cas(s, v, n, STORE_DEFER_SYNC, err, errlen)) != STORE_OK)
		goto out;
	for (int round = 1; round < CLAIM_ROUNDS; round++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			struct claim c;
			if (v[i].done || !v[i].found ||
			    claimstore_decode(v[i].cur, v[i].curlen, &c) < 0 ||
			    !takeable(t, &c))
				continue;
			memcpy(seen[m], v[i].cur, v[i].curlen + 1);
			w[m] = v[i];
			w[m].expect = seen[m];
			w[m].elen = v[i].curlen;
			idx[m++] = i;
		}
		if (m == 0)
			break;
		if ((rc = store_cas(s, w, m, STORE_DEFER_SYNC, err, errlen)) != STORE_OK)
			goto out;
		for (size_t j = 0; j < m; j++) {
			struct store_cas *o = &v[idx[j]];
			o->done = w[j].done;
			o->found = w[j].found;
			o->curlen = w[j].curlen;
			memcpy(o->cur, w[j].cur, w[j].curlen + 1);
		}
	}
out:
	free(w);
	free(seen);
	free(idx);
	return rc;
}

/* The compare-and-swap items of one call, each with its key's buffer
 * and the index of the recipient it is for. */
struct items {
	struct store_cas *v;
	char (*keys)[CLAIM_KEYMAX];
	size_t *of;
};

static int
items_alloc(struct items *it, size_t n, char *err, size_t errlen)
{
	it->v = calloc(n ? n : 1, sizeof(*it->v));
	it->keys = calloc(n ? n : 1, CLAIM_KEYMAX);
	it->of = calloc(n ? n : 1, sizeof(*it->of));
	if (it->v != NULL && it->keys != NULL && it->of != NULL)
		return 0;
	free(it->v);
	free(it->keys);
	free(it->of);
	snprintf(err, errlen, "out of memory");
	return -1;
}

static void
items_free(struct items *it)
{
	free(it->v);
	free(it->keys);
	free(it->of);
}

static void
make_token(char *tok)
{
	unsigned char r[CLAIM_TOKEN_LEN / 2];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t k = getrandom(r + got, sizeof(r) - got, 0);
		if (k <= 0) {
			/* getrandom() does not fail once the pool is ready;
			 * should it, make the token unique still. */
			long long x = claimstore_now_ms() ^ ((long long)getpid() << 20);
			memcpy(r, &x, sizeof(r) < sizeof(x) ? sizeof(r) : sizeof(x));
			break;
		}
		got += (size_t)k;
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(tok + 2 * i, 3, "%02x", r[i]);
}

/* A record's compare-and-swap items (PENDING of ours -> UMTP) into v,
 * their recipients' indexes into of; pend and fin hold the values and
 * must outlive the store_cas().  Number of items. */
static size_t
record_items(const struct claim_umtp_record *r, long long ttl,
             struct store_cas *v, char (*keys)[CLAIM_KEYMAX], size_t *of,
             char *pend, char *fin)
{
	size_t m = 0, plen = encode_pending(r->u, pend);
	size_t flen = encode_final(r->u->first_seen, CLAIM_UMTP, fin);

	for (size_t i = 0; i < r->n; i++) {
		if (r->out[i] != CLAIM_WON)
			continue;
		v[m].key = keys[m];
		v[m].klen = claimstore_key(r->msgid, r->rcpts[i], keys[m]);
		v[m].expect = pend;
		v[m].elen = plen;
		v[m].val = fin;
		v[m].vlen = flen;
		v[m].ttl_ms = ttl * 1000;
		of[m++] = i;
	}
	return m;
}

/* After the record's store_cas(): each outcome, and for a PENDING of ours
 * that is gone (Redis expired it, the sweep took it) with nobody
 * claiming since, one more round that records UMTP all the same. */
static int
record_finish(struct store *s, const struct claim_umtp_record *r,
              struct store_cas *v, size_t m, size_t *of, char *err,
              size_t errlen)
{
	size_t k = 0;

	for (size_t j = 0; j < m; j++)
		if (!v[j].done && !v[j].found) {
			v[k] = v[j];
			v[k].expect = NULL;
			v[k].elen = 0;
			of[k++] = of[j];
		} else {
			struct claim c;
			r->out[of[j]] = v[j].done || (claimstore_decode(v[j].cur,
			                                                v[j].curlen,
			                                                &c) == 0 &&
			                              c.state == CLAIM_UMTP)
			                    ? CLAIM_RECORDED
			                    : CLAIM_TWICE;
		}
	if (k == 0)
		return STORE_OK;
	if (store_cas(s, v, k, STORE_DEFER_SYNC, err, errlen) != STORE_OK)
		return STORE_ERR;
	for (size_t j = 0; j < k; j++)
		r->out[of[j]] = v[j].done ? CLAIM_RECORDED : CLAIM_TWICE;
	return STORE_OK;
}

static size_t
won_count(const struct claim_umtp_record *r)
{
	size_t n = 0;

	for (size_t i = 0; r != NULL && i < r->n; i++)
		n += r->out[i] == CLAIM_WON;
	return n;
}

long
claimstore_umtp_claim(struct store *s, const struct claim_umtp_record *prev,
                      struct claim_umtp *u, const char *msgid,
                      char *const *rcpts, size_t n, long long now_ms,
                      long long hold_ms, long long ttl,
                      enum claim_outcome *out, struct claim *found,
                      char *err, size_t errlen)
{
	size_t np = won_count(prev), m, vlen;
	struct takeover t = {now_ms, ttl, -1}; /* a PENDING: never ours */
	char val[VALMAX], pend[VALMAX], fin[VALMAX];
	struct items it;
	long won = 0;

	if (items_alloc(&it, np + n, err, errlen) < 0)
		return STORE_ERR;
	struct store_cas *v = it.v;
	char (*keys)[CLAIM_KEYMAX] = it.keys;
	size_t *of = it.of;
	/* The last message's record first, in the same transaction: a burst
	 * of datagrams costs one store transaction each, not two. */
	if (np > 0)
		np = record_items(prev, ttl, v, keys, of, pend, fin);
	make_token(u->token);
	u->first_seen = (time_t)(now_ms / 1000);
	u->deadline_ms = now_ms + hold_ms;
	vlen = encode_pending(u, val);
	m = np;
	for (size_t i = 0; i < n; i++) {
		size_t kl = claimstore_key(msgid, rcpts[i], keys[m]);
		if (found != NULL)
			memset(&found[i], 0, sizeof(found[i]));
		out[i] = CLAIM_UNKEYED;
		if (kl == 0)
			continue;
		v[m].key = keys[m];
		v[m].klen = kl;
		v[m].val = val;
		v[m].vlen = vlen;
		v[m].ttl_ms = hold_ms;
		of[m++] = i;
	}
	if (m > 0 && store_cas(s, v, m, STORE_DEFER_SYNC, err, errlen) != STORE_OK) {
		won = STORE_ERR;
		goto out;
	}
	/* The claims are made now: a store failing in a later round leaves
	 * a record unresolved (prev->out still CLAIM_WON: the caller writes
	 * it later) and a takeover undone (that recipient LOST). */
	if (np > 0)
		record_finish(s, prev, v, np, of, err, errlen);
	if (m > np)
		claim_rounds(s, v + np, m - np, &t, 1, err, errlen);
	for (size_t j = np; j < m; j++) {
		size_t i = of[j];
		if (v[j].done) {
			out[i] = CLAIM_WON;
			won++;
			continue;
		}
		out[i] = CLAIM_LOST;
		if (found != NULL)
			claimstore_decode(v[j].cur, v[j].curlen, &found[i]);
	}
out:
	items_free(&it);
	return won;
}

int
claimstore_umtp_record(struct store *s, const struct claim_umtp *u,
                       const char *msgid, char *const *rcpts, size_t n,
                       long long ttl, enum claim_outcome *out, char *err,
                       size_t errlen)
{
	struct claim_umtp_record r = {u, msgid, rcpts, n, out};
	char pend[VALMAX], fin[VALMAX];
	struct items it;
	size_t m;
	int rc = STORE_OK;

	if (items_alloc(&it, n, err, errlen) < 0)
		return STORE_ERR;
	m = record_items(&r, ttl, it.v, it.keys, it.of, pend, fin);
	if (m > 0 &&
	    (rc = store_cas(s, it.v, m, STORE_DEFER_SYNC, err, errlen)) == STORE_OK)
		rc = record_finish(s, &r, it.v, m, it.of, err, errlen);
	items_free(&it);
	return rc;
}

int
claimstore_umtp_release(struct store *s, const struct claim_umtp *u,
                        const char *msgid, char *const *rcpts, size_t n,
                        const enum claim_outcome *out, char *err,
                        size_t errlen)
{
	char pend[VALMAX];
	size_t m = 0, plen = encode_pending(u, pend);
	struct items it;
	int rc;

	if (items_alloc(&it, n, err, errlen) < 0)
		return STORE_ERR;
	for (size_t i = 0; i < n; i++) {
		if (out[i] != CLAIM_WON)
			continue;
		it.v[m].key = it.keys[m];
		it.v[m].klen = claimstore_key(msgid, rcpts[i], it.keys[m]);
		it.v[m].expect = pend;
		it.v[m].elen = plen;
		m++;
	}
	rc = store_cas(s, it.v, m, 0, err, errlen);
	items_free(&it);
	return rc;
}

int
claimstore_smtp(struct store *s, char *const *msgids, size_t nmsgid,
                char *const *rcpts, size_t n, long long now_ms,
                long long ttl, enum claim_verdict *verdict,
                struct claim *found, char *err, size_t errlen)
{
	size_t m = 0;
	struct items it;
	/* Redis expires an abandoned PENDING by its own clock: ours only
	 * backs that up, so it waits longer before trusting itself. */
	struct takeover t = {now_ms, ttl, store_expires(s) ? CLAIM_SKEW_MS : 0};
	char val[VALMAX];
	size_t vlen = encode_final((time_t)(now_ms / 1000), CLAIM_SMTP, val);
	int rc = STORE_OK;

	for (size_t i = 0; i < n; i++) {
		verdict[i] = CLAIM_KEEP;
		if (found != NULL)
			memset(&found[i], 0, sizeof(found[i]));
	}
	if (items_alloc(&it, nmsgid * n, err, errlen) < 0)
		return STORE_ERR;
	struct store_cas *v = it.v;
	char (*keys)[CLAIM_KEYMAX] = it.keys;
	size_t *of = it.of;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < nmsgid; k++) {
			size_t kl = claimstore_key(msgids[k], rcpts[i], keys[m]);
			if (kl == 0)
				continue;
			v[m].key = keys[m];
			v[m].klen = kl;
			v[m].val = val;
			v[m].vlen = vlen;
			v[m].ttl_ms = ttl * 1000;
			of[m++] = i;
		}
	if (m > 0 && (rc = claim_rounds(s, v, m, &t, 0, err, errlen)) != STORE_OK)
		goto out;
	for (size_t j = 0; j < m; j++) {
		size_t i = of[j];
		struct claim c;
		if (v[j].done || !v[j].found ||
		    claimstore_decode(v[j].cur, v[j].curlen, &c) < 0)
			continue; /* ours, or unreadable: the SMTP copy delivers */
		if (c.state == CLAIM_UMTP && verdict[i] != CLAIM_DROP) {
			verdict[i] = CLAIM_DROP;
			if (found != NULL)
				found[i] = c;
		} else if (c.state == CLAIM_PENDING && verdict[i] == CLAIM_KEEP) {
			verdict[i] = CLAIM_WAIT;
			if (found != NULL)
				found[i] = c;
		}
	}
out:
	items_free(&it);
	return rc;
}

struct sweep {
	long long now_ms, ttl;
};

static int
sweep_keep(void *arg, const char *key, size_t klen, const char *val,
           size_t vlen)
{
	struct sweep *s = arg;
	struct claim c;

	(void)key, (void)klen;
	if (claimstore_decode(val, vlen, &c) < 0)
		return 0;
	if (c.state == CLAIM_PENDING)
		return s->now_ms < c.deadline_ms;
	return !stale(&c, s->now_ms, s->ttl);
}

long
claimstore_sweep(struct store *s, time_t now, long long ttl, size_t batch,
                 char *err, size_t errlen)
{
	struct sweep sw = {(long long)now * 1000, ttl};

	return store_sweep(s, sweep_keep, &sw, batch, err, errlen);
}
