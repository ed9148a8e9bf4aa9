/*
 * store_lmdb.c - the store backend "lmdb:PATH" (store.h): one LMDB file
 * on this host, through lmdbfile.h, so under Postfix's whole-file locking
 * protocol and readable by Postfix as lmdb:PATH without the ".lmdb".
 *
 * The file is opened on first use, not by store_open(): an LMDB
 * environment must not cross a fork(), and daemons make their handles
 * before they detach.  Until it opens, every call tries again (the
 * caller answers 451 or drops a datagram meanwhile); once open, it is one
 * atomic load per call and no lock.
 *
 * Records carry the NUL after key and value (store.h), which is how
 * Postfix looks keys up; a record without those NULs is none of ours:
 * store_foreach() skips it and store_sweep() deletes it.
 *
 * Writes: STORE_PUT and STORE_DEL are plain lmdbfile puts and deletes;
 * STORE_PUT_GREATER and store_cas() decide per key inside one
 * lmdbfile_update() transaction, under the exclusive file lock, so no
 * writer of any process comes in between the read and the write.  The
 * sweep reads what to delete in a read transaction, then deletes each
 * record in a write transaction only if it still holds the value seen:
 * a record written again meanwhile (a new login, a new claim) stays.
 * Records have no expiry of their own here (store_expires() is 0): the
 * stores above sweep by what their values say.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdbfile.h"
#include "store_backend.h"

struct store_lmdb {
	struct store base;
	int mode; /* LMDBFILE_* */
	pthread_mutex_t mu; /* serialises opening */
	_Atomic(struct lmdbfile *) f;
	char path[4096];
};

static struct store *
lmdb_open(cfg_t *cfg, const char *name, int mode, char *err, size_t errlen)
{
	struct store_lmdb *l;

	(void)cfg;
	if (name[0] == '\0' || strlen(name) >= sizeof(l->path)) {
		snprintf(err, errlen, "store lmdb:%s: no path, or too long", name);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->base.be = &store_lmdb_backend;
	snprintf(l->base.name, sizeof(l->base.name), "%s", name);
	strcpy(l->path, name);
	if (mode & STORE_WRITE)
		l->mode = LMDBFILE_WRITE |
		          ((mode & STORE_PRIVATE) ? LMDBFILE_PRIVATE : 0);
	else
		l->mode = LMDBFILE_READ_MISSING_OK;
	pthread_mutex_init(&l->mu, NULL);
	atomic_init(&l->f, NULL);
	return &l->base;
}

static int
lmdb_ident(cfg_t *cfg, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "lmdb:%s", name);

	(void)cfg;
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
lmdb_close(struct store *s)
{
	struct store_lmdb *l = (struct store_lmdb *)s;

	lmdbfile_close(atomic_load(&l->f));
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* The file, opened now if need be; NULL with err. */
static struct lmdbfile *
file(struct store *s, char *err, size_t errlen)
{
	struct store_lmdb *l = (struct store_lmdb *)s;
	struct lmdbfile *f = atomic_load_explicit(&l->f, memory_order_acquire);

	if (f != NULL)
		return f;
	pthread_mutex_lock(&l->mu);
	if ((f = atomic_load_explicit(&l->f, memory_order_acquire)) == NULL &&
	    (f = lmdbfile_open(l->path, l->mode, err, errlen)) != NULL)
		atomic_store_explicit(&l->f, f, memory_order_release);
	pthread_mutex_unlock(&l->mu);
	return f;
}

static int
lmdb_probe(struct store *s, char *err, size_t errlen)
{
	return file(s, err, errlen) != NULL ? STORE_OK : STORE_ERR;
}

static int
lmdb_get(struct store *s, const char *key, size_t klen, char *val,
         size_t vlen, size_t *len, char *err, size_t errlen)
{
	struct lmdbfile *f = file(s, err, errlen);
	char buf[STORE_VALMAX + 2];
	int rc;

	if (f == NULL)
		return STORE_ERR;
	/* One byte over the value's NUL: a longer value shows as longer. */
	rc = lmdbfile_get(f, key, klen + 1, buf, sizeof(buf), err, errlen);
	if (rc != LMDBFILE_OK)
		return rc == LMDBFILE_NOTFOUND ? STORE_NOTFOUND : STORE_ERR;
	/* lmdbfile_get() copied the value and its NUL (ours) and added one:
	 * the value is what comes before the first NUL. */
	size_t n = strlen(buf);
	if (len != NULL)
		*len = n;
	if (vlen > 0) {
		size_t c = n < vlen - 1 ? n : vlen - 1;
		memcpy(val, buf, c);
		val[c] = '\0';
	}
	return STORE_OK;
}

/* A decimal number of 1 to 19 digits (no NUL inside), or -1. */
static long long
number(const char *s, size_t len)
{
	long long v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* A batch with greater-puts, all in one read-compare-write transaction;
 * plain puts and deletes in it are done as they are. */
static void
write_fn(void *arg, size_t i, const void *cur, size_t curlen,
         struct lmdbfile_op *op)
{
	const struct store_op *o = (const struct store_op *)arg + i;

	if (o->kind == STORE_DEL) {
		op->del = LMDBFILE_DEL;
		return;
	}
	/* A greater (or equal) number already there stays. */
	if (o->kind == STORE_PUT_GREATER && cur != NULL && curlen > 0 &&
	    ((const char *)cur)[curlen - 1] == '\0' &&
	    number(cur, curlen - 1) >= number(o->val, o->vlen))
		return;
	op->del = LMDBFILE_PUT;
	op->val = o->val;
	op->vlen = o->vlen + 1;
}

static int
lmdb_write(struct store *s, const struct store_op *ops, size_t n, int flags,
           char *err, size_t errlen)
{
	struct lmdbfile *f = file(s, err, errlen);
	struct lmdbfile_op *v = calloc(n, sizeof(*v));
	int lf = (flags & STORE_DEFER_SYNC) ? LMDBFILE_DEFER_SYNC : 0;
	int greater = 0, rc;

	if (f == NULL || v == NULL) {
		if (f != NULL)
			snprintf(err, errlen, "out of memory");
		free(v);
		return STORE_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].del = ops[i].kind == STORE_DEL ? LMDBFILE_DEL : LMDBFILE_PUT;
		v[i].key = ops[i].key;
		v[i].klen = ops[i].klen + 1;
		v[i].val = ops[i].val;
		v[i].vlen = ops[i].kind == STORE_DEL ? 0 : ops[i].vlen + 1;
		greater |= ops[i].kind == STORE_PUT_GREATER;
	}
	if (greater)
		rc = lmdbfile_update(f, v, n, write_fn, (void *)ops, lf, err, errlen);
	else
		rc = lmdbfile_write_flags(f, v, n, lf, err, errlen);
	free(v);
	return rc == LMDBFILE_OK ? STORE_OK : STORE_ERR;
}

static void
cas_fn(void *arg, size_t i, const void *cur, size_t curlen,
       struct lmdbfile_op *op)
{
	struct store_cas *c = (struct store_cas *)arg + i;
	int ours = cur != NULL && curlen > 0 && ((const char *)cur)[curlen - 1] == '\0';

	/* A record without our NUL holds something we did not write: it
	 * matches no expectation, and it is reported as found. */
	if (cur != NULL && !ours) {
		c->found = 1;
		c->curlen = curlen < STORE_VALMAX - 1 ? curlen : STORE_VALMAX - 1;
		memcpy(c->cur, cur, c->curlen);
		c->cur[c->curlen] = '\0';
		c->done = 0;
		return;
	}
	if (!store_cas_decide(c, cur, cur != NULL ? curlen - 1 : 0))
		return;
	if (c->val == NULL) {
		op->del = LMDBFILE_DEL;
	} else {
		op->del = LMDBFILE_PUT;
		op->val = c->val;
		op->vlen = c->vlen + 1;
	}
}

static int
lmdb_cas(struct store *s, struct store_cas *v, size_t n, int flags,
         char *err, size_t errlen)
{
	struct lmdbfile *f = file(s, err, errlen);
	struct lmdbfile_op *k = calloc(n, sizeof(*k));
	int rc;

	if (f == NULL || k == NULL) {
		if (f != NULL)
			snprintf(err, errlen, "out of memory");
		free(k);
		return STORE_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		k[i].key = v[i].key;
		k[i].klen = v[i].klen + 1;
	}
	rc = lmdbfile_update(f, k, n, cas_fn, v,
	                     (flags & STORE_DEFER_SYNC) ? LMDBFILE_DEFER_SYNC : 0,
	                     err, errlen);
	free(k);
	if (rc != LMDBFILE_OK)
		for (size_t i = 0; i < n; i++)
			v[i].done = v[i].found = 0;
	return rc == LMDBFILE_OK ? STORE_OK : STORE_ERR;
}

/* key and value without their NULs; 0 when the record is not ours. */
static int
strip(const void *key, size_t *klen, const void *val, size_t *vlen)
{
	if (*klen < 2 || ((const char *)key)[*klen - 1] != '\0' || *vlen < 1 ||
	    ((const char *)val)[*vlen - 1] != '\0')
		return 0;
	(*klen)--;
	(*vlen)--;
	return 1;
}

struct visit {
	store_visit_fn fn;
	void *arg;
};

static int
visit_one(void *arg, const void *key, size_t klen, const void *val,
          size_t vlen)
{
	struct visit *v = arg;

	if (!strip(key, &klen, val, &vlen))
		return 0;
	return v->fn(v->arg, key, klen, val, vlen);
}

static int
lmdb_foreach(struct store *s, store_visit_fn fn, void *arg, char *err,
             size_t errlen)
{
	struct lmdbfile *f = file(s, err, errlen);
	struct visit v = {fn, arg};

	if (f == NULL)
		return STORE_ERR;
	return lmdbfile_foreach(f, visit_one, &v, err, errlen) == LMDBFILE_ERR
	           ? STORE_ERR
	           : STORE_OK;
}

/* Records to delete, copied out of the read transaction: key and value
 * as stored (NULs included), one allocation each. */
struct doomed {
	char *rec; /* key, then value */
	size_t klen, vlen;
};

struct sweep {
	store_visit_fn keep;
	void *arg;
	struct doomed *v;
	size_t n, cap;
	int oom;
};

static int
sweep_visit(void *arg, const void *key, size_t klen, const void *val,
            size_t vlen)
{
	struct sweep *s = arg;
	size_t k = klen, l = vlen;
	char *rec;

	if (strip(key, &k, val, &l) && s->keep(s->arg, key, k, val, l))
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
	if ((rec = malloc(klen + vlen)) == NULL) {
		s->oom = 1;
		return 1;
	}
	memcpy(rec, key, klen);
	memcpy(rec + klen, val, vlen);
	s->v[s->n].rec = rec;
	s->v[s->n].klen = klen;
	s->v[s->n].vlen = vlen;
	s->n++;
	return 0;
}

struct unchanged {
	const struct doomed *v;
	long deleted;
};

/* Delete only what still holds the value the sweep saw. */
static void
unchanged_fn(void *arg, size_t i, const void *cur, size_t curlen,
             struct lmdbfile_op *op)
{
	struct unchanged *u = arg;
	const struct doomed *d = &u->v[i];

	if (i == 0)
		u->deleted = 0; /* a transaction starting over starts here */
	if (cur == NULL || curlen != d->vlen ||
	    memcmp(cur, d->rec + d->klen, curlen) != 0)
		return;
	op->del = LMDBFILE_DEL;
	u->deleted++;
}

static long
lmdb_sweep(struct store *s, store_visit_fn keep, void *arg, size_t batch,
           char *err, size_t errlen)
{
	struct lmdbfile *f = file(s, err, errlen);
	struct sweep sw = {keep, arg, NULL, 0, 0, 0};
	struct lmdbfile_op *k = NULL;
	long deleted = 0, rc = 0;
	size_t i, j;

	if (f == NULL)
		return STORE_ERR;
	if (lmdbfile_foreach(f, sweep_visit, &sw, err, errlen) == LMDBFILE_ERR) {
		rc = STORE_ERR;
		goto out;
	}
	if (sw.oom || (sw.n > 0 && (k = calloc(batch < sw.n ? batch : sw.n,
	                                       sizeof(*k))) == NULL)) {
		snprintf(err, errlen, "%s: out of memory sweeping", s->name);
		rc = STORE_ERR;
		goto out;
	}
	for (i = 0; i < sw.n; i = j) {
		struct unchanged u = {sw.v + i, 0};
		for (j = i; j < sw.n && j - i < batch; j++) {
			k[j - i].key = sw.v[j].rec;
			k[j - i].klen = sw.v[j].klen;
		}
		if (lmdbfile_update(f, k, j - i, unchanged_fn, &u, 0, err,
		                    errlen) != LMDBFILE_OK) {
			rc = STORE_ERR;
			goto out;
		}
		deleted += u.deleted;
	}
	rc = deleted;
out:
	for (i = 0; i < sw.n; i++)
		free(sw.v[i].rec);
	free(sw.v);
	free(k);
	return rc;
}

static int
lmdb_sync(struct store *s, char *err, size_t errlen)
{
	struct store_lmdb *l = (struct store_lmdb *)s;
	struct lmdbfile *f = atomic_load_explicit(&l->f, memory_order_acquire);

	/* Nothing opened, nothing written. */
	if (f == NULL)
		return STORE_OK;
	return lmdbfile_sync(f, err, errlen) == LMDBFILE_OK ? STORE_OK : STORE_ERR;
}

const struct store_backend store_lmdb_backend = {
	"lmdb", 0,
	lmdb_open, lmdb_ident, lmdb_close, lmdb_probe, lmdb_get, lmdb_write,
	lmdb_cas, lmdb_foreach, lmdb_sweep, lmdb_sync,
};
