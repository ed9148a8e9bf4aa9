/*
 * loop.h - leafmail-relayd's event loop: follow the sources, write logins
 * to the relay table, sweep expired entries.
 *
 * One epoll instance watches the inotify descriptor (file sources), a
 * signalfd (TERM/INT stop cleanly, HUP re-checks every source), a timerfd
 * for the sweep, and the descriptors of FIFO and stdin sources.  Logins
 * read during one wake-up go to the table in one write transaction
 * (larger catch-ups in batches of LOOP_BATCH addresses); positions are
 * saved only after the transaction holding the logins read up to them has
 * committed, so a crash may re-read lines, never lose them.
 *
 * loop_run() returns the process exit code: 0 after TERM/INT (or EOF on
 * a stdin that was the only source), 75 when the pending logins could not
 * be written at exit, 71 when the loop itself could not be set up.
 */
#ifndef LEAFMAIL_RELAYD_LOOP_H
#define LEAFMAIL_RELAYD_LOOP_H

#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "logparse.h"
#include "source.h"
#include "relaystore.h"

/* Flush the pending batch when it holds this many distinct addresses. */
#define LOOP_BATCH 4096
/* Deletes per sweep transaction: keeps each write short for Postfix. */
#define LOOP_SWEEP_BATCH 256

struct loop_source {
	struct source *src;
	struct logparser *parser;
};

struct loop_conf {
	struct loop_source *sources; /* opened already, positions restored */
	size_t nsources;
	int ifd;                     /* inotify descriptor the sources use */
	struct store *store;    /* relaystore_open(STORE_WRITE) */
	const struct cidr_list *ignore;
	long long expire;            /* seconds a login allows relaying */
	long long sweep_interval;    /* seconds; <= 0 means 5 */
	const char *positions_file;  /* <state-dir>/relayd.positions */
};

int loop_run(const struct loop_conf *conf);

#endif
