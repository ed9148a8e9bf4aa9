/*
 * store.h - shared state kept either in an LMDB file (table.h) on this
 * host or in Redis (redis.h) for several hosts: the relay table
 * (relaystore.h) and the UMTP duplicate store (dedupstore.h) are both a
 * struct store; those headers say what their records are.
 *
 *   store_wants_redis()  whether cfg's section.option (e.g. relay.store)
 *                  says "redis"
 *   store_lmdb()   over an open table, which the store then owns
 *   store_redis()  over a Redis client, which the store then owns; keys
 *                  are <redis.key-prefix><ns>..., ns "relay:" or "dedup:"
 *   store_close()  close the table or client
 *   store_name()   the file's path, or "redis ADDRESS db N, keys
 *                  PREFIXNS*", for messages
 *   store_sync()   make LMDB commits made with LMDBFILE_DEFER_SYNC durable
 *                  (lmdbfile_sync()); Redis: nothing to do, LMDBFILE_OK
 *   store_probe()  whether it answers now (Redis: PING; LMDB: LMDBFILE_OK,
 *                  the file is open already), for a warning at start
 *
 * The constructors return NULL only when out of memory, and close what
 * they were given then.  Errors: LMDBFILE_ERR with err; nothing logs.
 */
#ifndef LEAFMAIL_STORE_H
#define LEAFMAIL_STORE_H

#include <stddef.h>

#include <confuse.h>

#include "redis.h"
#include "lmdbfile.h"

struct store {
	struct lmdbfile *t;  /* exactly one of t and r is set */
	struct redis *r;
	const char *ns;   /* Redis key namespace after the prefix */
	char name[400];
};

int store_wants_redis(cfg_t *cfg, const char *section, const char *option);
struct store *store_lmdb(struct lmdbfile *t);
struct store *store_redis(struct redis *r, const char *ns);
void store_close(struct store *s);
const char *store_name(const struct store *s);
int store_sync(struct store *s, char *err, size_t errlen);
int store_probe(struct store *s, char *err, size_t errlen);

#endif
