/*
 * inject.h - hand a received message to the local MTA, either over SMTP
 * with libcurl (`inject = "smtp://127.0.0.1:10026"`) or through the
 * sendmail(1) interface (`inject = "sendmail:/usr/sbin/sendmail"`),
 * exec'd with an argument vector (`sendmail -oi [-f SENDER] -- RCPT...`),
 * never through a shell: recipients come from the network.
 *
 * inject_message() makes one attempt; the caller retries and logs losses.
 * Errors (connection refused, SMTP reply, sendmail's exit status) go to
 * err.  Line endings are normalised: CRLF for SMTP, LF for sendmail.
 * timeout (umtp.inject-timeout) bounds one attempt either way: libcurl's
 * timeout, or sendmail(1) killed when it has not exited by then.  The
 * claim store counts on that (claimstore.h): an attempt is over when its
 * claim's deadline passes.
 */
#ifndef LEAFMAIL_UMTP_INJECT_H
#define LEAFMAIL_UMTP_INJECT_H

#include <stddef.h>

enum inject_kind { INJECT_SMTP, INJECT_SENDMAIL };

struct inject {
	enum inject_kind kind;
	char *target; /* the URL, or the sendmail path */
	void *curl;   /* SMTP: the libcurl handle kept between messages */
	long long timeout; /* seconds one attempt may take (0: 60) */
};

int inject_parse(const char *spec, struct inject *in, char *err, size_t errlen);
void inject_free(struct inject *in);
/* sender NULL: none known (protocol 1), the MTA picks one (sendmail: no
 * -f; SMTP: the null sender).  "" is the null sender. */
int inject_message(struct inject *in, const char *sender,
                   char *const *rcpts, size_t nrcpt, const char *data,
                   size_t len, char *err, size_t errlen);

#endif
