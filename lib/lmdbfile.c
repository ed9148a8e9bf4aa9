/*
 * lmdbfile.c - an LMDB file shared with Postfix's lmdb: tables.
 *
 * Interface (lmdbfile.h): lmdbfile_open(path, mode), lmdbfile_get(), lmdbfile_foreach(),
 * lmdbfile_write(), lmdbfile_close(), lmdbfile_path().
 *
 * The protocol is Postfix's (lmdb_table(5), src/util/slmdb.c): the file is
 * opened with MDB_NOSUBDIR|MDB_NOLOCK, so LMDB keeps no lock file and no
 * reader table, and every transaction, read or write, runs from start to
 * end under a whole-file fcntl lock on the .lmdb file, shared to read and
 * exclusive to write.  Without LMDB's reader table a writer reuses freed
 * pages at once, so that lock is the only thing keeping a reader from
 * reading pages while they are overwritten.
 *
 * Locks.  We take open-file-description locks (F_OFD_SETLKW): they conflict
 * with Postfix's classic F_SETLKW locks, and unlike those they belong to a
 * file description, not to the process, so every transaction must lock a
 * description that no other transaction is using at the same time.
 *
 * Readers take that description from a small pool kept in the table: each
 * entry is a descriptor of its own open() (never a dup(), which would share
 * the description and so the lock), used by one transaction at a time and
 * put back afterwards, O_RDONLY.  A read is then: lock, stat(path), the
 * transaction, unlock -- three system calls instead of open, fstat, lock,
 * unlock, close.  The stat() of the PATH on every read is what notices that
 * the file was deleted (an empty table at once: the milter must answer 550,
 * not relay on a table that no longer exists) or replaced (another device
 * or inode than the pooled descriptor's: that descriptor is dropped and the
 * path opened afresh).  Checking at every call, not every few ms, keeps the
 * old behaviour exactly: the locked file is the one the path names after
 * the lock was taken.  A pool rather than a descriptor per thread: it needs
 * no thread-exit destructor, lmdbfile_close() closes every descriptor, and it
 * holds no more descriptors than transactions ever ran at once (capped at
 * LMDBFILE_POOL; beyond that a descriptor is closed after use).  The pool
 * is split in POOL_STRIPES stripes, each with its own mutex, a thread
 * using the stripe its number picks: with 50 milter threads one mutex was
 * contended enough to show.  A child of
 * fork() shares the parent's descriptions: pthread_atfork() bumps a
 * generation in the child, and pooled descriptors from an older generation
 * are closed unused (closing a copy never drops the parent's lock).
 * Measured on the (busy, 2-core) development machine, one thread:
 * lmdbfile_get() went from 7-9 us to 4-6 us; the rest is the kernel's lock
 * and path lookup.
 *
 * Writers are rare (a batch per wake-up of relayd) and keep open()ing the
 * path O_RDWR for each transaction, creating the file when it is missing.
 *
 * Inside the process a pthread rwlock guards the environment: every
 * transaction holds it shared; reopening the file (it was replaced) and
 * resizing the map (another process grew it: MDB_MAP_RESIZED, or our write
 * found it full: MDB_MAP_FULL) hold it exclusively, because LMDB requires
 * that no transaction is active when the map changes.  The order is always
 * rwlock first, then the file lock; a thread waiting for the rwlock holds
 * no file lock, so the two never deadlock.  The rwlock prefers writers so a
 * stream of lookups cannot starve a reopen.  lmdbfile_write() takes it
 * exclusively too: the file lock would exclude this process's readers
 * anyway, and fcntl locks have no writer preference, so without that a
 * busy milter's own lookups could keep its writes waiting indefinitely.
 * (Readers in other processes can still delay a writer that way; Postfix
 * has the same property, and lookups are short and far apart.)
 *
 * Readers open with MDB_RDONLY and their lock descriptor O_RDONLY: they need
 * no write permission on the file or its directory.  A missing file is an
 * empty table for LMDBFILE_READ_MISSING_OK (and for LMDBFILE_WRITE tables, whose
 * next write recreates it), an error for LMDBFILE_READ.
 *
 * Writers (LMDBFILE_WRITE) create the file mode 0644 (LMDBFILE_PRIVATE:
 * 0600, and an existing file is tightened to that) if it is missing, under
 * the exclusive lock, and let LMDB write its meta pages before anyone can
 * take a shared lock on it.  A new file starts with a 1 MiB map, doubled
 * each time a write finds it full (up to LMDBFILE_MAX_MAP).  Commits are
 * synced (no MDB_NOSYNC) unless the caller asks lmdbfile_write_flags() for
 * LMDBFILE_DEFER_SYNC (DEFER_FLAGS below), made durable by lmdbfile_sync().
 * Lock time of one 4096-entry write measured here: about 8 ms synced,
 * about 5 ms deferred (most of the difference: the synchronous write of
 * the meta page, which a deferred commit leaves to the next sync).
 *
 * lmdbfile_foreach() calls its visitor inside the read transaction, under both
 * locks: the visitor must be quick and must not call back into the table
 * (store_sweep() collects keys first and deletes afterwards).
 *
 * lmdbfile_open() checks the file at once: LMDBFILE_READ wants it to exist, and
 * a file that exists but is not a readable LMDB table fails every mode, so
 * a bad path shows at start-up.  Later, the same troubles are LMDBFILE_ERR from
 * each call, and the file is tried again on the next one.
 *
 * What can go wrong: every LMDB or system error comes back as LMDBFILE_ERR
 * with a message naming the file.  A garbage file fails LMDB's own checks;
 * a file shorter than its meta page says (truncated) is refused before any
 * page beyond the end of file is touched, because touching it would be a
 * SIGBUS.  Limit: a file whose meta pages are intact but whose B-tree pages
 * were overwritten with garbage can still crash LMDB; LMDB does not check
 * its pages and neither can we, cheaply.
 */
#include "lmdbfile.h"

#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LMDBFILE_INITIAL_MAP ((size_t)1 << 20)
#define LMDBFILE_MAX_MAP ((size_t)1 << 36)
#define LMDBFILE_POOL 64 /* idle read-lock descriptors kept per table */
#define POOL_STRIPES 8
#define STRIPE_SIZE (LMDBFILE_POOL / POOL_STRIPES)
/*
 * What LMDBFILE_DEFER_SYNC asks of LMDB.  MDB_NOMETASYNC: the data pages are
 * still fdatasync()ed before the meta page that points at them is written,
 * so a system crash can undo the last commits but never leave a meta page
 * pointing at pages that are not on disk.  Not MDB_NOSYNC: without write
 * ordering (ext4 gives none within a file) a crash could persist the meta
 * page without its pages, and since without a reader table a writer reuses
 * freed pages at once, the older meta's tree may be overwritten too: a
 * corrupt table.  MDB_NOSYNC measured about 2 ms less lock time per 4096
 * entries (2.2 against 5 ms); not worth a corrupt file after a power cut.
 */
#define DEFER_FLAGS MDB_NOMETASYNC

/* A descriptor locked for one transaction, and the file it is open on. */
struct lockfd {
	int fd;
	int pool;      /* a read descriptor: goes back to the pool */
	unsigned gen;  /* fork generation it was opened in */
	dev_t dev;
	ino_t ino;
};

struct lmdbfile {
	char *path;
	int mode;
	mode_t create_mode; /* 0644, or 0600 for LMDBFILE_PRIVATE */
	MDB_env *env; /* NULL while the file is missing or unreadable */
	dev_t dev;    /* of the file env was opened on */
	ino_t ino;
	unsigned psize;
	int unsynced; /* commits made with LMDBFILE_DEFER_SYNC, not yet synced */
	pthread_rwlock_t rw;
	struct pool_stripe {
		pthread_mutex_t mu; /* guards fd, n */
		struct lockfd fd[STRIPE_SIZE];
		int n;
	} pool[POOL_STRIPES];
};

/* This thread's stripe: threads are numbered as they first use a table. */
static unsigned
stripe_index(void)
{
	static _Thread_local unsigned mine;
	static _Thread_local int have;
	static unsigned next; /* atomic */

	if (!have) {
		mine = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) %
		       POOL_STRIPES;
		have = 1;
	}
	return mine;
}

/* Bumped in the child of every fork(): descriptors pooled before the fork
 * share their descriptions (and so their locks) with the parent's. */
static unsigned fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void
fork_child(void)
{
	fork_gen++;
}

static void
fork_register(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}

/* Internal results: no file (an empty table); drop the locks and retry. */
#define LMDBFILE_EMPTY 2
#define LMDBFILE_AGAIN 3

/* type: F_RDLCK, F_WRLCK or F_UNLCK on the whole file; retries EINTR. */
static int
file_lock(int fd, short type)
{
	struct flock l;

	memset(&l, 0, sizeof(l));
	l.l_type = type;
	l.l_whence = SEEK_SET;
	l.l_start = 0;
	l.l_len = 0;
	l.l_pid = 0; /* required for OFD locks */
	while (fcntl(fd, type == F_UNLCK ? F_OFD_SETLK : F_OFD_SETLKW, &l) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/*
 * Open the path for a lock and take it.  Writers create a missing file with
 * mode 0644 whatever the umask, since Postfix must be able to read it (0600
 * for a private file).
 * Returns the descriptor, or -1 with errno (ENOENT: no file, readers only).
 */
static int
lock_open(const struct lmdbfile *t, int write)
{
	int fd;

	for (;;) {
		fd = open(t->path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || !write)
			break;
		fd = open(t->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		          t->create_mode);
		if (fd >= 0) {
			if (fchmod(fd, t->create_mode) == -1) {
				close(fd);
				return -1;
			}
			break;
		}
		if (errno != EEXIST)
			return -1;
		/* someone else created it between our two opens: use theirs */
	}
	if (fd < 0)
		return -1;
	if (file_lock(fd, write ? F_WRLCK : F_RDLCK) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A pooled read descriptor of the current fork generation, or -1. */
static int
pool_take(struct lmdbfile *t, struct lockfd *lk)
{
	struct pool_stripe *p = &t->pool[stripe_index()];
	int found = 0;

	pthread_mutex_lock(&p->mu);
	while (p->n > 0) {
		*lk = p->fd[--p->n];
		if (lk->gen == fork_gen) {
			found = 1;
			break;
		}
		close(lk->fd); /* the parent's description: not ours to use */
	}
	pthread_mutex_unlock(&p->mu);
	return found ? lk->fd : -1;
}

/* Unlock (explicitly: a child forked meanwhile shares the description, and
 * close() alone would leave the lock to it), then pool or close. */
static void
lockfd_release(struct lmdbfile *t, struct lockfd *lk)
{
	int e = errno;

	if (lk->fd == -1)
		return;
	file_lock(lk->fd, F_UNLCK);
	if (lk->pool && lk->gen == fork_gen) {
		struct pool_stripe *p = &t->pool[stripe_index()];
		pthread_mutex_lock(&p->mu);
		if (p->n < STRIPE_SIZE) {
			p->fd[p->n++] = *lk;
			lk->fd = -1;
		}
		pthread_mutex_unlock(&p->mu);
	}
	if (lk->fd != -1)
		close(lk->fd);
	lk->fd = -1;
	errno = e;
}

static void
pool_drain(struct lmdbfile *t)
{
	for (int i = 0; i < POOL_STRIPES; i++) {
		struct pool_stripe *p = &t->pool[i];
		pthread_mutex_lock(&p->mu);
		while (p->n > 0)
			close(p->fd[--p->n].fd);
		pthread_mutex_unlock(&p->mu);
	}
}

/*
 * A read lock through a pooled descriptor: lock it, then stat() the path
 * and check that it still names that descriptor's file.  Returns 1 with
 * the lock held and *st the file's stat; 0 when the pool had nothing
 * usable (nothing held: open the path afresh); -1 with errno when the
 * path is gone (ENOENT) or cannot be examined (nothing held).
 */
static int
pool_lock(struct lmdbfile *t, struct lockfd *lk, struct stat *st)
{
	while (pool_take(t, lk) != -1) {
		lk->pool = 1;
		if (file_lock(lk->fd, F_RDLCK) == -1) {
			int e = errno;
			close(lk->fd);
			lk->fd = -1;
			errno = e;
			return -1;
		}
		if (stat(t->path, st) == -1) {
			/* Deleted (or unreachable): this descriptor's file is
			 * no longer the table. */
			int e = errno;
			lk->pool = 0;
			lockfd_release(t, lk);
			errno = e;
			return -1;
		}
		if (st->st_dev == lk->dev && st->st_ino == lk->ino)
			return 1;
		/* Replaced: drop the old file's descriptor; the others in
		 * the pool are on it too and go the same way. */
		lk->pool = 0;
		lockfd_release(t, lk);
	}
	return 0;
}

/* Commits made with LMDBFILE_DEFER_SYNC are synced before the environment
 * goes (best effort: a file being replaced or closed has no one left to
 * report to; lmdbfile_sync() is where callers learn of sync errors). */
static void
env_close(struct lmdbfile *t)
{
	if (t->env != NULL) {
		if (t->unsynced)
			mdb_env_sync(t->env, 1);
		mdb_env_close(t->env);
	}
	t->env = NULL;
	t->unsynced = 0;
}

/*
 * (Re)open the environment on the file locked as fd (st: its fstat).
 * Caller holds the rwlock exclusively and the file lock.  LMDB opens the
 * path by name, so we check that it opened the file we locked.
 */
static int
env_reopen(struct lmdbfile *t, const struct stat *st, char *err, size_t errlen)
{
	unsigned flags = MDB_NOSUBDIR | MDB_NOLOCK;
	int write = t->mode == LMDBFILE_WRITE;
	MDB_env *env;
	MDB_stat ms;
	struct stat est;
	int rc, efd;

	env_close(t);
	if (st->st_size == 0 && !write) {
		errbuf_set(err, errlen, "%s: empty file, not an LMDB table", t->path);
		return LMDBFILE_ERR;
	}
	if (!write)
		flags |= MDB_RDONLY;
	if ((rc = mdb_env_create(&env)) != 0) {
		errbuf_set(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
		return LMDBFILE_ERR;
	}
	/* Unset, the map size is the one recorded in the file. */
	if (st->st_size == 0 &&
	    (rc = mdb_env_set_mapsize(env, LMDBFILE_INITIAL_MAP)) != 0)
		goto fail;
	if ((rc = mdb_env_open(env, t->path, flags, 0644)) != 0)
		goto fail;
	if ((rc = mdb_env_get_fd(env, &efd)) != 0)
		goto fail;
	if (fstat(efd, &est) == -1) {
		rc = errno;
		goto fail;
	}
	if (est.st_dev != st->st_dev || est.st_ino != st->st_ino) {
		mdb_env_close(env);
		errbuf_set(err, errlen, "%s: file replaced while opening it", t->path);
		return LMDBFILE_AGAIN;
	}
	/* Both meta pages must be in the file before LMDB maps them
	 * (EBADF/MDB_INVALID above catch most of that already). */
	if ((rc = mdb_env_stat(env, &ms)) != 0)
		goto fail;
	if (est.st_size < 2 * (off_t)ms.ms_psize) {
		mdb_env_close(env);
		errbuf_set(err, errlen, "%s: truncated file (%lld bytes)", t->path,
		           (long long)est.st_size);
		return LMDBFILE_ERR;
	}
	/* LMDB wrote the meta pages of a new file: have them on disk before
	 * anyone reads the file. */
	if (st->st_size == 0 && (rc = mdb_env_sync(env, 1)) != 0)
		goto fail;
	t->env = env;
	t->dev = est.st_dev;
	t->ino = est.st_ino;
	t->psize = ms.ms_psize;
	return LMDBFILE_OK;
fail:
	mdb_env_close(env);
	errbuf_set(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
	return LMDBFILE_ERR;
}

/*
 * Every page the newest meta page refers to must lie inside the file; a
 * page beyond the end of a mapped file is a SIGBUS.  Checked under the
 * file lock, with a transaction begun (so the meta is the one it uses);
 * st is the locked file's fstat (its size cannot change under the lock,
 * short of someone ignoring the protocol).
 */
static int
check_size(struct lmdbfile *t, const struct stat *st, char *err, size_t errlen)
{
	MDB_envinfo info;
	int rc;

	if ((rc = mdb_env_info(t->env, &info)) != 0) {
		errbuf_set(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
		return LMDBFILE_ERR;
	}
	if ((unsigned long long)st->st_size <
	    ((unsigned long long)info.me_last_pgno + 1) * t->psize) {
		errbuf_set(err, errlen,
		           "%s: truncated file (%lld bytes, its meta page needs "
		           "%llu)",
		           t->path, (long long)st->st_size,
		           ((unsigned long long)info.me_last_pgno + 1) * t->psize);
		return LMDBFILE_ERR;
	}
	return LMDBFILE_OK;
}

/*
 * Take the locks for one transaction: the rwlock (shared unless *excl),
 * then the file lock on a fresh descriptor.  Reopens the environment when
 * the path names another file than the one it was opened on; that and
 * every other change of the environment needs the rwlock exclusively, so
 * when it is held shared we drop everything, set *excl and return
 * LMDBFILE_AGAIN to tell the caller to come again.
 * Returns LMDBFILE_OK with both locks held, *fd locked and *st its fstat, or,
 * holding nothing: LMDBFILE_EMPTY (no file), LMDBFILE_AGAIN or LMDBFILE_ERR.
 */
static int
txn_lock(struct lmdbfile *t, int write, int *excl, struct lockfd *lk,
         struct stat *st, char *err, size_t errlen)
{
	int rc = 0;

	lk->fd = -1;
	if (*excl)
		pthread_rwlock_wrlock(&t->rw);
	else
		pthread_rwlock_rdlock(&t->rw);
	if (!write)
		rc = pool_lock(t, lk, st);
	if (rc == 0) {
		lk->fd = lock_open(t, write);
		lk->pool = !write;
		lk->gen = fork_gen;
		if (lk->fd != -1 && fstat(lk->fd, st) == -1) {
			errbuf_set(err, errlen, "%s: %s", t->path, strerror(errno));
			goto fail;
		}
		if (lk->fd != -1) {
			lk->dev = st->st_dev;
			lk->ino = st->st_ino;
		} else {
			rc = -1;
		}
	}
	if (rc == -1) {
		if (errno == ENOENT && !write && t->mode != LMDBFILE_READ) {
			pthread_rwlock_unlock(&t->rw);
			return LMDBFILE_EMPTY;
		}
		errbuf_set(err, errlen, "%s: %s", t->path, strerror(errno));
		goto fail;
	}
	if (t->env != NULL && st->st_dev == t->dev && st->st_ino == t->ino)
		goto have_env;
	if (!*excl) {
		*excl = 1;
		lockfd_release(t, lk);
		pthread_rwlock_unlock(&t->rw);
		return LMDBFILE_AGAIN;
	}
	/* Descriptors pooled on the old file are of no more use. */
	pool_drain(t);
	if ((rc = env_reopen(t, st, err, errlen)) != LMDBFILE_OK) {
		lockfd_release(t, lk);
		pthread_rwlock_unlock(&t->rw);
		return rc;
	}
	if (fstat(lk->fd, st) == -1) { /* a new file has its meta pages now */
		errbuf_set(err, errlen, "%s: %s", t->path, strerror(errno));
		goto fail;
	}
have_env:
	/* txn_begin reads both meta pages through the map: they must still
	 * be in the file. */
	if (st->st_size < 2 * (off_t)t->psize) {
		errbuf_set(err, errlen, "%s: truncated file (%lld bytes)", t->path,
		           (long long)st->st_size);
		goto fail;
	}
	return LMDBFILE_OK;
fail:
	lockfd_release(t, lk);
	pthread_rwlock_unlock(&t->rw);
	return LMDBFILE_ERR;
}

static void
txn_unlock(struct lmdbfile *t, struct lockfd *lk)
{
	lockfd_release(t, lk);
	pthread_rwlock_unlock(&t->rw);
}

/*
 * Begin a transaction (flags 0 or MDB_RDONLY) under the lock txn_lock()
 * took.  Another process grew the map (MDB_MAP_RESIZED): our size is
 * adopted, which needs the lock exclusive; when it was shared it is
 * dropped, *excl set and *again says to lock again (returning 0).
 * Otherwise mdb_txn_begin()'s result.
 */
static int
txn_begin(struct lmdbfile *t, unsigned flags, int *excl, struct lockfd *lk,
          MDB_txn **txn, int *again)
{
	int rc = mdb_txn_begin(t->env, NULL, flags, txn);

	*again = 0;
	if (rc != MDB_MAP_RESIZED)
		return rc;
	if (!*excl) {
		*excl = 1;
		txn_unlock(t, lk);
		*again = 1;
		return 0;
	}
	rc = mdb_env_set_mapsize(t->env, 0);
	return rc != 0 ? rc : mdb_txn_begin(t->env, NULL, flags, txn);
}

typedef int (*txn_fn)(struct lmdbfile *t, MDB_txn *txn, MDB_dbi dbi, void *arg,
                      char *err, size_t errlen);

/*
 * Run fn inside one read transaction under the shared file lock.
 * Returns fn's result, LMDBFILE_EMPTY when there is no file, or LMDBFILE_ERR.
 */
static int
read_txn(struct lmdbfile *t, txn_fn fn, void *arg, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	struct stat st;
	struct lockfd lk;
	int excl = 0, again, rc, tries;

	for (tries = 0; tries < 100; tries++) {
		rc = txn_lock(t, 0, &excl, &lk, &st, err, errlen);
		if (rc == LMDBFILE_AGAIN)
			continue;
		if (rc != LMDBFILE_OK)
			return rc;
		rc = txn_begin(t, MDB_RDONLY, &excl, &lk, &txn, &again);
		if (again)
			continue;
		if (rc != 0) {
			errbuf_set(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
			rc = LMDBFILE_ERR;
			goto out;
		}
		if ((rc = check_size(t, &st, err, errlen)) == LMDBFILE_OK) {
			rc = mdb_dbi_open(txn, NULL, 0, &dbi);
			if (rc != 0) {
				errbuf_set(err, errlen, "%s: %s", t->path,
				           mdb_strerror(rc));
				rc = LMDBFILE_ERR;
			} else {
				rc = fn(t, txn, dbi, arg, err, errlen);
			}
		}
		mdb_txn_abort(txn);
	out:
		txn_unlock(t, &lk);
		return rc;
	}
	errbuf_set(err, errlen, "%s: file keeps changing, giving up", t->path);
	return LMDBFILE_ERR;
}

struct get_arg {
	const void *key;
	size_t klen;
	char *val;
	size_t vlen;
};

static int
get_fn(struct lmdbfile *t, MDB_txn *txn, MDB_dbi dbi, void *arg, char *err,
       size_t errlen)
{
	struct get_arg *g = arg;
	MDB_val k, v;
	size_t n;
	int rc;

	k.mv_data = (void *)g->key;
	k.mv_size = g->klen;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return LMDBFILE_NOTFOUND;
	if (rc != 0) {
		errbuf_set(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
		return LMDBFILE_ERR;
	}
	if (g->vlen > 0) {
		n = v.mv_size < g->vlen - 1 ? v.mv_size : g->vlen - 1;
		memcpy(g->val, v.mv_data, n);
		g->val[n] = '\0';
	}
	return LMDBFILE_OK;
}

int
lmdbfile_get(struct lmdbfile *t, const void *key, size_t klen, char *val,
          size_t vlen, char *err, size_t errlen)
{
	struct get_arg g = {key, klen, val, vlen};
	int rc;

	if (klen == 0 || klen > 511) /* LMDB's key size limit */
		return LMDBFILE_NOTFOUND;
	rc = read_txn(t, get_fn, &g, err, errlen);
	return rc == LMDBFILE_EMPTY ? LMDBFILE_NOTFOUND : rc;
}

struct foreach_arg {
	lmdbfile_visit_fn fn;
	void *arg;
	int ret; /* what fn returned last */
};

static int
foreach_fn(struct lmdbfile *t, MDB_txn *txn, MDB_dbi dbi, void *arg, char *err,
           size_t errlen)
{
	struct foreach_arg *f = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0) {
		errbuf_set(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
		return LMDBFILE_ERR;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((f->ret = f->fn(f->arg, k.mv_data, k.mv_size, v.mv_data,
		                    v.mv_size)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		errbuf_set(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
		return LMDBFILE_ERR;
	}
	return LMDBFILE_OK;
}

int
lmdbfile_foreach(struct lmdbfile *t, lmdbfile_visit_fn fn, void *arg, char *err,
              size_t errlen)
{
	struct foreach_arg f = {fn, arg, 0};
	int rc;

	rc = read_txn(t, foreach_fn, &f, err, errlen);
	if (rc == LMDBFILE_ERR)
		return LMDBFILE_ERR;
	return f.ret; /* 0 also when there is no file */
}

/* Apply ops in txn; an MDB_* code (MDB_MAP_FULL means: grow, retry). */
static int
apply_ops(MDB_txn *txn, MDB_dbi dbi, const struct lmdbfile_op *ops, size_t nops)
{
	MDB_val k, v;
	size_t i;
	int rc;

	for (i = 0; i < nops; i++) {
		k.mv_data = (void *)ops[i].key;
		k.mv_size = ops[i].klen;
		if (ops[i].del) {
			rc = mdb_del(txn, dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			v.mv_data = (void *)ops[i].val;
			v.mv_size = ops[i].vlen;
			rc = mdb_put(txn, dbi, &k, &v, 0);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
lmdbfile_write(struct lmdbfile *t, const struct lmdbfile_op *ops, size_t nops,
               char *err, size_t errlen)
{
	return lmdbfile_write_flags(t, ops, nops, 0, err, errlen);
}

typedef int (*apply_fn)(MDB_txn *txn, MDB_dbi dbi, void *arg);

struct ops_arg {
	const struct lmdbfile_op *ops;
	size_t nops;
};

static int
apply_ops_fn(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
	struct ops_arg *a = arg;

	return apply_ops(txn, dbi, a->ops, a->nops);
}

/*
 * One write transaction under the exclusive lock, running fn inside it;
 * retried from the start (fn called again) when the map had to grow.
 */
static int
write_txn(struct lmdbfile *t, apply_fn fn, void *arg, int flags, char *err,
          size_t errlen)
{
	int defer = (flags & LMDBFILE_DEFER_SYNC) != 0;

	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_envinfo info;
	struct stat st;
	struct lockfd lk;
	int excl = 1, again, grow = 0, rc, tries;

	if (t->mode != LMDBFILE_WRITE) {
		errbuf_set(err, errlen, "%s: table opened read-only", t->path);
		return LMDBFILE_ERR;
	}
	for (tries = 0; tries < 100; tries++) {
		rc = txn_lock(t, 1, &excl, &lk, &st, err, errlen);
		if (rc == LMDBFILE_AGAIN)
			continue;
		if (rc != LMDBFILE_OK)
			return LMDBFILE_ERR; /* writers never see LMDBFILE_EMPTY */
		if (grow) {
			/* excl is set: no transaction is active here */
			mdb_env_info(t->env, &info);
			if (info.me_mapsize >= LMDBFILE_MAX_MAP) {
				errbuf_set(err, errlen, "%s: map full at %zu bytes",
				           t->path, info.me_mapsize);
				rc = LMDBFILE_ERR;
				goto out;
			}
			rc = mdb_env_set_mapsize(t->env, info.me_mapsize * 2);
			if (rc != 0)
				goto lmdb_err;
			grow = 0;
		}
		rc = txn_begin(t, 0, &excl, &lk, &txn, &again);
		if (again)
			continue;
		if (rc != 0)
			goto lmdb_err;
		if ((rc = check_size(t, &st, err, errlen)) != LMDBFILE_OK) {
			mdb_txn_abort(txn);
			goto out;
		}
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
		if (rc == 0)
			rc = fn(txn, dbi, arg);
		/* excl is set: no other transaction of ours is active, so
		 * the environment's flags may change.  The sync flag is the
		 * environment's, not the transaction's. */
		if (rc == 0)
			rc = mdb_env_set_flags(t->env, DEFER_FLAGS, defer);
		if (rc == 0) {
			rc = mdb_txn_commit(txn); /* frees txn either way */
			if (rc == 0)
				t->unsynced = defer;
		} else {
			mdb_txn_abort(txn);
		}
		if (rc == MDB_MAP_FULL) {
			excl = 1;
			grow = 1;
			txn_unlock(t, &lk);
			continue;
		}
		if (rc != 0)
			goto lmdb_err;
		txn_unlock(t, &lk);
		return LMDBFILE_OK;
	lmdb_err:
		errbuf_set(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
		rc = LMDBFILE_ERR;
	out:
		txn_unlock(t, &lk);
		return rc;
	}
	errbuf_set(err, errlen, "%s: file keeps changing, giving up", t->path);
	return LMDBFILE_ERR;
}

int
lmdbfile_write_flags(struct lmdbfile *t, const struct lmdbfile_op *ops,
                     size_t nops, int flags, char *err, size_t errlen)
{
	struct ops_arg a = {ops, nops};

	return write_txn(t, apply_ops_fn, &a, flags, err, errlen);
}

struct update_arg {
	const struct lmdbfile_op *keys;
	size_t n;
	lmdbfile_update_fn fn;
	void *arg;
};

/*
 * Each key: let the caller decide, apply the decision.  The caller is
 * asked first as if the key were absent: when that decision is a put, it
 * goes in with MDB_NOOVERWRITE, one B-tree search in all for a new key
 * (relayd catching up on a log writes hundreds of thousands); only when
 * the key exists (MDB_KEYEXIST hands us its value) or the decision was
 * not a put is the caller asked again with what the key holds.
 */
static int
apply_update_fn(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
	struct update_arg *u = arg;
	struct lmdbfile_op op;
	MDB_val k, v;
	size_t i;
	int rc;

	for (i = 0; i < u->n; i++) {
		k.mv_data = (void *)u->keys[i].key;
		k.mv_size = u->keys[i].klen;
		if (k.mv_size == 0 || k.mv_size > 511)
			return MDB_BAD_VALSIZE;
		memset(&op, 0, sizeof(op));
		op.del = LMDBFILE_KEEP;
		u->fn(u->arg, i, NULL, 0, &op);
		if (op.del == LMDBFILE_PUT) {
			v.mv_data = (void *)op.val;
			v.mv_size = op.vlen;
			rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
			if (rc == 0)
				continue; /* it was absent: decided right */
		} else {
			rc = mdb_get(txn, dbi, &k, &v);
			if (rc == MDB_NOTFOUND) {
				if (op.del == LMDBFILE_KEEP)
					continue;
				rc = 0; /* deleting a missing key: nothing to do */
				continue;
			}
			if (rc == 0)
				rc = MDB_KEYEXIST;
		}
		if (rc != MDB_KEYEXIST)
			return rc;
		/* The key holds v (it points into the map: the caller reads
		 * it before we write). */
		memset(&op, 0, sizeof(op));
		op.del = LMDBFILE_KEEP;
		u->fn(u->arg, i, v.mv_data, v.mv_size, &op);
		if (op.del == LMDBFILE_KEEP)
			continue;
		op.key = u->keys[i].key;
		op.klen = u->keys[i].klen;
		if ((rc = apply_ops(txn, dbi, &op, 1)) != 0)
			return rc;
	}
	return 0;
}

int
lmdbfile_update(struct lmdbfile *t, const struct lmdbfile_op *keys, size_t n,
                lmdbfile_update_fn fn, void *arg, int flags, char *err,
                size_t errlen)
{
	struct update_arg u = {keys, n, fn, arg};

	return write_txn(t, apply_update_fn, &u, flags, err, errlen);
}

int
lmdbfile_sync(struct lmdbfile *t, char *err, size_t errlen)
{
	int rc = 0;

	/* Exclusive, as for a write: t->env and t->unsynced must not change
	 * meanwhile.  Only this process's own readers wait; the file lock is
	 * not taken, so Postfix never waits for our disk. */
	pthread_rwlock_wrlock(&t->rw);
	if (t->env != NULL && t->unsynced) {
		if ((rc = mdb_env_sync(t->env, 1)) == 0)
			t->unsynced = 0;
	}
	pthread_rwlock_unlock(&t->rw);
	if (rc != 0) {
		errbuf_set(err, errlen, "%s: sync: %s", t->path, mdb_strerror(rc));
		return LMDBFILE_ERR;
	}
	return LMDBFILE_OK;
}

static int
noop_fn(struct lmdbfile *t, MDB_txn *txn, MDB_dbi dbi, void *arg, char *err,
        size_t errlen)
{
	(void)t, (void)txn, (void)dbi, (void)arg, (void)err, (void)errlen;
	return LMDBFILE_OK;
}

/* A private file made by an older version (0644): ours to tighten.  One
 * owned by someone else is refused rather than changed. */
static int
make_private(struct lmdbfile *t, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc = LMDBFILE_OK;

	if ((fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) == -1) {
		errbuf_set(err, errlen, "%s: %s", t->path, strerror(errno));
		rc = LMDBFILE_ERR;
	} else if ((st.st_mode & 077) != 0) {
		if (st.st_uid != geteuid()) {
			errbuf_set(err, errlen, "%s: readable by others and not ours to "
			           "chmod (owner uid %ld)", t->path, (long)st.st_uid);
			rc = LMDBFILE_ERR;
		} else if (fchmod(fd, st.st_mode & 0700) == -1) {
			errbuf_set(err, errlen, "%s: chmod: %s", t->path, strerror(errno));
			rc = LMDBFILE_ERR;
		}
	}
	if (fd != -1)
		close(fd);
	return rc;
}

struct lmdbfile *
lmdbfile_open(const char *path, int mode, char *err, size_t errlen)
{
	pthread_rwlockattr_t ra;
	struct lmdbfile *t;
	int rc;

	int priv = (mode & LMDBFILE_PRIVATE) != 0;

	mode &= ~LMDBFILE_PRIVATE;
	if ((mode != LMDBFILE_READ && mode != LMDBFILE_READ_MISSING_OK &&
	     mode != LMDBFILE_WRITE) || (priv && mode != LMDBFILE_WRITE)) {
		errbuf_set(err, errlen, "%s: bad table mode %d", path, mode);
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->path = strdup(path)) == NULL) {
		free(t);
		errbuf_set(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	t->mode = mode;
	t->create_mode = priv ? 0600 : 0644;
	pthread_once(&fork_once, fork_register);
	for (int i = 0; i < POOL_STRIPES; i++) {
		if ((rc = pthread_mutex_init(&t->pool[i].mu, NULL)) != 0) {
			errbuf_set(err, errlen, "%s: %s", path, strerror(rc));
			while (i-- > 0)
				pthread_mutex_destroy(&t->pool[i].mu);
			free(t->path);
			free(t);
			return NULL;
		}
	}
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
	                              PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rc = pthread_rwlock_init(&t->rw, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (rc != 0) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(rc));
		for (int i = 0; i < POOL_STRIPES; i++)
			pthread_mutex_destroy(&t->pool[i].mu);
		free(t->path);
		free(t);
		return NULL;
	}
	/* Writers create the file now (an empty table, meta pages written
	 * under the exclusive lock, so Postfix can open it); readers check
	 * that it is readable, so a bad path shows at start-up. */
	if (mode == LMDBFILE_WRITE)
		rc = lmdbfile_write(t, NULL, 0, err, errlen);
	else
		rc = read_txn(t, noop_fn, NULL, err, errlen);
	if (rc == LMDBFILE_OK && priv)
		rc = make_private(t, err, errlen);
	if (rc == LMDBFILE_ERR) {
		lmdbfile_close(t);
		return NULL;
	}
	return t;
}

void
lmdbfile_close(struct lmdbfile *t)
{
	if (t == NULL)
		return;
	pool_drain(t);
	env_close(t);
	pthread_rwlock_destroy(&t->rw);
	for (int i = 0; i < POOL_STRIPES; i++)
		pthread_mutex_destroy(&t->pool[i].mu);
	free(t->path);
	free(t);
}

const char *
lmdbfile_path(const struct lmdbfile *t)
{
	return t->path;
}
