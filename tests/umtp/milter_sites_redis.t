#!/bin/sh
# milter_sites_redis.t - milter_sites.t with site B's duplicate store in a
# private Redis (umtp.dedup-store = "redis"): the milter's umtp-dedup and
# `umtp receive` then agree through Redis instead of the LMDB file.
MS_REDIS=1
. "$LEAFMAIL_SRC/tests/umtp/milter_sites.t"
