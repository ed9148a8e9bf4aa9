/*
 * serveloop.h - the main loop of a server that hands each connection to
 * a thread of its own (leafmail-deliver -L, leafmail-policyd): accept
 * while fewer than a limit run, the stop signals through a signalfd, a
 * tick about once a second.
 *
 *   serveloop_signals()
 *       Block SIGTERM, SIGINT and SIGHUP in the calling thread and ignore
 *       SIGPIPE; a signalfd for the three, or -1 (errno).  Call it before
 *       any thread exists: threads inherit the mask, so the signals reach
 *       only the signalfd and no thread is killed by one.
 *   serveloop_run(&loop, sfd, &signo)
 *       Serve until something needs the caller:
 *         SERVELOOP_STOP    SIGTERM or SIGINT (*signo), stop now
 *         SERVELOOP_HUP     SIGHUP; call again
 *         SERVELOOP_ACCEPT  accept() failed for lack of descriptors or
 *                           memory (errno), after a 100 ms pause so the
 *                           readable listener does not spin us; call
 *                           again
 *         SERVELOOP_ERR     poll() failed (errno)
 *       Each connection goes to loop.accepted(arg, fd) (close-on-exec,
 *       blocking); while loop.active(arg) >= loop.max the listener is not
 *       polled, connections wait in its backlog, and the count is looked
 *       at again every 50 ms (a connection ending does not wake poll).
 *       loop.tick, when set, runs about once a second.
 *       Nothing in serveloop_run() logs: the caller says what a return
 *       means.
 *   serveloop_serve(&loop, sfd, hup)
 *       serveloop_run() until a stop signal (0) or a poll failure (-1),
 *       with the log lines both servers want: hup is what SIGHUP's line
 *       says after "SIGHUP: ", a failed accept is logged and served on,
 *       and the stop names its signal.
 */
#ifndef LEAFMAIL_SERVELOOP_H
#define LEAFMAIL_SERVELOOP_H

#define SERVELOOP_STOP 0
#define SERVELOOP_HUP 1
#define SERVELOOP_ACCEPT 2
#define SERVELOOP_ERR (-1)

struct serveloop {
	int lfd;   /* listening, non-blocking */
	int max;   /* connections at once */
	void *arg;
	int (*active)(void *arg);
	void (*accepted)(void *arg, int fd);
	void (*tick)(void *arg);
};

int serveloop_signals(void);
int serveloop_run(const struct serveloop *l, int sfd, unsigned *signo);
int serveloop_serve(const struct serveloop *l, int sfd, const char *hup);

#endif
