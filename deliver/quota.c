/*
 * quota.c - Maildir++ quota (see quota.h).
 *
 * maildirsize holds the quota definition on its first line, then one
 * "bytes count" line per change, positive for deliveries and negative for
 * expunges (written by the IMAP server).  Usage is the sum of those lines.
 * As in Courier and Dovecot the file is rebuilt from the messages when:
 *   - it is missing, unreadable as Maildir++, or its definition line is
 *     not the quota we were given (the quota changed);
 *   - it has grown to QUOTA_FILE_MAX (5120) bytes or more;
 *   - the delivery would go over quota and the file is older than 15
 *     minutes (its sum may be stale: let a real count decide a refusal).
 * The check and the append are not one atomic step: two deliveries racing
 * can both fit and overshoot by one message, which Maildir++ accepts too.
 * A delivery is refused only when it would exceed a limit, so a mailbox
 * can be filled to exactly its quota.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "quota.h"

static int
parse_num(const char *s, char **end, long long *v)
{
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	*v = strtoll(s, end, 10);
	return errno != 0 ? -1 : 0;
}

int
quota_parse(const char *s, struct quota_limit *q)
{
	char *end;
	long long v;

	q->bytes = q->count = 0;
	if (strcmp(s, "-") == 0)
		return 0;
	if (parse_num(s, &end, &v) != 0)
		return -1;
	/* A plain size: "1048576", "100M". */
	if (*end == '\0' || ((*end == 'K' || *end == 'M' || *end == 'G' ||
	                      *end == 'k' || *end == 'm' || *end == 'g') &&
	                     end[1] == '\0')) {
		int shift = 0;
		switch (*end) {
		case 'K': case 'k': shift = 10; break;
		case 'M': case 'm': shift = 20; break;
		case 'G': case 'g': shift = 30; break;
		}
		if (v > (0x7fffffffffffffffLL >> shift))
			return -1;
		q->bytes = v << shift;
		return 0;
	}
	/* Maildir++: comma-separated NS and NC. */
	for (;;) {
		if (*end == 'S' && q->bytes == 0)
			q->bytes = v;
		else if (*end == 'C' && q->count == 0)
			q->count = v;
		else
			return -1;
		end++;
		if (*end == '\0')
			return 0;
		if (*end != ',' || parse_num(end + 1, &end, &v) != 0)
			return -1;
	}
}

void
quota_format(char *out, size_t n, const struct quota_limit *q)
{
	if (q->bytes > 0 && q->count > 0)
		snprintf(out, n, "%lldS,%lldC", q->bytes, q->count);
	else if (q->count > 0)
		snprintf(out, n, "%lldC", q->count);
	else
		snprintf(out, n, "%lldS", q->bytes);
}

long long
quota_size_from_name(const char *name)
{
	const char *p = strstr(name, ",S=");
	long long v = 0;

	if (p == NULL)
		return -1;
	for (p += 3; *p >= '0' && *p <= '9'; p++) {
		if (v > 0x7fffffffffffffffLL / 10 - 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return (*p == '\0' || *p == ',' || *p == ':') ? v : -1;
}

/* Add up the messages of one cur/ or new/ directory. */
static int
scan_dir(int fd, const char *sub, struct quota_usage *u)
{
	struct dirent *de;
	struct stat st;
	long long s;
	DIR *d;
	int dfd;

	dfd = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		s = quota_size_from_name(de->d_name);
		if (s < 0) {
			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue; /* expunged meanwhile */
			s = st.st_size;
		}
		u->bytes += s;
		u->count++;
	}
	closedir(d);
	return 0;
}

static int
write_file(int fd, const struct quota_limit *q, const struct quota_usage *u,
           char *err, size_t errlen)
{
	char def[64], buf[160], tmp[128];
	struct timeval tv;
	int tfd, len;
	ssize_t w;

	quota_format(def, sizeof(def), q);
	len = snprintf(buf, sizeof(buf), "%s\n%lld %lld\n", def, u->bytes,
	               u->count);
	gettimeofday(&tv, NULL);
	snprintf(tmp, sizeof(tmp), "tmp/%lld.M%06ldP%ld.maildirsize",
	         (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid());
	tfd = openat(fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	             0600);
	if (tfd < 0 && errno == ENOENT) {
		(void)mkdirat(fd, "tmp", 0700);
		tfd = openat(fd, tmp,
		             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		             0600);
	}
	if (tfd < 0) {
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	w = write(tfd, buf, (size_t)len);
	if (w != len || close(tfd) != 0 || renameat(fd, tmp, fd, "maildirsize")) {
		snprintf(err, errlen, "write maildirsize: %s",
		         w < 0 || w == len ? strerror(errno) : "short write");
		(void)unlinkat(fd, tmp, 0);
		return -1;
	}
	return 0;
}

int
quota_lock_shared(int fd)
{
	while (flock(fd, LOCK_SH) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

void
quota_unlock(int fd)
{
	(void)flock(fd, LOCK_UN);
}

static int
recalc_locked(int fd, const struct quota_limit *q, struct quota_usage *u,
              char *err, size_t errlen)
{
	struct dirent *de;
	char sub[600];
	DIR *d;
	int dfd;

	u->bytes = u->count = 0;
	if (scan_dir(fd, "cur", u) != 0 || scan_dir(fd, "new", u) != 0) {
		snprintf(err, errlen, "scan maildir: %s", strerror(errno));
		return -1;
	}
	/* Maildir++ folders: ".Name/" beside cur/ new/ tmp/. */
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		snprintf(err, errlen, "scan maildir: %s", strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/cur", de->d_name);
		if (scan_dir(fd, sub, u) != 0)
			continue; /* not a folder */
		snprintf(sub, sizeof(sub), "%s/new", de->d_name);
		(void)scan_dir(fd, sub, u);
	}
	closedir(d);
	return write_file(fd, q, u, err, errlen);
}

int
quota_recalc(int fd, const struct quota_limit *q, struct quota_usage *u,
             char *err, size_t errlen)
{
	int r;

	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "lock maildir: %s", strerror(errno));
			return -1;
		}
	r = recalc_locked(fd, q, u, err, errlen);
	quota_unlock(fd);
	return r;
}

static int
over(const struct quota_limit *q, const struct quota_usage *u, long long size)
{
	return (q->bytes > 0 && u->bytes + size > q->bytes) ||
	       (q->count > 0 && u->count + 1 > q->count);
}

/* Sum maildirsize; 0 when it is usable as it stands, 1 when it must be
 * rebuilt, -1 on I/O error. */
static int
read_file(int fd, const struct quota_limit *q, struct quota_usage *u,
          time_t *mtime)
{
	char buf[QUOTA_FILE_MAX + 1], def[64], *line, *next, *end;
	struct stat st;
	long long b, c;
	ssize_t n;
	int mfd;

	mfd = openat(fd, "maildirsize", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (mfd < 0)
		return errno == ENOENT ? 1 : -1;
	if (fstat(mfd, &st) != 0) {
		close(mfd);
		return -1;
	}
	*mtime = st.st_mtime;
	if (st.st_size >= QUOTA_FILE_MAX) {
		close(mfd);
		return 1;
	}
	n = read(mfd, buf, sizeof(buf) - 1);
	close(mfd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	line = buf;
	next = strchr(line, '\n');
	if (next == NULL)
		return 1;
	*next++ = '\0';
	quota_format(def, sizeof(def), q);
	if (strcmp(line, def) != 0)
		return 1;
	u->bytes = u->count = 0;
	for (line = next; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next == NULL)
			return 1; /* a line being written: count afresh */
		*next++ = '\0';
		errno = 0;
		b = strtoll(line, &end, 10);
		if (end == line || *end != ' ')
			return 1;
		c = strtoll(end + 1, &end, 10);
		if (*end != '\0' || errno != 0)
			return 1;
		u->bytes += b;
		u->count += c;
	}
	return 0;
}

int
quota_check(int fd, const struct quota_limit *q, long long size,
            time_t now, struct quota_usage *u, char *err, size_t errlen)
{
	time_t mtime = now;
	int r;

	u->bytes = u->count = 0;
	r = read_file(fd, q, u, &mtime);
	if (r < 0) {
		snprintf(err, errlen, "read maildirsize: %s", strerror(errno));
		return -1;
	}
	if (r == 0 && over(q, u, size) && now - mtime > QUOTA_STALE_SECS)
		r = 1;
	if (r == 1 && quota_recalc(fd, q, u, err, errlen) != 0)
		return -1;
	return over(q, u, size);
}

int
quota_add(int fd, long long bytes, long long count, char *err, size_t errlen)
{
	char line[64];
	ssize_t w;
	int mfd, len;

	mfd = openat(fd, "maildirsize",
	             O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (mfd < 0)
		return errno == ENOENT ? 0 : (snprintf(err, errlen,
		                              "open maildirsize: %s",
		                              strerror(errno)), -1);
	len = snprintf(line, sizeof(line), "%lld %lld\n", bytes, count);
	w = write(mfd, line, (size_t)len);
	if (w != len) {
		snprintf(err, errlen, "append to maildirsize: %s",
		         w < 0 ? strerror(errno) : "short write");
		close(mfd);
		return -1;
	}
	return close(mfd) == 0 ? 0 : -1;
}
