/*
 * lmdbfile_testutil.h - scratch directories and one-line table operations
 * for the test_lmdbfile*.c unit tests.  Static functions, marked unused so
 * that each test file takes what it needs.
 */
#ifndef LEAFMAIL_LMDBFILE_TESTUTIL_H
#define LEAFMAIL_LMDBFILE_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lmdbfile.h"

/* A fresh directory under $TMPDIR (or /tmp), mode 0755 so that a test
 * can read it as another user. */
__attribute__((unused)) static int
tt_mkdtemp(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	snprintf(buf, len, "%s/leafmail-table-XXXXXX", base);
	if (mkdtemp(buf) == NULL)
		return -1;
	return chmod(buf, 0755);
}

__attribute__((unused)) static int
tt_rm1(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

__attribute__((unused)) static void
tt_rmtree(const char *dir)
{
	if (dir != NULL && *dir != '\0')
		nftw(dir, tt_rm1, 16, FTW_DEPTH | FTW_PHYS);
}

/* key and val as C strings, stored with their NUL (as Postfix does). */
__attribute__((unused)) static int
tt_put(struct lmdbfile *t, const char *key, const char *val)
{
	struct lmdbfile_op op = {0, key, strlen(key) + 1, val, strlen(val) + 1};
	char err[256];
	int rc = lmdbfile_write(t, &op, 1, err, sizeof(err));

	if (rc != LMDBFILE_OK)
		fprintf(stderr, "tt_put: %s\n", err);
	return rc;
}

__attribute__((unused)) static int
tt_get(struct lmdbfile *t, const char *key, char *val, size_t vlen)
{
	char err[256];
	int rc = lmdbfile_get(t, key, strlen(key) + 1, val, vlen, err, sizeof(err));

	if (rc == LMDBFILE_ERR && vlen > 0) { /* the message, for the asserts */
		size_t n = strlen(err) < vlen - 1 ? strlen(err) : vlen - 1;
		memcpy(val, err, n);
		val[n] = '\0';
	}
	return rc;
}

__attribute__((unused)) static double
tt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
