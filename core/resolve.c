/* resolve.c: c-ares driven by libevent, with a TTL cache of answers.
 *
 * c-ares tells us which sockets it wants watched (sock_state_cb); each gets a
 * persistent libevent event, and one timer follows ares_timeout(). Each reply
 * is normalized once (names decompressed, only answers and a negative
 * answer's SOA kept) and cached by (name, type). The cache is a hash table
 * with a FIFO for eviction: when full, the oldest entry goes.
 */
#include "resolve.h"

#include <ares.h>
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "dnswire.h"
#include "host.h"

#define CACHE_BUCKETS 1024
#define SCRATCH_LEN 65536

struct fdwatch {
	LIST_ENTRY(fdwatch) link;
	struct rsv *r;
	ares_socket_t fd;
	struct event *ev;
};

/* One cached answer; rrs as in struct rsv_answer. */
struct centry {
	LIST_ENTRY(centry) chain;
	TAILQ_ENTRY(centry) age;
	time_t expires;
	uint16_t qtype;
	uint8_t rcode;
	uint16_t nanswer, nauthority;
	size_t len;
	char name[HOST_NAME_LEN + 1];
	uint8_t rrs[];
};

/* One upstream question of a request. */
struct rsv_part {
	struct rsv_query *q;
	uint16_t qtype;
};

/* A caller's request: one type for the stub (acb), A and AAAA for the proxy (cb). */
struct rsv_query {
	struct rsv *r;
	rsv_answer_cb acb;
	rsv_cb cb;
	void *arg;
	bool in_call;        /* inside ares_query(): results are kept for the caller */
	int pending;         /* parts still in flight */
	struct rsv_answer sync;
	struct rsv_gather got; /* proxy lookups */
	struct rsv_part parts[2];
	char name[HOST_NAME_LEN + 1];
};

struct rsv {
	struct event_base *base;
	ares_channel channel;
	struct event *timer;
	LIST_HEAD(, fdwatch) watches;
	LIST_HEAD(, centry) buckets[CACHE_BUCKETS];
	TAILQ_HEAD(, centry) fifo;
	size_t ncache, cache_max;
	size_t npending, pending_max;
	uint32_t ttl_floor, ttl_ceiling;
	uint8_t scratch[SCRATCH_LEN]; /* the reply being normalized */
};

static unsigned hash_key(const char *s, uint16_t qtype)
{
	unsigned h = 2166136261u ^ qtype;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % CACHE_BUCKETS;
}

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void cache_drop(struct rsv *r, struct centry *e)
{
	LIST_REMOVE(e, chain);
	TAILQ_REMOVE(&r->fifo, e, age);
	r->ncache--;
	free(e);
}

static struct centry *cache_find(struct rsv *r, const char *name, uint16_t qtype)
{
	struct centry *e;

	LIST_FOREACH(e, &r->buckets[hash_key(name, qtype)], chain) {
		if (e->qtype != qtype || strcmp(e->name, name) != 0)
			continue;
		if (e->expires > now_s())
			return e;
		cache_drop(r, e);
		return NULL;
	}
	return NULL;
}

static void cache_put(struct rsv *r, const char *name, uint16_t qtype, const struct rsv_answer *a)
{
	struct centry *e = cache_find(r, name, qtype);

	if (e)
		cache_drop(r, e);
	while (r->ncache >= r->cache_max && !TAILQ_EMPTY(&r->fifo))
		cache_drop(r, TAILQ_FIRST(&r->fifo));
	e = malloc(sizeof(*e) + a->len);
	if (!e)
		return; /* the cache is an optimisation: skip it under memory pressure */
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->qtype = qtype;
	e->rcode = a->rcode;
	e->nanswer = a->nanswer;
	e->nauthority = a->nauthority;
	e->len = a->len;
	memcpy(e->rrs, a->rrs, a->len);
	e->expires = now_s() + a->ttl;
	LIST_INSERT_HEAD(&r->buckets[hash_key(name, qtype)], e, chain);
	TAILQ_INSERT_TAIL(&r->fifo, e, age);
	r->ncache++;
}

static void cache_answer(const struct centry *e, struct rsv_answer *a)
{
	time_t left = e->expires - now_s();

	memset(a, 0, sizeof(*a));
	a->rcode = e->rcode;
	a->ttl = left > 0 ? (uint32_t)left : 1;
	a->nanswer = e->nanswer;
	a->nauthority = e->nauthority;
	a->rrs = e->rrs;
	a->len = e->len;
}

static void reschedule(struct rsv *r)
{
	struct timeval tv, *tvp = ares_timeout(r->channel, NULL, &tv);

	if (tvp)
		evtimer_add(r->timer, tvp);
	else
		evtimer_del(r->timer);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rsv *r = arg;

	(void)fd;
	(void)what;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	reschedule(r);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fdwatch *w = arg;
	struct rsv *r = w->r;

	ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	reschedule(r);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct rsv *r = data;
	struct fdwatch *w;

	LIST_FOREACH(w, &r->watches, link)
		if (w->fd == fd)
			break;
	if (w) {
		event_free(w->ev);
		w->ev = NULL;
	}
	if (!readable && !writable) {
		if (w) {
			LIST_REMOVE(w, link);
			free(w);
		}
		return;
	}
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return; /* c-ares times the query out */
		w->r = r;
		w->fd = fd;
		LIST_INSERT_HEAD(&r->watches, w, link);
	}
	short what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	w->ev = event_new(r->base, fd, what, io_cb, w);
	if (w->ev)
		event_add(w->ev, NULL);
}

static uint32_t clamp_ttl(const struct rsv *r, uint32_t ttl)
{
	if (ttl < r->ttl_floor)
		return r->ttl_floor;
	if (ttl > r->ttl_ceiling)
		return r->ttl_ceiling;
	return ttl;
}

/* ---- upstream replies, normalized into uncompressed records ------------- */

static uint32_t min_ttl(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Normalize an upstream reply into the scratch buffer. */
static int normalize(struct rsv *r, struct span m, struct rsv_answer *a)
{
	struct dnsw_reply info;

	if (dnsw_normalize_reply(m, r->scratch, sizeof(r->scratch), &info) < 0)
		return -EIO;
	a->rcode = info.rcode;
	a->nanswer = info.nanswer;
	a->nauthority = info.nauthority;
	a->ttl = clamp_ttl(r, info.ttl == UINT32_MAX ? 0 : info.ttl);
	a->rrs = r->scratch;
	a->len = info.len;
	return 0;
}

static int map_status(int status)
{
	switch (status) {
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	case ARES_ENOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Turn what c-ares delivered into an answer, and cache it when usable. */
static void make_answer(struct rsv *r, const char *name, uint16_t qtype, int status, unsigned char *abuf,
			int alen, struct rsv_answer *a)
{
	memset(a, 0, sizeof(*a));
	bool replied = status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND;
	if (!replied || !abuf || alen <= 0) {
		a->status = map_status(status);
		return;
	}
	a->status = normalize(r, span_of((const char *)abuf, (size_t)alen), a);
	if (a->status == 0)
		cache_put(r, name, qtype, a);
}

/* ---- requests ----------------------------------------------------------- */

void rsv_gather_init(struct rsv_gather *g)
{
	memset(g, 0, sizeof(*g));
	g->ttl = UINT32_MAX;
}

void rsv_gather_add(struct rsv_gather *g, const struct rsv_answer *a)
{
	struct span blob = span_of((const char *)a->rrs, a->len);
	struct dnsw_rr rr;
	size_t off = 0;

	if (a->status < 0) {
		if (!g->err)
			g->err = a->status;
		return;
	}
	if (a->nrefused) {
		if (g->nrefused == 0)
			g->refused = a->refused;
		g->nrefused += a->nrefused;
	}
	for (unsigned i = 0; i < a->nanswer && dnsw_read_rr(blob, &off, &rr) == 0; i++) {
		struct addr x = { 0 };
		if (rr.type == DNSW_T_A && rr.rdlen == 4 && g->n4 < RSV_MAX_ADDRS) {
			x.family = AF_INET;
			memcpy(&x.v4, a->rrs + rr.rdata_off, 4);
			g->a4[g->n4++] = x;
		} else if (rr.type == DNSW_T_AAAA && rr.rdlen == 16 && g->n6 < RSV_MAX_ADDRS) {
			x.family = AF_INET6;
			memcpy(&x.v6, a->rrs + rr.rdata_off, 16);
			addr_unmap(&x);
			g->a6[g->n6++] = x;
		}
	}
	g->ttl = min_ttl(g->ttl, a->ttl);
}

void rsv_gather_result(const struct rsv_gather *g, struct rsv_result *res)
{
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < g->n4; i++)
		res->addrs[res->naddrs++] = g->a4[i];
	for (size_t i = 0; i < g->n6 && res->naddrs < RSV_MAX_ADDRS; i++)
		res->addrs[res->naddrs++] = g->a6[i];
	res->ttl = g->ttl;
	res->nrefused = g->nrefused;
	res->refused = g->refused;
	res->status = res->naddrs ? 0 : g->err ? g->err : -ENOENT;
}

static void finish(struct rsv_query *q)
{
	if (q->cb) {
		struct rsv_result res;
		rsv_gather_result(&q->got, &res);
		q->cb(&res, q->arg);
	}
	free(q);
}

static void reply_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct rsv_part *p = arg;
	struct rsv_query *q = p->q;
	struct rsv_answer a;

	(void)timeouts;
	q->r->npending--;
	if (status == ARES_EDESTRUCTION) {
		q->acb = NULL;
		q->cb = NULL;
	} else {
		make_answer(q->r, q->name, p->qtype, status, abuf, alen, &a);
		if (q->in_call)
			q->sync = a;
		else if (q->acb)
			q->acb(&a, q->arg);
		rsv_gather_add(&q->got, &a);
	}
	if (--q->pending == 0 && !q->in_call)
		finish(q);
}

static struct rsv_query *query_new(struct rsv *r, const char *name, void *arg)
{
	struct rsv_query *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->r = r;
	q->arg = arg;
	rsv_gather_init(&q->got);
	snprintf(q->name, sizeof(q->name), "%s", name);
	return q;
}

/* Send the parts of q; returns true when they all finished during the call. */
static bool send_parts(struct rsv_query *q, const uint16_t *types, size_t n)
{
	struct rsv *r = q->r;

	q->in_call = true;
	q->pending = (int)n;
	for (size_t i = 0; i < n; i++) {
		q->parts[i].q = q;
		q->parts[i].qtype = types[i];
		r->npending++;
		ares_query(r->channel, q->name, DNSW_CLASS_IN, types[i], reply_cb, &q->parts[i]);
	}
	q->in_call = false;
	reschedule(r);
	return q->pending == 0;
}

bool rsv_cached(struct rsv *r, const char *name, uint16_t qtype, struct rsv_answer *now)
{
	struct centry *e = cache_find(r, name, qtype);

	if (e)
		cache_answer(e, now);
	return e != NULL;
}

int rsv_query(struct rsv *r, const char *name, uint16_t qtype, struct rsv_answer *now, rsv_answer_cb cb,
	      void *arg, struct rsv_query **out)
{
	struct centry *e = cache_find(r, name, qtype);

	if (e) {
		cache_answer(e, now);
		return 1;
	}
	if (r->npending >= r->pending_max)
		return -EAGAIN;
	struct rsv_query *q = query_new(r, name, arg);
	if (!q)
		return -ENOMEM;
	q->acb = cb;
	if (send_parts(q, &qtype, 1)) {
		*now = q->sync;
		free(q);
		return 1;
	}
	*out = q;
	return 0;
}

int rsv_lookup(struct rsv *r, const char *name, struct rsv_result *now, rsv_cb cb, void *arg,
	       struct rsv_query **out)
{
	static const uint16_t both[2] = { DNSW_T_A, DNSW_T_AAAA };
	struct rsv_query *q = query_new(r, name, arg);
	uint16_t missing[2];
	size_t nmissing = 0;

	if (!q)
		return -ENOMEM;
	for (size_t i = 0; i < 2; i++) {
		struct centry *e = cache_find(r, name, both[i]);
		struct rsv_answer a;
		if (!e) {
			missing[nmissing++] = both[i];
			continue;
		}
		cache_answer(e, &a);
		rsv_gather_add(&q->got, &a);
	}
	if (nmissing && r->npending + nmissing > r->pending_max) {
		free(q);
		return -EAGAIN;
	}
	if (nmissing == 0 || send_parts(q, missing, nmissing)) {
		rsv_gather_result(&q->got, now);
		free(q);
		return 1;
	}
	q->cb = cb;
	*out = q;
	return 0;
}

void rsv_cancel(struct rsv_query *q)
{
	if (q) {
		q->cb = NULL;
		q->acb = NULL;
	}
}

static int init_channel(struct rsv *r, const char *servers)
{
	struct ares_options o;
	char lookups[] = "b"; /* DNS only: never /etc/hosts */
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS | ARES_OPT_FLAGS;

	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = r;
	o.lookups = lookups;
	o.domains = NULL; /* names are absolute: no search list */
	o.ndomains = 0;
	o.flags = ARES_FLAG_NOSEARCH;
	if (ares_init_options(&r->channel, &o, mask) != ARES_SUCCESS)
		return -EIO;
	if (servers && ares_set_servers_ports_csv(r->channel, servers) != ARES_SUCCESS)
		return -EINVAL;
	return 0;
}

int rsv_new(struct event_base *base, const struct rsv_opts *opts, struct rsv **out)
{
	static bool lib_ready;
	struct rsv *r;
	int rc;

	if (!lib_ready) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
			return -EIO;
		lib_ready = true;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->base = base;
	r->ttl_floor = opts && opts->ttl_floor ? opts->ttl_floor : 5;
	r->ttl_ceiling = opts && opts->ttl_ceiling ? opts->ttl_ceiling : 3600;
	r->cache_max = opts && opts->cache_max ? opts->cache_max : 4096;
	r->pending_max = opts && opts->pending_max ? opts->pending_max : 1024;
	LIST_INIT(&r->watches);
	TAILQ_INIT(&r->fifo);
	for (size_t i = 0; i < CACHE_BUCKETS; i++)
		LIST_INIT(&r->buckets[i]);
	r->timer = evtimer_new(base, timer_cb, r);
	if (!r->timer) {
		free(r);
		return -ENOMEM;
	}
	rc = init_channel(r, opts ? opts->servers : NULL);
	if (rc < 0) {
		if (r->channel)
			ares_destroy(r->channel);
		event_free(r->timer);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void rsv_free(struct rsv *r)
{
	if (!r)
		return;
	ares_destroy(r->channel); /* callbacks see ARES_EDESTRUCTION and only free */
	while (!TAILQ_EMPTY(&r->fifo))
		cache_drop(r, TAILQ_FIRST(&r->fifo));
	while (!LIST_EMPTY(&r->watches)) {
		struct fdwatch *w = LIST_FIRST(&r->watches);
		LIST_REMOVE(w, link);
		if (w->ev)
			event_free(w->ev);
		free(w);
	}
	event_free(r->timer);
	free(r);
}
