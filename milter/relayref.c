/*
 * relayref.c - a shared, lazily opened relay table (relayref.h).
 *
 * The pointer goes from NULL to the table once and never back while the
 * handle lives, so readers need only an acquire load; the mutex only
 * keeps two threads from opening the table at the same time.
 */
#include "relayref.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

struct relayref {
	atomic_uint refs;
	_Atomic(struct table *) t;
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

void
relayref_hold(struct relayref *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void
relayref_release(struct relayref *r)
{
	struct table *t;

	if (r == NULL ||
	    atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	if ((t = atomic_load_explicit(&r->t, memory_order_acquire)) != NULL)
		table_close(t);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

const char *
relayref_path(const struct relayref *r)
{
	return r->path;
}

struct table *
relayref_get(struct relayref *r, int *opened, char *err, size_t errlen)
{
	struct table *t;

	if (opened != NULL)
		*opened = 0;
	if ((t = atomic_load_explicit(&r->t, memory_order_acquire)) != NULL)
		return t;
	pthread_mutex_lock(&r->mu);
	if ((t = atomic_load_explicit(&r->t, memory_order_acquire)) == NULL) {
		t = table_open(r->path, TABLE_READ_MISSING_OK, err, errlen);
		if (t != NULL) {
			atomic_store_explicit(&r->t, t, memory_order_release);
			if (opened != NULL)
				*opened = 1;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return t;
}
