/*
 * loop.h - leafmail-relayd's event loop: wait on every source's
 * descriptor, a signalfd and a timerfd, and dispatch.
 *
 * The loop knows sources only through input.h (open, fd, read, timeout,
 * close); what they report goes through the intake (intake.h) to the
 * writer (writer.h), and the durable state is saved by durable.h.  One
 * wake-up: read every ready source, settle holds, write what they
 * produced, then (at most once a second) sync and save positions.  TERM
 * and INT stop cleanly, HUP re-reads every source, the timer sweeps
 * expired entries, refreshes held addresses and retries failing sources.
 *
 * loop_run() sweeps the table before it reads anything (entries that
 * expired while relayd was down go first), and returns the process exit
 * code: 0 after TERM/INT (or when every source has ended: stdin at EOF),
 * 75 when the pending logins could not be written at exit, 71 when the
 * loop itself could not be set up.
 */
#ifndef LEAFMAIL_RELAYD_LOOP_H
#define LEAFMAIL_RELAYD_LOOP_H

#include <stddef.h>

#include "addr.h"
#include "input.h"
#include "relaystore.h"

/* Deletes per sweep transaction: keeps each write short for Postfix. */
#define LOOP_SWEEP_BATCH 256

struct loop_conf {
	struct input **inputs; /* opened already */
	size_t ninputs;
	struct store *store;   /* relaystore_open(STORE_WRITE) */
	const struct cidr_list *ignore;
	long long expire;         /* seconds a login allows relaying */
	long long sweep_interval; /* seconds; <= 0 means 5 */
	long long max_skew;       /* relay.max-clock-skew, seconds */
	int hold;                 /* relay.hold-while-connected */
	long long hold_max;       /* relay.hold-max, seconds */
	size_t hold_max_sessions; /* relay.hold-max-sessions */
	const char *positions_file; /* <state-dir>/relayd.positions */
	const char *sessions_file;  /* <state-dir>/relayd.sessions */
};

int loop_run(const struct loop_conf *conf);

#endif
