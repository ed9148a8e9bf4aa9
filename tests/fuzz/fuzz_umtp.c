/*
 * fuzz_umtp.c - libFuzzer target for the UMTP packet decoder
 * (lib/umtp_codec.c).
 *
 * Each input goes, as a datagram, through umtp_detect() and both decoders
 * under a fixed key.  A random input almost never carries a valid MAC, so
 * the input is also decoded a second time with its MAC (or protocol 1
 * digest) fixed up and the timestamp taken as "now": that drives the
 * parsing and inflating behind verification too.  Besides the sanitizers'
 * checks it asserts what must hold for any accepted packet: recipients
 * are safe addresses, the message is at most the cap and NUL-terminated,
 * and re-encoding what was accepted decodes to the same message.  The
 * filters (umtp_strip_received, umtp_find_msgid, umtp_gunzip) get the
 * raw input as well.
 *
 * Seeds: the .pkt files in tests/data/umtp/, datagrams under this file's key with
 * timestamp 1000 (p1-*: the seed's make_packet code; p2-*:
 * tests/umtp/umtp2.pl).  fuzz.t splits seed files at newlines, so they
 * were picked to contain no 0x0a byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "umtp_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[] = "fuzzing key, 0123456789abcdef\n";
#define KLEN (sizeof key - 1)
#define CAP 65536

static void
check_msg(const struct umtp_packet *m)
{
	if (m->nrcpt == 0 || m->datalen > CAP || m->data[m->datalen] != '\0')
		abort();
	for (size_t i = 0; i < m->nrcpt; i++)
		if (!umtp_addr_ok(m->rcpts[i], 0))
			abort();
	if (!umtp_addr_ok(m->sender, 1))
		abort();
}

static void
roundtrip(const struct umtp_packet *m)
{
	static unsigned char pkt[65536];
	struct umtp_packet m2;
	size_t len;
	char *s;
	size_t sl;

	/* The encoder sends the stripped message: compare with the
	 * stripped form of what was accepted. */
	if (umtp_strip_received(m->data, m->datalen, &s, &sl) < 0)
		return;
	int rc;

	if (m->protocol == 1) {
		rc = umtp_p1_encode(key, KLEN, m->rcpts[0], m->data, m->datalen, pkt,
		                    sizeof pkt, &len);
		if (rc == UMTP_E_TOOLARGE)
			goto out; /* incompressible: fine */
		if (rc != UMTP_OK)
			abort();
		if (umtp_p1_decode(key, KLEN, pkt, len, CAP, &m2) != UMTP_OK)
			abort();
	} else {
		struct umtp_p2_env env = {m->sender, (const char *const *)m->rcpts,
		                          m->nrcpt, m->msgid};
		rc = umtp_p2_encode(key, KLEN, &env, m->data, m->datalen, 1000, pkt,
		                    sizeof pkt, &len);
		if (rc == UMTP_E_TOOLARGE)
			goto out;
		if (rc != UMTP_OK)
			abort();
		if (umtp_p2_decode(key, KLEN, pkt, len, CAP, 1000, 0, &m2) != UMTP_OK)
			abort();
		if (strcmp(m2.msgid, m->msgid) != 0 || m2.nrcpt != m->nrcpt)
			abort();
	}
	if (m2.datalen != sl || memcmp(m2.data, s, sl) != 0)
		abort();
	umtp_packet_free(&m2);
out:
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct umtp_packet m;
	unsigned char *p;
	char buf[300], *o;
	size_t ol;
	int d = umtp_detect(data, size);

	if (umtp_p1_decode(key, KLEN, data, size, CAP, &m) == UMTP_OK) {
		check_msg(&m);
		umtp_packet_free(&m);
	}
	if (umtp_p2_decode(key, KLEN, data, size, CAP, 0, 0, &m) == UMTP_OK) {
		check_msg(&m);
		umtp_packet_free(&m);
	}
	if (size >= 16 && (p = malloc(size)) != NULL) {
		memcpy(p, data, size);
		if (d == 2 && size >= 37) {
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned int l;
			uint64_t ts = 0;
			HMAC(EVP_sha256(), key, (int)KLEN, p, size - 16, md, &l);
			memcpy(p + size - 16, md, 16);
			for (int i = 0; i < 8; i++)
				ts = ts << 8 | p[13 + i];
			if (umtp_p2_decode(key, KLEN, p, size, CAP, (time_t)(ts & 0x3fffffffffffULL),
			                   0, &m) == UMTP_OK) {
				check_msg(&m);
				roundtrip(&m);
				umtp_packet_free(&m);
			}
		} else if (d == 1 && size >= 20) {
			EVP_MD_CTX *c = EVP_MD_CTX_new();
			unsigned int l;
			EVP_DigestInit_ex(c, EVP_md5(), NULL);
			EVP_DigestUpdate(c, key, KLEN);
			EVP_DigestUpdate(c, p, size - 16);
			EVP_DigestFinal_ex(c, p + size - 16, &l);
			EVP_MD_CTX_free(c);
			if (umtp_p1_decode(key, KLEN, p, size, CAP, &m) == UMTP_OK) {
				check_msg(&m);
				roundtrip(&m);
				umtp_packet_free(&m);
			}
		}
		free(p);
	}
	if (umtp_strip_received((const char *)data, size, &o, &ol) == 0) {
		if (ol > size + 1)
			abort();
		free(o);
	}
	umtp_find_msgid((const char *)data, size, buf, sizeof buf);
	if (umtp_gunzip(data, size, CAP, &o, &ol) == UMTP_OK) {
		if (ol > CAP)
			abort();
		free(o);
	}
	return 0;
}
