/*
 * conf.c - the one leafmail.conf schema for every program (see conf.h).
 *
 * All sections are declared here, whichever program reads them, so that a
 * misspelt key is an error in every program and `-t` of any of them checks
 * the whole file.  Values whose syntax libconfuse can't check itself
 * (durations, networks, socket specifications, octal modes, host:port) get
 * a validate callback, which runs while the option is parsed, so the
 * message carries the right line.
 *
 * Errors: conf_load() collects every message libconfuse reports, each
 * prefixed "FILE:LINE: ", into the caller's buffer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf.h"
#include "duration.h"
#include "listen.h"
#include "redis.h"

struct errbuf {
	char *buf;
	size_t len;
	size_t used;
};

/* libconfuse's error hook has no user pointer; conf_load() is not called
 * from several threads at once (start-up and reload only), so a
 * thread-local pointer is enough. */
static _Thread_local struct errbuf *cur_err;

static void
conf_errfn(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[512];
	struct errbuf *e = cur_err;
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (e == NULL || e->used + 1 >= e->len)
		return;
	if (cfg != NULL && cfg->filename != NULL && cfg->line > 0)
		n = snprintf(e->buf + e->used, e->len - e->used, "%s%s:%d: %s",
		             e->used ? "\n" : "", cfg->filename, cfg->line, msg);
	else
		n = snprintf(e->buf + e->used, e->len - e->used, "%s%s%s",
		             e->used ? "\n" : "", cfg && cfg->filename ? cfg->filename : "",
		             msg);
	if (n > 0)
		e->used += (size_t)n < e->len - e->used ? (size_t)n : e->len - e->used - 1;
}

static int
v_duration(cfg_t *cfg, cfg_opt_t *opt)
{
	long long s;
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v == NULL || duration_parse(v, &s) != 0) {
		cfg_error(cfg, "%s: invalid duration \"%s\" (a number and a unit: "
		          "\"30s\", \"10m\", \"2h\", \"7d\")", opt->name, v ? v : "");
		return -1;
	}
	return 0;
}

static int
v_networks(cfg_t *cfg, cfg_opt_t *opt)
{
	struct cidr c;
	unsigned i;

	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *v = cfg_opt_getnstr(opt, i);
		if (v == NULL || cidr_parse(v, &c) != 0) {
			cfg_error(cfg, "%s: invalid network \"%s\" (an address or "
			          "address/prefix with no host bits set)", opt->name,
			          v ? v : "");
			return -1;
		}
	}
	return 0;
}

static int
v_nonneg(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 0) {
		cfg_error(cfg, "%s: must not be negative", opt->name);
		return -1;
	}
	return 0;
}

static int
v_positive(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 1) {
		cfg_error(cfg, "%s: must be at least 1", opt->name);
		return -1;
	}
	return 0;
}

static int
v_port(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 1 || v > 65535) {
		cfg_error(cfg, "%s: %ld is not a port number", opt->name, v);
		return -1;
	}
	return 0;
}

static int
v_mode(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);
	char *end;
	unsigned long m;

	errno = 0;
	m = v ? strtoul(v, &end, 8) : 0;
	if (v == NULL || *v == '\0' || *end != '\0' || errno || m > 07777) {
		cfg_error(cfg, "%s: \"%s\" is not an octal file mode", opt->name,
		          v ? v : "");
		return -1;
	}
	return 0;
}

/* "HOST:PORT", "[V6]:PORT" (lib/listen.c reads them the same way). */
static int
v_hostport(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);
	char *host = NULL, *port = NULL;
	int ok = v != NULL && hostport_split(v, &host, &port) == 0 &&
	         hostport_port_ok(port);

	free(host);
	free(port);
	if (!ok) {
		cfg_error(cfg, "%s: \"%s\" is not HOST:PORT (write IPv6 "
		          "addresses in brackets)", opt->name, v ? v : "");
		return -1;
	}
	return 0;
}

/* milter.required-headers: RFC 5322 field names (printable ASCII but ':';
 * '%' refused too, the name goes into an SMTP reply text), at most 32 of
 * them (the milter keeps one bit each). */
#define CONF_MAX_REQUIRED_HEADERS 32
static int
v_header_names(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned i;

	if (cfg_opt_size(opt) > CONF_MAX_REQUIRED_HEADERS) {
		cfg_error(cfg, "%s: at most %d header names", opt->name,
		          CONF_MAX_REQUIRED_HEADERS);
		return -1;
	}
	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *v = cfg_opt_getnstr(opt, i), *p;
		int bad = v == NULL || v[0] == '\0' || strlen(v) > 64;

		for (p = v; !bad && *p != '\0'; p++)
			bad = *p < 33 || *p > 126 || *p == ':' || *p == '%';
		if (bad) {
			cfg_error(cfg, "%s: \"%s\" is not a header field name (such as "
			          "\"From\", without the colon)", opt->name, v ? v : "");
			return -1;
		}
	}
	return 0;
}

/* libmilter socket: unix:/path, local:/path, inet:PORT@HOST, inet6:PORT@HOST */
static int
v_milter_socket(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && (strncmp(v, "unix:/", 6) == 0 || strncmp(v, "local:/", 7) == 0))
		return 0;
	if (v != NULL && (strncmp(v, "inet:", 5) == 0 || strncmp(v, "inet6:", 6) == 0)) {
		const char *p = strchr(v, ':') + 1;
		char *end;
		long port = strtol(p, &end, 10);
		if (end != p && port > 0 && port < 65536 &&
		    (*end == '\0' || (*end == '@' && end[1] != '\0')))
			return 0;
	}
	cfg_error(cfg, "%s: \"%s\" is not unix:/PATH, inet:PORT@HOST or "
	          "inet6:PORT@HOST", opt->name, v ? v : "");
	return -1;
}

/* relay.store, umtp.dedup-store */
static int
v_store(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && (strcmp(v, "lmdb") == 0 || strcmp(v, "redis") == 0))
		return 0;
	cfg_error(cfg, "%s: must be \"lmdb\" or \"redis\"", opt->name);
	return -1;
}

/* redis.key-prefix: fits redis.h's buffer; printable, so that it reads
 * back in logs and redis-cli as written. */
static int
v_key_prefix(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);
	size_t i;

	if (v == NULL || strlen(v) >= REDIS_PREFIX_MAX) {
		cfg_error(cfg, "%s: at most %d bytes", opt->name, REDIS_PREFIX_MAX - 1);
		return -1;
	}
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] == 0x7f) {
			cfg_error(cfg, "%s: no blanks or control characters", opt->name);
			return -1;
		}
	return 0;
}

/* redis.address: HOST:PORT or unix:/PATH (sun_path holds 107 bytes). */
static int
v_redis_address(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && strncmp(v, "unix:/", 6) == 0) {
		if (strlen(v + 5) < sizeof(((struct sockaddr_un *)0)->sun_path))
			return 0;
		cfg_error(cfg, "%s: socket path too long", opt->name);
		return -1;
	}
	if (v != NULL && strncmp(v, "unix:", 5) == 0) {
		cfg_error(cfg, "%s: \"%s\": the socket path must be absolute",
		          opt->name, v);
		return -1;
	}
	return v_hostport(cfg, opt);
}

static int
v_protocol(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v != 1 && v != 2) {
		cfg_error(cfg, "%s: protocol must be 1 or 2", opt->name);
		return -1;
	}
	return 0;
}

static int
v_source_format(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char *const formats[] = {
		"dovecot", "courier", "cyrus", "uw-imap", "qpopper", "custom", NULL};
	const char *v = cfg_opt_getnstr(opt, 0);
	int i;

	for (i = 0; v != NULL && formats[i] != NULL; i++)
		if (strcmp(v, formats[i]) == 0)
			return 0;
	cfg_error(cfg, "%s: unknown log format \"%s\" (dovecot, courier, cyrus, "
	          "uw-imap, qpopper, custom)", opt->name, v ? v : "");
	return -1;
}

static int
v_inject(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && (strncmp(v, "smtp://", 7) == 0 ||
	                  strncmp(v, "sendmail:/", 10) == 0))
		return 0;
	cfg_error(cfg, "%s: \"%s\" is not smtp://HOST:PORT or sendmail:/PATH",
	          opt->name, v ? v : "");
	return -1;
}

/* milter.umtp-dedup-unavailable */
static int
v_dedup_unavailable(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && (strcmp(v, "tempfail") == 0 || strcmp(v, "deliver") == 0))
		return 0;
	cfg_error(cfg, "%s: must be \"tempfail\" or \"deliver\"", opt->name);
	return -1;
}

static int
v_quota_action(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && (strcmp(v, "tempfail") == 0 || strcmp(v, "bounce") == 0))
		return 0;
	cfg_error(cfg, "%s: must be \"tempfail\" or \"bounce\"", opt->name);
	return -1;
}

static int
v_facility(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char *const fac[] = {"mail", "daemon", "local0", "local1",
		"local2", "local3", "local4", "local5", "local6", "local7", NULL};
	const char *v = cfg_opt_getnstr(opt, 0);
	int i;

	for (i = 0; v != NULL && fac[i] != NULL; i++)
		if (strcmp(v, fac[i]) == 0)
			return 0;
	cfg_error(cfg, "%s: unknown syslog facility \"%s\"", opt->name, v ? v : "");
	return -1;
}

static cfg_opt_t relay_opts[] = {
	CFG_STR("table", "/var/lib/leafmail/relay", CFGF_NONE),
	CFG_STR("expire", "30m", CFGF_NONE),
	CFG_STR_LIST("ignore-networks", "{127.0.0.0/8, ::1/128}", CFGF_NONE),
	CFG_STR("sweep-interval", "5s", CFGF_NONE),
	CFG_STR("store", "lmdb", CFGF_NONE),
	CFG_STR("max-clock-skew", "5m", CFGF_NONE),
	CFG_BOOL("hold-while-connected", cfg_false, CFGF_NONE),
	CFG_STR("hold-max", "24h", CFGF_NONE),
	CFG_INT("hold-max-sessions", 100000, CFGF_NONE),
	CFG_END()};

static cfg_opt_t source_opts[] = {
	CFG_STR("format", "dovecot", CFGF_NONE),
	CFG_STR("regex", NULL, CFGF_NODEFAULT),
	CFG_INT("ip-group", 1, CFGF_NONE),
	CFG_STR("api-key-file", NULL, CFGF_NODEFAULT),
	CFG_END()};

static cfg_opt_t relayd_opts[] = {
	CFG_SEC("source", source_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()};

static cfg_opt_t milter_opts[] = {
	CFG_STR("socket", "unix:/run/leafmail/milter.sock", CFGF_NONE),
	CFG_STR("socket-mode", "0660", CFGF_NONE),
	CFG_STR_LIST("local-domains", "{}", CFGF_NONE),
	CFG_STR_LIST("trusted-networks", "{127.0.0.0/8, ::1/128}", CFGF_NONE),
	CFG_INT("max-connections-per-minute", 0, CFGF_NONE),
	CFG_STR_LIST("required-headers", "{}", CFGF_NONE),
	CFG_BOOL("helo-check", cfg_false, CFGF_NONE),
	CFG_BOOL("umtp-shadow", cfg_false, CFGF_NONE),
	CFG_BOOL("umtp-dedup", cfg_false, CFGF_NONE),
	CFG_STR("umtp-dedup-unavailable", "tempfail", CFGF_NONE),
	CFG_END()};

static cfg_opt_t peer_opts[] = {
	CFG_STR("address", NULL, CFGF_NODEFAULT),
	CFG_STR("key-file", NULL, CFGF_NODEFAULT),
	CFG_INT("protocol", 2, CFGF_NONE),
	CFG_END()};

static cfg_opt_t umtp_opts[] = {
	CFG_STR("listen", "0.0.0.0:2526", CFGF_NONE),
	CFG_STR("key-file", "/etc/leafmail/umtp.key", CFGF_NONE),
	CFG_STR("inject", "smtp://127.0.0.1:10026", CFGF_NONE),
	CFG_INT("max-message-size", 1048576, CFGF_NONE),
	CFG_STR("dedup-ttl", "3d", CFGF_NONE),
	CFG_STR("max-skew", "5m", CFGF_NONE),
	CFG_INT("inject-retries", 3, CFGF_NONE),
	CFG_STR("inject-timeout", "60s", CFGF_NONE),
	CFG_INT("replay-cache-size", 262144, CFGF_NONE),
	CFG_INT("socket-buffer", 16777216, CFGF_NONE),
	CFG_STR("dedup-sweep-interval", "10m", CFGF_NONE),
	CFG_STR("dedup-store", "lmdb", CFGF_NONE),
	CFG_STR("claim-wait", "1s", CFGF_NONE),
	CFG_SEC("peer", peer_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()};

static cfg_opt_t tunnel_opts[] = {
	CFG_STR("listen", "127.0.0.1:10025", CFGF_NONE),
	CFG_STR("ssh-destination", NULL, CFGF_NODEFAULT),
	CFG_INT("ssh-port", 22, CFGF_NONE),
	CFG_STR("identity-file", NULL, CFGF_NODEFAULT),
	CFG_STR("known-hosts-file", NULL, CFGF_NODEFAULT),
	CFG_STR("ssh-config", "none", CFGF_NONE),
	CFG_STR("ssh-program", "/usr/bin/ssh", CFGF_NONE),
	CFG_STR("remote", "localhost:25", CFGF_NONE),
	CFG_STR("idle", "10s", CFGF_NONE),
	CFG_STR("idle-jitter", "25s", CFGF_NONE),
	CFG_STR("connect-timeout", "15s", CFGF_NONE),
	CFG_STR("failure-reply", "421 4.4.2 smarthost tunnel unavailable", CFGF_NONE),
	CFG_INT("max-clients", 256, CFGF_NONE),
	CFG_STR("server-alive-interval", "30s", CFGF_NONE),
	CFG_INT("server-alive-count-max", 3, CFGF_NONE),
	CFG_END()};

static cfg_opt_t deliver_opts[] = {
	CFG_STR("maildir-base", "/var/mail/vhosts", CFGF_NONE),
	CFG_STR("mailboxes", "file:/etc/leafmail/mailboxes", CFGF_NONE),
	CFG_STR("recipient-delimiter", "+", CFGF_NONE),
	CFG_STR("lmtp-socket", "unix:/run/leafmail/lmtp.sock", CFGF_NONE),
	CFG_STR("lmtp-socket-mode", "0660", CFGF_NONE),
	CFG_STR("lmtp-socket-group", "postfix", CFGF_NONE),
	CFG_INT("lmtp-max-sessions", 100, CFGF_NONE),
	CFG_STR("lmtp-stop-grace", "10s", CFGF_NONE),
	CFG_STR("lmtp-idle-timeout", "5m", CFGF_NONE),
	CFG_INT("max-message-size", 10240000, CFGF_NONE),
	CFG_BOOL("fold-case", cfg_true, CFGF_NONE),
	CFG_STR("quota-action", "tempfail", CFGF_NONE),
	CFG_STR("domain-query", NULL, CFGF_NODEFAULT),
	CFG_STR("mailbox-query", NULL, CFGF_NODEFAULT),
	CFG_END()};

static cfg_opt_t policyd_opts[] = {
	CFG_STR("socket", "unix:/var/spool/postfix/leafmail/policy.sock", CFGF_NONE),
	CFG_STR("socket-mode", "0660", CFGF_NONE),
	CFG_STR("socket-group", "postfix", CFGF_NONE),
	CFG_STR_LIST("local-domains", "{}", CFGF_NONE),
	CFG_STR_LIST("trusted-networks", "{}", CFGF_NONE),
	CFG_INT("max-connections", 200, CFGF_NONE),
	CFG_STR("idle-timeout", "10m", CFGF_NONE),
	CFG_END()};

static cfg_opt_t redis_opts[] = {
	CFG_STR("address", NULL, CFGF_NODEFAULT),
	CFG_STR("password-file", NULL, CFGF_NODEFAULT),
	CFG_STR("username", NULL, CFGF_NODEFAULT),
	CFG_INT("database", 0, CFGF_NONE),
	CFG_STR("key-prefix", "leafmail:", CFGF_NONE),
	CFG_STR("timeout", "2s", CFGF_NONE),
	CFG_END()};

static cfg_opt_t root_opts[] = {
	CFG_STR("user", "leafmail", CFGF_NONE),
	CFG_STR("state-dir", "/var/lib/leafmail", CFGF_NONE),
	CFG_STR("run-dir", "/run/leafmail", CFGF_NONE),
	CFG_STR("syslog-facility", "mail", CFGF_NONE),
	CFG_INT("log-rate-burst", 10, CFGF_NONE),
	CFG_STR("log-rate-interval", "1m", CFGF_NONE),
	CFG_SEC("relay", relay_opts, CFGF_NONE),
	CFG_SEC("relayd", relayd_opts, CFGF_NONE),
	CFG_SEC("milter", milter_opts, CFGF_NONE),
	CFG_SEC("umtp", umtp_opts, CFGF_NONE),
	CFG_SEC("tunnel", tunnel_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("deliver", deliver_opts, CFGF_NONE),
	CFG_SEC("policyd", policyd_opts, CFGF_NONE),
	CFG_SEC("redis", redis_opts, CFGF_NONE),
	CFG_END()};

struct validator {
	const char *path;
	cfg_validate_callback_t fn;
};

static const struct validator validators[] = {
	{"syslog-facility", v_facility},
	{"log-rate-burst", v_nonneg},
	{"log-rate-interval", v_duration},
	{"relay|expire", v_duration},
	{"relay|sweep-interval", v_duration},
	{"relay|ignore-networks", v_networks},
	{"relay|store", v_store},
	{"relay|max-clock-skew", v_duration},
	{"relay|hold-max", v_duration},
	{"relay|hold-max-sessions", v_positive},
	{"relayd|source|format", v_source_format},
	{"relayd|source|ip-group", v_nonneg},
	{"milter|socket", v_milter_socket},
	{"milter|socket-mode", v_mode},
	{"milter|trusted-networks", v_networks},
	{"milter|max-connections-per-minute", v_nonneg},
	{"milter|required-headers", v_header_names},
	{"milter|umtp-dedup-unavailable", v_dedup_unavailable},
	{"umtp|listen", v_hostport},
	{"umtp|inject", v_inject},
	{"umtp|max-message-size", v_nonneg},
	{"umtp|dedup-ttl", v_duration},
	{"umtp|max-skew", v_duration},
	{"umtp|inject-retries", v_nonneg},
	{"umtp|inject-timeout", v_duration},
	{"umtp|replay-cache-size", v_nonneg},
	{"umtp|socket-buffer", v_nonneg},
	{"umtp|dedup-sweep-interval", v_duration},
	{"umtp|dedup-store", v_store},
	{"umtp|claim-wait", v_duration},
	{"umtp|peer|address", v_hostport},
	{"umtp|peer|protocol", v_protocol},
	{"tunnel|listen", v_hostport},
	{"tunnel|ssh-port", v_port},
	{"tunnel|remote", v_hostport},
	{"tunnel|idle", v_duration},
	{"tunnel|idle-jitter", v_duration},
	{"tunnel|connect-timeout", v_duration},
	{"tunnel|max-clients", v_nonneg},
	{"deliver|quota-action", v_quota_action},
	{"deliver|lmtp-socket-mode", v_mode},
	{"deliver|lmtp-max-sessions", v_nonneg},
	{"deliver|lmtp-stop-grace", v_duration},
	{"deliver|lmtp-idle-timeout", v_duration},
	{"deliver|max-message-size", v_positive},
	{"policyd|socket-mode", v_mode},
	{"policyd|trusted-networks", v_networks},
	{"policyd|max-connections", v_positive},
	{"policyd|idle-timeout", v_duration},
	{"redis|address", v_redis_address},
	{"redis|database", v_nonneg},
	{"redis|key-prefix", v_key_prefix},
	{"redis|timeout", v_duration},
	{NULL, NULL}};

/* Checks that need more than one option, after the whole file parsed. */
static int
conf_check(cfg_t *cfg)
{
	cfg_t *relayd = cfg_getsec(cfg, "relayd");
	cfg_t *umtp = cfg_getsec(cfg, "umtp");
	unsigned i;
	int bad = 0;

	for (i = 0; relayd != NULL && i < cfg_size(relayd, "source"); i++) {
		cfg_t *s = cfg_getnsec(relayd, "source", i);
		int custom = strcmp(cfg_getstr(s, "format"), "custom") == 0;
		/* Pushed logins: "dovecot-policy:ADDR", "dovecot-events:ADDR". */
		int push = strncmp(cfg_title(s), "dovecot-policy:", 15) == 0 ||
		           strncmp(cfg_title(s), "dovecot-events:", 15) == 0;
		if (push != (cfg_getstr(s, "api-key-file") != NULL)) {
			cfg_error(s, push ? "source \"%s\": api-key-file is "
			                    "required"
			                  : "source \"%s\": api-key-file is only "
			                    "for dovecot-policy: and "
			                    "dovecot-events: sources",
			          cfg_title(s));
			bad = 1;
		}
		if (push && ((cfg_getopt(s, "format")->flags & CFGF_MODIFIED) ||
		             cfg_getstr(s, "regex") != NULL)) {
			cfg_error(s, "source \"%s\": format and regex are for "
			          "log sources",
			          cfg_title(s));
			bad = 1;
		}
		if (custom && cfg_getstr(s, "regex") == NULL) {
			cfg_error(s, "source \"%s\": format \"custom\" needs a regex",
			          cfg_title(s));
			bad = 1;
		}
		if (!custom && cfg_getstr(s, "regex") != NULL) {
			cfg_error(s, "source \"%s\": regex is only for format \"custom\"",
			          cfg_title(s));
			bad = 1;
		}
	}
	for (i = 0; umtp != NULL && i < cfg_size(umtp, "peer"); i++) {
		cfg_t *p = cfg_getnsec(umtp, "peer", i);
		if (cfg_getstr(p, "address") == NULL) {
			cfg_error(p, "peer \"%s\": address is required", cfg_title(p));
			bad = 1;
		}
	}
	for (i = 0; i < cfg_size(cfg, "tunnel"); i++) {
		cfg_t *t = cfg_getnsec(cfg, "tunnel", i);
		if (cfg_getstr(t, "ssh-destination") == NULL) {
			cfg_error(t, "tunnel \"%s\": ssh-destination is required",
			          cfg_title(t));
			bad = 1;
		}
	}
	if (strcmp(cfg_getstr(cfg_getsec(cfg, "relay"), "store"), "redis") == 0 &&
	    cfg_getstr(cfg_getsec(cfg, "redis"), "address") == NULL) {
		cfg_error(cfg_getsec(cfg, "relay"),
		          "relay.store is \"redis\" but redis.address is not set");
		bad = 1;
	}
	if (strcmp(cfg_getstr(umtp, "dedup-store"), "redis") == 0 &&
	    cfg_getstr(cfg_getsec(cfg, "redis"), "address") == NULL) {
		cfg_error(umtp, "umtp.dedup-store is \"redis\" but redis.address "
		          "is not set");
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* cfg_init() creates the single sections with their defaults before any
 * file is named, so libconfuse leaves them without a file name and its
 * messages about them would lack one. */
static void
conf_name_sections(cfg_t *cfg, const char *path)
{
	static const char *const single[] = {"relay", "relayd", "milter", "umtp",
		"deliver", "policyd", "redis", NULL};
	int i;

	for (i = 0; single[i] != NULL; i++) {
		cfg_t *sec = cfg_getsec(cfg, single[i]);
		if (sec != NULL && sec->filename == NULL)
			sec->filename = strdup(path);
	}
}

cfg_t *
conf_load(const char *path, char *err, size_t errlen)
{
	struct errbuf e = {err, errlen, 0};
	const struct validator *v;
	cfg_t *cfg;
	FILE *fp;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	/* cfg_parse() reports a missing file as a bare CFG_FILE_ERROR; open it
	 * ourselves for a message with the reason. */
	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	cfg = cfg_init(root_opts, CFGF_NONE);
	if (cfg == NULL) {
		fclose(fp);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	cfg_set_error_function(cfg, conf_errfn);
	for (v = validators; v->path != NULL; v++)
		cfg_set_validate_func(cfg, v->path, v->fn);
	cur_err = &e;
	free(cfg->filename);
	cfg->filename = strdup(path);
	cfg->line = 1;
	conf_name_sections(cfg, path);
	rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	if (rc == CFG_SUCCESS && conf_check(cfg) != 0)
		rc = CFG_PARSE_ERROR;
	cur_err = NULL;
	if (rc != CFG_SUCCESS) {
		if (e.used == 0)
			snprintf(err, errlen, "%s: cannot parse configuration", path);
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

void
conf_free(cfg_t *cfg)
{
	if (cfg != NULL)
		cfg_free(cfg);
}

long long
conf_duration(cfg_t *sec, const char *name)
{
	long long s = 0;
	const char *v = cfg_getstr(sec, name);

	if (v == NULL || duration_parse(v, &s) != 0)
		return 0;
	return s;
}

int
conf_cidr_list(cfg_t *sec, const char *name, struct cidr_list *l)
{
	unsigned i;

	l->v = NULL;
	l->n = 0;
	for (i = 0; i < cfg_size(sec, name); i++) {
		if (cidr_list_add(l, cfg_getnstr(sec, name, i)) != 0) {
			cidr_list_free(l);
			return -1;
		}
	}
	return 0;
}

void
conf_lograte(cfg_t *cfg, struct lograte *lr, const char *what)
{
	long burst = cfg_getint(cfg, "log-rate-burst");

	if (burst > 1000000)
		burst = 1000000;
	lograte_init_named(lr, what, (unsigned)burst,
	                   conf_duration(cfg, "log-rate-interval") * 1000);
}
