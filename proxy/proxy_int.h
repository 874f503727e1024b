/* proxy_int.h: private to proxy/: the server and session structures. */
#ifndef SLUICE_PROXY_INT_H
#define SLUICE_PROXY_INT_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "audit.h"
#include "host.h"
#include "http.h"
#include "policy.h"
#include "proxy.h"
#include "resolve.h"

#define PX_MAX_LISTENERS 16
#define PX_BIG_MAX 16  /* 4 MiB relay buffers in use at once; past that, 64 KiB ones */
#define PX_BIG_KEEP 2  /* empty 4 MiB buffers kept for the next bytes; more are unmapped */

struct px_relay;

/*
 * Session lifecycle:
 *   PEEK (transparent port) ─TLS, or no name─▶ RESOLVE ─▶ ... ─▶ TUNNEL
 *                           └─HTTP/1.x─▶ HEAD (every request decided as below)
 *   HEAD ─parse─▶ RESOLVE ─vet─▶ CONNECT ─▶ TUNNEL (CONNECT)
 *                                        └▶ EXCHANGE (HTTP) ─done, keep-alive─▶ HEAD
 *                                              └─101 to a WebSocket upgrade─▶ TUNNEL
 * any phase ─deny/error─▶ DRAIN (answer written, close once flushed) ─▶ closed
 * (the transparent port answers only malformed HTTP requests, with 400; its
 * other refusals are resets, sent once what the client was sent is delivered)
 */
enum px_phase {
	PX_PEEK,
	PX_HEAD,
	PX_RESOLVE,
	PX_CONNECT,
	PX_TUNNEL,
	PX_EXCHANGE,
	PX_DRAIN,
};

/* Body framing state of one direction of an HTTP exchange. */
struct px_body {
	enum http_body kind;
	uint64_t left;
	struct http_chunked ch;
	bool done;
};

struct px_server {
	struct event_base *base;
	struct px_config cfg;
	struct event *lst[PX_MAX_LISTENERS]; /* a listening socket each (server.c) */
	bool transparent[PX_MAX_LISTENERS];
	bool deferred[PX_MAX_LISTENERS];     /* accepts only once bytes came (TCP_DEFER_ACCEPT) */
	size_t nlst;
	LIST_HEAD(, px_session) sessions;
	LIST_HEAD(, px_cx) cxs;      /* connections the package cache took over */
	size_t nconns;
	uint64_t next_id;
	unsigned epoch;
	int reserve_fd;       /* spare descriptor, released to shed load on EMFILE */
	struct event *resume; /* re-enables listeners after a descriptor shortage */
	LIST_HEAD(, px_session) ended; /* finished tunnels (off sessions) whose sockets close at the end of the pass */
	struct event *reap;            /* ... which closes them (relay.c) */
	char *bufs[PX_BIG_KEEP]; /* empty 4 MiB relay buffers */
	size_t nbufs, big_out;   /* kept; in use */
};

/* sluice reads a bufferevent's socket itself (session.c): libevent would ask
 * FIONREAD before every read, one more syscall per read. */
struct px_reader {
	struct px_session *s;
	struct event *ev; /* NULL until the side has a socket */
	bool up;          /* which side: upstream or client */
	bool want;        /* the session wants bytes; the input's fill may still pause it */
};

struct px_session {
	LIST_ENTRY(px_session) link;
	struct px_server *srv;
	const struct policy *pol; /* a reference: the policy this connection is decided under */
	struct bufferevent *cli, *up; /* written through libevent, read through rcli, rup */
	int cli_fd;           /* the client's socket while cli is not made yet (else -1): a CONNECT
			       * tunnelled in the pass that read it never needs cli */
	struct px_reader rcli, rup;
	enum px_phase phase;
	struct event *timer;
	char id[32];
	char remote[ADDR_TEXT_MAX + 8];

	/* the request being decided or served */
	bool transparent;     /* from the transparent port: refusals are resets */
	bool http;            /* transparent: HTTP/1.x, each request named by its Host */
	bool ech;             /* transparent: an encrypted ClientHello (its name is the outer one) */
	struct addr orig;     /* transparent: where the client was going */
	uint16_t orig_port;
	bool peek_extended;   /* transparent: first bytes came, waiting for the rest */
	bool reset_on_close;  /* close with a reset (a transparent refusal) */
	int64_t reset_by;     /* ... at the latest then, delivered or not */
	bool is_connect;
	char method[33];
	struct host host;
	uint16_t port;
	struct pol_verdict verdict;
	bool report_only;     /* denied by policy but mode: report */
	bool decision_logged;
	struct addr addrs[RSV_MAX_ADDRS];
	size_t naddrs, next_addr;
	struct rsv_query *query;
	struct eng_lookup *elookup; /* a single-label name asked of the container engine's resolver instead */
	int64_t t_start, t_dns, t_connect, last_active;
	long dns_ms, connect_ms;
	uint64_t bytes_up, bytes_down; /* written to each socket (counted as the kernel takes them) */
	uint64_t down_own;    /* of bytes_down, the proxy's own answer (a CONNECT's 200): not logged */
	uint64_t resp_read;   /* bytes of the answer read from upstream: none means the client has had none */

	/* HTTP exchange */
	struct evbuffer *head; /* a rewritten head: the request's until sent, then the response's */
	struct px_body req, resp;
	bool resp_head_seen;
	bool done_pending;    /* the exchange is done; its record waits for the client's output to drain */
	bool upgrade;         /* a WebSocket upgrade asked for and passed on */
	bool client_keep;
	char up_key[HOST_NAME_LEN + 8]; /* host:port the open upstream serves */
	bool up_reusable;

	bool cli_eof, up_eof;
	bool up_shut, cli_shut;

	struct px_relay *rl; /* a tunnel relayed off the bufferevents: cli and up are NULL */
	struct event *dial;  /* a tunnel's upstream socket while it connects (up is NULL then) */
};

/* session.c */
/* A session for an explicit proxy client; has_data: the listener defers
 * accepts until the first bytes (TCP_DEFER_ACCEPT), so read them at once. */
void px_session_start(struct px_server *srv, evutil_socket_t fd, const struct sockaddr *sa, bool has_data);
void px_session_start_transparent(struct px_server *srv, evutil_socket_t fd);
/* A session for an explicit proxy client whose next request (its bytes in
 * pending, which are taken) the package cache does not serve; it goes on
 * under pol, the connection's policy (a reference is taken). */
void px_session_resume(struct px_server *srv, const struct policy *pol, evutil_socket_t fd,
		       struct evbuffer *pending);
void px_session_free(struct px_session *s);
/* Log the close record (if the request was allowed), with reason (NULL for a
 * normal end, "client_closed" when the client went away first), and free the
 * session. */
void px_session_close(struct px_session *s, const char *reason);
/* Log the close record now (as px_session_close would); the session stays,
 * and its px_session_close later logs nothing more. */
void px_session_log_close(struct px_session *s, const char *reason);

/* intercept.c */
/* Whether a connection to h:port is the package cache's: a cache rule of pol names
 * h, and it is TLS to 443 (with a CA that may vouch for h) or HTTP to 80. */
bool px_cache_wants(const struct px_config *cfg, const struct policy *pol, const struct host *h, uint16_t port,
		    bool tls);
/* Take an allowed session's client over (the session is freed). Returns 0,
 * or -ENOMEM with the session untouched. */
int px_cx_take(struct px_session *s, bool tls);
void px_cx_free_all(struct px_server *srv);

/* relay.c */
/* Move an established tunnel's sockets to the relay: the client's
 * bufferevent, and upstream's (s->up) or, without one, up_fd, a connected
 * socket with no event. Bytes the client sent early go first. Returns 0, or
 * -EAGAIN/-ENOMEM with nothing changed (the bufferevent relay goes on). */
int px_relay_start(struct px_session *s, int up_fd);
void px_relay_free(struct px_session *s);
/* The relay's client (up false) or upstream socket, or -1 without a relay. */
int px_relay_fd(const struct px_session *s, bool up);
void px_bufs_free(struct px_server *srv);

/* session.c: stop reading through the bufferevents (the relay takes over). */
void px_readers_drop(struct px_session *s);

/* Write a complete error answer straight to a socket that has no session
 * (connection cap, descriptor shortage). */
void px_refuse_fd(evutil_socket_t fd, int status, const char *reason);

#endif
