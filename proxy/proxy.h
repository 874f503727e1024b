/* proxy.h: the policy-enforcing CONNECT / absolute-form HTTP proxy. */
#ifndef SLUICE_PROXY_H
#define SLUICE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct policy;
struct audit;
struct rsv;
struct px_server;
struct bnd_table;
struct px_cache;
struct eng;

struct px_config {
	const struct policy *pol;
	struct audit *audit;
	struct rsv *rsv;
	struct bnd_table *bindings; /* names the DNS stub handed out, for the transparent port; may be NULL */
	/* the container engine's resolver (engine.h; the caller's, kept alive as
	 * long as the server): single-label names are resolved there, never by
	 * rsv, whose cache every guard shares. NULL: none. */
	struct eng *engine;
	size_t max_conns;          /* concurrent client connections (default: what RLIMIT_NOFILE allows) */
	unsigned head_timeout_s;   /* waiting for a request head */
	unsigned connect_timeout_s; /* per upstream address */
	unsigned idle_timeout_s;   /* tunnel or exchange with no traffic */
	bool reuseport;            /* px_server_listen shares its address with other workers (SO_REUSEPORT) */
	struct px_cache *cache;    /* the package cache, or NULL */
};

/* The package cache's options (DESIGN.md CACHE OPTIONS). */
struct px_cache_opts {
	const char *dir;           /* --cache DIR */
	uint64_t max_bytes;        /* --cache-max */
	unsigned meta_ttl_s;       /* --meta-ttl */
	bool offline;              /* --offline */
	const char *ca_dir;        /* --ca DIR */
	const char *upstream_ca;   /* --upstream-ca FILE, or NULL */
};

/*
 * Open the package cache: the store in o->dir, the CA in o->ca_dir (made,
 * with one stderr line, when missing), the TLS contexts for both sides.
 * Returns 0, or -errno with a one-line reason in err.
 */
int px_cache_open(struct event_base *base, const struct policy *pol, const struct px_cache_opts *o,
		  struct px_cache **out, char *err, size_t errsize);
void px_cache_free(struct px_cache *pc);
/* One stderr line for each of pol's cache hosts the CA's name constraints
 * leave out (their TLS stays a tunnel): at open and at every reload. */
void px_cache_note_hosts(const struct px_cache *pc, const struct policy *pol);

/* The CA certificate's file (for sluice run's trust bundle). */
const char *px_cache_ca_path(const struct px_cache *pc);
/* The CA certificate as PEM (owned by pc). */
const char *px_cache_ca_pem(const struct px_cache *pc);

/* Fill cfg's limits with the defaults. */
void px_config_defaults(struct px_config *cfg);

/* Create a proxy server on base; cfg is copied and the server takes a
 * reference to cfg->pol (pol_ref), so the caller may drop its own. Returns
 * 0 or -errno. */
int px_server_new(struct event_base *base, const struct px_config *cfg, struct px_server **out);

/* Serve a bound, listening, non-blocking socket (the server takes it). */
int px_server_listen_fd(struct px_server *srv, int fd);

/* Serve a transparent port: connections nft redirected here, named by
 * their TLS SNI, their HTTP Host, or the DNS stub's binding for the original
 * destination (SO_ORIGINAL_DST). The server takes fd. */
int px_server_listen_transparent_fd(struct px_server *srv, int fd);

/* Bind and listen on "IP:PORT" or "[IPv6]:PORT". Returns 0 or -errno. */
int px_server_listen(struct px_server *srv, const char *addr);

/* Close listeners and every session, and free the server. */
void px_server_free(struct px_server *srv);

/*
 * Decide new connections under pol from now on (a reload). The server takes
 * a reference to pol and drops the one it held. Connections already open
 * keep the policy they were accepted under, for every request they carry
 * (an explicit proxy's kept-alive connection, an intercepted registry
 * connection and the cache fetches it starts) and for their close records.
 */
void px_server_set_policy(struct px_server *srv, const struct policy *pol);

/* Client connections open now (sessions and intercepted ones), for the
 * connections_active gauge. */
size_t px_server_active(const struct px_server *srv);

#endif
