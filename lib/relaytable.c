/*
 * relaytable.c - the relay table's records on top of table.c.
 *
 * Interface (relaytable.h): relaytable_path(), relaytable_check(),
 * relaytable_op(), relaytable_decode(), relaytable_sweep(), and the
 * record's pieces, which the Redis store (relaystore.c) writes too.
 *
 * A record is "<canonical address>\0" -> "<decimal expiry>\0", the form
 * Postfix's access(5) lookups find (the key as Postfix prints the client
 * address, an all-numerical value meaning OK).  Postfix never looks at the
 * number, so an expired record is as good as a live one to it: sweeping
 * promptly is what takes the permission away.
 *
 * Strictness: relaytable_decode() accepts only what relaytable_op()
 * writes: a key in canonical form (a record under any other spelling would
 * never be found, by us or by Postfix) and a value of 1 to 19 decimal
 * digits.  Anything else is malformed; relaytable_check() reads a
 * malformed value as "not relayed" (fail closed), and relaytable_sweep()
 * deletes malformed records along with expired ones.
 *
 * Speed: relayd encodes a record per login while catching up on a log
 * (half a million in a benchmark), so keys of plain IPv4 addresses and
 * values are formatted by hand here rather than with snprintf(), which
 * was a fifth of relayd's CPU time; anything else goes to addr_format().
 * The unit tests check that both spell every key the same way.
 *
 * Limit: table.h has no conditional delete, so the sweep reads what has
 * expired and deletes it in a later transaction.  Just before each batch
 * it reads each record again and keeps the ones refreshed meanwhile (by
 * `leafmail-relayd -a` in another process, say); the window left between
 * that read and the delete is microseconds wide.
 */
#include "relaytable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELAYTABLE_VALLEN 24 /* value buffer: 19 digits + NUL, rounded up */

int
relaytable_path(const char *table, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s.lmdb", table);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* "<1 to 19 digits>" (no NUL inside), as a time_t; -1 if malformed. */
int
relaytable_parse_expiry(const char *s, size_t len, time_t *out)
{
	long long v = 0;
	size_t i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0'); /* 19 digits fit in a long long */
	}
	if ((long long)(time_t)v != v)
		return -1;
	*out = (time_t)v;
	return 0;
}

/* Decimal digits of v (< 1000) at p, no leading zeros; returns the end. */
static char *
put_octet(char *p, unsigned v)
{
	if (v >= 100)
		*p++ = (char)('0' + v / 100);
	if (v >= 10)
		*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/* The key text of a (addr_format()'s canonical form) and its NUL into
 * buf (ADDR_STRLEN + 1 bytes); returns the length including the NUL. */
size_t
relaytable_key(const struct addr *a, char *buf)
{
	if (a->family == AF_INET) {
		char *p = buf;
		for (int i = 0; i < 4; i++) {
			if (i > 0)
				*p++ = '.';
			p = put_octet(p, a->bytes[i]);
		}
		*p++ = '\0';
		return (size_t)(p - buf);
	}
	addr_format(a, buf, ADDR_STRLEN + 1);
	return strlen(buf) + 1;
}

/* "%lld" of v and its NUL into buf (24 bytes); returns the length
 * including the NUL. */
size_t
relaytable_expiry(long long v, char *buf)
{
	char tmp[24];
	size_t n = 0, i = 0;
	/* the magnitude, also of LLONG_MIN */
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v
	                             : (unsigned long long)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[i++] = '-';
	while (n > 0)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
	return i + 1;
}

void
relaytable_op(struct lmdbfile_op *op, const struct addr *a, time_t expires,
              char *keybuf, char *valbuf)
{
	memset(op, 0, sizeof(*op));
	op->key = keybuf;
	op->klen = relaytable_key(a, keybuf);
	if (expires == 0) {
		op->del = 1;
		return;
	}
	op->val = valbuf;
	op->vlen = relaytable_expiry((long long)expires, valbuf);
}

int
relaytable_decode(const void *key, size_t klen, const void *val,
                  size_t vlen, struct addr *a, time_t *expires)
{
	const char *k = key, *v = val;
	char canon[ADDR_STRLEN + 1];

	if (klen < 2 || klen > ADDR_STRLEN || k[klen - 1] != '\0' ||
	    memchr(k, '\0', klen - 1) != NULL)
		return -1;
	if (addr_parsen(k, klen - 1, a) == -1)
		return -1;
	addr_format(a, canon, sizeof(canon));
	if (strcmp(canon, k) != 0)
		return -1;
	if (vlen < 2 || v[vlen - 1] != '\0')
		return -1;
	return relaytable_parse_expiry(v, vlen - 1, expires);
}

int
relaytable_check(struct lmdbfile *t, const struct addr *a, time_t now,
                 time_t *expires, char *err, size_t errlen)
{
	char key[ADDR_STRLEN + 1], val[RELAYTABLE_VALLEN + 8];
	time_t e;
	int rc;

	if (expires != NULL)
		*expires = 0;
	rc = lmdbfile_get(t, key, relaytable_key(a, key), val, sizeof(val), err,
	               errlen);
	if (rc == LMDBFILE_ERR)
		return LMDBFILE_ERR;
	if (rc == LMDBFILE_NOTFOUND)
		return 0;
	/* lmdbfile_get truncates to our buffer: a long value fails the
	 * 19-digit limit rather than reading as a shorter number. */
	if (relaytable_parse_expiry(val, strlen(val), &e) == -1)
		return 0;
	if (expires != NULL)
		*expires = e;
	return e > now ? 1 : 0;
}

/* Keys to delete, copied out of the read transaction. */
struct sweep_key {
	void *key;
	size_t klen;
};

struct sweep {
	time_t now;
	struct sweep_key *v;
	size_t n, cap;
	int oom;
};

static int
sweep_visit(void *arg, const void *key, size_t klen, const void *val,
            size_t vlen)
{
	struct sweep *s = arg;
	struct addr a;
	time_t e;
	void *k;

	if (relaytable_decode(key, klen, val, vlen, &a, &e) == 0 && e > s->now)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *v = realloc(s->v, cap * sizeof(*s->v));
		if (v == NULL) {
			s->oom = 1;
			return 1;
		}
		s->v = v;
		s->cap = cap;
	}
	if ((k = malloc(klen)) == NULL) {
		s->oom = 1;
		return 1;
	}
	memcpy(k, key, klen);
	s->v[s->n].key = k;
	s->v[s->n].klen = klen;
	s->n++;
	return 0;
}

static void
sweep_free(struct sweep *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].key);
	free(s->v);
}

/* Still expired or malformed now?  (It may have been refreshed.) */
static int
still_stale(struct lmdbfile *t, const void *key, size_t klen, time_t now,
            char *err, size_t errlen)
{
	char val[RELAYTABLE_VALLEN + 8];
	struct addr a;
	time_t e;
	int rc;

	rc = lmdbfile_get(t, key, klen, val, sizeof(val), err, errlen);
	if (rc != LMDBFILE_OK)
		return rc == LMDBFILE_ERR ? LMDBFILE_ERR : 0; /* gone already */
	if (relaytable_decode(key, klen, val, strlen(val) + 1, &a, &e) == -1)
		return 1;
	return e <= now;
}

long
relaytable_sweep(struct lmdbfile *t, time_t now, size_t batch, char *err,
                 size_t errlen)
{
	struct sweep s = {now, NULL, 0, 0, 0};
	struct lmdbfile_op *ops = NULL;
	size_t i, nops;
	long deleted = 0;
	int rc;

	if (batch == 0)
		batch = 1;
	rc = lmdbfile_foreach(t, sweep_visit, &s, err, errlen);
	if (rc == LMDBFILE_ERR)
		goto fail;
	if (s.oom)
		goto oom;
	if (s.n > 0 && (ops = calloc(batch < s.n ? batch : s.n,
	                             sizeof(*ops))) == NULL)
		goto oom;
	for (i = 0; i < s.n;) {
		for (nops = 0; i < s.n && nops < batch; i++) {
			rc = still_stale(t, s.v[i].key, s.v[i].klen, now, err,
			                 errlen);
			if (rc == LMDBFILE_ERR)
				goto fail;
			if (rc == 0)
				continue;
			ops[nops].del = 1;
			ops[nops].key = s.v[i].key;
			ops[nops].klen = s.v[i].klen;
			nops++;
		}
		if (nops > 0 &&
		    lmdbfile_write(t, ops, nops, err, errlen) == LMDBFILE_ERR)
			goto fail;
		deleted += (long)nops;
	}
	free(ops);
	sweep_free(&s);
	return deleted;
oom:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: out of memory sweeping",
		         lmdbfile_path(t));
fail:
	free(ops);
	sweep_free(&s);
	return LMDBFILE_ERR;
}
