/*
 * lmdbfile.h - an LMDB file shared with Postfix's lmdb: tables: the driver
 * under the LMDB store backend (store_lmdb.c), which is what programs use.
 *
 * Postfix opens LMDB files with MDB_NOSUBDIR|MDB_NOLOCK and guards every
 * transaction with a whole-file fcntl lock on the .lmdb file, shared to
 * read and exclusive to write (lmdb_table(5)).  So do we, with
 * open-file-description locks (F_OFD_SETLKW): they conflict with Postfix's
 * classic fcntl locks as they must, and, taken on a file description of
 * each thread's own, one milter thread's unlock never drops another's lock.
 *
 * Readers: lmdbfile_get(), lmdbfile_foreach() run one short read transaction
 * under a shared lock.  They notice when the file was replaced (deleted
 * and recreated: device/inode of the path changed) and reopen it; a
 * missing file reads as an empty table when opened LMDBFILE_READ_MISSING_OK.
 * They adopt a map that another process grew (MDB_MAP_RESIZED).
 *
 * Writers: lmdbfile_write() applies a batch of puts and deletes in one
 * transaction under the exclusive lock, growing the map (doubling) when it
 * is full.  lmdbfile_update() reads, compares and writes in one such
 * transaction.  Keep batches small: a write transaction excludes every
 * reader, Postfix's smtpd included.
 *
 * Thread safety: any number of threads may use one struct lmdbfile at once;
 * its writes are serialised (one write transaction at a time per file).
 * Errors: LMDBFILE_ERR with a message in err; nothing logs or exits.
 */
#ifndef LEAFMAIL_LMDBFILE_H
#define LEAFMAIL_LMDBFILE_H

#include <stddef.h>

#define LMDBFILE_OK 0
#define LMDBFILE_NOTFOUND 1
#define LMDBFILE_ERR (-1)

/* open modes */
#define LMDBFILE_READ 0            /* file must exist */
#define LMDBFILE_READ_MISSING_OK 1 /* missing file = empty table */
#define LMDBFILE_WRITE 2           /* create (mode 0644) if missing */
/* or'ed with LMDBFILE_WRITE: a private file, created mode 0600; an
 * existing file of ours that group or others may read is made 0600. */
#define LMDBFILE_PRIVATE 4

struct lmdbfile;

/* lmdbfile_op.del */
#define LMDBFILE_PUT 0
#define LMDBFILE_DEL 1
#define LMDBFILE_KEEP 2 /* lmdbfile_update() only: leave the key as it is */

struct lmdbfile_op {
	int del; /* LMDBFILE_DEL: delete key; LMDBFILE_PUT: put key=val */
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
};

/* path is the whole file name, e.g. "/var/lib/leafmail/relay.lmdb". */
struct lmdbfile *lmdbfile_open(const char *path, int mode, char *err, size_t errlen);
void lmdbfile_close(struct lmdbfile *t);
const char *lmdbfile_path(const struct lmdbfile *t);

/* Copies the value (truncated to vlen-1 and NUL-terminated) into val. */
int lmdbfile_get(struct lmdbfile *t, const void *key, size_t klen, char *val,
              size_t vlen, char *err, size_t errlen);

/* fn returns 0 to go on, non-zero to stop (lmdbfile_foreach returns that). */
typedef int (*lmdbfile_visit_fn)(void *arg, const void *key, size_t klen,
                              const void *val, size_t vlen);
int lmdbfile_foreach(struct lmdbfile *t, lmdbfile_visit_fn fn, void *arg, char *err,
                  size_t errlen);

/* All ops in one transaction; deleting a missing key is not an error. */
int lmdbfile_write(struct lmdbfile *t, const struct lmdbfile_op *ops, size_t nops,
                char *err, size_t errlen);

/*
 * lmdbfile_write() with flags.  LMDBFILE_DEFER_SYNC: the commit is visible to
 * every reader at once and stays crash-consistent (a system crash may
 * undo it, never corrupt the file), but is not yet durable: call
 * lmdbfile_sync() before acting on its durability (relayd saves its log
 * positions only after that).  A later plain lmdbfile_write() or
 * lmdbfile_sync() makes it durable; lmdbfile_close() syncs too.
 */
#define LMDBFILE_DEFER_SYNC 1
int lmdbfile_write_flags(struct lmdbfile *t, const struct lmdbfile_op *ops,
                      size_t nops, int flags, char *err, size_t errlen);

/*
 * Read-compare-write in one write transaction under the exclusive lock:
 * for each keys[i] (key and klen used) in turn, fn gets the value the
 * key holds now (cur NULL when it holds none; valid only during the
 * call) and fills op: op->del LMDBFILE_KEEP (the default), LMDBFILE_DEL,
 * or LMDBFILE_PUT with op->val/vlen.  A later key sees what was done to
 * an earlier one.  No other writer, in this process or any other, runs
 * in between: this is put-if-absent, compare-and-swap and conditional
 * delete.  fn may be called more than once for a key: first as if the
 * key were absent (a put it decides then goes in with MDB_NOOVERWRITE,
 * one search for a new key), again with the value when the key exists,
 * and all over when the transaction had to start again (the map grew);
 * only the last call counts.
 * LMDBFILE_OK, or LMDBFILE_ERR with nothing written.
 */
typedef void (*lmdbfile_update_fn)(void *arg, size_t i, const void *cur,
                                   size_t curlen, struct lmdbfile_op *op);
int lmdbfile_update(struct lmdbfile *t, const struct lmdbfile_op *keys,
                    size_t n, lmdbfile_update_fn fn, void *arg, int flags,
                    char *err, size_t errlen);

/* Make every commit so far durable (fdatasync); 0, or LMDBFILE_ERR.  Cheap
 * when there is nothing to sync.  Needs no file lock: it waits for the
 * disk without excluding any reader. */
int lmdbfile_sync(struct lmdbfile *t, char *err, size_t errlen);

#endif
