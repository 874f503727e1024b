/* test_upread.c: the upstream body's large reads (upread.c) and its wake
 * mark (lowat.c), on a real TCP connection over loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lowat.h"
#include "upread.h"

/* A connected pair over 127.0.0.1: fds[0] reads, fds[1] writes. */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	fds[1] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fds[1], (struct sockaddr *)&a, sizeof(a)), 0);
	fds[0] = accept(l, NULL, NULL);
	assert_true(fds[0] >= 0);
	close(l);
}

static int mark_of(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len), 0);
	return v;
}

/* Reads of n bytes every 4 ms (the loop's coarse clock) from t. */
static void feed(struct px_lowat *l, int fd, struct timeval *t, int reads, size_t n, uint64_t sure)
{
	for (int i = 0; i < reads; i++) {
		t->tv_usec += 4000;
		if (t->tv_usec >= 1000000) {
			t->tv_sec++;
			t->tv_usec -= 1000000;
		}
		px_lowat_update(l, fd, t, n, sure);
	}
}

/* A pair whose reader's buffer is rcvbuf, and a mark at its default. */
static void start(int fds[2], int rcvbuf, struct px_lowat *l)
{
	tcp_pair(fds);
	setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	px_lowat_init(l);
}

static void test_mark_follows_rate(void **state)
{
	struct px_lowat l;
	struct timeval t = { 1000, 0 };
	int fds[2];

	(void)state;
	start(fds, 4 << 20, &l);
	feed(&l, fds[0], &t, 3, 4 << 10, 1u << 30); /* 1 MB/s: a wake per 1 KB would save nothing */
	assert_int_equal(mark_of(fds[0]), 1);
	feed(&l, fds[0], &t, 20, 800 << 10, 1u << 30); /* 200 MB/s: about 1 ms of it */
	int m = mark_of(fds[0]);
	assert_true(m >= 128 << 10 && m <= 256 << 10);
	feed(&l, fds[0], &t, 1, 800 << 10, 40 << 10); /* the rest of the body is short: no more than it */
	assert_int_equal(mark_of(fds[0]), 40 << 10);
	/* the same tick: still never more than the body brings */
	px_lowat_update(&l, fds[0], &t, 16 << 10, 8 << 10);
	assert_int_equal(mark_of(fds[0]), 1);
	px_lowat_reset(&l, fds[0]);
	assert_int_equal(mark_of(fds[0]), 1);
	close(fds[0]);
	close(fds[1]);
}

static void test_mark_within_rcvbuf(void **state)
{
	struct px_lowat l;
	struct timeval t = { 1000, 0 };
	int fds[2], rcvbuf = 0;
	socklen_t len = sizeof(rcvbuf);

	(void)state;
	start(fds, 64 << 10, &l);
	getsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
	feed(&l, fds[0], &t, 20, 800 << 10, 1u << 30);
	int m = mark_of(fds[0]);
	assert_int_equal(m, rcvbuf / 4); /* where setting it leaves the window alone */
	close(fds[0]);
	close(fds[1]);
}

static void test_holding(void **state)
{
	struct px_lowat l;
	struct timeval t = { 1000, 0 };
	int fds[2];

	(void)state;
	start(fds, 4 << 20, &l);
	feed(&l, fds[0], &t, 20, 800 << 10, 1u << 30);
	assert_true(mark_of(fds[0]) > 1);
	assert_false(px_lowat_holding(&l, fds[0])); /* nothing came: idle */
	assert_int_equal(write(fds[1], "abc", 3), 3);
	usleep(20000);
	assert_true(px_lowat_holding(&l, fds[0])); /* bytes below the mark: not idle */
	assert_int_equal(mark_of(fds[0]), 1);
	assert_false(px_lowat_holding(&l, fds[0])); /* at the default mark the reader sees them */
	close(fds[0]);
	close(fds[1]);
}

struct sink {
	size_t got, reads;
	short events;
	struct event_base *base;
};

static void sink_read(struct bufferevent *b, void *arg)
{
	struct sink *s = arg;
	struct evbuffer *in = bufferevent_get_input(b);

	s->reads++;
	s->got += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void sink_event(struct bufferevent *b, short what, void *arg)
{
	struct sink *s = arg;

	(void)b;
	s->events |= what;
	event_base_loopbreak(s->base);
}

/* 8 MiB through upread, written before the reads start: few large reads,
 * every byte, then the EOF on the bufferevent's event callback. */
static void test_upread_reads_large(void **state)
{
	struct event_base *base = event_base_new();
	struct sink s = { .base = base };
	struct px_upread r = { 0 };
	static char buf[1 << 20];
	int fds[2], big = 16 << 20;

	(void)state;
	tcp_pair(fds);
	setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	evutil_make_socket_nonblocking(fds[0]);
	struct bufferevent *b = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(b, sink_read, NULL, sink_event, &s);
	bufferevent_enable(b, EV_READ);
	assert_int_equal(px_upread_start(&r, base, b), 0);
	assert_true(px_upread_on(&r));
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 8; i++)
		assert_int_equal(write(fds[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fds[1]);
	/* paused (a slow client): nothing is read, not even by libevent */
	px_upread_pause(&r, true);
	struct timeval tv = { 0, 50000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_int_equal(s.got, 0);
	px_upread_pause(&r, false);
	event_base_dispatch(base);
	assert_int_equal(s.got, 8u << 20);
	assert_true(s.reads <= 64); /* libevent's own reads would be 2048 of 4 KiB */
	assert_true(s.events & BEV_EVENT_EOF);
	px_upread_stop(&r);
	assert_false(px_upread_on(&r));
	bufferevent_free(b);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mark_follows_rate),
		cmocka_unit_test(test_mark_within_rcvbuf),
		cmocka_unit_test(test_holding),
		cmocka_unit_test(test_upread_reads_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
