/*
 * quota.h - Maildir++ quota: the maildirsize file shared with Courier and
 * Dovecot (http://www.courier-mta.org/imap/README.maildirquota.html).
 *
 *   quota_parse(s, &q)       "NS,NC", "NS", "NC", a plain byte count with
 *                            an optional K/M/G suffix, or "-"/"0" for none.
 *                            0, or -1 when s is not a quota.
 *   quota_format(out, n, &q) the maildirsize definition line ("NS,NC").
 *   quota_check(fd, &q, size, now, &u, err, errlen)
 *       Current usage of the Maildir open at fd into u, recalculating
 *       maildirsize when Maildir++ says to; 1 when a message of size bytes
 *       would take the mailbox over q, 0 when it fits, -1 on I/O error.
 *   quota_add(fd, bytes, count, err, errlen)
 *       Append "bytes count" to maildirsize, in one write (O_APPEND, so
 *       concurrent deliveries don't mix their lines).  A missing file is
 *       left missing: the next check rebuilds it from the messages.
 *   quota_recalc(fd, &q, &u, err, errlen)
 *       Count every message in cur/ and new/ of the Maildir and its
 *       Maildir++ folders (".Name/"), sizes from ",S=" in the name (stat
 *       otherwise), and write a fresh maildirsize through tmp/ + rename.
 *   quota_size_from_name(name)  the ",S=" size, or -1.
 *   quota_lock_shared(fd) / quota_unlock(fd)
 *       Held by a delivery from the move into new/ until its maildirsize
 *       line is written; quota_recalc() holds the exclusive lock while it
 *       counts and replaces the file, so a delivery is either counted by
 *       the scan or appended to the new file, never lost between the two.
 *       (flock(2) on the Maildir directory: ours only; Dovecot has its own
 *       maildirsize.lock for its recalculations.)
 */
#ifndef LEAFMAIL_QUOTA_H
#define LEAFMAIL_QUOTA_H

#include <stddef.h>
#include <time.h>

struct quota_limit {
	long long bytes; /* 0: no limit */
	long long count; /* 0: no limit */
};

struct quota_usage {
	long long bytes;
	long long count;
};

#define QUOTA_FILE_MAX 5120 /* bigger: recalculate (Maildir++) */
#define QUOTA_STALE_SECS (15 * 60)

int quota_parse(const char *s, struct quota_limit *q);
void quota_format(char *out, size_t n, const struct quota_limit *q);
int quota_check(int fd, const struct quota_limit *q, long long size,
                time_t now, struct quota_usage *u, char *err, size_t errlen);
int quota_add(int fd, long long bytes, long long count, char *err,
              size_t errlen);
int quota_recalc(int fd, const struct quota_limit *q, struct quota_usage *u,
                 char *err, size_t errlen);
long long quota_size_from_name(const char *name);
int quota_lock_shared(int fd);
void quota_unlock(int fd);

#endif
