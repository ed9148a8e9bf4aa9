/*
 * relaystore.h - the relay table: which client addresses may relay, and
 * until when, on a store (store.h) opened from the configuration:
 *
 *   relay.store = "lmdb" (the default): the file "<relay.table>.lmdb",
 *       which Postfix reads directly as lmdb:<relay.table>;
 *   relay.store = "redis": Redis, for sites whose POP/IMAP host and SMTP
 *       hosts are different machines.
 *
 * A record (the formats Postfix and earlier versions rely on):
 *   LMDB   "<address>\0" -> "<expiry>\0"
 *   Redis  <redis.key-prefix>relay:<address> -> "<expiry>", expiring
 *          (EXAT) at that same time, so Redis removes it by itself
 * where <address> is the canonical text of addr.h (IPv4 dotted quad,
 * IPv6 in RFC 5952 form, an IPv4-mapped address as plain IPv4) and
 * <expiry> the decimal Unix time at which the permission ends (Postfix's
 * access(5) reads an all-numerical value as OK and never looks at the
 * number: an expired LMDB record must be swept promptly).
 *
 * A write never shortens a record (STORE_PUT_GREATER): the latest login
 * wins, whichever relayd host reports it, in whatever order.
 *
 *   relaystore_open()     the store the configuration names
 *   relaystore_check()    may this address relay now
 *   relaystore_write()    add, refresh or remove addresses
 *   relaystore_sweep()    delete expired (and malformed) records
 *   relaystore_foreach()  every well-formed record
 *
 * Errors: STORE_ERR with err filled (the milter answers 451, relayd keeps
 * its batch and retries); nothing logs or exits.
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

/* "<table>.lmdb" into buf; -1 if it does not fit. */
int relaystore_path(const char *table, char *buf, size_t len);
/* The store spec cfg's relay section names ("lmdb:<table>.lmdb" or
 * "redis:relay:") into buf; -1 with err when relay.table is missing or
 * too long. */
int relaystore_spec(cfg_t *cfg, char *buf, size_t len, char *err,
                    size_t errlen);
/* store_open() of that spec: mode STORE_READ (a missing LMDB file is an
 * empty table) or STORE_WRITE (created, mode 0644 for Postfix). */
struct store *relaystore_open(cfg_t *cfg, int mode, char *err, size_t errlen);

/* 1: a may relay (expiry after now, *expires set when not NULL), 0: not
 * (absent, expired, or malformed: fail closed), STORE_ERR. */
int relaystore_check(struct store *s, const struct addr *a, time_t now,
                     time_t *expires, char *err, size_t errlen);
/* Apply n changes, in one LMDB transaction (flags: STORE_DEFER_SYNC) or
 * one Redis pipeline.  STORE_OK or STORE_ERR (LMDB: nothing applied). */
int relaystore_write(struct store *s, const struct relay_rec *v, size_t n,
                     int flags, char *err, size_t errlen);
/* Delete every record whose expiry is <= now, and malformed ones, at
 * most batch per transaction; Redis: 0, its records expire by
 * themselves.  Number deleted, or STORE_ERR. */
long relaystore_sweep(struct store *s, time_t now, size_t batch, char *err,
                      size_t errlen);
/* Every well-formed record, sorted by address text; fn returning
 * non-zero stops the walk.  STORE_OK or STORE_ERR. */
int relaystore_foreach(struct store *s, relaystore_visit_fn fn, void *arg,
                       char *err, size_t errlen);

/* The record's pieces, for tests and benchmarks that write the file by
 * other means: the key text and a NUL into buf (ADDR_STRLEN + 1 bytes),
 * the expiry's decimal text and a NUL into buf (24 bytes), each
 * returning the length without the NUL; the text of an expiry (1 to 19
 * digits, len bytes) as a time, or -1; a record (key and value without
 * their NULs) decoded, 0, or -1 when it is not exactly what
 * relaystore_write() writes (the key not canonical, say). */
size_t relaystore_key(const struct addr *a, char *buf);
size_t relaystore_expiry(long long v, char *buf);
int relaystore_parse_expiry(const char *s, size_t len, time_t *out);
int relaystore_decode(const char *key, size_t klen, const char *val,
                      size_t vlen, struct addr *a, time_t *expires);

#endif
