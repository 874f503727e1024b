/* endpoint.c: the /metrics HTTP endpoint on the daemon's loop. One request
 * per connection: the head is read (bounded in bytes and time), parsed with
 * the proxy's strict parser, answered, and the connection closed once the
 * answer is written. A scrape never blocks the loop for longer than
 * rendering the registry takes. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "addr.h"
#include "host.h"
#include "http.h"
#include "metrics.h"
#include "span.h"

struct scrape {
	LIST_ENTRY(scrape) link;
	struct metrics_http *h;
	struct bufferevent *bev;
	struct event *deadline; /* the whole exchange, however slowly the bytes come */
	bool answered;
};

struct metrics_http {
	const struct metrics *m;
	struct event_base *base;
	struct evconnlistener *l;
	LIST_HEAD(, scrape) clients;
	size_t n;
};

int metrics_parse_listen(const char *text, struct sockaddr_storage *ss, bool *loopback, const char **why)
{
	char buf[96];
	struct host h;
	uint16_t port;

	*why = "want PORT, IP:PORT or [IPv6]:PORT";
	if (text[0] && strspn(text + (text[0] == ':'), "0123456789") == strlen(text + (text[0] == ':'))) {
		snprintf(buf, sizeof(buf), "127.0.0.1:%s", text + (text[0] == ':'));
		text = buf;
	}
	if (host_parse_authority(span_str(text), 0, &h, &port, why) < 0)
		return -EINVAL;
	if (h.kind != HOST_IP) {
		*why = "an IP address, not a name";
		return -EINVAL;
	}
	if (port == 0) {
		*why = "a port from 1 to 65535";
		return -EINVAL;
	}
	*loopback = h.ip.family == AF_INET ? (ntohl(h.ip.v4.s_addr) >> 24) == 127 : IN6_IS_ADDR_LOOPBACK(&h.ip.v6);
	return (int)addr_to_sockaddr(&h.ip, port, ss);
}

static void scrape_free(struct scrape *c)
{
	LIST_REMOVE(c, link);
	c->h->n--;
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
}

static void answer(struct scrape *c, int status, const char *text, const char *extra, struct evbuffer *body)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = body ? evbuffer_get_length(body) : strlen(text) + 1;

	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
			    status, text, body ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain", len,
			    extra ? extra : "");
	if (body)
		evbuffer_add_buffer(out, body);
	else
		evbuffer_add_printf(out, "%s\n", text);
	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
}

static bool wanted_path(struct span t)
{
	static const char path[] = "/metrics";
	size_t n = sizeof(path) - 1;

	return t.len >= n && memcmp(t.p, path, n) == 0 && (t.len == n || t.p[n] == '?');
}

static void serve(struct scrape *c, const struct http_head *hd)
{
	if (!wanted_path(hd->target)) {
		answer(c, 404, "Not Found", NULL, NULL);
		return;
	}
	if (hd->method.len != 3 || memcmp(hd->method.p, "GET", 3) != 0) {
		answer(c, 405, "Method Not Allowed", "Allow: GET\r\n", NULL);
		return;
	}
	struct evbuffer *body = evbuffer_new();
	if (!body || metrics_render(c->h->m, body) < 0) {
		if (body)
			evbuffer_free(body);
		answer(c, 503, "Service Unavailable", NULL, NULL);
		return;
	}
	answer(c, 200, "OK", NULL, body);
	evbuffer_free(body);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct scrape *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	struct http_head hd;
	const char *why = NULL;

	if (c->answered)
		return;
	size_t take = len < METRICS_HEAD_MAX ? len : METRICS_HEAD_MAX;
	long rc = http_parse_request(span_of((const char *)evbuffer_pullup(in, (ev_ssize_t)take), take), &hd, &why);
	if (rc == 0 && len < METRICS_HEAD_MAX)
		return; /* more to come */
	if (rc == 0 || rc == -E2BIG)
		answer(c, 431, "Request Header Fields Too Large", NULL, NULL);
	else if (rc < 0)
		answer(c, 400, "Bad Request", NULL, NULL);
	else
		serve(c, &hd);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct scrape *c = arg;

	if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		scrape_free(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct scrape *c = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && c->answered)
		return; /* the client is done sending: the answer still goes out */
	scrape_free(c); /* an error, or the client left before a whole head */
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	scrape_free(arg);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct metrics_http *h = arg;
	struct scrape *c = h->n < METRICS_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
	struct timeval tv = { METRICS_TIMEOUT_S, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	if (!c || !(c->deadline = evtimer_new(h->base, deadline_cb, c)) ||
	    !(c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		if (c && c->deadline)
			event_free(c->deadline);
		free(c);
		close(fd); /* busy: the scraper tries again at its next interval */
		return;
	}
	c->h = h;
	LIST_INSERT_HEAD(&h->clients, c, link);
	h->n++;
	evtimer_add(c->deadline, &tv);
	bufferevent_setwatermark(c->bev, EV_READ, 0, METRICS_HEAD_MAX);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int listen_on(const char *text, int *out)
{
	struct sockaddr_storage ss;
	bool loopback;
	const char *why;
	int len = metrics_parse_listen(text, &ss, &loopback, &why);

	if (len < 0)
		return -EINVAL;
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0 || listen(fd, 64) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

int metrics_http_new(struct event_base *base, const struct metrics *m, const char *text, struct metrics_http **out)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	int fd = -1, rc;

	if (!h)
		return -ENOMEM;
	if ((rc = listen_on(text, &fd)) < 0) {
		free(h);
		return rc;
	}
	h->m = m;
	h->base = base;
	LIST_INIT(&h->clients);
	h->l = evconnlistener_new(base, accept_cb, h, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!h->l) {
		close(fd);
		free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void metrics_http_free(struct metrics_http *h)
{
	if (!h)
		return;
	while (!LIST_EMPTY(&h->clients))
		scrape_free(LIST_FIRST(&h->clients));
	evconnlistener_free(h->l);
	free(h);
}
