/*
 * swapper.c - the attacker of tests/security/race.t: a process of the
 * service account that swaps links in for the names root works on.
 *
 *   swapper DIR TARGET MODE STOPFILE NAME...
 *
 * Runs (as the service account) until STOPFILE exists.  Whenever one of
 * the NAMEs in DIR is created or renamed into place (inotify), it renames
 * a fresh link to TARGET over it at once: a symbolic link, a hard link
 * (needs fs.protected_hardlinks = 0, TARGET being root's), or either at
 * random (MODE sym, hard, both).  A NAME written "+NAME" is also planted
 * whenever it is missing, so that the next start finds it there.  Random
 * pauses of up to a millisecond vary the timing from run to run.  Prints
 * "swapped N planted M" at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int dfd, hard_ok = 1;
static const char *target;
static struct stat tst;
static unsigned long swapped, planted, seq;

/* 1 when name already is one of our links */
static int
ours(const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	return S_ISLNK(st.st_mode) ||
	       (st.st_dev == tst.st_dev && st.st_ino == tst.st_ino);
}

static int
swap(const char *name, const char *mode)
{
	char tmp[64];
	int hard = strcmp(mode, "hard") == 0 ||
	           (strcmp(mode, "both") == 0 && (rand() & 1));

	if (!hard_ok)
		hard = 0;
	snprintf(tmp, sizeof tmp, ".swap.%d.%lu", (int)getpid(), seq++);
	if (hard ? linkat(AT_FDCWD, target, dfd, tmp, 0)
	         : symlinkat(target, dfd, tmp)) {
		if (hard && errno == EPERM)
			hard_ok = 0; /* protected_hardlinks: symbolic ones only */
		return -1;
	}
	if (renameat(dfd, tmp, dfd, name) != 0) {
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8)));
	const char *stop;
	const char *mode;
	int in, i;

	if (argc < 6) {
		fprintf(stderr, "usage: swapper DIR TARGET MODE STOPFILE NAME...\n");
		return 64;
	}
	target = argv[2];
	mode = argv[3];
	stop = argv[4];
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	if ((dfd = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0 ||
	    stat(target, &tst) != 0 || (in = inotify_init1(IN_NONBLOCK)) < 0 ||
	    inotify_add_watch(in, argv[1], IN_CREATE | IN_MOVED_TO) < 0) {
		perror("swapper");
		return 1;
	}
	while (access(stop, F_OK) != 0) {
		struct pollfd p = {.fd = in, .events = POLLIN};
		ssize_t n;

		poll(&p, 1, 1);
		while ((n = read(in, buf, sizeof buf)) > 0) {
			for (char *q = buf; q < buf + n;) {
				struct inotify_event *ev = (struct inotify_event *)q;
				q += sizeof(*ev) + ev->len;
				if (ev->len == 0)
					continue;
				for (i = 5; i < argc; i++) {
					const char *nm = argv[i] + (argv[i][0] == '+');
					if (strcmp(ev->name, nm) == 0 && rand() % 4 != 0 &&
					    !ours(nm) && swap(nm, mode) == 0)
						swapped++;
				}
			}
		}
		for (i = 5; i < argc; i++) {
			struct stat st;
			if (argv[i][0] == '+' && rand() % 8 == 0 &&
			    fstatat(dfd, argv[i] + 1, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
			    errno == ENOENT && swap(argv[i] + 1, mode) == 0)
				planted++;
		}
		if (rand() % 4 == 0) {
			struct timespec ts = {0, (rand() % 1000) * 1000L};
			nanosleep(&ts, NULL);
		}
	}
	printf("swapped %lu planted %lu\n", swapped, planted);
	return 0;
}
