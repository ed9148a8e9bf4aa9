/*
 * conf.h - the one leafmail.conf schema (libconfuse) for every program.
 *
 * Every key of every section is declared in conf.c, so a key unknown to
 * the schema is an error wherever it appears, reported as "FILE:LINE:
 * message".  Values are validated while parsing (durations, networks,
 * socket specifications, ports), so `-t` reports them with their line too.
 *
 * Accessors for durations return seconds.  Nothing here logs or exits.
 */
#ifndef LEAFMAIL_CONF_H
#define LEAFMAIL_CONF_H

#include <confuse.h>
#include <stddef.h>

#include "addr.h"
#include "lograte.h"

#define CONF_DEFAULT_PATH SYSCONFDIR "/leafmail.conf"

/* Parse path.  NULL on error with every message found in err ("FILE:LINE:
 * text", lines separated by '\n'). */
cfg_t *conf_load(const char *path, char *err, size_t errlen);
void conf_free(cfg_t *cfg);

/* A duration option of sec (already validated by conf_load), in seconds. */
long long conf_duration(cfg_t *sec, const char *name);
/* A list option of CIDR strings into l (validated by conf_load). */
int conf_cidr_list(cfg_t *sec, const char *name, struct cidr_list *l);
/* lograte_init_named() with the top-level log-rate-burst and
 * log-rate-interval: every daemon's bound on lines caused by remote input. */
void conf_lograte(cfg_t *cfg, struct lograte *lr, const char *what);

#endif
