/*
 * mailbox.c - mailbox lookup front end (see mailbox.h): picks the backend
 * from the "mailboxes" spec and checks what it answers, so no backend can
 * hand us a Maildir path outside maildir-base.
 */
#include <stdio.h>
#include <string.h>

#include "mailbox.h"
#include "recipient.h"

const char *
mailbox_backends(void)
{
	return "file"
#ifdef LEAFMAIL_SQLITE
	       " sqlite"
#endif
#ifdef LEAFMAIL_PGSQL
	       " pgsql"
#endif
	    ;
}

int
mailbox_path_ok(const char *rel)
{
	char comp[RECIPIENT_MAX];
	const char *p = rel, *slash;
	size_t len;
	int n = 0;

	if (*rel == '/' || *rel == '\0')
		return 0;
	while (*p != '\0') {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0) {
			if (slash != NULL && slash[1] != '\0')
				return 0; /* "a//b" */
			break;        /* one trailing '/' */
		}
		if (len >= sizeof(comp))
			return 0;
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (!recipient_name_ok(comp))
			return 0;
		n++;
		p += len;
		if (*p == '/')
			p++;
	}
	return n > 0;
}

enum mailbox_status
mailbox_lookup(const struct mailbox_conf *mc, const char *local,
               const char *domain, int fold, struct mailbox *mb, char *err,
               size_t errlen)
{
	const char *spec = mc->spec;
	enum mailbox_status st;

	memset(mb, 0, sizeof(*mb));
	if (strncmp(spec, "file:", 5) == 0)
		st = mailbox_file_lookup(spec + 5, local, domain, fold, mb, err,
		                         errlen);
	else if (strncmp(spec, "sqlite:", 7) == 0)
		st = mailbox_sqlite_lookup(spec + 7, mc, local, domain, mb, err,
		                           errlen);
	else if (strncmp(spec, "pgsql:", 6) == 0)
		st = mailbox_pgsql_lookup(spec + 6, mc, local, domain, mb, err,
		                          errlen);
	else {
		snprintf(err, errlen, "mailboxes \"%s\": unknown backend (this "
		         "build has: %s)", spec, mailbox_backends());
		return MAILBOX_CONFIG;
	}
	if (st != MAILBOX_OK)
		return st;
	if (mb->maildir[0] == '\0')
		snprintf(mb->maildir, sizeof(mb->maildir), "%s/%s", domain, local);
	if (!mailbox_path_ok(mb->maildir)) {
		snprintf(err, errlen, "maildir \"%s\" for %s@%s leaves maildir-base",
		         mb->maildir, local, domain);
		return MAILBOX_CONFIG;
	}
	return MAILBOX_OK;
}
