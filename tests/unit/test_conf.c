/*
 * test_conf.c - the configuration schema: the BRIEF's and the shipped
 * sample files parse; every kind of mistake is reported with file and
 * line.  Bad files are written to a temporary directory, one per case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

static const char *
src_dir(void)
{
	const char *s = getenv("LEAFMAIL_SRC");
	return s ? s : ".";
}

static void
parses(const char *rel)
{
	char path[4096], err[2048];
	cfg_t *cfg;

	snprintf(path, sizeof(path), "%s/%s", src_dir(), rel);
	cfg = conf_load(path, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s: %s", rel, err);
	conf_free(cfg);
}

static void
test_brief_sample(void **state)
{
	(void)state;
	parses("tests/data/conf/brief.conf");
}

static void
test_shipped_sample(void **state)
{
	(void)state;
	parses("conf/leafmail.conf");
}

static void
test_defaults(void **state)
{
	char path[] = "/tmp/leafmail-conf-XXXXXX", err[1024];
	struct cidr_list l;
	cfg_t *cfg, *relay;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "# empty\n", 8), 8);
	close(fd);
	cfg = conf_load(path, err, sizeof(err));
	unlink(path);
	assert_non_null(cfg);
	relay = cfg_getsec(cfg, "relay");
	assert_non_null(relay);
	assert_int_equal(conf_duration(relay, "expire"), 1800);
	assert_string_equal(cfg_getstr(relay, "table"), "/var/lib/leafmail/relay");
	assert_int_equal(conf_cidr_list(relay, "ignore-networks", &l), 0);
	assert_int_equal(l.n, 2);
	cidr_list_free(&l);
	assert_string_equal(cfg_getstr(cfg, "user"), "leafmail");
	assert_string_equal(cfg_getstr(cfg_getsec(cfg, "milter"), "socket"),
	                    "unix:/run/leafmail/milter.sock");
	conf_free(cfg);
}

/* Each bad configuration and the "line: text" its message must contain. */
static const struct {
	const char *text;
	int line;
	const char *needle;
} bad[] = {
	{"user = \"x\"\nbogus = 1\n", 2, "bogus"},
	{"relay {\n  table = \"/t\"\n  expire = \"30 minutes\"\n}\n", 3, "invalid duration"},
	{"relay {\n  expire = \"-5m\"\n}\n", 2, "invalid duration"},
	{"relay {\n  expire = \"10\"\n}\n", 2, "invalid duration"},
	{"relay {\n\n  ignore-networks = { \"10.0.0.1/8\" }\n}\n", 3, "invalid network"},
	{"relay {\n  ignore-networks = { \"not-an-ip\" }\n}\n", 2, "invalid network"},
	{"milter {\n  socket = \"tcp:1234\"\n}\n", 2, "socket"},
	{"milter {\n  socket-mode = \"0999\"\n}\n", 2, "octal"},
	{"milter {\n  colour = \"blue\"\n}\n", 2, "colour"},
	{"relayd {\n  source \"/x\" {\n    format = \"exim\"\n  }\n}\n", 3, "unknown log format"},
	{"relayd {\n  source \"/x\" {\n    format = \"custom\"\n  }\n}\n", 0, "needs a regex"},
	{"umtp {\n  peer \"a.example\" {\n    address = \"192.0.2.1\"\n  }\n}\n", 3, "HOST:PORT"},
	{"umtp {\n  peer \"a.example\" {\n    address = \"192.0.2.1:1\"\n    protocol = 3\n  }\n}\n", 4, "protocol"},
	{"tunnel \"t\" {\n  ssh-port = 70000\n  ssh-destination = \"a@b\"\n}\n", 2, "port"},
	{"user = \n", 0, ""},
};

static void
test_errors(void **state)
{
	char path[] = "/tmp/leafmail-conf-XXXXXX", err[2048], want[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = mkstemp(path);
		cfg_t *cfg;

		assert_true(fd >= 0);
		assert_int_equal(write(fd, bad[i].text, strlen(bad[i].text)),
		                 (ssize_t)strlen(bad[i].text));
		close(fd);
		cfg = conf_load(path, err, sizeof(err));
		if (cfg != NULL)
			fail_msg("case %zu accepted: %s", i, bad[i].text);
		/* Every message starts with the file name. */
		if (strncmp(err, path, strlen(path)) != 0)
			fail_msg("case %zu: message lacks the file name: %s", i, err);
		if (bad[i].line > 0) {
			snprintf(want, sizeof(want), "%s:%d: ", path, bad[i].line);
			if (strstr(err, want) == NULL)
				fail_msg("case %zu: want \"%s\" in: %s", i, want, err);
		}
		if (strstr(err, bad[i].needle) == NULL)
			fail_msg("case %zu: want \"%s\" in: %s", i, bad[i].needle, err);
		unlink(path);
		memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	}
}

static void
test_missing_file(void **state)
{
	char err[512];

	(void)state;
	assert_null(conf_load("/nonexistent/leafmail.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/leafmail.conf: No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_brief_sample),
		cmocka_unit_test(test_shipped_sample),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
