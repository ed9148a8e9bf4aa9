/*
 * dedup.c - the UMTP duplicate store on table.h (see dedup.h).
 */
#include "dedup.h"
#include "mailaddr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYMAX DEDUP_KEYMAX
#define VALMAX 40

int
dedup_path(const char *state_dir, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", state_dir, DEDUP_FILE);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* s without surrounding blanks and one pair of angle brackets; empty or
 * longer than DEDUP_MAX_ID - 1 is refused. */
static int
strip(const char *s, char *out, size_t outlen, size_t *n)
{
	long l = mailaddr_strip(s, out, outlen < DEDUP_MAX_ID ? outlen
	                                                      : DEDUP_MAX_ID);

	if (l <= 0)
		return -1;
	*n = (size_t)l;
	return 0;
}

int
dedup_norm_msgid(const char *msgid, char *out, size_t outlen)
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
dedup_norm_rcpt(const char *rcpt, char *out, size_t outlen)
{
	size_t n;

	if (strip(rcpt, out, outlen, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

const char *
dedup_via_name(enum dedup_via via)
{
	return via == DEDUP_VIA_SMTP ? "smtp" : "umtp";
}

size_t
dedup_key(const char *msgid, const char *rcpt, char *key)
{
	char m[DEDUP_MAX_ID], r[DEDUP_MAX_ID];
	size_t ml, rl;

	if (dedup_norm_msgid(msgid, m, sizeof m) < 0 ||
	    dedup_norm_rcpt(rcpt, r, sizeof r) < 0)
		return 0;
	ml = strlen(m);
	rl = strlen(r);
	memcpy(key, m, ml + 1);
	memcpy(key + ml + 1, r, rl + 1);
	return ml + rl + 2;
}

int
dedup_decode(const char *val, struct dedup_record *rec)
{
	char *end;
	long long t = strtoll(val, &end, 10);

	if (end == val || *end != ' ' || t < 0)
		return -1;
	if (strcmp(end + 1, "umtp") == 0)
		rec->via = DEDUP_VIA_UMTP;
	else if (strcmp(end + 1, "smtp") == 0)
		rec->via = DEDUP_VIA_SMTP;
	else
		return -1;
	rec->first_seen = (time_t)t;
	return 0;
}

int
dedup_check(struct lmdbfile *t, const char *msgid, const char *rcpt, time_t now,
            long long ttl, struct dedup_record *rec, char *err, size_t errlen)
{
	char key[KEYMAX], val[VALMAX];
	size_t kl = dedup_key(msgid, rcpt, key);
	struct dedup_record r;
	int rc;

	if (kl == 0)
		return 0;
	rc = lmdbfile_get(t, key, kl, val, sizeof val, err, errlen);
	if (rc != LMDBFILE_OK)
		return rc == LMDBFILE_NOTFOUND ? 0 : LMDBFILE_ERR;
	if (dedup_decode(val, &r) < 0 || (long long)r.first_seen + ttl <= (long long)now)
		return 0;
	if (rec != NULL)
		*rec = r;
	return 1;
}

int
dedup_record(struct lmdbfile *t, const char *msgid, const char *const *rcpts,
             size_t n, enum dedup_via via, time_t now, int flags, char *err,
             size_t errlen)
{
	struct lmdbfile_op *ops = calloc(n ? n : 1, sizeof *ops);
	char (*keys)[KEYMAX] = calloc(n ? n : 1, KEYMAX);
	char val[VALMAX];
	size_t nops = 0;
	int rc = LMDBFILE_OK;

	if (ops == NULL || keys == NULL) {
		snprintf(err, errlen, "%s: out of memory", lmdbfile_path(t));
		rc = LMDBFILE_ERR;
		goto out;
	}
	snprintf(val, sizeof val, "%lld %s", (long long)now, dedup_via_name(via));
	for (size_t i = 0; i < n; i++) {
		size_t kl = dedup_key(msgid, rcpts[i], keys[nops]);
		if (kl == 0)
			continue;
		ops[nops].key = keys[nops];
		ops[nops].klen = kl;
		ops[nops].val = val;
		ops[nops].vlen = strlen(val) + 1;
		nops++;
	}
	if (nops > 0)
		rc = lmdbfile_write_flags(t, ops, nops, flags, err, errlen);
out:
	free(ops);
	free(keys);
	return rc;
}

struct sweep {
	time_t now;
	long long ttl;
	char (*keys)[KEYMAX];
	size_t *klen;
	size_t n, cap;
	int oom;
};

static int
sweep_visit(void *arg, const void *key, size_t klen, const void *val,
            size_t vlen)
{
	struct sweep *s = arg;
	struct dedup_record r;
	char v[VALMAX];

	if (vlen > 0 && vlen <= sizeof v && ((const char *)val)[vlen - 1] == '\0') {
		memcpy(v, val, vlen);
		if (dedup_decode(v, &r) == 0 && (long long)r.first_seen + s->ttl > (long long)s->now)
			return 0;
	}
	if (klen > KEYMAX)
		return 0; /* not ours to have written; leave it */
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *k = realloc(s->keys, cap * KEYMAX);
		if (k == NULL) {
			s->oom = 1;
			return 1;
		}
		s->keys = k;
		void *l = realloc(s->klen, cap * sizeof *s->klen);
		if (l == NULL) {
			s->oom = 1;
			return 1;
		}
		s->klen = l;
		s->cap = cap;
	}
	memcpy(s->keys[s->n], key, klen);
	s->klen[s->n++] = klen;
	return 0;
}

long
dedup_sweep(struct lmdbfile *t, time_t now, long long ttl, size_t batch,
            char *err, size_t errlen)
{
	struct sweep s = {now, ttl, NULL, NULL, 0, 0, 0};
	struct lmdbfile_op *ops = NULL;
	long deleted = 0;
	int rc;

	if (batch == 0)
		batch = 1;
	rc = lmdbfile_foreach(t, sweep_visit, &s, err, errlen);
	if (rc == LMDBFILE_ERR)
		goto fail;
	if (s.oom || (s.n > 0 && (ops = calloc(batch, sizeof *ops)) == NULL)) {
		snprintf(err, errlen, "%s: out of memory sweeping", lmdbfile_path(t));
		goto fail;
	}
	for (size_t i = 0; i < s.n;) {
		size_t nops = 0;
		for (; i < s.n && nops < batch; i++) {
			/* Re-recorded since the scan?  Then keep it. */
			char v[VALMAX];
			struct dedup_record r;
			rc = lmdbfile_get(t, s.keys[i], s.klen[i], v, sizeof v, err, errlen);
			if (rc == LMDBFILE_ERR)
				goto fail;
			if (rc == LMDBFILE_NOTFOUND ||
			    (dedup_decode(v, &r) == 0 &&
			     (long long)r.first_seen + ttl > (long long)now))
				continue;
			ops[nops].del = 1;
			ops[nops].key = s.keys[i];
			ops[nops].klen = s.klen[i];
			nops++;
		}
		if (nops > 0 && lmdbfile_write(t, ops, nops, err, errlen) == LMDBFILE_ERR)
			goto fail;
		deleted += (long)nops;
	}
	free(ops);
	free(s.keys);
	free(s.klen);
	return deleted;
fail:
	free(ops);
	free(s.keys);
	free(s.klen);
	return LMDBFILE_ERR;
}
