/*
 * input.h - one configured relayd source, of whatever kind: the small
 * interface the loop dispatches through without knowing the kind (after
 * early Redis's ae.c, which knows descriptors and callbacks, nothing of
 * what is behind them).
 *
 * Kinds (constructors in input_log.c and input_push.c):
 *   log     a log file followed across rotation, a FIFO ("fifo:/path")
 *           or stdin ("-"), each line given to a log parser
 *   push    Dovecot pushing its logins over HTTP: "dovecot-policy:ADDR"
 *           (auth policy, report only) and "dovecot-events:ADDR" (event
 *           exporter)
 *
 * Every kind reports what it learns to the intake (intake.h): a login
 * (address, time, session), a session's end, or that the server behind
 * it restarted.  The operations, in the order the loop uses them:
 *
 *   open(in, env, err)   as the daemon's user: open files, bind sockets;
 *                        -1 with err when the source cannot work
 *   fd(in)               the descriptor to wait on for readability, -1
 *                        for none.  A descriptor epoll refuses (stdin
 *                        redirected from a regular file) means "always
 *                        ready": read() is called until it reports the end
 *   read(in, sink, err)  take in whatever is ready, without blocking:
 *                        0 done for now, 1 the end of the input (stdin),
 *                        -1 error (err; the loop retries at every tick)
 *   timeout_ms(in)       optional: ms until read() must be called even
 *                        without readability (-1: no such need)
 *   position(in, &p)     optional: where a file source stands, for the
 *                        positions file (0, or -1 when it has none)
 *   free(in)
 *
 * read() is also called without readability: at start (a file's
 * catch-up), after SIGHUP, and at every tick while the last read failed.
 */
#ifndef LEAFMAIL_RELAYD_INPUT_H
#define LEAFMAIL_RELAYD_INPUT_H

#include <stddef.h>

#include "source.h"

struct intake;
struct input;

/* What the loop hands every input at open. */
struct input_env {
	const char *positions_file; /* <state-dir>/relayd.positions */
};

struct input_ops {
	const char *kind;
	int (*open)(struct input *in, const struct input_env *env, char *err,
	            size_t errlen);
	int (*fd)(const struct input *in);
	int (*read)(struct input *in, struct intake *sink, char *err,
	            size_t errlen);
	long long (*timeout_ms)(struct input *in);
	int (*position)(const struct input *in, struct source_pos *p);
	void (*free)(struct input *in);
};

/* The first member of every kind's own structure. */
struct input {
	const struct input_ops *ops;
	const char *name; /* the source's title: logs, the positions file */
	unsigned id;      /* its index in the configuration */
};

/* "-", "fifo:/path" or "/path", with its log format.  NULL with err. */
struct input *input_log_new(const char *spec, const char *format,
                            const char *regex, int ip_group, char *err,
                            size_t errlen);
/* "dovecot-policy:ADDR" or "dovecot-events:ADDR"; the key file is read
 * now (secret_read: refused when others may read it).  NULL with err. */
struct input *input_push_new(const char *spec, const char *key_file,
                             char *err, size_t errlen);
/* spec names a push source (the prefixes above). */
int input_is_push(const char *spec);

static inline void
input_free(struct input *in)
{
	if (in != NULL)
		in->ops->free(in);
}

#endif
