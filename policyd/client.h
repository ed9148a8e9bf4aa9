/*
 * client.h - one client connection of leafmail-policyd: requests in,
 * answers out, until the client closes it.
 *
 *   client_run(in, out, ctx)
 *       Read requests from in (policyreq.h), answer each with
 *       "action=...\n\n" (answer.h) on out, flushed at once; Postfix
 *       keeps the connection and sends the next request on it.  Returns
 *       the number of requests answered when input ends, or -1 when an
 *       answer could not be written.
 *
 * Memory is the same for any input: one line buffer of
 * POLICYREQ_LINE_MAX bytes and one struct policyreq.  A longer line is
 * read to its end and dropped, and makes its request bad (451).  A
 * request cut off by the end of input is not answered.  Timeouts are the
 * streams' (the server sets them on the socket).
 */
#ifndef LEAFMAIL_POLICYD_CLIENT_H
#define LEAFMAIL_POLICYD_CLIENT_H

#include <stdio.h>

#include "answer.h"

long client_run(FILE *in, FILE *out, const struct answer_ctx *ctx);

#endif
