/*
 * relaystore.h - the relay table wherever it is kept: the LMDB file of
 * relaytable.h (relay.store = "lmdb", the default, which Postfix can read
 * directly), or Redis (relay.store = "redis"), for sites where the POP/IMAP
 * host and the SMTP hosts are different machines.
 *
 * In Redis a record is the string key <redis.key-prefix>relay:<address>
 * (the canonical text of addr.h) holding the decimal expiry time, with the
 * same time set as the key's expiry (EXPIREAT), so Redis itself removes
 * it: there is nothing to sweep.  Several relayd hosts may write the same
 * address: a write never shortens a record's life (a Lua script compares
 * and sets in one step), so the latest login wins whatever order the
 * hosts' writes arrive in.
 *
 * Errors: LMDBFILE_ERR with err filled (the milter answers 451, relayd keeps
 * the batch and retries); nothing logs or exits.
 */
#ifndef LEAFMAIL_RELAYSTORE_H
#define LEAFMAIL_RELAYSTORE_H

#include <stddef.h>
#include <time.h>

#include <confuse.h>

#include "addr.h"
#include "store.h"

#define RELAYSTORE_NS "relay:"

/* One change: allow a until expires, or with expires == 0 remove it. */
struct relay_rec {
	struct addr a;
	time_t expires;
};

typedef int (*relaystore_visit_fn)(void *arg, const struct addr *a,
                                   time_t expires);

/* 1 when cfg's relay.store is "redis"; the store is then
 * store_redis(client, RELAYSTORE_NS), else store_lmdb(<table>.lmdb). */
int relaystore_wants_redis(cfg_t *cfg);

/* 1: a may relay (expiry after now, *expires set when not NULL), 0: not,
 * LMDBFILE_ERR. */
int relaystore_check(struct store *s, const struct addr *a, time_t now,
                     time_t *expires, char *err, size_t errlen);
/* Apply n changes (LMDB: one transaction; flags as lmdbfile_write_flags()).
 * LMDBFILE_OK or LMDBFILE_ERR (LMDB: nothing applied). */
int relaystore_write(struct store *s, const struct relay_rec *v,
                     size_t n, int flags, char *err, size_t errlen);
/* LMDB: relaytable_sweep(); Redis: 0, its keys expire by themselves. */
long relaystore_sweep(struct store *s, time_t now, size_t batch,
                      char *err, size_t errlen);
/* Every well-formed record, by address text; fn returning non-zero stops
 * the walk.  LMDBFILE_OK or LMDBFILE_ERR. */
int relaystore_foreach(struct store *s, relaystore_visit_fn fn,
                       void *arg, char *err, size_t errlen);

#endif
