/*
 * log.h - logging for every leafmail program, after OpenBSD's log.c:
 * syslog (facility mail) under the program name, and stderr too when
 * running in the foreground, unless stderr is the systemd journal
 * (JOURNAL_STREAM), which has the syslog copy already.  Records go straight to /dev/log, without
 * syslog(3)'s process-wide lock; a missing /dev/log costs nothing but the
 * lost line, and is retried once a second (log.c).  log_warn() appends
 * strerror(errno); log_warnx() does not.  Thread-safe (one write per
 * message).  log_fatal*() exit and are for main() and code that only
 * main() calls, never for lib/ or milter callbacks.
 */
#ifndef LEAFMAIL_LOG_H
#define LEAFMAIL_LOG_H

#include <stdarg.h>

void log_init(const char *progname, int to_stderr, int debug);
void log_set_stderr(int on);
void log_set_debug(int on);
const char *log_progname(void);
/* The syslog socket (default /dev/log), for tests and unusual systems;
 * reconnects at once when logging is open. */
void log_set_syslog_path(const char *path);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(int ex, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void log_fatalx(int ex, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
