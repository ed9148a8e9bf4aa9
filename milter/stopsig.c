/*
 * stopsig.c - libmilter's stop state (stopsig.h).
 *
 * mi_stop() is libmilter's own (sendmail's libmilter/engine.c), exported
 * by libmilter.so though mfapi.h does not declare it: 0 run on, 1 stop
 * (MILTER_STOP), 2 abort (MILTER_ABRT).  A stop is never lowered to an
 * abort except by a listener failing inside its loop, so 1 after a failed
 * smfi_main() means the failure was the early stop's closed socket.
 */
#include "stopsig.h"

int mi_stop(void);

int
stopsig_asked(void)
{
	return mi_stop() == 1;
}
