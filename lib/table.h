/*
 * table.h - an LMDB file shared with Postfix's lmdb: tables.
 *
 * Postfix opens LMDB files with MDB_NOSUBDIR|MDB_NOLOCK and guards every
 * transaction with a whole-file fcntl lock on the .lmdb file, shared to
 * read and exclusive to write (lmdb_table(5)).  So do we, with
 * open-file-description locks (F_OFD_SETLKW): they conflict with Postfix's
 * classic fcntl locks as they must, and, taken on a file description of
 * each thread's own, one milter thread's unlock never drops another's lock.
 *
 * Readers: table_get(), table_foreach() run one short read transaction
 * under a shared lock.  They notice when the file was replaced (deleted
 * and recreated: device/inode of the path changed) and reopen it; a
 * missing file reads as an empty table when opened TABLE_READ_MISSING_OK.
 * They adopt a map that another process grew (MDB_MAP_RESIZED).
 *
 * Writers: table_write() applies a batch of puts and deletes in one
 * transaction under the exclusive lock, growing the map (doubling) when it
 * is full.  Keep batches small: a write transaction excludes every reader,
 * Postfix's smtpd included.
 *
 * Thread safety: any number of threads may read one struct table at once;
 * writes must come from one thread at a time.
 * Errors: TABLE_ERR with a message in err; nothing logs or exits.
 */
#ifndef LEAFMAIL_TABLE_H
#define LEAFMAIL_TABLE_H

#include <stddef.h>

#define TABLE_OK 0
#define TABLE_NOTFOUND 1
#define TABLE_ERR (-1)

/* open modes */
#define TABLE_READ 0            /* file must exist */
#define TABLE_READ_MISSING_OK 1 /* missing file = empty table */
#define TABLE_WRITE 2           /* create (mode 0644) if missing */

struct table;

struct table_op {
	int del; /* 1: delete key; 0: put key=val */
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
};

/* path is the whole file name, e.g. "/var/lib/leafmail/relay.lmdb". */
struct table *table_open(const char *path, int mode, char *err, size_t errlen);
void table_close(struct table *t);
const char *table_path(const struct table *t);

/* Copies the value (truncated to vlen-1 and NUL-terminated) into val. */
int table_get(struct table *t, const void *key, size_t klen, char *val,
              size_t vlen, char *err, size_t errlen);

/* fn returns 0 to go on, non-zero to stop (table_foreach returns that). */
typedef int (*table_visit_fn)(void *arg, const void *key, size_t klen,
                              const void *val, size_t vlen);
int table_foreach(struct table *t, table_visit_fn fn, void *arg, char *err,
                  size_t errlen);

/* All ops in one transaction; deleting a missing key is not an error. */
int table_write(struct table *t, const struct table_op *ops, size_t nops,
                char *err, size_t errlen);

/*
 * table_write() with flags.  TABLE_DEFER_SYNC: the commit is visible to
 * every reader at once and stays crash-consistent (a system crash may
 * undo it, never corrupt the file), but is not yet durable: call
 * table_sync() before acting on its durability (relayd saves its log
 * positions only after that).  A later plain table_write() or
 * table_sync() makes it durable; table_close() syncs too.
 */
#define TABLE_DEFER_SYNC 1
int table_write_flags(struct table *t, const struct table_op *ops,
                      size_t nops, int flags, char *err, size_t errlen);

/* Make every commit so far durable (fdatasync); 0, or TABLE_ERR.  Cheap
 * when there is nothing to sync.  Needs no file lock: it waits for the
 * disk without excluding any reader. */
int table_sync(struct table *t, char *err, size_t errlen);

#endif
