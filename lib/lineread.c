/*
 * lineread.c - bounded line input (lineread.h).
 *
 * Byte by byte through getc_unlocked(): a macro over stdio's own buffer,
 * so the cost is a compare per byte, and NUL bytes are counted like any
 * other (fgets() could not say where a line with a NUL in it ends).
 */
#include "lineread.h"

int
lineread(FILE *in, char *buf, size_t size, size_t *len)
{
	size_t n = 0;
	int c = EOF, complete = 0;

	while (n < size - 1) {
		if ((c = getc_unlocked(in)) == EOF || c == '\n')
			break;
		buf[n++] = (char)c;
	}
	if (c == '\n') {
		complete = 1;
	} else if (c == EOF) {
		if (n == 0) {
			buf[0] = '\0';
			*len = 0;
			return LINEREAD_EOF;
		}
		complete = 1; /* the last line, unterminated */
	} else {
		/* The buffer is full: the line is complete only if its LF
		 * comes next (a CR before it must still be cut). */
		c = getc_unlocked(in);
		if (c == '\n' || c == EOF)
			complete = 1;
		else
			ungetc(c, in);
	}
	if (complete && n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return complete ? LINEREAD_LINE : LINEREAD_PART;
}

int
lineread_skip(FILE *in)
{
	int c;

	while ((c = getc_unlocked(in)) != EOF)
		if (c == '\n')
			return 0;
	return -1;
}
