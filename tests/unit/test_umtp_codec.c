/*
 * test_umtp_codec.c - lib/umtp_codec.c and umtp/replay.c: round trips of
 * both protocols, the seed's Received: stripping, and every refusal the
 * decoder reports (truncated, wrong key, bad magic, oversized, bad gzip,
 * decompression bomb, stale timestamp) plus the replay cache.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "umtp_codec.h"
#include "../../umtp/replay.h"

static const unsigned char key[] = "0123456789abcdef-test-key\n";
#define KLEN (sizeof key - 1)
static const unsigned char key2[] = "another key, also long enough\n";
#define K2LEN (sizeof key2 - 1)
static const unsigned char nonce0[UMTP_P2_NONCELEN] = {1, 2, 3, 4, 5, 6, 7, 8,
                                                       9, 10, 11, 12, 13, 14,
                                                       15, 16};
static const time_t now0 = 1795348800;

static const char msg1[] =
    "Received: from a.example (a.example [192.0.2.1])\n"
    "\tby b.example with ESMTP id 123\n"
    "\tfor <bob@example.net>; Sun, 22 Nov 2026 04:00:00 +0000\n"
    "From: alice@example.org\n"
    "RECEIVED: by x.example\n"
    " continued\n"
    "To: bob@example.net\n"
    "Message-ID:\n <abc.123@example.org>\n"
    "Subject: hi\n"
    "\n"
    "Received: in the body stays\n"
    "bye\n";
static const char msg1_stripped[] =
    "From: alice@example.org\n"
    "To: bob@example.net\n"
    "Message-ID:\n <abc.123@example.org>\n"
    "Subject: hi\n"
    "\n"
    "Received: in the body stays\n"
    "bye\n";

static size_t
p2(const unsigned char *k, size_t kl, const char *m, time_t t,
   unsigned char *pkt, size_t max)
{
	static const char *const rcpts[] = {"bob@example.net", "carol@example.net",
	                                    "dave@example.net"};
	struct umtp_p2_env env = {"alice@example.org", rcpts, 3,
	                          "<abc.123@example.org>"};
	size_t len = 0;

	assert_int_equal(umtp_p2_encode_nonce(k, kl, &env, m, strlen(m), t, nonce0,
	                                      pkt, max, &len),
	                 UMTP_OK);
	return len;
}

/* Recompute a protocol 2 packet's MAC after a test altered it, so the
 * decoder gets past verification to the part under test. */
static void
remac(unsigned char *pkt, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int l;

	HMAC(EVP_sha256(), key, (int)KLEN, pkt, len - 16, md, &l);
	memcpy(pkt + len - 16, md, 16);
}

/* Offset of the payload length field of a packet made by p2(). */
static size_t
p2_zoff(const unsigned char *pkt)
{
	size_t p = 37;
	p += 1 + pkt[p];                 /* sender */
	size_t n = pkt[p++];
	for (size_t i = 0; i < n; i++)
		p += 1 + pkt[p];
	p += 1 + pkt[p];                 /* msgid */
	return p;
}

static void
test_strip_received(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
	    {msg1, msg1_stripped},
	    {"Received: x\n y\nA: b\n\nbody", "A: b\n\nbody\n"},
	    {"A: b\nReceived: x\n\tcont\n\nReceived: y\n\n\n", "A: b\n\nReceived: y\n"},
	    {"received:x\nB: c\n", "B: c\n"},
	    {"X-Received: keep\n", "X-Received: keep\n"},
	    {"A: 1\r\nReceived: x\r\n z\r\nB: 2\r\n\r\nbody\r\n",
	     "A: 1\r\nB: 2\r\n\r\nbody\r\n"},
	    {"", ""},
	    {"\n\nA: b\n", "\n\nA: b\n"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *o;
		size_t n;
		assert_int_equal(umtp_strip_received(t[i].in, strlen(t[i].in), &o, &n), 0);
		assert_string_equal(o, t[i].out);
		assert_int_equal(n, strlen(t[i].out));
		free(o);
	}
}

static void
test_p1_roundtrip(void **state)
{
	unsigned char pkt[UMTP_MAX_DGRAM_V4];
	struct umtp_packet m;
	size_t len;

	(void)state;
	assert_int_equal(umtp_p1_encode(key, KLEN, "bob@example.net", msg1,
	                                strlen(msg1), pkt, sizeof pkt, &len),
	                 UMTP_OK);
	/* The seed's layout: u16 length of the rest, recipient, NUL, gzip. */
	assert_int_equal((pkt[0] << 8 | pkt[1]), len - 2);
	assert_memory_equal(pkt + 2, "bob@example.net\0\x1f\x8b", 18);
	assert_int_equal(umtp_detect(pkt, len), 1);
	assert_int_equal(umtp_p1_decode(key, KLEN, pkt, len, 1 << 20, &m), UMTP_OK);
	assert_int_equal(m.protocol, 1);
	assert_int_equal(m.nrcpt, 1);
	assert_string_equal(m.rcpts[0], "bob@example.net");
	assert_string_equal(m.sender, "");
	assert_string_equal(m.data, msg1_stripped);
	umtp_packet_free(&m);
	assert_int_equal(umtp_p1_decode(key2, K2LEN, pkt, len, 1 << 20, &m),
	                 UMTP_E_BADMAC);
	/* One bit changed anywhere fails the digest. */
	pkt[len / 2] ^= 1;
	assert_int_equal(umtp_p1_decode(key, KLEN, pkt, len, 1 << 20, &m),
	                 UMTP_E_BADMAC);
}

static void
test_p2_roundtrip(void **state)
{
	unsigned char pkt[UMTP_MAX_DGRAM_V6], id[UMTP_KEYID_LEN];
	struct umtp_packet m;
	size_t len = p2(key, KLEN, msg1, now0, pkt, sizeof pkt);

	(void)state;
	assert_true(len <= UMTP_MAX_DGRAM_V6);
	assert_int_equal(umtp_detect(pkt, len), 2);
	assert_memory_equal(pkt, "\xffUM\x02\x00", 5);
	umtp_p2_keyid(key, KLEN, id);
	assert_memory_equal(pkt + 5, id, UMTP_KEYID_LEN);
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 1 << 20, now0 + 299,
	                                300, &m),
	                 UMTP_OK);
	assert_int_equal(m.protocol, 2);
	assert_string_equal(m.sender, "alice@example.org");
	assert_int_equal(m.nrcpt, 3);
	assert_string_equal(m.rcpts[2], "dave@example.net");
	assert_string_equal(m.msgid, "<abc.123@example.org>");
	assert_string_equal(m.data, msg1_stripped);
	assert_int_equal(m.timestamp, (uint64_t)now0);
	assert_memory_equal(m.nonce, nonce0, sizeof nonce0);
	umtp_packet_free(&m);
	/* Random nonces differ between two encodings. */
	{
		static const char *const r1[] = {"bob@example.net"};
		struct umtp_p2_env env = {"", r1, 1, ""};
		unsigned char a[1500], b[1500];
		size_t la, lb;
		assert_int_equal(umtp_p2_encode(key, KLEN, &env, "x\n", 2, now0, a,
		                                sizeof a, &la), UMTP_OK);
		assert_int_equal(umtp_p2_encode(key, KLEN, &env, "x\n", 2, now0, b,
		                                sizeof b, &lb), UMTP_OK);
		assert_int_equal(la, lb);
		assert_memory_not_equal(a + 21, b + 21, UMTP_P2_NONCELEN);
	}
}

static void
test_wrong_key(void **state)
{
	unsigned char pkt[1500];
	struct umtp_packet m;
	size_t len = p2(key, KLEN, msg1, now0, pkt, sizeof pkt);

	(void)state;
	assert_int_equal(umtp_p2_decode(key2, K2LEN, pkt, len, 1 << 20, now0, 300, &m),
	                 UMTP_E_BADMAC);
	pkt[30] ^= 0x80; /* inside the nonce */
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 1 << 20, now0, 300, &m),
	                 UMTP_E_BADMAC);
	assert_int_equal(umtp_p2_decode(key, 8, pkt, len, 1 << 20, now0, 300, &m),
	                 UMTP_E_BADKEY);
}

static void
test_truncated(void **state)
{
	unsigned char pkt[1500];
	struct umtp_packet m;
	size_t len = p2(key, KLEN, msg1, now0, pkt, sizeof pkt), l1;

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		int d = umtp_detect(pkt, cut);
		int rc = umtp_p2_decode(key, KLEN, pkt, cut, 1 << 20, now0, 300, &m);
		assert_int_not_equal(rc, UMTP_OK);
		if (cut >= 4)
			assert_int_equal(d, 2);
		if (cut >= 53)
			assert_int_equal(rc, UMTP_E_TRUNCATED);
	}
	assert_int_equal(umtp_p1_encode(key, KLEN, "bob@example.net", msg1,
	                                strlen(msg1), pkt, sizeof pkt, &l1), UMTP_OK);
	for (size_t cut = 2; cut < l1; cut++) {
		assert_int_equal(umtp_detect(pkt, cut), -UMTP_E_TRUNCATED);
		assert_int_equal(umtp_p1_decode(key, KLEN, pkt, cut, 1 << 20, &m),
		                 UMTP_E_TRUNCATED);
	}
	assert_int_equal(umtp_detect(pkt, 1), -UMTP_E_TRUNCATED);
}

static void
test_bad_magic(void **state)
{
	unsigned char pkt[1500];
	struct umtp_packet m;
	size_t len = p2(key, KLEN, msg1, now0, pkt, sizeof pkt);

	(void)state;
	pkt[3] = 3;
	assert_int_equal(umtp_detect(pkt, len), -UMTP_E_BADVERSION);
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 1 << 20, now0, 300, &m),
	                 UMTP_E_BADVERSION);
	pkt[3] = 2;
	pkt[1] = 'X';
	assert_int_equal(umtp_detect(pkt, len), -UMTP_E_BADMAGIC);
	assert_int_equal(umtp_detect((const unsigned char *)"GET / HTTP/1.0\r\n", 16),
	                 -UMTP_E_BADMAGIC);
	/* Our magic can't be a protocol 1 length within the datagram limit. */
	assert_true(0xff00 > UMTP_MAX_DGRAM_V4);
	/* A reserved flag set: refused even with a valid MAC. */
	pkt[1] = 'U';
	pkt[4] = 1;
	remac(pkt, len);
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 1 << 20, now0, 300, &m),
	                 UMTP_E_BADVERSION);
}

static void
test_oversized(void **state)
{
	static const char *const r1[] = {"bob@example.net"};
	struct umtp_p2_env env = {"", r1, 1, ""};
	unsigned char pkt[UMTP_MAX_DGRAM_V4];
	char big[4001];
	size_t len;
	uint32_t x = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof big - 1; i++) {
		x = x * 1103515245 + 12345; /* incompressible enough */
		big[i] = (char)(' ' + (x >> 16) % 90);
	}
	big[sizeof big - 1] = '\0';
	assert_int_equal(umtp_p2_encode(key, KLEN, &env, big, strlen(big), now0, pkt,
	                                sizeof pkt, &len),
	                 UMTP_E_TOOLARGE);
	assert_int_equal(umtp_p1_encode(key, KLEN, "bob@example.net", big,
	                                strlen(big), pkt, sizeof pkt, &len),
	                 UMTP_E_TOOLARGE);
	/* The IPv6 limit is smaller: a packet that fits v4 may not fit v6. */
	big[1400] = '\0';
	assert_int_equal(umtp_p1_encode(key, KLEN, "bob@example.net", big, 1400,
	                                pkt, UMTP_MAX_DGRAM_V4, &len), UMTP_OK);
	if (len > UMTP_MAX_DGRAM_V6)
		assert_int_equal(umtp_p1_encode(key, KLEN, "bob@example.net", big, 1400,
		                                pkt, UMTP_MAX_DGRAM_V6, &len),
		                 UMTP_E_TOOLARGE);
}

static void
test_bad_gzip(void **state)
{
	unsigned char pkt[1500], z[64];
	struct umtp_packet m;
	char *o;
	size_t len = p2(key, KLEN, msg1, now0, pkt, sizeof pkt), zoff, ol;
	uLongf zl = sizeof z;

	(void)state;
	zoff = p2_zoff(pkt) + 2;
	pkt[zoff + 12] ^= 0x55; /* corrupt the deflate data (or CRC) */
	remac(pkt, len);
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 1 << 20, now0, 300, &m),
	                 UMTP_E_BADGZIP);
	/* zlib framing is not gzip (Perl's memGunzip refuses it too). */
	assert_int_equal(compress(z, &zl, (const Bytef *)"hello\n", 6), Z_OK);
	assert_int_equal(umtp_gunzip(z, zl, 1000, &o, &ol), UMTP_E_BADGZIP);
	/* Trailing bytes after the member, and a cut member. */
	{
		unsigned char *g;
		size_t gl;
		assert_int_equal(umtp_gzip("hello\n", 6, &g, &gl), 0);
		assert_int_equal(umtp_gunzip(g, gl, 1000, &o, &ol), UMTP_OK);
		assert_string_equal(o, "hello\n");
		free(o);
		unsigned char *g2 = malloc(gl + 1);
		memcpy(g2, g, gl);
		g2[gl] = 0;
		assert_int_equal(umtp_gunzip(g2, gl + 1, 1000, &o, &ol), UMTP_E_BADGZIP);
		assert_int_equal(umtp_gunzip(g2, gl - 3, 1000, &o, &ol), UMTP_E_BADGZIP);
		assert_int_equal(umtp_gunzip(g2, 0, 1000, &o, &ol), UMTP_E_BADGZIP);
		free(g2);
		free(g);
	}
}

static void
test_bomb(void **state)
{
	unsigned char pkt[1500];
	struct umtp_packet m;
	size_t n = 1000000, len;
	char *zeros = malloc(n + 1);

	(void)state;
	memset(zeros, 'a', n);
	zeros[n] = '\0';
	len = p2(key, KLEN, zeros, now0, pkt, sizeof pkt);
	assert_true(len < 1472); /* a small datagram ... */
	/* ... inflating beyond the cap (stripping adds the final "\n"). */
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 65536, now0, 300, &m),
	                 UMTP_E_BOMB);
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, n, now0, 300, &m),
	                 UMTP_E_BOMB);
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, n + 1, now0, 300, &m),
	                 UMTP_OK);
	assert_int_equal(m.datalen, n + 1);
	umtp_packet_free(&m);
	assert_int_equal(umtp_p1_encode(key, KLEN, "bob@example.net", zeros, n, pkt,
	                                sizeof pkt, &len), UMTP_OK);
	assert_int_equal(umtp_p1_decode(key, KLEN, pkt, len, 4096, &m), UMTP_E_BOMB);
	free(zeros);
}

static void
test_stale(void **state)
{
	unsigned char pkt[1500];
	struct umtp_packet m;
	size_t len = p2(key, KLEN, msg1, now0, pkt, sizeof pkt);

	(void)state;
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 1 << 20, now0 + 301,
	                                300, &m), UMTP_E_STALE);
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 1 << 20, now0 - 301,
	                                300, &m), UMTP_E_STALE);
	assert_int_equal(umtp_p2_decode(key, KLEN, pkt, len, 1 << 20, now0 - 300,
	                                300, &m), UMTP_OK);
	umtp_packet_free(&m);
}

static void
test_replay(void **state)
{
	unsigned char id[UMTP_KEYID_LEN] = {9}, n2[UMTP_P2_NONCELEN] = {7};
	struct replay *r = replay_new(2, 300);

	(void)state;
	assert_non_null(r);
	assert_int_equal(replay_check_add(r, id, nonce0, now0), 0);
	assert_int_equal(replay_check_add(r, id, nonce0, now0 + 10), 1);
	assert_int_equal(replay_check_add(r, id, n2, now0 + 20), 0);
	/* Full of live entries: fail closed. */
	{
		unsigned char n3[UMTP_P2_NONCELEN] = {8};
		assert_int_equal(replay_check_add(r, id, n3, now0 + 30), -1);
		/* Beyond 2 * skew the first entry can go (its timestamp is
		 * stale by then, the codec refuses a replay of it). */
		assert_int_equal(replay_check_add(r, id, n3, now0 + 602), 0);
		assert_int_equal(replay_check_add(r, id, n3, now0 + 603), 1);
	}
	id[0] = 10; /* same nonce under another key is another packet */
	assert_int_equal(replay_check_add(r, id, n2, now0 + 604), -1); /* full */
	assert_int_equal(replay_check_add(r, id, n2, now0 + 622), 0);
	assert_int_equal(replay_count(r), 2);
	replay_free(r);
}

static void
test_fields(void **state)
{
	char buf[300];
	(void)state;
	assert_int_equal(umtp_find_msgid(msg1, strlen(msg1), buf, sizeof buf), 0);
	assert_string_equal(buf, "<abc.123@example.org>");
	assert_int_equal(umtp_find_msgid("A: b\n\nMessage-ID: <x@y>\n", 23, buf,
	                                 sizeof buf), -1);
	assert_int_equal(umtp_find_msgid("message-id:  <x@y> \r\n\r\n", 23, buf,
	                                 sizeof buf), 0);
	assert_string_equal(buf, "<x@y>");
	assert_true(umtp_addr_ok("bob@example.net", 0));
	assert_false(umtp_addr_ok("", 0));
	assert_true(umtp_addr_ok("", 1));
	assert_false(umtp_addr_ok("bob@x;rm -rf /", 0));
	assert_false(umtp_addr_ok("-oQ/tmp", 0));
	assert_false(umtp_addr_ok("a>b", 0));
	assert_false(umtp_addr_ok("a\r\nRCPT", 0));
	assert_false(umtp_addr_ok("bob@x;id", 0));
	assert_false(umtp_addr_ok("\"a b\"@x", 0));
	assert_true(umtp_addr_ok("a.b+c=d@[192.0.2.1]", 0));
	{
		static const char *const bad[] = {"bob@x net"};
		struct umtp_p2_env env = {"", bad, 1, ""};
		unsigned char pkt[1500];
		size_t len;
		assert_int_equal(umtp_p2_encode(key, KLEN, &env, "x", 1, now0, pkt,
		                                sizeof pkt, &len), UMTP_E_BADFIELD);
	}
	for (int e = 0; e <= UMTP_E_CRYPTO; e++)
		assert_string_not_equal(umtp_strerror(e), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strip_received), cmocka_unit_test(test_p1_roundtrip),
	    cmocka_unit_test(test_p2_roundtrip),   cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_truncated),      cmocka_unit_test(test_bad_magic),
	    cmocka_unit_test(test_oversized),      cmocka_unit_test(test_bad_gzip),
	    cmocka_unit_test(test_bomb),           cmocka_unit_test(test_stale),
	    cmocka_unit_test(test_replay),         cmocka_unit_test(test_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
