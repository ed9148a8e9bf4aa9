/*
 * safedir.c - a directory opened by a path the service account cannot
 * redirect (safedir.h).
 *
 * Why by hand: open(path) as root follows whatever the names on the way
 * lead to at that moment.  If the service account can write one of the
 * directories on the way, it can rename a symbolic link over the next
 * name and root lands in /etc.  So each name is looked up with
 * openat(O_PATH|O_NOFOLLOW) in the directory reached so far, that
 * directory is checked (could the service account replace this entry?),
 * and a symbolic link is read from the very inode that was checked and
 * followed by hand, from "/" or from the directory that holds it.  Whether
 * the configured path goes through /var/run -> /run or the admin's own
 * links does not matter; where a link sits does.
 *
 * A sticky directory (/tmp) lets anyone create entries but rename or
 * remove only their own: an entry in it is safe from the service account
 * unless the account owns the entry or the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safedir.h"

#define SAFEDIR_MAX_LINKS 40

static int
in_groups(const struct daemon_user *u, gid_t g)
{
	if (g == u->gid)
		return 1;
	for (int i = 0; i < u->ngroups; i++)
		if (u->groups[i] == g)
			return 1;
	return 0;
}

/* 1 when u could rename or remove an entry owned by owner in dir. */
static int
replaceable(const struct daemon_user *u, const struct stat *dir, uid_t owner)
{
	int writable;

	if (!u->is_root)
		return 0;
	/* An owner may chmod its directory: write bits or not, it can. */
	writable = dir->st_uid == u->uid || (dir->st_mode & S_IWOTH) ||
	           ((dir->st_mode & S_IWGRP) && in_groups(u, dir->st_gid));
	if (!writable)
		return 0;
	return !((dir->st_mode & S_ISVTX) && dir->st_uid != u->uid &&
	         owner != u->uid);
}

static int
open_root(struct stat *st, char *err, size_t errlen)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, st) < 0) {
		snprintf(err, errlen, "/: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* where: the directory reached so far, as text for messages. */
static void
where_step(char *where, size_t len, const char *comp)
{
	char *slash;
	size_t n = strlen(where);

	if (strcmp(comp, "..") == 0) {
		if ((slash = strrchr(where, '/')) != NULL)
			*slash = '\0';
		return;
	}
	snprintf(where + n, len - n, "/%s", comp);
}

int
safedir_open(const char *path, const struct daemon_user *u, int flags,
             char *err, size_t errlen)
{
	char todo[2 * PATH_MAX], link[PATH_MAX], where[PATH_MAX] = "";
	char comp[NAME_MAX + 1];
	struct stat cst, nst;
	int cur, pfd, nfd, links = 0, created = 0, made, e;
	const char *p;
	size_t n;

	if (path == NULL || path[0] != '/' || strlen(path) >= PATH_MAX) {
		snprintf(err, errlen, "\"%s\": not an absolute path",
		         path ? path : "");
		errno = EINVAL;
		return -1;
	}
	snprintf(todo, sizeof todo, "%s", path);
	if ((cur = open_root(&cst, err, errlen)) < 0)
		return -1;
	p = todo;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, "/");
		if (n > NAME_MAX) {
			snprintf(err, errlen, "%s: a name is too long", path);
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		if (strcmp(comp, ".") == 0)
			continue;
		made = 0;
		pfd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0 && errno == ENOENT && (flags & SAFEDIR_CREATE) &&
		    strcmp(comp, "..") != 0) {
			if (replaceable(u, &cst, 0))
				goto unsafe;
			if (mkdirat(cur, comp, 0755) == 0)
				made = 1;
			else if (errno != EEXIST) {
				e = errno;
				snprintf(err, errlen, "mkdir %s/%s: %s", where, comp,
				         strerror(e));
				errno = e;
				goto fail;
			}
			pfd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (pfd < 0 || fstat(pfd, &nst) < 0) {
			e = errno;
			snprintf(err, errlen, "%s/%s: %s", where, comp, strerror(e));
			if (pfd >= 0)
				close(pfd);
			errno = e;
			goto fail;
		}
		/* ".." is the directory's own link, no entry anyone renames. */
		if (strcmp(comp, "..") != 0 && replaceable(u, &cst, nst.st_uid)) {
			close(pfd);
			goto unsafe;
		}
		if (S_ISLNK(nst.st_mode)) {
			/* Read from the inode just checked, not by name again. */
			ssize_t l = readlinkat(pfd, "", link, sizeof link);
			e = errno;
			close(pfd);
			if (l < 0 || (size_t)l >= sizeof link ||
			    ++links > SAFEDIR_MAX_LINKS) {
				snprintf(err, errlen, "%s/%s: %s", where, comp,
				         l < 0 ? strerror(e)
				               : "too many or too long symbolic links");
				errno = l < 0 ? e : ELOOP;
				goto fail;
			}
			link[l] = '\0';
			char next[sizeof todo];
			if ((size_t)snprintf(next, sizeof next, "%s/%s", link, p) >=
			    sizeof next) {
				snprintf(err, errlen, "%s: path too long", path);
				errno = ENAMETOOLONG;
				goto fail;
			}
			memcpy(todo, next, sizeof todo);
			p = todo;
			if (link[0] == '/') {
				close(cur);
				if ((cur = open_root(&cst, err, errlen)) < 0)
					return -1;
				where[0] = '\0';
			}
			continue;
		}
		if (!S_ISDIR(nst.st_mode)) {
			close(pfd);
			snprintf(err, errlen, "%s/%s: not a directory", where, comp);
			errno = ENOTDIR;
			goto fail;
		}
		nfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = errno;
		close(pfd);
		/* 0755 whatever the umask: Postfix must reach sockets in it. */
		if (nfd >= 0 && made && fchmod(nfd, 0755) < 0) {
			e = errno;
			close(nfd);
			nfd = -1;
		}
		if (nfd < 0) {
			snprintf(err, errlen, "%s/%s: %s", where, comp, strerror(e));
			errno = e;
			goto fail;
		}
		close(cur);
		cur = nfd;
		cst = nst;
		created = made;
		where_step(where, sizeof where, comp);
	}
	if (u->is_root &&
	    ((flags & SAFEDIR_GIVE) || ((flags & SAFEDIR_GIVE_NEW) && created)) &&
	    fchown(cur, u->uid, u->gid) < 0) {
		e = errno;
		snprintf(err, errlen, "chown %s to %s: %s", path, u->name,
		         strerror(e));
		errno = e;
		goto fail;
	}
	return cur;
unsafe:
	snprintf(err, errlen, "%s: user %s can write %s, so it could replace "
	         "what %s names; refusing (make %s writable by root alone)",
	         path, u->name, where[0] ? where : "/", path,
	         where[0] ? where : "/");
	close(cur);
	errno = EPERM;
	return SAFEDIR_UNSAFE;
fail:
	close(cur);
	return -1;
}
