/*
 * claimstore.h - UMTP's duplicate store as claims: for each (Message-ID,
 * recipient) pair, which of the two copies of a shadowed message -- the
 * UMTP datagram, injected by `umtp receive`, or the SMTP copy, passed by
 * the receiving site's leafmail-milter (milter.umtp-dedup) -- delivers.
 * The rule it keeps: exactly one copy, whatever the timing.
 *
 *   at most once   a pair is claimed with put-if-absent, atomically
 *                  (store_cas(): one LMDB write transaction under the
 *                  whole-file lock, one Redis EVAL), so of two processes
 *                  claiming at the same instant, on one host or several
 *                  sharing Redis, exactly one wins
 *   at least once  the SMTP copy always exists (the shadowing milter
 *                  never stops it) and is only ever delayed, never
 *                  dropped, unless the UMTP copy was injected: a UMTP
 *                  claim that fails or is abandoned makes way for it
 *
 * States of a pair's record, and who moves it:
 *
 *   (none) --umtp receive claims--> PENDING(token, deadline)
 *   (none) --milter claims--------> SMTP      (the SMTP copy delivers)
 *   PENDING --MTA said 250---------> UMTP      (by its owner, by token)
 *   PENDING --injection failed-----> (none)    (by its owner, by token)
 *   PENDING --deadline passed------> SMTP      (the milter takes it over;
 *                                               Redis: the key expires)
 *   UMTP, SMTP --dedup-ttl passed--> (none)    (swept; Redis: expires)
 *
 * What each side does with what it finds:
 *   umtp receive  claimed -> inject; SMTP, UMTP, or another receiver's
 *                 PENDING -> drop the datagram for that recipient (the
 *                 SMTP copy is on its way, or the other receiver is
 *                 injecting).  After the MTA's 250: PENDING -> UMTP; after
 *                 a failure: delete its PENDING, so the SMTP copy goes
 *                 through.
 *   the milter    claimed, or SMTP found (its own earlier attempt, the
 *                 sender retrying) -> keep the recipient; UMTP found ->
 *                 remove the recipient; PENDING -> wait (umtp.claim-wait)
 *                 for it to resolve, then answer 451 so the sender
 *                 retries; a PENDING past its deadline is abandoned (its
 *                 receiver died) and taken over.  An SMTP copy that got
 *                 451 finds its own SMTP claims on its next attempt and
 *                 keeps those recipients: a claim never blocks its owner.
 *
 * The deadline is the claim time plus umtp.inject-timeout plus
 * CLAIM_GRACE_MS: an injection attempt is over by then (libcurl's
 * timeout, or the sendmail child killed), so a takeover never races a
 * live injection.  In Redis the PENDING key carries it as its own expiry
 * (PX, Redis's clock), so hosts with different clocks agree; in LMDB the
 * milter compares it with this host's clock.
 *
 * Records:
 *   key    "<Message-ID>\0<recipient>", normalised: the Message-ID
 *          loses surrounding blanks and one pair of angle brackets, and
 *          its part right of the last '@' is folded to lower case (the
 *          left part is case-sensitive, RFC 5322); the recipient loses
 *          angle brackets and is folded to lower case entirely (as
 *          virtual(8) and leafmail-deliver do)
 *   value  "<first-seen> umtp", "<first-seen> smtp" (as before claims),
 *          "<first-seen> pending <deadline-ms> <token>"
 *   LMDB   <state-dir>/umtp-dedup.lmdb, mode 0600 (it names who mails
 *          whom), key and value each followed by a NUL
 *   Redis  <redis.key-prefix>dedup:<key>
 * A final record counts for umtp.dedup-ttl after it was first seen; then
 * it is swept (Redis: expires) and a stale one is taken over as if absent.
 *
 * Limits, each costing a duplicate, never a loss: the MTA accepts the
 * UMTP copy but `umtp receive` dies (or the store fails) before it can
 * record UMTP, or the MTA's 250 is lost on the wire; the host's clock
 * jumps forward past a live LMDB deadline; Redis restarts without its
 * data (run it with persistence).
 *
 * Errors: STORE_ERR with err filled; nothing logs or exits.
 */
#ifndef LEAFMAIL_CLAIMSTORE_H
#define LEAFMAIL_CLAIMSTORE_H

#include <stddef.h>
#include <time.h>

#include <confuse.h>

#include "store.h"

#define CLAIMSTORE_FILE "umtp-dedup.lmdb"
#define CLAIMSTORE_NS "dedup:"
#define CLAIM_MAX_ID 256       /* normalised Message-ID or recipient */
#define CLAIM_KEYMAX (2 * CLAIM_MAX_ID)
#define CLAIM_TOKEN_LEN 16     /* hex digits */
#define CLAIM_GRACE_MS 10000   /* deadline past the injection timeout */
/* Redis drops an abandoned PENDING at its deadline by its own clock; the
 * milter takes one over by its clock only this much later. */
#define CLAIM_SKEW_MS 60000

enum claim_state {
	CLAIM_NONE,    /* no record */
	CLAIM_PENDING, /* a receiver is injecting the UMTP copy */
	CLAIM_UMTP,    /* the UMTP copy was delivered */
	CLAIM_SMTP,    /* the SMTP copy delivers */
	CLAIM_FOREIGN, /* a record we cannot read */
};

struct claim {
	enum claim_state state;
	time_t first_seen;
	long long deadline_ms;            /* PENDING */
	char token[CLAIM_TOKEN_LEN + 1];  /* PENDING */
};

/* One datagram's claims, made by umtp receive. */
struct claim_umtp {
	char token[CLAIM_TOKEN_LEN + 1];
	time_t first_seen;
	long long deadline_ms;
};

/* Per recipient, umtp receive's outcome. */
enum claim_outcome {
	CLAIM_WON,       /* ours: inject */
	CLAIM_LOST,      /* found (what in found): drop */
	CLAIM_UNKEYED,   /* cannot be keyed (too long): drop */
	CLAIM_RECORDED,  /* after injection: UMTP recorded */
	CLAIM_TWICE,     /* after injection: the SMTP copy took it over */
};

/* Per recipient, the milter's verdict. */
enum claim_verdict {
	CLAIM_KEEP,  /* the SMTP copy delivers to it */
	CLAIM_DROP,  /* delivered by UMTP: remove it */
	CLAIM_WAIT,  /* a UMTP injection is under way: ask again */
};

/* The spec of umtp.dedup-store ("lmdb:<state-dir>/umtp-dedup.lmdb" or
 * "redis:dedup:") into buf; -1 with err when it does not fit. */
int claimstore_spec(cfg_t *cfg, char *buf, size_t len, char *err,
                    size_t errlen);
/* store_open() of that spec, STORE_WRITE | STORE_PRIVATE. */
struct store *claimstore_open(cfg_t *cfg, char *err, size_t errlen);

/* Normalised forms into out (CLAIM_MAX_ID bytes); -1 when empty or too
 * long.  The key of a pair into key (CLAIM_KEYMAX bytes), its length
 * (the NUL between the two parts included, none after), or 0. */
int claimstore_norm_msgid(const char *msgid, char *out, size_t outlen);
int claimstore_norm_rcpt(const char *rcpt, char *out, size_t outlen);
size_t claimstore_key(const char *msgid, const char *rcpt, char *key);
/* A value (len bytes) decoded: 0, or -1 with c->state CLAIM_FOREIGN. */
int claimstore_decode(const char *val, size_t len, struct claim *c);
const char *claimstore_state_name(enum claim_state s);
long long claimstore_now_ms(void);

/* A UMTP record due after the MTA's 250 and not written yet: it may go
 * in the same store transaction as the next datagram's claim, so that a
 * burst of datagrams costs one transaction each, not two.  out as for
 * claimstore_umtp_record(). */
struct claim_umtp_record {
	const struct claim_umtp *u;
	const char *msgid;
	char *const *rcpts;
	size_t n;
	enum claim_outcome *out;
};

/* umtp receive, before injecting: claim PENDING for each rcpts[i]
 * (out[i], found[i] filled; found may be NULL), hold_ms after now_ms at
 * most (umtp.inject-timeout + CLAIM_GRACE_MS); ttl (umtp.dedup-ttl, s)
 * says which final records are stale.  u gets a fresh token.  prev, when
 * not NULL, is recorded first in the same transaction (prev->out
 * updated; an entry left CLAIM_WON is still to be recorded).  Number
 * won, or STORE_ERR (then, as far as we know, neither is prev recorded
 * nor anything claimed). */
long claimstore_umtp_claim(struct store *s,
                           const struct claim_umtp_record *prev,
                           struct claim_umtp *u, const char *msgid,
                           char *const *rcpts, size_t n, long long now_ms,
                           long long hold_ms, long long ttl,
                           enum claim_outcome *out, struct claim *found,
                           char *err, size_t errlen);
/* After the MTA's 250, for the recipients won: PENDING -> UMTP, expiring
 * ttl seconds later.  out[i] becomes CLAIM_RECORDED or CLAIM_TWICE
 * (entries not CLAIM_WON are left alone).  STORE_OK or STORE_ERR (retry
 * later: the claims stay PENDING meanwhile). */
int claimstore_umtp_record(struct store *s, const struct claim_umtp *u,
                           const char *msgid, char *const *rcpts, size_t n,
                           long long ttl, enum claim_outcome *out,
                           char *err, size_t errlen);
/* After a failed injection: delete our PENDING claims (those CLAIM_WON),
 * so the SMTP copy goes through at once.  STORE_OK or STORE_ERR (then
 * they go at their deadline). */
int claimstore_umtp_release(struct store *s, const struct claim_umtp *u,
                            const char *msgid, char *const *rcpts, size_t n,
                            const enum claim_outcome *out, char *err,
                            size_t errlen);

/* The milter, at end of message: claim SMTP for every pair of a
 * Message-ID in msgids (every Message-ID header the SMTP copy carries:
 * the datagram uses one of them) and a recipient in rcpts, all in one
 * store_cas() (plus one per round of takeovers).  verdict[i] for
 * rcpts[i]: DROP when UMTP holds it under any Message-ID, else WAIT when
 * a live PENDING does, else KEEP; found[i] (may be NULL) what decided a
 * DROP or WAIT.  A recipient that cannot be keyed is KEPT.  STORE_OK or
 * STORE_ERR. */
int claimstore_smtp(struct store *s, char *const *msgids, size_t nmsgid,
                    char *const *rcpts, size_t n, long long now_ms,
                    long long ttl, enum claim_verdict *verdict,
                    struct claim *found, char *err, size_t errlen);

/* LMDB: delete final records first seen ttl or more seconds before now,
 * PENDING ones past their deadline, and unreadable ones; at most batch
 * per transaction.  Redis: 0.  Number deleted, or STORE_ERR. */
long claimstore_sweep(struct store *s, time_t now, long long ttl,
                      size_t batch, char *err, size_t errlen);

#endif
