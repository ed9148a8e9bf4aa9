/*
 * dynlib.h - a shared library loaded on first use (dlopen), for the
 * lookup backends that a pipe delivery with a file: map should not pay
 * for at start-up (mailbox_sqlite.c, mailbox_pgsql.c).
 *
 *   dynlib_load(lib, syms, n, err, errlen)
 *       dlopen(lib) and resolve each symbol into its slot.  0, or -1 with
 *       err: dlerror()'s text when the library cannot be opened, or
 *       "LIB: no SYMBOL" for the first symbol it lacks.  The library stays
 *       loaded for the life of the process.
 */
#ifndef LEAFMAIL_DELIVER_DYNLIB_H
#define LEAFMAIL_DELIVER_DYNLIB_H

#include <stddef.h>

struct dynlib_sym {
	const char *name;
	void **slot; /* a function pointer, cast: (void **)&table.field */
};

int dynlib_load(const char *lib, const struct dynlib_sym *syms, size_t n,
                char *err, size_t errlen);

#endif
