/*
 * ev.h - what an epoll event in leafmail-tunneld points at, and the clock.
 *
 * Every registered descriptor carries a struct ev_tag in epoll_data.ptr:
 * its kind and the object it belongs to, so the loop dispatches without a
 * lookup.  Times are milliseconds of CLOCK_MONOTONIC (never wall-clock:
 * an NTP step must not tear a tunnel down or keep it forever).
 */
#ifndef TUNNELD_EV_H
#define TUNNELD_EV_H

#include <stdint.h>
#include <time.h>

enum ev_kind { EV_SIGNAL, EV_LISTEN, EV_SSHERR, EV_CLIENT, EV_UPSTREAM };

struct ev_tag {
	enum ev_kind kind;
	void *obj;
};

static inline int64_t
ev_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
