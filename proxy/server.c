/* server.c: listeners, the connection cap, and descriptor-shortage handling.
 *
 * When accept() fails for lack of descriptors, the server frees a reserved
 * one, accepts the waiting connection, answers 503 and closes it, then takes
 * the reserve back; if that is not enough, the listeners pause briefly.
 * It never spins and never exits on load.
 *
 * One accept per readiness (the events are level-triggered): a batch would
 * end in an accept that fails with EAGAIN, one more syscall per wake, and
 * under load the loop comes back to a listener with a backlog at once.
 * A --listen socket defers accepts until the client's first bytes
 * (TCP_DEFER_ACCEPT): the accept and the request's read share a pass.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "proxy_int.h"

/* A connection that sends nothing is accepted after this (and then has the
 * head timeout), so the kernel holds it no longer than a second or so. */
#define DEFER_ACCEPT_S 1

/* A session holds two descriptors (client, upstream); keep 64 for the rest. */
static size_t conns_for_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 4096;
	return rl.rlim_cur > 128 ? (size_t)(rl.rlim_cur - 64) / 2 : 32;
}

void px_config_defaults(struct px_config *cfg)
{
	cfg->max_conns = conns_for_fds();
	cfg->head_timeout_s = 30;
	cfg->connect_timeout_s = 10;
	cfg->idle_timeout_s = 300;
}

void px_refuse_fd(evutil_socket_t fd, int status, const char *reason)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d %s\r\nX-Sluice-Reason: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 status, status == 503 ? "Service Unavailable" : "Error", reason);

	/* best effort on a fresh socket: its send buffer is empty */
	if (send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* nothing more to do for a client we cannot serve */
	}
	close(fd);
}

static void log_refusal(struct px_server *srv, const char *why)
{
	struct audit_rec r = audit_rec_init("connect", "decision");

	r.decision = "deny";
	r.reason = "limit";
	audit_write_soon(srv->cfg.audit, &r);
	log_msg("refused a connection: %s", why);
}

static void accepted(struct px_server *srv, size_t i, int fd, const struct sockaddr *sa)
{
	if (srv->nconns >= srv->cfg.max_conns) {
		log_refusal(srv, "connection limit reached");
		px_refuse_fd(fd, 503, "limit");
		return;
	}
	if (srv->transparent[i])
		px_session_start_transparent(srv, fd);
	else
		px_session_start(srv, fd, sa, srv->deferred[i]);
}

static void set_listeners(struct px_server *srv, bool on)
{
	for (size_t i = 0; i < srv->nlst; i++) {
		if (on)
			event_add(srv->lst[i], NULL);
		else
			event_del(srv->lst[i]);
	}
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_server *srv = arg;

	(void)fd;
	(void)what;
	if (srv->reserve_fd < 0)
		srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	set_listeners(srv, true);
}

static void accept_failed(struct px_server *srv, int lfd, int err)
{
	struct timeval pause = { 0, 100 * 1000 };

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		log_msg("accept failed: %s", strerror(err));
		return;
	}
	if (srv->reserve_fd >= 0) {
		close(srv->reserve_fd);
		srv->reserve_fd = -1;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			log_refusal(srv, "out of file descriptors");
			px_refuse_fd(fd, 503, "limit");
		}
		srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	set_listeners(srv, false);
	evtimer_add(srv->resume, &pause);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct px_server *srv = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	size_t i = 0;

	(void)what;
	while (i < srv->nlst && event_get_fd(srv->lst[i]) != lfd)
		i++;
	int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0)
		accepted(srv, i, fd, (struct sockaddr *)&ss);
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
		accept_failed(srv, lfd, errno);
}

int px_server_new(struct event_base *base, const struct px_config *cfg, struct px_server **out)
{
	struct px_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->cfg = *cfg;
	srv->cfg.pol = pol_ref(cfg->pol);
	srv->epoch = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
	LIST_INIT(&srv->sessions);
	LIST_INIT(&srv->cxs);
	LIST_INIT(&srv->ended);
	srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv->resume = evtimer_new(base, resume_cb, srv);
	if (!srv->resume) {
		px_server_free(srv);
		return -ENOMEM;
	}
	*out = srv;
	return 0;
}

int px_server_listen_transparent_fd(struct px_server *srv, int fd)
{
	int rc = px_server_listen_fd(srv, fd);

	if (rc == 0)
		srv->transparent[srv->nlst - 1] = true;
	return rc;
}

int px_server_listen_fd(struct px_server *srv, int fd)
{
	if (srv->nlst >= PX_MAX_LISTENERS)
		return -ENOSPC;
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	struct event *l = event_new(srv->base, fd, EV_READ | EV_PERSIST, accept_cb, srv);
	if (!l || event_add(l, NULL) < 0) {
		if (l)
			event_free(l);
		return -ENOMEM;
	}
	srv->transparent[srv->nlst] = false;
	srv->deferred[srv->nlst] = false;
	srv->lst[srv->nlst++] = l;
	return 0;
}

int px_server_listen(struct px_server *srv, const char *text)
{
	struct host h;
	uint16_t port;
	const char *why;
	struct sockaddr_storage ss;

	if (host_parse_authority(span_str(text), 0, &h, &port, &why) < 0 || h.kind != HOST_IP)
		return -EINVAL;
	socklen_t len = addr_to_sockaddr(&h.ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (srv->cfg.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	/* a proxy client speaks first: wake for it once its request is there */
	int defer_s = DEFER_ACCEPT_S;
	bool deferred = setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof(defer_s)) == 0;
	int rc = px_server_listen_fd(srv, fd);
	if (rc < 0)
		close(fd);
	else
		srv->deferred[srv->nlst - 1] = deferred;
	return rc;
}

void px_server_free(struct px_server *srv)
{
	if (!srv)
		return;
	px_cx_free_all(srv);
	while (!LIST_EMPTY(&srv->sessions))
		px_session_free(LIST_FIRST(&srv->sessions));
	while (!LIST_EMPTY(&srv->ended))
		px_session_free(LIST_FIRST(&srv->ended));
	for (size_t i = 0; i < srv->nlst; i++) {
		int fd = event_get_fd(srv->lst[i]);
		event_free(srv->lst[i]);
		close(fd);
	}
	if (srv->resume)
		event_free(srv->resume);
	if (srv->reap)
		event_free(srv->reap);
	if (srv->reserve_fd >= 0)
		close(srv->reserve_fd);
	px_bufs_free(srv);
	pol_unref(srv->cfg.pol);
	free(srv);
}

void px_server_set_policy(struct px_server *srv, const struct policy *pol)
{
	const struct policy *old = srv->cfg.pol;

	srv->cfg.pol = pol_ref(pol);
	pol_unref(old);
	if (srv->cfg.cache)
		px_cache_note_hosts(srv->cfg.cache, pol);
}

size_t px_server_active(const struct px_server *srv)
{
	return srv->nconns;
}
