/*
 * sessions.c - open mail sessions and the addresses they hold (see
 * sessions.h).
 *
 * Two chained hash tables: sessions by id, held addresses by address.
 * Sessions are also on a list in the order they became known, so
 * eviction (cap reached) takes the head; expiry by age walks the list
 * (at the sweep tick: a few milliseconds for the largest cap).  Memory: about 150 bytes a session; the cap
 * (relay.hold-max-sessions) bounds it.
 *
 * The saved file, one line per session, in the list's order:
 *     "<opened> <address> <id> <source>\n"
 * opened in Unix time, the address in canonical text, the source's name
 * (its configured title) as the rest of the line.  Loading is strict: a
 * malformed line makes the whole file an error and nothing is loaded
 * (holds lost mean `expire` and no more; a guessed hold could keep an
 * address allowed that no session holds).  A session whose source is no
 * longer configured is kept until it ends or ages out.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sessions.h"
#include "statefile.h"

struct sess {
	char id[SESSION_ID_MAX + 1];
	unsigned char idlen;
	unsigned source;
	time_t opened;
	struct held *h;
	struct sess *hnext;       /* hash chain */
	struct sess *prev, *next; /* in the order known */
};

struct sessions {
	size_t cap, n, nheld;
	struct sess **sb; /* buckets, a power of two */
	size_t nsb;
	struct held **hb;
	size_t nhb;
	struct sess *oldest, *newest;
	const char *const *names;
	size_t nnames;
	unsigned long evicted;
	int dirty;
};

static uint32_t
fnv(const unsigned char *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint32_t
id_hash(const char *id, size_t len)
{
	return fnv((const unsigned char *)id, len, 2166136261u);
}

static uint32_t
addr_hash(const struct addr *a)
{
	return fnv(a->bytes, a->family == AF_INET ? 4 : 16,
	           (2166136261u ^ (uint32_t)a->family) * 16777619u);
}

int
sessions_id_ok(const char *id, size_t len)
{
	if (len == 0 || len > SESSION_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      c == '=' || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

struct sessions *
sessions_new(size_t cap, const char *const *names, size_t nnames)
{
	struct sessions *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->cap = cap > 0 ? cap : 1;
	s->nsb = s->nhb = 64;
	s->sb = calloc(s->nsb, sizeof *s->sb);
	s->hb = calloc(s->nhb, sizeof *s->hb);
	if (s->sb == NULL || s->hb == NULL) {
		sessions_free(s);
		return NULL;
	}
	s->names = names;
	s->nnames = nnames;
	return s;
}

void
sessions_free(struct sessions *s)
{
	if (s == NULL)
		return;
	for (struct sess *x = s->oldest, *nx; x != NULL; x = nx) {
		nx = x->next;
		free(x);
	}
	for (size_t i = 0; s->hb != NULL && i < s->nhb; i++)
		for (struct held *h = s->hb[i], *nh; h != NULL; h = nh) {
			nh = h->hnext;
			free(h);
		}
	free(s->sb);
	free(s->hb);
	free(s);
}

/* Double a bucket array when the chains grow past two on average; a
 * failed allocation only leaves the chains longer. */
static void
grow_sessions(struct sessions *s)
{
	size_t nn = s->nsb * 2;
	struct sess **nb;
	if (s->n < s->nsb * 2 || (nb = calloc(nn, sizeof *nb)) == NULL)
		return;
	for (size_t i = 0; i < s->nsb; i++)
		for (struct sess *x = s->sb[i], *nx; x != NULL; x = nx) {
			nx = x->hnext;
			size_t j = id_hash(x->id, x->idlen) & (nn - 1);
			x->hnext = nb[j];
			nb[j] = x;
		}
	free(s->sb);
	s->sb = nb;
	s->nsb = nn;
}

static void
grow_held(struct sessions *s)
{
	size_t nn = s->nhb * 2;
	struct held **nb;
	if (s->nheld < s->nhb * 2 || (nb = calloc(nn, sizeof *nb)) == NULL)
		return;
	for (size_t i = 0; i < s->nhb; i++)
		for (struct held *h = s->hb[i], *nh; h != NULL; h = nh) {
			nh = h->hnext;
			size_t j = addr_hash(&h->a) & (nn - 1);
			h->hnext = nb[j];
			nb[j] = h;
		}
	free(s->hb);
	s->hb = nb;
	s->nhb = nn;
}

static struct sess **
find_sess(struct sessions *s, const char *id, size_t len)
{
	struct sess **pp = &s->sb[id_hash(id, len) & (s->nsb - 1)];
	while (*pp != NULL &&
	       ((*pp)->idlen != len || memcmp((*pp)->id, id, len) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

static struct held **
find_held(struct sessions *s, const struct addr *a)
{
	struct held **pp = &s->hb[addr_hash(a) & (s->nhb - 1)];
	while (*pp != NULL && !addr_equal(&(*pp)->a, a))
		pp = &(*pp)->hnext;
	return pp;
}

struct held *
sessions_held(struct sessions *s, const struct addr *a)
{
	return *find_held(s, a);
}

/* Take x out of every structure; *last gets a copy of its address's
 * entry when x was that address's last session (then freed). */
static int
unlink_sess(struct sessions *s, struct sess *x, struct held *last)
{
	struct sess **pp = find_sess(s, x->id, x->idlen);
	int was_last = 0;
	*pp = x->hnext;
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		s->oldest = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	else
		s->newest = x->prev;
	s->n--;
	struct held *h = x->h;
	if (--h->n == 0) {
		struct held **hp = find_held(s, &h->a);
		*hp = h->hnext;
		s->nheld--;
		if (last != NULL) {
			*last = *h;
			last->hnext = NULL;
		}
		free(h);
		was_last = 1;
	}
	free(x);
	s->dirty = 1;
	return was_last;
}

int
sessions_open(struct sessions *s, const char *id, size_t len,
              const struct addr *a, time_t opened, unsigned source)
{
	if (!sessions_id_ok(id, len))
		return -1;
	struct sess **pp = find_sess(s, id, len);
	if (*pp != NULL)
		return 0;
	if (s->n >= s->cap) {
		/* Full: the oldest goes.  Its address, if this was its last
		 * session, keeps what was written for it and expires. */
		unlink_sess(s, s->oldest, NULL);
		s->evicted++;
		pp = find_sess(s, id, len);
	}
	struct held **hp = find_held(s, a);
	struct held *h = *hp;
	if (h == NULL) {
		if ((h = calloc(1, sizeof *h)) == NULL)
			return -1;
		h->a = *a;
		*hp = h;
		s->nheld++;
	}
	struct sess *x = calloc(1, sizeof *x);
	if (x == NULL) {
		if (h->n == 0) {
			*find_held(s, a) = h->hnext;
			s->nheld--;
			free(h);
		}
		return -1;
	}
	memcpy(x->id, id, len);
	x->idlen = (unsigned char)len;
	x->source = source;
	x->opened = opened;
	x->h = h;
	h->n++;
	x->hnext = *pp;
	*pp = x;
	/* Appended: the list is in the order sessions became known, which
	 * is what eviction wants; expiry by age looks at every one. */
	x->prev = s->newest;
	x->next = NULL;
	if (s->newest != NULL)
		s->newest->next = x;
	else
		s->oldest = x;
	s->newest = x;
	s->n++;
	s->dirty = 1;
	grow_sessions(s);
	grow_held(s);
	return 1;
}

int
sessions_close(struct sessions *s, const char *id, size_t len,
               struct held *last)
{
	if (!sessions_id_ok(id, len))
		return 0;
	struct sess *x = *find_sess(s, id, len);
	if (x == NULL)
		return 0;
	return unlink_sess(s, x, last);
}

size_t
sessions_close_source(struct sessions *s, unsigned source, sessions_fn fn,
                      void *arg)
{
	size_t n = 0;
	struct held last;
	for (struct sess *x = s->oldest, *nx; x != NULL; x = nx) {
		nx = x->next;
		if (x->source != source)
			continue;
		n++;
		if (unlink_sess(s, x, &last) && fn != NULL)
			fn(arg, &last);
	}
	return n;
}

size_t
sessions_expire(struct sessions *s, time_t before, sessions_fn fn, void *arg)
{
	size_t n = 0;
	struct held last;
	for (struct sess *x = s->oldest, *nx; x != NULL; x = nx) {
		nx = x->next;
		if (x->opened >= before)
			continue;
		n++;
		if (unlink_sess(s, x, &last) && fn != NULL)
			fn(arg, &last);
	}
	return n;
}

void
sessions_foreach(struct sessions *s, sessions_fn fn, void *arg)
{
	for (size_t i = 0; i < s->nhb; i++)
		for (struct held *h = s->hb[i]; h != NULL; h = h->hnext)
			fn(arg, h);
}

size_t
sessions_count(const struct sessions *s)
{
	return s->n;
}

unsigned long
sessions_evicted(struct sessions *s)
{
	unsigned long n = s->evicted;
	s->evicted = 0;
	return n;
}

int
sessions_dirty(const struct sessions *s)
{
	return s->dirty;
}

static const char *
source_name(const struct sessions *s, unsigned source)
{
	return source < s->nnames ? s->names[source] : NULL;
}

int
sessions_save(struct sessions *s, const char *file, char *err,
              size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char ip[ADDR_STRLEN];
	if (m == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	for (struct sess *x = s->oldest; x != NULL; x = x->next) {
		const char *src = source_name(s, x->source);
		/* A source no longer configured: its name is gone with it;
		 * "-" never matches a file source's absolute path. */
		fprintf(m, "%lld %s %.*s %s\n", (long long)x->opened,
		        addr_format(&x->h->a, ip, sizeof ip), (int)x->idlen,
		        x->id, src != NULL && strchr(src, '\n') == NULL ? src
		                                                        : "?");
	}
	if (fclose(m) != 0 || buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		free(buf);
		return -1;
	}
	int rc = statefile_write(file, buf, len, err, errlen);
	free(buf);
	if (rc == 0)
		s->dirty = 0;
	return rc;
}

/* One saved line (newline removed): 0, or -1 malformed. */
static int
parse_line(struct sessions *s, char *line)
{
	char *p = line, *end;
	struct addr a;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	long long opened = strtoll(p, &end, 10);
	if (errno != 0 || *end != ' ' || (long long)(time_t)opened != opened)
		return -1;
	p = end + 1;
	char *sp = strchr(p, ' ');
	if (sp == NULL || addr_parsen(p, (size_t)(sp - p), &a) != 0 ||
	    memchr(p, '%', (size_t)(sp - p)) != NULL)
		return -1;
	p = sp + 1;
	sp = strchr(p, ' ');
	if (sp == NULL || !sessions_id_ok(p, (size_t)(sp - p)) || sp[1] == '\0')
		return -1;
	unsigned source = (unsigned)s->nnames; /* not configured (any more) */
	for (size_t i = 0; i < s->nnames; i++)
		if (strcmp(s->names[i], sp + 1) == 0)
			source = (unsigned)i;
	return sessions_open(s, p, (size_t)(sp - p), &a, (time_t)opened,
	                     source) < 0 ? -1 : 0;
}

int
sessions_load(struct sessions *s, const char *file, char *err,
              size_t errlen)
{
	FILE *f = statefile_open(file, err, errlen);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int rc = 0;

	if (f == NULL)
		return errno == ENOENT && err[0] == '\0' ? 0 : -1;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[len - 1] != '\n' ||
		    memchr(line, '\0', (size_t)len) != NULL) {
			rc = -1;
			break;
		}
		line[len - 1] = '\0';
		if (parse_line(s, line) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", file,
		         strerror(errno));
		rc = -2;
	}
	free(line);
	fclose(f);
	if (rc == -1)
		snprintf(err, errlen, "%s line %u: malformed (expected "
		         "\"<opened> <address> <id> <source>\")", file, lineno);
	if (rc < 0) {
		/* All or nothing. */
		while (s->oldest != NULL)
			unlink_sess(s, s->oldest, NULL);
		return -1;
	}
	s->dirty = 0;
	return 0;
}
