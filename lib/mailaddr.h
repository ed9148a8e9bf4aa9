/*
 * mailaddr.h - an envelope address or Message-ID as the MTA hands it
 * over, reduced to its bare text: surrounding blanks and one pair of
 * angle brackets go ("<a@b>", " <id@host> " -> "a@b", "id@host").
 * Shared by the UMTP duplicate store (lib/dedup.c), the milter's UMTP
 * hooks and leafmail-deliver's Delivered-To check.
 */
#ifndef LEAFMAIL_MAILADDR_H
#define LEAFMAIL_MAILADDR_H

#include <stddef.h>

/* The bare text of s into out; its length (0 for "<>" or blanks), or -1
 * when it does not fit outlen bytes with its NUL. */
long mailaddr_strip(const char *s, char *out, size_t outlen);

#endif
