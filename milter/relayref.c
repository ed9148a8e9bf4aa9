/*
 * relayref.c - a shared, lazily opened relay table (relayref.h).
 *
 * The pointer goes from NULL to the store once and never back while the
 * handle lives, so readers need only an acquire load; the mutex only
 * keeps two threads from opening the table at the same time.
 */
#include "relayref.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaystore.h"
#include "lmdbfile.h"

struct relayref {
	atomic_uint refs;
	_Atomic(struct store *) t;
	pthread_mutex_t mu; /* serialises opening */
	char path[PATH_MAX];
};

struct relayref *
relayref_new(const char *path)
{
	struct relayref *r;

	if (strlen(path) >= PATH_MAX || (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	atomic_init(&r->refs, 1);
	atomic_init(&r->t, NULL);
	pthread_mutex_init(&r->mu, NULL);
	strcpy(r->path, path);
	return r;
}

struct relayref *
relayref_new_store(struct store *st, const char *name)
{
	struct relayref *r = relayref_new(name);

	if (r == NULL) {
		store_close(st);
		return NULL;
	}
	atomic_store(&r->t, st);
	return r;
}

void
relayref_hold(struct relayref *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void
relayref_release(struct relayref *r)
{
	struct store *t;

	if (r == NULL ||
	    atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	if ((t = atomic_load_explicit(&r->t, memory_order_acquire)) != NULL)
		store_close(t);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

const char *
relayref_path(const struct relayref *r)
{
	return r->path;
}

struct store *
relayref_get(struct relayref *r, int *opened, char *err, size_t errlen)
{
	struct store *t;
	struct lmdbfile *tb;

	if (opened != NULL)
		*opened = 0;
	if ((t = atomic_load_explicit(&r->t, memory_order_acquire)) != NULL)
		return t;
	pthread_mutex_lock(&r->mu);
	if ((t = atomic_load_explicit(&r->t, memory_order_acquire)) == NULL) {
		tb = lmdbfile_open(r->path, LMDBFILE_READ_MISSING_OK, err, errlen);
		t = tb != NULL ? store_lmdb(tb) : NULL;
		if (tb != NULL && t == NULL)
			snprintf(err, errlen, "out of memory");
		if (t != NULL) {
			atomic_store_explicit(&r->t, t, memory_order_release);
			if (opened != NULL)
				*opened = 1;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return t;
}
