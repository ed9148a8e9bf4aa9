/*
 * mailbox.h - which recipients have a mailbox, where, and with what quota.
 *
 *   mailbox_lookup(&mc, local, domain, fold, &mb, err, errlen)
 *       Ask the backend named by mc.spec ("file:/path", "sqlite:/path.db",
 *       "pgsql:<libpq conninfo>") for local@domain.  On MAILBOX_OK, mb.maildir
 *       is the Maildir relative to maildir-base ("domain/local" unless the
 *       backend names one) and mb.quota its Maildir++ quota (0: none).
 *       MAILBOX_NODOMAIN / MAILBOX_NOUSER: no such domain / mailbox (5.1.1).
 *       MAILBOX_TEMPFAIL: the backend could not answer (4.3.0, retry).
 *       MAILBOX_CONFIG: spec names no backend we have, or the backend's
 *       configuration is wrong (bad SQL, a bad quota or path in a row).
 *   mailbox_backends()  the backends this build has, e.g. "file sqlite pgsql".
 *   mailbox_path_ok(rel)
 *       1 when rel, a Maildir path from a backend, stays inside
 *       maildir-base: relative, no empty, ".", ".." or hidden components,
 *       no control characters.
 */
#ifndef LEAFMAIL_MAILBOX_H
#define LEAFMAIL_MAILBOX_H

#include <stddef.h>

#include "quota.h"

enum mailbox_status {
	MAILBOX_OK = 0,
	MAILBOX_NOUSER,
	MAILBOX_NODOMAIN,
	MAILBOX_TEMPFAIL,
	MAILBOX_CONFIG,
};

struct mailbox_conf {
	const char *spec;          /* deliver.mailboxes */
	const char *domain_query;  /* deliver.domain-query (SQL), or NULL */
	const char *mailbox_query; /* deliver.mailbox-query (SQL), or NULL */
};

struct mailbox {
	char maildir[1024];
	struct quota_limit quota;
};

enum mailbox_status mailbox_lookup(const struct mailbox_conf *mc,
                                   const char *local, const char *domain,
                                   int fold, struct mailbox *mb, char *err,
                                   size_t errlen);
int mailbox_path_ok(const char *rel);
const char *mailbox_backends(void);

/* The file: backend (mailbox_file.c), one mailbox a line:
 *   user@domain [quota] [maildir-path]
 * "@domain" alone declares a domain; '#' starts a comment. */
enum mailbox_status mailbox_file_lookup(const char *path, const char *local,
                                        const char *domain, int fold,
                                        struct mailbox *mb, char *err,
                                        size_t errlen);

/* The sqlite: backend (mailbox_sqlite.c); see there for the queries. */
enum mailbox_status mailbox_sqlite_lookup(const char *path,
                                          const struct mailbox_conf *mc,
                                          const char *local,
                                          const char *domain,
                                          struct mailbox *mb, char *err,
                                          size_t errlen);

/* The pgsql: backend (mailbox_pgsql.c), same queries as sqlite:. */
enum mailbox_status mailbox_pgsql_lookup(const char *conninfo,
                                         const struct mailbox_conf *mc,
                                         const char *local,
                                         const char *domain,
                                         struct mailbox *mb, char *err,
                                         size_t errlen);
/* The query with :local, :domain, :address turned into $1, $2, $3 (for
 * libpq); -1 with err on another :name or when out is too small. */
int mailbox_pgsql_positional(const char *sql, char *out, size_t n,
                             char *err, size_t errlen);

#endif
