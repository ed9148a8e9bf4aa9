/*
 * redis.h - a small, thread-safe Redis client on hiredis for the state
 * that must be shared between hosts (relay.store = "redis"): settings from
 * the configuration's redis section, a pool of blocking connections, and
 * pipelined commands with a deadline.
 *
 *   redis_new()    settings from cfg's redis section; reads password-file
 *                  now (so before dropping privileges); connects nothing
 *   redis_run()    send n commands on one connection, pipelined, and read
 *                  their n replies; a connection that fails is dropped;
 *                  when it came from the pool and the server had closed
 *                  or reset it (a Redis restart), the commands are sent
 *                  once more on a fresh one, so every command given must
 *                  be safe to repeat; a timeout is not retried
 *   redis_free()   close every pooled connection
 *
 * Connections are made on first use (a daemon forks after redis_new()
 * without sharing a socket with its parent), authenticated with AUTH when
 * a password is set, moved to the configured database with SELECT, and
 * kept in the pool (at most REDIS_POOL_MAX idle) for the next caller.
 * Every connect, write and read has the redis.timeout deadline.
 *
 * A Redis error reply (-ERR ...) is a reply, not a failure: callers look
 * at reply->type.  Nothing here logs or exits; errors go to err.
 */
#ifndef LEAFMAIL_REDIS_H
#define LEAFMAIL_REDIS_H

#include <confuse.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

#define REDIS_POOL_MAX 128
#define REDIS_PREFIX_MAX 128

struct redis;

struct redis_cmd {
	int argc;
	const char **argv;
	const size_t *lens;
};

/* The redis section of cfg.  NULL with err when redis.address is unset or
 * the password file is unreadable or readable by group or others. */
struct redis *redis_new(cfg_t *cfg, char *err, size_t errlen);
void redis_free(struct redis *r);
/* "127.0.0.1:6379 db 0" or "unix:/run/redis.sock db 0", for messages. */
const char *redis_name(const struct redis *r);
/* redis.key-prefix, e.g. "leafmail:". */
const char *redis_prefix(const struct redis *r);
/* 0 with replies[0..n-1] set (free each with freeReplyObject()), or -1
 * with err and no replies. */
int redis_run(struct redis *r, size_t n, const struct redis_cmd *cmds,
              redisReply **replies, char *err, size_t errlen);
/* One command; its reply or NULL with err. */
redisReply *redis_cmd(struct redis *r, int argc, const char **argv,
                      const size_t *lens, char *err, size_t errlen);

#endif
