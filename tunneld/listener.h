/*
 * listener.h - TCP sockets for leafmail-tunneld: the listening socket of a
 * tunnel and the choice of a free loopback port for ssh's -L.
 *
 *   listener_open("HOST:PORT" | "[V6]:PORT")  bound, listening,
 *       non-blocking, close-on-exec socket; -1 with a message in err
 *   listener_free_port()  a port on 127.0.0.1 that was free a moment ago,
 *       or -1 with a message
 */
#ifndef TUNNELD_LISTENER_H
#define TUNNELD_LISTENER_H

#include <stddef.h>

int listener_open(const char *hostport, char *err, size_t errlen);
int listener_free_port(char *err, size_t errlen);

#endif
