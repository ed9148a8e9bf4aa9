/*
 * storeref.h - the stores the milter's configurations share: the relay
 * table, and the UMTP claim store when milter.umtp-dedup is on.
 *
 *   storeref_get()      a reference to the store spec names under cfg:
 *                       the handle already open in this process when a
 *                       configuration still in use has it (store_ident()
 *                       equal), else a new one from store_open()
 *   storeref_release()  one reference fewer; the last one closes it
 *   storeref_store()    the store, for store.h's functions
 *
 * One handle per store per process, across any number of SIGUSR1
 * reloads: opening one LMDB file twice in a process is not allowed
 * (closing either environment would drop the other's fcntl locks, see
 * lmdb_table(5)), and a Redis handle keeps its pool of connections.  The
 * LMDB backend opens its file on first use (store.h), so a reference made
 * before the milter detaches is safe.
 */
#ifndef LEAFMAIL_MILTER_STOREREF_H
#define LEAFMAIL_MILTER_STOREREF_H

#include <confuse.h>
#include <stddef.h>

struct storeref;
struct store;

/* NULL with err (a bad spec or redis section, out of memory). */
struct storeref *storeref_get(cfg_t *cfg, const char *spec, int mode,
                              char *err, size_t errlen);
/* NULL is fine. */
void storeref_release(struct storeref *r);
struct store *storeref_store(const struct storeref *r);

#endif
