/*
 * pushreq.c - the meaning of Dovecot's pushed requests (see pushreq.h).
 *
 * Facts this follows, checked against Debian 12's Dovecot 2.3.19.1
 * (tests/relayd/push_*.t run it each way):
 *  - auth policy, report only: one "POST /?command=report" per
 *    authentication, Content-Type application/json, the body built from
 *    auth_policy_request_attributes, e.g.
 *      {"login":"alice","master":"","protocol":"imap","remote":"127.0.0.3",
 *       "session_id":"6fMzkA9irqF/AAAD","success":true,
 *       "policy_reject":false,"tls":false}
 *    a failed login has "success":false; a master user's login looks like
 *    the user's own ("login":"alice") unless master=%{master_user} is
 *    listed; SMTP AUTH through Dovecot SASL comes as "protocol":"smtp";
 *    nothing is sent when the session ends.
 *  - event exporter: {"event":"auth_request_finished",...,"fields":{
 *      "success":"yes","service":"imap","session":"...","remote_ip":...,
 *      "real_remote_ip":...,"user":"alice"[,"master_user":"admin"]}}
 *    and, at the end of a mail session, {"event":
 *      "mail_user_session_finished",...,"fields":{"user":"alice",
 *      "session":"...",...}} with the login's session id.
 * Dovecot reads the policy's answer as JSON ({"status":0} is "no
 * objection"); the exporter ignores the body of a 2xx answer.
 */
#include <openssl/evp.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "pushreq.h"
#include "secret.h"

#define JSON_DEPTH 16

static int
key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' ||
	       c == '-';
}

static void
digest(const char *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;
	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		memset(out, 0xff, 32); /* matches nothing a digest yields */
}

int
pushreq_key_set(struct pushreq_key *k, const char *text, size_t len,
                char *err, size_t errlen)
{
	/* A key file written with echo ends in a newline. */
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len < PUSHREQ_KEY_MIN || len > PUSHREQ_KEY_MAX) {
		snprintf(err, errlen, "the API key must be %d to %d characters "
		         "(openssl rand -hex 32 makes one)",
		         PUSHREQ_KEY_MIN, PUSHREQ_KEY_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (!key_char(text[i])) {
			snprintf(err, errlen, "the API key may hold only "
			         "letters, digits and . _ ~ - (it goes into an "
			         "HTTP header or a URL path)");
			return -1;
		}
	digest(text, len, k->digest);
	return 0;
}

/* Constant time in the secret: only digests are compared. */
static int
key_matches(const struct pushreq_key *k, const char *given, size_t len)
{
	unsigned char d[32];
	if (given == NULL)
		return 0;
	digest(given, len, d);
	return secret_equal(d, k->digest, sizeof d);
}

int
pushreq_auth(enum pushreq_kind kind, const struct pushreq_key *k,
             const char *method, const char *path, const char *header_key)
{
	if (method == NULL || strcmp(method, "POST") != 0)
		return 405;
	if (kind == PUSHREQ_POLICY)
		return key_matches(k, header_key,
		                   header_key ? strlen(header_key) : 0)
		           ? PUSHREQ_OK
		           : 403;
	/* The exporter sends no header of our choosing: the key is the
	 * path, "/<key>". */
	if (path == NULL || path[0] != '/')
		return 403;
	return key_matches(k, path + 1, strlen(path + 1)) ? PUSHREQ_OK : 403;
}

const char *
pushreq_reply(enum pushreq_kind kind)
{
	return kind == PUSHREQ_POLICY ? "{\"status\":0,\"msg\":\"\"}" : "";
}

/* A member of o that is a string, or NULL. */
static const char *
str_member(json_object *o, const char *key, size_t *len)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static int
str_is(const char *s, size_t len, const char *lit)
{
	return s != NULL && len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* A client address: no zone (see logparse.h), canonical form. */
static int
client_addr(const char *s, size_t len, struct addr *a)
{
	return s != NULL && memchr(s, '%', len) == NULL &&
	       addr_parsen(s, len, a) == 0;
}

static void
take_session(struct pushreq_event *ev, const char *s, size_t len)
{
	ev->session[0] = '\0';
	ev->session_len = 0;
	if (s == NULL || !sessions_id_ok(s, len))
		return;
	memcpy(ev->session, s, len);
	ev->session[len] = '\0';
	ev->session_len = len;
}

static int
pop_or_imap(const char *s, size_t len)
{
	return str_is(s, len, "pop3") || str_is(s, len, "imap");
}

static enum pushreq_result
policy(json_object *o, struct pushreq_event *ev, char *why, size_t whylen)
{
	json_object *v;
	size_t len = 0, mlen = 0;

	if (!json_object_object_get_ex(o, "success", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		snprintf(why, whylen, "no boolean \"success\"");
		return PUSHREQ_BAD;
	}
	if (!json_object_get_boolean(v))
		return PUSHREQ_SKIP;
	if (json_object_object_get_ex(o, "policy_reject", &v) &&
	    json_object_get_boolean(v))
		return PUSHREQ_SKIP;
	const char *master = str_member(o, "master", &mlen);
	if (master == NULL) {
		snprintf(why, whylen, "no \"master\": add "
		         "master=%%{master_user} to "
		         "auth_policy_request_attributes");
		return PUSHREQ_BAD;
	}
	if (mlen > 0)
		return PUSHREQ_SKIP;
	const char *proto = str_member(o, "protocol", &len);
	if (!pop_or_imap(proto, len))
		return PUSHREQ_SKIP;
	const char *remote = str_member(o, "remote", &len);
	if (remote == NULL) {
		snprintf(why, whylen, "no \"remote\"");
		return PUSHREQ_BAD;
	}
	if (!client_addr(remote, len, &ev->a))
		return PUSHREQ_SKIP; /* a zone, or no address at all */
	const char *sid = str_member(o, "session_id", &len);
	take_session(ev, sid, len);
	return PUSHREQ_LOGIN;
}

static enum pushreq_result
event(json_object *o, struct pushreq_event *ev, char *why, size_t whylen)
{
	json_object *f;
	size_t len = 0;
	const char *name = str_member(o, "event", &len);

	if (name == NULL) {
		snprintf(why, whylen, "no \"event\"");
		return PUSHREQ_BAD;
	}
	int login = str_is(name, len, "auth_request_finished");
	int end = str_is(name, len, "mail_user_session_finished");
	if (!login && !end)
		return PUSHREQ_SKIP;
	if (!json_object_object_get_ex(o, "fields", &f) ||
	    !json_object_is_type(f, json_type_object)) {
		snprintf(why, whylen, "no \"fields\" object");
		return PUSHREQ_BAD;
	}
	const char *sid = str_member(f, "session", &len);
	take_session(ev, sid, len);
	if (end)
		return ev->session_len > 0 ? PUSHREQ_END : PUSHREQ_SKIP;
	const char *success = str_member(f, "success", &len);
	if (!str_is(success, len, "yes"))
		return PUSHREQ_SKIP;
	const char *master = str_member(f, "master_user", &len);
	if (master != NULL && len > 0)
		return PUSHREQ_SKIP;
	const char *service = str_member(f, "service", &len);
	if (!pop_or_imap(service, len))
		return PUSHREQ_SKIP;
	const char *remote = str_member(f, "remote_ip", &len);
	if (remote == NULL || !client_addr(remote, len, &ev->a))
		return PUSHREQ_SKIP;
	return PUSHREQ_LOGIN;
}

enum pushreq_result
pushreq_body(enum pushreq_kind kind, const char *body, size_t len,
             struct pushreq_event *ev, char *why, size_t whylen)
{
	enum pushreq_result r;

	memset(ev, 0, sizeof *ev);
	if (len > PUSHREQ_MAX_BODY) {
		snprintf(why, whylen, "body over %d bytes", PUSHREQ_MAX_BODY);
		return PUSHREQ_BAD;
	}
	if (len == 0 || body == NULL) {
		snprintf(why, whylen, "empty body");
		return PUSHREQ_BAD;
	}
	json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok == NULL) {
		snprintf(why, whylen, "out of memory");
		return PUSHREQ_BAD;
	}
	json_object *o = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	/* Only white space may follow the object. */
	while (used < len && (body[used] == ' ' || body[used] == '\n' ||
	                      body[used] == '\r' || body[used] == '\t'))
		used++;
	if (o == NULL || e != json_tokener_success || used != len ||
	    !json_object_is_type(o, json_type_object)) {
		snprintf(why, whylen, "not one JSON object%s%s",
		         e != json_tokener_success ? ": " : "",
		         e == json_tokener_continue ? "cut short"
		         : e != json_tokener_success ? json_tokener_error_desc(e)
		                                     : "");
		json_object_put(o);
		return PUSHREQ_BAD;
	}
	r = kind == PUSHREQ_POLICY ? policy(o, ev, why, whylen)
	                           : event(o, ev, why, whylen);
	json_object_put(o);
	return r;
}
