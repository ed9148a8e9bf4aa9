/*
 * store.c - an LMDB table or a Redis client behind one handle (store.h).
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
store_wants_redis(cfg_t *cfg, const char *section, const char *option)
{
	cfg_t *sec = cfg_getsec(cfg, section);
	const char *v = sec != NULL ? cfg_getstr(sec, option) : NULL;

	return v != NULL && strcmp(v, "redis") == 0;
}

struct store *
store_lmdb(struct lmdbfile *t)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		lmdbfile_close(t);
		return NULL;
	}
	s->t = t;
	snprintf(s->name, sizeof(s->name), "%s", lmdbfile_path(t));
	return s;
}

struct store *
store_redis(struct redis *r, const char *ns)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		redis_free(r);
		return NULL;
	}
	s->r = r;
	s->ns = ns;
	snprintf(s->name, sizeof(s->name), "redis %s, keys %s%s*",
	         redis_name(r), redis_prefix(r), ns);
	return s;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->t != NULL)
		lmdbfile_close(s->t);
	redis_free(s->r);
	free(s);
}

const char *
store_name(const struct store *s)
{
	return s->name;
}

int
store_sync(struct store *s, char *err, size_t errlen)
{
	return s->t != NULL ? lmdbfile_sync(s->t, err, errlen) : LMDBFILE_OK;
}

int
store_probe(struct store *s, char *err, size_t errlen)
{
	const char *argv[1] = {"PING"};
	size_t lens[1] = {4};
	redisReply *rep;
	int rc;

	if (s->r == NULL)
		return LMDBFILE_OK;
	if ((rep = redis_cmd(s->r, 1, argv, lens, err, errlen)) == NULL)
		return LMDBFILE_ERR;
	rc = rep->type == REDIS_REPLY_ERROR ? LMDBFILE_ERR : LMDBFILE_OK;
	if (rc == LMDBFILE_ERR)
		snprintf(err, errlen, "redis %s: PING: %s", redis_name(s->r), rep->str);
	freeReplyObject(rep);
	return rc;
}
