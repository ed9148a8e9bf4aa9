/*
 * loglimit.h - the milter's log lines that any SMTP client can cause, each
 * class behind a rate limit (lib/lograte.h), and the thread that writes
 * their summaries.
 *
 *   loglimit_refused  relay denied, HELO or MAIL refused, a required
 *                     header missing, the velocity limit crossed
 *   loglimit_local    relay allowed because the recipient is local: every
 *                     inbound recipient, whoever sends it
 *   loglimit_failed   the relay table could not be read (one line per
 *                     RCPT while it lasts)
 *   loglimit_start(cfg)
 *       Set the limits from cfg (log-rate-burst, log-rate-interval) and
 *       start the summary thread, the first time; later calls return at
 *       once.  Called from the callbacks (after libmilter has detached
 *       and started its threads), so the settings are those of the
 *       configuration the first session got; a reload does not change
 *       them.  Until it has run the classes let every line through.
 *
 * Not limited: relaying allowed for an authenticated client (trusted
 * network, SMTP AUTH, a POP/IMAP login), the record of who relayed, and
 * a client must have authenticated to cause one.
 */
#ifndef LEAFMAIL_MILTER_LOGLIMIT_H
#define LEAFMAIL_MILTER_LOGLIMIT_H

#include <confuse.h>

#include "lograte.h"

extern struct lograte *loglimit_refused, *loglimit_local, *loglimit_failed;

void loglimit_start(cfg_t *cfg);

#endif
