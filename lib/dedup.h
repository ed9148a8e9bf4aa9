/*
 * dedup.h - the UMTP duplicate store: which (Message-ID, recipient) pairs
 * were already delivered, and by which path, so the recipient's mailbox
 * gets one copy whether the UMTP datagram or the SMTP copy comes first.
 * Shared by `umtp receive` (drops a datagram already delivered by SMTP,
 * records what it injects) and the milter (milter.umtp-dedup).
 *
 * The store is an LMDB file, <state-dir>/umtp-dedup.lmdb, under table.h
 * (the relay table's locking: MDB_NOSUBDIR|MDB_NOLOCK, whole-file OFD
 * locks).  Record: key "<Message-ID>\0<recipient>\0" after normalisation
 * (below), value "<first-seen Unix time> <umtp|smtp>\0".  A record counts
 * for umtp.dedup-ttl seconds after first seen; dedup_sweep() deletes it
 * after that.
 *
 * Normalisation: the Message-ID loses surrounding blanks and one pair of
 * angle brackets, and its part right of the last '@' is folded to lower
 * case (the left part is case-sensitive by RFC 5322); the recipient loses
 * angle brackets and is folded to lower case entirely (as virtual(8) and
 * leafmail-deliver do).  Messages without a Message-ID are never recorded.
 *
 * Race: dedup_check() then dedup_record() are two transactions; two
 * processes that check the same pair at the same instant may both deliver.
 * table.h has no put-if-absent yet (MDB_NOOVERWRITE); see the report.
 * Errors: LMDBFILE_ERR with err filled; nothing logs or exits.
 */
#ifndef LEAFMAIL_DEDUP_H
#define LEAFMAIL_DEDUP_H

#include <stddef.h>
#include <time.h>

#include "lmdbfile.h"

#define DEDUP_FILE "umtp-dedup.lmdb"
#define DEDUP_MAX_ID 256  /* normalised Message-ID or recipient */

enum dedup_via { DEDUP_VIA_UMTP = 1, DEDUP_VIA_SMTP = 2 };

struct dedup_record {
	time_t first_seen;
	enum dedup_via via;
};

/* "<state_dir>/umtp-dedup.lmdb" into buf; -1 if it does not fit. */
int dedup_path(const char *state_dir, char *buf, size_t len);
/* Normalised forms into out (DEDUP_MAX_ID bytes); -1 when empty or too long. */
int dedup_norm_msgid(const char *msgid, char *out, size_t outlen);
int dedup_norm_rcpt(const char *rcpt, char *out, size_t outlen);
const char *dedup_via_name(enum dedup_via via);

/* The record's pieces, which the Redis store (dedupstore.c) uses too: the
 * key "<msgid>\0<rcpt>\0" of the normalised pair into key (DEDUP_KEYMAX
 * bytes), its length with both NULs, or 0 when either does not
 * normalise; and a value "<time> <umtp|smtp>" read into *rec, 0 or -1. */
#define DEDUP_KEYMAX (2 * DEDUP_MAX_ID)
size_t dedup_key(const char *msgid, const char *rcpt, char *key);
int dedup_decode(const char *val, struct dedup_record *rec);

/* 1 when (msgid, rcpt) was delivered less than ttl seconds ago (*rec
 * filled), 0 when not (or not normalisable), LMDBFILE_ERR. */
int dedup_check(struct lmdbfile *t, const char *msgid, const char *rcpt,
                time_t now, long long ttl, struct dedup_record *rec,
                char *err, size_t errlen);
/* Record n recipients of msgid as delivered now by via, one transaction.
 * Pairs that cannot be normalised are skipped.  flags as
 * lmdbfile_write_flags(): LMDBFILE_DEFER_SYNC lets `umtp receive` make one
 * batch of datagrams durable with one lmdbfile_sync(). */
int dedup_record(struct lmdbfile *t, const char *msgid, const char *const *rcpts,
                 size_t n, enum dedup_via via, time_t now, int flags,
                 char *err, size_t errlen);
/* Delete records first seen ttl or more seconds before now (and malformed
 * ones), at most batch deletes per write.  Number deleted, or LMDBFILE_ERR. */
long dedup_sweep(struct lmdbfile *t, time_t now, long long ttl, size_t batch,
                 char *err, size_t errlen);

#endif
