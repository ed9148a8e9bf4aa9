/*
 * store.h - the one interface to state that leafmail's programs share:
 * a store is opened by a name that picks its backend, the way Postfix's
 * dict_open("lmdb:/path") or OpenSMTPD's table backends do, and every
 * operation goes through that backend:
 *
 *   "lmdb:/var/lib/leafmail/relay.lmdb"   store_lmdb.c: an LMDB file on
 *          this host, under Postfix's locking protocol (lmdbfile.h), so
 *          Postfix can read it as an lmdb: table
 *   "redis:relay:"   store_redis.c: a Redis server that several hosts
 *          share (redis.h); the part after "redis:" is the key namespace
 *          after redis.key-prefix, the connection comes from cfg's redis
 *          section
 *
 * Layers, top down: relaystore.h and claimstore.h say what their records
 * mean and each opens its store from the configuration with one function;
 * this interface dispatches; store_lmdb.c and store_redis.c map it onto
 * lmdbfile.h and redis.h, the drivers.  Programs use the top layer only.
 *
 * Records are byte strings, a key up to STORE_KEYMAX bytes and a value
 * up to STORE_VALMAX, given as pointer and length with a NUL byte after
 * the last one (key[klen] == '\0'): the LMDB backend stores that NUL as
 * part of the record, as Postfix's tables do, Redis leaves it out.  So
 * the relay table's formats are what they always were: in LMDB
 * "<address>\0" -> "<expiry>\0", in Redis "<prefix>relay:<address>" ->
 * "<expiry>".
 *
 *   store_open(cfg, spec, mode)  the backend spec names.  Nothing is
 *        opened or connected yet: the LMDB file on first use (so a handle
 *        made before a daemon forks is safe), Redis connections on first
 *        use; Redis's password file is read now.  NULL with err on a bad
 *        spec, a bad redis section or no memory.
 *   store_ident(cfg, spec)  a text equal for two specs (under their
 *        configurations) exactly when they name the same store: a
 *        process keeps one handle per store (the milter across reloads)
 *   store_probe()   LMDB: open (STORE_WRITE: create) the file now; Redis:
 *        PING.  For errors at start rather than at first use.
 *   store_get()     one record
 *   store_write()   puts and deletes, in one LMDB transaction or one Redis
 *        pipeline; STORE_PUT_GREATER never replaces a greater number
 *   store_cas()     compare-and-swap on n keys, atomically: one LMDB write
 *        transaction under the exclusive file lock, one Redis EVAL (one
 *        round trip).  The claim store's put-if-absent and takeovers.
 *   store_foreach() every record
 *   store_sweep()   delete the records keep() rejects (LMDB; each delete
 *        only if the record is still what keep() saw); Redis records
 *        carry their own expiry and go by themselves: 0
 *   store_sync()    make commits made with STORE_DEFER_SYNC durable
 *   store_expires() 1 when the backend drops records at their expiry by
 *        itself (Redis), 0 when only store_sweep() does (LMDB)
 *   store_name()    the file, or "redis ADDRESS db N, keys PREFIXNS*"
 *   store_close()
 *
 * Thread safety: any number of threads may use one store at once.
 * Errors: STORE_ERR with a message in err; nothing here logs or exits.
 */
#ifndef LEAFMAIL_STORE_H
#define LEAFMAIL_STORE_H

#include <stddef.h>

#include <confuse.h>

#define STORE_OK 0
#define STORE_NOTFOUND 1
#define STORE_ERR (-1)

#define STORE_KEYMAX 511 /* LMDB's limit, with the NUL */
#define STORE_VALMAX 128 /* what store_cas() reports of a value */

/* store_open() modes */
#define STORE_READ 0    /* LMDB: a missing file reads as empty */
#define STORE_WRITE 1   /* LMDB: created (mode 0644) when missing */
#define STORE_PRIVATE 2 /* with STORE_WRITE, LMDB: mode 0600 */

/* store_write() and store_cas() flag: LMDB commits are visible at once
 * and crash-consistent but made durable only by store_sync() (or the
 * next plain commit).  Redis: no effect. */
#define STORE_DEFER_SYNC 1

/* store_op.kind */
#define STORE_PUT 0
#define STORE_DEL 1
#define STORE_PUT_GREATER 2 /* put unless the key holds a decimal number
                             * >= this value's: expiry times only grow */

struct store;

struct store_op {
	int kind;
	const char *key;
	size_t klen;
	const char *val; /* not for STORE_DEL */
	size_t vlen;
	long long expires; /* Unix time at which Redis drops the record (its
	                    * EXAT); 0: never.  LMDB: store_sweep()'s job */
};

/* One key of a store_cas(): if the key holds expect (NULL: holds
 * nothing), it gets val (NULL: deleted).  The results: done is 1 when
 * the key now holds val (or nothing, for NULL) and held expect or val
 * already before (so a command that Redis ran once and the client sent
 * again still reports done); otherwise done is 0 and found/cur say what
 * the key holds (cur truncated to STORE_VALMAX - 1 bytes, NUL added). */
struct store_cas {
	const char *key;
	size_t klen;
	const char *expect;
	size_t elen;
	const char *val;
	size_t vlen;
	long long ttl_ms; /* Redis: the new value expires this long after
	                   * Redis wrote it (by Redis's clock); 0: never */
	int done, found;
	char cur[STORE_VALMAX];
	size_t curlen;
};

typedef int (*store_visit_fn)(void *arg, const char *key, size_t klen,
                              const char *val, size_t vlen);

struct store *store_open(cfg_t *cfg, const char *spec, int mode, char *err,
                         size_t errlen);
int store_ident(cfg_t *cfg, const char *spec, char *buf, size_t len);
void store_close(struct store *s);
const char *store_name(const struct store *s);
int store_expires(const struct store *s);
int store_probe(struct store *s, char *err, size_t errlen);
/* The value (truncated to vlen - 1, NUL added) and, when len is not
 * NULL, its whole length.  STORE_OK, STORE_NOTFOUND or STORE_ERR. */
int store_get(struct store *s, const char *key, size_t klen, char *val,
              size_t vlen, size_t *len, char *err, size_t errlen);
/* STORE_OK, or STORE_ERR (LMDB: nothing written). */
int store_write(struct store *s, const struct store_op *ops, size_t n,
                int flags, char *err, size_t errlen);
/* STORE_OK with every item's results set, or STORE_ERR (nothing
 * changed, as far as this process can know: a Redis reply that never
 * came may hide a script that ran). */
int store_cas(struct store *s, struct store_cas *v, size_t n, int flags,
              char *err, size_t errlen);
/* fn returns 0 to go on, non-zero to stop.  Records sorted by key.
 * LMDB calls fn inside a read transaction: quick, no calls back into
 * the store.  STORE_OK or STORE_ERR. */
int store_foreach(struct store *s, store_visit_fn fn, void *arg, char *err,
                  size_t errlen);
/* keep() returns 1 to keep a record.  Records not in our form (LMDB: no
 * NUL at the end of key or value) are deleted too.  At most batch
 * deletes per write transaction.  Number deleted, or STORE_ERR. */
long store_sweep(struct store *s, store_visit_fn keep, void *arg,
                 size_t batch, char *err, size_t errlen);
int store_sync(struct store *s, char *err, size_t errlen);

#endif
