/*
 * source.c - follow one log source: a file across rotation, a FIFO, stdin.
 *
 * Interface: source.h (the specification).  In short: source_new(spec),
 * source_open(s, ifd), then for each inotify event source_inotify() and,
 * when it says the event was ours, source_read(), which hands every
 * complete line to the caller's function.  FIFO and stdin sources are
 * polled by the caller on source_pollfd() instead.  Call source_read()
 * once right after source_open(): inotify only reports what changes
 * later, and the catch-up on what is already in the file is that read.
 *
 * How a file is followed.  A file source has up to two open "slots":
 *   cur  the file that is at the path now (or was, until a newer one appears);
 *   old  the previous file after a rename rotation.  A writer such as
 *        Dovecot keeps writing into the renamed file until it is told to
 *        reopen its log (logrotate's postrotate), which happens after the new
 *        file was created; we keep reading the renamed file as long as it
 *        exists, so those lines are not lost either.  It is closed when it
 *        is deleted (compressed away) or when the next rotation retires the
 *        current file in its place.
 * Rotation is noticed through the directory watch (the name is created or
 * moved to) and the file watch (moved, deleted, attributes changed: an
 * unlink shows up as IN_ATTRIB while we hold the file open); these events
 * only wake us, because every source_read() looks at the path again (one
 * stat), so lost events (queue overflow) or a read without an event
 * (start-up, SIGHUP, a retry) miss nothing.  The current file is always
 * read to its end before the path is looked at, so lines written to the
 * old file before the new one appeared come first.
 *
 * Rotation: every generation, in order.  A reader that stalls (or is
 * stopped) across two rotations finds at the path a file two generations
 * newer than the one it holds; the one in between was never at the path
 * while we looked.  So whenever a new file is opened as current, the
 * rotated names ("<name>.N", "<name>-DATE", not compressed ones) are
 * searched for files born (statx birth time) between the one we held and
 * the new one, never followed before; each is read whole, oldest first,
 * through the old slot, and the newest of them stays there for its late
 * lines.  Ties of a coarse file system clock are broken by name (a larger
 * rotation number is older) and by a small memory of the files already
 * followed (an inode number is reused, so files are known by device,
 * inode and birth).  After a restart the saved position's birth time
 * plays the part of the file we held (position.h).  A file system that
 * keeps no birth times gets the old behaviour: the newest file only.
 * What cannot be read any more is counted: new files at the path
 * (IN_CREATE/IN_MOVED_TO events of the directory watch) against the
 * generations followed; a difference, once the file at the path is the
 * one we read, means a generation was removed (or compressed) unread, and
 * source_report() says so, as it does for a saved position whose file is
 * gone.
 *
 * Copytruncate: the file is shorter than our offset, so we start again at
 * 0.  Lines written between our last read and the truncate survive only in
 * the copy, so first the rotated name whose bytes before our offset match
 * the last ones we read is found and read from our offset to its end.
 *
 * Lines are assembled in place in a 64 KiB read buffer; a line that spans
 * two reads is copied into the slot's line buffer (SOURCE_MAX_LINE + 1
 * bytes), so there is no allocation per line.  As a convenience beyond
 * source.h, line[len] is always a NUL byte (the newline is overwritten);
 * NUL bytes inside a line are passed through, so use len.  A line longer
 * than SOURCE_MAX_LINE is skipped to its newline and counted once.
 *
 * Positions: the offset just after the last newline consumed in the
 * current file (a held partial line is not counted as delivered).  Lines
 * read from a retired file are not part of the position: if relayd stops
 * while a writer is still appending to the renamed file, those late lines
 * are not re-read after the restart.  When the restored device and inode
 * no longer match the file at the path, the directory is searched for the
 * rotated file holding them ("<name>.1", "<name>-20261122", ...), whose rest
 * is read first; the new file is then read from 0.
 *
 * Errors: source_open/source_read fill err (permission denied names the
 * user and the fix); nothing here logs or exits.  Limits: a writer still
 * appending to a file two generations old is read only until that file
 * leaves the old slot (logrotate's postrotate reopens long before); inotify
 * watches are left to the inotify instance when a source is freed (another source
 * may share the directory's watch); a file truncated and refilled beyond
 * our offset before we look is not recognised as truncated; when the
 * watched directory itself is removed the source stops noticing changes;
 * a file is known by device and inode only, so a log deleted while relayd
 * is down and recreated on the same, reused inode resumes at the old
 * offset.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SOURCE_BUFSIZE 65536
#define SOURCE_TAIL 256

#define FILE_MASK (IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB)
/* IN_ATTRIB on the directory: a chmod/chgrp of the file we could not read
 * yet is our cue to try again. */
#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_MASK_ADD)

/* One generation of the log: a file known by device, inode and birth. */
struct gen {
	dev_t dev;
	ino_t ino;
	long long birth;
};

#define SEEN_MAX 64

struct slot {
	int fd;       /* -1 when closed */
	int wd;       /* inotify watch on the file, -1 if none */
	dev_t dev;
	ino_t ino;
	long long birth; /* statx birth time in ns; 0 unknown */
	off_t off;    /* of the next byte to read */
	off_t done;   /* just after the last newline consumed */
	char *held;   /* partial line, SOURCE_MAX_LINE + 1 bytes */
	size_t len;
	int skipping; /* inside a line already known to be too long */
	/* The last bytes read, ending at off: they identify the copy that
	 * copytruncate made of this file (recover_copy()). */
	char tail[SOURCE_TAIL];
	size_t tail_len;
};

struct source {
	enum source_kind kind;
	char *path;   /* file or FIFO path; "-" for stdin */
	char *dir;    /* files: directory and base name */
	char *base;
	int fd;       /* FIFO or stdin */
	int wd_dir;
	struct slot cur, old;
	struct slot pipe; /* FIFO/stdin line assembly */
	int restore;  /* a restored position waits for source_open */
	struct source_pos rpos;
	unsigned long skipped;
	char *buf;
	/* Generations (see "Rotation" above). */
	struct gen last;   /* the newest file opened as current */
	int have_last;
	struct gen gap_lo; /* files born after it and before the current */
	int gap;           /* one are still to be read */
	int gap_strict;    /* after a restart: born strictly after it */
	struct gen seen[SEEN_MAX]; /* followed, or there at the first open */
	size_t nseen, seen_next;
	unsigned long creates, followed; /* new files at the path, seen */
	int count_first;   /* the path was empty at open */
	int at_path;       /* the last look found the current file there */
	char report[256];  /* what was lost, for source_report() */
};

static void slot_init(struct slot *sl)
{
	memset(sl, 0, sizeof *sl);
	sl->fd = -1;
	sl->wd = -1;
}

static void slot_close(struct slot *sl, int ifd)
{
	if (sl->wd >= 0 && ifd >= 0)
		inotify_rm_watch(ifd, sl->wd); /* may be gone already: fine */
	if (sl->fd >= 0)
		close(sl->fd);
	free(sl->held);
	slot_init(sl);
}

struct source *source_new(const char *spec, char *err, size_t errlen)
{
	struct source *s;
	const char *path = spec;
	enum source_kind kind = SOURCE_FILE;
	const char *slash;

	if (spec == NULL || *spec == '\0') {
		snprintf(err, errlen, "empty source");
		return NULL;
	}
	if (strcmp(spec, "-") == 0) {
		kind = SOURCE_STDIN;
	} else if (strncmp(spec, "fifo:", 5) == 0) {
		kind = SOURCE_FIFO;
		path = spec + 5;
	}
	if (kind != SOURCE_STDIN) {
		/* relayd runs from "/" once it has detached. */
		if (path[0] != '/') {
			snprintf(err, errlen, "source \"%s\": the path must be "
			         "absolute", spec);
			return NULL;
		}
		slash = strrchr(path, '/');
		if (slash[1] == '\0') {
			snprintf(err, errlen, "source \"%s\": the path names a "
			         "directory", spec);
			return NULL;
		}
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		goto nomem;
	s->kind = kind;
	s->fd = -1;
	s->wd_dir = -1;
	slot_init(&s->cur);
	slot_init(&s->old);
	slot_init(&s->pipe);
	if ((s->path = strdup(path)) == NULL)
		goto nomem;
	if (kind == SOURCE_FILE) {
		slash = strrchr(s->path, '/');
		if (slash == s->path)
			s->dir = strdup("/");
		else
			s->dir = strndup(s->path, (size_t)(slash - s->path));
		s->base = strdup(slash + 1);
		if (s->dir == NULL || s->base == NULL)
			goto nomem;
	}
	if ((s->buf = malloc(SOURCE_BUFSIZE)) == NULL)
		goto nomem;
	return s;
nomem:
	snprintf(err, errlen, "out of memory");
	source_free(s);
	return NULL;
}

void source_free(struct source *s)
{
	if (s == NULL)
		return;
	/* Watches stay with the inotify instance (see the top comment). */
	s->cur.wd = s->old.wd = -1;
	slot_close(&s->cur, -1);
	slot_close(&s->old, -1);
	free(s->pipe.held);
	if (s->fd >= 0 && s->kind == SOURCE_FIFO)
		close(s->fd);
	free(s->path);
	free(s->dir);
	free(s->base);
	free(s->buf);
	free(s);
}

enum source_kind source_kind(const struct source *s)
{
	return s->kind;
}

const char *source_name(const struct source *s)
{
	return s->path;
}

int source_pollfd(const struct source *s)
{
	return s->kind == SOURCE_FILE ? -1 : s->fd;
}

const char *source_report(struct source *s)
{
	static _Thread_local char out[sizeof s->report];

	if (s->report[0] == '\0')
		return NULL;
	memcpy(out, s->report, sizeof out);
	s->report[0] = '\0';
	return out;
}

unsigned long source_skipped(struct source *s)
{
	unsigned long n = s->skipped;

	s->skipped = 0;
	return n;
}

/* The message an administrator needs when the log is not readable by the
 * user relayd runs as. */
static void denied(const char *what, const char *path, int e, char *err,
                   size_t errlen)
{
	uid_t uid = geteuid();
	struct passwd *pw = getpwuid(uid);

	snprintf(err, errlen, "cannot %s %s as user %s (uid %u): %s; add the "
	         "user to the file's group", what, path,
	         pw != NULL ? pw->pw_name : "?", (unsigned)uid, strerror(e));
}

/* ---- line assembly ---- */

static int slot_alloc(struct slot *sl, char *err, size_t errlen)
{
	if (sl->held == NULL &&
	    (sl->held = malloc(SOURCE_MAX_LINE + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Split buf[0..n) (read from sl->off - n on) into lines. */
static void assemble(struct source *s, struct slot *sl, char *buf, size_t n,
                     source_line_fn fn, void *arg)
{
	off_t start = sl->off - (off_t)n;
	char *p = buf, *end = buf + n, *nl;
	size_t seg;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			seg = (size_t)(end - p);
			if (sl->skipping)
				break;
			if (sl->len + seg > SOURCE_MAX_LINE) {
				sl->skipping = 1;
				sl->len = 0;
				s->skipped++;
				break;
			}
			memcpy(sl->held + sl->len, p, seg);
			sl->len += seg;
			break;
		}
		seg = (size_t)(nl - p);
		/* Advance before calling fn, so a position taken from inside
		 * fn includes the line being delivered. */
		sl->done = start + (off_t)(nl + 1 - buf);
		if (sl->skipping) {
			sl->skipping = 0;
		} else if (sl->len > 0) {
			if (sl->len + seg > SOURCE_MAX_LINE) {
				s->skipped++;
			} else {
				memcpy(sl->held + sl->len, p, seg);
				sl->len += seg;
				sl->held[sl->len] = '\0';
				fn(arg, sl->held, sl->len);
			}
			sl->len = 0;
		} else if (seg > SOURCE_MAX_LINE) {
			s->skipped++;
		} else {
			*nl = '\0';
			fn(arg, p, seg);
		}
		p = nl + 1;
	}
}

/* Deliver a partial line as it is: its file has ended for good. */
static void flush(struct slot *sl, source_line_fn fn, void *arg)
{
	if (sl->len > 0 && !sl->skipping) {
		sl->held[sl->len] = '\0';
		sl->done = sl->off;
		fn(arg, sl->held, sl->len);
	}
	sl->len = 0;
	sl->skipping = 0;
	sl->done = sl->off;
}

/* ---- files ---- */

static void remember_tail(struct slot *sl, const char *buf, size_t n)
{
	if (n >= SOURCE_TAIL) {
		memcpy(sl->tail, buf + n - SOURCE_TAIL, SOURCE_TAIL);
		sl->tail_len = SOURCE_TAIL;
		return;
	}
	if (sl->tail_len + n > SOURCE_TAIL) {
		size_t keep = SOURCE_TAIL - n;
		memmove(sl->tail, sl->tail + sl->tail_len - keep, keep);
		sl->tail_len = keep;
	}
	memcpy(sl->tail + sl->tail_len, buf, n);
	sl->tail_len += n;
}

/* sl's file was truncated below sl->off.  Look among its rotated names for
 * a copy at least sl->off long whose bytes just before sl->off are the
 * ones we last read, and deliver the rest of that copy.  Best effort: with
 * no such copy (compressed at once, or a truncate without a copy) the
 * lines written between our last read and the truncate are gone, which is
 * copytruncate's own limit. */
static void recover_copy(struct source *s, struct slot *sl,
                         source_line_fn fn, void *arg)
{
	size_t blen = strlen(s->base);
	char path[PATH_MAX], cmp[SOURCE_TAIL];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd = -1;

	if (sl->tail_len == 0 || s->dir == NULL || (d = opendir(s->dir)) == NULL)
		return;
	while (fd < 0 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, s->base, blen) != 0 ||
		    (de->d_name[blen] != '.' && de->d_name[blen] != '-'))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name) >=
		    (int)sizeof path)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size < sl->off || (st.st_dev == sl->dev && st.st_ino == sl->ino) ||
		    pread(fd, cmp, sl->tail_len, sl->off - (off_t)sl->tail_len) !=
		        (ssize_t)sl->tail_len ||
		    memcmp(cmp, sl->tail, sl->tail_len) != 0) {
			close(fd);
			fd = -1;
		}
	}
	closedir(d);
	if (fd < 0)
		return;
	for (;;) {
		ssize_t r = pread(fd, s->buf, SOURCE_BUFSIZE, sl->off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sl->off += r;
		assemble(s, sl, s->buf, (size_t)r, fn, arg);
	}
	close(fd);
	/* The copy is complete: a last line without newline ends there. */
	flush(sl, fn, arg);
}


/* Read sl to its current end.  0, or -1 with err. */
static int slot_drain(struct source *s, struct slot *sl, source_line_fn fn,
                      void *arg, char *err, size_t errlen)
{
	struct stat st;
	ssize_t r;

	if (sl->fd < 0)
		return 0;
	if (fstat(sl->fd, &st) == 0 && st.st_size < sl->off) {
		/* Copytruncate.  Lines written after our last read but before
		 * the copy exist only in the copy now: read them there first. */
		recover_copy(s, sl, fn, arg);
		sl->tail_len = 0;
		if (lseek(sl->fd, 0, SEEK_SET) < 0) {
			snprintf(err, errlen, "%s: lseek: %s", s->path,
			         strerror(errno));
			return -1;
		}
		sl->off = sl->done = 0;
		sl->len = 0;
		sl->skipping = 0;
	}
	for (;;) {
		r = read(sl->fd, s->buf, SOURCE_BUFSIZE);
		if (r == 0)
			return 0;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			snprintf(err, errlen, "%s: read: %s", s->path,
			         strerror(errno));
			return -1;
		}
		sl->off += r;
		remember_tail(sl, s->buf, (size_t)r);
		assemble(s, sl, s->buf, (size_t)r, fn, arg);
	}
}

/* A file's birth time in ns, 0 when the file system does not keep it. */
static long long fd_birth(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) < 0 ||
	    !(stx.stx_mask & STATX_BTIME))
		return 0;
	return (long long)stx.stx_btime.tv_sec * 1000000000LL +
	       stx.stx_btime.tv_nsec;
}

/* Open path into sl at offset off (0 if the file is shorter: it was
 * truncated).  1 opened, 0 no such file, -1 error. */
static int slot_open(struct slot *sl, const char *path,
                     int ifd, off_t off, const struct source_pos *want,
                     char *err, size_t errlen)
{
	struct stat st;
	char proc[64];
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == EACCES || errno == EPERM)
			denied("read", path, errno, err, errlen);
		else
			snprintf(err, errlen, "cannot open %s: %s", path,
			         strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (a FIFO is "
		         "written fifo:%s)", path, path);
		close(fd);
		return -1;
	}
	if (want != NULL && (st.st_dev != want->dev || st.st_ino != want->ino)) {
		close(fd);
		return 0;
	}
	if (slot_alloc(sl, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	if (off < 0 || off > st.st_size)
		off = 0;
	if (off > 0 && lseek(fd, off, SEEK_SET) < 0) {
		snprintf(err, errlen, "%s: lseek: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Watch the inode we opened, not whatever the name points to by now. */
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	sl->wd = inotify_add_watch(ifd, proc, FILE_MASK);
	if (sl->wd < 0)
		sl->wd = inotify_add_watch(ifd, path, FILE_MASK);
	if (sl->wd < 0) {
		snprintf(err, errlen, "cannot watch %s: %s", path,
		         strerror(errno));
		close(fd);
		return -1;
	}
	sl->fd = fd;
	sl->dev = st.st_dev;
	sl->ino = st.st_ino;
	sl->birth = fd_birth(fd);
	sl->off = sl->done = off;
	sl->len = 0;
	sl->skipping = 0;
	return 1;
}

/* ---- generations ---- */

static struct gen slot_gen(const struct slot *sl)
{
	struct gen g = {sl->dev, sl->ino, sl->birth};

	return g;
}

static int gen_same(const struct gen *g, dev_t dev, ino_t ino)
{
	return g->dev == dev && g->ino == ino;
}

/* The same file: an inode number is reused once its file is gone, so
 * the birth time tells a new file from an old one where it is known. */
static int gen_eq(const struct gen *a, const struct gen *b)
{
	return gen_same(a, b->dev, b->ino) &&
	       (a->birth == 0 || b->birth == 0 || a->birth == b->birth);
}

static int seen(const struct source *s, const struct gen *g)
{
	for (size_t i = 0; i < s->nseen; i++)
		if (gen_eq(&s->seen[i], g))
			return 1;
	return 0;
}

static void seen_add(struct source *s, const struct gen *g)
{
	if (seen(s, g))
		return;
	s->seen[s->seen_next] = *g;
	s->seen_next = (s->seen_next + 1) % SEEN_MAX;
	if (s->nseen < SEEN_MAX)
		s->nseen++;
}

/* A rotated name of ours: "<base>.<x>" or "<base>-<x>", not compressed
 * (what logrotate's compress made is a new file we cannot read). */
static int rotated_name(const struct source *s, const char *name)
{
	static const char *const packed[] = {".gz", ".bz2", ".xz", ".zst",
		".lz4", ".lzma", ".lzo", ".Z", ".br", NULL};
	size_t blen = strlen(s->base), n = strlen(name);

	if (n <= blen + 1 || strncmp(name, s->base, blen) != 0 ||
	    (name[blen] != '.' && name[blen] != '-'))
		return 0;
	for (int i = 0; packed[i] != NULL; i++) {
		size_t k = strlen(packed[i]);
		if (n > k && strcmp(name + n - k, packed[i]) == 0)
			return 0;
	}
	return 1;
}

/* A regular file's generation (not through a symbolic link); birth 0
 * when the file system keeps none.  0, or -1 (missing, not a file). */
static int path_gen(const char *path, struct gen *g)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW,
	          STATX_TYPE | STATX_INO | STATX_BTIME, &stx) < 0 ||
	    !S_ISREG(stx.stx_mode))
		return -1;
	g->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	g->ino = (ino_t)stx.stx_ino;
	g->birth = (stx.stx_mask & STATX_BTIME)
	               ? (long long)stx.stx_btime.tv_sec * 1000000000LL +
	                     stx.stx_btime.tv_nsec
	               : 0;
	return 0;
}

/* Every rotated sibling there now counts as read: at the first open it
 * is history from before relayd. */
static void seen_siblings(struct source *s)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct gen g;
	DIR *d = opendir(s->dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL && s->nseen < SEEN_MAX)
		if (rotated_name(s, de->d_name) &&
		    snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name) <
		        (int)sizeof path &&
		    path_gen(path, &g) == 0)
			seen_add(s, &g);
	closedir(d);
}

struct cand {
	struct gen g;
	long num; /* "<base>.<num>": a larger number is older; -1 other */
	char name[NAME_MAX + 1];
};

/* Oldest first: by birth, and on a tie (a coarse clock) by name: a larger
 * rotation number is older, dates sort as text. */
static int cand_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;

	if (a->g.birth != b->g.birth)
		return a->g.birth < b->g.birth ? -1 : 1;
	if (a->num >= 0 && b->num >= 0 && a->num != b->num)
		return a->num > b->num ? -1 : 1;
	return strcmp(a->name, b->name);
}

static long rotation_number(const struct source *s, const char *name)
{
	const char *p = name + strlen(s->base);
	char *end;
	long n;

	if (*p != '.' || p[1] < '0' || p[1] > '9')
		return -1;
	n = strtol(p + 1, &end, 10);
	return *end == '\0' ? n : -1;
}

/* The files born between gap_lo and the current file, never followed:
 * generations rotated away before we looked at the path (relayd stalled,
 * or was stopped, across two rotations or more).  Read each whole, oldest
 * first, through the old slot; the newest stays there, since its writer
 * may still be appending to it.  Needs birth times: without them (a file
 * system that keeps none) such a generation is skipped, as before. */
static void fill_gap(struct source *s, int ifd, source_line_fn fn, void *arg)
{
	struct cand *c = NULL;
	size_t n = 0, cap = 0;
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (!s->gap)
		return;
	s->gap = 0;
	int strict = s->gap_strict;
	s->gap_strict = 0;
	if (s->gap_lo.birth == 0 || s->cur.fd < 0 || s->cur.birth == 0 ||
	    (d = opendir(s->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct gen g;

		if (!rotated_name(s, de->d_name) ||
		    snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name) >=
		        (int)sizeof path ||
		    path_gen(path, &g) < 0 || g.birth == 0)
			continue;
		if (gen_eq(&g, &s->gap_lo) ||
		    gen_same(&g, s->cur.dev, s->cur.ino) ||
		    gen_same(&g, s->old.dev, s->old.ino) ||
		    seen(s, &g) || g.birth < s->gap_lo.birth ||
		    (strict && g.birth == s->gap_lo.birth) ||
		    g.birth > s->cur.birth)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct cand *v = realloc(c, ncap * sizeof *v);
			if (v == NULL)
				break;
			c = v;
			cap = ncap;
		}
		c[n].g = g;
		c[n].num = rotation_number(s, de->d_name);
		snprintf(c[n].name, sizeof c[n].name, "%s", de->d_name);
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(c, n, sizeof *c, cand_cmp);
	for (size_t i = 0; i < n; i++) {
		char err[8];
		struct source_pos want = {c[i].g.dev, c[i].g.ino, 0, 0};

		/* The file before it gets no more lines: its writer has
		 * moved on twice since. */
		if (s->old.fd >= 0) {
			slot_drain(s, &s->old, fn, arg, err, sizeof err);
			flush(&s->old, fn, arg);
			slot_close(&s->old, ifd);
		}
		snprintf(path, sizeof path, "%s/%s", s->dir, c[i].name);
		if (slot_open(&s->old, path, ifd, 0, &want, err, sizeof err) !=
		    1)
			continue; /* gone meanwhile: counted below */
		seen_add(s, &c[i].g);
		s->followed++;
		slot_drain(s, &s->old, fn, arg, err, sizeof err);
	}
	free(c);
}

/* A restored position names a file that is no longer at the path: look for
 * it among its rotated names in the same directory and resume it there, so
 * lines written just before the rotation are not lost.  Whatever was born
 * after it is read next (fill_gap), before the file now at the path. */
static void find_rotated(struct source *s, int ifd)
{
	struct dirent *de;
	struct stat st;
	char path[PATH_MAX];
	char err[8];
	DIR *d;

	s->gap_lo.dev = s->rpos.dev;
	s->gap_lo.ino = s->rpos.ino;
	s->gap_lo.birth = s->rpos.birth;
	s->gap = 1;
	/* No memory of what was read before the restart: a file born in
	 * the same clock tick as the saved one counts as older. */
	s->gap_strict = 1;
	if ((d = opendir(s->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!rotated_name(s, de->d_name) ||
		    snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name) >=
		        (int)sizeof path)
			continue;
		if (stat(path, &st) < 0 || st.st_dev != s->rpos.dev ||
		    st.st_ino != s->rpos.ino)
			continue;
		if (slot_open(&s->old, path, ifd, s->rpos.offset, &s->rpos,
		              err, sizeof err) == 1)
			break;
	}
	closedir(d);
	if (s->old.fd >= 0) {
		struct gen g = slot_gen(&s->old);
		seen_add(s, &g);
		if (g.birth != 0)
			s->gap_lo.birth = g.birth;
		return;
	}
	snprintf(s->report, sizeof s->report, "the file read up to byte %lld "
	         "before the restart (inode %llu) is gone (deleted or "
	         "compressed): its later lines are not read",
	         (long long)s->rpos.offset, (unsigned long long)s->rpos.ino);
}

/* Open the file at the path as the current one: at the restored position
 * when one is pending and still names this file, else from 0.  1 opened
 * something, 0 no file yet, -1 error. */
static int open_cur(struct source *s, int ifd, char *err, size_t errlen)
{
	int r;

	if (s->restore) {
		r = slot_open(&s->cur, s->path, ifd, s->rpos.offset,
		              &s->rpos, err, errlen);
		if (r < 0)
			return -1; /* the restore stays pending for the retry */
		s->restore = 0;
		if (r > 0) {
			s->last = slot_gen(&s->cur);
			s->have_last = 1;
			seen_add(s, &s->last);
			return 1;
		}
		/* Rotated or deleted while we were down. */
		find_rotated(s, ifd);
		s->have_last = 1; /* the gap starts at the restored file */
	}
	r = slot_open(&s->cur, s->path, ifd, 0, NULL, err, errlen);
	if (r < 0)
		return -1;
	if (r > 0) {
		struct gen g = slot_gen(&s->cur);
		if (!s->have_last && !s->count_first) {
			/* The first open: older files are history. */
			seen_siblings(s);
		} else if (!s->have_last || !gen_same(&s->last, g.dev, g.ino)) {
			s->followed++;
			if (s->have_last && !s->gap) {
				s->gap_lo = s->last;
				s->gap = 1;
			}
		}
		s->last = g;
		s->have_last = 1;
		seen_add(s, &g);
	} else if (!s->have_last) {
		s->count_first = 1; /* its creation will be an event */
	}
	return r > 0 || s->old.fd >= 0;
}

/* The current file is gone from the path or replaced: it has been read to
 * its end; deliver its last partial line and keep it as the old slot if it
 * still exists under another name. */
static void retire(struct source *s, int ifd, source_line_fn fn, void *arg)
{
	struct stat st;

	flush(&s->cur, fn, arg);
	if (fstat(s->cur.fd, &st) == 0 && st.st_nlink == 0) {
		slot_close(&s->cur, ifd);
		return;
	}
	/* One retired file is followed at a time: read the older one a last
	 * time (an error here only loses that file's late lines). */
	if (s->old.fd >= 0) {
		char err[8];

		slot_drain(s, &s->old, fn, arg, err, sizeof err);
		flush(&s->old, fn, arg);
		slot_close(&s->old, ifd);
	}
	s->old = s->cur;
	slot_init(&s->cur);
}

/* Has the path changed under us?  Open whatever is there now: 1 when a
 * file was opened, 0 nothing changed, -1 error. */
static int recheck(struct source *s, int ifd, source_line_fn fn, void *arg,
                   char *err, size_t errlen)
{
	struct stat st;

	if (s->cur.fd >= 0) {
		if (stat(s->path, &st) < 0) {
			if (errno != ENOENT) {
				snprintf(err, errlen, "cannot stat %s: %s",
				         s->path, strerror(errno));
				return -1;
			}
			/* Renamed away (the new file is still to come) or
			 * deleted. */
			s->at_path = 0;
			if (fstat(s->cur.fd, &st) == 0 && st.st_nlink == 0)
				retire(s, ifd, fn, arg);
			return 0;
		}
		if (st.st_dev == s->cur.dev && st.st_ino == s->cur.ino) {
			s->at_path = 1;
			return 0;
		}
		retire(s, ifd, fn, arg);
	}
	int r = open_cur(s, ifd, err, errlen);
	s->at_path = r > 0 && s->cur.fd >= 0;
	return r;
}

/* Read the retired file's late lines; close it once it is deleted. */
static int old_read(struct source *s, int ifd, source_line_fn fn, void *arg,
                    char *err, size_t errlen)
{
	struct stat st;

	if (s->old.fd < 0)
		return 0;
	if (slot_drain(s, &s->old, fn, arg, err, errlen) < 0)
		return -1;
	if (fstat(s->old.fd, &st) == 0 && st.st_nlink == 0) {
		flush(&s->old, fn, arg);
		slot_close(&s->old, ifd);
	}
	return 0;
}

/* New files at the path that were never followed: gone before we looked
 * (deleted or compressed while we stalled across several rotations).
 * Counted only when the file at the path is the one we read: a file
 * created and renamed away since is not lost until then, only unread. */
static void count_lost(struct source *s)
{
	if (!s->at_path || s->creates <= s->followed)
		return;
	unsigned long n = s->creates - s->followed;
	s->followed = s->creates;
	if (s->report[0] == '\0')
		snprintf(s->report, sizeof s->report, "%lu generation%s "
		         "rotated away and removed before relayd could read "
		         "%s: %s lines are lost",
		         n, n == 1 ? "" : "s", n == 1 ? "it" : "them",
		         n == 1 ? "its" : "their");
}

static int file_read(struct source *s, int ifd, source_line_fn fn, void *arg,
                     char *err, size_t errlen)
{
	int rc, r;

	rc = old_read(s, ifd, fn, arg, err, errlen);
	/* A restore at open may have left a gap to fill first. */
	if (s->gap && s->cur.fd >= 0)
		fill_gap(s, ifd, fn, arg);
	if (slot_drain(s, &s->cur, fn, arg, err, errlen) < 0)
		return -1;
	/* The path is looked at on every read, not only after the events
	 * that announce a rotation: one stat() costs little next to the read,
	 * and nothing is missed when the caller lost events (queue overflow)
	 * or calls us without one (start-up, SIGHUP, a retry). */
	if ((r = recheck(s, ifd, fn, arg, err, errlen)) < 0)
		return -1;
	if (r > 0) {
		/* The old file's rest, then the generations between it and
		 * the new current file, then the new current file. */
		if (old_read(s, ifd, fn, arg, err, errlen) < 0)
			rc = -1;
		fill_gap(s, ifd, fn, arg);
		if (slot_drain(s, &s->cur, fn, arg, err, errlen) < 0)
			return -1;
	}
	count_lost(s);
	return rc;
}

/* ---- FIFO and stdin ---- */

static int fifo_open(struct source *s, char *err, size_t errlen)
{
	struct stat st;

	if (mkfifo(s->path, 0600) < 0 && errno != EEXIST) {
		if (errno == EACCES)
			denied("create the FIFO", s->path, errno, err, errlen);
		else
			snprintf(err, errlen, "cannot create FIFO %s: %s",
			         s->path, strerror(errno));
		return -1;
	}
	if (stat(s->path, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a FIFO", s->path);
		return -1;
	}
	/* Read-write: we are a writer too, so we never see EOF, and the
	 * open never waits for syslog to open its end. */
	s->fd = open(s->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0) {
		if (errno == EACCES)
			denied("read", s->path, errno, err, errlen);
		else
			snprintf(err, errlen, "cannot open FIFO %s: %s",
			         s->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int pipe_read(struct source *s, source_line_fn fn, void *arg,
                     char *err, size_t errlen)
{
	ssize_t r;

	for (;;) {
		r = read(s->fd, s->buf, SOURCE_BUFSIZE);
		if (r == 0) {
			if (s->kind == SOURCE_FIFO) /* cannot happen: O_RDWR */
				return 0;
			flush(&s->pipe, fn, arg);
			return 1;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			snprintf(err, errlen, "%s: read: %s",
			         s->kind == SOURCE_STDIN ? "stdin" : s->path,
			         strerror(errno));
			return -1;
		}
		s->pipe.off += r;
		assemble(s, &s->pipe, s->buf, (size_t)r, fn, arg);
	}
}

/* ---- the interface ---- */

int source_open(struct source *s, int ifd, char *err, size_t errlen)
{
	int flags;

	if (s->kind != SOURCE_FILE) {
		if (slot_alloc(&s->pipe, err, errlen) < 0)
			return -1;
		if (s->kind == SOURCE_FIFO)
			return fifo_open(s, err, errlen);
		s->fd = STDIN_FILENO;
		flags = fcntl(s->fd, F_GETFL);
		if (flags < 0 || fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
			snprintf(err, errlen, "stdin: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	/* The directory first, so a file created right after our attempt to
	 * open it is not missed. */
	if (s->wd_dir < 0) {
		s->wd_dir = inotify_add_watch(ifd, s->dir, DIR_MASK);
		if (s->wd_dir < 0) {
			if (errno == EACCES)
				denied("watch the directory", s->dir, errno,
				       err, errlen);
			else
				snprintf(err, errlen, "cannot watch directory "
				         "%s: %s", s->dir, strerror(errno));
			return -1;
		}
	}
	if (s->cur.fd >= 0)
		return 0;
	return open_cur(s, ifd, err, errlen) < 0 ? -1 : 0;
}

int source_inotify(struct source *s, int ifd, int wd, unsigned mask,
                   const char *name)
{
	(void)ifd;
	if (s->kind != SOURCE_FILE)
		return 0;
	if (mask & IN_Q_OVERFLOW) {
		/* Events were lost: look at everything, and stop counting
		 * new files until the count can be trusted again. */
		s->creates = s->followed;
		return 1;
	}
	if (wd < 0)
		return 0;
	if (wd == s->wd_dir && name != NULL && strcmp(name, s->base) == 0) {
		if (mask & (IN_CREATE | IN_MOVED_TO))
			s->creates++;
		return 1;
	}
	if (wd == s->cur.wd) {
		if (mask & IN_IGNORED)
			s->cur.wd = -1; /* the kernel dropped the watch */
		return 1;
	}
	if (wd == s->old.wd) {
		if (mask & IN_IGNORED)
			s->old.wd = -1;
		return 1;
	}
	if (wd == s->wd_dir && (mask & IN_IGNORED)) {
		s->wd_dir = -1; /* the directory went away */
		return 0;
	}
	return 0;
}

int source_read(struct source *s, int ifd, source_line_fn fn, void *arg,
                char *err, size_t errlen)
{
	if (s->kind == SOURCE_FILE)
		return file_read(s, ifd, fn, arg, err, errlen);
	if (s->fd < 0) {
		snprintf(err, errlen, "%s: not open", s->path);
		return -1;
	}
	return pipe_read(s, fn, arg, err, errlen);
}

int source_position(const struct source *s, struct source_pos *p)
{
	if (s->kind != SOURCE_FILE)
		return -1;
	if (s->cur.fd >= 0) {
		p->dev = s->cur.dev;
		p->ino = s->cur.ino;
		p->offset = s->cur.done;
		p->birth = s->cur.birth;
		return 0;
	}
	if (s->restore) { /* not opened yet: keep what we were given */
		*p = s->rpos;
		return 0;
	}
	return -1;
}

void source_restore(struct source *s, const struct source_pos *p)
{
	if (s->kind != SOURCE_FILE)
		return;
	s->rpos = *p;
	s->restore = 1;
	if (s->cur.fd >= 0) {
		/* Called after source_open: reopen at the restored position on
		 * the next source_read.  The watch stays: the same inode gets
		 * the same watch descriptor back. */
		s->cur.wd = -1;
		slot_close(&s->cur, -1);
	}
}
