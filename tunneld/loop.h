/*
 * loop.h - leafmail-tunneld's event loop: every tunnel's listener, its
 * ssh child and its clients in one epoll set, signals via signalfd.
 *
 *   loop_run()  runs until SIGTERM or SIGINT, then closes the clients,
 *               stops every ssh, reaps them and returns 0 (the exit
 *               code); DAEMON_EX_OSERR if the loop cannot be set up.
 *
 * The caller blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP before calling,
 * and before detaching, so none is lost or fatal in between.
 */
#ifndef TUNNELD_LOOP_H
#define TUNNELD_LOOP_H

#include <stddef.h>

#include "tunnel.h"

int loop_run(struct tunnel *tun, size_t ntun);

#endif
