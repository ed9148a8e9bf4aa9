/*
 * source.h - one log source that relayd follows: a file (followed across
 * rotation), a FIFO ("fifo:/path") or standard input ("-").
 *
 * Files: woken by inotify, never polled.  The source remembers device,
 * inode, birth time and offset.  Rotation by rename-and-create: the rest
 * of the old file is read to its end (through the still-open descriptor),
 * then every generation rotated away before we looked (a reader stalled,
 * or stopped, across several rotations), oldest first, then the new file
 * from offset 0.  A generation removed before it could be read is said
 * (source_report()).  Copytruncate: the file shrinks below
 * our offset, so reading restarts at 0.  A file deleted and recreated is
 * read from its start.  A missing file is waited for (the directory is
 * watched).  Nothing is lost or read twice across these.
 *
 * FIFOs are opened O_RDWR|O_NONBLOCK, so there is always a writer (we
 * never see EOF) and syslog never blocks behind us as long as we drain it.
 * stdin reports EOF to the caller.
 *
 * Lines: delivered whole, without the newline.  A trailing partial line is
 * held until its newline arrives (or until the file is rotated away, when
 * it is delivered as is).  Lines longer than SOURCE_MAX_LINE are skipped
 * whole (the caller is told once per line through the skipped counter).
 *
 * Positions: source_position()/source_restore() let relayd persist where
 * each file source stopped (position.h) and resume there after a restart;
 * a restored position whose device/inode no longer matches the file means
 * the file was rotated while we were down: read the new file from 0.
 */
#ifndef LEAFMAIL_SOURCE_H
#define LEAFMAIL_SOURCE_H

#include <stddef.h>
#include <sys/types.h>

#define SOURCE_MAX_LINE 65536

enum source_kind { SOURCE_FILE, SOURCE_FIFO, SOURCE_STDIN };

struct source_pos {
	dev_t dev;
	ino_t ino;
	off_t offset; /* of the first byte not yet delivered as a whole line */
	long long birth; /* the file's birth time in ns (statx), 0 unknown */
};

struct source;

typedef void (*source_line_fn)(void *arg, const char *line, size_t len);

/* spec is the relayd.source title.  NULL with err on a bad spec. */
struct source *source_new(const char *spec, char *err, size_t errlen);
void source_free(struct source *s);
enum source_kind source_kind(const struct source *s);
const char *source_name(const struct source *s); /* the path, or "-" */

/* Open (files: may be missing yet; not an error) and register with the
 * inotify instance ifd.  -1 with err when it cannot be opened or read
 * (e.g. permission denied: err says so clearly). */
int source_open(struct source *s, int ifd, char *err, size_t errlen);
/* The descriptor to poll for FIFO/stdin sources; -1 for files. */
int source_pollfd(const struct source *s);
/* Called for every inotify event; returns 1 if it concerned s (then call
 * source_read). */
int source_inotify(struct source *s, int ifd, int wd, unsigned mask,
                   const char *name);
/* Deliver every complete line now available.  0 ok, 1 EOF (stdin),
 * -1 error (err filled; the source stays usable and is retried). */
int source_read(struct source *s, int ifd, source_line_fn fn, void *arg,
                char *err, size_t errlen);

int source_position(const struct source *s, struct source_pos *p);
void source_restore(struct source *s, const struct source_pos *p);
/* Lines skipped as too long since the last call (and reset). */
unsigned long source_skipped(struct source *s);
/* What was found lost since the last call (a rotated generation removed
 * before it could be read), as a sentence for the log; NULL when
 * nothing.  Valid until the next call. */
const char *source_report(struct source *s);

#endif
