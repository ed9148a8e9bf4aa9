/*
 * storeref.c - one handle per store per process (storeref.h).
 *
 * The handles in use are a short list under a mutex, looked up by
 * store_ident() once per configuration load; sessions reach their store
 * through their snapshot without any lock.
 */
#include "storeref.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct storeref {
	struct storeref *next;
	unsigned refs; /* under mu */
	struct store *st;
	char ident[4400];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct storeref *open_refs;

struct storeref *
storeref_get(cfg_t *cfg, const char *spec, int mode, char *err,
             size_t errlen)
{
	char ident[sizeof(open_refs->ident)];
	struct storeref *r;

	if (store_ident(cfg, spec, ident, sizeof(ident)) == -1) {
		snprintf(err, errlen, "store \"%s\": bad name or settings", spec);
		return NULL;
	}
	pthread_mutex_lock(&mu);
	for (r = open_refs; r != NULL; r = r->next)
		if (strcmp(r->ident, ident) == 0) {
			r->refs++;
			break;
		}
	pthread_mutex_unlock(&mu);
	if (r != NULL)
		return r;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((r->st = store_open(cfg, spec, mode, err, errlen)) == NULL) {
		free(r);
		return NULL;
	}
	strcpy(r->ident, ident);
	r->refs = 1;
	/* Configurations load in one thread (start, then the reload
	 * thread), so nobody added the same store meanwhile. */
	pthread_mutex_lock(&mu);
	r->next = open_refs;
	open_refs = r;
	pthread_mutex_unlock(&mu);
	return r;
}

void
storeref_release(struct storeref *r)
{
	struct storeref **p;

	if (r == NULL)
		return;
	pthread_mutex_lock(&mu);
	if (--r->refs > 0) {
		pthread_mutex_unlock(&mu);
		return;
	}
	for (p = &open_refs; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	pthread_mutex_unlock(&mu);
	store_close(r->st);
	free(r);
}

struct store *
storeref_store(const struct storeref *r)
{
	return r->st;
}
