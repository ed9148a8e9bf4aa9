/*
 * relayref.h - the relay table as the milter's configurations share it.
 *
 *   relayref_new()      a handle for <relay.table>.lmdb, not opened yet
 *   relayref_new_store() a handle for a store already open (Redis)
 *   relayref_hold()     one more configuration uses it
 *   relayref_release()  one fewer; the last one closes the store
 *   relayref_get()      the open store, opening the file now if need be
 *
 * Configurations loaded by SIGUSR1 share the handle when its name (the
 * path, or the Redis settings) is the same: opening one LMDB file twice in
 * a process is not allowed (closing either copy would drop the other's
 * fcntl locks, see lmdb_table(5)), and a Redis client keeps its pool.
 *
 * relayref_get() is the RCPT path: once the table is open it is one
 * atomic load and no lock.  Until then each call tries to open it, under
 * a mutex, and fails with err (the caller answers 451).
 */
#ifndef LEAFMAIL_MILTER_RELAYREF_H
#define LEAFMAIL_MILTER_RELAYREF_H

#include <stddef.h>

struct relayref;
struct store;

/* NULL when out of memory or the path is too long. */
struct relayref *relayref_new(const char *path);
/* Takes st (closed with the handle; also on failure).  name: what
 * relayref_path() answers, compared on reload. */
struct relayref *relayref_new_store(struct store *st, const char *name);
void relayref_hold(struct relayref *r);
void relayref_release(struct relayref *r);
const char *relayref_path(const struct relayref *r);
/* The store, or NULL with err.  *opened is set to 1 when this call opened
 * it (the caller logs that), else 0; opened may be NULL. */
struct store *relayref_get(struct relayref *r, int *opened, char *err,
                                size_t errlen);

#endif
