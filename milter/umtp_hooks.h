/*
 * umtp_hooks.h - the milter's UMTP side (issue 3), behind one interface so
 * that filter.c only calls it from its callbacks:
 *
 *   milter.umtp-shadow  at end of message, for each recipient whose domain
 *                       has a umtp.peer, send the message in one datagram
 *                       when it fits; the SMTP transaction goes on
 *                       regardless: UMTP never delays, tempfails or rejects
 *   milter.umtp-dedup   claim each (Message-ID, recipient) for the SMTP
 *                       copy (claimstore.h): one the UMTP copy delivered
 *                       is removed (smfi_delrcpt), the message discarded
 *                       when none remain; one whose UMTP injection is
 *                       under way is waited for (umtp.claim-wait), then
 *                       the message gets 451 and the sender retries
 *
 * A message without a Message-ID gets one (smfi_addheader), so the UMTP and
 * SMTP copies carry the same.  Every function accepts a NULL object (the
 * feature off, or out of memory) and then does nothing.  Shadowing never
 * fails the SMTP transaction; the dedup side defers it (451) only while
 * a UMTP copy is being injected or the store cannot be used.
 */
#ifndef LEAFMAIL_MILTER_UMTP_HOOKS_H
#define LEAFMAIL_MILTER_UMTP_HOOKS_H

#include <confuse.h>
#include <libmilter/mfapi.h>
#include <stddef.h>

struct store;

struct umtp_hooks; /* settings of one configuration: peers, keys, store */
struct umtp_msg;   /* one message in one session */

/* Reads milter.umtp-shadow/umtp-dedup and the umtp section (keys are read
 * now: call before dropping privileges).  claims: the claim store, which
 * must outlive the object (NULL when umtp-dedup is off).  NULL with err
 * filled on a configuration error; otherwise an object, also when both
 * are off. */
struct umtp_hooks *umtp_hooks_load(cfg_t *cfg, struct store *claims,
                                   char *err, size_t errlen);
void umtp_hooks_free(struct umtp_hooks *h);
/* The SMFIF_* actions the filter must register (0 when both are off). */
unsigned long umtp_hooks_flags(const struct umtp_hooks *h);
/* 1 when the body must be passed to umtp_msg_body(). */
int umtp_hooks_wants_body(const struct umtp_hooks *h);

/* At MAIL FROM (sender as the MTA gave it, with or without <>); NULL when
 * both features are off.  h must outlive the message. */
struct umtp_msg *umtp_msg_begin(const struct umtp_hooks *h, const char *sender);
/* Each recipient the milter accepted, as the MTA gave it. */
void umtp_msg_rcpt(struct umtp_msg *m, const char *rcpt);
void umtp_msg_header(struct umtp_msg *m, const char *name, const char *value);
void umtp_msg_body(struct umtp_msg *m, const unsigned char *data, size_t len);
/* At end of message: SMFIS_CONTINUE; SMFIS_DISCARD when every
 * recipient was already delivered by UMTP; SMFIS_TEMPFAIL (451 set) as
 * said above.  client is for the log. */
sfsistat umtp_msg_eom(struct umtp_msg *m, SMFICTX *ctx, const char *client);
/* Frees m: after umtp_msg_eom(), at abort and at close. */
void umtp_msg_end(struct umtp_msg *m);

#endif
