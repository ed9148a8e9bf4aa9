/*
 * snapshot.c - reference-counted configurations (snapshot.h).
 *
 * The current pointer is read under a mutex, once per connection; the
 * lock makes "load the pointer, add a reference" one step, so a reload
 * cannot free the snapshot in between.  Everything a session reads after
 * that is its own snapshot's, without a lock: a snapshot never changes
 * once built.
 */
#include "snapshot.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claimstore.h"
#include "conf.h"
#include "relaystore.h"
#include "storeref.h"
#include "umtp_hooks.h"

static pthread_mutex_t current_mu = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *current;
static unsigned long generations;

/* "30 minutes", "2 hours": how long a login allows relaying. */
static void
format_expire(long long secs, char *buf, size_t len)
{
	long long n;
	const char *unit;

	if (secs >= 3600 && secs % 3600 == 0)
		n = secs / 3600, unit = "hour";
	else if (secs >= 60)
		n = secs / 60, unit = "minute";
	else
		n = secs, unit = "second";
	snprintf(buf, len, "%lld %s%s", n, unit, n == 1 ? "" : "s");
}

static void
conf_error(cfg_t *sec, const char *file, char *err, size_t errlen,
           const char *msg, const char *what)
{
	snprintf(err, errlen, "%s:%d: %s: %s", sec->filename ? sec->filename : file,
	         sec->line, msg, what);
}

static void
snapshot_free(struct snapshot *s)
{
	size_t i;

	umtp_hooks_free(s->hooks);
	storeref_release(s->claims);
	storeref_release(s->relay);
	policy_free(&s->policy);
	helo_self_free(&s->self);
	for (i = 0; i < s->nrequired; i++)
		free(s->required[i]);
	if (s->cfg != NULL)
		conf_free(s->cfg);
	free(s);
}

/* Everything but the hooks and cfg; 0 or -1 with err. */
static int
load_milter(struct snapshot *s, cfg_t *cfg, const char *file, char *err,
            size_t errlen)
{
	cfg_t *msec = cfg_getsec(cfg, "milter");
	cfg_t *rsec = cfg_getsec(cfg, "relay");
	char spec[PATH_MAX + 64], why[512], within[64];
	unsigned int i, n;

	if (msec == NULL || rsec == NULL) {
		snprintf(err, errlen, "%s: milter or relay section missing", file);
		return -1;
	}
	n = cfg_size(msec, "local-domains");
	for (i = 0; i < n; i++)
		if (policy_add_local_domain(&s->policy,
		                            cfg_getnstr(msec, "local-domains", i)) == -1) {
			conf_error(msec, file, err, errlen, "local-domains",
			           "domain name too long (or out of memory)");
			return -1;
		}
	if (conf_cidr_list(msec, "trusted-networks", &s->policy.trusted) == -1) {
		conf_error(msec, file, err, errlen, "trusted-networks",
		           "bad network (or out of memory)");
		return -1;
	}
	/* The relay table, and the claim store for umtp-dedup: shared with
	 * every other configuration naming the same store (storeref.h). */
	if (relaystore_spec(cfg, spec, sizeof(spec), why, sizeof(why)) == -1 ||
	    (s->relay = storeref_get(cfg, spec, STORE_READ, why,
	                             sizeof(why))) == NULL) {
		conf_error(rsec, file, err, errlen, "relay table", why);
		return -1;
	}
	if (cfg_getbool(msec, "umtp-dedup") &&
	    (claimstore_spec(cfg, spec, sizeof(spec), why, sizeof(why)) == -1 ||
	     (s->claims = storeref_get(cfg, spec, STORE_WRITE | STORE_PRIVATE,
	                               why, sizeof(why))) == NULL)) {
		conf_error(msec, file, err, errlen, "umtp duplicate store", why);
		return -1;
	}
	s->expire = conf_duration(rsec, "expire");
	if (s->expire > 0) {
		format_expire(s->expire, within, sizeof(within));
		snprintf(s->deny_text, sizeof(s->deny_text),
		         "Relaying denied. Check your mail (POP3/IMAP) first, then "
		         "send within %s, or use SMTP AUTH",
		         within);
	} else
		snprintf(s->deny_text, sizeof(s->deny_text),
		         "Relaying denied. Check your mail (POP3/IMAP) first, or use "
		         "SMTP AUTH");

	s->max_per_minute = cfg_getint(msec, "max-connections-per-minute");
	s->helo_check = cfg_getbool(msec, "helo-check") ? 1 : 0;
	if (s->helo_check && helo_self_load(&s->self, err, errlen) == -1)
		return -1;
	n = cfg_size(msec, "required-headers");
	if (n > SNAPSHOT_MAX_HEADERS) {
		conf_error(msec, file, err, errlen, "required-headers",
		           "too many names");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((s->required[i] = strdup(cfg_getnstr(msec, "required-headers",
		                                          i))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		s->nrequired++;
	}
	return 0;
}

struct snapshot *
snapshot_load(cfg_t *cfg, const char *file, char *err, size_t errlen)
{
	struct snapshot *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&s->refs, 1);
	if (load_milter(s, cfg, file, err, errlen) == -1 ||
	    (s->hooks = umtp_hooks_load(cfg, s->claims != NULL
	                                         ? storeref_store(s->claims)
	                                         : NULL,
	                                err, errlen)) == NULL) {
		snapshot_free(s); /* cfg is still NULL: the caller's */
		return NULL;
	}
	s->cfg = cfg;
	pthread_mutex_lock(&current_mu);
	s->generation = ++generations;
	pthread_mutex_unlock(&current_mu);
	return s;
}

void
snapshot_hold(struct snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void
snapshot_release(struct snapshot *s)
{
	if (s != NULL &&
	    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(s);
}

void
snapshot_install(struct snapshot *s)
{
	struct snapshot *old;

	pthread_mutex_lock(&current_mu);
	old = current;
	current = s;
	pthread_mutex_unlock(&current_mu);
	snapshot_release(old);
}

struct snapshot *
snapshot_current(void)
{
	struct snapshot *s;

	pthread_mutex_lock(&current_mu);
	if ((s = current) != NULL)
		snapshot_hold(s);
	pthread_mutex_unlock(&current_mu);
	return s;
}
