/*
 * mailbox_pgsql.c - the pgsql: mailbox backend: "pgsql:<libpq conninfo>"
 * (e.g. "pgsql:host=/run/postgresql dbname=mail user=vmail") with the SQL
 * in deliver.domain-query and deliver.mailbox-query, exactly as for
 * sqlite: (see mailbox_sqlite.c for the rules and for both schemas).
 *
 * The queries use the same named parameters as sqlite: (:local, :domain,
 * :address), so one configuration serves either database.  libpq knows
 * only $1, $2, $3, so mailbox_pgsql_positional() rewrites the names in
 * the administrator's SQL text -- outside string literals, quoted
 * identifiers and comments, and leaving "::" casts alone -- and the
 * values then travel separately with PQexecParams(), always all three,
 * typed text: the recipient is never part of the SQL text.  A "$1" the
 * administrator wrote, or an unknown ":name", is a configuration error,
 * as a positional parameter is for sqlite:.
 *
 * Errors: no connection (server down, refused, timed out after
 * connect_timeout, 5 s unless the conninfo sets one), a connection lost
 * during the query, or a server-side failure other than the ones below
 * is a temporary failure (4.3.0, exit 75).  SQL the server rejects as
 * wrong (SQLSTATE classes 42 syntax/undefined object, 22 data, 0A not
 * supported) and a bad quota or maildir in a row are configuration errors
 * (4.3.5, 78).  Connections are kept between lookups (the pool below),
 * so the LMTP server and -l sessions do not connect once per recipient.
 *
 * libpq is loaded with dlopen() on the first pgsql: lookup, not linked:
 * linking it makes every process start load and relocate some twenty
 * libraries it drags in (Kerberos, LDAP, GnuTLS ...), about 5 ms here,
 * paid by every pipe-mode delivery even with the file: backend -- more
 * than the delivery itself.  A missing libpq.so.5 is a configuration
 * error (4.3.5).
 *
 * Built only with -DLEAFMAIL_PGSQL (needs libpq-fe.h, from libpq-dev, at
 * build time and libpq5 at run time); otherwise the backend says it is
 * missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailbox.h"

static int
ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* Copy sql[i..] up to and including the end of the quoted run opened at
 * sql[i] (quote char q); '' (or "") is the quote doubled.  backslash: E''
 * strings, where \' does not end the string.  Returns the new index. */
static size_t
skip_quoted(const char *sql, size_t i, char q, int backslash)
{
	for (i++; sql[i] != '\0'; i++) {
		if (backslash && sql[i] == '\\' && sql[i + 1] != '\0') {
			i++;
			continue;
		}
		if (sql[i] == q) {
			if (sql[i + 1] == q) {
				i++;
				continue;
			}
			return i + 1;
		}
	}
	return i;
}

int
mailbox_pgsql_positional(const char *sql, char *out, size_t n, char *err,
                         size_t errlen)
{
	static const char *const names[] = {"local", "domain", "address"};
	size_t i = 0, o = 0, j, len;
	const char *e;
	int k;

#define PUT(p, l)                                                            \
	do {                                                                     \
		if (o + (l) >= n)                                                    \
			goto toolong;                                                    \
		memcpy(out + o, (p), (l));                                           \
		o += (l);                                                            \
	} while (0)

	while (sql[i] != '\0') {
		char c = sql[i];
		j = i;
		if (c == '\'') {
			int bs = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
			         (i == 1 || !ident_char(sql[i - 2]));
			j = skip_quoted(sql, i, '\'', bs);
		} else if (c == '"') {
			j = skip_quoted(sql, i, '"', 0);
		} else if (c == '-' && sql[i + 1] == '-') {
			j = i + strcspn(sql + i, "\n");
		} else if (c == '/' && sql[i + 1] == '*') {
			e = strstr(sql + i + 2, "*/");
			j = e ? (size_t)(e - sql) + 2 : strlen(sql);
		} else if (c == '$' && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
			snprintf(err, errlen, "positional parameter $%c: use :local, "
			         ":domain or :address", sql[i + 1]);
			return -1;
		} else if (c == '$' && (i == 0 || !ident_char(sql[i - 1]))) {
			/* dollar quoting: $tag$ ... $tag$ */
			e = strchr(sql + i + 1, '$');
			if (e != NULL) {
				char tag[64];
				len = (size_t)(e - (sql + i)) + 1;
				if (len < sizeof(tag)) {
					memcpy(tag, sql + i, len);
					tag[len] = '\0';
					e = strstr(sql + i + len, tag);
					j = e ? (size_t)(e - sql) + len : strlen(sql);
				}
			}
			if (j == i)
				j = i + 1;
		} else if (c == ':' && sql[i + 1] == ':') {
			j = i + 2; /* a cast */
		} else if (c == ':' && ident_char(sql[i + 1]) &&
		           !(sql[i + 1] >= '0' && sql[i + 1] <= '9')) {
			for (len = 0; ident_char(sql[i + 1 + len]); len++)
				;
			for (k = 0; k < 3; k++)
				if (strlen(names[k]) == len &&
				    strncmp(sql + i + 1, names[k], len) == 0)
					break;
			if (k == 3) {
				snprintf(err, errlen, "query parameter :%.*s: use :local, "
				         ":domain or :address", (int)len, sql + i + 1);
				return -1;
			}
			PUT(k == 0 ? "$1" : k == 1 ? "$2" : "$3", 2);
			i += 1 + len;
			continue;
		} else {
			j = i + 1;
		}
		PUT(sql + i, j - i);
		i = j;
	}
	out[o] = '\0';
	return 0;
toolong:
	snprintf(err, errlen, "query too long");
	return -1;
#undef PUT
}

#ifdef LEAFMAIL_PGSQL
#include <libpq-fe.h>
#include <pthread.h>

#include "dynlib.h"

#define TEXTOID 25
#define LIBPQ "libpq.so.5"

/* The libpq functions we use, resolved once by pq_load(). */
static struct {
	__typeof__(PQconnectdbParams) *connectdbParams;
	__typeof__(PQstatus) *status;
	__typeof__(PQerrorMessage) *errorMessage;
	__typeof__(PQfinish) *finish;
	__typeof__(PQexecParams) *execParams;
	__typeof__(PQresultStatus) *resultStatus;
	__typeof__(PQntuples) *ntuples;
	__typeof__(PQnfields) *nfields;
	__typeof__(PQfname) *fname;
	__typeof__(PQgetisnull) *getisnull;
	__typeof__(PQgetvalue) *getvalue;
	__typeof__(PQresultErrorMessage) *resultErrorMessage;
	__typeof__(PQresultErrorField) *resultErrorField;
	__typeof__(PQclear) *clear;
} pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_error[256]; /* empty when loaded */

static void
pq_load_once(void)
{
#define S(field, name) {name, (void **)&pq.field}
	static const struct dynlib_sym syms[] = {
	    S(connectdbParams, "PQconnectdbParams"),
	    S(status, "PQstatus"),
	    S(errorMessage, "PQerrorMessage"),
	    S(finish, "PQfinish"),
	    S(execParams, "PQexecParams"),
	    S(resultStatus, "PQresultStatus"),
	    S(ntuples, "PQntuples"),
	    S(nfields, "PQnfields"),
	    S(fname, "PQfname"),
	    S(getisnull, "PQgetisnull"),
	    S(getvalue, "PQgetvalue"),
	    S(resultErrorMessage, "PQresultErrorMessage"),
	    S(resultErrorField, "PQresultErrorField"),
	    S(clear, "PQclear"),
	};
#undef S
	dynlib_load(LIBPQ, syms, sizeof syms / sizeof syms[0], pq_error,
	            sizeof pq_error);
}

static int
pq_load(char *err, size_t errlen)
{
	pthread_once(&pq_once, pq_load_once);
	if (pq_error[0] != '\0') {
		snprintf(err, errlen, "pgsql: cannot load %s (install libpq5): %s",
		         LIBPQ, pq_error);
		return -1;
	}
	return 0;
}

/* One line for our logs: libpq's messages end in a newline. */
static void
pg_err(char *err, size_t errlen, const char *what, const char *msg)
{
	snprintf(err, errlen, "%s: %s", what, msg ? msg : "unknown error");
	err[strcspn(err, "\n")] = '\0';
}

static enum mailbox_status
read_row(PGresult *r, struct mailbox *mb, char *err, size_t errlen)
{
	int i, n = pq.nfields(r);

	for (i = 0; i < n; i++) {
		const char *name = pq.fname(r, i), *v;
		if (name == NULL || pq.getisnull(r, 0, i))
			continue;
		v = pq.getvalue(r, 0, i);
		if (strcasecmp(name, "maildir") == 0) {
			if (strlen(v) >= sizeof(mb->maildir)) {
				snprintf(err, errlen, "maildir column too long");
				return MAILBOX_CONFIG;
			}
			snprintf(mb->maildir, sizeof(mb->maildir), "%s", v);
		} else if (strcasecmp(name, "quota") == 0) {
			/* PostfixAdmin: bytes, 0 (or negative) for none */
			if (v[0] == '-' && v[1] >= '0' && v[1] <= '9' &&
			    strspn(v + 1, "0123456789") == strlen(v + 1)) {
				mb->quota.bytes = mb->quota.count = 0;
			} else if (quota_parse(v, &mb->quota) != 0) {
				snprintf(err, errlen, "quota column \"%s\" is not a quota",
				         v);
				return MAILBOX_CONFIG;
			}
		}
	}
	return MAILBOX_OK;
}

/* SQL the server calls wrong, as opposed to a server in trouble. */
static int
sql_is_wrong(const char *state)
{
	return state != NULL && (strncmp(state, "42", 2) == 0 ||
	                         strncmp(state, "22", 2) == 0 ||
	                         strncmp(state, "0A", 2) == 0);
}

static enum mailbox_status
run(PGconn *c, const char *what, const char *sql, const char *const vals[3],
    struct mailbox *mb, char *err, size_t errlen)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, TEXTOID};
	enum mailbox_status st;
	char q[8192], e[300];
	PGresult *r;

	if (mailbox_pgsql_positional(sql, q, sizeof(q), e, sizeof(e)) != 0) {
		snprintf(err, errlen, "%s: %s", what, e);
		return MAILBOX_CONFIG;
	}
	r = pq.execParams(c, q, 3, types, vals, NULL, NULL, 0);
	switch (pq.resultStatus(r)) {
	case PGRES_TUPLES_OK:
		if (pq.ntuples(r) == 0)
			st = MAILBOX_NOUSER;
		else
			st = mb ? read_row(r, mb, err, errlen) : MAILBOX_OK;
		break;
	case PGRES_COMMAND_OK:
		snprintf(err, errlen, "%s returns no rows: it must be a SELECT", what);
		st = MAILBOX_CONFIG;
		break;
	default:
		pg_err(err, errlen, what, r ? pq.resultErrorMessage(r)
		                            : pq.errorMessage(c));
		st = (pq.status(c) == CONNECTION_OK &&
		      sql_is_wrong(pq.resultErrorField(r, PG_DIAG_SQLSTATE)))
		         ? MAILBOX_CONFIG : MAILBOX_TEMPFAIL;
		break;
	}
	pq.clear(r);
	return st;
}

/*
 * Connections kept between lookups.  The LMTP server (-L) and an -l
 * session look up every recipient; a new connection each time costs a
 * backend fork and an authentication.  Idle connections wait here, at
 * most PG_POOL, each with the conninfo it was opened with, and are taken
 * by one lookup at a time.  A pooled connection the server has meanwhile
 * dropped (a restart) fails its query; the lookup is then tried once more
 * on a fresh connection, so a database that is back costs no tempfail.
 * The pool is closed at exit, so a pipe-mode delivery leaves the server
 * a clean goodbye rather than a lost connection in its log.
 */
#define PG_POOL 8
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pooled {
	PGconn *c;
	char *conninfo;
} pool[PG_POOL];
static int npool;
static pthread_once_t pool_exit_once = PTHREAD_ONCE_INIT;

static void
pool_close_all(void)
{
	pthread_mutex_lock(&pool_mu);
	while (npool > 0) {
		npool--;
		pq.finish(pool[npool].c);
		free(pool[npool].conninfo);
	}
	pthread_mutex_unlock(&pool_mu);
}

static void
pool_register_exit(void)
{
	atexit(pool_close_all);
}

/* An idle connection opened with conninfo, or NULL. */
static PGconn *
pool_take(const char *conninfo)
{
	PGconn *c = NULL;

	pthread_mutex_lock(&pool_mu);
	for (int i = npool - 1; i >= 0; i--) {
		if (strcmp(pool[i].conninfo, conninfo) != 0)
			continue;
		c = pool[i].c;
		free(pool[i].conninfo);
		pool[i] = pool[--npool];
		break;
	}
	pthread_mutex_unlock(&pool_mu);
	return c;
}

/* Keep c for the next lookup when it is healthy and there is room. */
static void
pool_put(PGconn *c, const char *conninfo)
{
	char *ci = NULL;

	if (pq.status(c) == CONNECTION_OK && (ci = strdup(conninfo)) != NULL) {
		pthread_once(&pool_exit_once, pool_register_exit);
		pthread_mutex_lock(&pool_mu);
		if (npool < PG_POOL) {
			pool[npool].c = c;
			pool[npool].conninfo = ci;
			npool++;
			c = NULL;
			ci = NULL;
		}
		pthread_mutex_unlock(&pool_mu);
	}
	free(ci);
	if (c != NULL)
		pq.finish(c);
}

static enum mailbox_status
queries(PGconn *c, const struct mailbox_conf *mc, const char *const vals[3],
        struct mailbox *mb, char *err, size_t errlen)
{
	enum mailbox_status st = MAILBOX_OK;

	if (mc->domain_query != NULL) {
		st = run(c, "domain-query", mc->domain_query, vals, NULL, err,
		         errlen);
		if (st == MAILBOX_NOUSER)
			st = MAILBOX_NODOMAIN;
	}
	if (st == MAILBOX_OK)
		st = run(c, "mailbox-query", mc->mailbox_query, vals, mb, err,
		         errlen);
	return st;
}

enum mailbox_status
mailbox_pgsql_lookup(const char *conninfo, const struct mailbox_conf *mc,
                     const char *local, const char *domain,
                     struct mailbox *mb, char *err, size_t errlen)
{
	/* connect_timeout first: a conninfo that sets one overrides it */
	const char *const keys[] = {"connect_timeout", "dbname", NULL};
	const char *const kvals[] = {"5", conninfo, NULL};
	const char *vals[3];
	char address[512];
	enum mailbox_status st;
	PGconn *c;

	if (mc->mailbox_query == NULL) {
		snprintf(err, errlen, "mailboxes \"pgsql:...\" needs "
		         "deliver.mailbox-query");
		return MAILBOX_CONFIG;
	}
	if (pq_load(err, errlen) != 0)
		return MAILBOX_CONFIG;
	snprintf(address, sizeof(address), "%s@%s", local, domain);
	vals[0] = local;
	vals[1] = domain;
	vals[2] = address;
	while ((c = pool_take(conninfo)) != NULL) {
		st = queries(c, mc, vals, mb, err, errlen);
		if (st != MAILBOX_TEMPFAIL || pq.status(c) == CONNECTION_OK) {
			pool_put(c, conninfo);
			return st;
		}
		/* The server dropped it while it waited: try the next one,
		 * then a fresh connection. */
		pq.finish(c);
	}
	c = pq.connectdbParams(keys, kvals, 1);
	if (c == NULL || pq.status(c) != CONNECTION_OK) {
		/* the message names host and socket, never the password */
		pg_err(err, errlen, "pgsql connect",
		       c ? pq.errorMessage(c) : "out of memory");
		pq.finish(c);
		return MAILBOX_TEMPFAIL;
	}
	st = queries(c, mc, vals, mb, err, errlen);
	pool_put(c, conninfo);
	return st;
}

#else /* !LEAFMAIL_PGSQL */

enum mailbox_status
mailbox_pgsql_lookup(const char *conninfo, const struct mailbox_conf *mc,
                     const char *local, const char *domain,
                     struct mailbox *mb, char *err, size_t errlen)
{
	(void)conninfo;
	(void)mc;
	(void)local;
	(void)domain;
	(void)mb;
	snprintf(err, errlen, "mailboxes \"pgsql:...\": this build has no "
	         "PostgreSQL support");
	return MAILBOX_CONFIG;
}

#endif
