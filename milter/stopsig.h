/*
 * stopsig.h - whether libmilter stopped because it was asked to.
 *
 * libmilter takes SIGTERM, SIGHUP and SIGINT with sigwait() in a thread
 * that smfi_main() starts (main() keeps them blocked until then, from
 * before it tells systemd it is ready).  A stop it sees before its
 * listener loop runs closes the listening socket under that loop, which
 * then fails: smfi_main() returns MI_FAILURE for what was only a
 * `systemctl stop` right after the start.  main() asks stopsig_asked()
 * whether that was so, and then exits 0 like any other stop.
 *
 *   stopsig_asked()  1 when libmilter's state is "stop asked" (SIGTERM,
 *                    SIGHUP, smfi_stop()), not "abort" (a listener that
 *                    failed on its own, SIGINT)
 */
#ifndef LEAFMAIL_MILTER_STOPSIG_H
#define LEAFMAIL_MILTER_STOPSIG_H

int stopsig_asked(void);

#endif
