/* lowat.c: the reads of a long upstream body made few and large.
 *
 * A reader that keeps up with a fast link wakes for every few packets
 * (4 KiB a read over a veth): each wake is an epoll_wait, libevent's
 * FIONREAD and a readv, and a pass of the TLS filter. SO_RCVLOWAT has the
 * kernel wake the reader only once that many bytes wait. The mark follows
 * the rate the body comes at (about LOWAT_WAIT_US of it), so a slow link
 * is never made to wait for a burst; it never asks for more than the rest
 * of the body is sure to bring, so its last bytes are not held back; and it
 * stays under a quarter of the socket's receive buffer, where setting it
 * leaves the kernel's window alone.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "lowat.h"

#define LOWAT_WAIT_US 1000      /* a wake per this much of the body's arrival */
#define LOWAT_MIN (16u << 10)   /* below this a mark saves little: none */
#define LOWAT_MAX (256u << 10)  /* a read's worth (CX_CHUNK) */

void px_lowat_init(struct px_lowat *l)
{
	*l = (struct px_lowat){ .mark = 1 };
}

static void set_mark(struct px_lowat *l, int fd, unsigned mark)
{
	int v = (int)mark;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)) == 0)
		l->mark = mark;
}

/* The mark the rate asks for, within sure and the receive buffer. */
static unsigned want_mark(const struct px_lowat *l, int fd, uint64_t sure)
{
	uint64_t m = l->rate * LOWAT_WAIT_US / 1000000;
	int rcvbuf = 0;
	socklen_t len = sizeof(rcvbuf);

	m = m < LOWAT_MAX ? m : LOWAT_MAX;
	m = m < sure ? m : sure;
	if (m >= LOWAT_MIN && getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0 && m > (uint64_t)rcvbuf / 4)
		m = (uint64_t)rcvbuf / 4;
	return m >= LOWAT_MIN ? (unsigned)m : 1;
}

void px_lowat_update(struct px_lowat *l, int fd, const struct timeval *now, size_t n, uint64_t sure)
{
	int64_t us = ((int64_t)now->tv_sec - l->at.tv_sec) * 1000000 + (now->tv_usec - l->at.tv_usec);

	if (fd < 0)
		return;
	if (us <= 0 && l->at.tv_sec) { /* the same tick of the loop's clock: one more read */
		l->bytes += n;
		if (l->mark > sure) /* never more than is sure to come */
			set_mark(l, fd, sure >= LOWAT_MIN ? (unsigned)sure : 1);
		return;
	}
	/* a new turn: the last one's bytes came in the time between the two
	 * turns before it */
	if (l->prev_us > 0) {
		uint64_t r = l->bytes * 1000000 / (uint64_t)l->prev_us;
		l->rate = l->rate ? (l->rate * 3 + r) / 4 : r;
	}
	l->prev_us = l->at.tv_sec ? us : 0;
	l->at = *now;
	l->bytes = n;
	unsigned m = l->rate ? want_mark(l, fd, sure) : 1;
	if (m < l->mark || m > l->mark + l->mark / 4)
		set_mark(l, fd, m);
}

void px_lowat_reset(struct px_lowat *l, int fd)
{
	if (fd >= 0 && l->mark > 1)
		set_mark(l, fd, 1);
	px_lowat_init(l);
}

bool px_lowat_holding(struct px_lowat *l, int fd)
{
	int queued = 0;

	if (fd < 0 || l->mark <= 1 || ioctl(fd, FIONREAD, &queued) < 0 || queued <= 0)
		return false;
	px_lowat_reset(l, fd);
	return true;
}
