/*
 * pushreq.h - what a request from Dovecot means: the part of the push
 * sources that is not HTTP plumbing, free of libmicrohttpd, so that unit
 * tests and the fuzzer reach all of it.
 *
 * Two kinds (BRIEF "Pushed logins"):
 *   PUSHREQ_POLICY  Dovecot's auth policy client in report-only mode:
 *                   POST /?command=report, the key in "X-API-Key", a JSON
 *                   object from auth_policy_request_attributes
 *   PUSHREQ_EVENTS  Dovecot's event exporter (http-post, format json):
 *                   POST /<key>, one JSON event per request
 *
 *   pushreq_key_set(k, text, len, err)  the key: 16 to 128 characters of
 *                   [A-Za-z0-9._~-] (safe in a header and in a URL path);
 *                   only its SHA-256 is kept
 *   pushreq_auth(kind, k, method, path, header_key)  PUSHREQ_OK or the
 *                   HTTP status that refuses the request (405, 403); the
 *                   key compared in constant time
 *   pushreq_body(kind, body, len, &ev, why)  what the body reports:
 *     PUSHREQ_LOGIN  a successful POP3/IMAP login that is not a master
 *                    user's: ev.a (RFC 5952, IPv4-mapped as IPv4), and
 *                    ev.session when Dovecot gave one
 *     PUSHREQ_END    (events) a mail session ended: ev.session
 *     PUSHREQ_SKIP   well formed, nothing to do: a failed login, a master
 *                    user's login, another protocol (SMTP AUTH through
 *                    Dovecot SASL is reported as "smtp": such a client
 *                    authenticates every connection anyway), another event
 *     PUSHREQ_BAD    malformed (why says how; answered 400)
 *
 * The policy report carries whatever the administrator listed in
 * auth_policy_request_attributes, and Dovecot's default list cannot tell a
 * master user's login from the user's own (checked on 2.3.19.1), so a
 * report must carry "master" (master=%{master_user}): one without it is
 * PUSHREQ_BAD, never a login.  The event carries "master_user" itself.
 * Limits: bodies over PUSHREQ_MAX_BODY are refused before parsing, JSON
 * nesting deeper than 16; an address with an IPv6 zone is skipped.
 */
#ifndef LEAFMAIL_RELAYD_PUSHREQ_H
#define LEAFMAIL_RELAYD_PUSHREQ_H

#include <stddef.h>

#include "addr.h"
#include "sessions.h"

#define PUSHREQ_MAX_BODY 16384
#define PUSHREQ_KEY_MIN 16
#define PUSHREQ_KEY_MAX 128

enum pushreq_kind { PUSHREQ_POLICY, PUSHREQ_EVENTS };

enum pushreq_result { PUSHREQ_LOGIN, PUSHREQ_END, PUSHREQ_SKIP, PUSHREQ_BAD };

#define PUSHREQ_OK 0

struct pushreq_key {
	unsigned char digest[32];
};

struct pushreq_event {
	struct addr a;
	char session[SESSION_ID_MAX + 1]; /* "" when none */
	size_t session_len;
};

int pushreq_key_set(struct pushreq_key *k, const char *text, size_t len,
                    char *err, size_t errlen);
int pushreq_auth(enum pushreq_kind kind, const struct pushreq_key *k,
                 const char *method, const char *path,
                 const char *header_key);
enum pushreq_result pushreq_body(enum pushreq_kind kind, const char *body,
                                 size_t len, struct pushreq_event *ev,
                                 char *why, size_t whylen);
/* The response body Dovecot expects for a request of kind ("" or the
 * policy's JSON verdict, always "no objection"). */
const char *pushreq_reply(enum pushreq_kind kind);

#endif
