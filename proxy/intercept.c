/* intercept.c: the package cache's client side: connections to registry
 * hosts taken from their sessions, TLS ended with sluice's CA, and every
 * request inside answered from the store or through a fetch (fetch.c).
 * See cache_int.h for the theory of operation. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acked.h"
#include "ca.h"
#include "cache_int.h"
#include "log.h"
#include "rules.h"
#include "tls_filter.h"

#define CX_OUT_HIGH (1u << 20) /* client output queued before taking more of a fetch's or held body */
/* ... and before reading more of a file, and the TLS filter's encrypted
 * copy of any answer at most. A file is read on demand: what sluice holds
 * beyond the kernel's socket buffer adds nothing but memory, which a client
 * that stops reading pins until it is cut (CX_STALL_S). Measured with 200
 * such clients of a 64 MiB hit: 2.2 MiB each with 1 MiB here, 650 KiB with
 * 256 KiB, 360 KiB with 128 KiB; the warm hit's throughput and CPU per GiB
 * did not get worse down to 128 KiB (64 KiB cost about a tenth more CPU). */
#define CX_FILE_HIGH (128u << 10)

static void cx_next(struct px_cx *cx);
static int client_ctx(const char *upstream_ca, SSL_CTX **out, char *err, size_t errsize);
static void pump(struct px_creq *q);

/* ---- the cache itself ------------------------------------------------------ */

int px_cache_client_ctx(struct px_cache *pc)
{
	char err[300];

	if (pc->client_ctx)
		return 0;
	int rc = client_ctx(pc->upstream_ca, &pc->client_ctx, err, sizeof(err));
	if (rc < 0)
		log_msg("cache: %s", err);
	return rc;
}

static int client_ctx(const char *upstream_ca, SSL_CTX **out, char *err, size_t errsize)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	if (!c)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(c, (const unsigned char *)"\x08http/1.1", 9);
	if (SSL_CTX_set_default_verify_paths(c) != 1 ||
	    (upstream_ca && SSL_CTX_load_verify_locations(c, upstream_ca, NULL) != 1)) {
		snprintf(err, errsize, "cannot read the trust store%s%s", upstream_ca ? " or " : "",
			 upstream_ca ? upstream_ca : "");
		SSL_CTX_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

/* A policy's own cache rule for a name the CA may not vouch for (a private
 * registry) is served over plain HTTP only: said once per policy loaded. */
void px_cache_note_hosts(const struct px_cache *pc, const struct policy *pol)
{
	const char *hosts[64];

	for (size_t i = 0, n = pc->ca && pol ? cache_rule_hosts(pol, hosts, 64) : 0; i < n; i++)
		if (!ca_permits(pc->ca, hosts[i]))
			log_msg("cache: %s is outside the CA's name constraints: its TLS stays a tunnel, uncached "
				"(only its plain HTTP is cached)", hosts[i]);
}

static void count_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_cache *pc = arg;
	struct timeval tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (cache_count_flush(pc->store) == -EAGAIN) /* DIR/usage is busy: never waited for here */
		evtimer_add(pc->count_timer, &tv);
}

/* A hit or a miss, counted in memory and written to the store's shared
 * counters within a second: a locked read and write of DIR/usage for each
 * request was a tenth of a warm hit's CPU. Counting takes no lock, and the
 * write only tries the lock (a commit may hold it while another process
 * does): the loop thread never waits for another process. */
void px_cache_count(struct px_cache *pc, bool hit)
{
	struct timeval tv = { 1, 0 };

	if (!pc->count_timer) {
		cache_count(pc->store, hit);
		return;
	}
	cache_count_later(pc->store, hit);
	if (!evtimer_pending(pc->count_timer, NULL))
		evtimer_add(pc->count_timer, &tv);
}

int px_cache_open(struct event_base *base, const struct policy *pol, const struct px_cache_opts *o,
		  struct px_cache **out, char *err, size_t errsize)
{
	struct px_cache *pc = calloc(1, sizeof(*pc));
	const char *why = NULL;
	int rc;

	if (!pc)
		return -ENOMEM;
	pc->base = base;
	pc->meta_ttl_s = o->meta_ttl_s;
	pc->offline = o->offline;
	LIST_INIT(&pc->fetches);
	LIST_INIT(&pc->idle);
	if ((rc = cache_store_open(o->dir, o->max_bytes, &pc->store)) < 0) {
		snprintf(err, errsize, "cannot open the cache in %s: %s", o->dir, strerror(-rc));
		goto fail;
	}
	if ((rc = cache_expect_new(1u << 18, &pc->expect)) < 0)
		goto fail;
	pc->count_timer = evtimer_new(base, count_cb, pc); /* none: counted at once */
	/* the trust store is read at the first fetch (tens of ms): a warm
	 * store never needs it; a bad --upstream-ca is refused now */
	if (o->upstream_ca && (access(o->upstream_ca, R_OK) < 0 || !(pc->upstream_ca = strdup(o->upstream_ca)))) {
		snprintf(err, errsize, "cannot read --upstream-ca %s", o->upstream_ca);
		rc = -EINVAL;
		goto fail;
	}
	bool created = false;
	rc = ca_load(o->ca_dir, true, ca_registry_names, ca_nregistry_names, &pc->ca, &created, &why);
	if (rc < 0) {
		snprintf(err, errsize, "%s", why ? why : strerror(-rc));
		goto fail;
	}
	if (created)
		log_msg("cache: made a CA for the registries: %s (trust it where `sluice proxy --cache` serves)",
			ca_cert_path(pc->ca));
	if ((rc = ca_server_ctx(pc->ca, &pc->server_ctx)) < 0) {
		snprintf(err, errsize, "cannot make the TLS server context");
		goto fail;
	}
	px_cache_note_hosts(pc, pol);
	*out = pc;
	return 0;
fail:
	px_cache_free(pc);
	return rc < 0 ? rc : -EINVAL;
}

void px_cache_free(struct px_cache *pc)
{
	if (!pc)
		return;
	px_fetch_abort_writers(pc);
	px_commit_stop(pc); /* before the store closes (which writes the counts) */
	if (pc->count_timer)
		event_free(pc->count_timer);
	px_cache_pool_free(pc);
	if (pc->server_ctx)
		SSL_CTX_free(pc->server_ctx);
	if (pc->client_ctx)
		SSL_CTX_free(pc->client_ctx);
	ca_free(pc->ca);
	free(pc->upstream_ca);
	cache_expect_free(pc->expect);
	cache_store_close(pc->store);
	free(pc);
}

const char *px_cache_ca_path(const struct px_cache *pc)
{
	return pc->ca ? ca_cert_path(pc->ca) : NULL;
}

const char *px_cache_ca_pem(const struct px_cache *pc)
{
	return pc->ca ? ca_pem(pc->ca) : NULL;
}

bool px_cache_wants(const struct px_config *cfg, const struct policy *pol, const struct host *h, uint16_t port,
		    bool tls)
{
	if (!cfg->cache || h->kind != HOST_NAME || !cache_host_cached(pol, h->text))
		return false;
	if (tls)
		return port == 443 && cfg->cache->server_ctx && ca_permits(cfg->cache->ca, h->text);
	return port == 80;
}

/* ---- records -------------------------------------------------------------- */

static void log_req(struct px_creq *q, const char *phase, const char *reason)
{
	struct px_cx *cx = q->cx;
	struct audit_rec r = audit_rec_init("http", phase);

	r.session = cx->id;
	r.host = cx->host.text;
	r.port = cx->port;
	r.method = q->method;
	r.decision = q->status == 403 ? "deny" : q->report_only ? "would_deny" : "allow";
	if (!reason && strcmp(phase, "close") == 0)
		reason = q->fail;
	if (!reason && strcmp(phase, "decision") == 0)
		reason = pol_reason_key(q->report_only ? q->report_reason : POL_ALLOWED);
	r.reason = reason;
	r.rule = q->pol_rule ? q->pol_rule->text : NULL;
	r.cache = q->cache;
	r.package = q->package[0] ? q->package : NULL;
	if (strcmp(phase, "close") == 0) {
		r.has_bytes = true;
		r.bytes_up = q->body ? evbuffer_get_length(q->body) : 0;
		r.bytes_down = q->bytes;
		r.duration_ms = (long)(audit_now_ms() - q->t0);
	}
	audit_write_soon(cx->srv->cfg.audit, &r);
}

static void log_conn(struct px_cx *cx, const char *phase, const char *reason)
{
	struct audit_rec r = audit_rec_init(cx->event, phase);

	r.session = cx->id;
	r.host = cx->host.text;
	r.port = cx->port;
	r.sni = cx->sni[0] ? cx->sni : NULL;
	r.decision = cx->report_only ? "would_deny" : "allow";
	if (!reason && strcmp(phase, "decision") == 0)
		reason = pol_reason_key(cx->report_only ? cx->report_reason : POL_ALLOWED);
	r.reason = reason;
	r.rule = cx->rule ? cx->rule->text : NULL;
	/* no byte counts: each request's close record has its own, and a reader
	 * summing close records (log summary, /metrics, jq) counts each byte once */
	if (strcmp(phase, "close") == 0)
		r.duration_ms = (long)(audit_now_ms() - cx->t_start);
	audit_write_soon(cx->srv->cfg.audit, &r);
}

/* ---- connection lifecycle --------------------------------------------------- */

static void creq_free(struct px_creq *q)
{
	if (!q)
		return;
	px_fetch_leave(q);
	if (q->fd >= 0)
		close(q->fd);
	if (q->reval_fd >= 0)
		close(q->reval_fd);
	if (q->body)
		evbuffer_free(q->body);
	free(q->target);
	free(q->hdr_bypass);
	free(q);
}

static void cx_free(struct px_cx *cx)
{
	if (cx->req) {
		if (cx->req->started || cx->req->f)
			log_req(cx->req, "close", cx->close_reason ? cx->close_reason : "client_closed");
		creq_free(cx->req);
	}
	if (cx->tls)
		log_conn(cx, "close", cx->close_reason);
	if (cx->cli)
		bufferevent_free(cx->cli);
	if (cx->timer)
		event_free(cx->timer);
	if (cx->next)
		event_free(cx->next);
	LIST_REMOVE(cx, link);
	cx->srv->nconns--;
	pol_unref(cx->pol);
	free(cx);
}

void px_cx_free_all(struct px_server *srv)
{
	while (!LIST_EMPTY(&srv->cxs))
		cx_free(LIST_FIRST(&srv->cxs));
}

static void arm(struct px_cx *cx, unsigned s)
{
	struct timeval tv = { s ? s : 60, 0 };
	evtimer_add(cx->timer, &tv);
}

/* The timer of a client taking a held body: CX_HOLD_IDLE_S after it last
 * took a piece (cx_timer_cb cuts it then; creq_done re-arms for idle). */
static void arm_held(struct px_creq *q)
{
	int64_t left = q->held_took_ms + CX_HOLD_IDLE_S * 1000 - audit_now_ms();
	struct timeval tv = { 0, 0 };

	if (left > 0)
		tv = (struct timeval){ (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };
	evtimer_add(q->cx->timer, &tv);
}

/* Whether everything queued for the client went to the kernel: the TLS
 * filter's socket too, since freeing the filter drops what its socket holds. */
static bool cx_drained(struct px_cx *cx)
{
	struct bufferevent *u = cx->tls ? bufferevent_get_underlying(cx->cli) : NULL;

	return evbuffer_get_length(bufferevent_get_output(cx->cli)) == 0 &&
	       (!u || evbuffer_get_length(bufferevent_get_output(u)) == 0);
}

/* How far the client has taken what was sent: what its TCP peer
 * acknowledged (bytes in the kernel's buffer wait for it to read too) or,
 * where the kernel does not say, what left sluice's own buffers. */
static uint64_t cx_taken(struct px_cx *cx)
{
	struct bufferevent *u = cx->tls ? bufferevent_get_underlying(cx->cli) : cx->cli;
	uint64_t n;

	if (px_tcp_acked(bufferevent_getfd(u), &n) == 0)
		return n;
	n = cx->req ? cx->req->bytes : 0;
	return n - evbuffer_get_length(bufferevent_get_output(cx->cli));
}

/* A request starts: its client's progress is watched (cx_stalled). */
static void arm_stall(struct px_cx *cx)
{
	cx->took = cx_taken(cx);
	cx->took_ms = audit_now_ms();
	arm(cx, CX_STALL_S / 3);
}

/* Whether the client has taken no byte for CX_STALL_S while bytes wait
 * for it. Nothing queued (a fetch is slower than the client) is no stall. */
static bool cx_stalled(struct px_cx *cx)
{
	int64_t now = audit_now_ms();
	uint64_t took = cx_taken(cx);

	if (took != cx->took || cx_drained(cx)) {
		cx->took = took;
		cx->took_ms = now;
		return false;
	}
	return now - cx->took_ms >= CX_STALL_S * 1000;
}

/* Close once what is queued for the client is out (or after the idle
 * timeout). The filter's socket drains without telling us: polled. */
static void cx_finish(struct px_cx *cx)
{
	struct timeval tv = { 0, 10 * 1000 };

	if (!cx->closing) {
		cx->closing = true;
		cx->close_by = audit_now_ms() + 1000 * (int64_t)(cx->srv->cfg.idle_timeout_s ? cx->srv->cfg.idle_timeout_s : 60);
		bufferevent_disable(cx->cli, EV_READ);
	}
	if (cx_drained(cx) || audit_now_ms() >= cx->close_by) {
		cx_free(cx);
		return;
	}
	evtimer_add(cx->timer, &tv);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 416: return "Range Not Satisfiable";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* An answer of sluice's own: one line, the reason in X-Sluice-Reason. */
static void answer_error(struct px_creq *q, int status, const char *reason, const char *line)
{
	struct px_cx *cx = q->cx;
	struct evbuffer *out = bufferevent_get_output(cx->cli);

	q->status = status;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nX-Sluice-Reason: %s\r\nContent-Type: text/plain\r\n"
			    "Content-Length: %zu\r\n%s\r\n%s\n", status, status_text(status), reason,
			    strlen(line) + 1, q->keep ? "" : "Connection: close\r\n", line);
	q->started = true;
	q->end = q->off = 0;
	q->bytes += strlen(line) + 1;
	q->fail = reason;
	log_req(q, "decision", reason);
	log_msg("%s", line + (strncmp(line, "sluice: ", 8) == 0 ? 8 : 0));
}

/* ---- answering from a file ------------------------------------------------- */

/* Append to q's head. Every add to a TLS connection's output became a
 * record of its own (libevent's filter writes at each add): the head is
 * built here and leaves at once, with the body's first bytes (pump). */
static void head_add(struct px_creq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void head_add(struct px_creq *q, const char *fmt, ...)
{
	size_t room = sizeof(q->head) - q->head_len;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(q->head + q->head_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) { /* cannot happen with the entry's bounded fields: sent as it is */
		struct evbuffer *out = bufferevent_get_output(q->cx->cli);
		evbuffer_add(out, q->head, q->head_len);
		q->head_len = 0;
		va_start(ap, fmt);
		evbuffer_add_vprintf(out, fmt, ap);
		va_end(ap);
		return;
	}
	q->head_len += (size_t)n;
}

static void send_head(struct px_creq *q, int status, uint64_t length, const struct cache_entry *e)
{
	q->status = status;
	q->head_len = 0;
	head_add(q, "HTTP/1.1 %d %s\r\n", status, status_text(status));
	if (status != 304)
		head_add(q, "Content-Length: %llu\r\n", (unsigned long long)length);
	if (e && e->content_type[0])
		head_add(q, "Content-Type: %s\r\n", e->content_type);
	if (e && e->content_encoding[0])
		head_add(q, "Content-Encoding: %s\r\n", e->content_encoding);
	if (e && e->etag[0])
		head_add(q, "ETag: %s\r\n", e->etag);
	if (e && e->last_modified[0])
		head_add(q, "Last-Modified: %s\r\n", e->last_modified);
	if (status == 206)
		head_add(q, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)q->range_from,
			 (unsigned long long)q->range_to, (unsigned long long)e->size);
	head_add(q, "Accept-Ranges: bytes\r\nX-Sluice-Cache: %s\r\n%s\r\n", q->cache,
		 q->keep ? "" : "Connection: close\r\n");
	q->started = true;
	log_req(q, "decision", NULL);
}

/* The head waiting in q, to the output: with the body's first bytes in the
 * same add (one TLS record, one segment) when they are few and in q's file. */
static int flush_head(struct px_creq *q, struct evbuffer *out)
{
	uint64_t n = q->fd >= 0 && q->off < q->end ? q->end - q->off : 0;
	struct evbuffer_iovec v;

	if (q->head_len == 0)
		return 0;
	if (n > CX_RECORD - q->head_len)
		n = 0; /* the body follows as before */
	if (evbuffer_reserve_space(out, (ev_ssize_t)(q->head_len + n), &v, 1) < 1)
		return -ENOMEM;
	memcpy(v.iov_base, q->head, q->head_len);
	ssize_t got = n ? pread(q->fd, (char *)v.iov_base + q->head_len, (size_t)n, (off_t)q->off) : 0;
	if (got < 0)
		got = 0; /* the body's read fails again in pump, which ends the request */
	v.iov_len = q->head_len + (size_t)got;
	evbuffer_commit_space(out, &v, 1);
	q->head_len = 0;
	q->off += (uint64_t)got;
	q->bytes += (uint64_t)got;
	return 0;
}

#define LEARN_MAX (256u << 20)

/* Metadata served teaches the hashes it publishes (npm packuments, PyPI
 * simple pages, Debian Packages), once per blob lately. */
static void learn(struct px_creq *q, const struct cache_entry *e, int fd)
{
	struct px_cache *pc = q->cx->pc;
	bool packages = q->path.len > 9 && (memmem(q->path.p, q->path.len, "/Packages", 9) != NULL);

	if (!q->rule || (q->rule->immutable && !packages) || e->size == 0 || e->size > LEARN_MAX)
		return;
	for (unsigned i = 0; i < 256; i++)
		if (strcmp(pc->learned[i], e->blob) == 0)
			return;
	char *buf = malloc(e->size);
	if (buf && pread(fd, buf, e->size, 0) == (ssize_t)e->size) {
		cache_expect_learn(pc->expect, q->rule, q->cx->host.text, q->path, e->content_encoding,
				   span_of(buf, e->size));
		snprintf(pc->learned[pc->nlearned++ % 256], 65, "%s", e->blob);
	}
	free(buf);
}

void px_cache_learn_body(struct px_cache *pc, const struct policy *pol, const char *host, const char *path,
			 const struct cache_entry *e, int fd)
{
	struct px_cx cx = { .pol = pol, .pc = pc };

	snprintf(cx.host.text, sizeof(cx.host.text), "%s", host);
	struct px_creq probe = { .cx = &cx, .path = span_str(path) };
	probe.rule = cache_rule_match(pol, host, probe.path);
	if (probe.rule && e->blob[0])
		learn(&probe, e, fd); /* a packument streamed as it came teaches its hashes too */
}

/* Serve e (its blob open as fd) to q: the whole body, a range, or a 304. */
static void serve_entry(struct px_creq *q, const struct cache_entry *e, int fd)
{
	learn(q, e, fd);
	q->fd = fd;
	q->e = *e;
	q->have_entry = true;
	q->off = 0;
	q->end = e->size;
	/* the client's If-None-Match against the entry served: after a
	 * revalidation that brought a new body it is no longer the one route
	 * matched (a 304 then kept the client's old copy, under the new ETag) */
	q->cond_match = q->inm[0] && e->etag[0] && strcmp(q->inm, e->etag) == 0;
	if (q->cond_match) {
		send_head(q, 304, 0, e);
		q->end = 0;
	} else if (q->has_range) {
		if (q->range_to >= e->size)
			q->range_to = e->size - 1;
		if (e->size == 0 || q->range_from > q->range_to) {
			answer_error(q, 416, "bad_request", "sluice: the range is outside the stored file");
			pump(q);
			return;
		}
		q->off = q->range_from;
		q->end = q->range_to + 1;
		send_head(q, 206, q->end - q->off, e);
	} else {
		send_head(q, 200, e->size, e);
	}
	if (q->head_only)
		q->end = q->off;
	pump(q);
}

/* The request is over: its close record, then the next one. */
static void creq_done(struct px_creq *q, const char *reason)
{
	struct px_cx *cx = q->cx;
	bool keep = q->keep && !reason;

	if (q->status != 403) /* a denial has its one record */
		log_req(q, "close", reason);
	cx->req = NULL;
	creq_free(q);
	if (!keep) {
		cx_finish(cx);
		return;
	}
	arm(cx, cx->srv->cfg.idle_timeout_s);
	/* not from here: q may have been answered from inside the request
	 * that started it (a hit, a body complete in its fetch), and each
	 * pipelined request answered so would nest one more (20000 HEADs
	 * behind a slow GET overflowed the stack) */
	struct timeval now = { 0, 0 };
	evtimer_add(cx->next, &now);
}

/* A checked held body's next pieces to the client, while its output is
 * under CX_OUT_HIGH: the fetch keeps the body (and its count in
 * CX_HOLD_ALL) until its last follower has it all, so a client that does
 * not read holds no more than that. q->held_at is where q->off is in mem
 * (which no longer changes): each piece is found from the last one, not
 * from the start (that walk made a body's cost grow with its square). */
static void pump_held(struct px_creq *q, struct evbuffer *out)
{
	struct evbuffer *mem = q->f->mem;

	while (q->off < q->end && evbuffer_get_length(out) < CX_OUT_HIGH) {
		size_t n = q->end - q->off < CX_CHUNK ? (size_t)(q->end - q->off) : CX_CHUNK;
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(out, (ev_ssize_t)n, &v, 1) < 1)
			return;
		ev_ssize_t got = evbuffer_copyout_from(mem, &q->held_at, v.iov_base, n);
		v.iov_len = got > 0 ? (size_t)got : 0;
		evbuffer_commit_space(out, &v, 1);
		if (got <= 0 || evbuffer_ptr_set(mem, &q->held_at, (size_t)got, EVBUFFER_PTR_ADD) < 0) {
			q->end = q->off; /* cannot happen: mem holds every byte up to end */
			return;
		}
		q->off += (uint64_t)got;
		q->bytes += (uint64_t)got;
		q->held_took_ms = audit_now_ms();
	}
}

/* Move what can be sent of q's answer to the client's output. */
static void pump(struct px_creq *q)
{
	struct px_cx *cx = q->cx;
	struct evbuffer *out = bufferevent_get_output(cx->cli);

	if (flush_head(q, out) < 0) {
		cx->close_reason = "connect_failed";
		creq_done(q, "connect_failed");
		return;
	}
	while (q->fd >= 0 && q->off < q->end && evbuffer_get_length(out) < CX_FILE_HIGH) {
		uint64_t n = q->end - q->off;
		/* sendfile for the rest of a large body: nothing is copied; a small
		 * one is, so that it leaves with its head in one write and segment */
		if (!cx->tls && n >= CX_SENDFILE_MIN) {
			int d = dup(q->fd);
			if (d >= 0 && evbuffer_add_file(out, d, (ev_off_t)q->off, (ev_off_t)n) == 0) {
				q->off += n;
				q->bytes += n;
				break;
			}
			if (d >= 0)
				close(d);
		}
		/* up to the mark, not a whole piece past it */
		uint64_t room = CX_FILE_HIGH - evbuffer_get_length(out);
		n = n < CX_CHUNK ? n : CX_CHUNK;
		n = n < room ? n : room;
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(out, (ev_ssize_t)n, &v, 1) < 1)
			break;
		ssize_t got = pread(q->fd, v.iov_base, (size_t)n, (off_t)q->off);
		if (got <= 0) {
			v.iov_len = 0;
			evbuffer_commit_space(out, &v, 1);
			cx->close_reason = "connect_failed";
			creq_done(q, "connect_failed");
			return;
		}
		v.iov_len = (size_t)got;
		evbuffer_commit_space(out, &v, 1);
		q->off += (uint64_t)got;
		q->bytes += (uint64_t)got;
	}
	if (q->f && q->f->held && q->f->done) { /* a checked held body */
		pump_held(q, out);
		if (q->off < q->end)
			return; /* the client is slower: its write callback pumps again */
		px_fetch_leave(q);
	}
	if (q->f && q->f->through) { /* bytes as they come from upstream */
		if (q->fd >= 0 && q->off < q->end)
			return; /* after the spool's */
		if (evbuffer_get_length(out) >= CX_OUT_HIGH)
			return; /* the client is slower: its write callback pumps again, upstream waits */
		size_t n = evbuffer_get_length(q->f->mem);
		if (q->head_only) { /* a HEAD fetched as GET: the body is not the client's */
			evbuffer_drain(q->f->mem, n);
			n = 0;
		}
		q->bytes += n;
		evbuffer_add_buffer(out, q->f->mem);
		px_fetch_resume(q->f);
		if (!q->f->done)
			return;
		if (q->f->failed)
			return;
		px_fetch_leave(q);
	}
	if (q->streaming || q->f)
		return; /* more comes: px_creq_fetch_news */
	if (q->off >= q->end && q->started)
		creq_done(q, NULL);
}

/* ---- following a fetch ------------------------------------------------------ */

/* The stored copy of metadata upstream could not revalidate, while it is at
 * most CX_STALE_MAX_S past its fetch (a time ahead of the clock counts as
 * too old: it cannot be vouched for). */
static void serve_stale(struct px_creq *q)
{
	int fd;
	struct cache_entry e;

	if (cache_lookup(q->cx->pc->store, q->key, &e, &fd) < 0) {
		answer_error(q, 502, "connect_failed", "sluice: the registry cannot be reached and the cache has no copy");
		q->cache = "miss";
		pump(q);
		return;
	}
	int64_t age = (int64_t)time(NULL) * 1000 - e.stored_ms;
	if (age < 0 || age > (int64_t)CX_STALE_MAX_S * 1000) {
		close(fd);
		answer_error(q, 502, "connect_failed",
			     "sluice: the registry cannot be reached and the cache's copy is more than 7 days old");
		q->cache = "miss";
		pump(q);
		return;
	}
	q->cache = "stale";
	serve_entry(q, &e, fd);
}

/* A fetch's answer held whole (not 200, or a body with a published hash
 * the store did not take, checked), to this follower. A non-200 (at most
 * CX_BODY_MAX) is referenced whole; a held body is copied as the client
 * takes it (pump_held), the follower staying on its fetch until then. */
static void serve_held(struct px_creq *q, struct px_fetch *f)
{
	struct evbuffer *out = bufferevent_get_output(q->cx->cli);
	size_t n = evbuffer_get_length(f->mem);

	q->status = (int)f->status;
	evbuffer_add_printf(out, "HTTP/1.1 %u %s\r\nContent-Length: %zu\r\n", f->status,
			    status_text((int)f->status), n);
	if (f->content_type[0])
		evbuffer_add_printf(out, "Content-Type: %s\r\n", f->content_type);
	if (f->content_encoding[0])
		evbuffer_add_printf(out, "Content-Encoding: %s\r\n", f->content_encoding);
	evbuffer_add_printf(out, "X-Sluice-Cache: %s\r\n%s\r\n", q->cache, q->keep ? "" : "Connection: close\r\n");
	if (f->held) {
		q->off = 0;
		q->end = q->head_only || evbuffer_ptr_set(f->mem, &q->held_at, 0, EVBUFFER_PTR_SET) < 0 ? 0 : n;
		q->held_took_ms = audit_now_ms();
		arm_held(q);
	} else if (!q->head_only && evbuffer_add_buffer_reference(out, f->mem) < 0)
		evbuffer_add(out, evbuffer_pullup(f->mem, -1), n);
	q->bytes += q->head_only || f->held ? 0 : n;
	q->started = true;
	log_req(q, "decision", NULL);
}

static void on_stored(struct px_creq *q, struct px_fetch *f)
{
	int fd;
	struct cache_entry e;

	px_fetch_leave(q);
	(void)f;
	if (cache_lookup(q->cx->pc->store, q->key, &e, &fd) < 0) {
		answer_error(q, 502, "connect_failed", "sluice: the answer was fetched but could not be stored");
		pump(q);
		return;
	}
	serve_entry(q, &e, fd);
}

/* f's body is whole in its file and checked (body_complete), its commit
 * (fsync, rename, record: commit.c) not back yet: q is served from that
 * file as the entry it is becoming, as a hit would be (a HEAD, and a
 * chunked body with its length, too). What a failed commit leaves out of
 * the store is these same checked bytes, so nothing is served that a
 * stored entry would not have been. */
static void serve_complete(struct px_creq *q, struct px_fetch *f)
{
	struct cache_entry e = f->e;
	int fd = dup(f->rfd);

	px_fetch_leave(q);
	if (fd < 0) {
		answer_error(q, 502, "connect_failed", "sluice: out of descriptors");
		pump(q);
		return;
	}
	serve_entry(q, &e, fd);
}

/* The head of a through (bypass) answer: status and the upstream's own
 * content headers, then bytes as they come. */
static void start_through(struct px_creq *q, struct px_fetch *f)
{
	struct evbuffer *out = bufferevent_get_output(q->cx->cli);

	q->status = (int)f->status;
	evbuffer_add_printf(out, "HTTP/1.1 %u %s\r\n", f->status, status_text((int)f->status));
	if (f->has_length)
		evbuffer_add_printf(out, "Content-Length: %llu\r\n", (unsigned long long)f->length);
	else
		q->keep = false; /* the end of the body is the end of the connection */
	if (f->content_type[0])
		evbuffer_add_printf(out, "Content-Type: %s\r\n", f->content_type);
	if (f->content_encoding[0])
		evbuffer_add_printf(out, "Content-Encoding: %s\r\n", f->content_encoding);
	if (f->etag[0])
		evbuffer_add_printf(out, "ETag: %s\r\n", f->etag);
	evbuffer_add_printf(out, "X-Sluice-Cache: %s\r\n%s\r\n", q->cache, q->keep ? "" : "Connection: close\r\n");
	if (f->spool >= 0 && (q->fd = dup(f->spool)) >= 0) { /* written before the store filled */
		q->off = 0;
		q->end = f->spool_len;
	}
	q->started = true;
	log_req(q, "decision", NULL);
}

void px_creq_fetch_news(struct px_creq *q)
{
	struct px_fetch *f = q->f;

	if (f->failed) {
		const char *why = f->fail_reason;
		px_fetch_leave(q);
		if (q->started) { /* cut: the client sees a short body */
			q->cx->close_reason = why;
			creq_done(q, why);
			return;
		}
		if (strcmp(why, "verify_failed") == 0) {
			q->cache = "verify_failed";
			answer_error(q, 502, "verify_failed",
				     "sluice: the registry's answer did not pass the check against its published hash: "
				     "not stored, not served");
		} else if (q->have_entry || !q->store_ok) {
			if (q->have_entry) {
				serve_stale(q);
				return;
			}
			answer_error(q, 502, why, "sluice: the registry cannot be reached");
		} else {
			answer_error(q, 502, why, "sluice: the registry cannot be reached and the cache has no copy");
		}
		pump(q);
		return;
	}
	if (!f->head_seen)
		return;
	if (f->status == 304 && q->have_entry) {
		px_fetch_leave(q);
		q->e.stored_ms = (int64_t)time(NULL) * 1000;
		cache_update(q->cx->pc->store, q->key, &q->e);
		q->cache = "revalidated";
		if (q->reval_fd < 0) {
			on_stored(q, NULL);
			return;
		}
		/* the blob whose validators upstream just confirmed, open since the lookup */
		int fd = q->reval_fd;
		q->reval_fd = -1;
		serve_entry(q, &q->e, fd);
		return;
	}
	if (f->through && !q->started && f->nfollowers > 1) {
		/* a pass-through answer feeds one client (pump moves its bytes):
		 * the others ask again, each on its own fetch */
		px_fetch_leave(q);
		if (px_fetch_start(q, NULL, q->store_ok ? q->hdr_store : q->hdr_bypass ? q->hdr_bypass : "") < 0) {
			answer_error(q, 502, "connect_failed", "sluice: out of memory");
			pump(q);
		}
		return;
	}
	if (f->through) {
		if (!q->started)
			start_through(q, f);
		pump(q); /* ends the request after the last byte */
		return;
	}
	if (f->status != 200 || f->held) { /* a held 200 ends only once checked */
		if (f->done && f->held) {
			serve_held(q, f);
			pump(q); /* leaves f after its last byte */
		} else if (f->done) {
			px_fetch_leave(q);
			serve_held(q, f);
			creq_done(q, NULL);
		}
		return;
	}
	if ((f->done || f->body_complete) && q->streaming) { /* the rest of what it has been reading */
		q->end = f->got;
		q->streaming = false;
		px_fetch_leave(q);
		pump(q);
		return;
	}
	if (f->done) {
		on_stored(q, f);
		return;
	}
	if (f->body_complete) { /* checked and whole: its commit need not be waited for */
		serve_complete(q, f);
		return;
	}
	if (f->verify || !f->has_length || q->has_range || q->cond_match || q->head_only)
		return; /* served once the body is whole (and checked) */
	if (!q->started && (q->fd = dup(f->rfd)) < 0) {
		px_fetch_leave(q);
		answer_error(q, 502, "connect_failed", "sluice: out of descriptors");
		pump(q);
		return;
	}
	if (!q->started) {
		q->streaming = true;
		q->e.size = f->length;
		snprintf(q->e.content_type, sizeof(q->e.content_type), "%s", f->content_type);
		snprintf(q->e.content_encoding, sizeof(q->e.content_encoding), "%s", f->content_encoding);
		snprintf(q->e.etag, sizeof(q->e.etag), "%s", f->etag);
		send_head(q, 200, f->length, &q->e);
	}
	uint64_t filed = px_fetch_filed(f); /* never past what the file holds */
	q->end = filed > q->end ? filed : q->end;
	pump(q);
}

bool px_creq_take(struct px_creq *q, struct evbuffer *in, size_t n, uint64_t at)
{
	struct evbuffer *out = bufferevent_get_output(q->cx->cli);

	if (!q->streaming || q->head_len || q->off != at || q->off != q->end ||
	    evbuffer_get_length(out) >= CX_FEED_HIGH)
		return false;
	int moved = evbuffer_remove_buffer(in, out, n);
	if (moved <= 0)
		return false;
	q->off += (uint64_t)moved;
	q->bytes += (uint64_t)moved;
	q->end = q->off;
	if ((size_t)moved < n) /* the rest is read from the file */
		evbuffer_drain(in, n - (size_t)moved);
	return true;
}

/* ---- requests --------------------------------------------------------------- */

/* "bytes=A-B" or "bytes=A-": one range. */
static bool parse_range(struct span v, struct px_creq *q)
{
	unsigned long long a = 0, b = UINT64_MAX;
	char buf[64];

	if (v.len >= sizeof(buf))
		return false;
	span_copy(v, buf, sizeof(buf));
	int n = 0;
	if (sscanf(buf, "bytes=%llu-%n", &a, &n) != 1 || n == 0)
		return false;
	if (buf[n] && (sscanf(buf + n, "%llu", &b) != 1 || b < a || strspn(buf + n, "0123456789") != strlen(buf + n)))
		return false;
	q->range_from = a;
	q->range_to = b;
	return true;
}

/* The client's headers passed upstream: for a stored request only those
 * that shape the answer's content; for a bypass, every end-to-end one. */
static void upstream_headers(const struct http_head *h, bool bypass, char *buf, size_t size)
{
	static const char *const keep[] = { "user-agent" };
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < h->nh; i++) {
		struct span n = h->h[i].name, v = h->h[i].value;
		bool take = false;
		if (bypass)
			take = !span_ieq(n, "host") && !http_is_hop_by_hop(h, n) && !span_ieq(n, "accept-encoding");
		for (size_t k = 0; !bypass && k < sizeof(keep) / sizeof(keep[0]); k++)
			take = take || span_ieq(n, keep[k]);
		if (!take)
			continue;
		int w = snprintf(buf + o, size - o, "%.*s: %.*s\r\n", (int)n.len, n.p, (int)v.len, v.p);
		if (w < 0 || (size_t)w >= size - o)
			break;
		o += (size_t)w;
	}
	if (bypass) {
		struct span ae = http_header_value(h, "accept-encoding");
		if (ae.p && o + ae.len + 40 < size)
			snprintf(buf + o, size - o, "Accept-Encoding: %.*s\r\n", (int)ae.len, ae.p);
	}
}

/* The representation a stored request asks for, as part of its key, and the
 * Accept sent upstream for it: the stored bytes are exactly that answer. npm's
 * two packument forms are told apart by name; other metadata is keyed by the
 * client's own Accept (PyPI's simple API negotiates JSON or HTML); immutable
 * files have one form. */
static void stored_form(struct px_creq *q, const struct http_head *h)
{
	struct span a = http_header_value(h, "accept");
	bool printable = a.p && a.len < 200;

	q->form[0] = q->accept[0] = '\0';
	if (!q->rule || q->rule->immutable)
		return;
	if (strcmp(q->rule->ecosystem, "npm") == 0) {
		bool corgi = a.p && memmem(a.p, a.len, "application/vnd.npm.install-v1+json", 35);
		snprintf(q->form, sizeof(q->form), "%s", corgi ? "corgi" : "full");
		snprintf(q->accept, sizeof(q->accept), "%s",
			 corgi ? "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*" :
				 "application/json");
		return;
	}
	for (size_t i = 0; printable && i < a.len; i++)
		printable = a.p[i] >= ' ' && a.p[i] < 0x7f;
	if (printable) {
		span_copy(a, q->accept, sizeof(q->accept));
		snprintf(q->form, sizeof(q->form), "accept=%s", q->accept);
	}
}

static bool entry_fresh(const struct px_cache *pc, const struct px_creq *q, const struct cache_entry *e)
{
	int64_t age = (int64_t)time(NULL) * 1000 - e->stored_ms;

	if (q->no_cache)
		return false;
	return age >= 0 && age < (int64_t)pc->meta_ttl_s * 1000;
}

/* An npm tarball to fetch whose integrity this process has not seen: the
 * packument may be in the store from an earlier install (npm ci with a
 * lockfile asks for none); its hashes are learned from there. */
static void learn_packument(struct px_creq *q)
{
	static const char *const forms[] = { "corgi", "full" };
	struct px_cx *cx = q->cx;
	struct cache_hash h;
	char name[300], path[310], key[CACHE_KEY_MAX];
	struct cache_entry e;
	int fd;

	if (strcmp(q->rule->ecosystem, "npm") != 0 || !q->rule->immutable ||
	    cache_expect_find(cx->pc->expect, cx->host.text, q->path, &h) ||
	    sscanf(q->package, "npm:%299[^ ]", name) != 1)
		return;
	char *at = strrchr(name, '@');
	if (!at || at == name)
		return;
	*at = '\0';
	char *slash = strchr(name, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "/%s%s%s", name, slash ? "%2f" : "", slash ? slash + 1 : "");
	const struct pol_cache_rule *rule = cache_rule_match(cx->pol, cx->host.text, span_str(path));
	for (size_t i = 0; rule && i < 4; i++) {
		if (cache_key(cx->host.text, cx->port, span_str(path), i < 2, forms[i % 2], key, sizeof(key)) < 0 ||
		    cache_lookup(cx->pc->store, key, &e, &fd) < 0)
			continue;
		struct px_creq probe = { .cx = cx, .rule = rule, .path = span_str(path) };
		learn(&probe, &e, fd);
		close(fd);
		if (cache_expect_find(cx->pc->expect, cx->host.text, q->path, &h))
			return;
	}
}

/* q's entry, under its own key or the other encoding's: an answer stored
 * for a gzip-accepting client serves one that does not when upstream sent
 * it unencoded (and any stored answer serves a gzip-accepting one). q->key
 * becomes the key found. 0 or -ENOENT. */
static int lookup_any_form(struct px_creq *q, struct cache_entry *e, int *fd)
{
	struct px_cx *cx = q->cx;
	char alt[CACHE_KEY_MAX];

	if (cache_lookup(cx->pc->store, q->key, e, fd) == 0)
		return 0;
	if (cache_key(cx->host.text, cx->port, span_str(q->target), !q->gzip, q->form, alt, sizeof(alt)) < 0 ||
	    cache_lookup(cx->pc->store, alt, e, fd) < 0)
		return -ENOENT;
	if (!q->gzip && e->content_encoding[0]) {
		close(*fd);
		return -ENOENT;
	}
	snprintf(q->key, sizeof(q->key), "%s", alt);
	return 0;
}

/* Decide q: stored and fresh, revalidate, fetch, or bypass. */
static void route(struct px_creq *q)
{
	struct px_cache *pc = q->cx->pc;
	const char *headers = q->store_ok ? q->hdr_store : q->hdr_bypass ? q->hdr_bypass : "";
	struct cache_entry e;
	int fd = -1;

	if (!q->store_ok) {
		q->cache = "bypass";
	} else if (lookup_any_form(q, &e, &fd) == 0) {
		q->cond_match = q->inm[0] && e.etag[0] && strcmp(q->inm, e.etag) == 0;
		bool fresh = q->rule->immutable || entry_fresh(pc, q, &e);
		if (fresh || pc->offline) {
			px_cache_count(pc, true);
			q->cache = fresh ? "hit" : "stale";
			serve_entry(q, &e, fd);
			return;
		}
		q->e = e;
		q->have_entry = true;
		q->cache = "miss";
		q->reval_fd = fd; /* served on a 304 without a second lookup */
		if (px_fetch_start(q, &e, headers) == 0)
			return;
		serve_stale(q);
		return;
	} else if (pc->offline) {
		q->cache = "miss";
		answer_error(q, 504, "connect_failed", "sluice: --offline, and the cache has no copy of this");
		pump(q);
		return;
	} else if (q->has_range) {
		q->cache = "bypass"; /* a range of an object not stored: passed through */
		q->store_ok = false;
		headers = q->hdr_bypass ? q->hdr_bypass : "";
	} else {
		q->cache = "miss";
		learn_packument(q);
	}
	if (px_fetch_start(q, NULL, headers) < 0) {
		answer_error(q, 502, "connect_failed", "sluice: out of memory");
		pump(q);
	}
}

/* The target in origin-form, and the host it names (Host for origin-form,
 * the authority for the explicit proxy's absolute-form). */
static int request_target(struct px_cx *cx, const struct http_head *h, struct span *target, const char **why)
{
	struct span t = h->target, auth;
	struct host host;
	uint16_t port;

	if (cx->explicit_plain) {
		if (t.len < 8 || !span_ieq(span_sub(t, 0, 7), "http://")) {
			*why = "only absolute http:// targets";
			return -EINVAL;
		}
		struct span rest = span_sub(t, 7, t.len);
		long slash = span_find(rest, '/');
		auth = span_sub(rest, 0, slash < 0 ? rest.len : (size_t)slash);
		t = slash < 0 ? span_str("/") : span_sub(rest, (size_t)slash, rest.len);
	} else {
		auth = http_header_value(h, "host");
	}
	if (!t.len || t.p[0] != '/') {
		*why = "the target must be a path";
		return -EINVAL;
	}
	if (!auth.p || host_parse_authority(auth, cx->tls ? 443 : 80, &host, &port, why) < 0)
		return -EINVAL;
	if (strcmp(host.text, cx->host.text) != 0 || port != cx->port) {
		*why = "the request names another host than the connection";
		return -EXDEV;
	}
	*target = t;
	return 0;
}

static void fill_request(struct px_creq *q, const struct http_head *h, struct span target)
{
	struct px_cx *cx = q->cx;
	struct span ae = http_header_value(h, "accept-encoding"), inm = http_header_value(h, "if-none-match");
	struct span range = http_header_value(h, "range");
	long qm = span_find(target, '?');

	span_copy(h->method, q->method, sizeof(q->method));
	q->target = strndup(target.p, target.len);
	q->path = span_of(q->target, qm < 0 ? target.len : (size_t)qm);
	q->head_only = strcmp(q->method, "HEAD") == 0;
	q->keep = h->keep_alive && h->minor == 1;
	q->gzip = ae.p && memmem(ae.p, ae.len, "gzip", 4);
	bool get = q->head_only || strcmp(q->method, "GET") == 0;
	q->rule = get ? cache_rule_match(cx->pol, cx->host.text, q->path) : NULL;
	q->store_ok = q->rule && !http_header_value(h, "authorization").p && !http_header_value(h, "cookie").p &&
		      h->body == HTTP_BODY_NONE;
	if (range.p && !(q->has_range = parse_range(range, q)))
		q->store_ok = false; /* a range form not served from the store: passed through */
	if (inm.p && inm.len < sizeof(q->inm))
		span_copy(inm, q->inm, sizeof(q->inm));
	if (q->rule)
		cache_package(q->rule, q->path, q->package, sizeof(q->package));
	stored_form(q, h);
	if (q->store_ok && cache_key(cx->host.text, cx->port, target, q->gzip, q->form, q->key, sizeof(q->key)) < 0)
		q->store_ok = false;
	struct span cc = http_header_value(h, "cache-control");
	q->no_cache = cc.p && (memmem(cc.p, cc.len, "max-age=0", 9) || memmem(cc.p, cc.len, "no-cache", 8));
	/* the head's bytes are drained before the answer: what is needed of it is copied */
	upstream_headers(h, false, q->hdr_store, sizeof(q->hdr_store));
	if (q->accept[0] && strlen(q->hdr_store) + strlen(q->accept) + 12 < sizeof(q->hdr_store))
		snprintf(q->hdr_store + strlen(q->hdr_store), sizeof(q->hdr_store) - strlen(q->hdr_store),
			 "Accept: %s\r\n", q->accept);
	if ((q->hdr_bypass = malloc(CX_HDR_MAX)))
		upstream_headers(h, true, q->hdr_bypass, CX_HDR_MAX);
}

/* The explicit proxy's client asks for another host on this connection:
 * the socket and what it sent go back to a session of the proxy. */
static void hand_back(struct px_cx *cx)
{
	struct evbuffer *pending = evbuffer_new();
	struct px_server *srv = cx->srv;
	struct evbuffer *in = bufferevent_get_input(cx->cli);
	int fd = bufferevent_getfd(cx->cli);
	const struct policy *pol = pol_ref(cx->pol); /* the connection goes on under it */

	if (!pending) {
		pol_unref(pol);
		cx_free(cx);
		return;
	}
	evbuffer_add_buffer(pending, in);
	bufferevent_setfd(cx->cli, -1);
	cx_free(cx);
	px_session_resume(srv, pol, fd, pending);
	pol_unref(pol);
	evbuffer_free(pending);
}

/* A request's head (and body) is complete in the input: answer it. */
static void on_request(struct px_cx *cx, const struct http_head *h, long n)
{
	struct evbuffer *in = bufferevent_get_input(cx->cli);
	struct px_creq *q = calloc(1, sizeof(*q));
	struct pol_verdict v;
	struct span target;
	const char *why;

	if (!q) {
		cx_free(cx);
		return;
	}
	q->cx = cx;
	q->fd = q->reval_fd = -1;
	q->t0 = audit_now_ms();
	cx->req = q;
	span_copy(h->method, q->method, sizeof(q->method));
	int rc = request_target(cx, h, &target, &why);
	if (rc == -EXDEV && cx->explicit_plain) { /* another host: the proxy's session decides it */
		creq_free(q);
		cx->req = NULL;
		hand_back(cx);
		return;
	}
	if (rc < 0) {
		evbuffer_drain(in, (size_t)n);
		answer_error(q, 400, "bad_request", why);
		pump(q);
		return;
	}
	fill_request(q, h, target);
	if (!audit_ok(cx->srv->cfg.audit)) { /* fail closed, as every other request */
		evbuffer_drain(in, (size_t)n);
		answer_error(q, 503, "limit", "sluice: the audit log cannot be written; refusing new requests");
		pump(q);
		return;
	}
	pol_decide(cx->pol, &cx->host, cx->port, &v);
	q->pol_rule = v.rule;
	evbuffer_drain(in, (size_t)n);
	if (h->body == HTTP_BODY_LENGTH && h->length) {
		q->body = evbuffer_new();
		if (q->body)
			evbuffer_remove_buffer(in, q->body, (size_t)h->length);
	}
	if (!v.allow && (cx->pol->mode != POL_REPORT || v.reason == POL_METADATA_HOST)) {
		char hint[320], line[640];
		pol_hint(&v, cx->host.text, cx->port, NULL, hint, sizeof(hint));
		snprintf(line, sizeof(line), "sluice: %s %s:%u denied (%s): %s", q->method, cx->host.text, cx->port,
			 pol_reason_key(v.reason), hint);
		q->status = 403;
		answer_error(q, 403, pol_reason_key(v.reason), line);
		pump(q);
		return;
	}
	if (!v.allow) { /* mode: report: as the proxy's own requests */
		q->report_only = true;
		q->report_reason = v.reason;
		log_msg("report: %s %s:%u would be denied (%s)", q->method, cx->host.text, cx->port,
			pol_reason_key(v.reason));
	}
	route(q);
}

/* Read the next request, once the current one is answered. */
static void cx_next(struct px_cx *cx)
{
	struct evbuffer *in = bufferevent_get_input(cx->cli);
	size_t len = evbuffer_get_length(in), take = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
	struct http_head h;
	const char *why = "request head too large";

	if (cx->req || cx->closing || len == 0)
		return;
	long n = http_parse_request(span_of((const char *)evbuffer_pullup(in, (ssize_t)take), take), &h, &why);
	if (n == 0 && len < HTTP_MAX_HEAD)
		return;
	if (n > 0 && h.body == HTTP_BODY_CHUNKED) {
		n = -EINVAL;
		why = "a chunked request body to a registry";
	} else if (n > 0 && h.body == HTTP_BODY_LENGTH && h.length > CX_BODY_MAX) {
		n = -EINVAL;
		why = "a request body larger than 1 MiB to a registry";
	}
	if (n <= 0) {
		struct px_creq q0 = { .cx = cx, .fd = -1, .reval_fd = -1 };
		snprintf(q0.method, sizeof(q0.method), "-");
		q0.t0 = audit_now_ms();
		answer_error(&q0, 400, "bad_request", why);
		cx_finish(cx);
		return;
	}
	if (h.body == HTTP_BODY_LENGTH && len < (size_t)n + h.length)
		return; /* the body is on its way */
	arm_stall(cx);
	on_request(cx, &h, n);
}

/* ---- client events ------------------------------------------------------------ */

static void cli_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	cx_next(arg);
}

static void cx_next_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cx_next(arg);
}

static void cli_write_cb(struct bufferevent *bev, void *arg)
{
	struct px_cx *cx = arg;

	(void)bev;
	if (cx->closing) {
		cx_finish(cx);
		return;
	}
	if (cx->req)
		pump(cx->req);
}

static void cli_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct px_cx *cx = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		cx->handshook = true;
		return;
	}
	if (!cx->handshook && cx->tls) {
		unsigned long e = bufferevent_get_openssl_error(cx->cli);
		log_msg("%s: TLS with the client for %s failed: %s", cx->id, cx->host.text,
			e ? ERR_reason_error_string(e) : "the client closed during the handshake");
		cx->close_reason = "tls_failed";
	} else if (!cx->close_reason && cx->req) {
		cx->close_reason = "client_closed";
	}
	cx_free(cx);
}

/* A client taking a held body: cut once it has taken nothing for
 * CX_HOLD_IDLE_S, which lets go of its share of the hold (the body, with
 * its last client). */
static void held_idle(struct px_creq *q)
{
	struct px_cx *cx = q->cx;

	if (audit_now_ms() - q->held_took_ms < CX_HOLD_IDLE_S * 1000) {
		arm_held(q);
		return;
	}
	log_msg("%s: cache: %s: a client took none of a body held in memory (the store is full) for %d s: cut, "
		"so that it does not keep the memory other held bodies need (free space on the store's disk or "
		"raise --cache-max)", cx->id, cx->host.text, CX_HOLD_IDLE_S);
	cx->close_reason = "limit";
	cx_free(cx);
}

static void cx_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_cx *cx = arg;

	(void)fd;
	(void)what;
	if (cx->closing) {
		cx_finish(cx);
		return;
	}
	if (cx->req && cx->req->f && cx->req->f->held && cx->req->f->done) {
		held_idle(cx->req);
		return;
	}
	if (cx->req && cx_stalled(cx)) {
		log_msg("%s: cache: %s: a client took no byte of its answer for %d s: cut, so that it does not "
			"keep a descriptor and buffers for ever", cx->id, cx->host.text, CX_STALL_S);
		cx->close_reason = "limit";
		cx_free(cx);
		return;
	}
	if (cx->req) {
		arm(cx, CX_STALL_S / 3); /* busy: a fetch, or a client taking its answer */
		return;
	}
	if (!cx->handshook && cx->tls)
		cx->close_reason = "tls_failed";
	cx_free(cx);
}

/* ---- taking a session over ------------------------------------------------------- */

static struct bufferevent *client_bev(struct px_cx *cx, int fd, struct evbuffer *pending)
{
	struct event_base *base = cx->srv->base;
	/* an answer is a head and then its body, in writes of their own: with
	 * Nagle the body's last segment waited for the client's delayed ACK of
	 * the head, 40 ms for each small object on a kept-alive connection */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	struct bufferevent *raw = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);

	if (!raw) {
		close(fd);
		return NULL;
	}
	/* a socket bufferevent's input takes bytes only from its socket: thawed
	 * for the ones the session read before the hand-over */
	/* libevent writes at most 16 KiB per turn of the loop unless told:
	 * a turn (an epoll_wait) per TLS record halved a hit's throughput */
	bufferevent_set_max_single_write(raw, CX_OUT_HIGH);
	struct evbuffer *in = bufferevent_get_input(raw);
	evbuffer_unfreeze(in, 0);
	evbuffer_add_buffer(in, pending);
	evbuffer_freeze(in, 0);
	if (!cx->tls)
		return raw;
	SSL *ssl = SSL_new(cx->pc->server_ctx);
	if (!ssl || ca_expect_name(ssl, cx->host.text) < 0) {
		SSL_free(ssl);
		bufferevent_free(raw);
		return NULL;
	}
	struct bufferevent *b = px_tls_filter(base, raw, ssl, BUFFEREVENT_SSL_ACCEPTING);
	if (!b)
		return NULL; /* both freed */
	bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
	/* the filter moves all it is given to the socket's output unless that
	 * has a high mark: without one a hit of N bytes was held whole in memory
	 * (and a client that does not read pins what is under it) */
	bufferevent_setwatermark(raw, EV_WRITE, CX_FILE_HIGH / 2, CX_FILE_HIGH);
	if (evbuffer_get_length(bufferevent_get_input(raw)))
		bufferevent_trigger(raw, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
	return b;
}

int px_cx_take(struct px_session *s, bool tls)
{
	struct px_server *srv = s->srv;
	struct px_cx *cx = calloc(1, sizeof(*cx));
	struct evbuffer *pending = evbuffer_new();

	if (!cx || !pending || !(cx->timer = evtimer_new(srv->base, cx_timer_cb, cx)) ||
	    !(cx->next = evtimer_new(srv->base, cx_next_cb, cx))) {
		if (cx && cx->timer)
			event_free(cx->timer);
		free(cx);
		if (pending)
			evbuffer_free(pending);
		return -ENOMEM;
	}
	cx->srv = srv;
	cx->pol = pol_ref(s->pol);
	cx->pc = srv->cfg.cache;
	cx->tls = tls;
	cx->explicit_plain = !tls && !s->transparent;
	cx->host = s->host;
	cx->port = s->port;
	cx->t_start = audit_now_ms();
	snprintf(cx->id, sizeof(cx->id), "%s", s->id);
	snprintf(cx->event, sizeof(cx->event), "%s", s->transparent ? "transparent" : tls ? "connect" : "http");
	if (tls)
		snprintf(cx->sni, sizeof(cx->sni), "%s", s->host.text);
	cx->report_only = s->report_only;
	cx->report_reason = s->verdict.reason;
	cx->rule = s->verdict.rule;
	/* the socket changes owner, with what it has sent so far */
	px_readers_drop(s);
	int fd = bufferevent_getfd(s->cli);
	/* copied: the input may be frozen while its callback runs */
	struct evbuffer *in = bufferevent_get_input(s->cli);
	size_t len = evbuffer_get_length(in);
	if (len)
		evbuffer_add(pending, evbuffer_pullup(in, (ev_ssize_t)len), len);
	bufferevent_setfd(s->cli, -1);
	px_session_free(s);
	srv->nconns++;
	LIST_INSERT_HEAD(&srv->cxs, cx, link);
	if (tls) /* before any byte: a close record always has its decision */
		log_conn(cx, "decision", NULL);
	if (tls && !cx->explicit_plain && strcmp(cx->event, "connect") == 0 &&
	    write(fd, "HTTP/1.1 200 Connection established\r\n\r\n", 39) != 39) {
		close(fd);
		evbuffer_free(pending);
		cx_free(cx);
		return 0;
	}
	cx->cli = client_bev(cx, fd, pending);
	evbuffer_free(pending);
	if (!cx->cli) {
		cx_free(cx);
		return 0;
	}
	bufferevent_setcb(cx->cli, cli_read_cb, cli_write_cb, cli_event_cb, cx);
	bufferevent_setwatermark(cx->cli, EV_WRITE, CX_OUT_HIGH / 2, 0);
	bufferevent_enable(cx->cli, EV_READ | EV_WRITE);
	arm(cx, srv->cfg.head_timeout_s);
	if (!tls)
		cx_next(cx);
	return 0;
}
