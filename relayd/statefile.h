/*
 * statefile.h - relayd's private state files in state-dir: the positions
 * (position.h) and the open sessions (sessions.h).
 *
 * They say which addresses logged in and when, so they are private (mode
 * 0600), and they are written only by relayd as `user` (after the switch
 * from root; root never writes them), so whatever the service account
 * planted in state-dir can at worst make relayd lose its place, never
 * write elsewhere:
 *
 *   statefile_write(file, buf, len, err)  a new temporary file beside
 *              file (mkstemp: O_CREAT|O_EXCL, mode 0600, so never through
 *              a planted link), written, fsync'd, renamed over file (a
 *              rename replaces a link, it does not follow one), and the
 *              directory fsync'd: after a crash the old or the new
 *              content, never a torn file.  The temporary file is removed
 *              on every error.
 *   statefile_open(file, err)  the file for reading, opened O_NOFOLLOW |
 *              O_NONBLOCK and refused unless it is a regular file (a
 *              planted FIFO would otherwise hang the start).  NULL with
 *              errno ENOENT when there is none (err empty), or NULL with
 *              err filled.
 */
#ifndef LEAFMAIL_RELAYD_STATEFILE_H
#define LEAFMAIL_RELAYD_STATEFILE_H

#include <stddef.h>
#include <stdio.h>

int statefile_write(const char *file, const char *buf, size_t len, char *err,
                    size_t errlen);
FILE *statefile_open(const char *file, char *err, size_t errlen);

#endif
