/* cache_int.h: private to proxy/: the package cache's intercepted
 * connections (intercept.c) and their upstream fetches (fetch.c).
 *
 * DOC: Theory of operation
 * A connection to a host that a cache rule names is taken from its session
 * once the policy allowed it: a CONNECT or transparent TLS connection to
 * port 443 is answered and its TLS ended here with a leaf for the name the
 * client asked for (the SNI must be that name); a plain HTTP request to
 * port 80 is read as it is. Each request inside is decided again by the
 * policy, then classified by the cache rules:
 *   stored, immutable or fresh ─▶ served from the store (hit)
 *   stored, older than --meta-ttl ─▶ conditional fetch: 304 revalidated,
 *                                    200 miss, upstream down: stale
 *   not stored ─▶ fetch (one per key: later clients follow it) ─▶ miss
 *   anything else (other methods, Authorization, cookies) ─▶ bypass
 * A fetch writes the body to the store's temporary file as it arrives; the
 * first follower that keeps up is handed the bytes themselves, the others
 * (late, or slower) read that file as it grows; when the ecosystem
 * publishes the object's hash, every follower waits until the whole body
 * is checked. The commit (fsync, rename, record) runs on a worker thread
 * (commit.c) after the body is complete: clients do not wait for the disk;
 * one that asks meanwhile is served from the complete, checked file.
 * A body of CX_ASYNC_MIN or more is hashed and written by its writer's
 * flusher thread (cache/store_flusher.c); followers read the file only as
 * far as it holds (px_fetch_filed), and the check waits for the flusher.
 * A body with a published hash that the store does not take (full, or
 * over --cache-max) is held whole in memory instead (CX_HOLD_MAX), hashed
 * as it comes, and given to every follower only once it matches.
 * Upstream is dialed only for a fetch: a warm store serves with the
 * registry down.
 */
#ifndef SLUICE_PROXY_CACHE_INT_H
#define SLUICE_PROXY_CACHE_INT_H

#include <event2/buffer.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "lowat.h"
#include "proxy_int.h"
#include "store.h"
#include "upread.h"
#include "verify.h"

#define CX_BODY_MAX (1u << 20)    /* request bodies (bypass) and non-200 answers are held whole, up to this */
#define CX_STALE_MAX_S (7 * 86400) /* stale metadata is served for at most this long past its fetch */
#define CX_CHUNK (256u << 10)     /* bytes read from a file per turn */
#define UPREAD_FROM (1u << 20)    /* upstream bodies this long are read in CX_CHUNK pieces (upread.c) */
#define CX_SENDFILE_MIN (64u << 10) /* plain HTTP: smaller bodies are copied, to go with their head */
#define CX_HEAD_MAX 1536          /* an answer's head from the store (its fields are bounded: under 1 KiB) */
#define CX_RECORD (16u << 10)     /* a TLS record's plaintext */
#define CX_POOL_MAX 8             /* idle upstream connections kept per host */
#define CX_POOL_IDLE_S 30
#define CX_HDR_MAX 16384
#define CX_FEED_HIGH (4u << 20)  /* client output a fetch hands upstream's bytes to, at most */
#define CX_ASYNC_MIN (4u << 20)  /* bodies at least this long are written on a flusher thread */
/* A body with a published hash that the store does not take (full, or over
 * --cache-max) is held whole in memory, hashed as it comes and served once
 * it matches, when it is at most this long; a longer one cannot be checked
 * (502 verify_failed). 64 MiB: npm tarballs, wheels and .debs are nearly
 * all smaller; the bound keeps one fetch's memory to that. */
#define CX_HOLD_MAX (64u << 20)
#define CX_HOLD_ALL (256u << 20) /* ... and all held bodies of a process together */
/* A held body stays held while a client still takes it: one that has taken
 * none of its next pieces for this long is cut (reason limit), so clients
 * that do not read cannot keep CX_HOLD_ALL full and every other held check
 * answered 502. A piece is taken each time the client's output drains to
 * its low mark (half a MiB): a live client does that well within 30 s at
 * anything over about 20 KiB/s. */
#define CX_HOLD_IDLE_S 30
/* Any answer: a client that has taken no byte of it for this long while
 * sluice has bytes for it (its TCP peer acknowledged none: the kernel's
 * buffers are full) is cut, reason limit, so that clients that ask and
 * never read cannot each keep a descriptor and buffers for ever. A live
 * client reading at a few bytes a second still takes some within it. The
 * check runs every CX_STALL_S / 3 during a request. */
#define CX_STALL_S 30

struct px_fetch;
struct px_cx;
struct px_committer;

struct px_upconn {                /* an idle upstream connection */
	LIST_ENTRY(px_upconn) link;
	struct px_cache *pc;
	struct bufferevent *bev;
	struct event *timer;
	char key[HOST_NAME_LEN + 16]; /* host:port:tls */
	const struct policy *pol;     /* a reference: only a fetch under this policy takes it */
	struct addr addr;             /* where it goes: vetted again when taken */
};

struct px_cache {
	struct event_base *base;
	struct cache_store *store;
	struct cache_expect *expect;
	struct ca *ca;             /* NULL: no TLS interception (plain HTTP registries only) */
	SSL_CTX *server_ctx, *client_ctx; /* client_ctx: made at the first fetch */
	char *upstream_ca;
	unsigned meta_ttl_s;
	bool offline;
	bool warned_full;          /* one stderr line when the store is full */
	uint64_t held_bytes;       /* bytes of held bodies (CX_HOLD_ALL) */
	char learned[256][65];     /* blobs whose published hashes were learned lately */
	unsigned nlearned;
	LIST_HEAD(, px_fetch) fetches; /* in flight, shared by key */
	LIST_HEAD(, px_upconn) idle;
	size_t nidle;
	struct px_committer *committer; /* the commits' worker thread, started on first use */
	struct event *count_timer; /* writes the hits and misses counted in memory, a second after the first */
};

/* One request inside an intercepted connection. */
struct px_creq {
	struct px_cx *cx;
	LIST_ENTRY(px_creq) flink;  /* on its fetch's followers */
	struct px_fetch *f;
	char method[16];
	char *target;               /* origin-form path and query */
	struct span path;           /* of target, without the query */
	const struct pol_cache_rule *rule;
	const struct pol_entry *pol_rule;
	char key[CACHE_KEY_MAX];
	char package[256];
	const char *cache;          /* the audit's cache word */
	const char *fail;           /* the reason sluice's own error answer gave */
	bool report_only;           /* denied by the policy, let through by mode: report */
	enum pol_reason report_reason;
	bool head_only, gzip, keep;
	bool store_ok;              /* no Authorization, no cookies, a GET */
	bool has_range;
	uint64_t range_from, range_to; /* inclusive, when has_range */
	bool cond_match;            /* the client's If-None-Match names the stored entry */
	char inm[256];
	bool no_cache;              /* Cache-Control: max-age=0 or no-cache */
	char form[220];             /* the representation, in the key ("corgi", "accept=...") */
	char accept[200];           /* the Accept sent upstream for a stored request */
	char hdr_store[2048];       /* request headers sent upstream for a stored request */
	char *hdr_bypass;           /* ... and for a bypass: every end-to-end one (CX_HDR_MAX) */
	struct cache_entry e;       /* the stored entry being served or revalidated */
	bool have_entry;
	bool counted;               /* in the store's hit and miss counters */
	int fd;                     /* serving from: a blob, or the fetch's growing file */
	int reval_fd;               /* the stored entry's blob while it is revalidated (-1: none) */
	uint64_t off, end;          /* next byte, and the end of what is served */
	struct evbuffer_ptr held_at; /* off in a held body (its fetch's mem) */
	int64_t held_took_ms;       /* ... when the client last took a piece of it (CX_HOLD_IDLE_S) */
	bool streaming;             /* following a fetch's file as it grows */
	bool started;               /* the answer's head has gone */
	char head[CX_HEAD_MAX];     /* ... to the output at the next pump, with the body's first bytes */
	size_t head_len;
	struct evbuffer *body;      /* a request body (bypass) */
	int64_t t0;
	uint64_t bytes;
	int status;
};

/* One intercepted client connection. */
struct px_cx {
	LIST_ENTRY(px_cx) link;
	struct px_server *srv;
	const struct policy *pol;   /* a reference: the policy its session was decided under */
	struct px_cache *pc;
	struct bufferevent *cli;    /* TLS filter over the socket, or the socket */
	struct event *timer;
	struct event *next;         /* reads the next request on a turn of the loop of its own (creq_done) */
	bool tls, explicit_plain, handshook, closing;
	char id[32];
	char event[16];
	char sni[HOST_NAME_LEN + 1];
	struct host host;
	uint16_t port;
	struct px_creq *req;
	int64_t t_start;
	int64_t close_by;           /* closing: given up on the client draining at this time (ms) */
	uint64_t took;              /* what the client had taken (px_tcp_acked) at took_ms (CX_STALL_S) */
	int64_t took_ms;
	const char *close_reason;
	/* the connection's own decision (TLS), as its session made it */
	bool report_only;           /* mode: report let a denied name through: would_deny */
	enum pol_reason report_reason;
	const struct pol_entry *rule;
};

/* intercept.c */
/* A fetch has news for a follower: its head, more bytes, the end, or failure. */
void px_creq_fetch_news(struct px_creq *q);
/* The fetch's next n body bytes, at offset at, are at the front of in
 * (already in the file): q takes them to its client as they are when it
 * streams, has every byte before them and its client has room. Returns
 * whether it took them (then they are gone from in). */
bool px_creq_take(struct px_creq *q, struct evbuffer *in, size_t n, uint64_t at);

/* fetch.c */
struct px_fetch {
	LIST_ENTRY(px_fetch) link;  /* on pc->fetches when shared */
	struct px_cache *pc;
	struct px_server *srv;
	const struct policy *pol;   /* a reference: the starting connection's, which vets upstream's addresses */
	bool shared, store, verify;
	bool notifying;             /* telling its followers: they may leave, it stays */
	struct cache_hash want;
	char key[CACHE_KEY_MAX];
	char host[HOST_NAME_LEN + 1];
	uint16_t port;
	bool tls;
	struct evbuffer *req;       /* the request to send */
	char method[16];            /* its method: how the answer is framed */
	struct bufferevent *up;
	bool pooled;                /* up came from the idle pool: one retry on a fresh one */
	unsigned long tls_error;    /* a failed handshake's OpenSSL error (0: none) */
	struct addr up_addr;        /* up's address */
	struct rsv_query *query;
	struct addr addrs[RSV_MAX_ADDRS];
	size_t naddrs, next_addr;
	char remote[ADDR_TEXT_MAX + 8];
	struct event *timer;
	/* the answer */
	bool head_seen, done, failed;
	bool body_complete;         /* every byte is in the file (and checked): the commit comes next */
	bool committing;            /* the writer is with the worker (commit.c); px_fetch_committed ends it */
	char path[4096];            /* the request's path, for learning what it publishes */
	const char *fail_reason;    /* connect_failed, tls_failed, verify_failed, ... */
	unsigned status;
	uint64_t length;            /* Content-Length, 0 when none */
	bool has_length, keep_alive;
	struct px_body body;
	struct px_lowat lowat;      /* up's SO_RCVLOWAT while a long body comes */
	struct px_upread rd;        /* ... and its reads, in large pieces */
	bool up_paused;             /* up is not read: the client is slower */
	char etag[256], last_modified[64], content_type[256], content_encoding[64];
	struct cache_writer *w;
	int rfd;                    /* the writer's file, its own dup (the commit closes the writer's), for followers */
	int spool;                  /* the store filled mid-body: its file so far (-1: none) */
	uint64_t spool_len;         /* ... and how much of it, served ahead of mem (through) */
	struct evbuffer *mem;       /* non-200 answers, or a bypass / uncached body */
	bool through;               /* bypass or uncached: one follower, fed from mem */
	bool held;                  /* a body with a published hash the store did not take: whole in mem,
				     * served to every follower once check says it matches */
	struct cache_check *check;  /* ... hashing it as it comes */
	uint64_t got;               /* body bytes received */
	struct cache_entry e;       /* after commit: what was stored */
	bool committed;
	LIST_HEAD(, px_creq) followers;
	size_t nfollowers;
};

/* Start (or join, for a shared key) a fetch for q. cond: a stored entry to
 * revalidate (If-None-Match / If-Modified-Since), or NULL; headers: more
 * request header lines, each ending in CRLF. Returns 0 (q may be over
 * already: a body complete and checked is served at once), or -errno with
 * nothing started. */
int px_fetch_start(struct px_creq *q, const struct cache_entry *cond, const char *headers);
/* q stops following its fetch (its client left). */
void px_fetch_leave(struct px_creq *q);
/* How much of f's body its file holds, for followers that read it: the
 * writer's flusher may be behind what has arrived (f->got). */
uint64_t px_fetch_filed(const struct px_fetch *f);
/* q consumed mem (through mode): resume reading upstream when it drained. */
void px_fetch_resume(struct px_fetch *f);
void px_cache_pool_free(struct px_cache *pc);
/* At exit: the writers of fetches still under way are aborted (their flusher
 * threads joined, their partial files removed) before the store closes. */
void px_fetch_abort_writers(struct px_cache *pc);
/* commit.c calls it on the loop thread: f's commit returned rc, storing e. */
void px_fetch_committed(struct px_fetch *f, int rc, const struct cache_entry *e);

/* commit.c */
/* Commit w (complete and checked) for f on the worker thread; f must stay
 * until px_fetch_committed. 0, or -errno with w still the caller's. */
int px_commit_start(struct px_fetch *f, struct cache_writer *w);
/* Finish the queued commits and stop the worker (at px_cache_free). */
void px_commit_stop(struct px_cache *pc);
/* intercept.c: learn the hashes a just fetched metadata body publishes:
 * e describes it (blob, size, content_encoding), fd is its file. */
void px_cache_learn_body(struct px_cache *pc, const struct policy *pol, const char *host, const char *path,
			 const struct cache_entry *e, int fd);
/* intercept.c: a hit or a miss for the store's counters (written within a second). */
void px_cache_count(struct px_cache *pc, bool hit);
/* intercept.c: the upstream TLS context, made on first use. 0 or -errno. */
int px_cache_client_ctx(struct px_cache *pc);

#endif
