/* engine.c: the client for a container engine's own resolver (see
 * engine.h): Docker's embedded DNS (127.0.0.11), asked over a UDP socket
 * that was made inside the container's namespace and connected there.
 *
 * The stub and the proxy ask it only for names the policy allows, and the
 * answer goes through the same filter as any other (blocked addresses out
 * unless allow_private lifts them): theirs, not this file's. Each query is
 * built fresh from the canonical name and type, with a random ID; a reply
 * counts only with that ID and that question. Answers are per container:
 * they never enter the shared resolver cache. Bounded: ENGINE_PENDING
 * queries in flight; one more is refused with -EAGAIN, as a full resolver
 * refuses it. The proxy's address lookups (an A and an AAAA query each)
 * are at most ENGINE_LOOKUPS, so they never take more than half the query
 * slots: the stub keeps the rest.
 *
 * The ID and the question do not make a reply Docker's. The socket is on
 * the container's loopback, and the container's root holds CAP_NET_RAW
 * (Docker's default): a packet socket on `lo` shows it each query, ID and
 * port included, and a raw socket sends the reply from Docker's listener,
 * which conntrack hands to this socket as 127.0.0.11:53's. Measured
 * (container_test.sh, engine_spoof.py): such a reply beat Docker's own to
 * most lookups. No ID, port or 0x20 scheme helps against a reader of the
 * wire. What a forger can choose is bounded instead: an answer's
 * addresses count only when they are on one of the container's own
 * networks (the prefixes of its interfaces' addresses, read through an
 * rtnetlink socket made in its namespace at each answer, so a network
 * connected later counts) -- where Docker's names live -- and are not the
 * host's own (a network's gateway: the proxy, on the host, would dial the
 * host itself; asked of this process's routing table). Any other address
 * record is taken out and reported (rsv_answer's nrefused: the stub and
 * the proxy refuse it as blocked_address), and so is every SVCB/HTTPS
 * record, whose hints would be addresses too.
 */
#include <errno.h>
#include <event2/event.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"

#include "host.h"
#include "log.h"

#define ENGINE_PENDING 64
#define ENGINE_LOOKUPS 16 /* two queries each */
#define ENGINE_RETRY_MS 1000 /* UDP on the namespace's loopback: a loss is rare, one retry */
#define ENGINE_TRIES 3
#define ENGINE_TTL_FLOOR 5   /* as the resolver cache's defaults */
#define ENGINE_TTL_CEILING 3600
#define ENGINE_REPLY_MAX 4096
#define ENGINE_QUERY_MAX (DNSW_HEADER_LEN + DNSW_NAME_MAX + 4)
#define ENGINE_NETS 32 /* the container's prefixes looked at; beyond them, none counts */
#define ENGINE_NL_BUF 16384

struct eng_query {
	struct eng *e;
	bool used;
	int tries;
	struct event *timer;
	uint8_t msg[ENGINE_QUERY_MAX];
	size_t len;
	rsv_answer_cb cb;
	void *arg;
	char name[HOST_NAME_LEN + 1];
};

/* A proxy's address lookup: its A and AAAA queries, gathered. */
struct eng_lookup {
	struct eng *e;
	bool used;
	int pending;            /* queries still in flight */
	struct eng_query *q[2]; /* NULL once answered */
	struct rsv_gather got;
	rsv_cb cb;
	void *arg;
};

struct eng {
	int fd;
	int rt;             /* rtnetlink in the container's namespace, or -1 */
	int own;            /* rtnetlink in this process's namespace (the host's), or -1 */
	uint32_t seq;
	struct event *ev;
	struct eng_query q[ENGINE_PENDING];
	struct eng_lookup l[ENGINE_LOOKUPS];
	uint8_t in[ENGINE_REPLY_MAX];
	uint8_t rrs[ENGINE_REPLY_MAX];
	uint8_t kept[ENGINE_REPLY_MAX];
	struct addr_cidr nets[ENGINE_NETS];
	size_t nnets;
	struct log_limit said;
	uint32_t nl[ENGINE_NL_BUF / 4]; /* aligned for struct nlmsghdr */
};

size_t eng_build(const char *name, uint16_t qtype, uint16_t id, uint8_t *buf, size_t cap)
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

int eng_reply(struct span msg, struct span query, uint8_t *out, size_t cap, struct dnsw_reply *r)
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
	if (h.flags & DNSW_TC) {
		/* Docker truncates by dropping whole records (a service with
		 * more replicas than fit in 512 bytes): the ones sent are an
		 * answer (a record cut short still fails to parse) */
		uint8_t plain[ENGINE_REPLY_MAX];
		if (msg.len > sizeof(plain))
			return -EBADMSG;
		memcpy(plain, msg.p, msg.len);
		plain[2] &= (uint8_t)~(DNSW_TC >> 8);
		return dnsw_normalize_reply(span_of((const char *)plain, msg.len), out, cap, r);
	}
	return dnsw_normalize_reply(msg, out, cap, r);
}

static void finish(struct eng_query *q, const struct rsv_answer *a)
{
	rsv_answer_cb cb = q->cb;
	void *arg = q->arg;

	q->used = false;
	evtimer_del(q->timer);
	cb(a, arg); /* last: it may ask again, into this slot */
}

static void fail(struct eng_query *q, int status)
{
	struct rsv_answer a = { .status = status };

	finish(q, &a);
}

static void send_query(struct eng_query *q)
{
	struct timeval tv = { ENGINE_RETRY_MS / 1000, (ENGINE_RETRY_MS % 1000) * 1000 };

	q->tries++;
	/* a full socket buffer is as a lost datagram: the timer retries */
	(void)send(q->e->fd, q->msg, q->len, MSG_DONTWAIT);
	evtimer_add(q->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng_query *q = arg;

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

/* ---- the container's networks --------------------------------------------- */

/* One RTM_NEWADDR: its prefix, unless host- or link-scoped (loopback's,
 * fe80::/64: no engine name lives there). */
static void add_net(struct eng *e, const struct nlmsghdr *h)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	int len = (int)IFA_PAYLOAD(h);

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) || ifa->ifa_scope >= RT_SCOPE_LINK || e->nnets == ENGINE_NETS)
		return;
	for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		struct addr_cidr *c = &e->nets[e->nnets];
		size_t n = RTA_PAYLOAD(a);
		if (a->rta_type != IFA_ADDRESS)
			continue;
		memset(c, 0, sizeof(*c));
		if (ifa->ifa_family == AF_INET && n == 4 && ifa->ifa_prefixlen <= 32) {
			c->base.family = AF_INET;
			memcpy(&c->base.v4, RTA_DATA(a), 4);
		} else if (ifa->ifa_family == AF_INET6 && n == 16 && ifa->ifa_prefixlen <= 128) {
			c->base.family = AF_INET6;
			memcpy(&c->base.v6, RTA_DATA(a), 16);
		} else {
			return;
		}
		c->prefix = ifa->ifa_prefixlen;
		e->nnets++;
		return;
	}
}

/* Read the container's networks into e->nets (a dump of its addresses, a
 * few interfaces' worth, answered at once by the kernel). false when they
 * cannot be read: then no address counts. */
static bool read_nets(struct eng *e)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg ifa;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETADDR,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = ++e->seq },
		  .ifa = { .ifa_family = AF_UNSPEC } };

	e->nnets = 0;
	if (e->rt < 0 || send(e->rt, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		return false;
	for (;;) {
		ssize_t got = recv(e->rt, e->nl, sizeof(e->nl), 0);
		if (got <= 0)
			return false;
		for (size_t off = 0, len = (size_t)got; off + sizeof(struct nlmsghdr) <= len;) {
			const struct nlmsghdr *h = (const struct nlmsghdr *)((const uint8_t *)e->nl + off);
			if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > len - off)
				return false;
			off += NLMSG_ALIGN(h->nlmsg_len);
			if (h->nlmsg_seq != e->seq)
				continue; /* an earlier dump's tail */
			if (h->nlmsg_type == NLMSG_DONE)
				return true;
			if (h->nlmsg_type == NLMSG_ERROR)
				return false;
			if (h->nlmsg_type == RTM_NEWADDR)
				add_net(e, h);
		}
	}
}

/* Whether x is an address of this process's own namespace (the host's:
 * the network's gateway, on the bridge) as its routing table says, or
 * cannot say. A Docker name never stands for one, and the proxy would
 * dial it here, on the host. */
static bool host_local(struct eng *e, const struct addr *x)
{
	struct {
		struct nlmsghdr h;
		struct rtmsg r;
		struct rtattr a;
		uint8_t dst[16];
	} req = { .h = { .nlmsg_type = RTM_GETROUTE, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = ++e->seq },
		  .r = { .rtm_family = (uint8_t)x->family } };
	size_t n = x->family == AF_INET ? 4 : 16;

	memcpy(req.dst, x->family == AF_INET ? (const void *)&x->v4 : (const void *)&x->v6, n);
	req.r.rtm_dst_len = (uint8_t)(n * 8);
	req.a = (struct rtattr){ .rta_len = (unsigned short)RTA_LENGTH(n), .rta_type = RTA_DST };
	req.h.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(req.r)) + RTA_LENGTH(n));
	if (e->own < 0 || send(e->own, &req, req.h.nlmsg_len, 0) != (ssize_t)req.h.nlmsg_len)
		return true;
	for (;;) {
		ssize_t got = recv(e->own, e->nl, sizeof(e->nl), 0);
		const struct nlmsghdr *h = (const struct nlmsghdr *)e->nl;
		if (got < (ssize_t)sizeof(*h) || h->nlmsg_len > (size_t)got)
			return true;
		if (h->nlmsg_seq != e->seq)
			continue; /* an earlier question's answer */
		if (h->nlmsg_type == NLMSG_ERROR)
			return false; /* no route: nowhere, surely not here */
		if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
			return true;
		return ((const struct rtmsg *)NLMSG_DATA(h))->rtm_type == RTN_LOCAL;
	}
}

static bool on_nets(const struct eng *e, const struct addr *x)
{
	for (size_t i = 0; i < e->nnets; i++)
		if (addr_in_cidr(x, &e->nets[i]))
			return true;
	return false;
}

static void refuse(struct eng *e, const struct eng_query *q, struct rsv_answer *a, const struct addr *x)
{
	char text[ADDR_TEXT_MAX];

	if (a->nrefused++ == 0)
		a->refused = *x;
	if (!log_limit_pass(&e->said, q->name, 10000))
		return;
	addr_format(x, text, sizeof(text));
	log_msg("engine: %s: an answer for it from Docker's DNS gives %s, on none of the container's networks "
		"or the host's own: refused (a forged reply from inside the container, or an outside server's answer "
		"to a single-label name; name such a host in full)", q->name, text);
}

/* The reply's records (e->rrs, r) that a has: all but the address records
 * on none of the container's networks or on the host itself (counted in
 * a->nrefused) and the SVCB/HTTPS ones, copied to e->kept. */
static void screen(struct eng *e, const struct eng_query *q, const struct dnsw_reply *r, struct rsv_answer *a)
{
	struct span blob = span_of((const char *)e->rrs, r->len);
	struct dnsw_writer w = { .buf = e->kept, .cap = sizeof(e->kept) };
	struct dnsw_rr rr;
	size_t off = 0, start;
	int nets = -1; /* not read yet */

	a->nanswer = a->nauthority = 0;
	for (unsigned i = 0; i < (unsigned)r->nanswer + r->nauthority &&
			     (start = off, dnsw_read_rr(blob, &off, &rr) == 0); i++) {
		struct addr x;
		if (rr.type == DNSW_T_SVCB || rr.type == DNSW_T_HTTPS)
			continue;
		if (dnsw_rr_addr(blob, &rr, &x)) {
			if (nets < 0)
				nets = read_nets(e);
			if (!nets || !on_nets(e, &x) || host_local(e, &x)) {
				refuse(e, q, a, &x);
				continue;
			}
		}
		dnsw_put_bytes(&w, blob.p + start, off - start);
		if (i < r->nanswer)
			a->nanswer++;
		else
			a->nauthority++;
	}
	a->rrs = e->kept;
	a->len = w.len; /* no overflow: it holds a part of rrs */
}

/* One datagram: the pending query it answers, if any. */
static void take_reply(struct eng *e, size_t len)
{
	struct span msg = span_of((const char *)e->in, len);
	struct dnsw_reply r;

	for (size_t i = 0; i < ENGINE_PENDING; i++) {
		struct eng_query *q = &e->q[i];
		if (!q->used)
			continue;
		int rc = eng_reply(msg, span_of((const char *)q->msg, q->len), e->rrs, sizeof(e->rrs), &r);
		if (rc == -ESRCH)
			continue;
		if (rc == -EBADMSG)
			return; /* not an answer: the query waits for a good one, or times out */
		struct rsv_answer a = { .status = rc < 0 ? -EIO : 0, .rcode = r.rcode, .ttl = clamp(r.ttl) };
		if (rc == 0)
			screen(e, q, &r, &a);
		finish(q, &a);
		return;
	}
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;

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

int eng_new(struct event_base *base, int fd, int rt, struct eng **out)
{
	struct eng *e = calloc(1, sizeof(*e));

	*out = NULL;
	if (!e) {
		close(fd);
		if (rt >= 0)
			close(rt);
		return -ENOMEM;
	}
	e->fd = fd;
	e->rt = rt;
	e->own = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	e->ev = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, e);
	for (size_t i = 0; i < ENGINE_PENDING; i++) {
		e->q[i].e = e;
		e->q[i].timer = evtimer_new(base, timer_cb, &e->q[i]);
		if (!e->q[i].timer)
			break;
	}
	if (!e->ev || !e->q[ENGINE_PENDING - 1].timer || event_add(e->ev, NULL) < 0) {
		eng_free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

void eng_free(struct eng *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < ENGINE_PENDING; i++)
		if (e->q[i].timer)
			event_free(e->q[i].timer);
	if (e->ev)
		event_free(e->ev);
	close(e->fd);
	if (e->rt >= 0)
		close(e->rt);
	if (e->own >= 0)
		close(e->own);
	free(e);
}

/* The name and type a pending query asks (the message's question). */
static bool asks(const struct eng_query *q, const uint8_t *msg, size_t len)
{
	return q->used && q->len == len && memcmp(q->msg + 2, msg + 2, len - 2) == 0;
}

bool eng_busy(const struct eng *e, const char *name, uint16_t qtype)
{
	uint8_t msg[ENGINE_QUERY_MAX];
	size_t len = eng_build(name, qtype, 0, msg, sizeof(msg));

	for (size_t i = 0; len && i < ENGINE_PENDING; i++)
		if (asks(&e->q[i], msg, len))
			return true;
	return false;
}

int eng_query(struct eng *e, const char *name, uint16_t qtype, rsv_answer_cb cb, void *arg,
		     struct eng_query **out)
{
	struct eng_query *q = NULL;
	uint16_t id;

	for (size_t i = 0; !q && i < ENGINE_PENDING; i++)
		if (!e->q[i].used)
			q = &e->q[i];
	if (!q)
		return -EAGAIN;
	evutil_secure_rng_get_bytes(&id, sizeof(id));
	q->len = eng_build(name, qtype, id, q->msg, sizeof(q->msg));
	if (q->len == 0)
		return -EINVAL;
	snprintf(q->name, sizeof(q->name), "%s", name); /* eng_build took it: it fits */
	q->used = true;
	q->tries = 0;
	q->cb = cb;
	q->arg = arg;
	send_query(q);
	*out = q;
	return 0;
}

void eng_cancel(struct eng_query *q)
{
	if (q && q->used) {
		q->used = false;
		evtimer_del(q->timer);
	}
}

/* ---- address lookups (the proxy's) --------------------------------------- */

static void lookup_part_cb(const struct rsv_answer *a, void *arg, size_t part)
{
	struct eng_lookup *l = arg;
	struct rsv_result res;

	l->q[part] = NULL;
	rsv_gather_add(&l->got, a);
	if (--l->pending > 0)
		return;
	l->used = false;
	rsv_gather_result(&l->got, &res);
	l->cb(&res, l->arg); /* last: it may look up again, into this slot */
}

static void lookup_a_cb(const struct rsv_answer *a, void *arg)
{
	lookup_part_cb(a, arg, 0);
}

static void lookup_aaaa_cb(const struct rsv_answer *a, void *arg)
{
	lookup_part_cb(a, arg, 1);
}

int eng_lookup(struct eng *e, const char *name, rsv_cb cb, void *arg, struct eng_lookup **out)
{
	struct eng_lookup *l = NULL;
	int rc;

	for (size_t i = 0; !l && i < ENGINE_LOOKUPS; i++)
		if (!e->l[i].used)
			l = &e->l[i];
	if (!l)
		return -EAGAIN;
	memset(l, 0, sizeof(*l));
	l->e = e;
	rsv_gather_init(&l->got);
	l->cb = cb;
	l->arg = arg;
	if ((rc = eng_query(e, name, DNSW_T_A, lookup_a_cb, l, &l->q[0])) < 0)
		return rc;
	if ((rc = eng_query(e, name, DNSW_T_AAAA, lookup_aaaa_cb, l, &l->q[1])) < 0) {
		eng_cancel(l->q[0]);
		return rc;
	}
	l->used = true;
	l->pending = 2;
	*out = l;
	return 0;
}

void eng_lookup_cancel(struct eng_lookup *l)
{
	if (!l || !l->used)
		return;
	eng_cancel(l->q[0]);
	eng_cancel(l->q[1]);
	l->used = false;
}
