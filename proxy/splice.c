/* splice.c: the tunnel relay with splice(2). Bytes go socket → pipe →
 * socket inside the kernel, never through user-space buffers.
 *
 * Each direction pumps: empty its pipe into the destination, then read more
 * from the source. While the destination is backed up, the source is not
 * read (backpressure), and the pipe is full at most once. A direction holds
 * a pipe only while bytes are in flight: an empty pipe goes back to the
 * server's pool, so an idle tunnel holds two sockets, four events and no
 * buffer. EOF from the source becomes shutdown(SHUT_WR) on the destination
 * once its pipe is empty (half-close), as in the bufferevent relay.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_int.h"

#define PIPE_BYTES (1024 * 1024) /* asked of F_SETPIPE_SZ; the kernel may give less */
#define ROUNDS 8                /* pipefuls per callback, so one stream cannot hog the loop */

struct px_dir {
	struct px_splice *sp;
	int src, dst;
	int pipe[2];          /* -1 when the direction holds no pipe */
	size_t inpipe, cap;
	bool eof, shut;
	struct event *rd, *wr;
	uint64_t *counter;
};

struct px_splice {
	struct px_session *s;
	int fd[2];            /* client, upstream */
	struct px_dir dir[2]; /* client → upstream, upstream → client */
};

/* ---- the pipe pool ------------------------------------------------------- */

static int pipe_get(struct px_server *srv, struct px_dir *d)
{
	if (srv->npipes > 0) {
		srv->npipes--;
		d->pipe[0] = srv->pipes[srv->npipes].fd[0];
		d->pipe[1] = srv->pipes[srv->npipes].fd[1];
		d->cap = srv->pipes[srv->npipes].cap;
		return 0;
	}
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		d->pipe[0] = d->pipe[1] = -1;
		return -errno;
	}
	int size = fcntl(d->pipe[1], F_SETPIPE_SZ, PIPE_BYTES);
	if (size <= 0)
		size = fcntl(d->pipe[1], F_GETPIPE_SZ);
	d->cap = size > 0 ? (size_t)size : 65536;
	return 0;
}

/* Give the pipe back (only an empty one is reusable). */
static void pipe_put(struct px_server *srv, struct px_dir *d)
{
	if (d->pipe[0] < 0)
		return;
	if (d->inpipe == 0 && srv->npipes < PX_PIPE_POOL) {
		srv->pipes[srv->npipes].fd[0] = d->pipe[0];
		srv->pipes[srv->npipes].fd[1] = d->pipe[1];
		srv->pipes[srv->npipes].cap = d->cap;
		srv->npipes++;
	} else {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	d->pipe[0] = d->pipe[1] = -1;
	d->inpipe = 0;
}

void px_pipes_free(struct px_server *srv)
{
	while (srv->npipes > 0) {
		srv->npipes--;
		close(srv->pipes[srv->npipes].fd[0]);
		close(srv->pipes[srv->npipes].fd[1]);
	}
}

/* ---- pumping ------------------------------------------------------------- */

/* Empty the pipe into dst. Returns 1 when empty, 0 when dst is full, -errno. */
static int flush(struct px_dir *d)
{
	while (d->inpipe > 0) {
		ssize_t m = splice(d->pipe[0], NULL, d->dst, NULL, d->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (m > 0)
			d->inpipe -= (size_t)m;
		else if (m < 0 && errno == EAGAIN)
			return 0;
		else if (m < 0 && errno != EINTR)
			return -errno;
		else if (m == 0)
			return -EPIPE;
	}
	return 1;
}

/* Fill the pipe from src. Returns bytes read, 0 at EOF, -EAGAIN, -errno. */
static ssize_t fill(struct px_dir *d)
{
	struct px_server *srv = d->sp->s->srv;

	if (d->pipe[0] < 0) {
		int rc = pipe_get(srv, d);
		if (rc < 0)
			return rc;
	}
	ssize_t n = splice(d->src, NULL, d->pipe[1], NULL, d->cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n < 0) {
		int e = errno;
		pipe_put(srv, d); /* nothing in flight: idle directions hold no pipe */
		return e == EINTR ? -EAGAIN : -e;
	}
	d->inpipe += (size_t)n;
	*d->counter += (uint64_t)n;
	return n;
}

static bool finished(const struct px_splice *sp)
{
	return sp->dir[0].shut && sp->dir[1].shut;
}

/* Move what can be moved now; returns 0 or -errno (the tunnel is broken).
 * A read that did not fill the pipe emptied the socket: once those bytes
 * are flushed the direction waits for the loop rather than spend a splice on
 * EAGAIN (the events are level-triggered, so nothing is missed). */
static int pump(struct px_dir *d)
{
	bool drained = false;

	for (int round = 0; round < ROUNDS; round++) {
		int rc = flush(d);
		if (rc < 0)
			return rc;
		if (rc == 0) { /* dst is backed up: stop reading until it drains */
			event_del(d->rd);
			event_add(d->wr, NULL);
			return 0;
		}
		event_del(d->wr);
		if (d->eof) {
			const struct px_dir *other = &d->sp->dir[d == &d->sp->dir[0] ? 1 : 0];
			pipe_put(d->sp->s->srv, d);
			/* when the other way is shut too, the close that follows sends the FIN */
			if (!d->shut && !other->shut)
				shutdown(d->dst, SHUT_WR);
			d->shut = true;
			return 0;
		}
		if (drained) {
			pipe_put(d->sp->s->srv, d);
			event_add(d->rd, NULL);
			return 0;
		}
		ssize_t n = fill(d);
		if (n == 0) {
			d->eof = true;
			event_del(d->rd);
		} else if (n == -EAGAIN) {
			event_add(d->rd, NULL);
			return 0;
		} else if (n < 0) {
			return (int)n;
		} else if ((size_t)n < d->cap) {
			drained = true;
		}
	}
	/* out of rounds: come back through the loop, flushing first if bytes wait */
	if (d->inpipe) {
		event_del(d->rd);
		event_add(d->wr, NULL);
	} else {
		event_add(d->rd, NULL);
	}
	return 0;
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_dir *d = arg;
	struct px_session *s = d->sp->s;

	(void)fd;
	(void)what;
	s->last_active = audit_now_ms();
	int rc = pump(d);
	if (rc < 0 || finished(d->sp))
		px_session_close(s);
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

static int dir_init(struct px_splice *sp, int i, uint64_t *counter)
{
	struct px_dir *d = &sp->dir[i];
	struct event_base *base = sp->s->srv->base;

	d->sp = sp;
	d->src = sp->fd[i];
	d->dst = sp->fd[1 - i];
	d->pipe[0] = d->pipe[1] = -1;
	d->counter = counter;
	d->rd = event_new(base, d->src, EV_READ | EV_PERSIST, pump_cb, d);
	d->wr = event_new(base, d->dst, EV_WRITE | EV_PERSIST, pump_cb, d);
	return d->rd && d->wr ? 0 : -ENOMEM;
}

int px_splice_start(struct px_session *s)
{
	if (evbuffer_get_length(bufferevent_get_input(s->up)) || !flushed(s->cli) || !flushed(s->up))
		return -EAGAIN; /* bytes are queued in user space: keep the bufferevent relay */
	struct px_splice *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->s = s;
	sp->fd[0] = bufferevent_getfd(s->cli);
	sp->fd[1] = bufferevent_getfd(s->up);
	if (dir_init(sp, 0, &s->bytes_up) < 0 || dir_init(sp, 1, &s->bytes_down) < 0) {
		sp->fd[0] = sp->fd[1] = -1; /* still owned by the bufferevents */
		s->sp = sp;
		px_splice_free(s);
		return -ENOMEM;
	}
	/* Watching first and letting go after keeps the client's read interest
	 * registered throughout: the change list then has nothing to apply. */
	event_add(sp->dir[0].rd, NULL);
	event_add(sp->dir[1].rd, NULL);
	px_readers_drop(s);
	/* the sockets change owner: the bufferevents go, their fds stay open */
	bufferevent_setfd(s->cli, -1);
	bufferevent_setfd(s->up, -1);
	bufferevent_free(s->cli);
	bufferevent_free(s->up);
	s->cli = s->up = NULL;
	s->sp = sp;
	return 0;
}

void px_splice_free(struct px_session *s)
{
	struct px_splice *sp = s->sp;

	if (!sp)
		return;
	for (int i = 0; i < 2; i++) {
		struct px_dir *d = &sp->dir[i];
		if (d->rd)
			event_free(d->rd);
		if (d->wr)
			event_free(d->wr);
		if (d->sp)
			pipe_put(s->srv, d);
		if (sp->fd[i] >= 0)
			close(sp->fd[i]);
	}
	free(sp);
	s->sp = NULL;
}
