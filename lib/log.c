/*
 * log.c - logging for leafmail programs, after OpenBSD's log.c.
 *
 * Interface (log.h): log_init(progname, to_stderr, debug) opens syslog as
 * progname, with the pid, in facility LOG_MAIL; log_set_stderr(),
 * log_set_debug() change the switches later (after daemonizing, on -f);
 * log_warn() adds ": strerror(errno)", log_warnx() does not; log_info(),
 * log_debug() (only when debug is on); log_fatal(), log_fatalx() log and
 * exit with the given sysexits code - for main() only.
 *
 * Before log_init() messages go to stderr only, as "leafmail: ...", so an
 * error found while parsing options is not lost.
 *
 * Thread safety: the milter logs from libmilter's worker threads.  Each
 * stderr line is built in one buffer and written with one write() under a
 * mutex, so lines never interleave.  Messages longer than LOG_MAXMSG bytes
 * are truncated (log lines quoting a hostile 1 MB input line must not
 * become 1 MB syslog records).
 *
 * Syslog without syslog(3): glibc's syslog() takes one process-wide lock
 * per message and, while /dev/log is missing (no syslog daemon, or
 * rsyslog restarting), tries to reconnect inside that lock on every call:
 * the milter's worker threads then queue behind each other on every
 * logged RCPT decision.  We keep our own AF_UNIX datagram socket, created
 * once and never closed (its number cannot be reused under a sending
 * thread), and send each record with one send(), which needs no lock.
 * When the daemon is not there, the record is dropped (as syslog(3) does
 * without LOG_CONS) and a reconnect is tried at most once a second, by one
 * thread, the others going on; so logging recovers by itself within a
 * second of rsyslog coming back.  The record is what glibc sends:
 * "<PRI>Mmm dd hh:mm:ss NAME[PID]: message", the timestamp formatted
 * once per second per thread (localtime_r() takes a lock too).
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAXMSG 2048
#define LOG_SYSLOG_PATH "/dev/log"

static char log_name[64] = "leafmail";
static int log_syslog_open;
static int log_to_stderr = 1;
static int log_debug_on;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* The syslog socket: created once, connected (again) by sl_reconnect(). */
static char sl_path[sizeof(((struct sockaddr_un *)0)->sun_path)] =
    LOG_SYSLOG_PATH;
static int sl_fd = -1;                 /* set once, in log_init() */
static atomic_int sl_connected;        /* the last connect() worked */
static atomic_llong sl_next_try;       /* no reconnect before (monotonic s) */
static pthread_mutex_t sl_lock = PTHREAD_MUTEX_INITIALIZER;

static long long
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* Connect (again) to the syslog socket, at most once a second and by one
 * thread at a time; the others do not wait. */
static void
sl_reconnect(void)
{
	struct sockaddr_un sun;
	long long now = mono_now();

	if (sl_fd < 0 || now < atomic_load(&sl_next_try) ||
	    pthread_mutex_trylock(&sl_lock) != 0)
		return;
	if (now >= atomic_load(&sl_next_try)) {
		atomic_store(&sl_next_try, now + 1);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, sl_path, sizeof(sun.sun_path));
		atomic_store(&sl_connected,
		             connect(sl_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	}
	pthread_mutex_unlock(&sl_lock);
}

static void
sl_open(void)
{
	if (sl_fd < 0)
		sl_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	atomic_store(&sl_next_try, 0);
	sl_reconnect();
}

void
log_set_syslog_path(const char *path)
{
	snprintf(sl_path, sizeof(sl_path), "%s", path);
	atomic_store(&sl_connected, 0);
	if (log_syslog_open)
		sl_open();
}

/* "Nov 22 08:00:00", redone once a second in each thread. */
static const char *
sl_timestamp(void)
{
	static _Thread_local time_t last = (time_t)-1;
	static _Thread_local char buf[32];
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		last = now;
		if (localtime_r(&now, &tm) == NULL ||
		    strftime(buf, sizeof(buf), "%b %e %H:%M:%S", &tm) == 0)
			snprintf(buf, sizeof(buf), "Jan  1 00:00:00");
	}
	return buf;
}

static void
sl_send(int prio, const char *msg)
{
	char rec[LOG_MAXMSG + 128];
	int n, tries;

	if (!atomic_load(&sl_connected)) {
		sl_reconnect();
		if (!atomic_load(&sl_connected))
			return;
	}
	n = snprintf(rec, sizeof(rec), "<%d>%s %s[%ld]: %s", LOG_MAIL | prio,
	             sl_timestamp(), log_name, (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(rec))
		n = (int)sizeof(rec) - 1;
	for (tries = 0; tries < 2; tries++) {
		if (send(sl_fd, rec, (size_t)n, MSG_NOSIGNAL) >= 0)
			return;
		if (errno == EINTR)
			continue;
		if (errno != ECONNREFUSED && errno != ENOTCONN && errno != ENOENT &&
		    errno != ECONNRESET && errno != EDESTADDRREQ)
			return; /* e.g. EMSGSIZE: drop this one */
		/* The daemon went away (restart): try to reach the new one,
		 * unless that was tried within the last second. */
		atomic_store(&sl_connected, 0);
		sl_reconnect();
		if (!atomic_load(&sl_connected))
			return;
	}
}

/* Whether stderr is the systemd journal's stream (JOURNAL_STREAM names
 * its device and inode): under a unit started with -f, syslog already
 * reaches the journal, and a second copy of every line on stderr would
 * only double it. */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, int to_stderr, int debug)
{
	const char *base;

	if (progname != NULL && *progname != '\0') {
		base = strrchr(progname, '/');
		base = base != NULL && base[1] != '\0' ? base + 1 : progname;
		snprintf(log_name, sizeof(log_name), "%s", base);
	}
	log_to_stderr = to_stderr && !stderr_is_journal();
	log_debug_on = debug;
	sl_open();
	log_syslog_open = 1;
}

void
log_set_stderr(int on)
{
	log_to_stderr = on && !stderr_is_journal();
}

void
log_set_debug(int on)
{
	log_debug_on = on;
}

const char *
log_progname(void)
{
	return log_name;
}

static void
write_stderr(const char *msg)
{
	char line[LOG_MAXMSG + sizeof(log_name) + 4];
	int n;
	size_t len, off = 0;

	n = snprintf(line, sizeof(line), "%s: %s\n", log_name, msg);
	if (n < 0)
		return;
	len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (line[len - 1] != '\n')
		line[len - 1] = '\n';
	pthread_mutex_lock(&log_lock);
	while (off < len) {
		ssize_t w = write(STDERR_FILENO, line + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* nowhere left to complain */
		off += (size_t)w;
	}
	pthread_mutex_unlock(&log_lock);
}

/* Format and emit one message; errnum > 0 appends its strerror text. */
static void
vlog(int prio, int errnum, const char *fmt, va_list ap)
{
	char msg[LOG_MAXMSG];
	int n, to_syslog = 0;

	if (log_syslog_open) {
		if (!atomic_load(&sl_connected))
			sl_reconnect();
		to_syslog = atomic_load(&sl_connected);
	}
	/* Nowhere to write (no syslog daemon, detached): skip the
	 * formatting too, a busy milter logs every decision. */
	if (!to_syslog && log_syslog_open && !log_to_stderr)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unprintable log message)");
	if (errnum > 0) {
		char ebuf[128];
		/* GNU strerror_r (we build with _GNU_SOURCE): it returns the
		 * text, which may or may not be in ebuf. */
		const char *etext = strerror_r(errnum, ebuf, sizeof(ebuf));
		size_t used = strlen(msg);

		snprintf(msg + used, sizeof(msg) - used, ": %s", etext);
	}
	if (to_syslog)
		sl_send(prio, msg);
	if (log_to_stderr || !log_syslog_open)
		write_stderr(msg);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_fatal(int ex, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(ex);
}

void
log_fatalx(int ex, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(ex);
}
