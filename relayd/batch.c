/*
 * batch.c - the pending logins, one per address (see batch.h).
 *
 * A table of entries in arrival order (v) and an index of slots holding
 * entry numbers + 1 (0 = free), probed linearly from an FNV-1a hash of
 * the address.  The index is twice the capacity, so probes stay short;
 * growing rebuilds it.  Entries are never removed one by one: the whole
 * batch is written and cleared, which keeps the probing simple.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "batch.h"

static uint32_t
addr_hash(const struct addr *a)
{
	uint32_t h = 2166136261u;
	size_t n = a->family == AF_INET ? 4 : 16;
	h = (h ^ (uint32_t)a->family) * 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ a->bytes[i]) * 16777619u;
	return h;
}

static int
batch_grow(struct batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 256;
	struct pending *v = realloc(b->v, cap * sizeof *v);
	if (v == NULL)
		return -1;
	b->v = v;
	uint32_t *slot = calloc(cap * 2, sizeof *slot);
	if (slot == NULL)
		return -1;
	free(b->slot);
	b->slot = slot;
	b->nslot = cap * 2;
	b->cap = cap;
	for (size_t i = 0; i < b->n; i++) {
		size_t j = addr_hash(&b->v[i].a) & (b->nslot - 1);
		while (b->slot[j] != 0)
			j = (j + 1) & (b->nslot - 1);
		b->slot[j] = (uint32_t)(i + 1);
	}
	return 0;
}

int
batch_add(struct batch *b, const struct addr *a, time_t expires, time_t when,
          const char *source)
{
	if (b->nslot != 0) {
		size_t j = addr_hash(a) & (b->nslot - 1);
		while (b->slot[j] != 0) {
			struct pending *p = &b->v[b->slot[j] - 1];
			if (addr_equal(&p->a, a)) {
				if (expires > p->expires) {
					p->expires = expires;
					p->when = when;
					p->source = source;
				}
				return 0;
			}
			j = (j + 1) & (b->nslot - 1);
		}
	}
	if (b->n == b->cap && batch_grow(b) < 0)
		return -1;
	struct pending *p = &b->v[b->n++];
	p->a = *a;
	p->expires = expires;
	p->when = when;
	p->source = source;
	size_t j = addr_hash(a) & (b->nslot - 1);
	while (b->slot[j] != 0)
		j = (j + 1) & (b->nslot - 1);
	b->slot[j] = (uint32_t)b->n;
	return 0;
}

void
batch_clear(struct batch *b)
{
	b->n = 0;
	if (b->slot != NULL)
		memset(b->slot, 0, b->nslot * sizeof *b->slot);
}

void
batch_free(struct batch *b)
{
	free(b->v);
	free(b->slot);
	memset(b, 0, sizeof *b);
}
