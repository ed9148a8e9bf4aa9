/*
 * umtp_peers.h - the keys and peers of the `umtp {}` configuration section.
 *
 * A peer (`peer "DOMAIN" { address, key-file, protocol }`) is the site
 * that serves recipient domain DOMAIN; its key-file defaults to
 * umtp.key-file.  The default key (umtp.key-file) is used for protocol 2
 * with anyone not configured as a peer.  Key files are read with
 * secret_read(): refused when group or others can read them.
 *
 *   umtp_peers_load()       parse the section (addresses resolved when resolve
 *                      is set; keys not read yet)
 *   umtp_peers_read_key()   read one peer's key (send reads only the one it uses)
 *   umtp_peers_read_keys()  read every key (receive, before dropping privileges)
 *   umtp_peers_find_domain(), umtp_peers_find_address(), umtp_peers_match_source()
 */
#ifndef LEAFMAIL_UMTP_PEERS_H
#define LEAFMAIL_UMTP_PEERS_H

#include <confuse.h>
#include <stddef.h>

#include "addr.h"
#include "umtp_codec.h"

#define PEERS_MAX_KEY 8192 /* the seed's $maxsecret */
#define PEERS_MAX_ADDRS 8

struct umtp_peer {
	char *domain;         /* title; NULL for the default key */
	char *host, *port;    /* from address (NULL when none) */
	struct addr addrs[PEERS_MAX_ADDRS];
	size_t naddr;
	struct sockaddr_storage sa; /* the first resolved address: where to send */
	socklen_t salen;            /* 0 when not resolved */
	char *key_file;
	unsigned char *key;
	size_t klen;
	unsigned char keyid[UMTP_KEYID_LEN];
	int protocol;
};

struct umtp_peers {
	struct umtp_peer *v;  /* configured peers */
	size_t n;
	struct umtp_peer def; /* umtp.key-file, protocol 2, any source */
};

int umtp_peers_load(cfg_t *umtp, int resolve, struct umtp_peers *p, char *err,
               size_t errlen);
void umtp_peers_free(struct umtp_peers *p);
int umtp_peers_read_key(struct umtp_peer *peer, char *err, size_t errlen);
/* Every peer's key, and the default key (missing default: -1 unless
 * default_optional and there are peers). */
int umtp_peers_read_keys(struct umtp_peers *p, int default_optional, char *err,
                    size_t errlen);
struct umtp_peer *umtp_peers_find_domain(struct umtp_peers *p, const char *domain);
struct umtp_peer *umtp_peers_find_address(struct umtp_peers *p, const char *host,
                                     const char *port);
/* 1 when the source address a is one of the peer's addresses. */
int umtp_peers_match_source(const struct umtp_peer *peer, const struct addr *a);

#endif
