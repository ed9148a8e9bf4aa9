/*
 * listen.h - "HOST:PORT" addresses and listening TCP sockets, for every
 * daemon that takes such an address from the configuration: tunneld's
 * listeners, leafmail-deliver -L on inet:, umtp's peers and listener, and
 * the configuration check itself (lib/conf.c).
 *
 *   hostport_split()  "host:port" or "[v6]:port" into two new strings;
 *                     -1 when there is no port, the host is empty, an
 *                     IPv6 address lacks its brackets, or out of memory
 *   hostport_port_ok() a decimal port, 1..65535
 *   listen_inet()     a non-blocking, close-on-exec socket listening on
 *                     the first address getaddrinfo() gives for host:port
 *                     (numeric port; an IPv6 socket is IPv6 only), with
 *                     SO_REUSEADDR and a SOMAXCONN backlog, so a burst of
 *                     MTA connections is never refused while we accept
 *
 * Nothing here logs or exits; errors are written to err.
 */
#ifndef LEAFMAIL_LISTEN_H
#define LEAFMAIL_LISTEN_H

#include <stddef.h>

int hostport_split(const char *s, char **host, char **port);
int hostport_port_ok(const char *port);
int listen_inet(const char *host, const char *port, char *err, size_t errlen);

#endif
