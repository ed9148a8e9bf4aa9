/*
 * lineread.h - the next line of a stdio stream, never more of it in
 * memory than the caller's buffer: the line reader for input a hostile
 * peer writes (the LMTP sessions of leafmail-deliver, Postfix policy
 * requests in leafmail-policyd).
 *
 * getline() reads a whole line before anyone can look at its length: one
 * 300 MiB line is 300 MiB of memory.  lineread() stops at the buffer's
 * end instead and hands the line over in pieces, so a caller decides
 * what a long line means: a command too long to answer (lineread_skip()
 * the rest), or message text it counts against a size limit as it goes.
 *
 *   lineread(in, buf, size, &len)
 *       LINEREAD_LINE  the rest of a line, its line end (LF or CRLF) cut
 *                      off; a last line without LF at end of input too,
 *                      as it is (a CR there is no line end)
 *       LINEREAD_PART  size - 1 bytes of a line that goes on: the next
 *                      call returns more of the same line
 *       LINEREAD_EOF   end of input or a read error, nothing read
 *       buf holds len bytes and a NUL after them (NULs may be among the
 *       bytes: use len); size must be at least 2.  A CR is cut only
 *       directly before the LF, also when a piece ends between the two;
 *       a line of exactly size - 1 bytes before its CRLF comes as a
 *       piece and an empty rest, so a caller whose limit must hold for
 *       CRLF lines gives one byte more and checks len itself.
 *   lineread_skip(in)
 *       Discard up to and including the next LF: 0, or -1 when input
 *       ended first.  Reads byte by byte; keeps nothing.
 *
 * The stream must not be used by two threads at once (the _unlocked
 * stdio calls inside).  Nothing here logs.
 */
#ifndef LEAFMAIL_LINEREAD_H
#define LEAFMAIL_LINEREAD_H

#include <stddef.h>
#include <stdio.h>

#define LINEREAD_EOF (-1)
#define LINEREAD_LINE 0
#define LINEREAD_PART 1

int lineread(FILE *in, char *buf, size_t size, size_t *len);
int lineread_skip(FILE *in);

#endif
