/*
 * replay.h - the receiver's memory of accepted protocol 2 packets, so a
 * captured datagram replayed within the skew window is refused.
 *
 * A packet is identified by (key id, nonce).  Packets whose timestamp is
 * more than max-skew from now are refused by the codec anyway, so an entry
 * needs keeping only while a replay of it could still pass that test: a
 * packet accepted at time t had |t - ts| <= skew, and a replay at t' passes
 * only while t' <= ts + skew <= t + 2 * skew.  Entries are kept until
 * t + 2 * skew (insertion order is expiry order) and then dropped.
 *
 * Bounded: at most `capacity` entries.  When full of unexpired entries,
 * replay_check_add() refuses (UMTP_E_REPLAY is not right for that, so it
 * returns -1 and the caller logs "replay cache full"): failing closed,
 * since evicting early would re-open the window.  Only packets whose MAC
 * verified are added, so only a key holder can fill it.
 *
 * In memory only: after a restart the cache is empty, and a packet
 * captured within the last max-skew can be replayed once more (umtp(5)).
 */
#ifndef LEAFMAIL_UMTP_REPLAY_H
#define LEAFMAIL_UMTP_REPLAY_H

#include <stddef.h>
#include <time.h>

#include "umtp_codec.h"

struct replay;

struct replay *replay_new(size_t capacity, long long max_skew);
void replay_free(struct replay *r);
/* 0: new, recorded; 1: seen before (a replay); -1: cache full. */
int replay_check_add(struct replay *r, const unsigned char keyid[UMTP_KEYID_LEN],
                     const unsigned char nonce[UMTP_P2_NONCELEN], time_t now);
size_t replay_count(const struct replay *r);

#endif
