/*
 * mailbox_file.c - the file: mailbox backend, the embedded default.
 *
 * One mailbox a line, fields separated by blanks:
 *
 *   user@domain [quota] [maildir-path]
 *   @domain                      a domain with no mailbox (yet)
 *   # comment
 *
 * quota is anything quota_parse() takes ("100M", "1000000S,500C", "-");
 * a single extra field that is not a quota is the maildir path, relative
 * to maildir-base.  Domains compare without case; local parts too when
 * fold-case is on (the file is folded as the recipient is).  A domain is
 * known when any line names it, which tells 5.1.1 "unknown domain" from
 * "unknown user" in the log.  The file is read afresh for every lookup:
 * no cache to go stale, and for the sizes a file backend is meant for
 * (hundreds of lines) reading it costs less than the fsync of a delivery.
 * A malformed line is logged by the caller via err only when it is the
 * line that matched; others are skipped, so one typo doesn't stop mail to
 * everyone else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailbox.h"

enum mailbox_status
mailbox_file_lookup(const char *path, const char *local, const char *domain,
                    int fold, struct mailbox *mb, char *err, size_t errlen)
{
	enum mailbox_status st = MAILBOX_NODOMAIN;
	char *line = NULL, *f[4], *save, *at;
	size_t cap = 0;
	FILE *fp;
	int n;

	fp = fopen(path, "re");
	if (fp == NULL) {
		snprintf(err, errlen, "mailboxes file %s: %s", path, strerror(errno));
		return MAILBOX_TEMPFAIL;
	}
	while (getline(&line, &cap, fp) >= 0) {
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		for (n = 0; n < 4; n++) {
			f[n] = strtok_r(n == 0 ? line : NULL, " \t\r\n", &save);
			if (f[n] == NULL)
				break;
		}
		if (n == 0)
			continue;
		at = strrchr(f[0], '@');
		if (at == NULL || strcasecmp(at + 1, domain) != 0)
			continue;
		if (st == MAILBOX_NODOMAIN)
			st = MAILBOX_NOUSER;
		*at = '\0';
		if (f[0][0] == '\0') /* "@domain": the domain, no mailbox */
			continue;
		if (fold ? strcasecmp(f[0], local) != 0 : strcmp(f[0], local) != 0)
			continue;
		if (n == 4) {
			snprintf(err, errlen, "%s: line for %s@%s has too many fields",
			         path, local, domain);
			st = MAILBOX_CONFIG;
			break;
		}
		if (n >= 2 && quota_parse(f[1], &mb->quota) != 0) {
			if (n == 3) {
				snprintf(err, errlen, "%s: bad quota \"%s\" for %s@%s",
				         path, f[1], local, domain);
				st = MAILBOX_CONFIG;
				break;
			}
			f[2] = f[1]; /* only a path */
			n = 3;
		}
		if (n == 3)
			snprintf(mb->maildir, sizeof(mb->maildir), "%s", f[2]);
		st = MAILBOX_OK;
		break;
	}
	if (ferror(fp) && st != MAILBOX_OK) {
		snprintf(err, errlen, "read %s: %s", path, strerror(errno));
		st = MAILBOX_TEMPFAIL;
	}
	free(line);
	fclose(fp);
	return st;
}
