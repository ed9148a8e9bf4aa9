/*
 * position.h - where each file source stopped, kept in
 * <state-dir>/relayd.positions so a restarted relayd resumes there.
 *
 * One line per source: "<dev> <ino> <offset> [<birth> ]<path>\n".
 * Written privately (mode 0600) to a temporary file, fsync'd and renamed
 * over the old one (statefile.h), so a crash leaves either the old or the
 * new positions, never a torn file.  relayd saves
 * positions only after the table transaction holding the logins read up
 * to them has committed: after a crash lines may be read twice, never
 * lost.
 */
#ifndef LEAFMAIL_POSITION_H
#define LEAFMAIL_POSITION_H

#include <stddef.h>

#include "source.h"

struct position_entry {
	const char *path;
	struct source_pos pos;
};

/* Write n entries atomically to file. */
int position_save(const char *file, const struct position_entry *e, size_t n,
                  char *err, size_t errlen);
/* Look up path in file; 1 found (*p set), 0 not found or no file, -1 error
 * (unreadable or malformed file: err says which line). */
int position_load(const char *file, const char *path, struct source_pos *p,
                  char *err, size_t errlen);

#endif
