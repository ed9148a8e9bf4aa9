/*
 * filter.h - leafmail-milter's libmilter callbacks.
 *
 *   filter_register()   hand the callbacks to libmilter (smfi_register)
 *
 * What the callbacks check comes from the session's configuration
 * snapshot (snapshot.h), taken when the connection starts: main() installs
 * the first one before smfi_main() and a new one at each SIGUSR1.  The
 * velocity table (velocity.h) is the one piece of state shared by every
 * session and every snapshot: counts survive a reload.
 */
#ifndef LEAFMAIL_MILTER_FILTER_H
#define LEAFMAIL_MILTER_FILTER_H

#include <stddef.h>

/* flags: the SMFIF_* actions of the first configuration (each connection
 * negotiates its own snapshot's).  0, or -1 with err. */
int filter_register(unsigned long flags, char *err, size_t errlen);

#endif
