/*
 * secret.c - read secret files (UMTP keys, shared secrets) safely, compare
 * secrets in constant time.
 *
 * Interface (secret.h):
 *   secret_read(path, max, &buf, &len, err, errlen)  0, or -1 with err set
 *   secret_equal(a, b, n)                            1 when equal
 *
 * secret_read() refuses, like OpenSMTPD's check_file_secrecy():
 *   - a symbolic link (O_NOFOLLOW): whoever can write the link's directory
 *     could point it anywhere;
 *   - anything but a regular file (directory, FIFO, device);
 *   - a file whose mode gives group or others any access (the message
 *     names the path and its mode and says "chmod 600");
 *   - a file larger than max bytes, or an empty one (an empty key would
 *     authenticate anybody who guessed it was empty).
 * The checks are made with fstat() on the descriptor we read from, so the
 * file cannot be swapped between check and read.  Ownership is not checked:
 * a daemon started as root reads its secrets before dropping privileges.
 * The caller frees *out, preferably after explicit_bzero().
 * Nothing here logs or exits.
 */
#include "secret.h"

#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


int
secret_read(const char *path, size_t max, unsigned char **out,
            size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd;

	if (path == NULL || out == NULL || outlen == NULL) {
		errbuf_set(err, errlen, "secret_read: bad arguments");
		return -1;
	}
	/* O_NONBLOCK: opening a FIFO must not hang before fstat() rejects it. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ELOOP)
			errbuf_set(err, errlen,
			           "%s: is a symbolic link; secret files must not be",
			           path);
		else
			errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		errbuf_set(err, errlen, "%s: fstat: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		errbuf_set(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		errbuf_set(err, errlen,
		           "%s: mode %04o gives group or others access to a secret; "
		           "run chmod 600 %s",
		           path, (unsigned int)(st.st_mode & 07777), path);
		goto fail;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
		errbuf_set(err, errlen, "%s: larger than %zu bytes", path, max);
		goto fail;
	}
	/* Read one byte more than allowed to notice a file that grew since
	 * fstat(). */
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		errbuf_set(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errbuf_set(err, errlen, "%s: read: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			errbuf_set(err, errlen, "%s: changed while being read", path);
			goto fail;
		}
	}
	if (len == 0) {
		errbuf_set(err, errlen, "%s: is empty", path);
		goto fail;
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	if (buf != NULL) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	close(fd);
	return -1;
}

int
secret_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 1;
	return CRYPTO_memcmp(a, b, n) == 0;
}
