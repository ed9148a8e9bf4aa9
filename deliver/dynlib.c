/*
 * dynlib.c - load a shared library on first use (dynlib.h).
 */
#include "dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

int
dynlib_load(const char *lib, const struct dynlib_sym *syms, size_t n,
            char *err, size_t errlen)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		snprintf(err, errlen, "%s", dlerror());
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (*syms[i].slot == NULL) {
			snprintf(err, errlen, "%s: no %s", lib, syms[i].name);
			return -1;
		}
	}
	return 0;
}
