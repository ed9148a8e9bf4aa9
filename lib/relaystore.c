/*
 * relaystore.c - the relay table's records on a store (relaystore.h).
 *
 * Strictness: relaystore_decode() accepts only what relaystore_write()
 * writes: a key in canonical form (a record under any other spelling
 * would never be found, by us or by Postfix) and a value of 1 to 19
 * decimal digits.  relaystore_check() reads anything else as "not
 * relayed" (fail closed); relaystore_sweep() deletes it with the expired.
 *
 * Speed: relayd encodes a record per login while catching up on a log
 * (half a million in a benchmark), so keys of plain IPv4 addresses and
 * values are formatted by hand here rather than with snprintf(), which
 * was a fifth of relayd's CPU time; anything else goes to addr_format().
 * The unit tests check that both spell every key the same way.
 */
#include "relaystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS_VALLEN 24 /* value buffer: 19 digits + NUL, rounded up */

int
relaystore_path(const char *table, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s.lmdb", table);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
relaystore_spec(cfg_t *cfg, char *buf, size_t len, char *err, size_t errlen)
{
	cfg_t *rsec = cfg_getsec(cfg, "relay");
	const char *store = rsec != NULL ? cfg_getstr(rsec, "store") : NULL;
	const char *table = rsec != NULL ? cfg_getstr(rsec, "table") : NULL;
	int n;

	if (store != NULL && strcmp(store, "redis") == 0) {
		n = snprintf(buf, len, "redis:%s", RELAYSTORE_NS);
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
	if (table == NULL || table[0] == '\0' || len < 6 ||
	    relaystore_path(table, buf + 5, len - 5) == -1) {
		snprintf(err, errlen, "relay.table: path missing or too long");
		return -1;
	}
	memcpy(buf, "lmdb:", 5);
	return 0;
}

struct store *
relaystore_open(cfg_t *cfg, int mode, char *err, size_t errlen)
{
	char spec[4200];

	if (relaystore_spec(cfg, spec, sizeof(spec), err, errlen) == -1)
		return NULL;
	return store_open(cfg, spec, mode, err, errlen);
}

int
relaystore_parse_expiry(const char *s, size_t len, time_t *out)
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

size_t
relaystore_key(const struct addr *a, char *buf)
{
	if (a->family == AF_INET) {
		char *p = buf;
		for (int i = 0; i < 4; i++) {
			if (i > 0)
				*p++ = '.';
			p = put_octet(p, a->bytes[i]);
		}
		*p = '\0';
		return (size_t)(p - buf);
	}
	addr_format(a, buf, ADDR_STRLEN + 1);
	return strlen(buf);
}

size_t
relaystore_expiry(long long v, char *buf)
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
	return i;
}

int
relaystore_decode(const char *key, size_t klen, const char *val,
                  size_t vlen, struct addr *a, time_t *expires)
{
	char canon[ADDR_STRLEN + 1];

	if (klen < 1 || klen >= ADDR_STRLEN || memchr(key, '\0', klen) != NULL ||
	    addr_parsen(key, klen, a) == -1)
		return -1;
	addr_format(a, canon, sizeof(canon));
	if (strlen(canon) != klen || memcmp(canon, key, klen) != 0)
		return -1;
	return relaystore_parse_expiry(val, vlen, expires);
}

int
relaystore_check(struct store *s, const struct addr *a, time_t now,
                 time_t *expires, char *err, size_t errlen)
{
	char key[ADDR_STRLEN + 1], val[RS_VALLEN];
	size_t len;
	time_t e;
	int rc;

	if (expires != NULL)
		*expires = 0;
	rc = store_get(s, key, relaystore_key(a, key), val, sizeof(val), &len,
	               err, errlen);
	if (rc == STORE_ERR)
		return STORE_ERR;
	/* A value longer than our buffer fails the 19-digit limit rather
	 * than reading as a shorter number. */
	if (rc == STORE_NOTFOUND || len >= sizeof(val) ||
	    relaystore_parse_expiry(val, len, &e) == -1)
		return 0;
	if (expires != NULL)
		*expires = e;
	return e > now ? 1 : 0;
}

int
relaystore_write(struct store *s, const struct relay_rec *v, size_t n,
                 int flags, char *err, size_t errlen)
{
	struct store_op *ops;
	char(*keys)[ADDR_STRLEN + 1];
	char(*vals)[RS_VALLEN];
	int rc = STORE_ERR;

	if (n == 0)
		return STORE_OK;
	ops = calloc(n, sizeof(*ops));
	keys = malloc(n * sizeof(*keys));
	vals = malloc(n * sizeof(*vals));
	if (ops == NULL || keys == NULL || vals == NULL) {
		snprintf(err, errlen, "out of memory");
	} else {
		for (size_t i = 0; i < n; i++) {
			ops[i].key = keys[i];
			ops[i].klen = relaystore_key(&v[i].a, keys[i]);
			if (v[i].expires == 0) {
				ops[i].kind = STORE_DEL;
				continue;
			}
			ops[i].kind = STORE_PUT_GREATER;
			ops[i].val = vals[i];
			ops[i].vlen = relaystore_expiry((long long)v[i].expires, vals[i]);
			ops[i].expires = (long long)v[i].expires;
		}
		rc = store_write(s, ops, n, flags, err, errlen);
	}
	free(ops);
	free(keys);
	free(vals);
	return rc;
}

/* Keep the records that are well-formed and not yet expired. */
static int
sweep_keep(void *arg, const char *key, size_t klen, const char *val,
           size_t vlen)
{
	struct addr a;
	time_t e;

	return relaystore_decode(key, klen, val, vlen, &a, &e) == 0 &&
	       e > *(const time_t *)arg;
}

long
relaystore_sweep(struct store *s, time_t now, size_t batch, char *err,
                 size_t errlen)
{
	return store_sweep(s, sweep_keep, &now, batch, err, errlen);
}

struct visit {
	relaystore_visit_fn fn;
	void *arg;
};

static int
visit_one(void *arg, const char *key, size_t klen, const char *val,
          size_t vlen)
{
	struct visit *v = arg;
	struct addr a;
	time_t e;

	if (relaystore_decode(key, klen, val, vlen, &a, &e) == -1)
		return 0;
	return v->fn(v->arg, &a, e);
}

int
relaystore_foreach(struct store *s, relaystore_visit_fn fn, void *arg,
                   char *err, size_t errlen)
{
	struct visit v = {fn, arg};

	return store_foreach(s, visit_one, &v, err, errlen);
}
