/*
 * sessions.h - the mail sessions relayd knows to be open, for
 * relay.hold-while-connected: an address stays allowed while a session
 * from it is open (an IMAP client in IDLE for hours), and for `expire`
 * after its last one ends.
 *
 * A session is known by the server's own session id (Dovecot's
 * "session=<ID>", the same id in the login line, in the mail process's
 * log prefix and in its events), opened by a login that carried one and
 * ended by the matching end of session, by the restart of the server it
 * came through, or by age (hold-max).  Bounded: at most `cap` sessions;
 * one more evicts the oldest.  Per address the sessions are counted and
 * `until`, the latest expiry written on the address's behalf, is kept,
 * so the caller refreshes the table entry before it lapses.
 *
 *   sessions_new(cap, names, nnames)  names: the sources, by index
 *   sessions_open(s, id, len, a, opened, source)  1 new, 0 known (its
 *                     address unchanged), -1 out of memory or a bad id
 *   sessions_close(s, id, len, &held)  1 and *held (a copy) when that
 *                     was the address's last session, 0 otherwise
 *   sessions_close_source(s, source, fn, arg)  every session of source
 *   sessions_expire(s, before, fn, arg)  every session opened before
 *   sessions_foreach(s, fn, arg)  every held address (fn may change
 *                     h->until); fn is also how the two above report an
 *                     address that lost its last session
 *   sessions_save(s, file, err) / sessions_load(s, file, err)
 *                     the persisted copy, <state-dir>/relayd.sessions,
 *                     private (statefile.h)
 *   sessions_dirty(s) changed since the last save
 *
 * Ids are 1 to SESSION_ID_MAX bytes of [A-Za-z0-9+/=_.-] (Dovecot's are
 * base64, 16 or 32 bytes); anything else is refused, so the saved file
 * stays one token per id.  Nothing here logs.
 */
#ifndef LEAFMAIL_RELAYD_SESSIONS_H
#define LEAFMAIL_RELAYD_SESSIONS_H

#include <stddef.h>
#include <time.h>

#include "addr.h"

#define SESSION_ID_MAX 64

struct sessions;

struct held {
	struct addr a;
	unsigned n;   /* open sessions from a */
	time_t until; /* latest expiry written for a while held; 0: none */
	struct held *hnext;
};

typedef void (*sessions_fn)(void *arg, struct held *h);

struct sessions *sessions_new(size_t cap, const char *const *names,
                              size_t nnames);
void sessions_free(struct sessions *s);
int sessions_id_ok(const char *id, size_t len);
int sessions_open(struct sessions *s, const char *id, size_t len,
                  const struct addr *a, time_t opened, unsigned source);
int sessions_close(struct sessions *s, const char *id, size_t len,
                   struct held *last);
size_t sessions_close_source(struct sessions *s, unsigned source,
                             sessions_fn fn, void *arg);
size_t sessions_expire(struct sessions *s, time_t before, sessions_fn fn,
                       void *arg);
void sessions_foreach(struct sessions *s, sessions_fn fn, void *arg);
struct held *sessions_held(struct sessions *s, const struct addr *a);
size_t sessions_count(const struct sessions *s);
/* Sessions evicted to make room since the last call (and reset). */
unsigned long sessions_evicted(struct sessions *s);
int sessions_dirty(const struct sessions *s);
int sessions_save(struct sessions *s, const char *file, char *err,
                  size_t errlen);
/* 0 loaded (or no file), -1 error (err; nothing loaded). */
int sessions_load(struct sessions *s, const char *file, char *err,
                  size_t errlen);

#endif
