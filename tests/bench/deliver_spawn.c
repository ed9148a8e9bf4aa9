/*
 * deliver_spawn.c - benchmark driver for deliver_bench.sh: run a delivery
 * program once per message, as an MTA's pipe transport does, and report
 * the wall time per message.
 *
 *   deliver_spawn [-u USER] [-j JOBS] N INPUT PROG ARG...
 *
 * Started as root, switches to USER first, so every program measured runs
 * the same way (as the mailbox owner, no privilege switch of its own).
 * Runs N processes, JOBS at a time (default 1), each with INPUT on stdin
 * and stdout/stderr on /dev/null; "%n" in an argument is replaced by the
 * run's number modulo JOBS (so JOBS parallel runs can each use their own
 * mailbox).  Prints "N ns_total ns_per_msg failures"; exit 1 when any
 * run failed (a benchmark of failing deliveries measures nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int
main(int argc, char **argv)
{
	const char *user = NULL, *input;
	long n, i, started = 0, done = 0, fails = 0;
	int ch, jobs = 1, running = 0, k, ai = -1;
	char num[1024], **args, *tmpl = NULL;
	long long t0, t1;

	while ((ch = getopt(argc, argv, "+u:j:")) != -1) {
		switch (ch) {
		case 'u': user = optarg; break;
		case 'j': jobs = atoi(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind < 3 || jobs < 1) {
		fprintf(stderr, "usage: deliver_spawn [-u USER] [-j JOBS] N INPUT "
		                "PROG ARG...\n");
		return 2;
	}
	n = atol(argv[optind]);
	input = argv[optind + 1];
	args = argv + optind + 2;
	for (k = 0; args[k] != NULL; k++)
		if (strstr(args[k], "%n") != NULL)
			ai = k;
	if (ai >= 0 && (tmpl = strdup(args[ai])) == NULL)
		return 2;
	if (user != NULL && geteuid() == 0) {
		struct passwd *pw = getpwnam(user);
		if (pw == NULL || initgroups(user, pw->pw_gid) != 0 ||
		    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
			perror("switching user");
			return 2;
		}
	}
	t0 = now_ns();
	for (i = 0; done < n;) {
		while (running < jobs && started < n) {
			posix_spawn_file_actions_t fa;
			pid_t pid;
			posix_spawn_file_actions_init(&fa);
			posix_spawn_file_actions_addopen(&fa, 0, input, O_RDONLY, 0);
			posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
			posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
			if (ai >= 0) {
				const char *p = strstr(tmpl, "%n");
				snprintf(num, sizeof(num), "%.*s%ld%s", (int)(p - tmpl),
				         tmpl, started % jobs, p + 2);
				args[ai] = num;
			}
			if ((errno = posix_spawn(&pid, args[0], &fa, NULL, args,
			                         environ)) != 0) {
				perror(args[0]);
				return 2;
			}
			posix_spawn_file_actions_destroy(&fa);
			started++;
			running++;
		}
		{
			int st;
			pid_t p = wait(&st);
			if (p < 0) {
				perror("wait");
				return 2;
			}
			running--;
			done++;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				fails++;
		}
		i++;
	}
	t1 = now_ns();
	printf("%ld %lld %lld %ld\n", n, t1 - t0, (t1 - t0) / n, fails);
	return fails ? 1 : 0;
}
