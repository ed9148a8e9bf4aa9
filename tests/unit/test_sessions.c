/*
 * test_sessions.c - relayd/sessions.c: the open sessions that hold an
 * address (relay.hold-while-connected).
 *
 * Opening and ending sessions (the address counted, its last session
 * reported), ids refused, the cap evicting the oldest, expiry by age, the
 * sessions of one source ended at once (a server restart), and the saved
 * file: round trip, all-or-nothing on a malformed line, private, no
 * planted link followed.  Then a randomized run against a simple model.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../relayd/sessions.h"

static const char *const names[] = {"/var/log/dovecot.log",
                                    "dovecot-events:127.0.0.1:8080"};

static struct addr
A(const char *s)
{
	struct addr a;
	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static int
open1(struct sessions *s, const char *id, const char *ip, time_t t,
      unsigned src)
{
	struct addr a = A(ip);
	return sessions_open(s, id, strlen(id), &a, t, src);
}

static int
close1(struct sessions *s, const char *id, struct held *last)
{
	return sessions_close(s, id, strlen(id), last);
}

static void
test_open_close(void **state)
{
	struct sessions *s = sessions_new(100, names, 2);
	struct held last, *h;
	struct addr a = A("192.0.2.1");

	(void)state;
	assert_non_null(s);
	assert_int_equal(open1(s, "AAAA+/==", "192.0.2.1", 100, 0), 1);
	assert_int_equal(open1(s, "AAAA+/==", "192.0.2.1", 101, 0), 0);
	assert_int_equal(open1(s, "BBBB", "192.0.2.1", 102, 1), 1);
	assert_int_equal(open1(s, "CCCC", "::ffff:192.0.2.2", 103, 0), 1);
	assert_int_equal(sessions_count(s), 3);
	h = sessions_held(s, &a);
	assert_non_null(h);
	assert_int_equal(h->n, 2);
	h->until = 5000;
	/* Not the last of 192.0.2.1 */
	assert_int_equal(close1(s, "AAAA+/==", &last), 0);
	assert_int_equal(close1(s, "AAAA+/==", &last), 0); /* unknown now */
	/* The last: its entry is handed back, until included */
	assert_int_equal(close1(s, "BBBB", &last), 1);
	assert_true(addr_equal(&last.a, &a));
	assert_int_equal(last.until, 5000);
	assert_null(sessions_held(s, &a));
	/* Bad ids are refused, never stored */
	struct addr b = A("192.0.2.9");
	assert_int_equal(sessions_open(s, "", 0, &b, 1, 0), -1);
	assert_int_equal(sessions_open(s, "a b", 3, &b, 1, 0), -1);
	assert_int_equal(sessions_open(s, "a\nb", 3, &b, 1, 0), -1);
	assert_int_equal(sessions_open(s, "a\0b", 3, &b, 1, 0), -1);
	char longid[SESSION_ID_MAX + 2];
	memset(longid, 'x', sizeof longid);
	assert_int_equal(sessions_open(s, longid, SESSION_ID_MAX + 1, &b, 1, 0),
	                 -1);
	assert_int_equal(sessions_open(s, longid, SESSION_ID_MAX, &b, 1, 0), 1);
	assert_int_equal(sessions_count(s), 2);
	sessions_free(s);
}

static void
test_cap(void **state)
{
	struct sessions *s = sessions_new(3, names, 2);
	char id[16];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof id, "s%d", i);
		assert_int_equal(open1(s, id, i % 2 ? "192.0.2.1" : "192.0.2.2",
		                       100 + i, 0),
		                 1);
	}
	assert_int_equal(sessions_count(s), 3);
	assert_int_equal(sessions_evicted(s), 2);
	assert_int_equal(sessions_evicted(s), 0);
	/* The oldest went: s0, s1 */
	assert_int_equal(close1(s, "s0", NULL), 0);
	assert_int_equal(close1(s, "s1", NULL), 0);
	struct addr a1 = A("192.0.2.1");
	assert_int_equal(sessions_held(s, &a1)->n, 1); /* s3 */
	sessions_free(s);
}

struct seen {
	struct addr a[8];
	int n;
};

static void
collect(void *arg, struct held *h)
{
	struct seen *x = arg;
	assert_true(x->n < 8);
	x->a[x->n++] = h->a;
}

static void
test_expire_and_restart(void **state)
{
	struct sessions *s = sessions_new(100, names, 2);
	struct seen x = {.n = 0};
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2");

	(void)state;
	open1(s, "old1", "192.0.2.1", 100, 0);
	open1(s, "new1", "192.0.2.1", 300, 0);
	open1(s, "old2", "192.0.2.2", 150, 1);
	open1(s, "new2", "192.0.2.3", 400, 1);
	/* Opened before 200: old1 (192.0.2.1 still has new1), old2 (last) */
	assert_int_equal(sessions_expire(s, 200, collect, &x), 2);
	assert_int_equal(x.n, 1);
	assert_true(addr_equal(&x.a[0], &b));
	assert_non_null(sessions_held(s, &a));
	/* Source 0 restarted: new1 ends, the last of 192.0.2.1 */
	x.n = 0;
	assert_int_equal(sessions_close_source(s, 0, collect, &x), 1);
	assert_int_equal(x.n, 1);
	assert_true(addr_equal(&x.a[0], &a));
	assert_int_equal(sessions_count(s), 1);
	sessions_free(s);
}

static char dir[1024];

static void
path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static void
write_raw(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
test_save_load(void **state)
{
	struct sessions *s = sessions_new(100, names, 2), *t;
	char file[PATH_MAX], err[512], buf[512], victim[PATH_MAX];
	struct stat st;
	mode_t old;

	(void)state;
	path(file, sizeof file, "relayd.sessions");
	open1(s, "Sin27g9iz8B/AAAY", "127.0.0.24", 1796670000, 0);
	open1(s, "a7xLkA9iuIIAAAAAAAAAAAAAAAAAAAAB", "::1", 1796670001, 1);
	open1(s, "xyz", "2001:DB8::1", 1796670002, 7); /* a source gone */
	assert_int_equal(sessions_dirty(s), 1);
	old = umask(0);
	assert_int_equal(sessions_save(s, file, err, sizeof err), 0);
	umask(old);
	assert_int_equal(sessions_dirty(s), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	int fd = open(file, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	assert_string_equal(buf,
	    "1796670000 127.0.0.24 Sin27g9iz8B/AAAY /var/log/dovecot.log\n"
	    "1796670001 ::1 a7xLkA9iuIIAAAAAAAAAAAAAAAAAAAAB "
	    "dovecot-events:127.0.0.1:8080\n"
	    "1796670002 2001:db8::1 xyz ?\n");
	t = sessions_new(100, names, 2);
	assert_int_equal(sessions_load(t, file, err, sizeof err), 0);
	assert_int_equal(sessions_count(t), 3);
	assert_int_equal(sessions_dirty(t), 0);
	/* The restored sessions end as the saved ones would have */
	struct held last;
	assert_int_equal(close1(t, "Sin27g9iz8B/AAAY", &last), 1);
	struct seen x = {.n = 0};
	assert_int_equal(sessions_close_source(t, 1, collect, &x), 1);
	assert_int_equal(sessions_count(t), 1);
	sessions_free(t);

	/* Malformed anywhere: nothing loaded */
	static const char *const bad[] = {
	    "1 192.0.2.1 abc /x\nx 192.0.2.1 abc /x\n",
	    "1 192.0.2.1 abc /x\n1 999.1.1.1 abc /x\n",
	    "1 192.0.2.1 abc /x\n1 fe80::1%eth0 abc /x\n",
	    "1 192.0.2.1 a<b /x\n",
	    "1 192.0.2.1 abc\n",
	    "1 192.0.2.1 abc /x",
	    "-1 192.0.2.1 abc /x\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_raw(file, bad[i]);
		t = sessions_new(100, names, 2);
		err[0] = '\0';
		if (sessions_load(t, file, err, sizeof err) != -1)
			fail_msg("case %zu loaded", i);
		assert_int_equal(sessions_count(t), 0);
		assert_non_null(strstr(err, "malformed"));
		sessions_free(t);
	}
	/* No file: nothing, no error */
	unlink(file);
	t = sessions_new(100, names, 2);
	assert_int_equal(sessions_load(t, file, err, sizeof err), 0);
	/* A planted link is not read, and replaced, not written through */
	path(victim, sizeof victim, "victim");
	write_raw(victim, "1 192.0.2.1 abc /x\n");
	assert_int_equal(symlink(victim, file), 0);
	assert_int_equal(sessions_load(t, file, err, sizeof err), -1);
	assert_int_equal(sessions_count(t), 0);
	assert_int_equal(sessions_save(s, file, err, sizeof err), 0);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 19);
	sessions_free(t);
	sessions_free(s);
}

/* Random opens, closes, restarts and expiries against a plain array. */
static void
test_random(void **state)
{
	enum { N = 64 };
	struct {
		int open;
		int ip;
		unsigned src;
		time_t t;
	} m[N];
	struct sessions *s = sessions_new(1000, names, 2);
	unsigned seed = 12345;
	char id[16], ip[32];

	(void)state;
	memset(m, 0, sizeof m);
	for (int step = 0; step < 5000; step++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = (seed >> 16) % 100, k = (seed >> 8) % N;
		snprintf(id, sizeof id, "id%u", k);
		if (r < 50) {
			int ipn = (int)((seed >> 4) % 8);
			snprintf(ip, sizeof ip, "192.0.2.%d", ipn);
			int got = open1(s, id, ip, step, k % 2);
			assert_int_equal(got, m[k].open ? 0 : 1);
			if (!m[k].open) {
				m[k].open = 1;
				m[k].ip = ipn;
				m[k].src = k % 2;
				m[k].t = step;
			}
		} else if (r < 90) {
			struct held last;
			int got = close1(s, id, &last);
			int others = 0;
			for (int j = 0; j < N; j++)
				if (j != (int)k && m[j].open && m[k].open &&
				    m[j].ip == m[k].ip)
					others++;
			assert_int_equal(got, m[k].open && others == 0);
			m[k].open = 0;
		} else if (r < 95) {
			sessions_close_source(s, r % 2, NULL, NULL);
			for (int j = 0; j < N; j++)
				if (m[j].src == r % 2)
					m[j].open = 0;
		} else {
			sessions_expire(s, step - 200, NULL, NULL);
			for (int j = 0; j < N; j++)
				if (m[j].t < step - 200)
					m[j].open = 0;
		}
		size_t n = 0;
		for (int j = 0; j < N; j++)
			n += m[j].open;
		assert_int_equal(sessions_count(s), n);
		for (int ipn = 0; ipn < 8; ipn++) {
			unsigned c = 0;
			for (int j = 0; j < N; j++)
				c += m[j].open && m[j].ip == ipn;
			snprintf(ip, sizeof ip, "192.0.2.%d", ipn);
			struct addr a = A(ip);
			struct held *h = sessions_held(s, &a);
			assert_int_equal(h ? h->n : 0, c);
		}
	}
	sessions_free(s);
}

static int
setup(void **state)
{
	const char *tmp = getenv("LEAFMAIL_TMP");
	(void)state;
	snprintf(dir, sizeof dir, "%s/sessions.XXXXXX",
	         tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char file[PATH_MAX];
	(void)state;
	path(file, sizeof file, "relayd.sessions");
	unlink(file);
	path(file, sizeof file, "victim");
	unlink(file);
	rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_close),
	    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_expire_and_restart),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
