/*
 * secret.h - read a secret file (keys, shared secrets) safely: refused when
 * group or others may read or write it, or when it is not a regular file,
 * like OpenSMTPD's check_file_secrecy().
 */
#ifndef LEAFMAIL_SECRET_H
#define LEAFMAIL_SECRET_H

#include <stddef.h>

/* Read at most max bytes of path into a malloc'd buffer (*out, *outlen).
 * 0 on success, -1 with err filled. */
int secret_read(const char *path, size_t max, unsigned char **out,
                size_t *outlen, char *err, size_t errlen);
/* 1 when a and b (n bytes each) are equal; time independent of content. */
int secret_equal(const void *a, const void *b, size_t n);

#endif
