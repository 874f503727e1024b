/* resolve.c: c-ares driven by libevent, with a TTL cache.
 *
 * c-ares tells us which sockets it wants watched (sock_state_cb); each gets a
 * persistent libevent event, and one timer follows ares_timeout(). The cache
 * is a hash table with a FIFO for eviction: when full, the oldest entry goes.
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

#include "host.h"

#define CACHE_BUCKETS 1024

struct fdwatch {
	LIST_ENTRY(fdwatch) link;
	struct rsv *r;
	ares_socket_t fd;
	struct event *ev;
};

struct centry {
	LIST_ENTRY(centry) chain;
	TAILQ_ENTRY(centry) age;
	time_t expires;
	struct rsv_result res;
	char name[HOST_NAME_LEN + 1];
};

struct rsv_query {
	struct rsv *r;
	bool in_call;          /* inside ares_getaddrinfo(): answer synchronously */
	bool done;
	struct rsv_result sync_res;
	rsv_cb cb;
	void *arg;
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
	uint32_t ttl_floor, ttl_ceiling;
};

static unsigned hash_name(const char *s)
{
	unsigned h = 2166136261u;

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

static struct centry *cache_find(struct rsv *r, const char *name)
{
	struct centry *e;

	LIST_FOREACH(e, &r->buckets[hash_name(name)], chain) {
		if (strcmp(e->name, name) != 0)
			continue;
		if (e->expires > now_s())
			return e;
		cache_drop(r, e);
		return NULL;
	}
	return NULL;
}

static void cache_put(struct rsv *r, const char *name, const struct rsv_result *res)
{
	struct centry *e = cache_find(r, name);

	if (e)
		cache_drop(r, e);
	while (r->ncache >= r->cache_max && !TAILQ_EMPTY(&r->fifo))
		cache_drop(r, TAILQ_FIRST(&r->fifo));
	e = calloc(1, sizeof(*e));
	if (!e)
		return; /* the cache is an optimisation: skip it under memory pressure */
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->res = *res;
	e->expires = now_s() + res->ttl;
	LIST_INSERT_HEAD(&r->buckets[hash_name(name)], e, chain);
	TAILQ_INSERT_TAIL(&r->fifo, e, age);
	r->ncache++;
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

static void fill_result(struct rsv *r, const struct ares_addrinfo *ai, struct rsv_result *res)
{
	uint32_t ttl = UINT32_MAX;

	for (const struct ares_addrinfo_node *n = ai->nodes; n && res->naddrs < RSV_MAX_ADDRS;
	     n = n->ai_next) {
		struct addr a;
		if (addr_from_sockaddr(n->ai_addr, &a, NULL) < 0)
			continue;
		res->addrs[res->naddrs++] = a;
		if (n->ai_ttl >= 0 && (uint32_t)n->ai_ttl < ttl)
			ttl = (uint32_t)n->ai_ttl;
	}
	for (const struct ares_addrinfo_cname *c = ai->cnames; c; c = c->next)
		if (c->ttl >= 0 && (uint32_t)c->ttl < ttl)
			ttl = (uint32_t)c->ttl;
	res->ttl = clamp_ttl(r, ttl);
	res->status = res->naddrs ? 0 : -ENOENT;
}

static int map_status(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
	case ARES_ENONAME:
		return -ENOENT;
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

static void addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct rsv_query *q = arg;
	struct rsv_result res;

	(void)timeouts;
	memset(&res, 0, sizeof(res));
	if (status == ARES_SUCCESS && ai) {
		fill_result(q->r, ai, &res);
		if (res.status == 0)
			cache_put(q->r, q->name, &res);
	} else {
		res.status = map_status(status);
	}
	if (ai)
		ares_freeaddrinfo(ai);
	if (q->in_call) {
		q->sync_res = res;
		q->done = true;
		return;
	}
	if (q->cb && status != ARES_EDESTRUCTION && status != ARES_ECANCELLED)
		q->cb(&res, q->arg);
	free(q);
}

int rsv_lookup(struct rsv *r, const char *name, struct rsv_result *now, rsv_cb cb, void *arg,
	       struct rsv_query **out)
{
	struct centry *e = cache_find(r, name);

	if (e) {
		*now = e->res;
		return 1;
	}
	struct rsv_query *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	snprintf(q->name, sizeof(q->name), "%s", name);
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT };
	q->in_call = true;
	ares_getaddrinfo(r->channel, name, NULL, &hints, addrinfo_cb, q);
	q->in_call = false;
	if (q->done) {
		*now = q->sync_res;
		free(q);
		return 1;
	}
	*out = q;
	reschedule(r);
	return 0;
}

void rsv_cancel(struct rsv_query *q)
{
	if (q)
		q->cb = NULL;
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
