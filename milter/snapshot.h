/*
 * snapshot.h - one loaded configuration of the milter, shared by the
 * sessions that started under it.
 *
 *   snapshot_load()     build one from a parsed configuration file
 *   snapshot_install()  make it the one new sessions get (start, SIGUSR1)
 *   snapshot_current()  the current one, held for a session
 *   snapshot_hold(), snapshot_release()
 *
 * SIGUSR1 reloads the configuration without touching sessions in
 * progress: a session holds the snapshot it started with until it closes,
 * and a snapshot is freed (policy, store references, UMTP settings)
 * when the last session holding it lets go.  The relay table and the
 * claim store are shared with every snapshot that names the same store
 * (storeref.h).
 */
#ifndef LEAFMAIL_MILTER_SNAPSHOT_H
#define LEAFMAIL_MILTER_SNAPSHOT_H

#include <confuse.h>
#include <stdatomic.h>
#include <stddef.h>

#include "helo.h"
#include "policy.h"

#define SNAPSHOT_MAX_HEADERS 32 /* milter.required-headers, one bit each */

struct storeref;
struct umtp_hooks;

struct snapshot {
	atomic_uint refs;
	unsigned long generation;   /* 1 at start, +1 per reload */
	cfg_t *cfg;                 /* kept alive: hooks may point into it */
	struct policy policy;       /* local-domains, trusted-networks */
	struct storeref *relay;     /* the relay table (relaystore.h) */
	struct storeref *claims;    /* UMTP claims (claimstore.h), or NULL
	                             * when milter.umtp-dedup is off */
	long long expire;           /* relay.expire */
	char deny_text[200];        /* the 550 5.7.1 text, naming expire */
	struct umtp_hooks *hooks;   /* never NULL */
	long max_per_minute;        /* milter.max-connections-per-minute */
	int helo_check;             /* milter.helo-check */
	struct helo_self self;      /* loaded when helo_check is on */
	char *required[SNAPSHOT_MAX_HEADERS]; /* milter.required-headers */
	size_t nrequired;
};

/* Takes cfg over when it succeeds (the caller frees it otherwise).
 * NULL with a configuration error ("FILE:LINE: ...") in err. */
struct snapshot *snapshot_load(cfg_t *cfg, const char *file, char *err,
                               size_t errlen);
/* Takes over the caller's reference; the previous current snapshot is
 * released (freed now if no session holds it). */
void snapshot_install(struct snapshot *s);
/* The current snapshot with one more reference, or NULL before the first
 * snapshot_install(). */
struct snapshot *snapshot_current(void);
void snapshot_hold(struct snapshot *s);
/* NULL is fine. */
void snapshot_release(struct snapshot *s);

#endif
