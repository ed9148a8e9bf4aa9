/*
 * dedupstore.h - the UMTP duplicate store wherever it is kept: the LMDB
 * file of dedup.h (umtp.dedup-store = "lmdb", the default), or Redis
 * (umtp.dedup-store = "redis"), shared by several MX hosts so that a
 * message delivered through one of them is a duplicate for all.
 *
 * In Redis a record is the string key <redis.key-prefix>dedup:<Message-ID>
 * NUL <recipient> (normalised as dedup.h says) holding "<first-seen Unix
 * time> <umtp|smtp>", created with SET NX EX umtp.dedup-ttl: the first
 * delivery's record stands until Redis expires it, so there is nothing to
 * sweep, and the put-if-absent closes dedup.h's check/record race for
 * records (two processes may still both check before either records).
 *
 * Errors: LMDBFILE_ERR with err filled; nothing logs or exits.
 */
#ifndef LEAFMAIL_DEDUPSTORE_H
#define LEAFMAIL_DEDUPSTORE_H

#include <stddef.h>
#include <time.h>

#include <confuse.h>

#include "dedup.h"
#include "store.h"

#define DEDUPSTORE_NS "dedup:"

/* 1 when cfg's umtp.dedup-store is "redis"; the store is then
 * store_redis(client, DEDUPSTORE_NS), else store_lmdb(<state-dir>/
 * umtp-dedup.lmdb). */
int dedupstore_wants_redis(cfg_t *cfg);

/* As dedup_check(). */
int dedupstore_check(struct store *s, const char *msgid,
                     const char *rcpt, time_t now, long long ttl,
                     struct dedup_record *rec, char *err, size_t errlen);
/* As dedup_record(); ttl is the Redis expiry (LMDB ignores it, its
 * sweep applies the ttl it is given). */
int dedupstore_record(struct store *s, const char *msgid,
                      const char *const *rcpts, size_t n, enum dedup_via via,
                      time_t now, long long ttl, int flags, char *err,
                      size_t errlen);
/* LMDB: dedup_sweep(); Redis: 0. */
long dedupstore_sweep(struct store *s, time_t now, long long ttl,
                      size_t batch, char *err, size_t errlen);

#endif
