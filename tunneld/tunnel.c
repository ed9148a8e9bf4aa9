/*
 * tunnel.c - start, stop and listen to the ssh child of a tunnel (see
 * tunnel.h).
 *
 * ssh is exec'd directly with an argument vector (no shell, so nothing in
 * the configuration is ever interpreted by one) and a minimal environment
 * (no SSH_AUTH_SOCK: the agent's keys are not ours to offer).  Options on
 * the command line take precedence over any ssh-config file, so the ones
 * that make ssh safe to run unattended cannot be switched off there:
 *
 *   BatchMode=yes             never prompt (there is nobody to answer)
 *   IdentitiesOnly=yes, -i,   only the configured key, no agent
 *     IdentityAgent=none
 *   UserKnownHostsFile=KH,    the smarthost's key must already be known;
 *     GlobalKnownHostsFile=/dev/null, StrictHostKeyChecking=yes,
 *     UpdateHostKeys=no       and nothing is ever written or learned
 *   ConnectTimeout            a dead host fails within connect-timeout
 *   ServerAliveInterval,      a half-dead link is noticed in ~90 s (the
 *     ServerAliveCountMax     defaults 30s x 3) instead of hanging until
 *                             TCP gives up (hours)
 *   ExitOnForwardFailure=yes  no forward, no ssh: we see it exit
 *   -N, -L 127.0.0.1:P:REMOTE an explicit bind address: without one ssh
 *                             also binds ::1 and ExitOnForwardFailure can
 *                             miss a busy port
 *   ControlMaster=no, ControlPath=none   never share or create a master
 *
 * The child asks for SIGTERM when its parent dies (PR_SET_PDEATHSIG), so
 * even a SIGKILLed daemon leaves no ssh behind.  It is set in the child
 * after fork and before exec: there is no privilege change in between
 * (the daemon switched to `user` long before; a credential change would
 * clear the setting), and getppid() is checked afterwards in case the
 * parent died before prctl() ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "tunnel.h"

#define MAXARGS 64

int
tunnel_spawn(struct tunnel *t, char *err, size_t errlen)
{
	const struct tconf *tc = t->tc;
	char port[16], kh[4200], ct[64], fwd[600], sai[64], sac[64];
	char *argv[MAXARGS];
	char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
	int n = 0, p[2], devnull;
	sigset_t none;
	pid_t parent = getpid(), pid;

	t->port = listener_free_port(err, errlen);
	if (t->port < 0)
		return -1;
	snprintf(port, sizeof port, "%d", tc->ssh_port);
	snprintf(kh, sizeof kh, "UserKnownHostsFile=%s", tc->known_hosts);
	snprintf(ct, sizeof ct, "ConnectTimeout=%lld", tc->connect_timeout);
	snprintf(sai, sizeof sai, "ServerAliveInterval=%lld", tc->alive_interval);
	snprintf(sac, sizeof sac, "ServerAliveCountMax=%lld", (long long)tc->alive_count);
	if ((size_t)snprintf(fwd, sizeof fwd, "127.0.0.1:%d:%s", t->port,
	                     tc->remote) >= sizeof fwd) {
		snprintf(err, errlen, "remote \"%s\" is too long", tc->remote);
		return -1;
	}
#define ARG(s) (argv[n++] = (char *)(s))
#define OPT(s) (ARG("-o"), ARG(s))
	ARG(tc->ssh_program);
	ARG("-F");
	ARG(tc->ssh_config);
	ARG("-N");
	ARG("-p");
	ARG(port);
	ARG("-i");
	ARG(tc->identity);
	OPT("BatchMode=yes");
	OPT("IdentitiesOnly=yes");
	OPT("IdentityAgent=none");
	OPT(kh);
	OPT("GlobalKnownHostsFile=/dev/null");
	OPT("StrictHostKeyChecking=yes");
	OPT("UpdateHostKeys=no");
	OPT(ct);
	OPT(sai);
	OPT(sac);
	OPT("ExitOnForwardFailure=yes");
	OPT("ControlMaster=no");
	OPT("ControlPath=none");
	OPT("ForwardAgent=no");
	OPT("ForwardX11=no");
	OPT("PermitLocalCommand=no");
	ARG("-L");
	ARG(fwd);
	ARG("--");
	ARG(tc->dest);
	argv[n] = NULL;
#undef ARG
#undef OPT

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		snprintf(err, errlen, "/dev/null: %s", strerror(errno));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(devnull);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(devnull);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* The child: only async-signal-safe calls until exec. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL); /* ignored dispositions survive exec */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(127);
		if (dup2(devnull, STDIN_FILENO) < 0 ||
		    dup2(devnull, STDOUT_FILENO) < 0 ||
		    dup2(p[1], STDERR_FILENO) < 0)
			_exit(127);
		/* The pipe's write end had O_NONBLOCK for nobody's benefit. */
		fcntl(STDERR_FILENO, F_SETFL, 0);
		execve(tc->ssh_program, argv, envp);
		static const char msg[] = "exec ssh-program failed\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
		(void)w;
		_exit(127);
	}
	close(devnull);
	close(p[1]);
	t->pid = pid;
	t->errfd = p[0];
	t->errlen = 0;
	t->fwd_failed = 0;
	log_info("tunnel %s: starting ssh (pid %ld): %s -L %s -- %s port %d",
	         tc->name, (long)pid, tc->ssh_program, fwd, tc->dest,
	         tc->ssh_port);
	return 0;
}

void
tunnel_kill(struct tunnel *t)
{
	if (t->pid > 0)
		kill(t->pid, SIGTERM);
	t->pid = 0;
}

static void
one_line(struct tunnel *t, char *line)
{
	size_t len = strlen(line);

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		line[--len] = '\0';
	if (len == 0)
		return;
	/* What ssh prints when ExitOnForwardFailure stops it because the
	 * port we picked was taken meanwhile (OpenSSH 7-9). */
	if (strstr(line, "cannot listen to port") != NULL ||
	    strstr(line, "Could not request local forwarding") != NULL ||
	    strstr(line, "Address already in use") != NULL)
		t->fwd_failed = 1;
	log_warnx("tunnel %s: ssh: %s", t->tc->name, line);
}

int
tunnel_read_stderr(struct tunnel *t)
{
	for (;;) {
		if (t->errfd < 0)
			return 1;
		ssize_t r = read(t->errfd, t->errbuf + t->errlen,
		                 sizeof t->errbuf - 1 - t->errlen);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : 1;
		if (r == 0) {
			if (t->errlen > 0) {
				t->errbuf[t->errlen] = '\0';
				one_line(t, t->errbuf);
				t->errlen = 0;
			}
			return 1;
		}
		t->errlen += (size_t)r;
		t->errbuf[t->errlen] = '\0';
		char *start = t->errbuf, *nl;
		while ((nl = strchr(start, '\n')) != NULL) {
			*nl = '\0';
			one_line(t, start);
			start = nl + 1;
		}
		size_t rest = t->errlen - (size_t)(start - t->errbuf);
		if (rest == sizeof t->errbuf - 1) { /* no newline in 511 bytes */
			one_line(t, t->errbuf);
			rest = 0;
		}
		memmove(t->errbuf, start, rest);
		t->errlen = rest;
	}
}

void
tunnel_close_stderr(struct tunnel *t)
{
	if (t->errfd >= 0)
		close(t->errfd);
	t->errfd = -1;
	t->errlen = 0;
}
