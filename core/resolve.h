/* resolve.h: asynchronous A/AAAA resolution with c-ares on the libevent loop,
 * behind a bounded TTL cache shared by the proxy and the DNS stub. */
#ifndef SLUICE_RESOLVE_H
#define SLUICE_RESOLVE_H

#include <stdint.h>

#include "addr.h"

#define RSV_MAX_ADDRS 16

struct event_base;
struct rsv;
struct rsv_query;

struct rsv_result {
	int status;    /* 0, -ENOENT (no such name or no address), -ETIMEDOUT, -EIO */
	size_t naddrs;
	struct addr addrs[RSV_MAX_ADDRS];
	uint32_t ttl;  /* seconds, already clamped to the cache's floor and ceiling */
};

typedef void (*rsv_cb)(const struct rsv_result *res, void *arg);

struct rsv_opts {
	const char *servers;   /* "IP[:PORT],..." or NULL for resolv.conf */
	uint32_t ttl_floor;    /* seconds; 0 takes the default (5) */
	uint32_t ttl_ceiling;  /* seconds; 0 takes the default (3600) */
	size_t cache_max;      /* entries; 0 takes the default (4096) */
};

/* Create a resolver on base. Returns 0 or -errno (-EINVAL for bad servers). */
int rsv_new(struct event_base *base, const struct rsv_opts *opts, struct rsv **out);

/* Cancel every pending query (no callbacks) and free the resolver. */
void rsv_free(struct rsv *r);

/*
 * Resolve name (canonical, see host.h). On a cache hit fills *now and
 * returns 1 without calling cb. Otherwise returns 0 and cb runs later from
 * the loop, unless rsv_cancel(*q) is called first. Returns -errno on failure.
 */
int rsv_lookup(struct rsv *r, const char *name, struct rsv_result *now, rsv_cb cb, void *arg,
	       struct rsv_query **q);

/* Forget a pending query: its callback will not run. */
void rsv_cancel(struct rsv_query *q);

#endif
