/* upread.c: a long upstream body read in large pieces, beside libevent.
 *
 * libevent 2.1's socket bufferevent reads at most 4 KiB a call
 * (EVBUFFER_MAX_READ, whatever bufferevent_set_max_single_read says): a
 * 256 MiB body was 65,000 turns of the loop, each an epoll_wait, a FIONREAD
 * ioctl and a readv. Here the socket is read UPREAD_MAX at once into the
 * bufferevent's own input, and its read callback runs as libevent's would
 * (for a TLS filter above it, the filter decrypts what came). The
 * bufferevent keeps connecting, writing and its events; only its reading
 * stops while this reads. The events are level-triggered: a read that does
 * not empty the socket is followed by another turn.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/uio.h>

#include "upread.h"

#define UPREAD_MAX (256u << 10)      /* per read (the store's CX_CHUNK) */
#define UPREAD_HELD_MAX (1u << 20)   /* unread in raw's input: stop until it drains */

/* k bytes read into the n pieces of v: the pieces cut to what they hold. */
static void fit(struct evbuffer_iovec *v, int n, size_t k)
{
	for (int i = 0; i < n; i++) {
		v[i].iov_len = k < v[i].iov_len ? k : v[i].iov_len;
		k -= v[i].iov_len;
	}
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_upread *r = arg;
	struct evbuffer *in = bufferevent_get_input(r->raw);
	struct evbuffer_iovec v[2];
	struct iovec iov[2];

	(void)what;
	if (evbuffer_get_length(in) >= UPREAD_HELD_MAX) { /* its reader does not keep up */
		px_upread_pause(r, true);
		bufferevent_trigger(r->raw, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
		return;
	}
	/* the socket bufferevent keeps its input's end frozen but while it reads */
	evbuffer_unfreeze(in, 0);
	int n = evbuffer_reserve_space(in, UPREAD_MAX, v, 2);
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){ v[i].iov_base, v[i].iov_len };
	ssize_t k = n > 0 ? readv(fd, iov, n) : -1;
	int err = errno;
	if (k > 0) {
		fit(v, n, (size_t)k);
		evbuffer_commit_space(in, v, n);
	}
	evbuffer_freeze(in, 0);
	if (k < 0 && n > 0 && (err == EAGAIN || err == EINTR))
		return;
	if (k <= 0) { /* raw's event callback may free raw, and r with it */
		struct bufferevent *raw = r->raw;
		event_del(&r->ev);
		errno = n > 0 ? err : ENOMEM;
		bufferevent_trigger_event(raw, (k == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR) | BEV_EVENT_READING, 0);
		return;
	}
	bufferevent_trigger(r->raw, EV_READ, BEV_TRIG_IGNORE_WATERMARKS); /* last: it may free r */
}

int px_upread_start(struct px_upread *r, struct event_base *base, struct bufferevent *raw)
{
	evutil_socket_t fd = bufferevent_getfd(raw);

	if (fd < 0 || event_assign(&r->ev, base, fd, EV_READ | EV_PERSIST, read_cb, r) < 0)
		return -EINVAL;
	if (bufferevent_disable(raw, EV_READ) < 0 || event_add(&r->ev, NULL) < 0) {
		bufferevent_enable(raw, EV_READ);
		return -EINVAL;
	}
	r->raw = raw;
	r->paused = false;
	return 0;
}

void px_upread_pause(struct px_upread *r, bool paused)
{
	if (!r->raw || r->paused == paused)
		return;
	r->paused = paused;
	if (paused)
		event_del(&r->ev);
	else
		event_add(&r->ev, NULL);
}

void px_upread_stop(struct px_upread *r)
{
	if (!r->raw)
		return;
	event_del(&r->ev);
	bufferevent_enable(r->raw, EV_READ);
	r->raw = NULL;
}

bool px_upread_on(const struct px_upread *r)
{
	return r->raw != NULL;
}
