/* audit.h: the audit log, one JSON object per line, keys of DESIGN.md. */
#ifndef SLUICE_AUDIT_H
#define SLUICE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct audit;
struct event_base;

/* One record; unset fields (NULL, or has_* false) are left out. */
struct audit_rec {
	const char *event;    /* connect | http | transparent | dns | packet | reload */
	const char *phase;    /* decision | close */
	const char *session;
	const char *host;
	uint16_t port;
	const char *sni;
	const char *method;
	const struct addr *addrs;
	size_t naddrs;
	const char *remote;
	const char *decision; /* allow | deny | would_deny */
	const char *reason;
	const char *rule;
	bool has_bytes;
	uint64_t bytes_up, bytes_down;
	long duration_ms, dns_ms, connect_ms; /* -1: not set */
	const char *qtype;
	const char *rcode;
	const char *protocol; /* packet records: tcp | udp | icmp | icmpv6 | a number */
	bool ech;             /* transparent: the ClientHello was encrypted (written only when true) */
	const char *cache;    /* intercepted requests: hit | miss | revalidated | stale | bypass | verify_failed */
	const char *package;  /* intercepted requests: "npm:express@4.21.2" */
};

/* Open the log: path, or NULL for stderr. server is the policy's name.
 * Returns 0 or -errno. */
int audit_open(const char *path, const char *server, struct audit **out);

void audit_close(struct audit *a);

/*
 * Reopen the log's path (O_APPEND|O_CREAT, mode 0600 as audit_open), for
 * logrotate's move-and-create: the records waiting in the batch are written
 * to the old file first, so none is lost or written twice. A log on stderr
 * is left as it is. On failure the old descriptor stays, a line goes to
 * stderr, and -errno is returned. A write failure seen before stays
 * (audit_ok): a reopen does not undo fail-closed.
 */
int audit_reopen(struct audit *a);

/* Called with every record audit_write (or audit_write_soon) took, after
 * it is formatted, with the log's server name: counters kept beside the log
 * (metrics) agree with it by construction. */
typedef void audit_observer_fn(void *arg, const char *server, const struct audit_rec *r);

/* Set (or, with fn NULL, clear) the log's one observer. */
void audit_set_observer(struct audit *a, audit_observer_fn *fn, void *arg);

/* The server name the log's records carry. */
const char *audit_server(const struct audit *a);

/* Write one line. Returns 0 or -errno; after a failure audit_ok() is false
 * and a message has gone to stderr. */
int audit_write(struct audit *a, const struct audit_rec *r);

/* Let audit_write_soon batch on base's loop. Returns 0 or -ENOMEM. */
int audit_use_loop(struct audit *a, struct event_base *base);

/* Write one line at the end of the current loop pass, together with the other
 * records of that pass (at once without audit_use_loop). The proxy's records
 * take this way: they are written before the loop next waits, so before any
 * answer to the traffic a decision let through can be relayed. A failed
 * write shows in audit_ok() from then on. Returns 0 or -errno. */
int audit_write_soon(struct audit *a, const struct audit_rec *r);

/* Between these two, records are gathered and written with one write(2)
 * at audit_release (or when 64 KiB are waiting). Calls nest. Use around a
 * batch of work done in one loop iteration; release returns 0 or -errno. */
void audit_hold(struct audit *a);
int audit_release(struct audit *a);

/* false once a write failed: callers deny new connections (fail closed). */
bool audit_ok(const struct audit *a);

/* A record with every optional field unset. */
struct audit_rec audit_rec_init(const char *event, const char *phase);

/* Monotonic milliseconds, for durations. */
int64_t audit_now_ms(void);

#endif
