/*
 * errbuf.h - the "char *err, size_t errlen" convention of lib/: a
 * function that fails says why in the caller's buffer.
 *
 *   errbuf_set(err, errlen, fmt, ...)
 *       Format into err (truncated to errlen); nothing when err is NULL
 *       or errlen 0, for callers that only want the result code.
 */
#ifndef LEAFMAIL_ERRBUF_H
#define LEAFMAIL_ERRBUF_H

#include <stddef.h>

void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
