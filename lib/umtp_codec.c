/*
 * umtp_codec.c - UMTP packet encoding and decoding (see umtp_codec.h for
 * the interface and umtp(5) for both wire formats).
 *
 * Protocol 1 follows the seed's Perl code, not its comment: the leading
 * u16 is length($recip) + 1 + length($cdata) + 16, the length of the rest
 * of the packet after those two bytes, and parse_packet() checks
 * $len == length($pkt) - 2.  The digest is MD5(secret || packet without
 * the digest), the secret being the key file's bytes as read.
 *
 * Decoders trust nothing before the MAC has verified, except the framing
 * needed to find it; inflating happens only after verification, and is
 * capped, since a 1,472-byte datagram can inflate to about 1.5 MB.
 */
#include "umtp_codec.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <zlib.h>

#include "secret.h"

const char *
umtp_strerror(int e)
{
	if (e < 0)
		e = -e;
	switch (e) {
	case UMTP_OK: return "ok";
	case UMTP_E_TRUNCATED: return "truncated packet";
	case UMTP_E_BADMAGIC: return "bad magic (neither protocol 1 nor 2)";
	case UMTP_E_BADVERSION: return "unknown protocol version";
	case UMTP_E_BADLENGTH: return "length field does not match the packet";
	case UMTP_E_BADMAC: return "bad digest/MAC (wrong key or altered)";
	case UMTP_E_TOOLARGE: return "too large for one datagram";
	case UMTP_E_BADGZIP: return "bad gzip payload";
	case UMTP_E_BOMB: return "payload inflates beyond max-message-size";
	case UMTP_E_BADFIELD: return "bad address or Message-ID field";
	case UMTP_E_STALE: return "timestamp outside the skew window";
	case UMTP_E_REPLAY: return "replayed packet";
	case UMTP_E_UNKNOWNKEY: return "no key for this source/key id";
	case UMTP_E_BADKEY: return "key too short";
	case UMTP_E_NOMEM: return "out of memory";
	case UMTP_E_CRYPTO: return "internal crypto/zlib error";
	case UMTP_E_SEND: return "sending the datagram failed";
	}
	return "unknown error";
}

void
umtp_packet_free(struct umtp_packet *m)
{
	if (m == NULL)
		return;
	free(m->sender);
	for (size_t i = 0; i < m->nrcpt; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	free(m->msgid);
	free(m->data);
	memset(m, 0, sizeof *m);
}

int
umtp_detect(const unsigned char *pkt, size_t len)
{
	if (len >= 4 && memcmp(pkt, UMTP_P2_MAGIC, 3) == 0)
		return pkt[3] == UMTP_P2_VERSION ? 2 : -UMTP_E_BADVERSION;
	/* A protocol 1 packet's first byte is at most 0x05 (1470 >> 8), so
	 * 0xff can never start one within the datagram limit; anything
	 * above 0x05 is neither protocol. */
	if (len < 2)
		return -UMTP_E_TRUNCATED;
	if (((size_t)pkt[0] << 8 | pkt[1]) == len - 2)
		return 1;
	if (pkt[0] > (UMTP_MAX_DGRAM_V4 - 2) >> 8)
		return -UMTP_E_BADMAGIC;
	return ((size_t)pkt[0] << 8 | pkt[1]) > len - 2 ? -UMTP_E_TRUNCATED
	                                                : -UMTP_E_BADLENGTH;
}

/* Perl's \s for a single character (no \n can occur within a line). */
static int
perl_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int
umtp_strip_received(const char *msg, size_t len, char **out, size_t *outlen)
{
	char *o = malloc(len + 2);
	size_t n = 0, end = len;
	int rflag = 0, bflag = 0;

	if (o == NULL)
		return -1;
	/* split("\n") drops trailing empty fields. */
	while (end > 0 && msg[end - 1] == '\n')
		end--;
	for (size_t p = 0; p < end;) {
		const char *nl = memchr(msg + p, '\n', end - p);
		size_t l = nl ? (size_t)(nl - (msg + p)) : end - p;
		const char *line = msg + p;

		if (l >= 9 && strncasecmp(line, "Received:", 9) == 0)
			rflag = 1;
		else if (l > 0 && !perl_space(line[0]))
			rflag = 0;
		if (l == 0)
			bflag = 1;
		if (bflag || !rflag) {
			memcpy(o + n, line, l);
			n += l;
			o[n++] = '\n';
		}
		p += l + 1;
	}
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
}

int
umtp_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream z;
	uLong cap;
	unsigned char *o;

	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&z, (uLong)len) + 32;
	if ((o = malloc(cap)) == NULL) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = o;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(o);
		return -1;
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	*out = o;
	return 0;
}

int
umtp_gunzip(const void *in, size_t len, size_t cap, char **out, size_t *outlen)
{
	z_stream z;
	size_t size = 0, alloc = 0;
	char *o = NULL;
	int rc, ret = UMTP_E_BADGZIP;

	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 31) != Z_OK) /* gzip framing only */
		return UMTP_E_CRYPTO;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	for (;;) {
		if (size == alloc) {
			/* Grow in chunks; one byte beyond cap proves a bomb. */
			size_t want = alloc ? alloc * 2 : 16384;
			if (want > cap + 1)
				want = cap + 1;
			if (want <= size) {
				ret = UMTP_E_BOMB;
				goto out;
			}
			char *t = realloc(o, want + 1);
			if (t == NULL) {
				ret = UMTP_E_NOMEM;
				goto out;
			}
			o = t;
			alloc = want;
		}
		z.next_out = (Bytef *)o + size;
		z.avail_out = (uInt)(alloc - size);
		rc = inflate(&z, Z_NO_FLUSH);
		size = alloc - z.avail_out;
		if (size > cap) {
			ret = UMTP_E_BOMB;
			goto out;
		}
		if (rc == Z_STREAM_END) {
			/* Exactly one member filling the field. */
			if (z.avail_in != 0)
				goto out;
			break;
		}
		if (rc == Z_BUF_ERROR && z.avail_in == 0)
			goto out; /* truncated stream */
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			if (rc == Z_MEM_ERROR)
				ret = UMTP_E_NOMEM;
			goto out;
		}
		if (z.avail_in == 0 && z.avail_out != 0)
			goto out; /* consumed everything without an end */
	}
	if (o == NULL && (o = malloc(1)) == NULL) {
		ret = UMTP_E_NOMEM;
		goto out;
	}
	o[size] = '\0';
	*out = o;
	*outlen = size;
	inflateEnd(&z);
	return UMTP_OK;
out:
	inflateEnd(&z);
	free(o);
	return ret;
}

/* Printable ASCII, no blanks or controls: safe in an SMTP command and in
 * an argv without further quoting. */
static int
safe_chars(const char *s, size_t n, int angle_ok)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return 0;
		if (!angle_ok && (c == '<' || c == '>'))
			return 0;
	}
	return 1;
}

int
umtp_addr_ok(const char *s, int may_be_empty)
{
	size_t n = strlen(s);

	if (n == 0)
		return may_be_empty;
	/* A leading '-' would read as an option to sendmail (we also pass
	 * "--", but refuse it anyway).  RFC 5321 specials that only a quoted
	 * local part may hold are refused too: quoted local parts are not
	 * supported, and nothing downstream need wonder about them. */
	return n <= UMTP_MAX_FIELD && s[0] != '-' && safe_chars(s, n, 0) &&
	       strpbrk(s, "()\\,;\"") == NULL;
}

int
umtp_find_msgid(const char *msg, size_t len, char *buf, size_t buflen)
{
	size_t p = 0;

	while (p < len) {
		const char *nl = memchr(msg + p, '\n', len - p);
		size_t l = nl ? (size_t)(nl - (msg + p)) : len - p;
		const char *line = msg + p;

		if (l == 0 || (l == 1 && line[0] == '\r'))
			return -1; /* end of header */
		if (l >= 11 && strncasecmp(line, "Message-ID:", 11) == 0) {
			size_t n = 0;
			size_t q = p + 11;
			/* Value and its continuation lines, blanks dropped. */
			for (;;) {
				for (; q < len && msg[q] != '\n'; q++) {
					if (isspace((unsigned char)msg[q]))
						continue;
					if (n + 1 >= buflen)
						return -1;
					buf[n++] = msg[q];
				}
				if (q + 1 < len && (msg[q + 1] == ' ' || msg[q + 1] == '\t'))
					q++;
				else
					break;
			}
			buf[n] = '\0';
			if (n == 0 || n > UMTP_MAX_FIELD || !safe_chars(buf, n, 1))
				return -1;
			return 0;
		}
		p += l + 1;
	}
	return -1;
}

/* ---- protocol 1 ---- */

static int
p1_digest(const unsigned char *secret, size_t slen, const unsigned char *pkt,
          size_t n, unsigned char md[UMTP_P1_DIGESTLEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int l = 0;
	int ok;

	/* MD5 is weak, but it is the seed's format; see umtp(5). */
	ok = c != NULL && EVP_DigestInit_ex(c, EVP_md5(), NULL) == 1 &&
	     EVP_DigestUpdate(c, secret, slen) == 1 &&
	     EVP_DigestUpdate(c, pkt, n) == 1 &&
	     EVP_DigestFinal_ex(c, md, &l) == 1 && l == UMTP_P1_DIGESTLEN;
	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

int
umtp_p1_encode(const unsigned char *secret, size_t slen, const char *rcpt,
               const char *msg, size_t msglen, unsigned char *pkt, size_t max,
               size_t *pktlen)
{
	char *stripped;
	size_t slen2, zlen, rlen = strlen(rcpt), total;
	unsigned char *z;

	if (!umtp_addr_ok(rcpt, 0))
		return UMTP_E_BADFIELD;
	if (umtp_strip_received(msg, msglen, &stripped, &slen2) < 0)
		return UMTP_E_NOMEM;
	if (umtp_gzip(stripped, slen2, &z, &zlen) < 0) {
		free(stripped);
		return UMTP_E_CRYPTO;
	}
	free(stripped);
	total = 2 + rlen + 1 + zlen + UMTP_P1_DIGESTLEN;
	if (total > max || total - 2 > 0xffff) {
		free(z);
		return UMTP_E_TOOLARGE;
	}
	pkt[0] = (unsigned char)((total - 2) >> 8);
	pkt[1] = (unsigned char)(total - 2);
	memcpy(pkt + 2, rcpt, rlen + 1);
	memcpy(pkt + 2 + rlen + 1, z, zlen);
	free(z);
	if (p1_digest(secret, slen, pkt, total - UMTP_P1_DIGESTLEN,
	              pkt + total - UMTP_P1_DIGESTLEN) < 0)
		return UMTP_E_CRYPTO;
	*pktlen = total;
	return UMTP_OK;
}

int
umtp_p1_decode(const unsigned char *secret, size_t slen,
               const unsigned char *pkt, size_t len, size_t cap,
               struct umtp_packet *out)
{
	unsigned char md[UMTP_P1_DIGESTLEN];
	const unsigned char *nul;
	size_t rlen, zlen;
	int rc;

	memset(out, 0, sizeof *out);
	if (len < 2)
		return UMTP_E_TRUNCATED;
	if (((size_t)pkt[0] << 8 | pkt[1]) != len - 2)
		return ((size_t)pkt[0] << 8 | pkt[1]) > len - 2 ? UMTP_E_TRUNCATED
		                                               : UMTP_E_BADLENGTH;
	if (len < 2 + 2 + UMTP_P1_DIGESTLEN)
		return UMTP_E_TRUNCATED;
	if (p1_digest(secret, slen, pkt, len - UMTP_P1_DIGESTLEN, md) < 0)
		return UMTP_E_CRYPTO;
	if (!secret_equal(md, pkt + len - UMTP_P1_DIGESTLEN, UMTP_P1_DIGESTLEN))
		return UMTP_E_BADMAC;
	nul = memchr(pkt + 2, '\0', len - 2 - UMTP_P1_DIGESTLEN);
	if (nul == NULL)
		return UMTP_E_TRUNCATED;
	rlen = (size_t)(nul - (pkt + 2));
	zlen = len - 2 - rlen - 1 - UMTP_P1_DIGESTLEN;
	out->protocol = 1;
	out->rcpts = calloc(1, sizeof *out->rcpts);
	out->sender = strdup("");
	out->msgid = strdup("");
	if (out->rcpts == NULL || out->sender == NULL || out->msgid == NULL ||
	    (out->rcpts[0] = strndup((const char *)pkt + 2, rlen)) == NULL) {
		umtp_packet_free(out);
		return UMTP_E_NOMEM;
	}
	out->nrcpt = 1;
	if (!umtp_addr_ok(out->rcpts[0], 0)) {
		umtp_packet_free(out);
		return UMTP_E_BADFIELD;
	}
	rc = umtp_gunzip(nul + 1, zlen, cap, &out->data, &out->datalen);
	if (rc != UMTP_OK) {
		umtp_packet_free(out);
		return rc;
	}
	return UMTP_OK;
}

/* ---- protocol 2 ---- */

/* Fixed part: magic(3) version(1) flags(1) keyid(8) time(8) nonce(16). */
#define P2_FIXED (3 + 1 + 1 + UMTP_KEYID_LEN + 8 + UMTP_P2_NONCELEN)

void
umtp_p2_keyid(const unsigned char *key, size_t klen,
              unsigned char id[UMTP_KEYID_LEN])
{
	static const char label[] = "UMTP key id";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int l = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	memset(md, 0, sizeof md);
	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, label, sizeof label) == 1 && /* with its NUL */
	    EVP_DigestUpdate(c, key, klen) == 1)
		EVP_DigestFinal_ex(c, md, &l);
	EVP_MD_CTX_free(c);
	memcpy(id, md, UMTP_KEYID_LEN);
}

static int
p2_mac(const unsigned char *key, size_t klen, const unsigned char *pkt,
       size_t n, unsigned char mac[UMTP_P2_MACLEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int l = 0;

	if (HMAC(EVP_sha256(), key, (int)klen, pkt, n, md, &l) == NULL ||
	    l < UMTP_P2_MACLEN)
		return -1;
	memcpy(mac, md, UMTP_P2_MACLEN);
	return 0;
}

static int
put_field(unsigned char *pkt, size_t max, size_t *p, const char *s)
{
	size_t n = strlen(s);

	if (n > UMTP_MAX_FIELD)
		return UMTP_E_BADFIELD;
	if (*p + 1 + n > max)
		return UMTP_E_TOOLARGE;
	pkt[(*p)++] = (unsigned char)n;
	memcpy(pkt + *p, s, n);
	*p += n;
	return UMTP_OK;
}

int
umtp_p2_encode_nonce(const unsigned char *key, size_t klen,
                     const struct umtp_p2_env *env, const char *msg,
                     size_t msglen, time_t now,
                     const unsigned char nonce[UMTP_P2_NONCELEN],
                     unsigned char *pkt, size_t max, size_t *pktlen)
{
	char *stripped;
	unsigned char *z;
	size_t slen, zlen, p = 0;
	uint64_t ts = (uint64_t)now;
	int rc;

	if (klen < UMTP_P2_MINKEY)
		return UMTP_E_BADKEY;
	if (env->nrcpt == 0 || env->nrcpt > UMTP_MAX_RCPTS ||
	    !umtp_addr_ok(env->sender, 1))
		return UMTP_E_BADFIELD;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (!umtp_addr_ok(env->rcpts[i], 0))
			return UMTP_E_BADFIELD;
	if (env->msgid[0] != '\0' &&
	    (strlen(env->msgid) > UMTP_MAX_FIELD ||
	     !safe_chars(env->msgid, strlen(env->msgid), 1)))
		return UMTP_E_BADFIELD;
	if (max < P2_FIXED + UMTP_P2_MACLEN)
		return UMTP_E_TOOLARGE;
	memcpy(pkt, UMTP_P2_MAGIC, 3);
	pkt[3] = UMTP_P2_VERSION;
	pkt[4] = 0; /* flags, reserved */
	umtp_p2_keyid(key, klen, pkt + 5);
	for (int i = 0; i < 8; i++)
		pkt[5 + UMTP_KEYID_LEN + i] = (unsigned char)(ts >> (56 - 8 * i));
	memcpy(pkt + 5 + UMTP_KEYID_LEN + 8, nonce, UMTP_P2_NONCELEN);
	p = P2_FIXED;
	max -= UMTP_P2_MACLEN; /* room kept for the MAC from here on */
	if ((rc = put_field(pkt, max, &p, env->sender)) != UMTP_OK)
		return rc;
	if (p + 1 > max)
		return UMTP_E_TOOLARGE;
	pkt[p++] = (unsigned char)env->nrcpt;
	for (size_t i = 0; i < env->nrcpt; i++)
		if ((rc = put_field(pkt, max, &p, env->rcpts[i])) != UMTP_OK)
			return rc;
	if ((rc = put_field(pkt, max, &p, env->msgid)) != UMTP_OK)
		return rc;
	if (umtp_strip_received(msg, msglen, &stripped, &slen) < 0)
		return UMTP_E_NOMEM;
	rc = umtp_gzip(stripped, slen, &z, &zlen);
	free(stripped);
	if (rc < 0)
		return UMTP_E_CRYPTO;
	if (p + 2 + zlen > max || zlen > 0xffff) {
		free(z);
		return UMTP_E_TOOLARGE;
	}
	pkt[p++] = (unsigned char)(zlen >> 8);
	pkt[p++] = (unsigned char)zlen;
	memcpy(pkt + p, z, zlen);
	free(z);
	p += zlen;
	if (p2_mac(key, klen, pkt, p, pkt + p) < 0)
		return UMTP_E_CRYPTO;
	*pktlen = p + UMTP_P2_MACLEN;
	return UMTP_OK;
}

int
umtp_p2_encode(const unsigned char *key, size_t klen,
               const struct umtp_p2_env *env, const char *msg, size_t msglen,
               time_t now, unsigned char *pkt, size_t max, size_t *pktlen)
{
	unsigned char nonce[UMTP_P2_NONCELEN];

	if (RAND_bytes(nonce, sizeof nonce) != 1)
		return UMTP_E_CRYPTO;
	return umtp_p2_encode_nonce(key, klen, env, msg, msglen, now, nonce, pkt,
	                            max, pktlen);
}

int
umtp_p2_peek_keyid(const unsigned char *pkt, size_t len,
                   unsigned char id[UMTP_KEYID_LEN])
{
	int d = umtp_detect(pkt, len);

	if (d != 2)
		return d < 0 ? -d : UMTP_E_BADMAGIC;
	if (len < P2_FIXED + UMTP_P2_MACLEN)
		return UMTP_E_TRUNCATED;
	memcpy(id, pkt + 5, UMTP_KEYID_LEN);
	return UMTP_OK;
}

/* Read one length-prefixed field at *p, below end. */
static int
get_field(const unsigned char *pkt, size_t end, size_t *p, char **out)
{
	size_t n;

	if (*p + 1 > end)
		return UMTP_E_TRUNCATED;
	n = pkt[(*p)++];
	if (*p + n > end)
		return UMTP_E_TRUNCATED;
	if ((*out = strndup((const char *)pkt + *p, n)) == NULL)
		return UMTP_E_NOMEM;
	if (strlen(*out) != n)
		return UMTP_E_BADFIELD; /* embedded NUL */
	*p += n;
	return UMTP_OK;
}

int
umtp_p2_decode(const unsigned char *key, size_t klen, const unsigned char *pkt,
               size_t len, size_t cap, time_t now, long long max_skew,
               struct umtp_packet *out)
{
	unsigned char mac[UMTP_P2_MACLEN], id[UMTP_KEYID_LEN];
	size_t end, p, n, zlen;
	long long skew;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = umtp_p2_peek_keyid(pkt, len, id)) != UMTP_OK)
		return rc;
	if (klen < UMTP_P2_MINKEY)
		return UMTP_E_BADKEY;
	end = len - UMTP_P2_MACLEN;
	/* Framing first, bounds-checked and without inflating anything, so
	 * a cut-off packet is reported as truncated rather than as a bad
	 * MAC; nothing parsed is used before the MAC has verified. */
	p = P2_FIXED;
	if ((rc = get_field(pkt, end, &p, &out->sender)) != UMTP_OK)
		goto fail;
	if (p + 1 > end) {
		rc = UMTP_E_TRUNCATED;
		goto fail;
	}
	n = pkt[p++];
	if (n == 0 || n > UMTP_MAX_RCPTS) {
		rc = UMTP_E_BADFIELD;
		goto fail;
	}
	if ((out->rcpts = calloc(n, sizeof *out->rcpts)) == NULL) {
		rc = UMTP_E_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		out->nrcpt = i + 1;
		if ((rc = get_field(pkt, end, &p, &out->rcpts[i])) != UMTP_OK)
			goto fail;
	}
	if ((rc = get_field(pkt, end, &p, &out->msgid)) != UMTP_OK)
		goto fail;
	if (p + 2 > end) {
		rc = UMTP_E_TRUNCATED;
		goto fail;
	}
	zlen = (size_t)pkt[p] << 8 | pkt[p + 1];
	p += 2;
	if (p + zlen != end) {
		rc = p + zlen > end ? UMTP_E_TRUNCATED : UMTP_E_BADLENGTH;
		goto fail;
	}
	if ((rc = p2_mac(key, klen, pkt, end, mac)) < 0) {
		rc = UMTP_E_CRYPTO;
		goto fail;
	}
	if (!secret_equal(mac, pkt + end, UMTP_P2_MACLEN)) {
		rc = UMTP_E_BADMAC;
		goto fail;
	}
	/* Authentic from here on. */
	out->protocol = 2;
	memcpy(out->keyid, id, sizeof id);
	for (int i = 0; i < 8; i++)
		out->timestamp = out->timestamp << 8 | pkt[5 + UMTP_KEYID_LEN + i];
	memcpy(out->nonce, pkt + 5 + UMTP_KEYID_LEN + 8, UMTP_P2_NONCELEN);
	skew = out->timestamp > (uint64_t)INT64_MAX / 2
	           ? -1 - max_skew
	           : (long long)now - (long long)out->timestamp;
	if (skew > max_skew || -skew > max_skew) {
		rc = UMTP_E_STALE;
		goto fail;
	}
	if (pkt[4] != 0) {
		rc = UMTP_E_BADVERSION; /* flags we do not know */
		goto fail;
	}
	for (size_t i = 0; i < out->nrcpt; i++)
		if (!umtp_addr_ok(out->rcpts[i], 0))
			rc = UMTP_E_BADFIELD;
	if (!umtp_addr_ok(out->sender, 1) ||
	    (out->msgid[0] != '\0' &&
	     !safe_chars(out->msgid, strlen(out->msgid), 1)))
		rc = UMTP_E_BADFIELD;
	if (rc != UMTP_OK)
		goto fail;
	if ((rc = umtp_gunzip(pkt + end - zlen, zlen, cap, &out->data,
	                      &out->datalen)) != UMTP_OK)
		goto fail;
	return UMTP_OK;
fail:
	umtp_packet_free(out);
	return rc;
}
