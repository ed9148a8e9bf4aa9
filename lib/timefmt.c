/*
 * timefmt.c - RFC 3339 UTC time for log lines (timefmt.h).
 */
#include "timefmt.h"

#include <stdio.h>

char *
timefmt_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;
	int v[6], w[6] = {4, 2, 2, 2, 2, 2}, i, k;
	const char sep[6] = {'-', '-', 'T', ':', ':', 'Z'};
	size_t o = 0;

	if (len < 21 || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	v[0] = tm.tm_year + 1900;
	v[1] = tm.tm_mon + 1;
	v[2] = tm.tm_mday;
	v[3] = tm.tm_hour;
	v[4] = tm.tm_min;
	v[5] = tm.tm_sec;
	for (i = 0; i < 6; i++) {
		for (k = w[i] - 1; k >= 0; k--, v[i] /= 10)
			buf[o + (size_t)k] = (char)('0' + v[i] % 10);
		o += (size_t)w[i];
		buf[o++] = sep[i];
	}
	buf[o] = '\0';
	return buf;
}
