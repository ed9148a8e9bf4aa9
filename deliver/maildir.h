/*
 * maildir.h - write one message into a Maildir, durably.
 *
 *   maildir_host(out, n, host)
 *       The host part of unique names: host with '/' written \057 and ':'
 *       written \072 (the characters a file name or the info suffix can't
 *       hold), as Courier and Dovecot do.
 *   maildir_uniqname(out, n, sec, usec, pid, q, host, size)
 *       "<sec>.M<usec>P<pid>Q<q>.<host>,S=<size>", the modern convention.
 *   maildir_open(base, rel, err, errlen)
 *       Open (creating each missing directory 0700) the Maildir at
 *       base/rel and return a directory fd.  rel is walked one component at
 *       a time without following symbolic links, so nothing reached through
 *       it can leave base; base itself must exist.
 *   maildir_write(fd, iov, iovcnt, name, namelen, &eno, err, errlen)
 *       Create tmp/NAME exclusively (tmp/ new/ cur/ made on demand), write
 *       the pieces, fsync, move to new/NAME without replacing anything,
 *       fsync new/.  On any failure the tmp file is removed, -1 is returned
 *       and *eno holds the errno that caused it (ENOSPC, EDQUOT, EIO...):
 *       the caller answers with a temporary failure.
 */
#ifndef LEAFMAIL_MAILDIR_H
#define LEAFMAIL_MAILDIR_H

#include <stddef.h>
#include <sys/uio.h>

void maildir_host(char *out, size_t n, const char *host);
int maildir_uniqname(char *out, size_t n, long long sec, long usec, long pid,
                     unsigned long q, const char *host, unsigned long long size);
int maildir_open(const char *base, const char *rel, char *err, size_t errlen);
int maildir_write(int fd, const struct iovec *iov, int iovcnt, char *name,
                  size_t namelen, int *eno, char *err, size_t errlen);

#endif
