/*
 * umtp_dedup.h - milter.umtp-dedup without libmilter: for the SMTP copy
 * of a message (its Message-IDs and recipients), which recipients the
 * UMTP datagram already delivered (the caller removes them with
 * smfi_delrcpt, or discards the message when none remain), which the
 * SMTP copy delivers, and which are still being injected by `umtp
 * receive` after waiting for them a bounded time (the caller answers 451
 * so the sender retries).  The rules are claimstore.h's.
 *
 * Considered are the recipients whose domain no umtp.peer serves: mail
 * for a peer's domain is on its way out (the shadow side), and claiming
 * it here would make this site's `umtp receive` drop a datagram it never
 * got.  Others are KEEP without a claim.
 *
 * Waiting: while some recipient is CLAIM_WAIT, its claims are tried
 * again after 5, 10, 20 ... ms (at most 100 ms apart) until wait_ms has
 * passed.  Each try is one claimstore_smtp() call, so one Redis round
 * trip or LMDB transaction; no lock is held in between.
 */
#ifndef LEAFMAIL_MILTER_UMTP_DEDUP_H
#define LEAFMAIL_MILTER_UMTP_DEDUP_H

#include <stddef.h>

#include "claimstore.h"
#include "umtp_peers.h"

/* Called once, when the first wait begins: the first recipient that
 * waits and the claim it waits for. */
typedef void (*umtp_dedup_waiting_fn)(void *arg, const char *rcpt,
                                      const struct claim *c);

/* verdict[i] (and found[i], may be NULL) for rcpts[i].  Returns the
 * number of CLAIM_DROP, with *nwait the number still CLAIM_WAIT after
 * wait_ms; or STORE_ERR with err (verdicts all KEEP then). */
long umtp_dedup_decide(struct store *s, struct umtp_peers *peers,
                       char *const *msgids, size_t nmsgid,
                       char *const *rcpts, size_t n, long long ttl,
                       long long wait_ms, umtp_dedup_waiting_fn waiting,
                       void *warg, enum claim_verdict *verdict,
                       struct claim *found, size_t *nwait, char *err,
                       size_t errlen);

#endif
