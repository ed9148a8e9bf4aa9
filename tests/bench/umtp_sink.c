/*
 * umtp_sink.c - the cheapest sendmail(1) stand-in for umtp_bench.sh:
 * copies standard input to $UMTP_SINK_DIR/<pid>.<ns>.msg (written as
 * .tmp, then renamed, so a counter sees whole messages) and exits 0.
 * Arguments (-i RCPT, or -oi -f SENDER -- RCPT...) are ignored: both the
 * seed's receiver and `umtp receive` inject into this same sink, so the
 * benchmark compares the receivers, not their MTAs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int
main(void)
{
	const char *dir = getenv("UMTP_SINK_DIR");
	char tmp[4096], fin[4096], buf[65536];
	struct timespec ts;
	ssize_t n;
	int fd;

	if (dir == NULL)
		return 75;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmp, sizeof tmp, "%s/%ld.%lld.tmp", dir, (long)getpid(),
	         (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	snprintf(fin, sizeof fin, "%s/%ld.%lld.msg", dir, (long)getpid(),
	         (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return 75;
	while ((n = read(0, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			return 75;
	if (n < 0 || close(fd) < 0 || rename(tmp, fin) < 0)
		return 75;
	return 0;
}
