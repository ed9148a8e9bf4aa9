/*
 * relaystore.c - the relay table in LMDB or in Redis (relaystore.h).
 *
 * The LMDB side only forwards to relaytable.c.  The Redis side writes in
 * chunks of RS_CHUNK keys per command, all chunks pipelined on one
 * connection, so relayd catching up on a day of logs costs a handful of
 * round trips, not one per login.
 */
#include "relaystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaytable.h"

#define RS_CHUNK 512
#define RS_KEYMAX (REDIS_PREFIX_MAX + sizeof(RELAYSTORE_NS) + ADDR_STRLEN)

/* Never shortens a record: the latest login wins, whichever relayd host
 * reports it first.  KEYS[i] gets ARGV[i] (an expiry time) as its value
 * and as its EXPIREAT time unless it already holds a later one.  A key
 * of another type (a hash left by something else) is overwritten rather
 * than failing the whole batch, which relayd would retry for ever. */
static const char set_script[] =
    "for i = 1, #KEYS do "
    "local cur = redis.pcall('GET', KEYS[i]) "
    "if type(cur) == 'table' then cur = nil else cur = tonumber(cur) end "
    "if cur == nil or cur < tonumber(ARGV[i]) then "
    "redis.call('SET', KEYS[i], ARGV[i], 'EXAT', ARGV[i]) end "
    "end "
    "return #KEYS";

int
relaystore_wants_redis(cfg_t *cfg)
{
	return store_wants_redis(cfg, "relay", "store");
}

/* "<prefix>relay:<address>" into buf (RS_KEYMAX); its length. */
static size_t
redis_key(const struct store *s, const struct addr *a, char *buf)
{
	size_t n = (size_t)snprintf(buf, RS_KEYMAX, "%s%s", redis_prefix(s->r),
	                            s->ns);

	return n + relaytable_key(a, buf + n) - 1;
}

int
relaystore_check(struct store *s, const struct addr *a, time_t now,
                 time_t *expires, char *err, size_t errlen)
{
	char key[RS_KEYMAX];
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, 0};
	redisReply *rep;
	time_t e;
	int rc;

	if (s->t != NULL)
		return relaytable_check(s->t, a, now, expires, err, errlen);
	if (expires != NULL)
		*expires = 0;
	lens[1] = redis_key(s, a, key);
	if ((rep = redis_cmd(s->r, 2, argv, lens, err, errlen)) == NULL)
		return LMDBFILE_ERR;
	switch (rep->type) {
	case REDIS_REPLY_NIL:
		rc = 0;
		break;
	case REDIS_REPLY_STRING:
		/* Malformed (written by something else): not relayed. */
		if (relaytable_parse_expiry(rep->str, rep->len, &e) == -1) {
			rc = 0;
			break;
		}
		if (expires != NULL)
			*expires = e;
		rc = e > now ? 1 : 0;
		break;
	case REDIS_REPLY_ERROR:
		snprintf(err, errlen, "redis %s: GET: %s", redis_name(s->r), rep->str);
		rc = LMDBFILE_ERR;
		break;
	default:
		snprintf(err, errlen, "redis %s: GET: unexpected reply type %d",
		         redis_name(s->r), rep->type);
		rc = LMDBFILE_ERR;
		break;
	}
	freeReplyObject(rep);
	return rc;
}

/* The Redis commands for v: runs of puts become EVALs of set_script,
 * runs of removals DELs, RS_CHUNK keys at most each. */
struct rs_batch {
	struct redis_cmd *cmds;
	const char **argv;
	size_t *lens;
	char (*keys)[RS_KEYMAX];
	char (*vals)[24];
	char (*nkeys)[8];
	size_t ncmd;
};

static void
rs_batch_free(struct rs_batch *b)
{
	free(b->cmds);
	free(b->argv);
	free(b->lens);
	free(b->keys);
	free(b->vals);
	free(b->nkeys);
	memset(b, 0, sizeof(*b));
}

static int
rs_batch_build(struct store *s, const struct relay_rec *v, size_t n,
               struct rs_batch *b)
{
	/* Per command at most 3 + 2 * RS_CHUNK arguments; n / RS_CHUNK + the
	 * runs' boundaries commands: bounded by n + 1. */
	size_t maxcmd = n + 1, slots = 3 * maxcmd + 2 * n, ai = 0, i = 0;

	memset(b, 0, sizeof(*b));
	b->cmds = calloc(maxcmd, sizeof(*b->cmds));
	b->argv = calloc(slots, sizeof(*b->argv));
	b->lens = calloc(slots, sizeof(*b->lens));
	b->keys = calloc(n ? n : 1, sizeof(*b->keys));
	b->vals = calloc(n ? n : 1, sizeof(*b->vals));
	b->nkeys = calloc(maxcmd, sizeof(*b->nkeys));
	if (b->cmds == NULL || b->argv == NULL || b->lens == NULL ||
	    b->keys == NULL || b->vals == NULL || b->nkeys == NULL) {
		rs_batch_free(b);
		return -1;
	}
	while (i < n) {
		int del = v[i].expires == 0;
		size_t j, k, start = ai;
		struct redis_cmd *c = &b->cmds[b->ncmd++];

		for (j = i; j < n && j - i < RS_CHUNK && (v[j].expires == 0) == del; j++)
			;
		k = j - i;
		if (del) {
			b->argv[ai] = "DEL";
			b->lens[ai++] = 3;
		} else {
			char *nk = b->nkeys[b->ncmd - 1];
			int len = snprintf(nk, sizeof(b->nkeys[0]), "%zu", k);
			b->argv[ai] = "EVAL";
			b->lens[ai++] = 4;
			b->argv[ai] = set_script;
			b->lens[ai++] = sizeof(set_script) - 1;
			b->argv[ai] = nk;
			b->lens[ai++] = (size_t)len;
		}
		for (size_t x = i; x < j; x++) {
			b->argv[ai] = b->keys[x];
			b->lens[ai++] = redis_key(s, &v[x].a, b->keys[x]);
		}
		if (!del)
			for (size_t x = i; x < j; x++) {
				b->argv[ai] = b->vals[x];
				b->lens[ai++] = relaytable_expiry((long long)v[x].expires,
				                                  b->vals[x]) - 1;
			}
		c->argc = (int)(ai - start);
		c->argv = &b->argv[start];
		c->lens = &b->lens[start];
		i = j;
	}
	return 0;
}

static int
redis_write(struct store *s, const struct relay_rec *v, size_t n,
            char *err, size_t errlen)
{
	struct rs_batch b;
	redisReply **rep;
	size_t i;
	int rc = LMDBFILE_OK;

	if (n == 0)
		return LMDBFILE_OK;
	if (rs_batch_build(s, v, n, &b) == -1) {
		snprintf(err, errlen, "out of memory");
		return LMDBFILE_ERR;
	}
	if ((rep = calloc(b.ncmd, sizeof(*rep))) == NULL) {
		rs_batch_free(&b);
		snprintf(err, errlen, "out of memory");
		return LMDBFILE_ERR;
	}
	if (redis_run(s->r, b.ncmd, b.cmds, rep, err, errlen) == -1) {
		rc = LMDBFILE_ERR;
	} else {
		for (i = 0; i < b.ncmd; i++) {
			if (rep[i]->type == REDIS_REPLY_ERROR && rc == LMDBFILE_OK) {
				snprintf(err, errlen, "redis %s: %s: %s",
				         redis_name(s->r), b.cmds[i].argv[0],
				         rep[i]->str);
				rc = LMDBFILE_ERR;
			}
			freeReplyObject(rep[i]);
		}
	}
	free(rep);
	rs_batch_free(&b);
	return rc;
}

int
relaystore_write(struct store *s, const struct relay_rec *v, size_t n,
                 int flags, char *err, size_t errlen)
{
	struct lmdbfile_op *ops;
	char(*keys)[ADDR_STRLEN + 1];
	char(*vals)[24];
	int rc = LMDBFILE_ERR;

	if (s->r != NULL)
		return redis_write(s, v, n, err, errlen);
	if (n == 0)
		return LMDBFILE_OK;
	ops = malloc(n * sizeof(*ops));
	keys = malloc(n * sizeof(*keys));
	vals = malloc(n * sizeof(*vals));
	if (ops == NULL || keys == NULL || vals == NULL) {
		snprintf(err, errlen, "out of memory");
	} else {
		for (size_t i = 0; i < n; i++)
			relaytable_op(&ops[i], &v[i].a, v[i].expires, keys[i], vals[i]);
		rc = lmdbfile_write_flags(s->t, ops, n, flags, err, errlen) == LMDBFILE_OK
		         ? LMDBFILE_OK
		         : LMDBFILE_ERR;
	}
	free(ops);
	free(keys);
	free(vals);
	return rc;
}

long
relaystore_sweep(struct store *s, time_t now, size_t batch, char *err,
                 size_t errlen)
{
	return s->t != NULL ? relaytable_sweep(s->t, now, batch, err, errlen) : 0;
}

struct lmdb_visit {
	relaystore_visit_fn fn;
	void *arg;
};

static int
lmdb_visit_one(void *arg, const void *key, size_t klen, const void *val,
               size_t vlen)
{
	struct lmdb_visit *lv = arg;
	struct addr a;
	time_t e;

	if (relaytable_decode(key, klen, val, vlen, &a, &e) == -1)
		return 0;
	return lv->fn(lv->arg, &a, e);
}

/* Redis SCAN's MATCH is a glob: the prefix's own *?[]\ must be escaped. */
static size_t
glob_escape(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *s != '\0' && n + 2 < outlen; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
	return n;
}

struct found {
	struct addr a;
	time_t e;
	char text[ADDR_STRLEN + 1];
};

static int
found_cmp(const void *x, const void *y)
{
	return strcmp(((const struct found *)x)->text,
	              ((const struct found *)y)->text);
}

/* Keys of one SCAN page, looked up with MGET, appended to *f. */
static int
scan_page(struct store *s, const redisReply *keys, struct found **f,
          size_t *nf, size_t *cap, char *err, size_t errlen)
{
	size_t plen = strlen(redis_prefix(s->r)) + strlen(s->ns), i;
	const char **argv;
	size_t *lens;
	redisReply *vals;
	int rc = LMDBFILE_OK;

	if (keys->elements == 0)
		return LMDBFILE_OK;
	argv = calloc(keys->elements + 1, sizeof(*argv));
	lens = calloc(keys->elements + 1, sizeof(*lens));
	if (argv == NULL || lens == NULL) {
		free(argv);
		free(lens);
		snprintf(err, errlen, "out of memory");
		return LMDBFILE_ERR;
	}
	argv[0] = "MGET";
	lens[0] = 4;
	for (i = 0; i < keys->elements; i++) {
		argv[i + 1] = keys->element[i]->str;
		lens[i + 1] = keys->element[i]->len;
	}
	vals = redis_cmd(s->r, (int)keys->elements + 1, argv, lens, err, errlen);
	free(argv);
	free(lens);
	if (vals == NULL)
		return LMDBFILE_ERR;
	if (vals->type != REDIS_REPLY_ARRAY || vals->elements != keys->elements) {
		snprintf(err, errlen, "redis %s: MGET: unexpected reply",
		         redis_name(s->r));
		freeReplyObject(vals);
		return LMDBFILE_ERR;
	}
	for (i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i], *v = vals->element[i];
		struct found x;

		if (k->type != REDIS_REPLY_STRING || k->len <= plen ||
		    k->len - plen > ADDR_STRLEN || v->type != REDIS_REPLY_STRING ||
		    addr_parsen(k->str + plen, k->len - plen, &x.a) == -1 ||
		    relaytable_parse_expiry(v->str, v->len, &x.e) == -1)
			continue;
		addr_format(&x.a, x.text, sizeof(x.text));
		if (strlen(x.text) != k->len - plen ||
		    memcmp(x.text, k->str + plen, k->len - plen) != 0)
			continue; /* not canonical: not ours */
		if (*nf == *cap) {
			size_t nc = *cap ? 2 * *cap : 256;
			struct found *g = realloc(*f, nc * sizeof(*g));
			if (g == NULL) {
				snprintf(err, errlen, "out of memory");
				rc = LMDBFILE_ERR;
				break;
			}
			*f = g;
			*cap = nc;
		}
		(*f)[(*nf)++] = x;
	}
	freeReplyObject(vals);
	return rc;
}

static int
redis_foreach(struct store *s, relaystore_visit_fn fn, void *arg,
              char *err, size_t errlen)
{
	char pattern[2 * REDIS_PREFIX_MAX + 16], cursor[32] = "0";
	const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
	size_t lens[6] = {4, 0, 5, 0, 5, 4}, nf = 0, cap = 0, i;
	struct found *f = NULL;
	int rc = LMDBFILE_OK;

	lens[3] = glob_escape(redis_prefix(s->r), pattern, sizeof(pattern) - 16);
	lens[3] += (size_t)snprintf(pattern + lens[3], 16, "%s*", s->ns);
	do {
		redisReply *rep;
		lens[1] = strlen(cursor);
		if ((rep = redis_cmd(s->r, 6, argv, lens, err, errlen)) == NULL) {
			rc = LMDBFILE_ERR;
			break;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[0]->len >= sizeof(cursor) ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			snprintf(err, errlen, "redis %s: SCAN: %s", redis_name(s->r),
			         rep->type == REDIS_REPLY_ERROR ? rep->str
			                                        : "unexpected reply");
			freeReplyObject(rep);
			rc = LMDBFILE_ERR;
			break;
		}
		memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
		cursor[rep->element[0]->len] = '\0';
		rc = scan_page(s, rep->element[1], &f, &nf, &cap, err, errlen);
		freeReplyObject(rep);
	} while (rc == LMDBFILE_OK && strcmp(cursor, "0") != 0);
	if (rc == LMDBFILE_OK && nf > 0) {
		/* SCAN may return a key twice (the keyspace grew meanwhile). */
		qsort(f, nf, sizeof(*f), found_cmp);
		for (i = 0; i < nf; i++) {
			if (i > 0 && strcmp(f[i].text, f[i - 1].text) == 0)
				continue;
			if (fn(arg, &f[i].a, f[i].e) != 0)
				break;
		}
	}
	free(f);
	return rc;
}

int
relaystore_foreach(struct store *s, relaystore_visit_fn fn, void *arg,
                   char *err, size_t errlen)
{
	struct lmdb_visit lv = {fn, arg};

	if (s->r != NULL)
		return redis_foreach(s, fn, arg, err, errlen);
	return lmdbfile_foreach(s->t, lmdb_visit_one, &lv, err, errlen) == LMDBFILE_ERR
	           ? LMDBFILE_ERR
	           : LMDBFILE_OK;
}
