/* relay.c: the relay of established tunnels, off the bufferevents.
 *
 * Each direction pumps: write out what its buffer holds, then read more from
 * the source, in large reads. While the destination is backed up the source
 * is not read (backpressure). A direction holds a buffer only while bytes are
 * in it: an empty one goes back to the server, so an idle tunnel holds two
 * sockets, four events (inside the relay) and no buffer. The events are
 * level-triggered, so a read that does not fill the buffer may end a
 * readiness (edge-triggered ones would need a read that fails with EAGAIN
 * after each, one more syscall per readiness, and a queued FIN behind
 * the bytes that a short read leaves would otherwise be lost). EOF from the source becomes
 * shutdown(SHUT_WR) on the destination once its bytes are out (half-close),
 * as in the bufferevent relay. Each direction counts what its destination's
 * socket took (the close record's bytes_up and bytes_down), not what it read.
 *
 * Why copies and not splice(2): on loopback, a read and a write of up to
 * 4 MiB moved a stream at 21 Gbit/s for 0.29 CPU-seconds per GiB, where
 * splice through a 1 MiB pipe (its largest useful size) managed 11 Gbit/s
 * for 0.44 (measured with bench/loadgen.c). The 4 MiB
 * buffers are few (PX_BIG_MAX in use at once, PX_BIG_KEEP kept); past that a
 * direction gets a 64 KiB one, so slow readers cannot pin much memory each.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_int.h"

#define BIG_BYTES (4 * 1024 * 1024) /* one read's worth of a fast stream */
#define SMALL_BYTES (64 * 1024)
#define ROUNDS 8                    /* bufferfuls per callback, so one stream cannot hog the loop */

struct px_dir {
	struct px_relay *rl;
	int src, dst;
	char *buf;            /* NULL when the direction holds no buffer */
	size_t cap, off, len; /* bytes buf[off..len) wait for dst */
	bool big;
	bool eof, shut;
	struct event *rd, *wr; /* in the relay: rl->ev */
	bool rd_on, wr_on;    /* whether rd, wr are added: a change costs a call only when it is one */
	uint64_t *counter;    /* bytes dst took */
	bool client_failed;   /* the last error was the client socket's */
};

struct px_relay {
	struct px_session *s;
	int fd[2];            /* client, upstream */
	struct px_dir dir[2]; /* client → upstream, upstream → client */
	struct event ev[4];   /* dir[0].rd, dir[0].wr, dir[1].rd, dir[1].wr */
};

/* ---- buffers ------------------------------------------------------------- */

static int buf_get(struct px_server *srv, struct px_dir *d)
{
	d->off = d->len = 0;
	if (srv->nbufs > 0) {
		d->buf = srv->bufs[--srv->nbufs];
	} else if (srv->big_out < PX_BIG_MAX) {
		void *p = mmap(NULL, BIG_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		d->buf = p == MAP_FAILED ? NULL : p;
	} else {
		d->buf = NULL;
	}
	if (d->buf) {
		srv->big_out++;
		d->big = true;
		d->cap = BIG_BYTES;
		return 0;
	}
	d->buf = malloc(SMALL_BYTES);
	d->big = false;
	d->cap = SMALL_BYTES;
	return d->buf ? 0 : -ENOMEM;
}

/* Give the buffer back (whatever it still holds is dropped). */
static void buf_put(struct px_server *srv, struct px_dir *d)
{
	if (!d->buf)
		return;
	if (!d->big) {
		free(d->buf);
	} else {
		srv->big_out--;
		if (srv->nbufs < PX_BIG_KEEP)
			srv->bufs[srv->nbufs++] = d->buf;
		else
			munmap(d->buf, BIG_BYTES);
	}
	d->buf = NULL;
	d->off = d->len = 0;
}

void px_bufs_free(struct px_server *srv)
{
	while (srv->nbufs > 0)
		munmap(srv->bufs[--srv->nbufs], BIG_BYTES);
}

/* ---- pumping ------------------------------------------------------------- */

/* Watch (or stop watching) the source's readability or the destination's
 * writability. */
static void want_rd(struct px_dir *d, bool on)
{
	if (on != d->rd_on)
		(void)(on ? event_add(d->rd, NULL) : event_del(d->rd));
	d->rd_on = on;
}

static void want_wr(struct px_dir *d, bool on)
{
	if (on != d->wr_on)
		(void)(on ? event_add(d->wr, NULL) : event_del(d->wr));
	d->wr_on = on;
}

/* Write the buffer out to dst. Returns 1 when empty, 0 when dst is full, -errno. */
static int flush(struct px_dir *d)
{
	while (d->off < d->len) {
		ssize_t m = send(d->dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
		if (m > 0) {
			d->off += (size_t)m;
			*d->counter += (uint64_t)m;
		} else if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		else if (m < 0 && errno != EINTR)
			return -errno;
		else if (m == 0)
			return -EPIPE;
	}
	d->off = d->len = 0;
	return 1;
}

/* Read from src into the (empty) buffer. Returns bytes read, 0 at EOF,
 * -EAGAIN, -errno. */
static ssize_t fill(struct px_dir *d)
{
	struct px_server *srv = d->rl->s->srv;

	if (!d->buf) {
		int rc = buf_get(srv, d);
		if (rc < 0)
			return rc;
	}
	ssize_t n = recv(d->src, d->buf, d->cap, 0);
	if (n <= 0) {
		int e = n < 0 ? errno : 0;
		buf_put(srv, d); /* nothing in flight: idle directions hold no buffer */
		return n == 0 ? 0 : e == EINTR || e == EWOULDBLOCK ? -EAGAIN : -e;
	}
	d->len = (size_t)n;
	return n;
}

static bool finished(const struct px_relay *rl)
{
	return rl->dir[0].shut && rl->dir[1].shut;
}

/* Move what can be moved now; returns 0 or -errno (the tunnel is broken).
 * A read that did not fill the buffer emptied the socket: once those bytes
 * are out the direction waits for the loop rather than spend a read on
 * EAGAIN (the events are level-triggered, so nothing is missed). */
static int pump(struct px_dir *d)
{
	bool drained = false;

	for (int round = 0; round < ROUNDS; round++) {
		int rc = flush(d);
		if (rc < 0) {
			d->client_failed = d->dst == d->rl->fd[0];
			return rc;
		}
		if (rc == 0) { /* dst is backed up: stop reading until it drains */
			want_rd(d, false);
			want_wr(d, true);
			return 0;
		}
		want_wr(d, false);
		if (d->eof) {
			const struct px_dir *other = &d->rl->dir[d == &d->rl->dir[0] ? 1 : 0];
			buf_put(d->rl->s->srv, d);
			/* when the other way is shut too, the close that follows sends the FIN */
			if (!d->shut && !other->shut)
				shutdown(d->dst, SHUT_WR);
			d->shut = true;
			return 0;
		}
		if (drained) {
			buf_put(d->rl->s->srv, d);
			want_rd(d, true);
			return 0;
		}
		ssize_t n = fill(d);
		if (n == 0) {
			d->eof = true;
			want_rd(d, false);
		} else if (n == -EAGAIN) {
			want_rd(d, true);
			return 0;
		} else if (n < 0) {
			d->client_failed = d->src == d->rl->fd[0];
			return (int)n;
		} else if ((size_t)n < d->cap) {
			drained = true;
		}
	}
	/* out of rounds: come back through the loop, flushing first if bytes wait */
	if (d->len) {
		want_rd(d, false);
		want_wr(d, true);
	} else {
		want_rd(d, true);
	}
	return 0;
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_server *srv = arg;

	(void)fd;
	(void)what;
	while (!LIST_EMPTY(&srv->ended)) /* px_session_free takes each off */
		px_session_close(LIST_FIRST(&srv->ended), NULL); /* its record is written (end_soon) */
}

/* The tunnel is over: it moves no more bytes and its close record is
 * written now (in the pass's one batch of records); the two close() calls,
 * which send what the kernel still owes, wait until the events this pass
 * already has are served, such as another session's bytes that a client is
 * waiting for. One event and list for the server, so an open tunnel holds no more. */
static void end_soon(struct px_relay *rl, const char *reason)
{
	struct px_server *srv = rl->s->srv;

	px_session_log_close(rl->s, reason);
	if (!srv->reap)
		srv->reap = event_new(srv->base, -1, 0, reap_cb, srv);
	if (!srv->reap) {
		px_session_close(rl->s, NULL);
		return;
	}
	for (int i = 0; i < 2; i++) {
		want_rd(&rl->dir[i], false);
		want_wr(&rl->dir[i], false);
	}
	LIST_REMOVE(rl->s, link); /* the session moves to the server's ended list */
	LIST_INSERT_HEAD(&srv->ended, rl->s, link);
	event_active(srv->reap, EV_TIMEOUT, 0);
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_dir *d = arg;
	struct px_session *s = d->rl->s;

	(void)fd;
	(void)what;
	s->last_active = audit_now_ms();
	int rc = pump(d);
	if (rc < 0)
		end_soon(d->rl, d->client_failed ? "client_closed" : NULL);
	else if (finished(d->rl))
		end_soon(d->rl, NULL);
}

/* ---- set-up and tear-down ------------------------------------------------ */

/* Write out what the bufferevent still holds; true when it is empty. */
static bool flushed(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	int fd = bufferevent_getfd(bev);
	bool ok = true;

	/* a socket bufferevent keeps its output's drain side frozen between its own writes */
	evbuffer_unfreeze(out, 1);
	while (ok && evbuffer_get_length(out) > 0)
		ok = evbuffer_write(out, fd) > 0;
	evbuffer_freeze(out, 1);
	return ok;
}

static void dir_init(struct px_relay *rl, int i, uint64_t *counter)
{
	struct px_dir *d = &rl->dir[i];
	struct event_base *base = rl->s->srv->base;

	d->rl = rl;
	d->src = rl->fd[i];
	d->dst = rl->fd[1 - i];
	d->counter = counter;
	d->rd = &rl->ev[2 * i];
	d->wr = &rl->ev[2 * i + 1];
	event_assign(d->rd, base, d->src, EV_READ | EV_PERSIST, pump_cb, d);
	event_assign(d->wr, base, d->dst, EV_WRITE | EV_PERSIST, pump_cb, d);
}

/* Bytes the client sent before the tunnel opened go first. */
static int take_early(struct px_relay *rl, struct evbuffer *in)
{
	struct px_dir *d = &rl->dir[0];
	size_t n = evbuffer_get_length(in);

	if (n == 0)
		return 0;
	if (buf_get(rl->s->srv, d) < 0)
		return -ENOMEM;
	if (n > d->cap) {
		buf_put(rl->s->srv, d);
		return -EAGAIN;
	}
	d->len = (size_t)evbuffer_remove(in, d->buf, n);
	return 0;
}

int px_relay_start(struct px_session *s, int up_fd)
{
	if ((s->up && evbuffer_get_length(bufferevent_get_input(s->up))) || (s->cli && !flushed(s->cli)) ||
	    (s->up && !flushed(s->up)))
		return -EAGAIN; /* bytes are queued in user space: keep the bufferevent relay */
	struct px_relay *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->s = s;
	rl->fd[0] = s->cli ? bufferevent_getfd(s->cli) : s->cli_fd; /* no bufferevent: never made */
	rl->fd[1] = s->up ? bufferevent_getfd(s->up) : up_fd;
	dir_init(rl, 0, &s->bytes_up);
	dir_init(rl, 1, &s->bytes_down);
	int rc = s->cli ? take_early(rl, bufferevent_get_input(s->cli)) : 0;
	if (rc < 0) {
		free(rl);
		return rc;
	}
	/* Watching first and letting go after keeps the client's read interest
	 * registered throughout: the change list then has nothing to apply. */
	want_rd(&rl->dir[0], true);
	want_rd(&rl->dir[1], true);
	if (rl->dir[0].len)
		want_wr(&rl->dir[0], true); /* the early bytes go once upstream takes them */
	px_readers_drop(s);
	/* the sockets change owner: the bufferevents go, their fds stay open */
	if (s->cli) {
		bufferevent_setfd(s->cli, -1);
		bufferevent_free(s->cli);
	}
	s->cli_fd = -1;
	if (s->up) {
		bufferevent_setfd(s->up, -1);
		bufferevent_free(s->up);
	}
	s->cli = s->up = NULL;
	if (s->head) {
		evbuffer_free(s->head); /* no more heads on this connection */
		s->head = NULL;
	}
	s->rl = rl;
	return 0;
}

int px_relay_fd(const struct px_session *s, bool up)
{
	return s->rl ? s->rl->fd[up ? 1 : 0] : -1;
}

void px_relay_free(struct px_session *s)
{
	struct px_relay *rl = s->rl;

	if (!rl)
		return;
	for (int i = 0; i < 2; i++) {
		want_rd(&rl->dir[i], false);
		want_wr(&rl->dir[i], false);
		buf_put(s->srv, &rl->dir[i]);
		close(rl->fd[i]);
	}
	free(rl);
	s->rl = NULL;
}
