/*
 * store.c - stores opened by name, dispatched to their backend (store.h).
 *
 * The backends are a fixed table, as in deliver/mailbox.c: adding one is
 * a new store_NAME.c and a line here.
 */
#include "store.h"

#include <stdio.h>
#include <string.h>

#include "store_backend.h"

static const struct store_backend *const backends[] = {
	&store_lmdb_backend,
	&store_redis_backend,
	NULL,
};

/* The backend spec names and, in *name, what follows its "type:". */
static const struct store_backend *
find(const char *spec, const char **name)
{
	const char *colon = spec != NULL ? strchr(spec, ':') : NULL;

	if (colon == NULL)
		return NULL;
	for (size_t i = 0; backends[i] != NULL; i++)
		if (strlen(backends[i]->type) == (size_t)(colon - spec) &&
		    strncmp(spec, backends[i]->type, (size_t)(colon - spec)) == 0) {
			*name = colon + 1;
			return backends[i];
		}
	return NULL;
}

struct store *
store_open(cfg_t *cfg, const char *spec, int mode, char *err, size_t errlen)
{
	const char *name;
	const struct store_backend *be = find(spec, &name);

	if (be == NULL) {
		snprintf(err, errlen, "store \"%s\": not lmdb:PATH or redis:NAMESPACE",
		         spec != NULL ? spec : "");
		return NULL;
	}
	return be->open(cfg, name, mode, err, errlen);
}

int
store_ident(cfg_t *cfg, const char *spec, char *buf, size_t len)
{
	const char *name;
	const struct store_backend *be = find(spec, &name);

	if (be == NULL)
		return -1;
	return be->ident(cfg, name, buf, len);
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->be->close(s);
}

const char *
store_name(const struct store *s)
{
	return s->name;
}

int
store_expires(const struct store *s)
{
	return s->be->expires;
}

int
store_probe(struct store *s, char *err, size_t errlen)
{
	return s->be->probe(s, err, errlen);
}

int
store_get(struct store *s, const char *key, size_t klen, char *val,
          size_t vlen, size_t *len, char *err, size_t errlen)
{
	if (klen == 0 || klen >= STORE_KEYMAX)
		return STORE_NOTFOUND;
	return s->be->get(s, key, klen, val, vlen, len, err, errlen);
}

int
store_write(struct store *s, const struct store_op *ops, size_t n, int flags,
            char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].klen == 0 || ops[i].klen >= STORE_KEYMAX) {
			snprintf(err, errlen, "%s: key of %zu bytes", s->name,
			         ops[i].klen);
			return STORE_ERR;
		}
	return n == 0 ? STORE_OK : s->be->write(s, ops, n, flags, err, errlen);
}

int
store_cas(struct store *s, struct store_cas *v, size_t n, int flags,
          char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].klen == 0 || v[i].klen >= STORE_KEYMAX) {
			snprintf(err, errlen, "%s: key of %zu bytes", s->name, v[i].klen);
			return STORE_ERR;
		}
		v[i].done = v[i].found = 0;
		v[i].cur[0] = '\0';
		v[i].curlen = 0;
	}
	return n == 0 ? STORE_OK : s->be->cas(s, v, n, flags, err, errlen);
}

int
store_foreach(struct store *s, store_visit_fn fn, void *arg, char *err,
              size_t errlen)
{
	return s->be->foreach(s, fn, arg, err, errlen);
}

long
store_sweep(struct store *s, store_visit_fn keep, void *arg, size_t batch,
            char *err, size_t errlen)
{
	return s->be->sweep(s, keep, arg, batch == 0 ? 1 : batch, err, errlen);
}

int
store_sync(struct store *s, char *err, size_t errlen)
{
	return s->be->sync(s, err, errlen);
}

static int
same(const char *a, size_t alen, const char *b, size_t blen)
{
	return a == NULL ? b == NULL
	                 : b != NULL && alen == blen && memcmp(a, b, alen) == 0;
}

int
store_cas_decide(struct store_cas *c, const char *cur, size_t curlen)
{
	int match = same(c->expect, c->elen, cur, curlen);

	c->found = cur != NULL;
	if (cur != NULL) {
		c->curlen = curlen < STORE_VALMAX - 1 ? curlen : STORE_VALMAX - 1;
		memcpy(c->cur, cur, c->curlen);
		c->cur[c->curlen] = '\0';
	}
	/* Already what we would make it: done, nothing to write. */
	c->done = match || same(c->val, c->vlen, cur, curlen);
	return match && !same(c->val, c->vlen, cur, curlen);
}
