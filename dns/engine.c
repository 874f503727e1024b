/* engine.c: the stub's client for a container engine's own resolver:
 * Docker's embedded DNS (127.0.0.11), asked over a UDP socket that was made
 * inside the container's namespace and connected there (sandbox/attach.c).
 * It knows what no other resolver does: the names of the containers,
 * services and aliases on the container's networks, all single-label.
 *
 * The stub asks it only for names the policy allows, and the answer goes
 * through the same filter as any other (blocked addresses out unless
 * allow_private lifts them). Each query is built fresh from the canonical
 * name and type, with a random ID; a reply counts only with that ID and
 * that question. Answers are per container: they never enter the shared
 * resolver cache. Bounded: ENGINE_PENDING queries in flight; one more is
 * refused with -EAGAIN, as a full resolver refuses it.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns_int.h"

#define ENGINE_PENDING 64
#define ENGINE_RETRY_MS 1000 /* UDP on the namespace's loopback: a loss is rare, one retry */
#define ENGINE_TRIES 3
#define ENGINE_TTL_FLOOR 5   /* as the resolver cache's defaults */
#define ENGINE_TTL_CEILING 3600
#define ENGINE_REPLY_MAX 4096
#define ENGINE_QUERY_MAX (DNSW_HEADER_LEN + DNSW_NAME_MAX + 4)

struct dns_engine_query {
	struct dns_engine *e;
	bool used;
	int tries;
	struct event *timer;
	uint8_t msg[ENGINE_QUERY_MAX];
	size_t len;
	rsv_answer_cb cb;
	void *arg;
};

struct dns_engine {
	int fd;
	struct event *ev;
	struct dns_engine_query q[ENGINE_PENDING];
	uint8_t in[ENGINE_REPLY_MAX];
	uint8_t rrs[ENGINE_REPLY_MAX];
};

size_t dns_engine_build(const char *name, uint16_t qtype, uint16_t id, uint8_t *buf, size_t cap)
{
	struct dnsw_writer w = { .buf = buf, .cap = cap };
	struct dnsw_header h = { .id = id, .flags = DNSW_RD, .qdcount = 1 };
	size_t n = strlen(name);

	if (n == 0 || n > HOST_NAME_LEN)
		return 0;
	dnsw_put_header(&w, &h);
	for (const char *p = name; *p;) {
		size_t l = strcspn(p, ".");
		if (l == 0 || l > 63)
			return 0;
		uint8_t len = (uint8_t)l;
		dnsw_put_bytes(&w, &len, 1);
		dnsw_put_bytes(&w, p, l);
		p += l + (p[l] == '.');
	}
	dnsw_put_bytes(&w, "", 1);
	dnsw_put16(&w, qtype);
	dnsw_put16(&w, DNSW_CLASS_IN);
	return w.overflow ? 0 : w.len;
}

/* Whether two wire names are the same name (ASCII case aside). */
static bool same_name(const struct dnsw_name *a, const struct dnsw_name *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++) {
		uint8_t x = a->wire[i], y = b->wire[i];
		if (x != y && !(x >= 'A' && x <= 'Z' && x + 32 == y) && !(y >= 'A' && y <= 'Z' && y + 32 == x))
			return false;
	}
	return true;
}

int dns_engine_reply(struct span msg, struct span query, uint8_t *out, size_t cap, struct dnsw_reply *r)
{
	struct dnsw_header h, qh;
	struct dnsw_name name, qname;
	size_t off = DNSW_HEADER_LEN, qoff = DNSW_HEADER_LEN;

	memset(r, 0, sizeof(*r));
	if (dnsw_read_header(msg, &h) < 0 || dnsw_read_header(query, &qh) < 0 ||
	    dnsw_read_name(query, &qoff, &qname) < 0 || qoff + 4 > query.len)
		return -EBADMSG;
	if (h.id != qh.id || !(h.flags & DNSW_QR) || h.qdcount != 1)
		return -ESRCH;
	if (dnsw_read_name(msg, &off, &name) < 0 || off + 4 > msg.len)
		return -EBADMSG;
	/* the question's type and class as asked, byte for byte */
	if (!same_name(&name, &qname) || memcmp(msg.p + off, query.p + qoff, 4) != 0)
		return -ESRCH;
	return dnsw_normalize_reply(msg, out, cap, r);
}

static void finish(struct dns_engine_query *q, const struct rsv_answer *a)
{
	rsv_answer_cb cb = q->cb;
	void *arg = q->arg;

	q->used = false;
	evtimer_del(q->timer);
	cb(a, arg); /* last: it may ask again, into this slot */
}

static void fail(struct dns_engine_query *q, int status)
{
	struct rsv_answer a = { .status = status };

	finish(q, &a);
}

static void send_query(struct dns_engine_query *q)
{
	struct timeval tv = { ENGINE_RETRY_MS / 1000, (ENGINE_RETRY_MS % 1000) * 1000 };

	q->tries++;
	/* a full socket buffer is as a lost datagram: the timer retries */
	(void)send(q->e->fd, q->msg, q->len, MSG_DONTWAIT);
	evtimer_add(q->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_engine_query *q = arg;

	(void)fd;
	(void)what;
	if (q->tries < ENGINE_TRIES)
		send_query(q);
	else
		fail(q, -ETIMEDOUT);
}

static uint32_t clamp(uint32_t ttl)
{
	if (ttl == UINT32_MAX || ttl < ENGINE_TTL_FLOOR)
		return ENGINE_TTL_FLOOR;
	return ttl > ENGINE_TTL_CEILING ? ENGINE_TTL_CEILING : ttl;
}

/* One datagram: the pending query it answers, if any. */
static void take_reply(struct dns_engine *e, size_t len)
{
	struct span msg = span_of((const char *)e->in, len);
	struct dnsw_reply r;

	for (size_t i = 0; i < ENGINE_PENDING; i++) {
		struct dns_engine_query *q = &e->q[i];
		if (!q->used)
			continue;
		int rc = dns_engine_reply(msg, span_of((const char *)q->msg, q->len), e->rrs, sizeof(e->rrs), &r);
		if (rc == -ESRCH)
			continue;
		if (rc == -EBADMSG)
			return; /* not an answer: the query waits for a good one, or times out */
		struct rsv_answer a = { .status = rc < 0 ? -EIO : 0, .rcode = r.rcode, .ttl = clamp(r.ttl),
					.nanswer = r.nanswer, .nauthority = r.nauthority, .rrs = e->rrs, .len = r.len };
		finish(q, &a);
		return;
	}
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_engine *e = arg;

	(void)what;
	for (int n = 0; n < 32; n++) {
		ssize_t len = recv(fd, e->in, sizeof(e->in), MSG_DONTWAIT | MSG_TRUNC);
		if (len < 0 && errno == ECONNREFUSED) {
			/* nothing listens there (not Docker's DNS after all): no reply will come */
			for (size_t i = 0; i < ENGINE_PENDING; i++)
				if (e->q[i].used)
					fail(&e->q[i], -EIO);
			continue;
		}
		if (len < 0)
			return;
		if ((size_t)len <= sizeof(e->in))
			take_reply(e, (size_t)len);
	}
}

int dns_engine_new(struct event_base *base, int fd, struct dns_engine **out)
{
	struct dns_engine *e = calloc(1, sizeof(*e));

	*out = NULL;
	if (!e) {
		close(fd);
		return -ENOMEM;
	}
	e->fd = fd;
	e->ev = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, e);
	for (size_t i = 0; i < ENGINE_PENDING; i++) {
		e->q[i].e = e;
		e->q[i].timer = evtimer_new(base, timer_cb, &e->q[i]);
		if (!e->q[i].timer)
			break;
	}
	if (!e->ev || !e->q[ENGINE_PENDING - 1].timer || event_add(e->ev, NULL) < 0) {
		dns_engine_free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

void dns_engine_free(struct dns_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < ENGINE_PENDING; i++)
		if (e->q[i].timer)
			event_free(e->q[i].timer);
	if (e->ev)
		event_free(e->ev);
	close(e->fd);
	free(e);
}

/* The name and type a pending query asks (the message's question). */
static bool asks(const struct dns_engine_query *q, const uint8_t *msg, size_t len)
{
	return q->used && q->len == len && memcmp(q->msg + 2, msg + 2, len - 2) == 0;
}

bool dns_engine_busy(const struct dns_engine *e, const char *name, uint16_t qtype)
{
	uint8_t msg[ENGINE_QUERY_MAX];
	size_t len = dns_engine_build(name, qtype, 0, msg, sizeof(msg));

	for (size_t i = 0; len && i < ENGINE_PENDING; i++)
		if (asks(&e->q[i], msg, len))
			return true;
	return false;
}

int dns_engine_query(struct dns_engine *e, const char *name, uint16_t qtype, rsv_answer_cb cb, void *arg,
		     struct dns_engine_query **out)
{
	struct dns_engine_query *q = NULL;
	uint16_t id;

	for (size_t i = 0; !q && i < ENGINE_PENDING; i++)
		if (!e->q[i].used)
			q = &e->q[i];
	if (!q)
		return -EAGAIN;
	evutil_secure_rng_get_bytes(&id, sizeof(id));
	q->len = dns_engine_build(name, qtype, id, q->msg, sizeof(q->msg));
	if (q->len == 0)
		return -EINVAL;
	q->used = true;
	q->tries = 0;
	q->cb = cb;
	q->arg = arg;
	send_query(q);
	*out = q;
	return 0;
}

void dns_engine_cancel(struct dns_engine_query *q)
{
	if (q && q->used) {
		q->used = false;
		evtimer_del(q->timer);
	}
}
