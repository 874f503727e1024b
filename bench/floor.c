/* floor.c PORT [half-close]: the least a CONNECT proxy can do per tunnel, as a yardstick
 * for bench.sh's set-up figures (not a proxy to use: no policy, no log, no
 * DNS, IPv4 literals only).
 *
 * One thread, epoll, on 127.0.0.1:PORT: accept, one recv of the request
 * ("CONNECT a.b.c.d:port ..."), a non-blocking connect, the 200 once it is
 * connected, then each side's bytes to the other in one send each (enough
 * for loadgen's 1-byte echo), and both closed at the first EOF. Whatever
 * sluice adds to a tunnel's set-up is what it does beyond this.
 *
 * With "half-close", an EOF is passed on as a proxy that keeps every
 * protocol whole must (a client may send its last bytes and then wait for
 * the answer): shutdown(SHUT_WR) on the other side, and both closed once
 * each side has ended. sluice relays EOF that way.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum kind { LISTENER, REQUEST, DIALING, RELAY, DEAD };

struct end {
	int fd;
	enum kind kind;
	struct end *peer;
	bool eof; /* half-close: this side has ended, the peer's write side is shut */
};

static int ep;
static const int one = 1;
static bool half_close;
/* ends dropped in this pass: freed after it, as its later events may name them */
static struct end *dead[128];
static int ndead;

static void watch(struct end *e, int op, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	epoll_ctl(ep, op, e->fd, &ev);
}

static void bury(struct end *e)
{
	if (e->fd >= 0)
		close(e->fd); /* and out of epoll */
	e->kind = DEAD;
	dead[ndead++] = e;
}

/* e and its peer, closed. */
static void drop(struct end *e)
{
	if (e->peer)
		bury(e->peer);
	bury(e);
}

static void accept_all(int l)
{
	int fd;

	while ((fd = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		struct end *e = calloc(1, sizeof(*e));
		if (!e) {
			close(fd);
			continue;
		}
		*e = (struct end){ .fd = fd, .kind = REQUEST };
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		watch(e, EPOLL_CTL_ADD, EPOLLIN);
	}
}

static void request(struct end *c, char *buf, size_t size)
{
	ssize_t k = recv(c->fd, buf, size - 1, 0);
	struct sockaddr_in to = { .sin_family = AF_INET };
	char host[64];
	int port;

	if (k < 0 && errno == EAGAIN)
		return;
	if (k <= 0)
		goto fail;
	buf[k] = '\0';
	if (sscanf(buf, "CONNECT %63[^:]:%d", host, &port) != 2 || inet_pton(AF_INET, host, &to.sin_addr) != 1)
		goto fail;
	to.sin_port = htons((uint16_t)port);
	struct end *u = calloc(1, sizeof(*u));
	if (!u)
		goto fail;
	*u = (struct end){ .fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), .kind = DIALING, .peer = c };
	c->peer = u;
	if (u->fd < 0 || (connect(u->fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS))
		goto fail;
	setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->kind = RELAY;
	watch(c, EPOLL_CTL_MOD, 0); /* nothing more from the client until the 200 */
	watch(u, EPOLL_CTL_ADD, EPOLLOUT);
	return;
fail:
	drop(c);
}

static void dialed(struct end *u)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err || send(u->peer->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) < 0) {
		drop(u);
		return;
	}
	u->kind = RELAY;
	watch(u, EPOLL_CTL_MOD, EPOLLIN);
	watch(u->peer, EPOLL_CTL_MOD, EPOLLIN);
}

static void relay(struct end *e, char *buf, size_t size)
{
	ssize_t k = read(e->fd, buf, size);

	if (k < 0 && errno == EAGAIN)
		return;
	if (k == 0 && half_close && !e->peer->eof) {
		e->eof = true;
		shutdown(e->peer->fd, SHUT_WR);
		watch(e, EPOLL_CTL_MOD, 0); /* nothing more comes from this side */
		return;
	}
	if (k <= 0 || send(e->peer->fd, buf, (size_t)k, MSG_NOSIGNAL) < 0)
		drop(e);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct end listener = { .kind = LISTENER };
	static char buf[65536];

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "half-close") != 0)) {
		fprintf(stderr, "usage: floor PORT [half-close]\n");
		return 2;
	}
	half_close = argc == 3;
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	listener.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener.fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(listener.fd, 4096) < 0) {
		perror("floor: listen");
		return 1;
	}
	ep = epoll_create1(0);
	watch(&listener, EPOLL_CTL_ADD, EPOLLIN);
	for (;;) {
		struct epoll_event evs[64]; /* at most 2 dead ends each: dead[] holds them */
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			struct end *e = evs[i].data.ptr;
			switch (e->kind) {
			case LISTENER: accept_all(e->fd); break;
			case REQUEST: request(e, buf, sizeof(buf)); break;
			case DIALING: dialed(e); break;
			case RELAY: relay(e, buf, sizeof(buf)); break;
			case DEAD: break;
			}
		}
		while (ndead)
			free(dead[--ndead]);
	}
}
