/*
 * logsafe.c - escape client-supplied text for log lines (logsafe.h).
 *
 * Bytes >= 0x80 are escaped too: they are either UTF-8 (SMTPUTF8
 * addresses), which stays readable enough as \xHH, or garbage, which must
 * not reach syslog raw.  Text is cut rather than the buffer grown: a log
 * line about a 64 KB recipient needs its start, not all of it.
 */
#include "logsafe.h"

#include <string.h>

char *
logsafe_str(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, cut = 0; /* cut: where "..." still fits */

	if (outlen < 5) {
		if (outlen > 0)
			out[0] = '\0';
		return out;
	}
	if (s == NULL)
		s = "(null)";
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[4];
		size_t n;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			esc[0] = (char)c;
			n = 1;
		} else if (c == '\\') {
			esc[0] = esc[1] = '\\';
			n = 2;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			n = 4;
		}
		if (o + n > outlen - 1) {
			/* Cut at an escape's boundary, never inside one. */
			memcpy(out + cut, "...", 4);
			return out;
		}
		memcpy(out + o, esc, n);
		o += n;
		if (o <= outlen - 4)
			cut = o;
	}
	out[o] = '\0';
	return out;
}
