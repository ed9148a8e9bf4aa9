/*
 * umtp_dedup.h - milter.umtp-dedup without libmilter: given the SMTP copy
 * of a message (Message-ID, recipients), which recipients were already
 * delivered by UMTP (the caller removes them with smfi_delrcpt, or
 * discards the message when none remain), and recording the others as
 * delivered by SMTP so that `umtp receive` drops the datagram that comes
 * later.
 *
 * Considered are the recipients whose domain no umtp.peer serves: mail
 * for a peer's domain is on its way out (the shadow side), and recording
 * it here would make this site's `umtp receive` drop a datagram it never
 * got.  A record made by SMTP never removes anyone: a second SMTP copy
 * is the sender retrying, not a duplicate of ours.
 *
 * Check and record are one write transaction's worth of work under the
 * caller's lock (umtp_hooks.c: one mutex, because table.h writes must
 * come from one thread at a time; the store may be Redis, dedupstore.h); `umtp receive` is another process, so
 * a datagram and an SMTP copy checked in the same instant may both be
 * delivered (dedup.h).
 */
#ifndef LEAFMAIL_MILTER_UMTP_DEDUP_H
#define LEAFMAIL_MILTER_UMTP_DEDUP_H

#include <stddef.h>
#include <time.h>

#include "dedupstore.h"
#include "lmdbfile.h"
#include "umtp_peers.h"

/* msgids: every Message-ID header of the SMTP copy (Postfix may have added
 * one besides ours): a recipient delivered by UMTP under any of them is
 * removed; the others are recorded under each.
 * del[i] set to 1 for each rcpts[i] already delivered by UMTP.  Number of
 * such recipients, or LMDBFILE_ERR (err filled; nothing deleted then).  When
 * only recording failed, the number, with err non-empty. */
long umtp_dedup_decide(struct store *t, struct umtp_peers *peers,
                       char *const *msgids, size_t nmsgid,
                       char *const *rcpts, size_t n,
                       time_t now, long long ttl, int *del, char *err,
                       size_t errlen);

#endif
