/* dns.h: the DNS stub. Answers allowed names from a fresh upstream query
 * (through the shared resolver cache) with blocked addresses removed, and
 * denied names with NXDOMAIN, never forwarded. UDP and TCP. */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H

#include <stddef.h>

struct event_base;
struct policy;
struct audit;
struct rsv;
struct bnd_table;
struct addr;
struct eng;
struct dns_server;

struct dns_config {
	const struct policy *pol;
	struct audit *audit;
	struct rsv *rsv;
	struct bnd_table *bindings; /* filled from allowed answers; may be NULL */
	/* called with each allowed answer's addresses (e.g. to fill nft sets); may be NULL */
	void (*on_bind)(void *arg, const char *name, const struct addr *addrs, size_t n, uint32_t ttl);
	void *bind_arg;
	/* the container engine's resolver (engine.h; the caller's, kept alive
	 * as long as the stub), asked for the single-label names the policy
	 * allows (the names of containers and compose services there); every
	 * other name is still asked of rsv. NULL: none. */
	struct eng *engine;
	size_t max_tcp;             /* TCP connections; more are closed at accept (256) */
	int tcp_idle_s;             /* idle TCP connections close after this (10) */
	size_t tcp_pipeline;        /* queries in flight per TCP connection (16) */
};

/* Fill the zero fields of cfg with the defaults. */
void dns_config_defaults(struct dns_config *cfg);

/* A stub on base; cfg is copied and the stub takes a reference to
 * cfg->pol (pol_ref). Returns 0 or -errno. */
int dns_server_new(struct event_base *base, const struct dns_config *cfg, struct dns_server **out);

/* Listen on "IP:PORT" or "[IPv6]:PORT", UDP and TCP alike.
 * Returns 0, -EINVAL for a bad address, or -errno from socket calls. */
int dns_server_listen(struct dns_server *s, const char *addrport);

/* Serve sockets made elsewhere (the sandbox hand-off): a bound UDP socket
 * and a listening TCP socket, either may be -1. Takes ownership. */
int dns_server_listen_fds(struct dns_server *s, int udp_fd, int tcp_fd);

/* Decide new queries under pol from now on (a reload); the stub takes a
 * reference and drops its old one. A query already waiting for the
 * upstream is answered, vetted and logged under the policy it was decided
 * under. */
void dns_server_set_policy(struct dns_server *srv, const struct policy *pol);

/* Close every socket and cancel pending queries (nothing is logged for them). */
void dns_server_free(struct dns_server *s);

#endif
