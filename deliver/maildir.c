/*
 * maildir.c - durable delivery into one Maildir (see maildir.h).
 *
 * The steps follow the Maildir rules (cr.yp.to/proto/maildir.html) and
 * what Postfix's virtual(8) and OpenSMTPD's mail.maildir do:
 *   - the unique name is "<sec>.M<usec>P<pid>Q<n>.<host>": seconds and
 *     microseconds of now, our pid, and a per-process counter, so two
 *     deliveries by one process in the same microsecond still differ;
 *     ",S=<size>" lets Maildir++ quota and Dovecot skip a stat();
 *   - the file is created with O_EXCL in tmp/, written, fsync'ed and closed
 *     (close can report a delayed write error on NFS), then renamed into
 *     new/ with RENAME_NOREPLACE so an existing message is never replaced
 *     (link()+unlink() where the file system lacks that flag), and new/ is
 *     fsync'ed so the rename itself survives a crash;
 *   - anything failing removes the tmp file: nothing partial ever shows
 *     up in new/, and tmp/ is not left to the 36-hour cleaner.
 * Directories are made 0700 on demand: the first delivery to a new mailbox
 * creates it, as the seed did with mkpath.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "maildir.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static atomic_ulong maildir_counter;

void
maildir_host(char *out, size_t n, const char *host)
{
	size_t o = 0;

	if (n == 0)
		return;
	for (; *host != '\0' && o + 5 < n; host++) {
		if (*host == '/' || *host == ':') {
			o += (size_t)snprintf(out + o, n - o, "\\%03o",
			                      (unsigned char)*host);
		} else {
			out[o++] = *host;
		}
	}
	out[o] = '\0';
}

int
maildir_uniqname(char *out, size_t n, long long sec, long usec, long pid,
                 unsigned long q, const char *host, unsigned long long size)
{
	int r = snprintf(out, n, "%lld.M%06ldP%ldQ%lu.%s,S=%llu", sec, usec, pid,
	                 q, host, size);
	return (r < 0 || (size_t)r >= n) ? -1 : 0;
}

int
maildir_open(const char *base, const char *rel, char *err, size_t errlen)
{
	char comp[4096];
	const char *p = rel, *slash;
	size_t len;
	int fd, next;

	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "maildir-base %s: %s", base, strerror(errno));
		return -1;
	}
	while (*p != '\0') {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0) { /* "a//b" or a trailing '/' */
			p++;
			continue;
		}
		if (len >= sizeof(comp)) {
			snprintf(err, errlen, "path component too long");
			close(fd);
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		/* Callers check names already; this keeps "..", "." and hidden
		 * names out even if one forgets. */
		if (comp[0] == '.') {
			snprintf(err, errlen, "refusing path component \"%s\"", comp);
			close(fd);
			return -1;
		}
		next = openat(fd, comp,
		              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(fd, comp, 0700) != 0 && errno != EEXIST) {
				snprintf(err, errlen, "mkdir %s: %s", comp,
				         strerror(errno));
				close(fd);
				return -1;
			}
			next = openat(fd, comp,
			              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			snprintf(err, errlen, "open %s/%s: %s", base, rel,
			         strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		fd = next;
		p += len;
	}
	return fd;
}

/* tmp/ new/ cur/, each 0700; an existing one is fine. */
static int
make_subdirs(int fd)
{
	static const char *const sub[] = {"tmp", "new", "cur"};
	size_t i;

	for (i = 0; i < 3; i++)
		if (mkdirat(fd, sub[i], 0700) != 0 && errno != EEXIST)
			return -1;
	return 0;
}

static int
write_all(int fd, const struct iovec *iov, int iovcnt)
{
	int i;

	for (i = 0; i < iovcnt; i++) {
		const char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left > 0) {
			ssize_t w = write(fd, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			p += w;
			left -= (size_t)w;
		}
	}
	return 0;
}

static int
move_to_new(int fd, const char *tmp, const char *dst)
{
	if (renameat2(fd, tmp, fd, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* No RENAME_NOREPLACE here: link() fails with EEXIST just as well. */
	if (linkat(fd, tmp, fd, dst, 0) != 0)
		return -1;
	(void)unlinkat(fd, tmp, 0);
	return 0;
}

int
maildir_write(int fd, const struct iovec *iov, int iovcnt, char *name,
              size_t namelen, int *eno, char *err, size_t errlen)
{
	char host[256], rawhost[256], tmp[600], dst[600];
	unsigned long long size = 0;
	const char *step;
	struct timeval tv;
	int i, mfd = -1, nfd, tries, created = 0;

	for (i = 0; i < iovcnt; i++)
		size += iov[i].iov_len;
	if (gethostname(rawhost, sizeof(rawhost)) != 0)
		snprintf(rawhost, sizeof(rawhost), "localhost");
	rawhost[sizeof(rawhost) - 1] = '\0';
	maildir_host(host, sizeof(host), rawhost);

	for (tries = 0; tries < 5 && mfd < 0; tries++) {
		gettimeofday(&tv, NULL);
		if (maildir_uniqname(name, namelen, (long long)tv.tv_sec,
		                     (long)tv.tv_usec, (long)getpid(),
		                     atomic_fetch_add(&maildir_counter, 1), host,
		                     size) != 0) {
			*eno = ENAMETOOLONG;
			snprintf(err, errlen, "unique name too long");
			return -1;
		}
		snprintf(tmp, sizeof(tmp), "tmp/%s", name);
		mfd = openat(fd, tmp,
		             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		             0600);
		if (mfd < 0 && errno == ENOENT && !created) {
			created = 1;
			if (make_subdirs(fd) != 0) {
				*eno = errno;
				snprintf(err, errlen, "mkdir tmp/new/cur: %s",
				         strerror(errno));
				return -1;
			}
			tries--;
			continue;
		}
		if (mfd < 0 && errno != EEXIST) {
			*eno = errno;
			snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
			return -1;
		}
	}
	if (mfd < 0) {
		*eno = EEXIST;
		snprintf(err, errlen, "no unique name in tmp/ after %d tries", tries);
		return -1;
	}

	step = "write";
	if (write_all(mfd, iov, iovcnt) != 0)
		goto fail;
	step = "fsync";
	if (fsync(mfd) != 0)
		goto fail;
	step = "close";
	i = close(mfd);
	mfd = -1;
	if (i != 0)
		goto fail;
	snprintf(dst, sizeof(dst), "new/%s", name);
	step = "rename to new/";
	if (move_to_new(fd, tmp, dst) != 0) {
		/* tmp/ existed (made by someone else) but new/ did not */
		if (errno != ENOENT || make_subdirs(fd) != 0 ||
		    move_to_new(fd, tmp, dst) != 0)
			goto fail;
	}
	/* The message is in new/; make the directory entry durable.  Should
	 * this fail the message is there but maybe not on disk: tempfail (a
	 * duplicate is better than a loss) and take it back out of new/. */
	step = "fsync new/";
	nfd = openat(fd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nfd < 0 || fsync(nfd) != 0) {
		*eno = errno;
		if (nfd >= 0)
			close(nfd);
		(void)unlinkat(fd, dst, 0);
		snprintf(err, errlen, "%s: %s", step, strerror(*eno));
		return -1;
	}
	close(nfd);
	return 0;

fail:
	*eno = errno;
	if (mfd >= 0)
		close(mfd);
	(void)unlinkat(fd, tmp, 0);
	snprintf(err, errlen, "%s %s: %s", step, tmp, strerror(*eno));
	return -1;
}
