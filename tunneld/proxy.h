/*
 * proxy.h - one proxied client: the client's socket, its upstream socket
 * to ssh's forwarded port, and a buffer for each direction.
 *
 *   conn_new()       take an accepted client (non-blocking); reading it
 *                    starts at once, so bytes sent before the tunnel is
 *                    up wait in the client->upstream buffer
 *   conn_connect()   start the upstream connection to 127.0.0.1:port
 *                    (non-blocking); CONN_OPEN, CONN_CONNECTING or
 *                    CONN_REFUSED (nothing listens there yet)
 *   conn_connected() the upstream socket became writable while
 *                    connecting: CONN_OPEN or CONN_REFUSED
 *   conn_io()        move bytes after an event on either side;
 *                    CONN_ALIVE, CONN_DONE (both directions finished) or
 *                    CONN_FAILED (an error, or the upstream closed before
 *                    sending one byte: the tunnel's far end refused)
 *   conn_sync()      (re)register each side's epoll interest
 *   conn_fail()      best-effort failure reply to the client, then close
 *   conn_close()     deregister and close both sockets, free the buffers;
 *                    the struct stays (dead = 1) until the caller frees
 *                    it, because the epoll batch being processed may still
 *                    hold events pointing at it
 *
 * Backpressure: a side is read only while the buffer towards its peer has
 * room, so a slow reader stops a fast writer instead of growing memory.
 * Half-close: when one side ends its stream and everything it sent has
 * been delivered, the other side gets shutdown(SHUT_WR), and the reverse
 * direction keeps flowing (SMTP's QUIT/221 relies on it).
 */
#ifndef TUNNELD_PROXY_H
#define TUNNELD_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"

#define CONN_BUFSZ 65536

enum { CONN_ALIVE, CONN_DONE, CONN_FAILED };
enum { CONN_NONE, CONN_CONNECTING, CONN_OPEN, CONN_REFUSED };

struct conn_buf {
	char *d;
	size_t off, len;
};

struct conn {
	struct ev_tag ctag, utag;
	void *owner; /* the tunnel */
	struct conn *prev, *next;
	int cfd, ufd;
	int ustate;           /* CONN_NONE, CONN_CONNECTING, CONN_OPEN */
	int c_eof, u_eof;     /* that side sent EOF */
	int c_shut, u_shut;   /* we shut down writing to that side */
	uint32_t cev, uev;    /* registered interest, 0 = not registered */
	struct conn_buf c2u, u2c;
	unsigned long long from_up; /* bytes received from upstream */
	int dead;                   /* closed; free() after the epoll batch */
};

struct conn *conn_new(int epfd, void *owner, int cfd);
int conn_connect(int epfd, struct conn *c, int port);
int conn_connected(int epfd, struct conn *c);
int conn_io(struct conn *c, int upstream_side, uint32_t events);
void conn_sync(int epfd, struct conn *c);
void conn_fail(int epfd, struct conn *c, const char *reply);
void conn_close(int epfd, struct conn *c);

#endif
