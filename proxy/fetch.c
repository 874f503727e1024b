/* fetch.c: the package cache's upstream fetches.
 *
 * A fetch resolves the registry's name through the shared resolver, vets the
 * answers as every connection's are, dials them in turn (TLS verified
 * against the system's trust store and --upstream-ca, for port 443), sends
 * one request and reads one answer. A 200 to a cacheable request goes to a
 * store writer as it arrives, hashed (and to the first follower that keeps
 * up, as it is), is checked against the published hash at its end, and
 * committed on the worker thread (commit.c); anything else is held in
 * memory for the followers, or, for a bypass, passed to its one follower
 * as it comes.
 * Upstream connections are kept idle for the next fetch to the same host.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cache_int.h"
#include "log.h"
#include "tls_filter.h"

static void fetch_try(struct px_fetch *f);
static void lookup(struct px_fetch *f);
static void up_read_cb(struct bufferevent *bev, void *arg);
static void up_event_cb(struct bufferevent *bev, short what, void *arg);

/* ---- idle pool ---------------------------------------------------------- */

static void pool_drop(struct px_upconn *c)
{
	LIST_REMOVE(c, link);
	c->pc->nidle--;
	bufferevent_free(c->bev);
	event_free(c->timer);
	pol_unref(c->pol);
	free(c);
}

static void pool_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_drop(arg);
}

static void pool_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	pool_drop(arg); /* closed or errored while idle */
}

static void pool_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pool_drop(arg); /* bytes nobody asked for: not reusable */
}

static void conn_key(const struct px_fetch *f, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%u:%d", f->host, f->port, f->tls);
}

static void pool_put(struct px_fetch *f)
{
	struct px_cache *pc = f->pc;
	struct px_upconn *c = pc->nidle < CX_POOL_MAX * 4 ? calloc(1, sizeof(*c)) : NULL;
	struct timeval tv = { CX_POOL_IDLE_S, 0 };

	if (!c || !(c->timer = evtimer_new(pc->base, pool_timer_cb, c))) {
		free(c);
		bufferevent_free(f->up);
		f->up = NULL;
		return;
	}
	c->pc = pc;
	c->bev = f->up;
	c->pol = pol_ref(f->pol);
	c->addr = f->up_addr;
	f->up = NULL;
	conn_key(f, c->key, sizeof(c->key));
	bufferevent_setcb(c->bev, pool_read_cb, NULL, pool_event_cb, c);
	bufferevent_enable(c->bev, EV_READ);
	evtimer_add(c->timer, &tv);
	LIST_INSERT_HEAD(&pc->idle, c, link);
	pc->nidle++;
}

static struct bufferevent *pool_take(struct px_fetch *f)
{
	char key[sizeof(((struct px_upconn *)0)->key)];
	struct px_upconn *c;

	conn_key(f, key, sizeof(key));
	LIST_FOREACH(c, &f->pc->idle, link) {
		struct addr ok;
		/* never across policies (nor a reloaded one), and only to an
		 * address this fetch's policy would dial itself */
		if (strcmp(c->key, key) != 0 || c->pol != f->pol ||
		    pol_vet(f->pol, &c->addr, 1, f->port, &ok, NULL) != 1)
			continue;
		struct bufferevent *b = c->bev;
		c->bev = NULL;
		f->up_addr = c->addr;
		addr_format(&c->addr, f->remote, sizeof(f->remote));
		LIST_REMOVE(c, link);
		f->pc->nidle--;
		event_free(c->timer);
		pol_unref(c->pol);
		free(c);
		return b;
	}
	return NULL;
}

void px_cache_pool_free(struct px_cache *pc)
{
	while (!LIST_EMPTY(&pc->idle))
		pool_drop(LIST_FIRST(&pc->idle));
}

void px_fetch_abort_writers(struct px_cache *pc)
{
	struct px_fetch *f;

	LIST_FOREACH(f, &pc->fetches, link)
		if (f->w) {
			cache_writer_abort(f->w); /* joins its flusher; the partial file goes */
			f->w = NULL;
		}
}

/* ---- end of a fetch ----------------------------------------------------- */

/* up's socket, under its TLS filter if any; -1: none. */
static int up_fd(const struct px_fetch *f)
{
	struct bufferevent *raw = f->up ? bufferevent_get_underlying(f->up) : NULL;

	return f->up ? bufferevent_getfd(raw ? raw : f->up) : -1;
}

/* Reading up here or in libevent (upread.c), and its pause for a slow client. */
static void up_pause(struct px_fetch *f, bool paused)
{
	bool filter = bufferevent_get_underlying(f->up) != NULL;

	f->up_paused = paused;
	px_upread_pause(&f->rd, paused);
	if (px_upread_on(&f->rd) && !filter)
		return; /* the socket's bufferevent itself: it must not read again */
	if (paused)
		bufferevent_disable(f->up, EV_READ);
	else
		bufferevent_enable(f->up, EV_READ);
}

/* A body of at least UPREAD_FROM bytes is read here in large pieces. */
static void up_read_big(struct px_fetch *f)
{
	struct bufferevent *raw = bufferevent_get_underlying(f->up);

	if (!px_upread_on(&f->rd) && f->body.kind == HTTP_BODY_LENGTH && f->body.left >= UPREAD_FROM)
		(void)px_upread_start(&f->rd, f->pc->base, raw ? raw : f->up); /* or as before */
}

/* up closed (its socket back to libevent's reading first). */
static void up_free(struct px_fetch *f)
{
	px_upread_stop(&f->rd);
	bufferevent_free(f->up);
	f->up = NULL;
}

/* Followers may leave while told (px_fetch_leave then leaves f alone):
 * whoever notifies calls maybe_free after. */
static void notify(struct px_fetch *f)
{
	struct px_creq *q, *next;

	f->notifying = true;
	for (q = LIST_FIRST(&f->followers); q; q = next) {
		next = LIST_NEXT(q, flink);
		px_creq_fetch_news(q);
	}
	f->notifying = false;
}

static void fetch_free(struct px_fetch *f)
{
	if (f->shared)
		LIST_REMOVE(f, link);
	rsv_cancel(f->query);
	if (f->up)
		up_free(f);
	if (f->w)
		cache_writer_abort(f->w);
	if (f->timer)
		event_free(f->timer);
	if (f->req)
		evbuffer_free(f->req);
	if (f->held) /* mem holds the held body, never drained (read before it is freed) */
		f->pc->held_bytes -= evbuffer_get_length(f->mem);
	if (f->mem)
		evbuffer_free(f->mem);
	cache_check_free(f->check);
	if (f->spool >= 0)
		close(f->spool);
	if (f->rfd >= 0)
		close(f->rfd);
	pol_unref(f->pol);
	free(f);
}

/* Free the fetch once nobody follows it and it is over, or is a bypass or
 * held (a stored fetch goes on alone: the next client finds it stored). */
static void maybe_free(struct px_fetch *f)
{
	if ((f->done || f->failed || f->through || f->held) && LIST_EMPTY(&f->followers) && !f->notifying &&
	    !f->committing)
		fetch_free(f);
}

static void fail(struct px_fetch *f, const char *reason, const char *detail)
{
	if (f->failed || f->done || f->committing)
		return;
	log_msg("cache: %s:%u: %s", f->host, f->port, detail);
	f->failed = true;
	f->fail_reason = reason;
	if (f->w) {
		cache_writer_abort(f->w);
		f->w = NULL;
	}
	if (f->up)
		up_free(f);
	if (f->shared) { /* a later request starts afresh */
		LIST_REMOVE(f, link);
		f->shared = false;
	}
	notify(f);
	maybe_free(f);
}

/* Over: followers waiting for the store find it there (or not). */
static void end(struct px_fetch *f)
{
	if (f->shared) {
		LIST_REMOVE(f, link);
		f->shared = false;
	}
	f->done = true;
	notify(f);
	maybe_free(f);
}

void px_fetch_committed(struct px_fetch *f, int rc, const struct cache_entry *e)
{
	f->committing = false;
	f->e = *e;
	if (rc < 0)
		log_msg("cache: %s:%u: not stored (%s)", f->host, f->port, strerror(-rc));
	f->committed = rc == 0;
	end(f);
}

/* The whole body is in the writer: its verdict (before a byte of a body
 * with a published hash is served), what a metadata body publishes, then
 * the followers reading the file finish, and the commit goes to the worker. */
static void finish_stored(struct px_fetch *f)
{
	struct cache_entry *e = &f->e;
	int rc = cache_writer_check(f->w, f->verify ? &f->want : NULL);

	if (rc == -EBADMSG) {
		fail(f, "verify_failed", "the body does not match its published hash: not stored");
		return;
	}
	if (rc < 0) { /* no verdict: nothing is served from the file */
		fail(f, "connect_failed", "the body could not be checked: not stored");
		return;
	}
	e->stored_ms = (int64_t)time(NULL) * 1000;
	e->size = f->got;
	snprintf(e->blob, sizeof(e->blob), "%s", cache_writer_hex(f->w));
	snprintf(e->etag, sizeof(e->etag), "%s", f->etag);
	snprintf(e->last_modified, sizeof(e->last_modified), "%s", f->last_modified);
	snprintf(e->content_type, sizeof(e->content_type), "%s", f->content_type);
	snprintf(e->content_encoding, sizeof(e->content_encoding), "%s", f->content_encoding);
	/* before any client has all of it: its next request may need them */
	px_cache_learn_body(f->pc, f->pol, f->host, f->path, e, f->rfd);
	f->body_complete = true;
	notify(f);
	struct cache_writer *w = f->w;
	f->w = NULL;
	if (px_commit_start(f, w) == 0) {
		f->committing = true;
		return;
	}
	/* no worker: here, then */
	px_fetch_committed(f, cache_writer_commit(w, f->key, e, f->verify ? &f->want : NULL), e);
}

static void finish(struct px_fetch *f)
{
	bool reuse = f->keep_alive && f->up && evbuffer_get_length(bufferevent_get_input(f->up)) == 0;

	evtimer_del(f->timer);
	px_lowat_reset(&f->lowat, up_fd(f));
	px_upread_stop(&f->rd);
	if (reuse)
		pool_put(f);
	else if (f->up)
		up_free(f);
	if (f->w)
		finish_stored(f);
	else if (f->held && cache_check_end(f->check) < 0)
		fail(f, "verify_failed", "the body does not match its published hash: not served");
	else
		end(f); /* a held body that matches goes to every follower from mem */
}

/* ---- the answer ---------------------------------------------------------- */

static void keep_header(const struct http_head *h, const char *name, char *buf, size_t size)
{
	struct span v = http_header_value(h, name);
	buf[0] = '\0';
	if (v.p && v.len < size) {
		for (size_t i = 0; i < v.len; i++)
			if ((unsigned char)v.p[i] < ' ' || v.p[i] == 0x7f)
				return;
		span_copy(v, buf, size);
	}
}

/* Whether the disk under the store has room for n more bytes. */
static bool disk_has_room(struct px_fetch *f, uint64_t n)
{
	struct statvfs sv;
	int fd = f->w ? cache_writer_fd(f->w) : -1;

	if (fd < 0 || fstatvfs(fd, &sv) < 0)
		return true;
	return (uint64_t)sv.f_bavail * sv.f_frsize > n + (1u << 20);
}

/* A 200 to a cacheable request: open the writer, or pass it through. */
static void start_store(struct px_fetch *f)
{
	int rc = cache_writer_new(f->pc->store, f->has_length ? f->length : 0, &f->w);

	if (rc == 0 && f->has_length && !disk_has_room(f, f->length)) {
		cache_writer_abort(f->w);
		f->w = NULL;
		rc = -ENOSPC;
	}
	if (rc == 0 && f->verify)
		rc = cache_writer_expect(f->w, &f->want);
	/* a large body is hashed and written on a thread of its own (or here,
	 * when none can be had): this one keeps to TLS */
	if (rc == 0 && f->has_length && f->length >= CX_ASYNC_MIN)
		(void)cache_writer_async(f->w);
	if (rc == 0 && (f->rfd = dup(cache_writer_fd(f->w))) < 0)
		rc = -errno;
	if (rc == 0)
		return;
	if (f->w) {
		cache_writer_abort(f->w);
		f->w = NULL;
	}
	if (!f->pc->warned_full) {
		log_msg("cache: the store is full (%s): answers pass through uncached", strerror(-rc));
		f->pc->warned_full = true;
	}
	f->store = false;
	f->through = true;
}

static const char full_unchecked[] = "a body with a published hash cannot be checked while the store is full: "
				     "not served (free space on its disk or raise --cache-max)";

/* The store did not take a body with a published hash (start_store passed
 * it through): hold it in mem instead, if it may be that long, and check
 * it as it comes. 0, or -EFBIG / -ENOMEM: it cannot be checked. */
static int hold(struct px_fetch *f)
{
	if (f->has_length && (f->length > CX_HOLD_MAX || f->pc->held_bytes + f->length > CX_HOLD_ALL))
		return -EFBIG;
	int rc = cache_check_new(&f->want, &f->check);
	if (rc < 0)
		return rc;
	f->held = true;
	f->through = false;
	return 0;
}

/* The next n bytes of a held body (the k pieces of iov): within the
 * bounds, and hashed; the caller adds them to mem. Returns -1 after
 * failing f. */
static int hold_check(struct px_fetch *f, const struct iovec *iov, int k, size_t n)
{
	if (evbuffer_get_length(f->mem) + n > CX_HOLD_MAX || f->pc->held_bytes + n > CX_HOLD_ALL) {
		fail(f, "verify_failed", full_unchecked);
		return -1;
	}
	for (int i = 0; i < k; i++)
		if (cache_check_update(f->check, iov[i].iov_base, iov[i].iov_len) < 0) {
			fail(f, "verify_failed", "out of memory for a body with a published hash: not served");
			return -1;
		}
	return 0;
}

/* mem grew by n held bytes, or (moved != n) could not. Returns -1 after failing f. */
static int held(struct px_fetch *f, size_t n, size_t moved)
{
	f->pc->held_bytes += moved;
	if (moved == n)
		return 0;
	fail(f, "verify_failed", "out of memory for a body with a published hash: not served");
	return -1;
}

/* A body with a published hash is checked in the store's writer, or, when
 * the store did not take it (to_store, but no writer), held and checked in
 * memory, or not served: no-store, an empty body or one too long to hold
 * must not carry an unchecked tarball through, nor another success status
 * (203, 206, ...: only a 200 is stored or held). true after failing f. */
static bool unchecked(struct px_fetch *f, bool to_store, bool no_store)
{
	bool success = f->status >= 200 && f->status <= 299;

	if (!f->verify || !success || (f->status == 200 && (f->w || (to_store && hold(f) == 0))))
		return false;
	fail(f, "verify_failed",
	     f->status != 200 ? "upstream answered a request for a body with a published hash with a success "
				"other than 200: it cannot be checked, not served"
	     : no_store	      ? "upstream sent a body with a published hash as no-store: it cannot be checked, not served"
			      : full_unchecked);
	return true;
}

static int read_head(struct px_fetch *f)
{
	struct evbuffer *in = bufferevent_get_input(f->up);
	size_t len = evbuffer_get_length(in), take = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
	struct http_head h;
	const char *why = "answer head too large";
	long n = http_parse_response(span_of((const char *)evbuffer_pullup(in, (ssize_t)take), take),
				     span_str(f->method), &h, &why);

	if (n == 0)
		return len >= HTTP_MAX_HEAD ? -E2BIG : 0;
	if (n < 0) {
		fail(f, "bad_request", why);
		return -EINVAL;
	}
	f->head_seen = true;
	f->status = h.status;
	f->keep_alive = h.keep_alive;
	f->has_length = h.body == HTTP_BODY_LENGTH;
	f->length = h.length;
	f->body.kind = h.body;
	f->body.left = h.length;
	f->body.done = h.body == HTTP_BODY_NONE || (h.body == HTTP_BODY_LENGTH && h.length == 0);
	keep_header(&h, "etag", f->etag, sizeof(f->etag));
	keep_header(&h, "last-modified", f->last_modified, sizeof(f->last_modified));
	keep_header(&h, "content-type", f->content_type, sizeof(f->content_type));
	keep_header(&h, "content-encoding", f->content_encoding, sizeof(f->content_encoding));
	struct span cc = http_header_value(&h, "cache-control");
	bool no_store = cc.p && (memmem(cc.p, cc.len, "no-store", 8) || memmem(cc.p, cc.len, "private", 7));
	evbuffer_drain(in, (size_t)n);
	bool to_store = f->status == 200 && f->store && !no_store && !(f->has_length && f->length == 0);
	if (to_store)
		start_store(f);
	else if (f->status == 200 && f->store)
		f->store = false; /* an empty or private answer is passed on, never stored */
	return unchecked(f, to_store, no_store) ? -EINVAL : 1;
}

/* Read the writer's first n bytes back from its file into mem and the
 * check. 0 or -errno. */
static int hold_written(struct px_fetch *f, uint64_t n)
{
	for (uint64_t off = 0; off < n;) {
		struct evbuffer_iovec v;
		size_t k = n - off < CX_CHUNK ? (size_t)(n - off) : CX_CHUNK;
		if (evbuffer_reserve_space(f->mem, (ev_ssize_t)k, &v, 1) < 1)
			return -ENOMEM;
		ssize_t got = pread(f->rfd, v.iov_base, k, (off_t)off);
		v.iov_len = got > 0 ? (size_t)got : 0;
		evbuffer_commit_space(f->mem, &v, 1);
		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		if (cache_check_update(f->check, v.iov_base, (size_t)got) < 0)
			return -ENOMEM;
		off += (uint64_t)got;
	}
	return 0;
}

/* The store filled under a body with a published hash: held from here
 * on, what the file has first. false: it cannot be (too long, or the
 * bytes never reached the file). */
static bool hold_spilled(struct px_fetch *f)
{
	uint64_t n = cache_writer_size(f->w);

	if (cache_writer_flush(f->w) < 0 || n > CX_HOLD_MAX || f->pc->held_bytes + n > CX_HOLD_ALL ||
	    cache_check_new(&f->want, &f->check) < 0)
		return false;
	if (hold_written(f, n) < 0) {
		evbuffer_drain(f->mem, evbuffer_get_length(f->mem));
		return false;
	}
	f->pc->held_bytes += n;
	f->held = true;
	cache_writer_abort(f->w);
	f->w = NULL;
	close(f->rfd); /* its space goes back to the disk now */
	f->rfd = -1;
	f->store = false;
	return true;
}

/* The store or the disk filled while the body was being written: when no
 * client has been sent any of it yet, and no published hash would go
 * unchecked, it passes through instead, what was written first (the
 * spool, kept open), then the rest as it comes; a body with a published
 * hash is held (hold) instead. false: it cannot. */
static bool spill(struct px_fetch *f, int err)
{
	struct px_creq *q;

	if (f->verify && err == -ENOSPC)
		return hold_spilled(f);
	if (f->verify || LIST_EMPTY(&f->followers))
		return false;
	LIST_FOREACH(q, &f->followers, flink)
		if (q->started)
			return false;
	if (cache_writer_flush(f->w) < 0)
		return false; /* bytes that never reached the file: no spool to serve */
	f->spool = f->rfd; /* ours: it outlives the writer */
	f->spool_len = cache_writer_size(f->w);
	cache_writer_abort(f->w);
	f->w = NULL;
	f->rfd = -1;
	f->store = false;
	f->through = true;
	if (f->shared) {
		LIST_REMOVE(f, link);
		f->shared = false;
	}
	if (!f->pc->warned_full) {
		log_msg("cache: the store is full (%s): answers pass through uncached", strerror(-err));
		f->pc->warned_full = true;
	}
	return true;
}

/* The store's writer failed and the body could not be spilled (nor held). */
static void fail_store(struct px_fetch *f)
{
	if (f->verify)
		fail(f, "verify_failed", full_unchecked);
	else
		fail(f, "connect_failed", "the store is full or failing: this answer is not cached");
}

/* Body data to the writer, or to mem. Returns -1 after failing f. */
static int put_data(struct px_fetch *f, const char *p, size_t n)
{
	int rc;

	if (f->w && (rc = cache_writer_write(f->w, p, n)) < 0 && !spill(f, rc)) {
		fail_store(f);
		return -1;
	}
	if (f->held) {
		struct iovec iov = { (void *)p, n };
		if (hold_check(f, &iov, 1, n) < 0 || held(f, n, evbuffer_add(f->mem, p, n) == 0 ? n : 0) < 0)
			return -1;
	} else if (!f->w) {
		if (!f->through && evbuffer_get_length(f->mem) + n > CX_BODY_MAX) {
			fail(f, "connect_failed", "an answer that is not stored is larger than 1 MiB");
			return -1;
		}
		evbuffer_add(f->mem, p, n);
	}
	f->got += n;
	return 0;
}

/* n body bytes at the front of in to the store's file in one writev, and
 * to the first follower that keeps up, moved as they are: neither copied
 * again nor read back from the file. Returns -1 after failing f. */
static int put_stored(struct px_fetch *f, struct evbuffer *in, size_t n)
{
	struct evbuffer_iovec v[CACHE_IOV_MAX];
	struct iovec iov[CACHE_IOV_MAX];
	int nv = evbuffer_peek(in, (ev_ssize_t)n, NULL, v, CACHE_IOV_MAX), k = 0;
	size_t sum = 0;
	struct px_creq *q;

	nv = nv < CACHE_IOV_MAX ? nv : CACHE_IOV_MAX; /* more pieces: the rest next turn */
	for (; k < nv && sum < n; k++) {
		iov[k] = (struct iovec){ v[k].iov_base, v[k].iov_len < n - sum ? v[k].iov_len : n - sum };
		sum += iov[k].iov_len;
	}
	int rc = cache_writer_writev(f->w, iov, k);
	if (rc < 0 && !spill(f, rc)) {
		fail_store(f);
		return -1;
	}
	f->got += sum;
	if (rc < 0 && f->held) { /* held: these bytes follow the file's in mem */
		if (hold_check(f, iov, k, sum) < 0)
			return -1;
		int moved = evbuffer_remove_buffer(in, f->mem, sum);
		return held(f, sum, moved > 0 ? (size_t)moved : 0);
	}
	if (rc < 0) { /* spilled: these bytes are the first of mem */
		evbuffer_remove_buffer(in, f->mem, sum);
		return 0;
	}
	LIST_FOREACH(q, &f->followers, flink)
		if (!f->verify && px_creq_take(q, in, sum, f->got - sum))
			return 0; /* (a body with a published hash waits for its verdict) */
	evbuffer_drain(in, sum);
	return 0;
}

/* Length-framed or until-close body bytes. */
static int take_body(struct px_fetch *f)
{
	struct evbuffer *in = bufferevent_get_input(f->up);

	while (!f->body.done && evbuffer_get_length(in)) {
		size_t n = evbuffer_get_length(in);
		n = n < CX_CHUNK ? n : CX_CHUNK;
		if (f->body.kind == HTTP_BODY_LENGTH && n > f->body.left)
			n = (size_t)f->body.left;
		if (f->w) {
			size_t before = evbuffer_get_length(in);
			if (put_stored(f, in, n) < 0)
				return -1;
			n = before - evbuffer_get_length(in); /* what one writev took */
		} else {
			const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
			if (put_data(f, p, n) < 0)
				return -1;
			evbuffer_drain(in, n);
		}
		if (f->body.kind == HTTP_BODY_LENGTH) {
			f->body.left -= n;
			f->body.done = f->body.left == 0;
		}
	}
	return 0;
}

/* A chunked body: the scanner frames it; only the chunks' data is kept.
 * Inside a chunk the data goes in one piece, the framing between chunks a
 * byte at a time (ch.left is not enough to tell: it also holds a chunk
 * size while its digits are read). */
static int take_chunked(struct px_fetch *f)
{
	struct evbuffer *in = bufferevent_get_input(f->up);

	while (!f->body.done && evbuffer_get_length(in)) {
		size_t n = evbuffer_get_length(in);
		n = n < CX_CHUNK ? n : CX_CHUNK;
		const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
		size_t i = 0;
		while (i < n && !f->body.done) {
			bool data = http_chunked_in_data(&f->body.ch);
			uint64_t left = f->body.ch.left;
			size_t k = data ? (n - i < left ? n - i : (size_t)left) : 1;
			long c = http_chunked_scan(&f->body.ch, p + i, k, &f->body.done);
			if (c < 0) {
				evbuffer_drain(in, i);
				fail(f, "bad_request", "bad chunked framing from upstream");
				return -1;
			}
			if (data && put_data(f, p + i, (size_t)c) < 0)
				return -1;
			i += (size_t)c;
		}
		evbuffer_drain(in, i);
	}
	return 0;
}

/* Upstream has this long for its next bytes once connected (the proxy's
 * idle timeout): an origin that accepts and stalls does not hold its
 * clients for ever. */
static void arm_idle(struct px_fetch *f)
{
	struct timeval tv = { f->srv->cfg.idle_timeout_s ? f->srv->cfg.idle_timeout_s : 300, 0 };
	evtimer_add(f->timer, &tv);
}

/* The next wake of a length-framed body read in large pieces (upread.c):
 * once enough of it waits (lowat.c). Not for libevent's own reads: at 4 KiB
 * a wake, a mark would leave the rest below it waiting for more to come.
 * What user space holds already is not sure to come on the socket: the TLS
 * layer's input and a record it has begun, with room for its framing. */
static void tune_reads(struct px_fetch *f, size_t n)
{
	struct bufferevent *raw = bufferevent_get_underlying(f->up);
	size_t buffered = evbuffer_get_length(bufferevent_get_input(f->up));
	struct timeval now;

	if (raw)
		buffered += evbuffer_get_length(bufferevent_get_input(raw)) + 2 * (16u << 10) + 2048;
	event_base_gettimeofday_cached(f->pc->base, &now);
	px_lowat_update(&f->lowat, up_fd(f), &now, n, f->body.left > buffered ? f->body.left - buffered : 0);
}

static void up_read_cb(struct bufferevent *bev, void *arg)
{
	struct px_fetch *f = arg;

	(void)bev;
	arm_idle(f);
	if (!f->head_seen) {
		int rc = read_head(f);
		if (rc <= 0) {
			if (rc == -E2BIG)
				fail(f, "bad_request", "answer head too large");
			return;
		}
	}
	uint64_t left = f->body.left;
	int rc = f->body.kind == HTTP_BODY_CHUNKED ? take_chunked(f) : take_body(f);
	if (rc < 0)
		return;
	if (f->body.kind == HTTP_BODY_LENGTH && !f->body.done) {
		up_read_big(f);
		if (px_upread_on(&f->rd)) {
			if (!f->up_paused)
				px_upread_pause(&f->rd, false); /* it pauses itself while its bytes wait here */
			tune_reads(f, left - f->body.left);
		}
	}
	if (f->through && evbuffer_get_length(f->mem) > CX_BODY_MAX && f->up)
		up_pause(f, true); /* the client is slower: px_fetch_resume */
	if (f->body.done) {
		finish(f);
		return;
	}
	notify(f);
	maybe_free(f);
}

uint64_t px_fetch_filed(const struct px_fetch *f)
{
	return f->w ? cache_writer_written(f->w) : f->got;
}

void px_fetch_resume(struct px_fetch *f)
{
	if (f->up && !f->done && !f->failed && evbuffer_get_length(f->mem) <= CX_BODY_MAX / 2)
		up_pause(f, false);
}

/* A handshake that failed on f->up: its error kept for the reason and the
 * stderr line once every address is tried (libevent's TLS layer takes the
 * errors off OpenSSL's queue into its own). */
static void note_tls_error(struct px_fetch *f, short what)
{
	unsigned long e;

	if (!f->tls || f->head_seen || !(what & BEV_EVENT_ERROR))
		return;
	while ((e = bufferevent_get_openssl_error(f->up)))
		f->tls_error = e;
}

/* Every address tried: tls_failed when a handshake failed, else connect_failed. */
static void fail_dial(struct px_fetch *f)
{
	char detail[300];
	const char *why = f->tls_error ? ERR_reason_error_string(f->tls_error) : NULL;

	if (!f->tls_error) {
		fail(f, "connect_failed", "could not reach upstream");
		return;
	}
	snprintf(detail, sizeof(detail), "TLS with upstream failed: %s", why ? why : "handshake failed");
	fail(f, "tls_failed", detail);
}

static void up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct px_fetch *f = arg;
	char detail[300];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		arm_idle(f);
		bufferevent_enable(f->up, EV_READ | EV_WRITE);
		return;
	}
	if ((what & BEV_EVENT_EOF) && f->head_seen && f->body.kind == HTTP_BODY_CLOSE) {
		up_read_cb(bev, f);
		if (!f->failed && !f->done) {
			f->keep_alive = false;
			f->body.done = true;
			finish(f);
		}
		return;
	}
	if (!f->head_seen && f->pooled) { /* a kept connection the server had closed: dial afresh */
		bufferevent_free(f->up);
		f->up = NULL;
		f->pooled = false;
		if (f->naddrs)
			fetch_try(f);
		else
			lookup(f); /* it was taken instead of a lookup: no address to dial yet */
		return;
	}
	note_tls_error(f, what);
	if (!f->head_seen && f->next_addr < f->naddrs) {
		bufferevent_free(f->up);
		f->up = NULL;
		fetch_try(f);
		return;
	}
	if (!f->head_seen && f->tls_error) {
		fail_dial(f);
		return;
	}
	snprintf(detail, sizeof(detail), "%s", f->head_seen ? "upstream closed before the end of the body" :
		 "could not reach upstream");
	fail(f, "connect_failed", detail);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_fetch *f = arg;

	(void)fd;
	(void)what;
	if (f->up && !f->head_seen && f->next_addr < f->naddrs) {
		bufferevent_free(f->up);
		f->up = NULL;
		fetch_try(f);
		return;
	}
	if ((f->through && evbuffer_get_length(f->mem) > CX_BODY_MAX / 2) || px_lowat_holding(&f->lowat, up_fd(f))) {
		arm_idle(f); /* paused for a slow client, or bytes wait below the mark: not stalled */
		return;
	}
	fail(f, "connect_failed", f->head_seen ? "upstream stalled in the middle of its answer" : "upstream timed out");
}

/* ---- dialing -------------------------------------------------------------- */

/* TLS over raw: a filter rather than a socket bufferevent, because a
 * socket one reads its socket twice per TLS record (header, then body)
 * and hands each record to its reader on a turn of the loop of its own;
 * over a socket bufferevent that reads CX_CHUNK at once, the filter
 * decrypts every record that came and calls its reader once. */
static struct bufferevent *tls_over(struct px_fetch *f, struct bufferevent *raw)
{
	SSL *ssl;

	if (px_cache_client_ctx(f->pc) < 0 || !(ssl = SSL_new(f->pc->client_ctx))) {
		bufferevent_free(raw);
		return NULL;
	}
	SSL_set_tlsext_host_name(ssl, f->host);
	SSL_set1_host(ssl, f->host);
	return px_tls_filter(f->pc->base, raw, ssl, BUFFEREVENT_SSL_CONNECTING); /* frees both when it fails */
}

static struct bufferevent *dial(struct px_fetch *f, const struct addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(a, f->port, &ss);
	struct bufferevent *b = bufferevent_socket_new(f->pc->base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (!b)
		return NULL;
	if (bufferevent_socket_connect(b, (struct sockaddr *)&ss, (int)len) < 0) {
		bufferevent_free(b);
		return NULL;
	}
	/* libevent reads 16 KiB a turn unless told: a turn per TLS record */
	bufferevent_set_max_single_read(b, CX_CHUNK);
	return f->tls ? tls_over(f, b) : b;
}

/* fresh: f->up is still connecting; the timer (connect_timeout_s) runs
 * until it connects. A kept connection is connected already: no timer, or
 * it would cut a body that takes longer than that. */
static void send_request(struct px_fetch *f, bool fresh)
{
	struct evbuffer *copy = evbuffer_new();
	struct timeval tv = { f->srv->cfg.connect_timeout_s ? f->srv->cfg.connect_timeout_s : 10, 0 };

	bufferevent_setcb(f->up, up_read_cb, NULL, up_event_cb, f);
	bufferevent_enable(f->up, EV_READ | EV_WRITE);
	/* kept whole for a retry on a fresh connection */
	if (copy) {
		evbuffer_add(copy, evbuffer_pullup(f->req, -1), evbuffer_get_length(f->req));
		bufferevent_write_buffer(f->up, copy);
		evbuffer_free(copy);
	}
	if (fresh)
		evtimer_add(f->timer, &tv);
	else
		arm_idle(f); /* a kept connection is up: only its silence counts */
}

static void fetch_try(struct px_fetch *f)
{
	if (!f->pooled && (f->up = pool_take(f))) {
		f->pooled = true;
		send_request(f, false);
		return;
	}
	while (f->next_addr < f->naddrs) {
		const struct addr *a = &f->addrs[f->next_addr++];
		addr_format(a, f->remote, sizeof(f->remote));
		f->up_addr = *a;
		if ((f->up = dial(f, a))) {
			send_request(f, true);
			return;
		}
	}
	fail_dial(f);
}

static void resolved_cb(const struct rsv_result *res, void *arg)
{
	struct px_fetch *f = arg;
	const struct addr *first_blocked;

	f->query = NULL;
	if (res->status < 0) {
		fail(f, "resolve_failed", "the registry's name did not resolve");
		return;
	}
	f->naddrs = pol_vet(f->pol, res->addrs, res->naddrs, f->port, f->addrs, &first_blocked);
	if (f->naddrs == 0) {
		fail(f, first_blocked ? "blocked_address" : "resolve_failed",
		     first_blocked ? "the registry resolved only to blocked addresses" : "no address");
		return;
	}
	f->next_addr = 0;
	f->pooled = true; /* the pool was tried first; dial now */
	fetch_try(f);
}

static void lookup(struct px_fetch *f)
{
	struct rsv_result now;
	struct bufferevent *b = pool_take(f);

	if (b) { /* a kept connection needs no lookup */
		f->up = b;
		f->pooled = true;
		send_request(f, false);
		return;
	}
	int rc = rsv_lookup(f->srv->cfg.rsv, f->host, &now, resolved_cb, f, &f->query);
	if (rc == 1)
		resolved_cb(&now, f);
	else if (rc < 0)
		fail(f, "resolve_failed", "resolver unavailable");
}

/* ---- starting ------------------------------------------------------------ */

static void build(struct px_fetch *f, const struct px_creq *q, const struct cache_entry *cond)
{
	const char *m = q->store_ok ? (q->head_only ? "GET" : q->method) : q->method;

	snprintf(f->method, sizeof(f->method), "%s", m);
	evbuffer_add_printf(f->req, "%s %s HTTP/1.1\r\nHost: %s\r\n", m, q->target, f->host);
	if (q->store_ok) {
		/* what the key names, exactly: the stored bytes are that representation */
		evbuffer_add_printf(f->req, "Accept-Encoding: %s\r\n", q->gzip ? "gzip" : "identity");
		if (cond && cond->etag[0])
			evbuffer_add_printf(f->req, "If-None-Match: %s\r\n", cond->etag);
		if (cond && cond->last_modified[0])
			evbuffer_add_printf(f->req, "If-Modified-Since: %s\r\n", cond->last_modified);
	}
}

static struct px_fetch *find_shared(struct px_cache *pc, const char *key)
{
	struct px_fetch *f;

	LIST_FOREACH(f, &pc->fetches, link)
		if (strcmp(f->key, key) == 0 && !f->failed && !f->done)
			return f;
	return NULL;
}

/* The store's hit and miss counters: once per request, however often it
 * starts a fetch (a pass-through answer sends its followers to ask again). */
static void count_once(struct px_creq *q, bool hit)
{
	if (!q->counted)
		px_cache_count(q->cx->pc, hit);
	q->counted = true;
}

static void follow(struct px_fetch *f, struct px_creq *q)
{
	q->f = f;
	LIST_INSERT_HEAD(&f->followers, q, flink);
	f->nfollowers++;
}

int px_fetch_start(struct px_creq *q, const struct cache_entry *cond, const char *headers)
{
	struct px_cache *pc = q->cx->pc;
	struct px_fetch *f = q->store_ok && !cond ? find_shared(pc, q->key) : NULL;

	if (f && !f->through) {
		/* the whole body is in, verified, and being committed: served from
		 * the file without upstream, as the stored entry it is becoming */
		if (f->body_complete)
			q->cache = "hit";
		count_once(q, f->body_complete);
		follow(f, q);
		if (f->body_complete)
			px_creq_fetch_news(q); /* no more news comes before the commit returns: at once */
		return 0;
	}
	if (q->store_ok && !cond)
		count_once(q, false);
	if (!(f = calloc(1, sizeof(*f))))
		return -ENOMEM;
	f->pc = pc;
	f->srv = q->cx->srv;
	f->pol = pol_ref(q->cx->pol);
	f->rfd = -1;
	f->spool = -1;
	f->store = q->store_ok;
	f->through = !q->store_ok;
	snprintf(f->key, sizeof(f->key), "%s", q->key);
	snprintf(f->e.package, sizeof(f->e.package), "%s", q->package);
	snprintf(f->path, sizeof(f->path), "%.*s", (int)q->path.len, q->path.p);
	snprintf(f->host, sizeof(f->host), "%s", q->cx->host.text);
	f->port = q->cx->port;
	f->tls = q->cx->tls;
	f->verify = q->store_ok && cache_expect_find(pc->expect, f->host, q->path, &f->want);
	px_lowat_init(&f->lowat);
	f->req = evbuffer_new();
	f->mem = evbuffer_new();
	f->timer = evtimer_new(pc->base, timer_cb, f);
	if (!f->req || !f->mem || !f->timer) {
		fetch_free(f);
		return -ENOMEM;
	}
	build(f, q, cond);
	evbuffer_add(f->req, headers, strlen(headers));
	evbuffer_add(f->req, "\r\n", 2);
	if (q->body)
		evbuffer_add_buffer(f->req, q->body);
	if (f->store && !cond) {
		f->shared = true;
		LIST_INSERT_HEAD(&pc->fetches, f, link);
	}
	follow(f, q);
	lookup(f);
	return 0;
}

void px_fetch_leave(struct px_creq *q)
{
	struct px_fetch *f = q->f;

	if (!f)
		return;
	LIST_REMOVE(q, flink);
	f->nfollowers--;
	q->f = NULL;
	maybe_free(f);
}
