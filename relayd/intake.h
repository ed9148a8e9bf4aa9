/*
 * intake.h - what every source reports, turned into relay table writes.
 *
 * A source (input.h) calls, for what it learnt:
 *   intake_login(in, from, a, when, session, len)  a successful login from
 *              a at the login's own time `when` (a log line's time stamp,
 *              or now for pushed logins), with the server's session id
 *              when it gave one (NULL otherwise)
 *   intake_logout(in, session, len, when)  that session ended
 *   intake_restart(in, from, when)  the server behind `from` restarted:
 *              every session that came through it is over
 *   intake_refused(in, from, what)  a request or line refused for a reason
 *              worth telling the administrator (bad key, malformed
 *              report); logged, rate-limited (it is caused by input
 *              nobody has authenticated)
 * The loop calls intake_begin(in, now) before each round of reading,
 * intake_settle(in) after it (holds that a catch-up found still open),
 * and intake_tick(in, now) at every sweep tick (holds refreshed before
 * they lapse, sessions older than hold-max dropped, summaries of what
 * rate limiting left out).
 *
 * The rules, in order, for a login:
 *  1. a time more than relay.max-clock-skew ahead of now counts as now
 *     (logged, rate-limited: a remote syslog sender or a wrong clock
 *     must not buy an entry valid until 2099);
 *  2. an address in relay.ignore-networks is never written;
 *  3. with hold-while-connected and a session id, the session opens;
 *  4. the entry expires at when + relay.expire; one that has expired
 *     already (an old line read while catching up) is not written.
 * So no source can make an entry valid beyond now + expire + skew, and
 * a held address is rewritten as now + expire while a session holds it.
 */
#ifndef LEAFMAIL_RELAYD_INTAKE_H
#define LEAFMAIL_RELAYD_INTAKE_H

#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "lograte.h"
#include "sessions.h"
#include "writer.h"

struct input;

struct intake_conf {
	const struct cidr_list *ignore;
	long long expire;   /* seconds a login allows relaying */
	long long max_skew; /* seconds a login's time may lie ahead */
	long long hold_max; /* seconds a session may hold its address */
};

struct intake {
	const struct intake_conf *c;
	struct writer *w;
	struct sessions *s; /* NULL: hold-while-connected is off */
	time_t now;
	struct addr *settle;  /* opened by stale logins: hold them now */
	size_t nsettle, capsettle;
	int settle_all;       /* the list overflowed: look at every one */
	struct lograte skew_rate, refused_rate, evict_rate;
};

void intake_init(struct intake *in, const struct intake_conf *c,
                 struct writer *w, struct sessions *s);
void intake_free(struct intake *in);
void intake_begin(struct intake *in, time_t now);
void intake_login(struct intake *in, const struct input *from,
                  const struct addr *a, time_t when, const char *session,
                  size_t len);
void intake_logout(struct intake *in, const char *session, size_t len,
                   time_t when);
void intake_restart(struct intake *in, const struct input *from,
                    time_t when);
void intake_refused(struct intake *in, const struct input *from,
                    const char *what);
void intake_settle(struct intake *in);
/* Make the next settle look at every held address (at start: sessions
 * restored from the saved file). */
void intake_settle_all(struct intake *in);
void intake_tick(struct intake *in, time_t now);

#endif
