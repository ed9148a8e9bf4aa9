/*
 * statefile.c - private, atomically replaced state files (statefile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statefile.h"

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* fsync the directory holding file, so the rename itself is durable. */
static int
sync_dir(const char *file)
{
	const char *slash = strrchr(file, '/');
	char dir[PATH_MAX];
	int fd, r;

	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == file)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - file) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	} else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
statefile_write(const char *file, const char *buf, size_t len, char *err,
                size_t errlen)
{
	char *tmp = NULL;
	const char *what = "create";
	int fd;

	if (asprintf(&tmp, "%s.XXXXXX", file) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* mkstemp: O_EXCL and mode 0600, whatever the umask. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		goto fail;
	what = "write";
	if (write_all(fd, buf, len) < 0)
		goto fail;
	what = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	what = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	what = "rename";
	if (rename(tmp, file) < 0)
		goto fail;
	free(tmp);
	if (sync_dir(file) < 0) {
		/* Renamed: the new content is in place, only not yet known
		 * to be durable. */
		snprintf(err, errlen, "%s: fsync of its directory: %s", file,
		         strerror(errno));
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s %s: %s", file, what, tmp,
	         strerror(errno));
	if (fd >= 0)
		close(fd);
	if (strcmp(what, "create") != 0)
		unlink(tmp);
	free(tmp);
	return -1;
}

FILE *
statefile_open(const char *file, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	int fd;

	if (errlen > 0)
		err[0] = '\0';
	fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return NULL;
		if (e == ELOOP)
			snprintf(err, errlen, "%s is a symbolic link: not read",
			         file);
		else
			snprintf(err, errlen, "cannot read %s: %s", file,
			         strerror(e));
		errno = e;
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file: not read",
		         file);
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	/* Blocking again: a regular file never waits anyway. */
	if (fcntl(fd, F_SETFL, 0) < 0 || (f = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", file,
		         strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}
