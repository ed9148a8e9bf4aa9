/*
 * relaytable.h - the relay table's records on top of table.h.
 *
 * Key: canonical client address text (addr.h) followed by a NUL byte.
 * Value: the decimal Unix time at which the permission expires, followed
 * by a NUL (an all-numerical result is OK to Postfix's access(5)).
 * relay.table = "/var/lib/leafmail/relay" names the file "<table>.lmdb".
 */
#ifndef LEAFMAIL_RELAYTABLE_H
#define LEAFMAIL_RELAYTABLE_H

#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "lmdbfile.h"

/* "<table>.lmdb" into buf; -1 if it does not fit. */
int relaytable_path(const char *table, char *buf, size_t len);

/* 1: present and expires > now (*expires set), 0: absent or expired,
 * LMDBFILE_ERR: the table could not be read (callers fail closed). */
int relaytable_check(struct lmdbfile *t, const struct addr *a, time_t now,
                     time_t *expires, char *err, size_t errlen);

/* Encode a put (or, with expires == 0, a delete) into op, using the
 * caller's key and value buffers (ADDR_STRLEN+1 and 24 bytes). */
void relaytable_op(struct lmdbfile_op *op, const struct addr *a, time_t expires,
                   char *keybuf, char *valbuf);

/* Parse a record; 0 ok, -1 malformed (not "<addr>\0" -> "<digits>\0"). */
int relaytable_decode(const void *key, size_t klen, const void *val,
                      size_t vlen, struct addr *a, time_t *expires);

/* The record's pieces, shared with the Redis store (relaystore.c): the
 * canonical key text and its NUL into buf (ADDR_STRLEN + 1 bytes), the
 * decimal value and its NUL into buf (24 bytes), each returning the
 * length with the NUL; and the value's text (1 to 19 digits, len bytes,
 * no NUL) as a time, -1 when malformed. */
size_t relaytable_key(const struct addr *a, char *buf);
size_t relaytable_expiry(long long v, char *buf);
int relaytable_parse_expiry(const char *s, size_t len, time_t *out);

/* Delete every record whose expiry is <= now (and malformed ones), in
 * batches of at most `batch` deletes per write transaction.  Number
 * deleted, or LMDBFILE_ERR. */
long relaytable_sweep(struct lmdbfile *t, time_t now, size_t batch, char *err,
                      size_t errlen);

#endif
