/*
 * velocity.c - sliding-minute connection counts per address (velocity.h).
 *
 * Each slot counts its address's connections in 60 one-second buckets:
 * the count for "the last minute" is exact to the second, and a slot is
 * about 150 bytes whatever the limit (a list of timestamps would grow with
 * it): 32768 slots and their locks take 5 MB.
 * Buckets are cleared lazily, when the address comes back: only the
 * seconds between its last connection and now are zeroed.
 *
 * The hash is keyed with random bytes from getrandom(), so a client
 * cannot choose addresses that all fall into one set.
 */
#include "velocity.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define WAYS 8 /* slots per set */

struct slot {
	uint32_t last;  /* second of the last connection */
	uint32_t total; /* sum of n[] */
	uint16_t n[VELOCITY_WINDOW];
	uint8_t key[16];
	uint8_t family; /* 0: free */
};

struct set {
	pthread_mutex_t mu;
	struct slot slot[WAYS];
};

struct velocity {
	size_t nsets; /* a power of two */
	uint64_t k0, k1;
	struct set *sets;
};

static uint64_t
mix(uint64_t x)
{
	/* The 64-bit finaliser of MurmurHash3: every input bit reaches
	 * every output bit. */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t
hash(const struct velocity *v, const uint8_t key[16], int family)
{
	uint64_t a, b;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return mix(mix(a ^ v->k0) ^ b ^ v->k1 ^ (uint64_t)family);
}

struct velocity *
velocity_new(size_t slots)
{
	struct velocity *v;
	size_t i, want;

	if (slots == 0)
		slots = VELOCITY_SLOTS;
	want = (slots + WAYS - 1) / WAYS;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	for (v->nsets = 1; v->nsets < want; v->nsets <<= 1)
		;
	/* calloc: pages no address ever reaches are never touched. */
	if ((v->sets = calloc(v->nsets, sizeof(*v->sets))) == NULL) {
		free(v);
		return NULL;
	}
	if (getrandom(&v->k0, sizeof(v->k0), 0) != sizeof(v->k0) ||
	    getrandom(&v->k1, sizeof(v->k1), 0) != sizeof(v->k1)) {
		/* Unkeyed still counts correctly; it only lets a client
		 * aim at one set.  getrandom() does not fail on Linux once
		 * the pool is ready. */
		v->k0 = 0x736f6d6570736575ULL;
		v->k1 = 0x646f72616e646f6dULL;
	}
	for (i = 0; i < v->nsets; i++)
		pthread_mutex_init(&v->sets[i].mu, NULL);
	return v;
}

void
velocity_free(struct velocity *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsets; i++)
		pthread_mutex_destroy(&v->sets[i].mu);
	free(v->sets);
	free(v);
}

size_t
velocity_memory(const struct velocity *v)
{
	return sizeof(*v) + v->nsets * sizeof(*v->sets);
}

/* Forget the buckets of the seconds after s->last up to now. */
static void
advance(struct slot *s, uint32_t now)
{
	uint32_t t;

	if (now - s->last >= VELOCITY_WINDOW) {
		memset(s->n, 0, sizeof(s->n));
		s->total = 0;
	} else {
		for (t = s->last + 1; t <= now; t++) {
			s->total -= s->n[t % VELOCITY_WINDOW];
			s->n[t % VELOCITY_WINDOW] = 0;
		}
	}
	s->last = now;
}

uint32_t
velocity_hit(struct velocity *v, const struct addr *a, uint32_t now)
{
	uint8_t key[16] = {0};
	uint8_t fam = a->family == AF_INET ? 4 : 6;
	struct set *set;
	struct slot *s = NULL, *victim = NULL;
	uint32_t total;
	int i;

	memcpy(key, a->bytes, fam == 4 ? 4 : 16);
	set = &v->sets[hash(v, key, fam) & (v->nsets - 1)];
	pthread_mutex_lock(&set->mu);
	for (i = 0; i < WAYS; i++) {
		struct slot *c = &set->slot[i];

		if (c->family == fam && memcmp(c->key, key, 16) == 0) {
			s = c;
			break;
		}
		/* Prefer a free slot, then the one idle longest.  A clock
		 * that went back (now < last) counts as idle too. */
		if (victim == NULL || c->family == 0 ||
		    (victim->family != 0 && now - c->last > now - victim->last))
			victim = c;
	}
	if (s == NULL) {
		s = victim;
		memset(s, 0, sizeof(*s));
		memcpy(s->key, key, 16);
		s->family = fam;
		s->last = now;
	} else if (now != s->last) {
		if (now < s->last) { /* cannot happen on a monotonic clock */
			memset(s->n, 0, sizeof(s->n));
			s->total = 0;
			s->last = now;
		} else
			advance(s, now);
	}
	if (s->n[now % VELOCITY_WINDOW] < UINT16_MAX) {
		s->n[now % VELOCITY_WINDOW]++;
		s->total++;
	}
	total = s->total;
	pthread_mutex_unlock(&set->mu);
	return total;
}
