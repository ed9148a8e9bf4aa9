/*
 * store_backend.h - what a store backend provides (store.c dispatches to
 * it; store_lmdb.c and store_redis.c implement it).  Not for programs:
 * they include store.h.
 *
 * Each backend's handle begins with a struct store, so store.c can reach
 * the backend from any handle.  Every function has the contract of the
 * store_*() function of the same name in store.h.
 */
#ifndef LEAFMAIL_STORE_BACKEND_H
#define LEAFMAIL_STORE_BACKEND_H

#include "store.h"

struct store_backend {
	const char *type; /* what comes before the ':' of a spec */
	int expires;      /* store_expires() */
	struct store *(*open)(cfg_t *cfg, const char *name, int mode, char *err,
	                      size_t errlen);
	int (*ident)(cfg_t *cfg, const char *name, char *buf, size_t len);
	void (*close)(struct store *s);
	int (*probe)(struct store *s, char *err, size_t errlen);
	int (*get)(struct store *s, const char *key, size_t klen, char *val,
	           size_t vlen, size_t *len, char *err, size_t errlen);
	int (*write)(struct store *s, const struct store_op *ops, size_t n,
	             int flags, char *err, size_t errlen);
	int (*cas)(struct store *s, struct store_cas *v, size_t n, int flags,
	           char *err, size_t errlen);
	int (*foreach)(struct store *s, store_visit_fn fn, void *arg, char *err,
	               size_t errlen);
	long (*sweep)(struct store *s, store_visit_fn keep, void *arg,
	              size_t batch, char *err, size_t errlen);
	int (*sync)(struct store *s, char *err, size_t errlen);
};

struct store {
	const struct store_backend *be;
	char name[4200];
};

extern const struct store_backend store_lmdb_backend;
extern const struct store_backend store_redis_backend;

/* The CAS result for one item, given what the key held (cur NULL: held
 * nothing): whether to write, and done/found/cur filled.  Both backends
 * decide the same way (store_redis.c's script mirrors it). */
int store_cas_decide(struct store_cas *c, const char *cur, size_t curlen);

#endif
