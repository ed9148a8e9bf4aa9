/*
 * store_redis.c - the store backend "redis:NAMESPACE" (store.h): records
 * in a Redis server shared by several hosts, through redis.h (a pool of
 * connections with a deadline, settings from cfg's redis section).
 *
 * A record is the string key <redis.key-prefix><NAMESPACE><key> holding
 * the value; keys may hold any byte, NUL included (the claim store's
 * do).  Expiry is Redis's own: store_write() sets EXAT from op.expires,
 * store_cas() PX from ttl_ms, both by Redis's clock, so hosts whose
 * clocks disagree still agree on when a record goes; there is nothing to
 * sweep (store_sweep() returns 0, store_expires() is 1).
 *
 * One round trip per call: store_write() pipelines its commands (runs of
 * up to CHUNK keys per command), store_cas() is one EVAL of a Lua script,
 * which Redis runs atomically, so put-if-absent and compare-and-swap on
 * every key of a message happen with no other client in between.  A
 * stalled server costs one redis.timeout per call, never one per key.
 * redis.h may send a pipeline twice (a pooled connection the server had
 * closed); every command here is safe to repeat: greater-puts and
 * deletes are idempotent, and store_cas() reports a key that already
 * holds what it would write as done (store.h).
 *
 * Scripts go by EVALSHA (their SHA1, made once), so a round trip carries
 * the keys and values only; a server that does not know a script yet
 * (NOSCRIPT: it restarted) gets the same commands once more as EVAL,
 * which teaches it.
 *
 * A key of another type (a hash left by something else) under our name:
 * a greater-put overwrites it rather than failing the whole batch, which
 * relayd would retry for ever; store_cas() reports it found, holding "".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "redis.h"
#include "store_backend.h"

#define CHUNK 512
#define NSMAX 32
#define KEYBUF (REDIS_PREFIX_MAX + NSMAX + STORE_KEYMAX)

struct store_redis {
	struct store base;
	struct redis *r;
	char pfx[REDIS_PREFIX_MAX + NSMAX]; /* key-prefix + namespace */
	size_t plen;
};

/* KEYS[i] gets ARGV[i] unless it holds a number at least as great, and
 * then expires at ARGV[n + i] (0: never). */
static const char greater_script[] =
    "local n = #KEYS "
    "for i = 1, n do "
    "local cur = redis.pcall('GET', KEYS[i]) "
    "if type(cur) == 'table' then cur = nil else cur = tonumber(cur) end "
    "if cur == nil or cur < tonumber(ARGV[i]) then "
    "if tonumber(ARGV[n + i]) > 0 then "
    "redis.call('SET', KEYS[i], ARGV[i], 'EXAT', ARGV[n + i]) "
    "else redis.call('SET', KEYS[i], ARGV[i]) end "
    "end "
    "end "
    "return n";

/* store_cas(), as store_cas_decide() does it.  ARGV: four per key: flags
 * (1 expect given, 2 val given), expect, val, ttl_ms.  Per key: 1 done;
 * else 0 (holds nothing) or the value it holds ("" for another type). */
static const char cas_script[] =
    "local out = {} "
    "for i = 1, #KEYS do "
    "local b = 4 * (i - 1) "
    "local f = tonumber(ARGV[b + 1]) "
    "local cur = redis.pcall('GET', KEYS[i]) "
    "if type(cur) == 'table' then cur = '' end "
    "local exp = nil if f % 2 == 1 then exp = ARGV[b + 2] end "
    "local val = nil if f >= 2 then val = ARGV[b + 3] end "
    "local match = (exp == nil and cur == false) or (exp ~= nil and cur == exp) "
    "local already = (val == nil and cur == false) or (val ~= nil and cur == val) "
    "if match and not already then "
    "if val == nil then redis.call('DEL', KEYS[i]) "
    "elseif tonumber(ARGV[b + 4]) > 0 then "
    "redis.call('SET', KEYS[i], val, 'PX', ARGV[b + 4]) "
    "else redis.call('SET', KEYS[i], val) end "
    "end "
    "if match or already then out[i] = 1 "
    "elseif cur == false then out[i] = 0 "
    "else out[i] = cur end "
    "end "
    "return out";

/* The scripts' SHA1s in hex, made once. */
static char greater_sha[41], cas_sha[41];
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void
sha1_hex(const char *s, size_t n, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(s, n, md, &len, EVP_sha1(), NULL) != 1 || len != 20) {
		hex[0] = '\0'; /* never matches: EVAL is used */
		return;
	}
	for (unsigned i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
make_shas(void)
{
	sha1_hex(greater_script, sizeof(greater_script) - 1, greater_sha);
	sha1_hex(cas_script, sizeof(cas_script) - 1, cas_sha);
}

/* argv[0..1] of a script command: EVALSHA and the SHA1, or (eval set,
 * or no SHA1) EVAL and the script. */
static void
script_args(const char **argv, size_t *lens, const char *script,
            size_t slen, const char *sha, int eval)
{
	if (eval || sha[0] == '\0') {
		argv[0] = "EVAL";
		lens[0] = 4;
		argv[1] = script;
		lens[1] = slen;
	} else {
		argv[0] = "EVALSHA";
		lens[0] = 7;
		argv[1] = sha;
		lens[1] = 40;
	}
}

static int
noscript(const redisReply *rep)
{
	return rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

static struct store *
redis_open(cfg_t *cfg, const char *name, int mode, char *err, size_t errlen)
{
	struct store_redis *s;

	(void)mode; /* Redis creates nothing in advance */
	if (cfg == NULL) {
		snprintf(err, errlen, "store redis:%s: no configuration", name);
		return NULL;
	}
	if (strlen(name) >= NSMAX) {
		snprintf(err, errlen, "store redis:%s: namespace too long", name);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((s->r = redis_new(cfg, err, errlen)) == NULL) {
		free(s);
		return NULL;
	}
	s->base.be = &store_redis_backend;
	pthread_once(&sha_once, make_shas);
	snprintf(s->pfx, sizeof(s->pfx), "%s%s", redis_prefix(s->r), name);
	s->plen = strlen(s->pfx);
	snprintf(s->base.name, sizeof(s->base.name), "redis %s, keys %s*",
	         redis_name(s->r), s->pfx);
	return &s->base;
}

/* Every redis.* setting: a reload that changes none keeps the client. */
static int
redis_ident(cfg_t *cfg, const char *name, char *buf, size_t len)
{
	cfg_t *r = cfg != NULL ? cfg_getsec(cfg, "redis") : NULL;
	const char *a = r != NULL ? cfg_getstr(r, "address") : NULL;
	const char *pw = r != NULL ? cfg_getstr(r, "password-file") : NULL;
	const char *user = r != NULL ? cfg_getstr(r, "username") : NULL;
	int n;

	if (r == NULL)
		return -1;
	n = snprintf(buf, len, "redis:%s %s db %ld prefix \"%s\" user %s "
	             "password-file %s timeout %s", name, a ? a : "-",
	             cfg_getint(r, "database"), cfg_getstr(r, "key-prefix"),
	             user ? user : "-", pw ? pw : "-", cfg_getstr(r, "timeout"));
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
redis_close(struct store *st)
{
	struct store_redis *s = (struct store_redis *)st;

	redis_free(s->r);
	free(s);
}

/* "<prefix><ns><key>" into buf (KEYBUF); its length. */
static size_t
full_key(const struct store_redis *s, const char *key, size_t klen, char *buf)
{
	memcpy(buf, s->pfx, s->plen);
	memcpy(buf + s->plen, key, klen);
	return s->plen + klen;
}

static int
reply_error(const struct store_redis *s, const redisReply *rep,
            const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "redis %s: %s: %s", redis_name(s->r), what,
	         rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
	return STORE_ERR;
}

static int
redis_probe(struct store *st, char *err, size_t errlen)
{
	struct store_redis *s = (struct store_redis *)st;
	const char *argv[1] = {"PING"};
	size_t lens[1] = {4};
	redisReply *rep;
	int rc = STORE_OK;

	if ((rep = redis_cmd(s->r, 1, argv, lens, err, errlen)) == NULL)
		return STORE_ERR;
	if (rep->type == REDIS_REPLY_ERROR)
		rc = reply_error(s, rep, "PING", err, errlen);
	freeReplyObject(rep);
	return rc;
}

static int
redis_get(struct store *st, const char *key, size_t klen, char *val,
          size_t vlen, size_t *len, char *err, size_t errlen)
{
	struct store_redis *s = (struct store_redis *)st;
	char k[KEYBUF];
	const char *argv[2] = {"GET", k};
	size_t lens[2] = {3, full_key(s, key, klen, k)};
	redisReply *rep;
	int rc;

	if ((rep = redis_cmd(s->r, 2, argv, lens, err, errlen)) == NULL)
		return STORE_ERR;
	switch (rep->type) {
	case REDIS_REPLY_NIL:
		rc = STORE_NOTFOUND;
		break;
	case REDIS_REPLY_STRING:
		if (len != NULL)
			*len = rep->len;
		if (vlen > 0) {
			size_t c = rep->len < vlen - 1 ? rep->len : vlen - 1;
			memcpy(val, rep->str, c);
			val[c] = '\0';
		}
		rc = STORE_OK;
		break;
	default:
		rc = reply_error(s, rep, "GET", err, errlen);
		break;
	}
	freeReplyObject(rep);
	return rc;
}

/* The commands of a batch and the memory behind them. */
struct cmds {
	struct redis_cmd *c;
	const char **argv;
	size_t *lens;
	char (*keys)[KEYBUF];
	char (*nums)[24];
	size_t nc, ai, nnum;
};

static void
cmds_free(struct cmds *b)
{
	free(b->c);
	free(b->argv);
	free(b->lens);
	free(b->keys);
	free(b->nums);
}

/* Room for n keys in commands of at most CHUNK keys. */
static int
cmds_alloc(struct cmds *b, size_t n, size_t per_key, size_t nums)
{
	size_t maxcmd = n + 1, slots = 4 * maxcmd + per_key * n;

	memset(b, 0, sizeof(*b));
	b->c = calloc(maxcmd, sizeof(*b->c));
	b->argv = calloc(slots, sizeof(*b->argv));
	b->lens = calloc(slots, sizeof(*b->lens));
	b->keys = calloc(n, sizeof(*b->keys));
	b->nums = calloc(nums + maxcmd, sizeof(*b->nums));
	if (b->c == NULL || b->argv == NULL || b->lens == NULL ||
	    b->keys == NULL || b->nums == NULL) {
		cmds_free(b);
		return -1;
	}
	return 0;
}

static void
arg(struct cmds *b, const char *p, size_t len)
{
	b->argv[b->ai] = p;
	b->lens[b->ai++] = len;
}

static const char *
num(struct cmds *b, long long v, size_t *len)
{
	char *p = b->nums[b->nnum++];

	*len = (size_t)snprintf(p, sizeof(b->nums[0]), "%lld", v);
	return p;
}

/* Run the commands; replies checked for errors.  A NOSCRIPT reply (the
 * server restarted since it last saw our scripts) runs them all again
 * with EVAL: every command here may be repeated.  STORE_OK/STORE_ERR. */
static int
cmds_run(struct store_redis *s, struct cmds *b, char *err, size_t errlen)
{
	redisReply **rep = calloc(b->nc, sizeof(*rep));
	int rc = STORE_OK, again = 0;

	if (rep == NULL) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERR;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (redis_run(s->r, b->nc, b->c, rep, err, errlen) == -1) {
			free(rep);
			return STORE_ERR;
		}
		again = 0;
		for (size_t i = 0; i < b->nc; i++)
			again |= noscript(rep[i]);
		for (size_t i = 0; i < b->nc; i++) {
			if (!again && rep[i]->type == REDIS_REPLY_ERROR && rc == STORE_OK)
				rc = reply_error(s, rep[i], b->c[i].argv[0], err, errlen);
			freeReplyObject(rep[i]);
		}
		if (!again)
			break;
		for (size_t i = 0; i < b->nc; i++) {
			size_t at = (size_t)(b->c[i].argv - b->argv);
			if (strcmp(b->argv[at], "EVALSHA") == 0)
				script_args(b->argv + at, b->lens + at, greater_script,
				            sizeof(greater_script) - 1, greater_sha, 1);
		}
	}
	free(rep);
	return rc;
}

static int
redis_write(struct store *st, const struct store_op *ops, size_t n,
            int flags, char *err, size_t errlen)
{
	struct store_redis *s = (struct store_redis *)st;
	struct cmds b;
	size_t i = 0, j, x, l;
	int rc;

	(void)flags;
	if (cmds_alloc(&b, n, 6, 2 * n) == -1) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERR;
	}
	while (i < n) {
		int kind = ops[i].kind;
		size_t start = b.ai;
		struct redis_cmd *c = &b.c[b.nc++];

		for (j = i; j < n && j - i < CHUNK && ops[j].kind == kind; j++)
			;
		if (kind == STORE_PUT && j > i + 1)
			j = i + 1; /* plain puts: one SET each (with EXAT) */
		if (kind == STORE_DEL) {
			arg(&b, "DEL", 3);
		} else if (kind == STORE_PUT) {
			arg(&b, "SET", 3);
		} else {
			script_args(b.argv + b.ai, b.lens + b.ai, greater_script,
			            sizeof(greater_script) - 1, greater_sha, 0);
			b.ai += 2;
			const char *p = num(&b, (long long)(j - i), &l);
			arg(&b, p, l);
		}
		for (x = i; x < j; x++)
			arg(&b, b.keys[x], full_key(s, ops[x].key, ops[x].klen, b.keys[x]));
		if (kind == STORE_PUT) {
			arg(&b, ops[i].val, ops[i].vlen);
			if (ops[i].expires > 0) {
				arg(&b, "EXAT", 4);
				const char *p = num(&b, ops[i].expires, &l);
				arg(&b, p, l);
			}
		} else if (kind == STORE_PUT_GREATER) {
			for (x = i; x < j; x++)
				arg(&b, ops[x].val, ops[x].vlen);
			for (x = i; x < j; x++) {
				const char *p = num(&b, ops[x].expires, &l);
				arg(&b, p, l);
			}
		}
		c->argc = (int)(b.ai - start);
		c->argv = &b.argv[start];
		c->lens = &b.lens[start];
		i = j;
	}
	rc = cmds_run(s, &b, err, errlen);
	cmds_free(&b);
	return rc;
}

static int
redis_cas(struct store *st, struct store_cas *v, size_t n, int flags,
          char *err, size_t errlen)
{
	struct store_redis *s = (struct store_redis *)st;
	struct cmds b;
	redisReply *rep = NULL;
	size_t i, l;
	int rc = STORE_ERR;

	(void)flags;
	if (cmds_alloc(&b, n, 5, 3 * n) == -1) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERR;
	}
	script_args(b.argv, b.lens, cas_script, sizeof(cas_script) - 1,
	            cas_sha, 0);
	b.ai = 2;
	const char *p = num(&b, (long long)n, &l);
	arg(&b, p, l);
	for (i = 0; i < n; i++)
		arg(&b, b.keys[i], full_key(s, v[i].key, v[i].klen, b.keys[i]));
	for (i = 0; i < n; i++) {
		p = num(&b, (v[i].expect != NULL ? 1 : 0) + (v[i].val != NULL ? 2 : 0),
		        &l);
		arg(&b, p, l);
		/* a NULL value's length counts for nothing */
		arg(&b, v[i].expect != NULL ? v[i].expect : "",
		    v[i].expect != NULL ? v[i].elen : 0);
		arg(&b, v[i].val != NULL ? v[i].val : "",
		    v[i].val != NULL ? v[i].vlen : 0);
		p = num(&b, v[i].ttl_ms > 0 ? v[i].ttl_ms : 0, &l);
		arg(&b, p, l);
	}
	rep = redis_cmd(s->r, (int)b.ai, b.argv, b.lens, err, errlen);
	if (rep != NULL && noscript(rep)) {
		freeReplyObject(rep);
		script_args(b.argv, b.lens, cas_script,
		            sizeof(cas_script) - 1, cas_sha, 1);
		rep = redis_cmd(s->r, (int)b.ai, b.argv, b.lens, err, errlen);
	}
	cmds_free(&b);
	if (rep == NULL)
		return STORE_ERR;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
		reply_error(s, rep, "EVAL", err, errlen);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const redisReply *e = rep->element[i];
		if (e->type == REDIS_REPLY_INTEGER) {
			v[i].done = e->integer == 1;
		} else if (e->type == REDIS_REPLY_STRING) {
			v[i].found = 1;
			v[i].curlen = e->len < STORE_VALMAX - 1 ? e->len : STORE_VALMAX - 1;
			memcpy(v[i].cur, e->str, v[i].curlen);
			v[i].cur[v[i].curlen] = '\0';
		} else {
			reply_error(s, e, "EVAL", err, errlen);
			goto out;
		}
	}
	rc = STORE_OK;
out:
	if (rc != STORE_OK)
		for (i = 0; i < n; i++)
			v[i].done = v[i].found = 0;
	freeReplyObject(rep);
	return rc;
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
	char *key, *val;
	size_t klen, vlen;
};

static int
found_cmp(const void *x, const void *y)
{
	const struct found *a = x, *b = y;
	int c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);

	return c != 0 ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/* Keys of one SCAN page, read with MGET, appended to *f. */
static int
scan_page(struct store_redis *s, const redisReply *keys, struct found **f,
          size_t *nf, size_t *cap, char *err, size_t errlen)
{
	const char **argv;
	size_t *lens, i;
	redisReply *vals;
	int rc = STORE_OK;

	if (keys->elements == 0)
		return STORE_OK;
	argv = calloc(keys->elements + 1, sizeof(*argv));
	lens = calloc(keys->elements + 1, sizeof(*lens));
	if (argv == NULL || lens == NULL) {
		free(argv);
		free(lens);
		snprintf(err, errlen, "out of memory");
		return STORE_ERR;
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
		return STORE_ERR;
	if (vals->type != REDIS_REPLY_ARRAY || vals->elements != keys->elements) {
		rc = reply_error(s, vals, "MGET", err, errlen);
		freeReplyObject(vals);
		return rc;
	}
	for (i = 0; i < keys->elements && rc == STORE_OK; i++) {
		const redisReply *k = keys->element[i], *v = vals->element[i];
		struct found x;

		if (k->type != REDIS_REPLY_STRING || k->len <= s->plen ||
		    k->len - s->plen >= STORE_KEYMAX || v->type != REDIS_REPLY_STRING)
			continue; /* gone meanwhile, or not a string */
		x.klen = k->len - s->plen;
		x.vlen = v->len;
		x.key = malloc(x.klen + 1);
		x.val = malloc(x.vlen + 1);
		if (*nf == *cap) {
			size_t nc = *cap ? 2 * *cap : 256;
			struct found *g = realloc(*f, nc * sizeof(*g));
			if (g != NULL) {
				*f = g;
				*cap = nc;
			}
		}
		if (x.key == NULL || x.val == NULL || *nf == *cap) {
			free(x.key);
			free(x.val);
			snprintf(err, errlen, "out of memory");
			rc = STORE_ERR;
			break;
		}
		memcpy(x.key, k->str + s->plen, x.klen);
		x.key[x.klen] = '\0';
		memcpy(x.val, v->str, x.vlen);
		x.val[x.vlen] = '\0';
		(*f)[(*nf)++] = x;
	}
	freeReplyObject(vals);
	return rc;
}

static int
redis_foreach(struct store *st, store_visit_fn fn, void *arg, char *err,
              size_t errlen)
{
	struct store_redis *s = (struct store_redis *)st;
	char pattern[2 * sizeof(s->pfx) + 2], cursor[32] = "0";
	const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
	size_t lens[6] = {4, 0, 5, 0, 5, 4}, nf = 0, cap = 0, i;
	struct found *f = NULL;
	int rc = STORE_OK;

	lens[3] = glob_escape(s->pfx, pattern, sizeof(pattern) - 2);
	pattern[lens[3]++] = '*';
	pattern[lens[3]] = '\0';
	do {
		redisReply *rep;
		lens[1] = strlen(cursor);
		if ((rep = redis_cmd(s->r, 6, argv, lens, err, errlen)) == NULL) {
			rc = STORE_ERR;
			break;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[0]->len >= sizeof(cursor) ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			rc = reply_error(s, rep, "SCAN", err, errlen);
			freeReplyObject(rep);
			break;
		}
		memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
		cursor[rep->element[0]->len] = '\0';
		rc = scan_page(s, rep->element[1], &f, &nf, &cap, err, errlen);
		freeReplyObject(rep);
	} while (rc == STORE_OK && strcmp(cursor, "0") != 0);
	if (rc == STORE_OK && nf > 0) {
		/* Sorted as LMDB keeps them; SCAN may return a key twice
		 * (the keyspace grew meanwhile). */
		qsort(f, nf, sizeof(*f), found_cmp);
		for (i = 0; i < nf; i++) {
			if (i > 0 && found_cmp(&f[i], &f[i - 1]) == 0)
				continue;
			if (fn(arg, f[i].key, f[i].klen, f[i].val, f[i].vlen) != 0)
				break;
		}
	}
	for (i = 0; i < nf; i++) {
		free(f[i].key);
		free(f[i].val);
	}
	free(f);
	return rc;
}

static long
redis_sweep(struct store *st, store_visit_fn keep, void *arg, size_t batch,
            char *err, size_t errlen)
{
	(void)st, (void)keep, (void)arg, (void)batch, (void)err, (void)errlen;
	return 0; /* every record expires by itself */
}

static int
redis_sync(struct store *st, char *err, size_t errlen)
{
	(void)st, (void)err, (void)errlen;
	return STORE_OK;
}

const struct store_backend store_redis_backend = {
	"redis", 1,
	redis_open, redis_ident, redis_close, redis_probe, redis_get, redis_write,
	redis_cas, redis_foreach, redis_sweep, redis_sync,
};
