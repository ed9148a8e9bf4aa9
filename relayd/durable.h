/*
 * durable.h - the invariant between the relay table and relayd's saved
 * state: a saved position never runs ahead of logins that a crash could
 * still take out of the table.
 *
 * Batches commit with deferred sync (writer.h): visible at once, not yet
 * on disk.  Before the positions of file sources are saved, the table is
 * synced (store_sync), and only when nothing read is still pending: so
 * after a crash lines may be read twice, which only refreshes entries,
 * never lost.  The open sessions (sessions.h) are saved at the same
 * moments, before the positions: a restart re-reads from the positions,
 * and the lines read again open or end the same sessions again.
 *
 *   durable_init(d, w, inputs, n, positions_file, sessions, sessions_file)
 *   durable_maybe_save(d)  after a drain whose batch was written: save
 *              now, or mark it due when the last save is under a second
 *              old (each save is an fsync and a rename)
 *   durable_due_ms(d)      ms until a due save (-1: none due)
 *   durable_save(d)        sync, then save: 0, or -1 when the sync failed
 *              (nothing saved; logged once; tried again a second later)
 *   durable_needed(d)      something to save at exit
 */
#ifndef LEAFMAIL_RELAYD_DURABLE_H
#define LEAFMAIL_RELAYD_DURABLE_H

#include <stddef.h>

#include "input.h"
#include "sessions.h"
#include "writer.h"

#define DURABLE_SAVE_MS 1000

struct durable_saved {
	struct source_pos pos;
	int valid;
};

struct durable {
	struct writer *w;
	struct input **in;
	size_t n;
	const char *positions_file;
	struct sessions *s; /* NULL when not holding */
	const char *sessions_file;
	struct durable_saved *saved;
	int due;
	long long last_save; /* monotonic ms */
	int sync_failing;
};

int durable_init(struct durable *d, struct writer *w, struct input **in,
                 size_t n, const char *positions_file, struct sessions *s,
                 const char *sessions_file);
void durable_free(struct durable *d);
void durable_maybe_save(struct durable *d);
long long durable_due_ms(const struct durable *d);
int durable_save(struct durable *d);
int durable_needed(const struct durable *d);

#endif
