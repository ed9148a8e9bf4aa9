/*
 * tunnel.h - one configured tunnel and the lifecycle of its ssh child.
 *
 *   tunnel_spawn()   choose a free loopback port and start
 *                    ssh -N -L 127.0.0.1:PORT:REMOTE DEST (argv, no shell)
 *                    with its stderr on a pipe we read; -1 + err on failure
 *   tunnel_kill()    SIGTERM the ssh child and forget it (the loop reaps it)
 *   tunnel_read_stderr()  log what ssh said, line by line; notes a failed
 *                    -L bind (the port race) in fwd_failed; 1 at EOF
 *   tunnel_close_stderr()
 *
 * The state machine (when to start, ready, idle, back off) lives in
 * loop.c; this file only knows how to run ssh.
 */
#ifndef TUNNELD_TUNNEL_H
#define TUNNELD_TUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ev.h"
#include "tconf.h"

enum tunnel_state { TUNNEL_DOWN, TUNNEL_STARTING, TUNNEL_UP };

struct conn;

struct tunnel {
	const struct tconf *tc;
	int lfd; /* listening socket */
	struct ev_tag ltag, etag;
	enum tunnel_state state;
	pid_t pid;        /* current ssh, 0 when none */
	int errfd;        /* read end of ssh's stderr, -1 when none */
	char errbuf[512]; /* partial line from ssh */
	size_t errlen;
	int port;        /* 127.0.0.1:port is ssh's end of the forward */
	int fwd_failed;  /* ssh could not bind port (ExitOnForwardFailure) */
	int fwd_retries; /* new ports tried in this start */
	int64_t started, ready_at, deadline, next_probe, idle_at;
	int64_t backoff_until;
	int fast_failures; /* unrequested ssh exits in a row */
	unsigned long served;
	struct conn *conns;
	size_t nconns;
};

int tunnel_spawn(struct tunnel *t, char *err, size_t errlen);
void tunnel_kill(struct tunnel *t);
int tunnel_read_stderr(struct tunnel *t);
void tunnel_close_stderr(struct tunnel *t);

#endif
