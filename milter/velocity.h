/*
 * velocity.h - connections per client address in a sliding minute, in a
 * table whose size is fixed when it is made (milter.max-connections-per-
 * minute).
 *
 *   velocity_new()     the table: VELOCITY_SLOTS addresses at most
 *   velocity_hit()     count one connection from an address at second now,
 *                      return how many it made in the last 60 seconds
 *   velocity_memory()  bytes the table holds (for the benchmark)
 *   velocity_free()
 *
 * Memory is bounded whatever connects: the table is set-associative (each
 * address hashes, under a key chosen at random, to one set of a few
 * slots) and never grows.  A slot whose last connection is a minute old
 * is free; when a set is full of live addresses the one seen longest ago
 * is forgotten.  That is the price of the bound: a flood of distinct
 * addresses can make the table forget a slow sender's count, but never
 * exhaust memory, and a busy sender, being recent, is the last to go.
 *
 * Thread-safe: each set has its own lock, so two threads contend only
 * when their addresses share a set.  Nothing here logs.
 */
#ifndef LEAFMAIL_MILTER_VELOCITY_H
#define LEAFMAIL_MILTER_VELOCITY_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define VELOCITY_SLOTS 32768 /* addresses remembered at most */
#define VELOCITY_WINDOW 60   /* seconds */

struct velocity;

/* slots is rounded up to whole sets; 0 means VELOCITY_SLOTS.  NULL when
 * out of memory. */
struct velocity *velocity_new(size_t slots);
void velocity_free(struct velocity *v);
/* now: seconds on a monotonic clock.  The count includes this connection;
 * each second counts at most 65535 of them. */
uint32_t velocity_hit(struct velocity *v, const struct addr *a, uint32_t now);
size_t velocity_memory(const struct velocity *v);

#endif
