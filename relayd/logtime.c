/*
 * logtime.c - timestamps at the start of log lines.
 *
 * Interface (logtime.h): logtime_parse(s, len, now, &t) returns the bytes
 * consumed (with one following space) and the time, or 0.
 *
 * Recognised:
 *   "Mmm dd hh:mm:ss"   syslog (RFC 3164) and Dovecot's default log_timestamp;
 *                       the day may be space-padded ("Nov  2").  No year:
 *                       of last year, this year and next year we take the
 *                       latest that is not more than a day ahead of now, so
 *                       "Dec 31 23:59:59" read at Jan 1 00:00:10 is last
 *                       year's and a clock a little behind the log's still
 *                       gives this year.  Local time zone.
 *   "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)"  RFC 3339 (rsyslog's
 *                       RSYSLOG_FileFormat, journalctl -o short-iso);
 *                       'T' may be a space and the offset may be missing
 *                       (then local time): that is Dovecot with
 *                       log_timestamp = "%Y-%m-%d %H:%M:%S ".
 *
 * What can go wrong: a day that does not exist in any candidate year
 * (Feb 29 with no leap year near now) gives time 0, i.e. "long ago", so a
 * login on such a line never counts as recent.  Local time is resolved
 * with mktime(tm_isdst = -1); to keep that off the per-line path the
 * result for the start of each hour is cached per thread (keyed on the
 * hour and the zone tzset() chose: a program that changes TZ calls
 * tzset() before parsing again), which assumes no zone changes its offset in
 * the middle of an hour (none does in today's tz database).
 */
#include <stdint.h>
#include <string.h>

#include "logtime.h"

static int
ascii_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at s into *v; 0 when they aren't all digits. */
static int
digits(const char *s, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!ascii_digit(s[i]))
			return 0;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 1;
}

static int
leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
mdays(long y, int mon)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return mon == 1 && leap(y) ? 29 : d[mon];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): timegm() without the time zone machinery. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* hh:mm:ss at s (8 bytes, len checked by the caller). */
static int
clock_time(const char *s, int *h, int *mi, int *sec)
{
	return digits(s, 2, h) && s[2] == ':' && digits(s + 3, 2, mi) &&
	       s[5] == ':' && digits(s + 6, 2, sec) && *h <= 23 && *mi <= 59 &&
	       *sec <= 60;
}

/*
 * The zone in force, as tzset() left it.  Comparing these globals costs
 * nothing, where getenv("TZ") per line was a tenth of the parser's time.
 * A program that changes TZ must call tzset() (or mktime()) before the
 * change is seen here.
 */
struct zone_key {
	const char *std, *dst;
	long offset;
	int daylight;
};

static void
zone_key_now(struct zone_key *k)
{
	k->std = tzname[0];
	k->dst = tzname[1];
	k->offset = timezone;
	k->daylight = daylight;
}

static int
zone_key_eq(const struct zone_key *a, const struct zone_key *b)
{
	return a->std == b->std && a->dst == b->dst && a->offset == b->offset &&
	       a->daylight == b->daylight;
}

/*
 * Local time of y-mon-day hh:00:00, through a per-thread cache: one log
 * holds thousands of lines per hour, and mktime() costs a system call
 * (glibc stats /etc/localtime each time when TZ is unset).
 */
struct hour_cache {
	long y;
	int mon, day, hour;
	int valid;
	struct zone_key zone;
	time_t t;
};

static _Thread_local struct hour_cache cache;

static time_t
local_hour(long y, int mon, int day, int hour)
{
	struct zone_key z;

	zone_key_now(&z);
	if (cache.valid && cache.y == y && cache.mon == mon && cache.day == day &&
	    cache.hour == hour && zone_key_eq(&cache.zone, &z))
		return cache.t;

	struct tm tm;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);

	/* mktime() ran tzset(): key the entry on the zone it used. */
	zone_key_now(&cache.zone);
	cache.y = y;
	cache.mon = mon;
	cache.day = day;
	cache.hour = hour;
	cache.t = t;
	cache.valid = 1;
	return t;
}

/* The local year of now; localtime_r() once per distinct now and zone. */
static _Thread_local struct {
	time_t now;
	struct zone_key zone;
	long year;
	int valid;
} year_cache;

static int
local_year(time_t now, long *year)
{
	struct zone_key z;
	struct tm tm;

	zone_key_now(&z);
	if (year_cache.valid && year_cache.now == now &&
	    zone_key_eq(&year_cache.zone, &z)) {
		*year = year_cache.year;
		return 1;
	}
	if (localtime_r(&now, &tm) == NULL)
		return 0;
	year_cache.now = now;
	year_cache.zone = z;
	year_cache.year = (long)tm.tm_year + 1900;
	year_cache.valid = 1;
	*year = year_cache.year;
	return 1;
}

static int
month_index(const char *s)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (memcmp(s, names + 3 * i, 3) == 0)
			return i;
	return -1;
}

static int
year_candidate(long y, int mon, int day, int h, int mi, int sec, time_t *t)
{
	if (day > mdays(y, mon))
		return 0;
	time_t base = local_hour(y, mon, day, h);
	if (base == (time_t)-1)
		return 0;
	*t = base + mi * 60 + sec;
	return 1;
}

/* "Mmm dd hh:mm:ss" */
static size_t
parse_syslog(const char *s, size_t len, time_t now, time_t *t)
{
	int mon, day, h, mi, sec;

	if (len < 15 || s[3] != ' ' || s[6] != ' ')
		return 0;
	if ((mon = month_index(s)) < 0)
		return 0;
	if (s[4] == ' ') {
		if (!digits(s + 5, 1, &day))
			return 0;
	} else if (!digits(s + 4, 2, &day)) {
		return 0;
	}
	if (day < 1 || day > 31 || !clock_time(s + 7, &h, &mi, &sec))
		return 0;

	if (len > 15 && s[15] != ' ')
		return 0;

	long ny;
	if (!local_year(now, &ny))
		return 0;
	time_t c[3];
	int ok[3];
	/* Candidates last year, this year, next year; only this year's is
	 * needed for almost every line, so the others are computed only
	 * when they could win. */
	for (int k = 0; k < 3; k++)
		ok[k] = 0;
	ok[1] = year_candidate(ny, mon, day, h, mi, sec, &c[1]);
	if (!ok[1] || c[1] > now + 86400)
		ok[0] = year_candidate(ny - 1, mon, day, h, mi, sec, &c[0]);
	else if (c[1] <= now + 86400 - 364 * 86400)
		ok[2] = year_candidate(ny + 1, mon, day, h, mi, sec, &c[2]);
	*t = 0; /* no valid candidate: "long ago", never recent */
	for (int k = 2; k >= 0; k--) {
		if (ok[k] && c[k] <= now + 86400) {
			*t = c[k];
			break;
		}
	}
	return len > 15 ? 16 : 15;
}

/* "YYYY-MM-DD(T| )hh:mm:ss[.frac][Z|+hh:mm|-hh:mm]" */
static size_t
parse_rfc3339(const char *s, size_t len, time_t *t)
{
	int y, mon, day, h, mi, sec;

	if (len < 19 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mon) || s[7] != '-' || !digits(s + 8, 2, &day))
		return 0;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return 0;
	if (!clock_time(s + 11, &h, &mi, &sec))
		return 0;
	if (mon < 1 || mon > 12 || day < 1 || day > mdays(y, mon - 1))
		return 0;

	size_t i = 19;
	if (i < len && (s[i] == '.' || s[i] == ',')) {
		size_t j = i + 1;
		while (j < len && j - i <= 9 && ascii_digit(s[j]))
			j++;
		if (j == i + 1 || (j < len && ascii_digit(s[j])))
			return 0; /* no digits, or more than nine */
		i = j;
	}

	int64_t secs;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		secs = days_from_civil(y, mon, day) * 86400 + h * 3600 + mi * 60 + sec;
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int oh, om;
		if (len - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return 0;
		int off = (oh * 60 + om) * 60;
		if (s[i] == '-')
			off = -off;
		secs = days_from_civil(y, mon, day) * 86400 + h * 3600 + mi * 60 +
		       sec - off;
		i += 6;
	} else {
		time_t base = local_hour(y, mon - 1, day, h);
		if (base == (time_t)-1)
			return 0;
		secs = (int64_t)base + mi * 60 + sec;
	}
	/* Must end the token: "2026-11-22T04:25:18x" is not a timestamp. */
	if (i < len && s[i] != ' ')
		return 0;
	if ((int64_t)(time_t)secs != secs)
		return 0;
	*t = (time_t)secs;
	return i < len ? i + 1 : i;
}

size_t
logtime_parse(const char *s, size_t len, time_t now, time_t *t)
{
	if (len == 0)
		return 0;
	if (ascii_digit(s[0]))
		return parse_rfc3339(s, len, t);
	return parse_syslog(s, len, now, t);
}
