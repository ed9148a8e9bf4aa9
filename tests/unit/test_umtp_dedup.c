/*
 * test_umtp_dedup.c - lib/dedup.c, the UMTP duplicate store: key
 * normalisation, check/record in either order (UMTP first, SMTP first),
 * expiry after the TTL, sweeping, and the file's place under state-dir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dedup.h"
#include "lmdbfile_testutil.h"

static const time_t now0 = 1795348800;
#define TTL (3 * 86400)

struct fx {
	char dir[256];
	char path[512];
	struct lmdbfile *t;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256];

	assert_non_null(f);
	assert_int_equal(tt_mkdtemp(f->dir, sizeof f->dir), 0);
	assert_int_equal(dedup_path(f->dir, f->path, sizeof f->path), 0);
	f->t = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof err);
	assert_non_null(f->t);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	lmdbfile_close(f->t);
	tt_rmtree(f->dir);
	free(f);
	return 0;
}

static void
test_normalise(void **state)
{
	char o[DEDUP_MAX_ID], big[400];
	(void)state;
	assert_int_equal(dedup_norm_msgid("  <Abc.X@Example.ORG> ", o, sizeof o), 0);
	assert_string_equal(o, "Abc.X@example.org");
	assert_int_equal(dedup_norm_msgid("no-at-Sign", o, sizeof o), 0);
	assert_string_equal(o, "no-at-Sign");
	assert_int_equal(dedup_norm_msgid("<>", o, sizeof o), -1);
	assert_int_equal(dedup_norm_msgid("   ", o, sizeof o), -1);
	assert_int_equal(dedup_norm_rcpt("<Bob@Example.NET>", o, sizeof o), 0);
	assert_string_equal(o, "bob@example.net");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(dedup_norm_rcpt(big, o, sizeof o), -1);
	assert_int_equal(dedup_path("/var/lib/leafmail", big, sizeof big), 0);
	assert_string_equal(big, "/var/lib/leafmail/umtp-dedup.lmdb");
}

static void
test_umtp_first(void **state)
{
	struct fx *f = *state;
	struct dedup_record r;
	char err[256];
	const char *rc2[] = {"bob@example.net", "Carol@Example.net"};

	assert_int_equal(dedup_check(f->t, "<m1@example.org>", "bob@example.net",
	                             now0, TTL, &r, err, sizeof err), 0);
	assert_int_equal(dedup_record(f->t, "<m1@example.org>", rc2, 2,
	                              DEDUP_VIA_UMTP, now0, 0, err, sizeof err), LMDBFILE_OK);
	/* The SMTP copy, later, with other spellings: seen. */
	assert_int_equal(dedup_check(f->t, "<m1@EXAMPLE.org>", "<carol@example.net>",
	                             now0 + 60, TTL, &r, err, sizeof err), 1);
	assert_int_equal(r.via, DEDUP_VIA_UMTP);
	assert_int_equal(r.first_seen, now0);
	/* Another recipient, another message, a case-changed left part: not. */
	assert_int_equal(dedup_check(f->t, "<m1@example.org>", "dave@example.net",
	                             now0 + 60, TTL, &r, err, sizeof err), 0);
	assert_int_equal(dedup_check(f->t, "<m2@example.org>", "bob@example.net",
	                             now0 + 60, TTL, &r, err, sizeof err), 0);
	assert_int_equal(dedup_check(f->t, "<M1@example.org>", "bob@example.net",
	                             now0 + 60, TTL, &r, err, sizeof err), 0);
	/* Expired after the TTL. */
	assert_int_equal(dedup_check(f->t, "<m1@example.org>", "bob@example.net",
	                             now0 + TTL - 1, TTL, &r, err, sizeof err), 1);
	assert_int_equal(dedup_check(f->t, "<m1@example.org>", "bob@example.net",
	                             now0 + TTL, TTL, &r, err, sizeof err), 0);
}

static void
test_smtp_first_and_sweep(void **state)
{
	struct fx *f = *state;
	struct dedup_record r;
	char err[256], v[64];
	const char *one[] = {"bob@example.net"};
	const char *bad[] = {""};

	assert_int_equal(dedup_record(f->t, "<s@example.org>", one, 1,
	                              DEDUP_VIA_SMTP, now0, 0, err, sizeof err), LMDBFILE_OK);
	assert_int_equal(dedup_record(f->t, "<old@example.org>", one, 1,
	                              DEDUP_VIA_UMTP, now0 - TTL, 0, err, sizeof err), LMDBFILE_OK);
	/* No Message-ID or recipient: nothing recorded, never "seen". */
	assert_int_equal(dedup_record(f->t, "", one, 1, DEDUP_VIA_SMTP, now0, 0, err,
	                              sizeof err), LMDBFILE_OK);
	assert_int_equal(dedup_record(f->t, "<x@y>", bad, 1, DEDUP_VIA_SMTP, now0, 0, err,
	                              sizeof err), LMDBFILE_OK);
	assert_int_equal(dedup_check(f->t, "", "bob@example.net", now0, TTL, &r, err,
	                             sizeof err), 0);
	assert_int_equal(dedup_check(f->t, "<s@example.org>", "BOB@example.net",
	                             now0 + 1, TTL, &r, err, sizeof err), 1);
	assert_int_equal(r.via, DEDUP_VIA_SMTP);
	/* The stored form: key "msgid\0rcpt\0", value "time via\0". */
	assert_int_equal(lmdbfile_get(f->t, "s@example.org\0bob@example.net", 30, v,
	                           sizeof v, err, sizeof err), LMDBFILE_OK);
	assert_string_equal(v, "1795348800 smtp");
	assert_int_equal(tt_put(f->t, "garbage", "not a record"), LMDBFILE_OK);
	assert_int_equal(dedup_sweep(f->t, now0 + 1, TTL, 1, err, sizeof err), 2);
	assert_int_equal(dedup_check(f->t, "<s@example.org>", "bob@example.net",
	                             now0 + 1, TTL, &r, err, sizeof err), 1);
	assert_int_equal(dedup_sweep(f->t, now0 + TTL, TTL, 10, err, sizeof err), 1);
	assert_int_equal(dedup_sweep(f->t, now0 + TTL, TTL, 10, err, sizeof err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise),
	    cmocka_unit_test_setup_teardown(test_umtp_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smtp_first_and_sweep, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
