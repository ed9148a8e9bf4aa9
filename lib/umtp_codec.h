/*
 * umtp_codec.h - UMTP datagrams: encode and decode protocol 1 (the seed's
 * wire format, byte for byte) and protocol 2 (ours, see umtp(5)).
 *
 * Shared by `umtp send`, `umtp receive` and the milter's shadow sender.
 * Nothing here logs, exits or touches the network: encoders fill a caller's
 * buffer, decoders return one of the UMTP_E_* codes below (umtp_strerror()
 * names them for log lines) and fill a struct umtp_packet the caller frees.
 *
 *   umtp_detect()        which protocol a datagram claims (1, 2, or error)
 *   umtp_p1_encode()     recipient + message -> seed packet
 *   umtp_p1_decode()     seed packet + secret -> recipient + message
 *   umtp_p2_encode()     envelope + message -> protocol 2 packet
 *   umtp_p2_keyid()      the 8-byte key id of a key (what packets carry)
 *   umtp_p2_peek_keyid() the key id a protocol 2 packet names, before any
 *                        verification (to pick the key to verify with)
 *   umtp_p2_decode()     verify MAC and timestamp, then parse and inflate
 *   umtp_strip_received(), umtp_gzip(), umtp_gunzip(), umtp_find_msgid():
 *                        the pieces, exported for the milter and the tests
 *
 * Replay protection is not here (the codec is stateless): the receiver
 * keeps the (key id, nonce) pairs it accepted within the skew window.
 */
#ifndef LEAFMAIL_UMTP_CODEC_H
#define LEAFMAIL_UMTP_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Fragmented UDP doesn't work: one Ethernet frame minus IP and UDP headers. */
#define UMTP_MAX_DGRAM_V4 1472
#define UMTP_MAX_DGRAM_V6 1452

#define UMTP_P2_MAGIC "\xffUM"  /* then the version byte */
#define UMTP_P2_VERSION 2
#define UMTP_P2_MACLEN 16       /* HMAC-SHA256 truncated to 128 bits */
#define UMTP_P2_NONCELEN 16
#define UMTP_KEYID_LEN 8
#define UMTP_P2_MINKEY 16       /* protocol 2 keys are at least 16 bytes */
#define UMTP_P1_DIGESTLEN 16
#define UMTP_MAX_RCPTS 64
#define UMTP_MAX_FIELD 255      /* sender, recipient, Message-ID lengths */

enum umtp_err {
	UMTP_OK = 0,
	UMTP_E_TRUNCATED,   /* shorter than its structure says */
	UMTP_E_BADMAGIC,    /* neither protocol's framing */
	UMTP_E_BADVERSION,  /* our magic, unknown version */
	UMTP_E_BADLENGTH,   /* protocol 1 length field disagrees */
	UMTP_E_BADMAC,      /* digest or HMAC does not verify */
	UMTP_E_TOOLARGE,    /* datagram over the limit (encoder: won't fit) */
	UMTP_E_BADGZIP,     /* payload is not one well-formed gzip member */
	UMTP_E_BOMB,        /* payload inflates beyond the configured cap */
	UMTP_E_BADFIELD,    /* empty/overlong/unsafe address or Message-ID */
	UMTP_E_STALE,       /* timestamp outside the skew window */
	UMTP_E_REPLAY,      /* (key id, nonce) seen before (receiver's cache) */
	UMTP_E_UNKNOWNKEY,  /* no key for this key id / source */
	UMTP_E_BADKEY,      /* key too short for protocol 2 */
	UMTP_E_NOMEM,
	UMTP_E_CRYPTO,      /* libcrypto or zlib failed internally */
	UMTP_E_SEND,        /* umtp_out: the socket refused the datagram (errno) */
};

const char *umtp_strerror(int e);

struct umtp_packet {
	int protocol;        /* 1 or 2 */
	char *sender;        /* "" for protocol 1 (it has none) */
	char **rcpts;        /* nrcpt NUL-terminated addresses */
	size_t nrcpt;
	char *msgid;         /* "" when none; protocol 1 has none on the wire */
	char *data;          /* the message as sent (Received: stripped), NUL-terminated */
	size_t datalen;
	uint64_t timestamp;  /* protocol 2 */
	unsigned char nonce[UMTP_P2_NONCELEN];
	unsigned char keyid[UMTP_KEYID_LEN];
};

void umtp_packet_free(struct umtp_packet *m);

/* 1 or 2 for what the packet's framing claims, else -UMTP_E_*. */
int umtp_detect(const unsigned char *pkt, size_t len);

/* The seed's header filter: drop Received: header lines and their
 * continuation lines from the header block, split on "\n" the way Perl's
 * split drops trailing empty fields, every kept line ending in "\n".
 * 0 or -1 (no memory); *out is malloc'd and NUL-terminated. */
int umtp_strip_received(const char *msg, size_t len, char **out, size_t *outlen);
/* One RFC 1952 gzip member (zlib windowBits 31, level 9). */
int umtp_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen);
/* Inflate exactly one gzip member that fills in[] entirely; at most cap
 * bytes of output.  UMTP_OK, UMTP_E_BADGZIP, UMTP_E_BOMB or UMTP_E_NOMEM;
 * *out is NUL-terminated. */
int umtp_gunzip(const void *in, size_t len, size_t cap, char **out, size_t *outlen);
/* The Message-ID header's value (angle brackets included, folded lines
 * joined, surrounding blanks removed) into buf; 0, or -1 when there is none
 * or it does not fit / is unsafe. */
int umtp_find_msgid(const char *msg, size_t len, char *buf, size_t buflen);
/* 1 when s may appear as an envelope address in a packet: 1..255 bytes of
 * printable ASCII without blanks, '<', '>', '(', ')', '\\', ',', ';' or
 * '"', not starting with '-' (sender may be empty). */
int umtp_addr_ok(const char *s, int may_be_empty);

/* Protocol 1.  Strips Received:, gzips, frames, digests.  UMTP_E_TOOLARGE
 * when the packet would exceed max. */
int umtp_p1_encode(const unsigned char *secret, size_t slen, const char *rcpt,
                   const char *msg, size_t msglen, unsigned char *pkt,
                   size_t max, size_t *pktlen);
/* Verify and parse; message inflated to at most cap bytes. */
int umtp_p1_decode(const unsigned char *secret, size_t slen,
                   const unsigned char *pkt, size_t len, size_t cap,
                   struct umtp_packet *out);

/* Protocol 2. */
struct umtp_p2_env {
	const char *sender;      /* may be "" */
	const char *const *rcpts;
	size_t nrcpt;
	const char *msgid;       /* may be "" */
};
void umtp_p2_keyid(const unsigned char *key, size_t klen,
                   unsigned char id[UMTP_KEYID_LEN]);
/* now: the timestamp to put in; the nonce comes from RAND_bytes(). */
int umtp_p2_encode(const unsigned char *key, size_t klen,
                   const struct umtp_p2_env *env, const char *msg,
                   size_t msglen, time_t now, unsigned char *pkt, size_t max,
                   size_t *pktlen);
/* Same with a given nonce (tests, fuzz seeds). */
int umtp_p2_encode_nonce(const unsigned char *key, size_t klen,
                         const struct umtp_p2_env *env, const char *msg,
                         size_t msglen, time_t now,
                         const unsigned char nonce[UMTP_P2_NONCELEN],
                         unsigned char *pkt, size_t max, size_t *pktlen);
int umtp_p2_peek_keyid(const unsigned char *pkt, size_t len,
                       unsigned char id[UMTP_KEYID_LEN]);
/* Verifies the MAC first (constant time), then |now - timestamp| <=
 * max_skew, then parses and inflates (cap). */
int umtp_p2_decode(const unsigned char *key, size_t klen,
                   const unsigned char *pkt, size_t len, size_t cap,
                   time_t now, long long max_skew, struct umtp_packet *out);

#endif
