/* resolve.h: asynchronous DNS with c-ares on the libevent loop, behind one
 * bounded TTL cache of upstream answers keyed by (name, type). The proxy asks
 * for addresses (rsv_lookup: A and AAAA), the DNS stub for any type
 * (rsv_query); both read and fill the same cache. The cache holds what the
 * upstream said: every consumer applies its policy to each use. */
#ifndef SLUICE_RESOLVE_H
#define SLUICE_RESOLVE_H

#include <stdbool.h>
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
	size_t nrefused;       /* addresses the answer's source refused (rsv_answer), not in addrs */
	struct addr refused;   /* the first of them */
};

typedef void (*rsv_cb)(const struct rsv_result *res, void *arg);

/*
 * An upstream answer. rrs holds nanswer answer records then nauthority
 * authority records (only SOA, kept for negative answers), in uncompressed
 * wire form (read them with dnsw_read_rr), each TTL as the upstream sent it.
 * rrs is valid only until the callback returns, or for a synchronous result
 * until the next call into the resolver.
 */
struct rsv_answer {
	int status;      /* 0, -ETIMEDOUT, -EIO (SERVFAIL, REFUSED, unusable reply), -EAGAIN (full) */
	uint8_t rcode;   /* NOERROR or NXDOMAIN when status is 0 */
	uint32_t ttl;    /* seconds left, clamped to the floor and ceiling */
	uint16_t nanswer, nauthority;
	const uint8_t *rrs;
	size_t len;
	/* address records taken out of rrs by the answer's source (the
	 * container engine's client: addresses on none of the container's
	 * networks, engine.h); every consumer refuses them as blocked */
	uint16_t nrefused;
	struct addr refused;   /* the first of them */
};

typedef void (*rsv_answer_cb)(const struct rsv_answer *a, void *arg);

/* The A and AAAA answers of one address lookup, gathered into its result:
 * rsv_lookup's, and the container engine's (engine.h). */
struct rsv_gather {
	int err;             /* the first failure of an answer */
	size_t n4, n6;
	struct addr a4[RSV_MAX_ADDRS], a6[RSV_MAX_ADDRS];
	uint32_t ttl;        /* the smallest answer's */
	size_t nrefused;     /* the answers' refused addresses (rsv_answer) */
	struct addr refused; /* the first of them */
};

/* Nothing gathered yet. */
void rsv_gather_init(struct rsv_gather *g);

/* Take a's A and AAAA records (beyond RSV_MAX_ADDRS of a family: left
 * out), or its failure. */
void rsv_gather_add(struct rsv_gather *g, const struct rsv_answer *a);

/* The addresses, IPv4 first, as the proxy dials them in order; status
 * -ENOENT when there are none and no answer failed, else that failure. */
void rsv_gather_result(const struct rsv_gather *g, struct rsv_result *res);

struct rsv_opts {
	const char *servers;   /* "IP[:PORT],..." or NULL for resolv.conf */
	uint32_t ttl_floor;    /* seconds; 0 takes the default (5) */
	uint32_t ttl_ceiling;  /* seconds; 0 takes the default (3600) */
	size_t cache_max;      /* entries; 0 takes the default (4096); when full the oldest goes */
	size_t pending_max;    /* upstream queries in flight; 0 takes the default (1024) */
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

/*
 * Ask for one type of name (canonical). Same contract as rsv_lookup: 1 with
 * *now filled (cache hit or synchronous failure), 0 when cb runs later, or
 * -errno (-EAGAIN when pending_max queries are in flight).
 */
int rsv_query(struct rsv *r, const char *name, uint16_t qtype, struct rsv_answer *now, rsv_answer_cb cb,
	      void *arg, struct rsv_query **q);

/* A cached answer for (name, qtype) into *now, without asking upstream. */
bool rsv_cached(struct rsv *r, const char *name, uint16_t qtype, struct rsv_answer *now);

/* Forget a pending query: its callback will not run. */
void rsv_cancel(struct rsv_query *q);

#endif
