/*
 * headers.h - the trace headers a delivery adds, and mail loop detection.
 *
 *   headers_scan(msg, len, rcpt, &hi)
 *       Read the message header (up to the first empty line).  The "top"
 *       is the run of Return-Path, Delivered-To and X-Original-To fields
 *       the MTA may have prepended (Postfix pipe(8) flags R, D, O).  Sets
 *       hi.has_return_path when the top has a Return-Path,
 *       hi.has_delivered_to when the top has a Delivered-To for rcpt, and
 *       hi.loop when any other Delivered-To for rcpt appears anywhere in
 *       the header: the message has been here before (5.4.6).
 *   headers_prefix(out, n, &hi, sender, rcpt)
 *       The lines to write before the message: "Return-Path: <sender>" and
 *       "Delivered-To: rcpt", each unless already on top.  Returns the
 *       length, or -1 when out is too small.
 *   headers_value_ok(s)
 *       1 when s can go into a header line (no CR, LF or other control).
 */
#ifndef LEAFMAIL_HEADERS_H
#define LEAFMAIL_HEADERS_H

#include <stddef.h>
#include <sys/types.h>

struct headers_info {
	int has_return_path;
	int has_delivered_to;
	int loop;
};

void headers_scan(const char *msg, size_t len, const char *rcpt,
                  struct headers_info *hi);
ssize_t headers_prefix(char *out, size_t n, const struct headers_info *hi,
                       const char *sender, const char *rcpt);
int headers_value_ok(const char *s);

#endif
