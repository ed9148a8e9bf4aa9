/*
 * replay.c - bounded in-memory replay cache (see replay.h): a ring of
 * entries in insertion order, indexed by a chained hash table of ring
 * slots.  Expired entries are dropped from the ring's head on every call.
 */
#include "replay.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NIL SIZE_MAX

struct entry {
	unsigned char id[UMTP_KEYID_LEN + UMTP_P2_NONCELEN];
	time_t expires;
	size_t next; /* hash chain */
};

struct replay {
	struct entry *ring;
	size_t cap, head, count;
	size_t *bucket;
	size_t nbucket;
	long long keep; /* seconds an entry is kept */
};

struct replay *
replay_new(size_t capacity, long long max_skew)
{
	struct replay *r = calloc(1, sizeof *r);

	if (r == NULL || capacity == 0)
		goto fail;
	r->cap = capacity;
	r->nbucket = capacity * 2;
	r->keep = 2 * max_skew + 1;
	r->ring = calloc(capacity, sizeof *r->ring);
	r->bucket = malloc(r->nbucket * sizeof *r->bucket);
	if (r->ring == NULL || r->bucket == NULL)
		goto fail;
	for (size_t i = 0; i < r->nbucket; i++)
		r->bucket[i] = NIL;
	return r;
fail:
	replay_free(r);
	return NULL;
}

void
replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	free(r->ring);
	free(r->bucket);
	free(r);
}

size_t
replay_count(const struct replay *r)
{
	return r->count;
}

/* FNV-1a; the nonce is random, so anything cheap spreads well.  (An
 * attacker cannot choose nonces of packets that get in: MAC first.) */
static size_t
hash(const unsigned char *id, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	return (size_t)h;
}

static void
expire(struct replay *r, time_t now)
{
	while (r->count > 0 && r->ring[r->head].expires < now) {
		struct entry *e = &r->ring[r->head];
		size_t *pp = &r->bucket[hash(e->id, sizeof e->id) % r->nbucket];

		while (*pp != r->head && *pp != NIL)
			pp = &r->ring[*pp].next;
		if (*pp == r->head)
			*pp = e->next;
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
}

int
replay_check_add(struct replay *r, const unsigned char keyid[UMTP_KEYID_LEN],
                 const unsigned char nonce[UMTP_P2_NONCELEN], time_t now)
{
	unsigned char id[UMTP_KEYID_LEN + UMTP_P2_NONCELEN];
	size_t b, slot;

	memcpy(id, keyid, UMTP_KEYID_LEN);
	memcpy(id + UMTP_KEYID_LEN, nonce, UMTP_P2_NONCELEN);
	expire(r, now);
	b = hash(id, sizeof id) % r->nbucket;
	for (size_t i = r->bucket[b]; i != NIL; i = r->ring[i].next)
		if (memcmp(r->ring[i].id, id, sizeof id) == 0)
			return 1;
	if (r->count == r->cap)
		return -1;
	slot = (r->head + r->count) % r->cap;
	memcpy(r->ring[slot].id, id, sizeof id);
	r->ring[slot].expires = now + (time_t)r->keep;
	r->ring[slot].next = r->bucket[b];
	r->bucket[b] = slot;
	r->count++;
	return 0;
}
