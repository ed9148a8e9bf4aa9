/*
 * tconf.h - the `tunnel "name" { ... }` sections of leafmail.conf, read
 * and checked for leafmail-tunneld.
 *
 *   tconf_read()          every tunnel section into an array of struct
 *                         tconf, checking what libconfuse cannot (required
 *                         keys, option-looking values, duplicate listen
 *                         addresses, failure-reply syntax)
 *   tconf_check_files()   the files ssh will need: identity (regular, not
 *                         group/other accessible, owned by `user` when we
 *                         switch to it), known_hosts, ssh-config, ssh-program
 *   tconf_check_access()  after the switch to `user`: can it read them?
 *
 * Each check prints "FILE:LINE: tunnel "NAME": message" lines to the given
 * stream and returns the number of problems found, so -t reports them all
 * at once.  Nothing here exits.
 */
#ifndef TUNNELD_TCONF_H
#define TUNNELD_TCONF_H

#include <confuse.h>
#include <stdio.h>
#include <sys/types.h>

#include "lograte.h"

struct tconf {
	const char *name; /* section title */
	const char *file; /* for messages */
	int line;
	const char *listen;
	const char *dest; /* ssh-destination, [user@]host */
	int ssh_port;
	const char *identity;
	const char *known_hosts;
	const char *ssh_config; /* "none" or a file */
	const char *ssh_program;
	const char *remote; /* HOST:PORT as seen from the ssh server */
	long long idle, jitter, connect_timeout; /* seconds */
	const char *failure_reply;                /* without CRLF */
	long max_clients;                         /* 0: no limit */
	long long alive_interval;                 /* ServerAliveInterval, s */
	long alive_count;                         /* ServerAliveCountMax */
	struct lograte *refusals; /* lines about refused clients: one limit
	                             for all tunnels (log-rate-burst) */
};

/* Strings point into cfg, which must outlive the array.  *out is
 * calloc'ed (free it); returns the number of problems printed to errs. */
int tconf_read(cfg_t *cfg, struct tconf **out, size_t *n, FILE *errs);
/* check_owner: we run as root and will switch to uid. */
int tconf_check_files(const struct tconf *tc, int check_owner, uid_t uid,
                      const char *user, FILE *errs);
int tconf_check_access(const struct tconf *tc, const char *user, FILE *errs);

#endif
