/*
 * position.c - the file where relayd keeps each file source's position.
 *
 * Interface: position.h.  Format, one line per source:
 *     "<dev> <ino> <offset> <path>\n"
 * three unsigned decimal numbers and the path, which is the rest of the
 * line (it may contain spaces, never a newline).
 *
 * position_save() writes a temporary file beside the target (mkstemp, so
 * the rename never crosses a file system), fsyncs it, renames it over the
 * target and fsyncs the directory, so after a crash the file holds either
 * the old or the new positions.  A temporary file is removed on every
 * error; one left by a crash at the wrong moment is harmless (it is never
 * read) and named <file>.XXXXXX.
 *
 * position_load() reads strictly: any line that is not exactly the format
 * above (a missing newline, a sign, a number out of range, a NUL byte, an
 * empty path) makes the whole file an error naming the line, because a
 * guessed position could skip logins.  Nothing here logs.
 */
#include "position.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, n);
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
static int sync_dir(const char *file)
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
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int position_save(const char *file, const struct position_entry *e, size_t n,
                  char *err, size_t errlen)
{
	char line[PATH_MAX + 80];
	char *tmp = NULL;
	size_t i;
	int fd = -1, len;
	const char *what;

	for (i = 0; i < n; i++) {
		if (e[i].path[0] == '\0' || strchr(e[i].path, '\n') != NULL) {
			snprintf(err, errlen, "%s: cannot record the source "
			         "path \"%s\"", file, e[i].path);
			return -1;
		}
		if (e[i].pos.offset < 0) {
			snprintf(err, errlen, "%s: negative offset for %s",
			         file, e[i].path);
			return -1;
		}
	}
	if (asprintf(&tmp, "%s.XXXXXX", file) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	what = "create";
	if ((fd = mkstemp(tmp)) < 0)
		goto fail;
	what = "write";
	for (i = 0; i < n; i++) {
		len = snprintf(line, sizeof line, "%llu %llu %lld %s\n",
		               (unsigned long long)e[i].pos.dev,
		               (unsigned long long)e[i].pos.ino,
		               (long long)e[i].pos.offset, e[i].path);
		if (len < 0 || (size_t)len >= sizeof line) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if (write_all(fd, line, (size_t)len) < 0)
			goto fail;
	}
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
		/* Renamed: the new positions are in place, only not yet
		 * known to be durable. */
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

/* One unsigned decimal number followed by a space; *pp moves past both. */
static int number(const char **pp, unsigned long long *v)
{
	const char *p = *pp;
	char *end;

	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*v = strtoull(p, &end, 10);
	if (errno != 0 || *end != ' ')
		return -1;
	*pp = end + 1;
	return 0;
}

/* Parse one line (its newline already removed).  0 ok, -1 malformed. */
static int parse(const char *line, size_t len, struct source_pos *p,
                 const char **path)
{
	unsigned long long dev, ino, off;
	const char *q = line;

	if (memchr(line, '\0', len) != NULL)
		return -1;
	if (number(&q, &dev) < 0 || number(&q, &ino) < 0 ||
	    number(&q, &off) < 0)
		return -1;
	if (*q == '\0')
		return -1;
	p->dev = (dev_t)dev;
	p->ino = (ino_t)ino;
	p->offset = (off_t)off;
	/* Refuse what the types cannot hold instead of wrapping it. */
	if ((unsigned long long)p->dev != dev ||
	    (unsigned long long)p->ino != ino || p->offset < 0 ||
	    (unsigned long long)p->offset != off)
		return -1;
	*path = q;
	return 0;
}

int position_load(const char *file, const char *path, struct source_pos *p,
                  char *err, size_t errlen)
{
	struct source_pos pos;
	const char *lpath;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int found = 0;
	FILE *f;

	if ((f = fopen(file, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", file,
		         strerror(errno));
		return -1;
	}
	/* Every line is checked, not only up to ours: a damaged file is
	 * reported whichever source it would have hurt. */
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[len - 1] != '\n')
			goto bad;
		line[--len] = '\0';
		if (parse(line, (size_t)len, &pos, &lpath) < 0)
			goto bad;
		if (!found && strcmp(lpath, path) == 0) {
			*p = pos;
			found = 1;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", file,
		         strerror(errno));
		found = -1;
	}
	free(line);
	fclose(f);
	return found;
bad:
	snprintf(err, errlen, "%s line %u: malformed (expected \"<dev> <ino> "
	         "<offset> <path>\")", file, lineno);
	free(line);
	fclose(f);
	return -1;
}
