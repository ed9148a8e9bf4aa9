/*
 * position.c - the file where relayd keeps each file source's position.
 *
 * Interface: position.h.  Format, one line per source:
 *     "<dev> <ino> <offset> [<birth> ]<path>\n"
 * three or four unsigned decimal numbers and the path, which is the rest
 * of the line (it may contain spaces, never a newline).  The fourth, when
 * the file system keeps it, is the file's birth time in nanoseconds: after
 * a restart the rotated generations born after it are read before the
 * current file (source.c); files written before it existed have three.
 *
 * position_save() writes the file through statefile_write(): private
 * (0600), replaced atomically, never through a planted link; after a
 * crash it holds either the old or the new positions.  A temporary file
 * left by a crash at the wrong moment is harmless (it is never read) and
 * named <file>.XXXXXX.  position_load() opens it with statefile_open()
 * (no symbolic link, regular files only).
 *
 * position_load() reads strictly: any line that is not exactly the format
 * above (a missing newline, a sign, a number out of range, a NUL byte, an
 * empty path) makes the whole file an error naming the line, because a
 * guessed position could skip logins.  Nothing here logs.
 */
#include "position.h"
#include "statefile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int position_save(const char *file, const struct position_entry *e, size_t n,
                  char *err, size_t errlen)
{
	char line[PATH_MAX + 80];
	char *buf = NULL;
	size_t len = 0, cap = 0;
	size_t i;
	int rc;

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
	for (i = 0; i < n; i++) {
		int l = e[i].pos.birth > 0
		            ? snprintf(line, sizeof line, "%llu %llu %lld %lld %s\n",
		                       (unsigned long long)e[i].pos.dev,
		                       (unsigned long long)e[i].pos.ino,
		                       (long long)e[i].pos.offset,
		                       e[i].pos.birth, e[i].path)
		            : snprintf(line, sizeof line, "%llu %llu %lld %s\n",
		                       (unsigned long long)e[i].pos.dev,
		                       (unsigned long long)e[i].pos.ino,
		                       (long long)e[i].pos.offset, e[i].path);
		if (l < 0 || (size_t)l >= sizeof line) {
			snprintf(err, errlen, "%s: source path too long: %s",
			         file, e[i].path);
			free(buf);
			return -1;
		}
		if (len + (size_t)l > cap) {
			size_t ncap = (cap + (size_t)l) * 2;
			char *nb = realloc(buf, ncap);
			if (nb == NULL) {
				snprintf(err, errlen, "out of memory");
				free(buf);
				return -1;
			}
			buf = nb;
			cap = ncap;
		}
		memcpy(buf + len, line, (size_t)l);
		len += (size_t)l;
	}
	rc = statefile_write(file, buf != NULL ? buf : "", len, err, errlen);
	free(buf);
	return rc;
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
	unsigned long long dev, ino, off, birth = 0;
	const char *q = line;

	if (memchr(line, '\0', len) != NULL)
		return -1;
	if (number(&q, &dev) < 0 || number(&q, &ino) < 0 ||
	    number(&q, &off) < 0)
		return -1;
	/* A fourth number is the birth time; a path never starts with a
	 * digit (it is absolute), so the two forms cannot be confused. */
	if (isdigit((unsigned char)*q) &&
	    (number(&q, &birth) < 0 || birth > (unsigned long long)LLONG_MAX))
		return -1;
	if (*q == '\0')
		return -1;
	p->birth = (long long)birth;
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

	if ((f = statefile_open(file, err, errlen)) == NULL)
		return errno == ENOENT && err[0] == '\0' ? 0 : -1;
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
