/* publish.c: `sluice run --publish`, the host's side (see publish.h).
 *
 * Each accepted connection asks the connector for a socket to the
 * sandbox's 127.0.0.1:INNER (one byte out; the answers come back in the
 * order asked), then the two are relayed with bufferevents: backpressure
 * (a side stops reading while the other's output holds more than HIGH
 * bytes) and half-close (one side's EOF becomes shutdown(SHUT_WR) on the
 * other once its output is written). Bounded: PUB_MAX_PENDING connections
 * waiting for a socket and PUB_MAX_CONNS relayed; past that, new ones are
 * closed at once.
 */
#include "publish.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "sbx.h"
#include "span.h"

#define PUB_MAX_PENDING 64
#define PUB_MAX_CONNS 256
#define HIGH (256 * 1024)

struct pub_conn {
	struct pub *p;
	struct bufferevent *side[2]; /* 0: the host's client, 1: the sandbox's server */
	bool eof[2];                 /* side i sent EOF */
	bool shut[2];                /* side i was shut for writing */
	struct pub_conn *prev, *next;
};

struct pub_port {
	struct pub_spec spec;
	int fd;
	struct evconnlistener *l;
	struct pub *p;
	bool told;                   /* "nothing listens" said once */
};

struct pub {
	struct event_base *base;
	struct pub_port ports[PUB_MAX];
	size_t n;
	int connector;
	struct event *cev;
	int wait_fd[PUB_MAX_PENDING]; /* accepted, waiting for the connector, FIFO */
	unsigned char wait_idx[PUB_MAX_PENDING];
	size_t head, nwait;
	struct pub_conn *conns;
	size_t nconns;
};

/* ---- parsing ------------------------------------------------------------- */

static int port_of(struct span s, uint16_t *out)
{
	unsigned long v;

	if (span_to_uint(s, 1, 65535, &v) < 0)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* ADDR (IPv6 without brackets), PORT and INNER text of "[ADDR:]PORT[:INNER]". */
static int split(struct span s, struct span *a, struct span *port, struct span *inner)
{
	*a = span_str("127.0.0.1");
	*inner = span_of("", 0);
	if (s.len && s.p[0] == '[') {
		long close = span_find(s, ']');
		if (close < 0 || (size_t)close + 1 >= s.len || s.p[close + 1] != ':')
			return -EINVAL;
		*a = span_sub(s, 1, (size_t)close - 1);
		s = span_sub(s, (size_t)close + 2, s.len);
	} else {
		long c1 = span_find(s, ':'), c2 = span_rfind(s, ':');
		if (c1 >= 0 && (c1 != c2 || span_find(span_sub(s, 0, (size_t)c1), '.') >= 0)) {
			*a = span_sub(s, 0, (size_t)c1); /* ADDR:PORT[:INNER] */
			s = span_sub(s, (size_t)c1 + 1, s.len);
		}
	}
	long c = span_find(s, ':');
	*port = c < 0 ? s : span_sub(s, 0, (size_t)c);
	if (c >= 0)
		*inner = span_sub(s, (size_t)c + 1, s.len);
	return 0;
}

int pub_parse(const char *text, struct pub_spec *out, const char **why)
{
	struct span a, ps, is;
	struct addr ad;
	uint16_t port, inner;

	memset(out, 0, sizeof(*out));
	*why = "want [ADDR:]PORT[:INNER], like 8080, 8080:3000 or 127.0.0.1:8080:3000";
	if (split(span_str(text), &a, &ps, &is) < 0 || addr_parse(a, &ad) < 0 || port_of(ps, &port) < 0)
		return -EINVAL;
	if (is.len == 0)
		inner = port;
	else if (port_of(is, &inner) < 0)
		return -EINVAL;
	static const uint16_t taken[] = { 53, 80, 443, SBX_PROXY_PORT, SBX_TRANSPARENT_PORT };
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (inner == taken[i]) {
			*why = "the sandbox sends its ports 53, 80, 443, 3128 and 3129 to sluice: "
			       "let the server listen on another one";
			return -EINVAL;
		}
	out->len = addr_to_sockaddr(&ad, port, &out->ss);
	out->inner = inner;
	out->loopback = ad.family == AF_INET ? (ntohl(ad.v4.s_addr) >> 24) == 127
					     : IN6_IS_ADDR_LOOPBACK(&ad.v6);
	char at[ADDR_TEXT_MAX];
	addr_format(&ad, at, sizeof(at));
	snprintf(out->text, sizeof(out->text), ad.family == AF_INET6 ? "[%s]:%u" : "%s:%u", at, port);
	return 0;
}

/* ---- the relay ----------------------------------------------------------- */

static void conn_free(struct pub_conn *c)
{
	struct pub *p = c->p;

	for (int i = 0; i < 2; i++)
		if (c->side[i])
			bufferevent_free(c->side[i]);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->nconns--;
	free(c);
}

static int side_of(struct pub_conn *c, struct bufferevent *bev)
{
	return bev == c->side[1];
}

/* Side i's peer sent EOF and i's output is written: pass the EOF on. */
static void maybe_shut(struct pub_conn *c, int i)
{
	if (c->eof[!i] && !c->shut[i] && evbuffer_get_length(bufferevent_get_output(c->side[i])) == 0) {
		shutdown(bufferevent_getfd(c->side[i]), SHUT_WR);
		c->shut[i] = true;
	}
	if (c->shut[0] && c->shut[1])
		conn_free(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct pub_conn *c = arg;
	int i = side_of(c, bev);
	struct evbuffer *out = bufferevent_get_output(c->side[!i]);

	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) > HIGH)
		bufferevent_disable(bev, EV_READ); /* until the peer has written it */
}

/* Side i's output is written: read its peer again; pass an EOF on. */
static void write_cb(struct bufferevent *bev, void *arg)
{
	struct pub_conn *c = arg;
	int i = side_of(c, bev);

	if (!c->eof[!i])
		bufferevent_enable(c->side[!i], EV_READ);
	maybe_shut(c, i);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pub_conn *c = arg;
	int i = side_of(c, bev);

	if (what & BEV_EVENT_ERROR) {
		conn_free(c); /* a reset on either side ends both */
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof[i] = true;
		bufferevent_disable(bev, EV_READ);
		maybe_shut(c, !i);
	}
}

static void relay(struct pub *p, int host, int inner)
{
	struct pub_conn *c = p->nconns < PUB_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	int fds[2] = { host, inner };

	for (int i = 0; c && i < 2; i++) {
		evutil_make_socket_nonblocking(fds[i]);
		c->side[i] = bufferevent_socket_new(p->base, fds[i], BEV_OPT_CLOSE_ON_FREE);
		if (!c->side[i])
			break;
		fds[i] = -1;
		bufferevent_setcb(c->side[i], read_cb, write_cb, event_cb, c);
	}
	if (!c || !c->side[0] || !c->side[1]) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		for (int i = 0; c && i < 2; i++)
			if (c->side[i])
				bufferevent_free(c->side[i]);
		free(c);
		return;
	}
	c->p = p;
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	p->nconns++;
	bufferevent_enable(c->side[0], EV_READ | EV_WRITE);
	bufferevent_enable(c->side[1], EV_READ | EV_WRITE);
}

/* ---- accepting and the connector ---------------------------------------- */

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct pub_port *pp = arg;
	struct pub *p = pp->p;
	unsigned char idx = (unsigned char)(pp - p->ports);

	(void)l, (void)sa, (void)len;
	if (p->connector < 0 || p->nwait >= PUB_MAX_PENDING || p->nconns >= PUB_MAX_CONNS ||
	    send(p->connector, &idx, 1, MSG_DONTWAIT) != 1) {
		close(fd);
		return;
	}
	size_t slot = (p->head + p->nwait++) % PUB_MAX_PENDING;
	p->wait_fd[slot] = fd;
	p->wait_idx[slot] = idx;
}

static void connector_cb(evutil_socket_t s, short what, void *arg)
{
	struct pub *p = arg;
	int inner;

	(void)what;
	int rc = sbx_recv_fds(s, &inner, 1);
	if (rc == -EAGAIN || rc == -EINTR)
		return;
	if (rc < 0 || p->nwait == 0) { /* the sandbox ended (or the connector broke) */
		if (rc >= 0 && inner >= 0)
			close(inner);
		event_del(p->cev);
		close(p->connector);
		p->connector = -1;
		for (; p->nwait; p->nwait--, p->head = (p->head + 1) % PUB_MAX_PENDING)
			close(p->wait_fd[p->head]);
		return;
	}
	int host = p->wait_fd[p->head];
	struct pub_port *pp = &p->ports[p->wait_idx[p->head]];
	p->head = (p->head + 1) % PUB_MAX_PENDING;
	p->nwait--;
	if (inner < 0) {
		if (!pp->told)
			log_msg("run: --publish %s: nothing listens on the sandbox's 127.0.0.1:%u (yet)", pp->spec.text,
				pp->spec.inner);
		pp->told = true;
		close(host);
		return;
	}
	pp->told = false;
	relay(p, host, inner);
}

int pub_new(const struct pub_spec *specs, size_t n, struct pub **out, const struct pub_spec **failed)
{
	struct pub *p = n <= PUB_MAX ? calloc(1, sizeof(*p)) : NULL;
	int one = 1;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->connector = -1;
	for (size_t i = 0; i < n; i++) {
		struct pub_port *pp = &p->ports[p->n];
		pp->spec = specs[i];
		pp->p = p;
		pp->fd = socket(specs[i].ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (pp->fd < 0 || setsockopt(pp->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(pp->fd, (const struct sockaddr *)&specs[i].ss, specs[i].len) < 0 || listen(pp->fd, 128) < 0) {
			int e = errno;
			if (pp->fd >= 0)
				close(pp->fd);
			*failed = &specs[i];
			pub_free(p);
			return -e;
		}
		p->n++;
	}
	*out = p;
	return 0;
}

int pub_start(struct pub *p, struct event_base *base, int connector)
{
	p->base = base;
	p->connector = connector;
	evutil_make_socket_nonblocking(connector);
	p->cev = event_new(base, connector, EV_READ | EV_PERSIST, connector_cb, p);
	if (!p->cev || event_add(p->cev, NULL) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		struct pub_port *pp = &p->ports[i];
		pp->l = evconnlistener_new(base, accept_cb, pp, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
					   pp->fd);
		if (!pp->l)
			return -ENOMEM;
		pp->fd = -1; /* the listener's */
	}
	return 0;
}

void pub_inner_ports(const struct pub *p, uint16_t *ports)
{
	for (size_t i = 0; i < p->n; i++)
		ports[i] = p->ports[i].spec.inner;
}

void pub_free(struct pub *p)
{
	if (!p)
		return;
	while (p->conns)
		conn_free(p->conns);
	for (; p->nwait; p->nwait--, p->head = (p->head + 1) % PUB_MAX_PENDING)
		close(p->wait_fd[p->head]);
	for (size_t i = 0; i < p->n; i++) {
		if (p->ports[i].l)
			evconnlistener_free(p->ports[i].l);
		else if (p->ports[i].fd >= 0)
			close(p->ports[i].fd);
	}
	if (p->cev)
		event_free(p->cev);
	if (p->connector >= 0)
		close(p->connector);
	free(p);
}
