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
	int c = EOF, lf = 0;

	while (n < size - 1) {
		if ((c = getc_unlocked(in)) == EOF || c == '\n')
			break;
		buf[n++] = (char)c;
	}
	if (c == '\n') {
		lf = 1;
	} else if (c == EOF && n == 0) {
		buf[0] = '\0';
		*len = 0;
		return LINEREAD_EOF;
	} else if (c != EOF) {
		/* The buffer is full: the line is complete only if its LF
		 * comes next (a CR before it must still be cut). */
		if ((c = getc_unlocked(in)) == '\n')
			lf = 1;
		else if (c != EOF)
			ungetc(c, in);
	}
	/* A CR is part of the line end only before an LF: a last line
	 * "\r" without one is not an empty line. */
	if (lf && n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return lf || c == EOF ? LINEREAD_LINE : LINEREAD_PART;
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
