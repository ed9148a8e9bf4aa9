/*
 * durable.c - sync the table, then save positions and sessions (see
 * durable.h for the invariant).
 *
 * Positions are written at most once a second and always at exit; a
 * crash may therefore re-read up to a second of lines.  A position is
 * compared with the one saved last, so an idle relayd writes nothing.
 * The table is synced at most a second after a commit even when no file
 * source has a position to save (stdin, pushed logins): durable.h's
 * invariant is only half of why; the other half is that a deferred
 * commit must reach the disk soon anyway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"
#include "log.h"
#include "position.h"
#include "relaystore.h"

int
durable_init(struct durable *d, struct writer *w, struct input **in,
             size_t n, const char *positions_file, struct sessions *s,
             const char *sessions_file)
{
	memset(d, 0, sizeof *d);
	d->w = w;
	d->in = in;
	d->n = n;
	d->positions_file = positions_file;
	d->s = s;
	d->sessions_file = sessions_file;
	d->last_save = writer_mono_ms() - DURABLE_SAVE_MS;
	/* saved[].valid starts at 0: the first committed drain records the
	 * positions, so a first start leaves a positions file behind. */
	d->saved = calloc(n + 1, sizeof *d->saved);
	return d->saved == NULL ? -1 : 0;
}

void
durable_free(struct durable *d)
{
	free(d->saved);
	d->saved = NULL;
}

static int
position_of(const struct durable *d, size_t i, struct source_pos *p)
{
	const struct input *in = d->in[i];
	return in->ops->position != NULL ? in->ops->position(in, p) : -1;
}

static int
positions_changed(const struct durable *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct source_pos p;
		const struct durable_saved *sv = &d->saved[i];
		if (position_of(d, i, &p) != 0)
			continue;
		if (!sv->valid || p.dev != sv->pos.dev ||
		    p.ino != sv->pos.ino || p.offset != sv->pos.offset ||
		    p.birth != sv->pos.birth)
			return 1;
	}
	return 0;
}

int
durable_needed(const struct durable *d)
{
	return d->w->unsynced || positions_changed(d) ||
	       (d->s != NULL && sessions_dirty(d->s));
}

/* Make every commit so far durable; 0, or -1 (logged once). */
static int
sync_table(struct durable *d)
{
	char err[512];
	if (!d->w->unsynced)
		return 0;
	if (store_sync(d->w->store, err, sizeof err) != STORE_OK) {
		if (!d->sync_failing)
			log_warnx("relay table: %s; positions not saved, "
			          "retrying",
			          err);
		d->sync_failing = 1;
		return -1;
	}
	if (d->sync_failing)
		log_warnx("relay table %s: synced again",
		          store_name(d->w->store));
	d->sync_failing = 0;
	d->w->unsynced = 0;
	return 0;
}

static void
save_positions(struct durable *d)
{
	struct position_entry *e = calloc(d->n + 1, sizeof *e);
	size_t *idx = calloc(d->n + 1, sizeof *idx);
	size_t n = 0;
	char err[512];

	if (e == NULL || idx == NULL) {
		log_warnx("positions: out of memory");
		goto out;
	}
	for (size_t i = 0; i < d->n; i++) {
		if (position_of(d, i, &e[n].pos) != 0)
			continue;
		e[n].path = d->in[i]->name;
		idx[n++] = i;
	}
	if (n == 0)
		goto out;
	if (position_save(d->positions_file, e, n, err, sizeof err) < 0) {
		log_warnx("%s", err);
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		d->saved[idx[k]].pos = e[k].pos;
		d->saved[idx[k]].valid = 1;
	}
out:
	free(e);
	free(idx);
}

int
durable_save(struct durable *d)
{
	char err[512];
	d->last_save = writer_mono_ms();
	if (sync_table(d) < 0) {
		d->due = 1;
		return -1;
	}
	d->due = 0;
	if (d->s != NULL && sessions_dirty(d->s) &&
	    sessions_save(d->s, d->sessions_file, err, sizeof err) < 0)
		log_warnx("%s", err);
	save_positions(d);
	return 0;
}

void
durable_maybe_save(struct durable *d)
{
	if (d->w->b.n != 0 || !durable_needed(d))
		return;
	if (writer_mono_ms() - d->last_save >= DURABLE_SAVE_MS)
		durable_save(d);
	else
		d->due = 1;
}

long long
durable_due_ms(const struct durable *d)
{
	if (!d->due)
		return -1;
	long long t = d->last_save + DURABLE_SAVE_MS - writer_mono_ms();
	return t < 0 ? 0 : t;
}
