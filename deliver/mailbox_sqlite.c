/*
 * mailbox_sqlite.c - the sqlite: mailbox backend: "sqlite:/path/to.db"
 * with the SQL in deliver.domain-query and deliver.mailbox-query.
 *
 * The queries are the administrator's, so any schema can be served by
 * configuration alone; the recipient only ever reaches SQLite as a bound
 * parameter, never pasted into SQL.  Named parameters:
 *   :local    the local part looked up (folded when fold-case is on; with
 *             an extension, first "user+ext", then "user")
 *   :domain   the lower-cased domain
 *   :address  local@domain
 * domain-query (optional): any row means the domain is ours; no row is
 * "unknown domain" (5.1.1).  mailbox-query (required): any row means the
 * mailbox exists; columns named "maildir" (relative to maildir-base; NULL
 * or '' for <domain>/<local>) and "quota" (an integer: bytes, 0 for none;
 * or text quota_parse() takes) are used when present.
 *
 *   The seed's schema:
 *     domain-query  = "SELECT 1 FROM domain WHERE domain_name = :domain AND is_active = 1"
 *     mailbox-query = "SELECT 1 FROM \"user\" u JOIN domain d ON d.domain_id = u.domain_id
 *                      WHERE d.domain_name = :domain AND u.username = :local AND u.can_receive = 1"
 *   PostfixAdmin's:
 *     domain-query  = "SELECT 1 FROM domain WHERE domain = :domain AND active = 1"
 *     mailbox-query = "SELECT maildir, quota FROM mailbox
 *                      WHERE local_part = :local AND domain = :domain AND active = 1"
 *
 * Errors: a database that can't be opened, is busy past 5 s or fails to
 * read is a temporary failure (4.3.0, the MTA retries); SQL that doesn't
 * prepare, an unknown or positional parameter, a bad quota or path in a
 * row are configuration errors.  The database is opened read-only for
 * each lookup: nothing is cached across lookups (fine for pipe mode;
 * an LMTP server will want to keep the handle).
 *
 * libsqlite3 is loaded with dlopen() on the first sqlite: lookup rather
 * than linked: loading and relocating it costs every process start about
 * 0.3 ms here, a third of a whole pipe-mode delivery, which deliveries
 * with the file: backend should not pay.  A missing libsqlite3.so.0 is a
 * configuration error.
 *
 * Built only with -DLEAFMAIL_SQLITE (sqlite3.h from libsqlite3-dev at
 * build time, libsqlite3-0 at run time); otherwise the backend says it is
 * missing.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailbox.h"

#ifdef LEAFMAIL_SQLITE
#include <pthread.h>
#include <sqlite3.h>

#include "dynlib.h"

#define LIBSQLITE "libsqlite3.so.0"

/* The SQLite functions we use, resolved once by sq_load(). */
static struct {
	__typeof__(sqlite3_open_v2) *open_v2;
	__typeof__(sqlite3_errmsg) *errmsg;
	__typeof__(sqlite3_close) *close;
	__typeof__(sqlite3_busy_timeout) *busy_timeout;
	__typeof__(sqlite3_prepare_v2) *prepare_v2;
	__typeof__(sqlite3_finalize) *finalize;
	__typeof__(sqlite3_step) *step;
	__typeof__(sqlite3_bind_parameter_count) *bind_parameter_count;
	__typeof__(sqlite3_bind_parameter_name) *bind_parameter_name;
	__typeof__(sqlite3_bind_text) *bind_text;
	__typeof__(sqlite3_column_count) *column_count;
	__typeof__(sqlite3_column_name) *column_name;
	__typeof__(sqlite3_column_type) *column_type;
	__typeof__(sqlite3_column_text) *column_text;
	__typeof__(sqlite3_column_int64) *column_int64;
} sq;
static pthread_once_t sq_once = PTHREAD_ONCE_INIT;
static char sq_error[256]; /* empty when loaded */

static void
sq_load_once(void)
{
#define S(field, name) {name, (void **)&sq.field}
	static const struct dynlib_sym syms[] = {
	    S(open_v2, "sqlite3_open_v2"),
	    S(errmsg, "sqlite3_errmsg"),
	    S(close, "sqlite3_close"),
	    S(busy_timeout, "sqlite3_busy_timeout"),
	    S(prepare_v2, "sqlite3_prepare_v2"),
	    S(finalize, "sqlite3_finalize"),
	    S(step, "sqlite3_step"),
	    S(bind_parameter_count, "sqlite3_bind_parameter_count"),
	    S(bind_parameter_name, "sqlite3_bind_parameter_name"),
	    S(bind_text, "sqlite3_bind_text"),
	    S(column_count, "sqlite3_column_count"),
	    S(column_name, "sqlite3_column_name"),
	    S(column_type, "sqlite3_column_type"),
	    S(column_text, "sqlite3_column_text"),
	    S(column_int64, "sqlite3_column_int64"),
	};
#undef S
	dynlib_load(LIBSQLITE, syms, sizeof syms / sizeof syms[0], sq_error,
	            sizeof sq_error);
}

static int
sq_load(char *err, size_t errlen)
{
	pthread_once(&sq_once, sq_load_once);
	if (sq_error[0] != '\0') {
		snprintf(err, errlen, "sqlite: cannot load %s (install "
		         "libsqlite3-0): %s", LIBSQLITE, sq_error);
		return -1;
	}
	return 0;
}

struct params {
	const char *local, *domain;
	char address[512];
};

/* Bind every parameter of st by name; -1 (err set) on one we don't know. */
static int
bind_all(sqlite3_stmt *st, const struct params *p, char *err, size_t errlen)
{
	int i, n = sq.bind_parameter_count(st);

	for (i = 1; i <= n; i++) {
		const char *name = sq.bind_parameter_name(st, i);
		const char *v = NULL;
		if (name != NULL && name[0] == ':') {
			if (strcmp(name + 1, "local") == 0)
				v = p->local;
			else if (strcmp(name + 1, "domain") == 0)
				v = p->domain;
			else if (strcmp(name + 1, "address") == 0)
				v = p->address;
		}
		if (v == NULL) {
			snprintf(err, errlen, "query parameter %s: use :local, :domain "
			         "or :address", name ? name : "?");
			return -1;
		}
		if (sq.bind_text(st, i, v, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
			snprintf(err, errlen, "bind %s: out of memory", name);
			return -1;
		}
	}
	return 0;
}

/* The maildir and quota columns of the current row, when present. */
static enum mailbox_status
read_row(sqlite3_stmt *st, struct mailbox *mb, char *err, size_t errlen)
{
	int i, n = sq.column_count(st);

	for (i = 0; i < n; i++) {
		const char *name = sq.column_name(st, i);
		int type = sq.column_type(st, i);
		if (name == NULL || type == SQLITE_NULL)
			continue;
		if (strcasecmp(name, "maildir") == 0) {
			const char *v = (const char *)sq.column_text(st, i);
			if (v != NULL && strlen(v) >= sizeof(mb->maildir)) {
				snprintf(err, errlen, "maildir column too long");
				return MAILBOX_CONFIG;
			}
			snprintf(mb->maildir, sizeof(mb->maildir), "%s", v ? v : "");
		} else if (strcasecmp(name, "quota") == 0) {
			if (type == SQLITE_INTEGER) {
				sqlite3_int64 q = sq.column_int64(st, i);
				mb->quota.bytes = q > 0 ? (long long)q : 0;
				mb->quota.count = 0;
			} else {
				const char *v = (const char *)sq.column_text(st, i);
				if (v == NULL || quota_parse(v, &mb->quota) != 0) {
					snprintf(err, errlen, "quota column \"%s\" is not a "
					         "quota", v ? v : "");
					return MAILBOX_CONFIG;
				}
			}
		}
	}
	return MAILBOX_OK;
}

/* Run one query: MAILBOX_OK with a row (mb filled when not NULL),
 * MAILBOX_NOUSER without one, or an error. */
static enum mailbox_status
run(sqlite3 *db, const char *what, const char *sql, const struct params *p,
    struct mailbox *mb, char *err, size_t errlen)
{
	enum mailbox_status st = MAILBOX_OK;
	sqlite3_stmt *stmt = NULL;
	char e[300];
	int rc;

	rc = sq.prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", what, sq.errmsg(db));
		/* a busy or unreadable database is not the query's fault */
		return (rc == SQLITE_BUSY || rc == SQLITE_LOCKED ||
		        rc == SQLITE_IOERR || rc == SQLITE_CANTOPEN ||
		        rc == SQLITE_NOMEM) ? MAILBOX_TEMPFAIL : MAILBOX_CONFIG;
	}
	if (bind_all(stmt, p, e, sizeof(e)) != 0) {
		snprintf(err, errlen, "%s: %s", what, e);
		sq.finalize(stmt);
		return MAILBOX_CONFIG;
	}
	rc = sq.step(stmt);
	if (rc == SQLITE_ROW)
		st = mb ? read_row(stmt, mb, err, errlen) : MAILBOX_OK;
	else if (rc == SQLITE_DONE)
		st = MAILBOX_NOUSER;
	else {
		snprintf(err, errlen, "%s: %s", what, sq.errmsg(db));
		st = MAILBOX_TEMPFAIL;
	}
	sq.finalize(stmt);
	return st;
}

enum mailbox_status
mailbox_sqlite_lookup(const char *path, const struct mailbox_conf *mc,
                      const char *local, const char *domain,
                      struct mailbox *mb, char *err, size_t errlen)
{
	struct params p = {.local = local, .domain = domain};
	enum mailbox_status st;
	sqlite3 *db = NULL;

	if (mc->mailbox_query == NULL) {
		snprintf(err, errlen, "mailboxes \"sqlite:%s\" needs "
		         "deliver.mailbox-query", path);
		return MAILBOX_CONFIG;
	}
	if (sq_load(err, errlen) != 0)
		return MAILBOX_CONFIG;
	snprintf(p.address, sizeof(p.address), "%s@%s", local, domain);
	if (sq.open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "sqlite %s: %s", path,
		         db ? sq.errmsg(db) : "out of memory");
		sq.close(db);
		return MAILBOX_TEMPFAIL;
	}
	sq.busy_timeout(db, 5000);
	st = MAILBOX_OK;
	if (mc->domain_query != NULL) {
		st = run(db, "domain-query", mc->domain_query, &p, NULL, err,
		         errlen);
		if (st == MAILBOX_NOUSER)
			st = MAILBOX_NODOMAIN;
	}
	if (st == MAILBOX_OK)
		st = run(db, "mailbox-query", mc->mailbox_query, &p, mb, err,
		         errlen);
	sq.close(db);
	return st;
}

#else /* !LEAFMAIL_SQLITE */

enum mailbox_status
mailbox_sqlite_lookup(const char *path, const struct mailbox_conf *mc,
                      const char *local, const char *domain,
                      struct mailbox *mb, char *err, size_t errlen)
{
	(void)mc;
	(void)local;
	(void)domain;
	(void)mb;
	snprintf(err, errlen, "mailboxes \"sqlite:%s\": this build has no "
	         "SQLite support", path);
	return MAILBOX_CONFIG;
}

#endif
