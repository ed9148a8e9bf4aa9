/*
 * mailaddr.c - bare addresses and Message-IDs (mailaddr.h).
 */
#include "mailaddr.h"

#include <ctype.h>
#include <string.h>

long
mailaddr_strip(const char *s, char *out, size_t outlen)
{
	size_t b = 0, e = strlen(s);

	while (b < e && isspace((unsigned char)s[b]))
		b++;
	while (e > b && isspace((unsigned char)s[e - 1]))
		e--;
	if (e - b >= 2 && s[b] == '<' && s[e - 1] == '>')
		b++, e--;
	if (outlen == 0 || e - b >= outlen)
		return -1;
	memcpy(out, s + b, e - b);
	out[e - b] = '\0';
	return (long)(e - b);
}
