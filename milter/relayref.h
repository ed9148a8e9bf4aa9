/*
 * relayref.h - the relay table as the milter's configurations share it.
 *
 *   relayref_new()      a handle for <relay.table>.lmdb, not opened yet
 *   relayref_hold()     one more configuration uses it
 *   relayref_release()  one fewer; the last one closes the table
 *   relayref_get()      the open table, opening it now if need be
 *
 * Configurations loaded by SIGUSR1 share the handle when the path is the
 * same: opening one LMDB file twice in a process is not allowed (closing
 * either copy would drop the other's fcntl locks, see lmdb_table(5)).
 *
 * relayref_get() is the RCPT path: once the table is open it is one
 * atomic load and no lock.  Until then each call tries to open it, under
 * a mutex, and fails with err (the caller answers 451).
 */
#ifndef LEAFMAIL_MILTER_RELAYREF_H
#define LEAFMAIL_MILTER_RELAYREF_H

#include <stddef.h>

struct relayref;
struct table;

/* NULL when out of memory or the path is too long. */
struct relayref *relayref_new(const char *path);
void relayref_hold(struct relayref *r);
void relayref_release(struct relayref *r);
const char *relayref_path(const struct relayref *r);
/* The table, or NULL with err.  *opened is set to 1 when this call opened
 * it (the caller logs that), else 0; opened may be NULL. */
struct table *relayref_get(struct relayref *r, int *opened, char *err,
                           size_t errlen);

#endif
