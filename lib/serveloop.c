/*
 * serveloop.c - accept and signals for a threaded server (serveloop.h).
 */
#include "serveloop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

int
serveloop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

int
serveloop_run(const struct serveloop *l, int sfd, unsigned *signo)
{
	struct signalfd_siginfo si;
	struct pollfd p[2];
	int r, fd, full;

	for (;;) {
		full = l->active(l->arg) >= l->max;
		p[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = l->lfd, .events = POLLIN};
		r = poll(p, full ? 1 : 2, full ? 50 : 1000);
		if (l->tick != NULL)
			l->tick(l->arg);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SERVELOOP_ERR;
		if ((p[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			*signo = si.ssi_signo;
			return si.ssi_signo == SIGHUP ? SERVELOOP_HUP : SERVELOOP_STOP;
		}
		if (full || !(p[1].revents & POLLIN))
			continue;
		if ((fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			l->accepted(l->arg, fd);
		} else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
		           errno == ENOBUFS) {
			int e = errno;
			poll(NULL, 0, 100);
			errno = e;
			return SERVELOOP_ACCEPT;
		}
	}
}

int
serveloop_serve(const struct serveloop *l, int sfd, const char *hup)
{
	unsigned sig;

	for (;;) {
		switch (serveloop_run(l, sfd, &sig)) {
		case SERVELOOP_HUP:
			log_info("SIGHUP: %s", hup);
			break;
		case SERVELOOP_ACCEPT:
			log_warn("accept");
			break;
		case SERVELOOP_ERR:
			log_warn("poll");
			return -1;
		default:
			log_info("signal %u: stopping", sig);
			return 0;
		}
	}
}
