/*
 * intake.c - logins, session ends and restarts into relay table writes
 * (see intake.h for the rules).
 *
 * Holding (relay.hold-while-connected).  A held address is rewritten as
 * now + expire whenever what was last written for it has half of expire
 * or less left; the sweep tick runs at least every expire / 3 (loop.c),
 * so the entry never lapses while a session holds it.  When the last
 * session ends at t, the entry is rewritten as t + expire: the client
 * relays for expire after it left, as after a POP3 login.  A session
 * that ends while relayd catches up on old lines (t + expire already
 * past) writes nothing; its entry then lapses at most expire after the
 * last refresh.  In an LMDB table that rewrite may shorten an entry a
 * later login without a session wrote for the same address (Redis never
 * shortens): the client then relays for expire after its session ended
 * instead, the safe side.
 *
 * A login read while catching up may be older than expire and still
 * have its session open (nothing in the rest of the log ended it): it
 * opens the session without a write, and intake_settle(), after the
 * round of reading, writes the holds that are still open.  The list of
 * such addresses is bounded; past it the next settle looks at every
 * held address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "intake.h"
#include "log.h"

#define SETTLE_MAX 65536
#define SOURCE_HOLD "an open session"

void
intake_init(struct intake *in, const struct intake_conf *c, struct writer *w,
            struct sessions *s)
{
	memset(in, 0, sizeof *in);
	in->c = c;
	in->w = w;
	in->s = s;
	in->now = time(NULL);
	/* A handful of lines each, then one summary a minute. */
	lograte_init(&in->skew_rate, 5, 60000);
	lograte_init(&in->refused_rate, 10, 60000);
	lograte_init(&in->evict_rate, 1, 60000);
}

void
intake_free(struct intake *in)
{
	free(in->settle);
	in->settle = NULL;
}

void
intake_begin(struct intake *in, time_t now)
{
	in->now = now;
}

/* A time from a source: never beyond now + max-clock-skew. */
static time_t
clamp(struct intake *in, const char *source, const struct addr *a,
      time_t when)
{
	unsigned long left;
	char t[32], ip[ADDR_STRLEN];

	if (when <= in->now + (time_t)in->c->max_skew)
		return when;
	if (lograte_take(&in->skew_rate, lograte_now_ms(), &left))
		log_warnx("source %s: %s stamped %s, %llds ahead of this "
		          "host's clock (relay.max-clock-skew %llds): counted "
		          "as now%s",
		          source, a != NULL ? addr_format(a, ip, sizeof ip)
		                            : "a session's end",
		          writer_fmt_time(when, t, sizeof t),
		          (long long)(when - in->now), in->c->max_skew,
		          left ? "; more such lines left out" : "");
	return in->now;
}

/* Hold h: rewrite its entry as now + expire once half of it is gone. */
static void
refresh(struct intake *in, struct held *h)
{
	time_t exp = in->now + (time_t)in->c->expire;
	if (h->until - in->now > (time_t)(in->c->expire / 2))
		return;
	writer_add(in->w, &h->a, exp, in->now, SOURCE_HOLD);
	h->until = exp;
}

static void
refresh_fn(void *arg, struct held *h)
{
	refresh(arg, h);
}

struct ended {
	struct intake *in;
	time_t when;
	const char *source;
};

/* h's last session ended at e->when: expire after it. */
static void
ended_fn(void *arg, struct held *h)
{
	struct ended *e = arg;
	time_t exp = e->when + (time_t)e->in->c->expire;
	if (exp > e->in->now)
		writer_add(e->in->w, &h->a, exp, e->when, e->source);
}

static void
settle_later(struct intake *in, const struct held *h)
{
	if (in->settle_all)
		return;
	if (in->nsettle == in->capsettle) {
		size_t ncap = in->capsettle ? in->capsettle * 2 : 64;
		struct addr *v;
		if (ncap > SETTLE_MAX ||
		    (v = realloc(in->settle, ncap * sizeof *v)) == NULL) {
			in->settle_all = 1;
			return;
		}
		in->settle = v;
		in->capsettle = ncap;
	}
	/* Only the address is kept: the entry may be gone by the settle. */
	in->settle[in->nsettle++] = h->a;
}

void
intake_login(struct intake *in, const struct input *from,
             const struct addr *a, time_t when, const char *session,
             size_t len)
{
	struct held *h = NULL;

	writer_note(in->w, WRITER_LOGIN);
	when = clamp(in, from->name, a, when);
	if (in->c->ignore != NULL && cidr_list_match(in->c->ignore, a)) {
		writer_note(in->w, WRITER_IGNORED);
		return;
	}
	if (in->s != NULL && session != NULL &&
	    when >= in->now - (time_t)in->c->hold_max &&
	    sessions_open(in->s, session, len, a, when, from->id) >= 0)
		h = sessions_held(in->s, a);
	time_t expires = when + (time_t)in->c->expire;
	if (expires <= in->now) {
		/* An old line read while catching up: never authorizes by
		 * itself; an open session it started is held by settle. */
		writer_note(in->w, WRITER_STALE);
		if (h != NULL)
			settle_later(in, h);
		return;
	}
	writer_add(in->w, a, expires, when, from->name);
	if (h != NULL && h->until < expires)
		h->until = expires;
}

void
intake_logout(struct intake *in, const char *session, size_t len,
              time_t when)
{
	struct held last;
	if (in->s == NULL || !sessions_close(in->s, session, len, &last))
		return;
	struct ended e = {in, clamp(in, "-", NULL, when), SOURCE_HOLD};
	ended_fn(&e, &last);
}

void
intake_restart(struct intake *in, const struct input *from, time_t when)
{
	if (in->s == NULL)
		return;
	struct ended e = {in, clamp(in, from->name, NULL, when), from->name};
	size_t n = sessions_close_source(in->s, from->id, ended_fn, &e);
	if (n > 0)
		log_info("source %s: the server restarted; %zu session%s "
		         "ended",
		         from->name, n, n == 1 ? "" : "s");
}

void
intake_refused(struct intake *in, const struct input *from,
               const char *what)
{
	unsigned long left;
	if (lograte_take(&in->refused_rate, lograte_now_ms(), &left)) {
		if (left > 0)
			log_warnx("source %s: %s (and %lu more refused since "
			          "the last such line)",
			          from->name, what, left);
		else
			log_warnx("source %s: %s", from->name, what);
	}
}

void
intake_settle(struct intake *in)
{
	if (in->s == NULL)
		return;
	if (in->settle_all) {
		sessions_foreach(in->s, refresh_fn, in);
	} else {
		for (size_t i = 0; i < in->nsettle; i++) {
			struct held *h = sessions_held(in->s, &in->settle[i]);
			if (h != NULL)
				refresh(in, h);
		}
	}
	in->nsettle = 0;
	in->settle_all = 0;
}

void
intake_settle_all(struct intake *in)
{
	in->settle_all = 1;
}

void
intake_tick(struct intake *in, time_t now)
{
	long long ms = lograte_now_ms();
	unsigned long n;

	in->now = now;
	if ((n = lograte_summary(&in->skew_rate, ms)) > 0)
		log_warnx("%lu more login time%s ahead of the clock counted "
		          "as now",
		          n, n == 1 ? "" : "s");
	if ((n = lograte_summary(&in->refused_rate, ms)) > 0)
		log_warnx("%lu more request%s or line%s refused", n,
		          n == 1 ? "" : "s", n == 1 ? "" : "s");
	if (in->s == NULL)
		return;
	size_t old = sessions_expire(in->s, now - (time_t)in->c->hold_max,
	                             NULL, NULL);
	if (old > 0)
		log_info("%zu session%s open for longer than relay.hold-max: "
		         "no longer held",
		         old, old == 1 ? "" : "s");
	n = sessions_evicted(in->s);
	unsigned long left;
	if (n > 0 && lograte_take(&in->evict_rate, ms, &left))
		log_warnx("relay.hold-max-sessions reached: %lu oldest "
		          "session%s no longer held",
		          n, n == 1 ? "" : "s");
	intake_settle(in);
	sessions_foreach(in->s, refresh_fn, in);
}
