/*
 * deliver.c - one recipient's delivery (see deliver.h).
 *
 * Order of the steps and why:
 *   1. loop check before anything is written: a looping message must not
 *      land a copy per pass;
 *   2. quota before the write, with the real size (trace headers
 *      included), so "fits" means the file we are about to write fits;
 *   3. the write (maildir.c), durable before we say 2.0.0;
 *   4. the maildirsize line after the message is in new/: a crash in
 *      between leaves usage under-counted until the next recalculation,
 *      never a phantom charge for a message that isn't there.
 * Every outcome is logged once, with the recipient and the reason, so the
 * mail log explains each status the MTA shows.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "deliver.h"
#include "headers.h"
#include "log.h"
#include "maildir.h"
#include "quota.h"

static int
set(struct deliver_status *st, int ex, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
set(struct deliver_status *st, int ex, const char *fmt, ...)
{
	va_list ap;

	st->ex = ex;
	va_start(ap, fmt);
	vsnprintf(st->text, sizeof(st->text), fmt, ap);
	va_end(ap);
	return ex;
}

int
deliver_lookup(const struct deliver_ctx *ctx, const char *addr, size_t len,
               struct deliver_rcpt *d, struct deliver_status *st)
{
	enum mailbox_status ms;
	char err[512];
	int has_ext;

	memset(d, 0, sizeof(*d));
	if (recipient_parse(addr, len, ctx->delims, ctx->fold, &d->r, err,
	                    sizeof(err)) != 0) {
		/* addr may hold anything; don't echo it */
		lograte_warnx(ctx->lograte, "refused recipient: %s", err);
		set(st, DAEMON_EX_DATAERR, "5.1.3 bad recipient address: %s", err);
		return -1;
	}
	has_ext = strcmp(d->r.local, d->r.user) != 0;
	ms = mailbox_lookup(&ctx->mc, d->r.local, d->r.domain, ctx->fold,
	                    &d->mb, err, sizeof(err));
	if (ms == MAILBOX_NOUSER && has_ext)
		ms = mailbox_lookup(&ctx->mc, d->r.user, d->r.domain,
		                    ctx->fold, &d->mb, err, sizeof(err));
	switch (ms) {
	case MAILBOX_OK:
		return 0;
	case MAILBOX_NOUSER:
	case MAILBOX_NODOMAIN:
		lograte_info(ctx->lograte, "to=<%s>, status=bounced (unknown %s)",
		             d->r.address, ms == MAILBOX_NOUSER ? "user" : "domain");
		set(st, DAEMON_EX_NOUSER, "5.1.1 <%s>: unknown %s", d->r.address,
		    ms == MAILBOX_NOUSER ? "user" : "domain");
		return -1;
	case MAILBOX_TEMPFAIL:
		log_warnx("to=<%s>, status=deferred (%s)", d->r.address, err);
		set(st, DAEMON_EX_TEMPFAIL, "4.3.0 <%s>: mailbox lookup failed",
		    d->r.address);
		return -1;
	case MAILBOX_CONFIG:
	default:
		log_warnx("to=<%s>, status=deferred (%s)", d->r.address, err);
		set(st, DAEMON_EX_CONFIG, "4.3.5 <%s>: mailbox configuration error",
		    d->r.address);
		return -1;
	}
}

int
deliver_write(const struct deliver_ctx *ctx, const struct deliver_rcpt *d,
              const char *sender, const char *msg, size_t len,
              struct deliver_status *st)
{
	const char *rcpt = d->r.address;
	const struct quota_limit *q = &d->mb.quota;
	struct headers_info hi;
	struct quota_usage u;
	struct iovec iov[2];
	char prefix[1200], name[512], err[512];
	ssize_t plen;
	long long size;
	int fd, r, eno, quota_on;

	headers_scan(msg, len, rcpt, &hi);
	if (hi.loop) {
		log_info("to=<%s>, status=bounced (mail loop: Delivered-To)", rcpt);
		return set(st, DAEMON_EX_DATAERR,
		           "5.4.6 <%s>: mail forwarding loop (Delivered-To)", rcpt);
	}
	plen = headers_prefix(prefix, sizeof(prefix), &hi, sender, rcpt);
	if (plen < 0)
		return set(st, DAEMON_EX_DATAERR, "5.1.7 sender address too long");
	size = (long long)plen + (long long)len;

	fd = maildir_open(ctx->base, d->mb.maildir, err, sizeof(err));
	if (fd < 0) {
		log_warnx("to=<%s>, status=deferred (%s)", rcpt, err);
		return set(st, DAEMON_EX_TEMPFAIL, "4.3.0 <%s>: cannot open mailbox",
		           rcpt);
	}
	if (q->bytes > 0 || q->count > 0) {
		r = quota_check(fd, q, size, time(NULL), &u, err, sizeof(err));
		if (r < 0) {
			log_warnx("to=<%s>, status=deferred (quota: %s)", rcpt, err);
			close(fd);
			return set(st, DAEMON_EX_TEMPFAIL,
			           "4.3.0 <%s>: cannot read quota", rcpt);
		}
		if (r > 0) {
			close(fd);
			log_info("to=<%s>, status=%s (over quota: %lld bytes %lld "
			         "messages in use, message %lld bytes)", rcpt,
			         ctx->quota_bounce ? "bounced" : "deferred", u.bytes,
			         u.count, size);
			if (ctx->quota_bounce)
				return set(st, DAEMON_EX_UNAVAILABLE,
				           "5.2.2 <%s>: mailbox full", rcpt);
			return set(st, DAEMON_EX_TEMPFAIL, "4.2.2 <%s>: mailbox full",
			           rcpt);
		}
	}

	iov[0].iov_base = prefix;
	iov[0].iov_len = (size_t)plen;
	iov[1].iov_base = (void *)msg;
	iov[1].iov_len = len;
	quota_on = q->bytes > 0 || q->count > 0;
	/* Should flock fail, deliver and append anyway: a racing recount
	 * could then miss this line, which the next recount repairs. */
	if (quota_on && quota_lock_shared(fd) != 0)
		log_warn("to=<%s>: lock for quota", rcpt);
	if (maildir_write(fd, iov, 2, name, sizeof(name), &eno, err,
	                  sizeof(err)) != 0) {
		close(fd); /* drops the lock */
		log_warnx("to=<%s>, maildir=%s, status=deferred (%s)", rcpt,
		          d->mb.maildir, err);
		if (eno == ENOSPC || eno == EDQUOT)
			return set(st, DAEMON_EX_TEMPFAIL,
			           "4.3.1 <%s>: mail system full", rcpt);
		return set(st, DAEMON_EX_TEMPFAIL, "4.3.0 <%s>: write error", rcpt);
	}
	if (quota_on && quota_add(fd, size, 1, err, sizeof(err)) != 0)
		log_warnx("to=<%s>: delivered, but %s", rcpt, err);
	close(fd); /* drops the lock */
	log_info("to=<%s>, maildir=%s, size=%lld, status=sent (%s)", rcpt,
	         d->mb.maildir, size, name);
	return set(st, 0, "2.0.0 <%s> delivered", rcpt);
}

int
deliver_reply_code(const struct deliver_status *st)
{
	const char *t = st->text;

	if (t[0] == '2')
		return 250;
	if (strncmp(t, "4.2.2", 5) == 0)
		return 452;
	if (t[0] == '4')
		return 451;
	if (strncmp(t, "5.1.1", 5) == 0)
		return 550;
	if (strncmp(t, "5.1.3", 5) == 0)
		return 501;
	if (strncmp(t, "5.2.2", 5) == 0)
		return 552;
	return 554;
}
