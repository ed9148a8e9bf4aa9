/*
 * dedupstore.c - the UMTP duplicate store in LMDB or Redis
 * (dedupstore.h).  The LMDB side forwards to dedup.c; the Redis side
 * pipelines one SET NX per recipient on one connection.
 */
#include "dedupstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DS_KEYMAX (REDIS_PREFIX_MAX + sizeof(DEDUPSTORE_NS) + DEDUP_KEYMAX)

int
dedupstore_wants_redis(cfg_t *cfg)
{
	return store_wants_redis(cfg, "umtp", "dedup-store");
}

/* "<prefix>dedup:<msgid>\0<rcpt>" into key (DS_KEYMAX); its length, or 0
 * when the pair does not normalise.  (The LMDB key's final NUL is left
 * out: Redis keys carry their length.) */
static size_t
redis_key(const struct store *s, const char *msgid, const char *rcpt,
          char *key)
{
	size_t n = (size_t)snprintf(key, DS_KEYMAX, "%s%s", redis_prefix(s->r),
	                            s->ns);
	size_t k = dedup_key(msgid, rcpt, key + n);

	return k == 0 ? 0 : n + k - 1;
}

int
dedupstore_check(struct store *s, const char *msgid, const char *rcpt,
                 time_t now, long long ttl, struct dedup_record *rec,
                 char *err, size_t errlen)
{
	char key[DS_KEYMAX], val[48];
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, 0};
	struct dedup_record r;
	redisReply *rep;
	int rc = 0;

	if (s->t != NULL)
		return dedup_check(s->t, msgid, rcpt, now, ttl, rec, err, errlen);
	if ((lens[1] = redis_key(s, msgid, rcpt, key)) == 0)
		return 0;
	if ((rep = redis_cmd(s->r, 2, argv, lens, err, errlen)) == NULL)
		return LMDBFILE_ERR;
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "redis %s: GET: %s", redis_name(s->r), rep->str);
		rc = LMDBFILE_ERR;
	} else if (rep->type == REDIS_REPLY_STRING && rep->len < sizeof(val)) {
		memcpy(val, rep->str, rep->len);
		val[rep->len] = '\0';
		/* The key's own expiry is the rule; the time is checked too,
		 * for a ttl shortened since the record was made. */
		if (dedup_decode(val, &r) == 0 &&
		    (long long)r.first_seen + ttl > (long long)now) {
			if (rec != NULL)
				*rec = r;
			rc = 1;
		}
	}
	freeReplyObject(rep);
	return rc;
}

static int
redis_record(struct store *s, const char *msgid,
             const char *const *rcpts, size_t n, enum dedup_via via,
             time_t now, long long ttl, char *err, size_t errlen)
{
	struct redis_cmd *cmds = calloc(n ? n : 1, sizeof(*cmds));
	const char **argv = calloc(6 * (n ? n : 1), sizeof(*argv));
	size_t *lens = calloc(6 * (n ? n : 1), sizeof(*lens));
	char (*keys)[DS_KEYMAX] = calloc(n ? n : 1, DS_KEYMAX);
	redisReply **rep = calloc(n ? n : 1, sizeof(*rep));
	char val[48], ex[24];
	size_t nc = 0, i;
	int rc = LMDBFILE_OK;

	if (cmds == NULL || argv == NULL || lens == NULL || keys == NULL ||
	    rep == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = LMDBFILE_ERR;
		goto out;
	}
	snprintf(val, sizeof(val), "%lld %s", (long long)now, dedup_via_name(via));
	snprintf(ex, sizeof(ex), "%lld", ttl > 0 ? ttl : 1);
	for (i = 0; i < n; i++) {
		size_t kl = redis_key(s, msgid, rcpts[i], keys[nc]);
		const char **a = &argv[6 * nc];
		size_t *l = &lens[6 * nc];

		if (kl == 0)
			continue;
		a[0] = "SET";
		l[0] = 3;
		a[1] = keys[nc];
		l[1] = kl;
		a[2] = val;
		l[2] = strlen(val);
		a[3] = "NX";
		l[3] = 2;
		a[4] = "EX";
		l[4] = 2;
		a[5] = ex;
		l[5] = strlen(ex);
		cmds[nc].argc = 6;
		cmds[nc].argv = a;
		cmds[nc].lens = l;
		nc++;
	}
	if (nc == 0)
		goto out;
	if (redis_run(s->r, nc, cmds, rep, err, errlen) == -1) {
		rc = LMDBFILE_ERR;
		goto out;
	}
	for (i = 0; i < nc; i++) {
		/* +OK, or nil: already recorded (the first record stands). */
		if (rep[i]->type == REDIS_REPLY_ERROR && rc == LMDBFILE_OK) {
			snprintf(err, errlen, "redis %s: SET: %s", redis_name(s->r),
			         rep[i]->str);
			rc = LMDBFILE_ERR;
		}
		freeReplyObject(rep[i]);
	}
out:
	free(cmds);
	free(argv);
	free(lens);
	free(keys);
	free(rep);
	return rc;
}

int
dedupstore_record(struct store *s, const char *msgid,
                  const char *const *rcpts, size_t n, enum dedup_via via,
                  time_t now, long long ttl, int flags, char *err,
                  size_t errlen)
{
	if (s->t != NULL)
		return dedup_record(s->t, msgid, rcpts, n, via, now, flags, err,
		                    errlen);
	return redis_record(s, msgid, rcpts, n, via, now, ttl, err, errlen);
}

long
dedupstore_sweep(struct store *s, time_t now, long long ttl,
                 size_t batch, char *err, size_t errlen)
{
	return s->t != NULL ? dedup_sweep(s->t, now, ttl, batch, err, errlen) : 0;
}
