/*
 * reload.c - the SIGUSR1 thread (reload.h).
 */
#include "reload.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "snapshot.h"

static char *conf_path;
static struct reload_fixed fixed;

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static void
changed(cfg_t *sec, const char *key, const char *was)
{
	const char *now = cfg_getstr(sec, key);

	if (strcmp(now != NULL ? now : "", was) != 0)
		log_warnx("reload: %s changed from \"%s\" to \"%s\": that takes a "
		          "restart; the rest of the configuration applies now",
		          key, was, now != NULL ? now : "");
}

int
reload_now(void)
{
	char err[4096], *line, *save = NULL;
	struct snapshot *cur, *snap;
	cfg_t *cfg;

	cur = snapshot_current();
	if ((cfg = conf_load(conf_path, err, sizeof(err))) == NULL ||
	    (snap = snapshot_load(cfg, conf_path, err, sizeof(err))) == NULL) {
		conf_free(cfg);
		for (line = strtok_r(err, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			log_warnx("reload: %s", line);
		log_warnx("reload failed: still using the configuration of "
		          "generation %lu", cur != NULL ? cur->generation : 0UL);
		snapshot_release(cur);
		return -1;
	}
	changed(cfg_getsec(cfg, "milter"), "socket", fixed.socket);
	changed(cfg_getsec(cfg, "milter"), "socket-mode", fixed.socket_mode);
	changed(cfg, "user", fixed.user);
	changed(cfg, "run-dir", fixed.run_dir);
	log_info("configuration reloaded from %s (generation %lu); sessions in "
	         "progress keep generation %lu",
	         conf_path, snap->generation, cur != NULL ? cur->generation : 0UL);
	snapshot_release(cur);
	snapshot_install(snap);
	return 0;
}

static void *
reload_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGUSR1)
			reload_now();
	}
	return NULL;
}

int
reload_start(const char *conffile, const struct reload_fixed *f, char *err,
             size_t errlen)
{
	static sigset_t set;
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t tid;
	int e;

	if ((conf_path = strdup(conffile)) == NULL ||
	    (fixed.socket = dup_or_empty(f->socket)) == NULL ||
	    (fixed.socket_mode = dup_or_empty(f->socket_mode)) == NULL ||
	    (fixed.user = dup_or_empty(f->user)) == NULL ||
	    (fixed.run_dir = dup_or_empty(f->run_dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if ((e = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0) {
		snprintf(err, errlen, "pthread_sigmask: %s", strerror(e));
		return -1;
	}
	/* The thread starts with every signal blocked: SIGTERM must reach
	 * libmilter's signal thread, never kill us from this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&tid, &attr, reload_thread, &set);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		snprintf(err, errlen, "cannot start the reload thread: %s",
		         strerror(e));
		return -1;
	}
	return 0;
}
