/* server.c: the stub's sockets. UDP listeners read in batches; TCP
 * connections carry length-prefixed messages, pipelined, answered in the
 * order the upstream replies. A query's life: parse → decide → answer
 * locally, from the cache, or when the upstream replies (a dns_job) → one
 * audit record. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "binding.h"
#include "dns_int.h"
#include "log.h"

#define UDP_BATCH 64 /* dnsperf with 100 in flight: 31-37 per read at 64, 18-24 at 32 */
#define UDP_QUERY_MAX 4096  /* a bigger datagram is not a query we serve: dropped */
#define UDP_ANSWER_MAX 4096
/* UDP GSO (UDP_SEGMENT): answers of one size to one peer leave as one
 * send, cut into datagrams by the kernel. Bounded so a segment fits any
 * link's MTU and a run fits one IP packet's worth of payload. */
#define GSO_SEG_MAX 1232
#define GSO_RUN_BYTES 60000

/* A cmsg carrying a UDP_SEGMENT size. */
union gso_ctl {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/* One recvmmsg(2) worth of queries and the sendmmsg(2) of their answers. */
struct udp_batch {
	struct mmsghdr in[UDP_BATCH], out[UDP_BATCH], runs[UDP_BATCH];
	struct iovec iov_in[UDP_BATCH], iov_out[UDP_BATCH];
	struct sockaddr_storage peers[UDP_BATCH];
	union gso_ctl ctl[UDP_BATCH];
	uint8_t query[UDP_BATCH][UDP_QUERY_MAX];
	uint8_t answer[UDP_BATCH][UDP_ANSWER_MAX];
	unsigned nout;
};

struct dns_tcp_listener {
	LIST_ENTRY(dns_tcp_listener) link;
	struct evconnlistener *l;
};

struct dns_server {
	struct event_base *base;
	struct dns_config cfg;
	LIST_HEAD(, dns_udp) udps;
	LIST_HEAD(, dns_tcp_listener) listeners;
	LIST_HEAD(, dns_tcp) conns;
	size_t nconns;
	TAILQ_HEAD(, dns_job) udp_jobs;
	struct log_limit hints; /* stderr: one line per denied name per second */
	struct dns_memo memo;   /* decisions under cfg.pol */
	struct udp_batch ub;
	uint8_t in[DNSW_TCP_MAX];
	uint8_t out[DNSW_TCP_MAX];
};

/* Where an answer goes: a UDP peer or a TCP connection. */
struct dns_peer {
	struct dns_udp *udp;
	const struct sockaddr_storage *addr;
	socklen_t addrlen;
	bool batch;            /* UDP: queue the answer for the batch's sendmmsg */
	struct dns_tcp *tcp;
};

void dns_config_defaults(struct dns_config *cfg)
{
	if (!cfg->max_tcp)
		cfg->max_tcp = 256;
	if (!cfg->tcp_idle_s)
		cfg->tcp_idle_s = 10;
	if (!cfg->tcp_pipeline)
		cfg->tcp_pipeline = 16;
}

/* ---- sending and logging ------------------------------------------------ */

static void send_answer(struct dns_server *srv, const struct dns_peer *to, const uint8_t *msg, size_t len)
{
	if (to->udp) {
		/* a full socket buffer drops the answer, as the network could */
		(void)sendto(to->udp->fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)to->addr, to->addrlen);
		return;
	}
	uint8_t pre[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct evbuffer *out = bufferevent_get_output(to->tcp->bev);
	evbuffer_add(out, pre, 2);
	evbuffer_add(out, msg, len);
	(void)srv;
}

static const char *decision_key(const struct dns_decision *d)
{
	if (!d->v.allow && !d->report_only)
		return "deny";
	return d->report_only ? "would_deny" : "allow";
}

static void log_query(struct dns_server *srv, const struct dnsw_query *q, const struct dns_decision *d,
		      const struct dns_kept *k, uint8_t rcode, int64_t t0)
{
	struct audit_rec r = audit_rec_init("dns", "decision");
	char tbuf[16], blocked[ADDR_TEXT_MAX], hint[512];

	r.host = q->has_question ? d->text : NULL;
	r.qtype = q->has_question ? dnsw_type_text(q->qtype, tbuf, sizeof(tbuf)) : NULL;
	r.decision = decision_key(d);
	r.reason = pol_reason_key(d->report_only ? d->v.reason : d->v.allow ? POL_ALLOWED : d->v.reason);
	r.rule = d->v.rule ? d->v.rule->text : NULL;
	r.rcode = dnsw_rcode_text(rcode);
	r.dns_ms = (long)(audit_now_ms() - t0);
	r.addrs = k && k->n ? k->addrs : NULL;
	r.naddrs = k ? k->n : 0;
	audit_write(srv->cfg.audit, &r);
	switch (d->v.allow || d->report_only ? POL_ALLOWED : d->v.reason) {
	case POL_NOT_ALLOWED:
	case POL_DENIED_BY_RULE:
	case POL_BLOCKED_ADDRESS:
	case POL_METADATA_HOST:
	case POL_IP_LITERAL:
		break;
	default:
		return; /* the record says it all; a flood of junk must not flood stderr */
	}
	if (!log_limit_pass(&srv->hints, d->text, 1000))
		return; /* a retried name: its records are in the log */
	if (k && k->blocked)
		addr_format(&k->first_blocked, blocked, sizeof(blocked));
	pol_hint(&d->v, d->text, 443, k && k->blocked ? blocked : NULL, hint, sizeof(hint));
	log_msg("dns: denied %s %s (%s): %s", r.qtype, d->text, r.reason, hint);
}

static void bind_addrs(struct dns_server *srv, const struct dns_decision *d, const struct dns_kept *k)
{
	if (!d->v.allow || k->n == 0)
		return;
	for (size_t i = 0; srv->cfg.bindings && i < k->n; i++)
		bnd_add(srv->cfg.bindings, &k->addrs[i], d->host.text, k->ttl);
	if (srv->cfg.on_bind)
		srv->cfg.on_bind(srv->cfg.bind_arg, d->host.text, k->addrs, k->n, k->ttl);
}

static size_t answer_limit(const struct dns_peer *to, const struct dnsw_query *q)
{
	if (to->tcp)
		return DNSW_TCP_MAX;
	return q->udp_size < UDP_ANSWER_MAX ? q->udp_size : UDP_ANSWER_MAX;
}

/* Answer q (from upstream answer a, or locally when a is NULL) under pol,
 * the policy it was decided under, and log it. */
static void respond(struct dns_server *srv, const struct policy *pol, const struct dns_peer *to,
		    const struct dnsw_query *q, struct dns_decision *d, const struct rsv_answer *a, int64_t t0)
{
	struct dns_kept k;
	uint8_t rcode;

	if (a && a->status < 0) {
		d->v.allow = d->report_only = false;
		d->v.reason = a->status == -EAGAIN ? POL_LIMIT : POL_RESOLVE_FAILED;
		d->v.rule = NULL;
		d->rcode = DNSW_SERVFAIL;
		a = NULL;
	}
	struct udp_batch *b = &srv->ub;
	uint8_t *buf = to->batch ? b->answer[b->nout] : srv->out;
	size_t len = dns_answer(pol, q, d, a, buf, answer_limit(to, q), &k, &rcode);
	/* the bindings first (nft_bind waits for the kernel's ACK): a client
	 * that connects as soon as it has the answer finds them in place */
	bind_addrs(srv, d, &k);
	if (to->batch) {
		struct msghdr *h = &b->out[b->nout].msg_hdr;
		b->iov_out[b->nout] = (struct iovec){ buf, len };
		*h = (struct msghdr){ .msg_name = (void *)to->addr, .msg_namelen = to->addrlen,
				      .msg_iov = &b->iov_out[b->nout], .msg_iovlen = 1 };
		b->nout++;
	} else {
		send_answer(srv, to, buf, len);
	}
	log_query(srv, q, d, &k, rcode, t0);
}

/* ---- queries ------------------------------------------------------------- */

static void tcp_job_done(struct dns_tcp *c);

static void job_free(struct dns_job *j)
{
	if (j->tcp) {
		TAILQ_REMOVE(&j->tcp->jobs, j, link);
		j->tcp->njobs--;
	} else {
		TAILQ_REMOVE(&j->srv->udp_jobs, j, link);
	}
	pol_unref(j->pol);
	free(j);
}

static void upstream_cb(const struct rsv_answer *a, void *arg)
{
	struct dns_job *j = arg;
	struct dns_peer to = { .udp = j->udp, .addr = &j->peer, .addrlen = j->peerlen, .tcp = j->tcp };
	struct dns_tcp *c = j->tcp;

	respond(j->srv, j->pol, &to, &j->q, &j->d, a, j->t0);
	job_free(j);
	if (c)
		tcp_job_done(c);
}

static struct dns_job *job_new(struct dns_server *srv, const struct dns_peer *to, const struct dnsw_query *q,
			       const struct dns_decision *d, int64_t t0)
{
	struct dns_job *j = malloc(sizeof(*j));

	if (!j)
		return NULL;
	memset(j, 0, offsetof(struct dns_job, q));
	j->srv = srv;
	j->udp = to->udp;
	if (to->udp) {
		memcpy(&j->peer, to->addr, to->addrlen);
		j->peerlen = to->addrlen;
	}
	j->tcp = to->tcp;
	j->pol = pol_ref(srv->cfg.pol);
	j->q = *q;
	j->d = *d;
	j->t0 = t0;
	j->rq = NULL;
	j->eq = NULL;
	if (j->tcp) {
		TAILQ_INSERT_TAIL(&j->tcp->jobs, j, link);
		j->tcp->njobs++;
	} else {
		TAILQ_INSERT_TAIL(&srv->udp_jobs, j, link);
	}
	return j;
}

/* Whether the engine's resolver, not the shared one, is asked for d's
 * name: a single-label name (the internet has none; the engine's are its
 * containers and services), unless the same question is waiting there
 * already. That is the engine forwarding the stub's own query, or the
 * proxy's (the client is one, engine.h), outwards (Docker passes names it
 * does not know to the servers it was given, from the container's
 * namespace, where nft brings them back here): it goes to the shared
 * resolver, or the two would ask each other until timeouts. */
static bool for_engine(const struct dns_server *srv, const struct dnsw_query *q, const struct dns_decision *d)
{
	return srv->cfg.engine && host_single_label(&d->host) &&
	       !eng_busy(srv->cfg.engine, d->host.text, q->qtype);
}

static void ask_engine(struct dns_server *srv, const struct dns_peer *to, const struct dnsw_query *q,
		       struct dns_decision *d, int64_t t0)
{
	struct rsv_answer now = { .status = -EAGAIN };
	struct dns_job *j = job_new(srv, to, q, d, t0);
	int rc = j ? eng_query(srv->cfg.engine, d->host.text, q->qtype, upstream_cb, j, &j->eq) : -EAGAIN;

	if (rc == 0)
		return;
	if (j)
		job_free(j);
	now.status = rc;
	respond(srv, srv->cfg.pol, to, q, d, &now, t0);
}

static void forward(struct dns_server *srv, const struct dns_peer *to, const struct dnsw_query *q,
		    struct dns_decision *d, int64_t t0)
{
	struct rsv_answer now;
	struct rsv_query *rq = NULL;

	if (for_engine(srv, q, d)) {
		ask_engine(srv, to, q, d, t0); /* never the shared cache: the answers are this container's */
		return;
	}
	if (rsv_cached(srv->cfg.rsv, d->host.text, q->qtype, &now)) {
		respond(srv, srv->cfg.pol, to, q, d, &now, t0);
		return;
	}
	struct dns_job *j = job_new(srv, to, q, d, t0);
	if (!j) {
		now.status = -EAGAIN;
		respond(srv, srv->cfg.pol, to, q, d, &now, t0);
		return;
	}
	int rc = rsv_query(srv->cfg.rsv, d->host.text, q->qtype, &now, upstream_cb, j, &rq);
	if (rc == 0) {
		j->rq = rq;
		return;
	}
	job_free(j);
	if (rc < 0) {
		memset(&now, 0, sizeof(now));
		now.status = rc;
	}
	respond(srv, srv->cfg.pol, to, q, d, &now, t0);
}

/* Parse, decide and answer or forward one message that arrived at t0 (ms). */
static void handle(struct dns_server *srv, const struct dns_peer *to, struct span msg, int64_t t0)
{
	struct dnsw_query q;
	struct dns_decision d;
	int rc = dnsw_parse_query(msg, &q);

	if (rc < 0)
		return; /* not a query: nothing to answer, nothing to log */
	if (rc > 0) {
		memset(&d, 0, sizeof(d));
		d.rcode = (uint8_t)rc;
		d.v.reason = POL_BAD_REQUEST;
		if (q.has_question)
			dnsw_name_text(&q.qname, d.text, sizeof(d.text));
		respond(srv, srv->cfg.pol, to, &q, &d, NULL, t0);
		return;
	}
	dns_decide_memo(&srv->memo, srv->cfg.pol, &q, &d);
	if (!audit_ok(srv->cfg.audit)) {
		d.forward = d.report_only = d.v.allow = d.hinfo = false;
		d.v.reason = POL_LIMIT;
		d.rcode = DNSW_REFUSED;
	}
	if (d.forward)
		forward(srv, to, &q, &d, t0);
	else
		respond(srv, srv->cfg.pol, to, &q, &d, NULL, t0);
}

/* ---- UDP ------------------------------------------------------------------ */

static bool same_peer(const struct msghdr *a, const struct msghdr *b)
{
	return a->msg_namelen == b->msg_namelen && memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0;
}

/* How many answers from i on can leave as one GSO send: one peer, one
 * size, except that the last may be shorter (the kernel's rule). */
static unsigned run_length(const struct udp_batch *b, unsigned i)
{
	size_t seg = b->iov_out[i].iov_len, total = seg;
	unsigned j = i + 1;

	if (seg > GSO_SEG_MAX)
		return 1;
	while (j < b->nout && same_peer(&b->out[i].msg_hdr, &b->out[j].msg_hdr)) {
		size_t len = b->iov_out[j].iov_len;
		if (len > seg || total + len > GSO_RUN_BYTES)
			break;
		total += len;
		j++;
		if (len < seg)
			break;
	}
	return j - i;
}

/* Group the batch's answers into runs in b->runs; returns how many. */
static unsigned build_runs(struct udp_batch *b)
{
	unsigned nruns = 0;

	for (unsigned i = 0, k; i < b->nout; i += k, nruns++) {
		struct msghdr *h = &b->runs[nruns].msg_hdr;
		k = run_length(b, i);
		*h = b->out[i].msg_hdr;
		h->msg_iovlen = k;
		if (k == 1)
			continue;
		uint16_t seg = (uint16_t)b->iov_out[i].iov_len;
		h->msg_control = b->ctl[nruns].buf;
		h->msg_controllen = sizeof(b->ctl[nruns].buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(h);
		*cm = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(seg)), .cmsg_level = SOL_UDP, .cmsg_type = UDP_SEGMENT };
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	}
	return nruns;
}

/* sendmmsg(2) all of m; returns how many went, stopping at the first error. */
static unsigned send_all(int fd, struct mmsghdr *m, unsigned n)
{
	unsigned sent = 0;

	while (sent < n) {
		int rc = sendmmsg(fd, m + sent, n - sent, MSG_DONTWAIT);
		if (rc <= 0)
			break;
		sent += (unsigned)rc;
	}
	return sent;
}

/* Send the batch's answers, runs to one peer as one GSO send; what the
 * socket will not take is dropped, as the network could drop it. A kernel
 * or path that refuses GSO gets the rest one by one, and from then on. */
static void udp_flush(struct dns_udp *u)
{
	struct udp_batch *b = &u->srv->ub;
	unsigned from = 0;

	if (!u->no_gso) {
		unsigned nruns = build_runs(b), sent = send_all(u->fd, b->runs, nruns);
		if (sent == nruns || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
		    b->runs[sent].msg_hdr.msg_iovlen == 1) {
			b->nout = 0;
			return;
		}
		u->no_gso = true;
		from = (unsigned)(b->runs[sent].msg_hdr.msg_iov - b->iov_out);
	}
	send_all(u->fd, b->out + from, b->nout - from);
	b->nout = 0;
}

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_udp *u = arg;
	struct udp_batch *b = &u->srv->ub;

	(void)what;
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		b->iov_in[i] = (struct iovec){ b->query[i], UDP_QUERY_MAX };
		b->in[i].msg_hdr = (struct msghdr){ .msg_name = &b->peers[i], .msg_namelen = sizeof(b->peers[i]),
						    .msg_iov = &b->iov_in[i], .msg_iovlen = 1 };
	}
	int n = recvmmsg(fd, b->in, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	int64_t t0 = audit_now_ms(); /* the whole batch was waiting when recvmmsg returned */
	audit_hold(u->srv->cfg.audit);
	for (int i = 0; i < n; i++) {
		if (b->in[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		struct dns_peer to = { .udp = u, .addr = &b->peers[i], .addrlen = b->in[i].msg_hdr.msg_namelen,
				       .batch = true };
		handle(u->srv, &to, span_of((const char *)b->query[i], b->in[i].msg_len), t0);
	}
	udp_flush(u);
	audit_release(u->srv->cfg.audit);
}

static int add_udp(struct dns_server *srv, int fd)
{
	struct dns_udp *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->srv = srv;
	u->fd = fd;
	u->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, udp_read_cb, u);
	if (!u->ev || event_add(u->ev, NULL) < 0) {
		if (u->ev)
			event_free(u->ev);
		free(u);
		return -ENOMEM;
	}
	LIST_INSERT_HEAD(&srv->udps, u, link);
	return 0;
}

/* ---- TCP ------------------------------------------------------------------ */

static void tcp_free(struct dns_tcp *c)
{
	while (!TAILQ_EMPTY(&c->jobs)) {
		struct dns_job *j = TAILQ_FIRST(&c->jobs);
		rsv_cancel(j->rq);
		eng_cancel(j->eq);
		job_free(j);
	}
	LIST_REMOVE(c, link);
	c->srv->nconns--;
	bufferevent_free(c->bev);
	free(c);
}

/* Close once the client is done and every answer has gone out. */
static bool tcp_maybe_close(struct dns_tcp *c)
{
	if (c->eof && c->njobs == 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		tcp_free(c);
		return true;
	}
	return false;
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct dns_tcp *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t pre[2];

	while (c->njobs < c->srv->cfg.tcp_pipeline && evbuffer_copyout(in, pre, 2) == 2) {
		size_t len = (size_t)pre[0] << 8 | pre[1];
		if (evbuffer_get_length(in) < 2 + len)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, c->srv->in, len);
		struct dns_peer to = { .tcp = c };
		handle(c->srv, &to, span_of((const char *)c->srv->in, len), audit_now_ms());
	}
	if (c->njobs >= c->srv->cfg.tcp_pipeline)
		bufferevent_disable(bev, EV_READ); /* resumes when an answer goes out */
}

static void tcp_job_done(struct dns_tcp *c)
{
	if (c->eof || c->njobs >= c->srv->cfg.tcp_pipeline)
		return;
	bufferevent_enable(c->bev, EV_READ);
	tcp_read_cb(c->bev, c);
}

static void tcp_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	tcp_maybe_close(arg);
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct dns_tcp *c = arg;

	if ((what & BEV_EVENT_TIMEOUT) && c->njobs > 0) {
		bufferevent_enable(bev, EV_READ); /* busy, not idle */
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		tcp_free(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		tcp_maybe_close(c);
	}
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct dns_server *srv = arg;
	struct dns_tcp *c;

	(void)l;
	(void)sa;
	(void)salen;
	if (srv->nconns >= srv->cfg.max_tcp || !(c = calloc(1, sizeof(*c)))) {
		close(fd); /* full: the client retries or falls back to UDP */
		return;
	}
	c->srv = srv;
	TAILQ_INIT(&c->jobs);
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	LIST_INSERT_HEAD(&srv->conns, c, link);
	srv->nconns++;
	struct timeval idle = { srv->cfg.tcp_idle_s, 0 };
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_setcb(c->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int add_tcp(struct dns_server *srv, int fd)
{
	struct dns_tcp_listener *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	evutil_make_socket_nonblocking(fd);
	t->l = evconnlistener_new(srv->base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!t->l) {
		free(t);
		return -ENOMEM;
	}
	LIST_INSERT_HEAD(&srv->listeners, t, link);
	return 0;
}

/* ---- set-up --------------------------------------------------------------- */

int dns_server_new(struct event_base *base, const struct dns_config *cfg, struct dns_server **out)
{
	struct dns_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->cfg = *cfg;
	srv->cfg.pol = pol_ref(cfg->pol);
	dns_config_defaults(&srv->cfg);
	LIST_INIT(&srv->udps);
	LIST_INIT(&srv->listeners);
	LIST_INIT(&srv->conns);
	TAILQ_INIT(&srv->udp_jobs);
	dns_memo_init(&srv->memo);
	*out = srv;
	return 0;
}

static int bound_socket(const struct addr *a, uint16_t port, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(a, port, &ss);
	int one = 1, fd = socket(a->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int dns_server_listen(struct dns_server *srv, const char *addrport)
{
	struct host h;
	uint16_t port;
	const char *why;

	if (host_parse_authority(span_str(addrport), 0, &h, &port, &why) < 0 || h.kind != HOST_IP)
		return -EINVAL;
	int u = bound_socket(&h.ip, port, SOCK_DGRAM);
	if (u < 0)
		return u;
	int t = bound_socket(&h.ip, port, SOCK_STREAM);
	if (t < 0) {
		close(u);
		return t;
	}
	return dns_server_listen_fds(srv, u, t);
}

int dns_server_listen_fds(struct dns_server *srv, int udp_fd, int tcp_fd)
{
	int rc = 0;

	if (udp_fd >= 0 && (rc = add_udp(srv, udp_fd)) < 0) {
		close(udp_fd);
		udp_fd = -1;
	}
	if (tcp_fd >= 0 && (rc == 0 ? (rc = add_tcp(srv, tcp_fd)) : -1) < 0)
		close(tcp_fd);
	return rc;
}

void dns_server_free(struct dns_server *srv)
{
	if (!srv)
		return;
	while (!LIST_EMPTY(&srv->conns))
		tcp_free(LIST_FIRST(&srv->conns));
	while (!TAILQ_EMPTY(&srv->udp_jobs)) {
		struct dns_job *j = TAILQ_FIRST(&srv->udp_jobs);
		rsv_cancel(j->rq);
		eng_cancel(j->eq);
		job_free(j);
	}
	while (!LIST_EMPTY(&srv->listeners)) {
		struct dns_tcp_listener *t = LIST_FIRST(&srv->listeners);
		LIST_REMOVE(t, link);
		evconnlistener_free(t->l);
		free(t);
	}
	while (!LIST_EMPTY(&srv->udps)) {
		struct dns_udp *u = LIST_FIRST(&srv->udps);
		LIST_REMOVE(u, link);
		event_free(u->ev);
		close(u->fd);
		free(u);
	}
	pol_unref(srv->cfg.pol);
	free(srv);
}

void dns_server_set_policy(struct dns_server *srv, const struct policy *pol)
{
	const struct policy *old = srv->cfg.pol;

	srv->cfg.pol = pol_ref(pol);
	dns_memo_clear(&srv->memo); /* before the old policy, which its rules point into, goes */
	pol_unref(old);
}
